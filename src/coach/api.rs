//! The one channel between a face (TUI, CLI) and the coach worker.
//!
//! Faces send `Intent`s down and receive `Event`s up. Nothing in the coach knows which face
//! is listening; every event carries the ids a face needs to place it.

use serde::{Deserialize, Serialize};

use crate::catalog::Usage;
use crate::routing::types::RouteDecision;

pub use super::behaviour::Metrics;
pub use super::commitments::{CommitmentView, Proposal, Resolution};
pub use super::consultation::{ConsultationState, CostEstimate, EstimateLine};
pub use super::profile::{DiffLine, PersonalStatus, VersionDiff};
pub use super::reload::Diagnostics;
pub use crate::store::{
    ClassCount, CommitmentStatus, ConversationDetail, ConversationSummary, DayCost, DecisionDetail,
    EscalationStats, Message as StoredMessage, MessageStatus as StoredStatus, ModelCount,
    ModelShare, PromptVersion, Role as StoredRole, SearchHit, Stats, TriggerCount,
    Turn as StoredTurn, UsageRecord, usage_kind,
};

/// Identifies one turn (one user message and the answer to it) while it runs.
pub type TurnId = u64;

#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// Run a coaching turn. `conversation_id: None` starts a new conversation.
    Send(SendRequest),
    /// Send one message to the default and the upgrade model side by side.
    Compare(SendRequest),
    /// Stop a streaming answer; the partial text is kept and marked.
    Cancel {
        turn: TurnId,
    },
    /// Route a draft without sending it, so a person can watch decisions change as they type.
    Preview {
        conversation_id: Option<i64>,
        text: String,
    },
    /// Write a conversation to a file (`/export`); the worker answers with a `Notice` naming
    /// the file, or an `Error`.
    Export {
        conversation_id: i64,
        format: ExportFormat,
    },
    /// The review list: every conversation, newest first (`Event::Conversations`).
    ListConversations,
    /// Full-text search over all messages (`Event::SearchResults`). Snippets mark hits with
    /// [`SNIPPET_OPEN`] and [`SNIPPET_CLOSE`].
    Search {
        query: String,
        limit: usize,
    },
    /// One conversation with its routing decisions, read-only (`Event::Conversation`).
    OpenConversation {
        id: i64,
    },
    /// A page of a conversation's messages, older than the `loaded` newest ones
    /// (`Event::History`), for a chat tab that resumes a saved conversation.
    LoadHistory {
        conversation_id: i64,
        loaded: usize,
        page: usize,
    },
    /// The dashboard of one calendar month in local time: 0 is this month, 1 the one
    /// before, … (`Event::Dashboard`).
    Dashboard {
        months_back: u32,
    },
    /// `/commit <text> [by <date>]`: store an open commitment (`Event::Notice` naming its
    /// number, or `Event::Error` saying why not).
    Commit {
        conversation_id: Option<i64>,
        input: String,
    },
    /// `/done N`, `/missed N` (`Event::Notice` or `Event::Error`).
    ResolveCommitment {
        id: i64,
        resolution: Resolution,
    },
    /// All commitments (`Event::Commitments`).
    ListCommitments,
    /// The person's profile: versions, metrics, commitments (`Event::Profile`).
    Profile,
    /// The line diff between two prompt versions (`Event::VersionDiff`).
    DiffVersions {
        from: i64,
        to: i64,
    },
    /// Where the consultation is and what it would cost (`Event::Consultation`).
    Consultation,
    /// Turns the consultation on or off after the person saw the estimate
    /// (`Event::Consultation` with the new state).
    EnableConsultation {
        enabled: bool,
    },
    /// One consultation turn: continues the open consultation or starts one. The worker
    /// answers `Event::ConsultationTurnQueued` at once (so a face can tell this turn from a
    /// chat turn), then the usual turn events with the completion marker filtered out of
    /// the deltas, then `Event::ConsultationStep` (or an `Error`). When the interviewer ends
    /// the consultation, the personal coach is prepared in the background.
    ConsultationTurn {
        text: String,
    },
    /// The person has said enough: end the consultation now and prepare the personal coach
    /// (`Event::Consultation`, `Event::PersonalCoach(Preparing)`).
    FinishConsultation,
    /// `/propose`: read the last exchange of a conversation for a commitment
    /// (`Event::CommitmentProposal`, or a `Notice` when there is none).
    ProposeCommitment {
        conversation_id: i64,
    },
    /// The person confirmed a proposal: store it (`Event::Notice` naming its number).
    AcceptProposal {
        conversation_id: Option<i64>,
        proposal: Proposal,
    },
    Shutdown,
}

/// Marks the start of a search hit in `SearchHit::snippet` (a private-use character, so no
/// text a person wrote can fake it).
pub const SNIPPET_OPEN: char = '\u{E000}';
/// Marks the end of a search hit in `SearchHit::snippet`.
pub const SNIPPET_CLOSE: char = '\u{E001}';

/// A page of stored messages for a chat tab (answer to `Intent::LoadHistory`).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    pub conversation_id: i64,
    /// Oldest first; they come before everything loaded so far.
    pub messages: Vec<StoredMessage>,
    /// No older messages are left.
    pub complete: bool,
}

/// Everything the dashboard shows for one month.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardData {
    /// `2026-11`, the month shown.
    pub month: String,
    pub months_back: u32,
    /// Days in the month, so per-day charts have a slot for every day.
    pub days_in_month: u32,
    pub stats: Stats,
    pub escalations: EscalationStats,
    /// The interaction config's counters (lookup latency, template cache, reloads).
    pub diagnostics: Diagnostics,
}

