//! Settings: built-in defaults ← config file ← environment, validated against the catalog.
//!
//! Every key has a default, so no file is needed. The file lives in the platform config dir
//! (`directories`), or wherever `--config PATH` / `GROW_CONFIG` point. A bad file is refused
//! with an error naming file, line, column and key, with a suggested fix.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod sections;

use crate::catalog::{Catalog, ModelOverride};
use crate::source_error::{PathSeg, SourceError};
use crate::toml_path;

/// The environment variables grow reads (names users of the original design know).
pub mod env_names {
    pub const CONFIG: &str = "GROW_CONFIG";
    pub const DATA_DIR: &str = "GROW_DATA_DIR";
    pub const DB: &str = "GROW_DB";
    pub const ANTHROPIC_BASE_URL: &str = "ANTHROPIC_BASE_URL";
    pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
    pub const DEFAULT_MODEL: &str = "CLAUDE_DEFAULT_MODEL";
    pub const UPGRADE_MODEL: &str = "CLAUDE_UPGRADE_MODEL";
    pub const AUTO_UPGRADE: &str = "ENABLE_MODEL_AUTO_UPGRADE";
    pub const LOG_MODEL_USAGE: &str = "LOG_MODEL_USAGE";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub models: ModelSettings,
    pub routing: RoutingSettings,
    /// The analyzer (a cheap model scoring each message): a preset and overrides; every key
    /// is optional and unset keys take the preset's value.
    pub analyzer: sections::AnalyzerSettings,
    pub health: HealthSettings,
    pub retry: RetrySettings,
    pub timeouts: TimeoutSettings,
    pub anthropic: AnthropicSettings,
    pub openai: OpenAiSettings,
    pub endpoints: Vec<EndpointSettings>,
    pub storage: StorageSettings,
    pub budget: BudgetSettings,
    pub logging: LoggingSettings,
    pub tui: TuiSettings,
    pub user: UserSettings,
    pub coach: CoachSettings,
    pub catalog: CatalogSettings,
    /// The personalised coach: when prompts are updated and how much behaviour must move
    /// first (env names as in the original design, e.g. `MIN_DAYS_BETWEEN_UPDATES`).
    pub personalization: sections::UpdatePolicy,
    /// Per-interaction overrides; validated by the interaction registry against the catalog
    /// and templates (same shape as `assets/interactions.toml`).
    pub interactions: toml::Table,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSettings {
    /// The cheap default for routine coaching (`CLAUDE_DEFAULT_MODEL`).
    pub default: String,
    /// The model for conversations that need depth (`CLAUDE_UPGRADE_MODEL`).
    pub upgrade: String,
    /// Upgrade automatically when a signal fires (`ENABLE_MODEL_AUTO_UPGRADE`).
    pub auto_upgrade: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingSettings {
    /// `long_context` fires above this many prior turns.
    pub long_context_turns: u32,
    /// A signal with at least this score triggers an upgrade.
    pub upgrade_threshold: f32,
    /// Once upgraded, a conversation stays upgraded for this many further turns.
    pub affinity_turns: u32,
    /// Share of a model's context window a request may fill.
    pub budget_margin: f64,
    /// Output tokens assumed when estimating a turn's cost before it runs.
    pub expected_output_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSettings {
    /// Failures within `window_secs` that put a model in cool-down.
    pub failure_threshold: u32,
    pub window_secs: u64,
    pub cooldown_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySettings {
    pub max_retries: u32,
    /// First backoff; doubles each retry (with jitter) up to `max_backoff_ms`.
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// A server's `retry-after` is honoured up to this many seconds.
    pub max_retry_after_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutSettings {
    pub connect_secs: u64,
    pub first_byte_secs: u64,
    pub idle_secs: u64,
}

/// Where an API key comes from. Never the SQLite file, logs or exports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeySource<'a> {
    pub api_key_env: &'a str,
    pub api_key_command: &'a str,
    pub api_key: &'a str,
}

macro_rules! key_source {
    ($($t:ty),*) => {$(
        impl $t {
            pub fn key_source(&self) -> KeySource<'_> {
                KeySource {
                    api_key_env: &self.api_key_env,
                    api_key_command: &self.api_key_command,
                    api_key: &self.api_key,
                }
            }
        }
    )*};
}
key_source!(AnthropicSettings, OpenAiSettings, EndpointSettings);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnthropicSettings {
    pub base_url: String,
    pub version: String,
    /// `cache_control` breakpoints on the system prompt and conversation prefix.
    pub prompt_caching: bool,
    /// Name of the environment variable holding the key.
    pub api_key_env: String,
    /// A command printing the key on stdout (e.g. `pass show anthropic`).
    pub api_key_command: String,
    /// The key itself. Discouraged: prefer the env var or a command; a readable file warns.
    #[serde(skip_serializing)]
    pub api_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiSettings {
    pub base_url: String,
    /// Name of the environment variable holding the key.
    pub api_key_env: String,
    /// A command printing the key on stdout (e.g. `pass show anthropic`).
    pub api_key_command: String,
    /// The key itself. Discouraged: prefer the env var or a command; a readable file warns.
    #[serde(skip_serializing)]
    pub api_key: String,
}

/// A named OpenAI-compatible endpoint (Ollama, llama.cpp, vLLM, LiteLLM, OpenRouter…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSettings {
    pub name: String,
    pub base_url: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    /// Name of the environment variable holding the key.
    pub api_key_env: String,
    #[serde(default)]
    /// A command printing the key on stdout (e.g. `pass show anthropic`).
    pub api_key_command: String,
    /// The key itself. Discouraged: prefer the env var or a command; a readable file warns.
    #[serde(default, skip_serializing)]
    pub api_key: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// Where grow keeps its database and logs (`GROW_DATA_DIR`); empty = platform data dir.
    pub data_dir: String,
    /// The SQLite file (`GROW_DB`); empty = `<data_dir>/grow.db`.
    pub db: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetSettings {
    /// Monthly spend budget in USD; 0 = none.
    pub monthly_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingSettings {
    /// Log each model call's usage and cost (`LOG_MODEL_USAGE`).
    pub log_model_usage: bool,
    /// tracing filter for the log file, e.g. `info` or `grow=debug`.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeName {
    #[default]
    Dark,
    Light,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TuiSettings {
    pub theme: ThemeName,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserSettings {
    /// The person's name, used in prompts when set.
    pub name: String,
    /// free | standard | premium: selects per-tier interaction settings.
    pub tier: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoachSettings {
    /// Prior turns sent to the model with each message.
    pub history_turns: u32,
    /// Directory of prompt templates overriding the built-in ones (empty = `<config dir>/prompts`).
    pub prompts_dir: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogSettings {
    /// Models added to, or overriding fields of, `assets/models.toml`.
    pub models: Vec<ModelOverride>,
}

fn yes() -> bool {
    true
}

impl Default for ModelSettings {
    fn default() -> Self {
        let pair = crate::catalog::builtin_default_pair();
        ModelSettings {
            default: pair.default,
            upgrade: pair.upgrade,
            auto_upgrade: true,
        }
    }
}

impl Default for RoutingSettings {
    fn default() -> Self {
        RoutingSettings {
            long_context_turns: 40,
            upgrade_threshold: 0.5,
            affinity_turns: 3,
            budget_margin: 0.85,
            expected_output_tokens: 400,
        }
    }
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            failure_threshold: 3,
            window_secs: 60,
            cooldown_secs: 30,
        }
    }
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_retries: 2,
            initial_backoff_ms: 500,
            max_backoff_ms: 8_000,
            max_retry_after_secs: 60,
        }
    }
}

impl Default for TimeoutSettings {
    fn default() -> Self {
        TimeoutSettings {
            connect_secs: 10,
            first_byte_secs: 60,
            idle_secs: 30,
        }
    }
}

impl Default for AnthropicSettings {
    fn default() -> Self {
        AnthropicSettings {
            base_url: "https://api.anthropic.com".into(),
            version: "2023-06-01".into(),
            prompt_caching: true,
            api_key_env: "ANTHROPIC_API_KEY".into(),
            api_key_command: String::new(),
            api_key: String::new(),
        }
    }
}

impl Default for OpenAiSettings {
    fn default() -> Self {
        OpenAiSettings {
            base_url: "https://api.openai.com/v1".into(),
            api_key_env: "OPENAI_API_KEY".into(),
            api_key_command: String::new(),
            api_key: String::new(),
        }
    }
}

impl Default for LoggingSettings {
    fn default() -> Self {
        LoggingSettings {
            log_model_usage: true,
            level: "info".into(),
        }
    }
}

impl Default for UserSettings {
    fn default() -> Self {
        UserSettings {
            name: String::new(),
            tier: "standard".into(),
        }
    }
}

impl Default for CoachSettings {
    fn default() -> Self {
        CoachSettings {
            history_turns: 60,
            prompts_dir: String::new(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            models: ModelSettings::default(),
            routing: RoutingSettings::default(),
            analyzer: sections::AnalyzerSettings::default(),
            health: HealthSettings::default(),
            retry: RetrySettings::default(),
            timeouts: TimeoutSettings::default(),
            anthropic: AnthropicSettings::default(),
            openai: OpenAiSettings::default(),
            endpoints: vec![EndpointSettings {
                name: "ollama".into(),
                base_url: "http://localhost:11434/v1".into(),
                enabled: false,
                api_key_env: String::new(),
                api_key_command: String::new(),
                api_key: String::new(),
            }],
            storage: StorageSettings::default(),
            budget: BudgetSettings::default(),
            logging: LoggingSettings::default(),
            tui: TuiSettings::default(),
            user: UserSettings::default(),
            coach: CoachSettings::default(),
            catalog: CatalogSettings::default(),
            personalization: sections::UpdatePolicy::default(),
            interactions: toml::Table::new(),
        }
    }
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] SourceError),
    #[error("environment variable {var}: {message}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Env {
        var: String,
        message: String,
        hint: Option<String>,
    },
    #[error("cannot read config file {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no home directory found: set {} or pass --config/--db",
        env_names::DATA_DIR
    )]
    NoHome,
}

/// Where grow's files live.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paths {
    /// The config file in use, or where one would be read from.
    pub config_file: PathBuf,
    pub config_file_exists: bool,
    pub data_dir: PathBuf,
    pub db: PathBuf,
    pub log_dir: PathBuf,
    pub prompts_dir: PathBuf,
}

