//! The vocabulary of routing: signals, safety levels, inputs and decisions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::catalog::ProviderKind;

/// The seven signal kinds of the routing contract (DESIGN.md), exactly these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    LongContext,
    ComplexDecision,
    DeepReflection,
    StrategicPlanning,
    EscalationPrep,
    Distress,
    Crisis,
}

impl SignalKind {
    pub const ALL: [SignalKind; 7] = [
        SignalKind::LongContext,
        SignalKind::ComplexDecision,
        SignalKind::DeepReflection,
        SignalKind::StrategicPlanning,
        SignalKind::EscalationPrep,
        SignalKind::Distress,
        SignalKind::Crisis,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::LongContext => "long_context",
            SignalKind::ComplexDecision => "complex_decision",
            SignalKind::DeepReflection => "deep_reflection",
            SignalKind::StrategicPlanning => "strategic_planning",
            SignalKind::EscalationPrep => "escalation_prep",
            SignalKind::Distress => "distress",
            SignalKind::Crisis => "crisis",
        }
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignalKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SignalKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown signal kind `{s}`"))
    }
}

/// Where a signal's score came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalSource {
    /// The deterministic detectors of the routing core.
    #[default]
    Deterministic,
    /// The analyzer model.
    Analyzer,
    /// Both agreed (analyzer raised or confirmed a deterministic signal).
    Merged,
}

/// One fired signal: its kind, a score in 0..=1, and the phrase or fact that fired it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub kind: SignalKind,
    pub score: f32,
    pub evidence: String,
    #[serde(default)]
    pub source: SignalSource,
}

/// How safety-relevant a message is. `Crisis` always carries a safety notice with resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Safety {
    #[default]
    None,
    Distress,
    Crisis,
}

impl Safety {
    pub fn as_str(self) -> &'static str {
        match self {
            Safety::None => "none",
            Safety::Distress => "distress",
            Safety::Crisis => "crisis",
        }
    }
}

/// Risk that the person needs a human professional, as known from context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationRisk {
    #[default]
    None,
    Low,
    Medium,
    High,
}

impl EscalationRisk {
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationRisk::None => "none",
            EscalationRisk::Low => "low",
            EscalationRisk::Medium => "medium",
            EscalationRisk::High => "high",
        }
    }
}

impl FromStr for EscalationRisk {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(EscalationRisk::None),
            "low" => Ok(EscalationRisk::Low),
            "medium" => Ok(EscalationRisk::Medium),
            "high" => Ok(EscalationRisk::High),
            other => Err(format!(
                "unknown escalation risk `{other}` (none, low, medium, high)"
            )),
        }
    }
}

/// What the deterministic detectors look at: the message plus facts from context.
#[derive(Debug, Clone, Copy)]
pub struct SignalContext<'a> {
    pub message: &'a str,
    /// Turns already in the conversation before this message.
    pub prior_turns: u32,
    pub escalation_risk: EscalationRisk,
    /// `long_context` fires when `prior_turns` exceeds this.
    pub long_context_turns: u32,
}

/// Why a model is at its place in the fallback plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanRole {
    Primary,
    SameTier,
    LowerTier,
    AnyAvailable,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanStep {
    pub model: String,
    pub provider: ProviderKind,
    pub role: PlanRole,
}

/// Where the signals of a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalOrigin {
    /// Deterministic detectors only (analyzer off).
    #[default]
    Deterministic,
    /// Analyzer result merged with the detectors.
    Analyzer,
    /// The analyzer was asked but failed, timed out or was skipped: detectors decided.
    Fallback,
}

/// The routing core's answer for one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteDecision {
    pub model: String,
    pub provider: ProviderKind,
    pub tier: u8,
    pub upgraded: bool,
    pub signals: Vec<Signal>,
    pub safety: Safety,
    pub reasons: Vec<String>,
    pub estimated_input_tokens: u64,
    pub estimated_cost_usd: f64,
    /// Ordered: the chosen model first, the offline coach last.
    pub plan: Vec<PlanStep>,
    pub pinned: bool,
    /// Upgraded only because an earlier turn was (session affinity).
    pub affinity: bool,
    pub signal_origin: SignalOrigin,
    /// The model's usable input budget (context window × safety margin).
    pub budget_tokens: u64,
    /// What the analyzer did on this turn; `None` when it is off (no field in JSON then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyzer: Option<crate::routing::analyzer::AnalyzerReport>,
}