/// Everything the profile screen shows, read-only.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileData {
    pub status: PersonalStatus,
    /// Prompt versions, oldest first; the last one's `profile_text` is the current profile.
    pub versions: Vec<PromptVersion>,
    /// Behaviour metrics today over the configured window.
    pub metrics: Metrics,
    /// Stored behaviour snapshots (job runs, versions), oldest first, at most
    /// [`TREND_SNAPSHOTS`] of the newest with their time (ms): the metrics' trend.
    pub history: Vec<(i64, Metrics)>,
    /// By due date, undated last.
    pub commitments: Vec<CommitmentView>,
    /// Where the consultation is (the profile screen offers to start or resume it).
    pub consultation: ConsultationState,
}

/// Most behaviour snapshots the profile screen's trend shows.
pub const TREND_SNAPSHOTS: usize = 12;

/// The consultation as a face shows it before and while running it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationInfo {
    pub state: ConsultationState,
    /// What the interview plus generating the profile and prompt should cost.
    pub estimate: CostEstimate,
    /// A model that can interview is configured (the offline coach cannot).
    pub has_model: bool,
}

/// File format of `Intent::Export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Markdown,
    Json,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "markdown",
            ExportFormat::Json => "json",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SendRequest {
    pub conversation_id: Option<i64>,
    pub text: String,
    /// `/model <id>`: pin a model for this turn (wins over everything but the token budget).
    pub pin: Option<String>,
    /// `/upgrade`: use the upgrade model for this turn.
    pub force_upgrade: bool,
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnStatus {
    Complete,
    /// Cut off (stream cut, cancelled, killed): the partial answer is kept.
    Partial,
    Failed,
}

impl TurnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TurnStatus::Complete => "complete",
            TurnStatus::Partial => "partial",
            TurnStatus::Failed => "failed",
        }
    }
}

/// One try of one model within a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptReport {
    pub model: String,
    pub provider: String,
    /// `ok`, or the provider error class (`rate_limited`, `overloaded`, `timeout`, …),
    /// or `skipped` with the reason in `note`.
    pub outcome: String,
    pub http_status: Option<u16>,
    pub first_byte_ms: Option<u64>,
    pub duration_ms: u64,
    pub note: Option<String>,
}

/// Cost figures for the meter; all USD.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CostSnapshot {
    pub turn: f64,
    pub conversation: f64,
    pub today: f64,
    pub month: f64,
    /// What this month's turns would have cost on the upgrade model.
    pub month_if_all_upgrade: f64,
    /// What prompt caching saved this month.
    pub month_cache_savings: f64,
    /// Monthly budget from config, if set.
    pub monthly_budget: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnSummary {
    pub conversation_id: i64,
    pub assistant_message_id: Option<i64>,
    pub model: String,
    pub status: TurnStatus,
    pub offline: bool,
    pub usage: Usage,
    pub cost_usd: f64,
    /// Cost of the conversation's turns so far, and the rest of the meter.
    pub costs: CostSnapshot,
    /// A one-line explanation when the answer did not come from the chosen model.
    pub notice: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The user message is committed; the turn is under way.
    TurnStarted {
        turn: TurnId,
        conversation_id: i64,
        user_message_id: i64,
        compare_lane: Option<u8>,
    },
    /// Shown before the first token.
    Decision {
        turn: TurnId,
        decision: RouteDecision,
    },
    AttemptStarted {
        turn: TurnId,
        model: String,
    },
    AttemptFinished {
        turn: TurnId,
        attempt: AttemptReport,
    },
    FirstToken {
        turn: TurnId,
        after_ms: u64,
    },
    Delta {
        turn: TurnId,
        text: String,
    },
    TurnFinished {
        turn: TurnId,
        summary: TurnSummary,
    },
    /// The decision a draft would get (answer to `Intent::Preview`).
    Preview {
        decision: RouteDecision,
    },
    /// The review list (answer to `Intent::ListConversations`).
    Conversations(Vec<ConversationSummary>),
    /// Answer to `Intent::Search`.
    SearchResults {
        query: String,
        hits: Vec<SearchHit>,
    },
    /// Answer to `Intent::OpenConversation`.
    Conversation(Box<ConversationDetail>),
    /// Answer to `Intent::LoadHistory`.
    History(HistoryPage),
    /// Answer to `Intent::Dashboard`.
    Dashboard(Box<DashboardData>),
    /// Answer to `Intent::ListCommitments`: by due date, undated last.
    Commitments(Vec<CommitmentView>),
    /// The personalised coach changed state (sent at start and on every change), so a face
    /// can show "preparing your personal coach…" while it is `Preparing`.
    PersonalCoach(PersonalStatus),
    /// Answer to `Intent::Profile`.
    Profile(Box<ProfileData>),
    /// Answer to `Intent::DiffVersions`.
    VersionDiff(Box<VersionDiff>),
    /// Answer to `Intent::Consultation` and `Intent::EnableConsultation`, and sent when a
    /// consultation completes.
    Consultation(Box<ConsultationInfo>),
    /// `Intent::ConsultationTurn` was received and will run as `turn`.
    ConsultationTurnQueued {
        turn: TurnId,
    },
    /// A consultation turn ended; `finished`: the interviewer completed the consultation
    /// and the personal coach is being prepared.
    ConsultationStep {
        turn: TurnId,
        conversation_id: i64,
        finished: bool,
    },
    /// The coach read a commitment in the last exchange; nothing is stored until the person
    /// confirms it (`Intent::AcceptProposal`).
    CommitmentProposal {
        conversation_id: i64,
        proposal: Proposal,
    },
    /// A message for the status bar.
    Notice(String),
    /// An error a person should see; the worker keeps running.
    Error(String),
}