/// Settings plus everything derived from them at load.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub catalog: Catalog,
    pub paths: Paths,
    /// The config file's text, kept so later validators (interactions) can point into it.
    pub file_src: Option<String>,
    /// Problems worth telling the person that do not stop grow (e.g. a readable key file).
    pub warnings: Vec<String>,
}

/// What `load` reads from the outside world; injected so tests never touch the real env.
pub struct LoadOptions<'a> {
    pub config_path: Option<PathBuf>,
    pub db_override: Option<PathBuf>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "grow")
}

impl Config {
    /// Loads built-in defaults ← config file ← environment ← flags.
    pub fn load(opts: &LoadOptions<'_>) -> Result<Config, ConfigError> {
        let env = opts.env;
        let dirs = project_dirs();
        let config_file = match (&opts.config_path, env(env_names::CONFIG)) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => PathBuf::from(p),
            (None, None) => dirs
                .as_ref()
                .map(|d| d.config_dir().join("config.toml"))
                .ok_or(ConfigError::NoHome)?,
        };
        let explicit = opts.config_path.is_some() || env(env_names::CONFIG).is_some();
        let file_src = match std::fs::read_to_string(&config_file) {
            Ok(s) => Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => None,
            Err(source) => {
                return Err(ConfigError::Io {
                    path: config_file,
                    source,
                });
            }
        };
        let file_name = config_file.display().to_string();
        let mut settings = match &file_src {
            Some(src) => parse_settings(&file_name, src)?,
            None => Settings::default(),
        };
        apply_env(&mut settings, env)?;

