use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use grow::cli::style::Style;
use grow::cli::{Cli, Command, ConfigCommand, config_cmd, models};
use grow::config::{Config, LoadOptions, process_env};

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
    Config::load(&opts).map_err(anyhow::Error::from)
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
        Some(Command::Config(ConfigCommand::Check)) => {
            write!(
                out,
                "{}",
                config_cmd::render_check(&config, Style::stdout())
            )?;
        }
        Some(Command::Config(ConfigCommand::Path)) => {
            write!(out, "{}", config_cmd::render_paths(&config))?;
        }
        Some(Command::Route(_)) | None => {
            anyhow::bail!("routing is not wired in yet");
        }
    }
    Ok(ExitCode::SUCCESS)
}
