//! The analyzer contract: what a cheap model answers about a message, how that answer is
//! checked, and how it is merged with the deterministic detectors. Pure: no I/O, no clock.
//!
//! - [`verdict`]: `AnalyzerVerdict`, strict parsing and validation with every problem named
//!   by its field path, and the clarification text for the one retry.
//! - [`schema`]: the JSON Schema given to the provider's structured-output mechanism.
//! - [`merge`](mod@merge): the merge policy (the analyzer may add and raise, lower only below
//!   a confidence bound, never lower or remove a deterministic `crisis`).
//! - [`presets`]: `assets/analyzer_presets.toml` and the `[analyzer]` config section.
//!
//! The network runner (coach layer) owns the budget, the retry, the cache and the circuit
//! breaker; it uses [`ANALYZER_HEALTH_KEY`] in a `HealthBook` built from
//! [`ResolvedAnalyzer::health_policy`].

use serde::{Deserialize, Serialize};

use crate::routing::types::SignalOrigin;

pub mod merge;
pub mod presets;
pub mod schema;
mod strict_json;
pub mod verdict;

pub use merge::{MergePolicy, merge};
pub use presets::{
    AnalyzerPresets, AnalyzerSettings, BUILTIN_PRESETS, BUILTIN_PRESETS_FILE, Preset,
    ResolvedAnalyzer, SettingsError,
};
pub use schema::{
    SCHEMA_NAME, anthropic_tool, anthropic_tool_choice, json_schema, openai_response_format,
};
pub use verdict::{
    AnalyzerVerdict, GrowStage, Problem, SignalScores, VerdictError, VerdictInput, parse_verdict,
};

/// The key of the analyzer's circuit breaker in a `HealthBook`.
pub const ANALYZER_HEALTH_KEY: &str = "analyzer";

/// What became of the analyzer on one turn: shown in the routing panel, stored with the
/// decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalyzerStatus {
    /// Disabled (`preset = "off"`, or no endpoint configured).
    Off,
    /// A fresh verdict arrived in time and was merged.
    Used,
    /// A cached verdict was merged; no call was made.
    Cached,
    /// No answer within the time budget; a late answer is only logged.
    TimedOut,
    /// Skipped: the circuit breaker is open after repeated failures.
    CircuitOpen,
    /// Answers failed validation, also after the one clarified retry.
    Invalid,
    /// The call failed (network, provider error).
    Failed,
}

impl AnalyzerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AnalyzerStatus::Off => "off",
            AnalyzerStatus::Used => "used",
            AnalyzerStatus::Cached => "cached",
            AnalyzerStatus::TimedOut => "timed_out",
            AnalyzerStatus::CircuitOpen => "circuit_open",
            AnalyzerStatus::Invalid => "invalid",
            AnalyzerStatus::Failed => "failed",
        }
    }

    /// Where the decision's signals came from with this status.
    pub fn signal_origin(self) -> SignalOrigin {
        match self {
            AnalyzerStatus::Off => SignalOrigin::Deterministic,
            AnalyzerStatus::Used | AnalyzerStatus::Cached => SignalOrigin::Analyzer,
            AnalyzerStatus::TimedOut
            | AnalyzerStatus::CircuitOpen
            | AnalyzerStatus::Invalid
            | AnalyzerStatus::Failed => SignalOrigin::Fallback,
        }
    }

    /// Whether this outcome counts against the circuit breaker (a cache hit or a disabled
    /// analyzer says nothing about the endpoint's health).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            AnalyzerStatus::TimedOut | AnalyzerStatus::Invalid | AnalyzerStatus::Failed
        )
    }
}

/// The analyzer's part in one decision, for the routing panel and the stored decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzerReport {
    pub status: AnalyzerStatus,
    /// The analyzer model (also for a cached verdict: the model the preset names).
    pub model: String,
    /// Time the turn waited for the analyzer after the message arrived (0 for a cache hit
    /// or a skip; the budget when it timed out).
    pub latency_ms: u64,
    /// What the analyzer calls of this turn cost (0 when cached or skipped; a timed-out
    /// call's cost is recorded when its late answer arrives).
    pub cost_usd: f64,
    /// The verdict came from the cache.
    pub cached: bool,
    /// How long the turn waited for the analyzer after assembling its context: the latency
    /// the analyzer added to the turn (the rest overlapped with context assembly).
    #[serde(default)]
    pub added_ms: u64,
}

impl std::fmt::Display for AnalyzerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