        let mut catalog = Catalog::builtin()?;
        catalog.apply_overrides(
            &settings.catalog.models,
            &file_name,
            file_src.as_deref().unwrap_or(""),
            &toml_path!["catalog", "models"],
        )?;
        validate(
            &settings,
            &catalog,
            &file_name,
            file_src.as_deref().unwrap_or(""),
            env,
        )?;

        let data_dir = match (env(env_names::DATA_DIR), settings.storage.data_dir.as_str()) {
            (Some(d), _) => PathBuf::from(d),
            (None, d) if !d.is_empty() => expand_home(d),
            _ => dirs
                .as_ref()
                .map(|d| d.data_dir().to_path_buf())
                .ok_or(ConfigError::NoHome)?,
        };
        let db = match (
            &opts.db_override,
            env(env_names::DB),
            settings.storage.db.as_str(),
        ) {
            (Some(p), _, _) => p.clone(),
            (None, Some(p), _) => PathBuf::from(p),
            (None, None, p) if !p.is_empty() => expand_home(p),
            _ => data_dir.join("grow.db"),
        };
        let prompts_dir = if settings.coach.prompts_dir.is_empty() {
            config_file
                .parent()
                .map_or_else(|| PathBuf::from("prompts"), |p| p.join("prompts"))
        } else {
            expand_home(&settings.coach.prompts_dir)
        };
        let warnings = key_file_warnings(&settings, &config_file);
        Ok(Config {
            paths: Paths {
                config_file_exists: file_src.is_some(),
                config_file,
                log_dir: data_dir.join("logs"),
                data_dir,
                db,
                prompts_dir,
            },
            settings,
            catalog,
            file_src,
            warnings,
        })
    }

    /// The settings as TOML with every key shown and secrets redacted.
    pub fn effective_toml(&self) -> String {
        let mut value = toml::Value::try_from(&self.settings)
            .unwrap_or_else(|_| toml::Value::Table(toml::Table::new()));
        // `api_key` is never serialized; show that one is set without showing it.
        let mark = |table: Option<&mut toml::Value>, has_key: bool| {
            if let Some(t) = table.and_then(|v| v.as_table_mut()).filter(|_| has_key) {
                t.insert("api_key".into(), toml::Value::String("<redacted>".into()));
            }
        };
        mark(
            value.get_mut("anthropic"),
            !self.settings.anthropic.api_key.is_empty(),
        );
        mark(
            value.get_mut("openai"),
            !self.settings.openai.api_key.is_empty(),
        );
        for (i, e) in self.settings.endpoints.iter().enumerate() {
            mark(
                value.get_mut("endpoints").and_then(|v| v.get_mut(i)),
                !e.api_key.is_empty(),
            );
        }
        toml::to_string_pretty(&value).unwrap_or_default()
    }

    pub fn monthly_budget(&self) -> Option<f64> {
        (self.settings.budget.monthly_usd > 0.0).then_some(self.settings.budget.monthly_usd)
    }
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), directories::BaseDirs::new()) {
        (Some(rest), Some(base)) => base.home_dir().join(rest),
        _ => PathBuf::from(p),
    }
}

