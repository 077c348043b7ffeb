use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

use grow::catalog::ProviderKind;
use grow::cli::style::Style;
use grow::cli::{Cli, Command, ConfigCommand, ask, config_cmd, db, models, review, route, stats};
use grow::coach::analyzer::{AnalysisRequest, AnalyzerPrompt, AnalyzerRunner};
use grow::coach::api::{SendRequest, TurnStatus};
use grow::coach::engine::{Coach, routing_policy};
use grow::coach::provider_set::ProviderSet;
use grow::config::{Config, LoadOptions, process_env};
use grow::routing::lexicon::Lexicon;
use grow::routing::router::Router;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("grow: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let opts = LoadOptions {
        config_path: cli.config.clone(),
        db_override: cli.db.clone(),
        env: &process_env,
    };
    grow::coach::settings::load(&opts).map_err(anyhow::Error::from)
}

/// Where each provider's key comes from (never the key), or why it has none.
fn key_lines(config: &Config) -> Vec<String> {
    match ProviderSet::from_config(config, &process_env) {
        Ok(set) => {
            let mut lines: Vec<String> = set
                .key_origins
                .iter()
                .map(|(provider, origin)| format!("key    {provider}: from {origin}"))
                .collect();
            if !set.any_remote() {
                lines.push("key    none configured: the offline coach answers (set ANTHROPIC_API_KEY or OPENAI_API_KEY)".into());
            }
            lines
        }
        Err(e) => vec![format!("key    error: {e:#}")],
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The router `grow route` uses: every provider counts as configured (it calls none), except
/// endpoints the config disables.
fn route_router(config: &Config) -> anyhow::Result<Router> {
    let mut policy = routing_policy(config, &ProviderSet::offline_only()?);
    policy.excluded = config
        .catalog
        .models()
        .iter()
        .filter(|m| m.provider == ProviderKind::OpenaiCompatible)
        .filter(|m| {
            let endpoint = m.endpoint.as_deref().unwrap_or("");
            !config
                .settings
                .endpoints
                .iter()
                .any(|e| e.name == endpoint && e.enabled)
        })
        .map(|m| m.id.clone())
        .collect();
    Ok(Router::new(
        Arc::new(config.catalog.clone()),
        Arc::new(Lexicon::builtin()?),
        policy,
    ))
}

/// The analyzer for `grow route --analyze`: the configured preset, or `balanced` when the
/// config keeps it off. When it cannot run (no key for its model), says so on stderr and
/// returns `None`: routing stays deterministic.
fn route_analyzer(
    config: &Config,
    prompts: &grow::coach::prompts::Prompts,
) -> anyhow::Result<Option<(tokio::runtime::Runtime, Arc<AnalyzerRunner>, AnalyzerPrompt)>> {
    let mut settings = config.settings.clone();
    let mut resolved = grow::coach::settings::resolve_analyzer(&settings, &config.catalog)?;
    if !resolved.is_enabled() {
        settings.analyzer.preset = Some("balanced".into());
        resolved = grow::coach::settings::resolve_analyzer(&settings, &config.catalog)?;
    }
    let providers = ProviderSet::from_config(config, &process_env)?;
    let runner = match AnalyzerRunner::new(
        resolved,
        &config.catalog,
        &providers,
        grow::coach::clock::Clock::System,
    ) {
        Ok(r) => Arc::new(r),
        Err(why) => {
            eprintln!("grow: --analyze: {why}; routing on the deterministic signals only");
            return Ok(None);
        }
    };
    let prompt = AnalyzerPrompt::from_prompts(prompts, runner.model())?;
    Ok(Some((runtime()?, runner, prompt)))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(err) => {
            eprintln!("grow: invalid configuration\n{err:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let _log_guard = grow::logging::init(&config.paths.log_dir, &config.settings.logging.level)
        .map_err(|e| eprintln!("grow: logging disabled: {e:#}"))
        .ok();
    let mut out = std::io::stdout().lock();
    match cli.command {
        None => {
            drop(out);
            return run_tui(config);
        }
        Some(Command::Models { json }) => {
            let text = if json {
                models::render_json(&config.catalog)?
            } else {
                models::render_table(
                    &config.catalog,
                    &config.settings.models.default,
                    &config.settings.models.upgrade,
                    Style::stdout(),
                )
            };
            writeln!(out, "{}", text.trim_end()).context("writing to stdout")?;
        }
        Some(Command::Config(ConfigCommand::Check { stats })) => {
            let keys = key_lines(&config);
            let report = config_cmd::check(&config, &keys, stats, Style::stdout());
            write!(out, "{}", report.text)?;
            if !report.ok {
                return Ok(ExitCode::from(2));
            }
        }
        Some(Command::Config(ConfigCommand::Path)) => {
            write!(out, "{}", config_cmd::render_paths(&config))?;
        }
        Some(Command::Review(cmd)) => return review::run(&config, cmd, &mut out),
        Some(Command::Stats(args)) => return stats::run(&config, args, &mut out),
        Some(Command::Db(cmd)) => return db::run(&config, cmd, &mut out),
        Some(Command::Route(args)) => {
            let router = route_router(&config)?;
            let prompts = grow::coach::prompts::Prompts::load(&config)?;
            let interactions = prompts.live().current();
            let analyzer = if args.analyze {
                route_analyzer(&config, &prompts)?
            } else {
                None
            };
            let mut route_fn = |router: &Router,
                                interactions: &grow::coach::reload::Snapshot,
                                case: &route::RouteCase| {
                match &analyzer {
                    None => route::route_case(router, interactions, case),
                    Some((rt, runner, prompt)) => {
                        let analysis = rt.block_on(runner.analyze(AnalysisRequest {
                            message: case.message.clone(),
                            recent: Vec::new(),
                            prior_turns: case.turns.unwrap_or(0),
                            prompt: prompt.clone(),
                            conversation_id: None,
                            user_message_id: None,
                        }));
                        route::route_case_analyzed(
                            router,
                            interactions,
                            case,
                            Some((&analysis, &runner.settings().merge)),
                        )
                    }
                }
            };
            if args.jsonl {
                let failed = route::run_jsonl_with(
                    &router,
                    &interactions,
                    std::io::stdin().lock(),
                    &mut out,
                    &mut route_fn,
                )?;
                if failed > 0 {
                    eprintln!(
                        "grow: {failed} input line(s) could not be routed (see their \"error\" objects)"
                    );
                    return Ok(ExitCode::from(1));
                }
                return Ok(ExitCode::SUCCESS);
            }
            let case = route::RouteCase {
                message: args.message.unwrap_or_default(),
                turns: Some(args.turns),
                escalation_risk: Some(args.escalation_risk.parse().map_err(anyhow::Error::msg)?),
                tier: args.tier,
                history_tokens: Some(args.history_tokens),
            };
            let decision = route_fn(&router, &interactions, &case).map_err(anyhow::Error::msg)?;
            if args.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&route::RouteLine::from(&decision))?
                )?;
            } else {
                write!(out, "{}", route::render(&decision, Style::stdout()))?;
            }
        }
        Some(Command::Profile(cmd)) => {
            drop(out);
            return grow::cli::profile::run(Coach::from_config(config, &process_env)?, cmd);
        }
        Some(Command::Jobs(cmd)) => {
            drop(out);
            return grow::cli::jobs::run(Coach::from_config(config, &process_env)?, cmd);
        }
        Some(Command::Ask(args)) => {
            drop(out);
            let coach = Coach::from_config(config, &process_env)?;
            let req = SendRequest {
                conversation_id: args.conversation,
                text: args.message,
                pin: args.model,
                force_upgrade: false,
            };
            let (summary, output) = runtime()?.block_on(ask::run(&coach, req, args.json))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&output)?);
            }
            return Ok(match summary.status {
                TurnStatus::Complete => ExitCode::SUCCESS,
                TurnStatus::Partial => {
                    eprintln!("grow: the answer was cut off; the partial answer is saved");
                    ExitCode::from(3)
                }
                TurnStatus::Failed => {
                    eprintln!("grow: no answer: {}", summary.notice.unwrap_or_default());
                    ExitCode::from(4)
                }
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Hot reload: edits to the config file or prompt templates apply from the next turn; an
/// invalid edit keeps the last good configuration and shows the error in the status bar.
fn watch_config(
    coach: &Coach,
    events: tokio::sync::mpsc::UnboundedSender<grow::coach::api::Event>,
) -> Option<grow::coach::reload::ReloadWatcher> {
    use grow::coach::api::Event;
    use grow::coach::reload::ReloadEvent;
    let watched =
        coach
            .prompts()
            .live()
            .watch(std::time::Duration::from_millis(300), move |event| {
                let _ = events.send(match event {
                    ReloadEvent::Applied { changes, .. } if changes.is_empty() => {
                        Event::Notice("config reloaded".into())
                    }
                    ReloadEvent::Applied { changes, .. } => {
                        Event::Notice(format!("config reloaded: {}", changes.join("; ")))
                    }
                    ReloadEvent::Rejected { error } => Event::Error(format!(
                        "config edit ignored (keeping the last good one): {error}"
                    )),
                });
            });
    watched
        .map_err(|e| tracing::warn!("config watching is off: {e}"))
        .ok()
}

fn run_tui(config: Config) -> anyhow::Result<ExitCode> {
    let theme = config.settings.tui.theme;
    let opts_base = (
        config.settings.models.default.clone(),
        config.settings.models.upgrade.clone(),
        config.monthly_budget(),
    );
    let log_hint = config.paths.log_dir.join("grow.log").display().to_string();
    let coach = Arc::new(Coach::from_config(config, &process_env)?);
    let offline_greeting = (!coach.has_remote_provider()).then(|| {
        "Hi — I'm the offline coach (no API key found). Set ANTHROPIC_API_KEY or OPENAI_API_KEY, or enable a local Ollama endpoint in the config, for model answers. What would you like to work on?".to_string()
    });
    let opts = grow::tui::TuiOptions {
        theme: match theme {
            grow::config::ThemeName::Dark => grow::tui::ThemeKind::Dark,
            grow::config::ThemeName::Light => grow::tui::ThemeKind::Light,
        },
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        offline_greeting,
        default_model: opts_base.0,
        upgrade_model: opts_base.1,
        monthly_budget: opts_base.2,
        log_hint,
        // The full notice with resources is part of the answer (stored, and shown by every
        // face); the banner above it only makes it impossible to miss.
        crisis_notice: "You matter. If you might act on thoughts of harming yourself, please reach out now — resources below.".into(),
        ..grow::tui::TuiOptions::default()
    };
    let rt = runtime()?;
    rt.block_on(async move {
        let (event_tx, events) = tokio::sync::mpsc::unbounded_channel();
        let _watcher = watch_config(&coach, event_tx.clone());
        let intents = grow::coach::worker::start(coach, event_tx);
        grow::tui::run(opts, intents, events).await
    })?;
    Ok(ExitCode::SUCCESS)
}
