//! Command-line faces: route, ask, models, config, profile, jobs, review, stats, db.

pub mod ask;
pub mod config_cmd;
pub mod db;
pub mod jobs;
pub mod models;
pub mod profile;
pub mod review;
pub mod route;
pub mod stats;
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
    /// Browse, search and export saved conversations (offline, no key needed).
    #[command(subcommand)]
    Review(ReviewCommand),
    /// The dashboard for a month: requests, upgrades, triggers, cost, savings, errors.
    Stats(StatsArgs),
    /// Back up or check the database.
    #[command(subcommand)]
    Db(DbCommand),
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
    /// Also ask the analyzer model (the configured `[analyzer]` preset, or `balanced` when it
    /// is off); needs a key for its provider. Without one, routes deterministically.
    #[arg(long)]
    pub analyze: bool,
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

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Conversations, most recently active first.
    List {
        /// Only conversations active on or after this local date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only conversations where this model was chosen or answered.
        #[arg(long, value_name = "ID")]
        model: Option<String>,
        /// At most this many conversations.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One whole conversation with every turn's routing decision, attempts, tokens and cost.
    Show {
        /// The conversation id (from `grow review list`).
        id: i64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Full-text search over every message (English and Chinese), best matches first.
    Search {
        /// Words to find (all must match; Chinese words are found inside running text).
        query: String,
        /// At most this many hits.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Export one conversation (or all) as Markdown or JSON.
    Export {
        /// The conversation id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Export everything (JSON: profiles, prompt history, commitments too).
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Md)]
        format: ExportFormat,
        /// Write to this file instead of stdout (refuses to overwrite unless --force).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Overwrite the --out file if it exists.
        #[arg(long, requires = "out")]
        force: bool,
    },
    /// Load a JSON export (`grow review export --all --format json`) into an empty database.
    Import {
        /// The JSON export file.
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Markdown for reading.
    Md,
    /// JSON that `grow review import` reads back.
    Json,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(subcommand)]
    pub command: Option<StatsCommand>,
    /// The month to report, in local time (YYYY-MM; default: this month).
    #[arg(long, value_name = "YYYY-MM", global = true)]
    pub month: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Projection: users.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub users: u64,
    /// Projection: sessions (conversations) per user a month.
    #[arg(long, value_name = "S", default_value_t = 4)]
    pub sessions: u64,
    /// Projection: turns per session.
    #[arg(long, value_name = "T", default_value_t = 30)]
    pub turns: u64,
}

#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Which signals and interactions escalate most, and which signals fire together.
    Escalations,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Write a consistent copy of the database (safe while grow runs).
    Backup {
        /// Where to write the copy.
        path: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Run SQLite's integrity and foreign-key checks; exits 1 when problems are found.
    Check,
    /// Print the database file in use.
    Path,
}