/// Parses the config file text; syntax, unknown keys and wrong types are located.
pub fn parse_settings(file: &str, src: &str) -> Result<Settings, SourceError> {
    toml::from_str(src).map_err(|e| SourceError::from_toml(file, src, &e))
}

fn parse_bool_env(var: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Env {
            var: var.into(),
            message: format!("`{value}` is not a boolean"),
            hint: Some("use true or false".into()),
        }),
    }
}

fn apply_env(s: &mut Settings, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    if let Some(v) = env(env_names::ANTHROPIC_BASE_URL) {
        s.anthropic.base_url = v;
    }
    if let Some(v) = env(env_names::OPENAI_BASE_URL) {
        s.openai.base_url = v;
    }
    if let Some(v) = env(env_names::DEFAULT_MODEL) {
        s.models.default = v;
    }
    if let Some(v) = env(env_names::UPGRADE_MODEL) {
        s.models.upgrade = v;
    }
    if let Some(v) = env(env_names::AUTO_UPGRADE) {
        s.models.auto_upgrade = parse_bool_env(env_names::AUTO_UPGRADE, &v)?;
    }
    if let Some(v) = env(env_names::LOG_MODEL_USAGE) {
        s.logging.log_model_usage = parse_bool_env(env_names::LOG_MODEL_USAGE, &v)?;
    }
    Ok(())
}

