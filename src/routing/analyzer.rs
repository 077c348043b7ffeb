//! The analyzer contract: what a cheap model answers about a message, how that answer is
//! checked, and how it is merged with the deterministic detectors. Pure: no I/O, no clock.
//!
//! - [`verdict`]: `AnalyzerVerdict`, strict parsing and validation with every problem named
//!   by its field path, and the clarification text for the one retry.
//! - [`schema`]: the JSON Schema given to the provider's structured-output mechanism.
//! - [`merge`]: the merge policy (the analyzer may add and raise, lower only below a
//!   confidence bound, never touch a deterministic `crisis`).
//! - [`presets`]: `assets/analyzer_presets.toml` and the `[analyzer]` config section.
//!
//! The network runner (coach layer) owns the budget, the retry, the cache and the circuit
//! breaker; it uses [`ANALYZER_HEALTH_KEY`] in a `HealthBook` built from
//! [`ResolvedAnalyzer::health_policy`].

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
