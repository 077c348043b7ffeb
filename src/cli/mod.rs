//! Command-line faces: route, ask, models, config, profile, jobs, review, stats, db.

pub mod ask;
pub mod config_cmd;
pub mod jobs;
pub mod models;
pub mod profile;
pub mod route;
pub mod style;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "grow",
    version,
    about = "A terminal coach that routes every message to the model that fits the moment",
    long_about = "A terminal coach that routes every message to the model that fits the moment.\n\n\
                  Run `grow` with no command to open the coaching TUI. Without an API key grow \
                  still works: the offline coach answers and routing shows what it would use.",
    after_help = "Keys: ANTHROPIC_API_KEY, OPENAI_API_KEY (or api_key_env / api_key_command in the config file).\n\
                  Files: `grow config path` shows where the config, database and logs live."
)]
pub struct Cli {
    /// Config file (default: the platform config dir; env GROW_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// SQLite database file (env GROW_DB).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the routing decision for a message (no network, no key needed).
    Route(RouteArgs),
    /// Run one coaching turn: the answer streams to stdout, routing notes to stderr.
    Ask(AskArgs),
    /// List the model catalog with prices.
    Models {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Validate the config or show where files live.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The personal coach: profile, prompt versions and diffs, consultation, commitments.
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Scheduled work for cron/systemd: `grow jobs run [--force]`.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
}

#[derive(Debug, Args)]
pub struct RouteArgs {
    /// The message to route.
    #[arg(required_unless_present = "jsonl")]
    pub message: Option<String>,
    /// Read one JSON object per line from stdin and print one decision per line.
    #[arg(long, conflicts_with = "message")]
    pub jsonl: bool,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
    /// Prior turns in the conversation.
    #[arg(long, default_value_t = 0)]
    pub turns: u32,
    /// Escalation risk known from context: none, low, medium, high.
    #[arg(long, default_value = "none")]
    pub escalation_risk: String,
    /// User tier: free, standard, premium.
    #[arg(long)]
    pub tier: Option<String>,
    /// Tokens of conversation history sent along.
    #[arg(long, default_value_t = 0)]
    pub history_tokens: u64,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// Your message.
    pub message: String,
    /// Continue this conversation (ids: `grow review list`).
    #[arg(long, value_name = "ID", conflicts_with = "new")]
    pub conversation: Option<i64>,
    /// Start a new conversation (the default).
    #[arg(long)]
    pub new: bool,
    /// Use this model for the turn (like /model in the TUI).
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
    /// Print one JSON object at the end instead of streaming text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config, interactions and prompt templates; print the effective settings
    /// (keys redacted).
    Check {
        /// Also resolve and render every interaction and print lookup/template diagnostics.
        #[arg(long)]
        stats: bool,
    },
    /// Print where the config file, database, logs and prompt overrides live.
    Path,
}