/// A range check: the value at `path` must lie in `range`.
fn check_range<T: PartialOrd + fmt::Display + Copy>(
    value: T,
    lo: T,
    hi: T,
    path: &[PathSeg],
    what: &str,
    ctx: &ValidationCtx<'_>,
) -> Result<(), SourceError> {
    if !(lo..=hi).contains(&value) {
        return Err(ctx.err(
            path,
            format!("{value} is out of range {lo}..={hi} ({what})"),
            Some(format!("set a value between {lo} and {hi}")),
        ));
    }
    Ok(())
}

struct ValidationCtx<'a> {
    file: &'a str,
    src: &'a str,
}

impl ValidationCtx<'_> {
    fn err(&self, path: &[PathSeg], message: String, hint: Option<String>) -> SourceError {
        SourceError::at_path(self.file, self.src, path, message, hint)
    }
}

fn validate(
    s: &Settings,
    catalog: &Catalog,
    file: &str,
    src: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let ctx = ValidationCtx { file, src };
    for (key, value, var) in [
        ("default", &s.models.default, env_names::DEFAULT_MODEL),
        ("upgrade", &s.models.upgrade, env_names::UPGRADE_MODEL),
    ] {
        if catalog.get(value).is_none() {
            let message = format!("unknown model `{value}`");
            let hint = Some(catalog.suggest(value));
            if env(var).is_some() {
                return Err(ConfigError::Env {
                    var: var.into(),
                    message,
                    hint,
                });
            }
            return Err(ctx.err(&toml_path!["models", key], message, hint).into());
        }
    }
    let r = &s.routing;
    check_range(
        r.long_context_turns,
        1,
        100_000,
        &toml_path!["routing", "long_context_turns"],
        "turns",
        &ctx,
    )?;
    check_range(
        r.upgrade_threshold,
        0.01,
        1.0,
        &toml_path!["routing", "upgrade_threshold"],
        "signal score",
        &ctx,
    )?;
    check_range(
        r.affinity_turns,
        0,
        100,
        &toml_path!["routing", "affinity_turns"],
        "turns",
        &ctx,
    )?;
    check_range(
        r.budget_margin,
        0.1,
        1.0,
        &toml_path!["routing", "budget_margin"],
        "share of the context window",
        &ctx,
    )?;
    check_range(
        r.expected_output_tokens,
        1,
        128_000,
        &toml_path!["routing", "expected_output_tokens"],
        "tokens",
        &ctx,
    )?;
    let h = &s.health;
    check_range(
        h.failure_threshold,
        1,
        100,
        &toml_path!["health", "failure_threshold"],
        "failures",
        &ctx,
    )?;
    check_range(
        h.window_secs,
        1,
        86_400,
        &toml_path!["health", "window_secs"],
        "seconds",
        &ctx,
    )?;
    check_range(
        h.cooldown_secs,
        1,
        86_400,
        &toml_path!["health", "cooldown_secs"],
        "seconds",
        &ctx,
    )?;
    check_range(
        s.retry.max_retries,
        0,
        10,
        &toml_path!["retry", "max_retries"],
        "retries",
        &ctx,
    )?;
    check_range(
        s.retry.initial_backoff_ms,
        1,
        60_000,
        &toml_path!["retry", "initial_backoff_ms"],
        "milliseconds",
        &ctx,
    )?;
    check_range(
        s.retry.max_backoff_ms,
        s.retry.initial_backoff_ms,
        300_000,
        &toml_path!["retry", "max_backoff_ms"],
        "milliseconds, at least initial_backoff_ms",
        &ctx,
    )?;
    check_range(
        s.retry.max_retry_after_secs,
        0,
        3600,
        &toml_path!["retry", "max_retry_after_secs"],
        "seconds",
        &ctx,
    )?;
    let t = &s.timeouts;
    check_range(
        t.connect_secs,
        1,
        600,
        &toml_path!["timeouts", "connect_secs"],
        "seconds",
        &ctx,
    )?;
    check_range(
        t.first_byte_secs,
        1,
        600,
        &toml_path!["timeouts", "first_byte_secs"],
        "seconds",
        &ctx,
    )?;
    check_range(
        t.idle_secs,
        1,
        600,
        &toml_path!["timeouts", "idle_secs"],
        "seconds",
        &ctx,
    )?;
    check_range(
        s.budget.monthly_usd,
        0.0,
        1_000_000.0,
        &toml_path!["budget", "monthly_usd"],
        "USD",
        &ctx,
    )?;
    check_range(
        s.coach.history_turns,
        1,
        10_000,
        &toml_path!["coach", "history_turns"],
        "turns",
        &ctx,
    )?;
    if !["free", "standard", "premium"].contains(&s.user.tier.as_str()) {
        let hint = crate::source_error::nearest(&s.user.tier, ["free", "standard", "premium"])
            .map_or("use free, standard or premium".to_string(), |t| {
                format!("did you mean `{t}`?")
            });
        return Err(ctx
            .err(
                &toml_path!["user", "tier"],
                format!("unknown tier `{}`", s.user.tier),
                Some(hint),
            )
            .into());
    }
    for (i, e) in s.endpoints.iter().enumerate() {
        if !(e.base_url.starts_with("http://") || e.base_url.starts_with("https://")) {
            return Err(ctx
                .err(
                    &toml_path!["endpoints", i, "base_url"],
                    format!("`{}` is not an http(s) URL", e.base_url),
                    Some("e.g. http://localhost:11434/v1".into()),
                )
                .into());
        }
    }
    for m in catalog.models() {
        if let Some(endpoint) = &m.endpoint {
            if !s.endpoints.iter().any(|e| &e.name == endpoint) {
                let idx = s.catalog.models.iter().position(|o| o.id == m.id);
                let path = match idx {
                    Some(i) => toml_path!["catalog", "models", i, "endpoint"].to_vec(),
                    None => toml_path!["endpoints"].to_vec(),
                };
                return Err(ctx
                    .err(
                        &path,
                        format!(
                            "model `{}` names endpoint `{endpoint}`, which is not configured",
                            m.id
                        ),
                        Some(format!(
                            "add an [[endpoints]] entry with name = \"{endpoint}\""
                        )),
                    )
                    .into());
            }
        }
    }
    Ok(())
}

