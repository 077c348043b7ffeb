//! `grow jobs run`: the scheduled prompt update for cron/systemd users (the TUI runs the
//! same check at start and hourly).

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::coach::engine::Coach;
use crate::coach::jobs::{JobOutcome, run_jobs};

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Run the prompt update if it is due: compute behaviour metrics, and regenerate the
    /// personalised prompt only when they changed beyond the thresholds (else store the
    /// snapshot). Exit code 1 when a model call failed.
    ///
    /// Schedule and thresholds: [personalization] in the config file, or
    /// MIN_DAYS_BETWEEN_UPDATES, PROMPT_UPDATE_DAY, PROMPT_UPDATE_HOUR,
    /// ADHERENCE_CHANGE_THRESHOLD, LOGGING_CHANGE_THRESHOLD, STREAK_CHANGE_THRESHOLD,
    /// ENABLE_AUTOMATIC_UPDATES, ENABLE_CHANGE_DETECTION.
    Run {
        /// Ignore the schedule (and ENABLE_AUTOMATIC_UPDATES); change detection still decides.
        #[arg(long)]
        force: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(coach: Coach, command: JobsCommand) -> anyhow::Result<ExitCode> {
    match command {
        JobsCommand::Run { force, json } => {
            let report = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?
                .block_on(run_jobs(&coach, force))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", report.describe());
            }
            Ok(match report.outcome {
                JobOutcome::Failed { .. } => ExitCode::from(1),
                _ => ExitCode::SUCCESS,
            })
        }
    }
}