/// Warns when the config file holds a key and others can read it.
fn key_file_warnings(s: &Settings, file: &Path) -> Vec<String> {
    let holds_key = !s.anthropic.api_key.is_empty()
        || !s.openai.api_key.is_empty()
        || s.endpoints.iter().any(|e| !e.api_key.is_empty());
    if !holds_key {
        return Vec::new();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(file) {
            if meta.permissions().mode() & 0o077 != 0 {
                return vec![format!(
                    "{} holds an API key and is readable by others: run `chmod 600 {}`, or better, use api_key_env / api_key_command",
                    file.display(),
                    file.display()
                )];
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load_with(src: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        if let Some(src) = src {
            std::fs::write(&path, src).unwrap();
        }
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert(env_names::DATA_DIR.into(), dir.path().display().to_string());
        let env = move |k: &str| map.get(k).cloned();
        let opts = LoadOptions {
            config_path: src.map(|_| path.clone()),
            db_override: None,
            env: &env,
        };
        let result = Config::load(&opts);
        drop(dir);
        result
    }

    fn file_err(src: &str) -> SourceError {
        match load_with(Some(src), &[]) {
            Err(ConfigError::File(e)) => e,
            other => panic!("expected a file error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_need_no_file() {
        let c = load_with(None, &[]).unwrap();
        assert_eq!(c.settings.models.default, "claude-sonnet-4-6");
        assert_eq!(c.settings.models.upgrade, "claude-opus-4-6");
        assert!(c.paths.db.ends_with("grow.db"));
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let e = file_err("[models]\ndefault = \"claude-sonnet-4-6\n");
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("config.toml:2:"), "{e}");
    }

    #[test]
    fn unknown_key_is_refused_with_valid_keys_listed() {
        let e = file_err("[routing]\nlong_context_turn = 40\n");
        assert_eq!((e.line, e.key.as_str()), (2, "long_context_turn"));
        assert!(
            e.message.contains("unknown field `long_context_turn`"),
            "{}",
            e.message
        );
        assert!(
            e.hint
                .as_deref()
                .unwrap_or("")
                .contains("long_context_turns"),
            "{:?}",
            e.hint
        );
    }

    #[test]
    fn wrong_type_is_refused() {
        let e = file_err("[models]\nauto_upgrade = \"sometimes\"\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("invalid type"), "{}", e.message);
    }

    #[test]
    fn unknown_model_suggests_nearest_catalog_id() {
        let e = file_err("[models]\nupgrade = \"claude-opus-4.6\"\n");
        assert_eq!(
            e.to_string(),
            format!(
                "{}:2:11: `models.upgrade`: unknown model `claude-opus-4.6`\n  hint: did you mean `claude-opus-4-6`? (`grow models` lists them all)",
                e.file
            )
        );
    }

    #[test]
    fn threshold_out_of_range_is_located() {
        let e = file_err("[routing]\nupgrade_threshold = 1.5\n");
        assert_eq!(
            e.to_string(),
            format!(
                "{}:2:21: `routing.upgrade_threshold`: 1.5 is out of range 0.01..=1 (signal score)\n  hint: set a value between 0.01 and 1",
                e.file
            )
        );
    }

    #[test]
    fn env_overrides_file_and_bad_env_names_the_variable() {
        let c = load_with(
            Some("[models]\ndefault = \"claude-haiku-4-5\"\n"),
            &[
                (env_names::DEFAULT_MODEL, "gpt-4o-mini"),
                (env_names::AUTO_UPGRADE, "false"),
            ],
        )
        .unwrap();
        assert_eq!(c.settings.models.default, "gpt-4o-mini");
        assert!(!c.settings.models.auto_upgrade);

        let err = load_with(None, &[(env_names::UPGRADE_MODEL, "claude-opus")]).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Env { var, .. } if var == env_names::UPGRADE_MODEL),
            "{err}"
        );
        let err = load_with(None, &[(env_names::AUTO_UPGRADE, "maybe")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ENABLE_MODEL_AUTO_UPGRADE: `maybe` is not a boolean\n  hint: use true or false"
        );
    }

    #[test]
    fn unknown_tier_and_missing_endpoint_are_refused() {
        let e = file_err("[user]\ntier = \"premum\"\n");
        assert_eq!(e.hint.as_deref(), Some("did you mean `premium`?"));
        let e = file_err("[[catalog.models]]\nid = \"llama3.1:8b\"\nendpoint = \"lab\"\n");
        assert!(e.message.contains("names endpoint `lab`"), "{}", e.message);
        assert_eq!(e.line, 3);
    }

    #[test]
    fn effective_settings_redact_keys() {
        let c = load_with(Some("[anthropic]\napi_key = \"sk-ant-secret-123\"\n"), &[]).unwrap();
        let shown = c.effective_toml();
        assert!(!shown.contains("sk-ant-secret-123"));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn example_config_is_valid_and_matches_defaults() {
        let src = include_str!("../../config.example.toml");
        let parsed = parse_settings("config.example.toml", src).unwrap();
        assert_eq!(parsed, Settings::default());
    }
}
