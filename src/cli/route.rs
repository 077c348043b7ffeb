//! `grow route`: the headless face of the routing core (DESIGN.md "Routing contract").

use std::io::{BufRead, Write};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::coach::analyzer::Analysis;
use crate::coach::interactions::{Interaction, ModelChoice, UserTier};
use crate::coach::reload::Snapshot;
use crate::routing::analyzer::{AnalyzerReport, MergePolicy, merge};
use crate::routing::health::HealthBook;
use crate::routing::router::Router;
use crate::routing::selector::RouteInput;
use crate::routing::types::{EscalationRisk, RouteDecision};

use super::style::{Style, usd};

/// One input line of `grow route --jsonl`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCase {
    pub message: String,
    #[serde(default)]
    pub turns: Option<u32>,
    #[serde(default)]
    pub escalation_risk: Option<EscalationRisk>,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub history_tokens: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct SignalLine {
    pub kind: String,
    pub score: f32,
    pub evidence: String,
}

/// One output line: exactly the fields of the routing contract.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct RouteLine {
    pub model: String,
    pub provider: String,
    pub tier: u8,
    pub upgraded: bool,
    pub signals: Vec<SignalLine>,
    pub safety: String,
    pub reasons: Vec<String>,
    pub estimated_input_tokens: u64,
    pub estimated_cost_usd: f64,
    /// Only with `--analyze`: what the analyzer did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyzer: Option<AnalyzerReport>,
}

impl From<&RouteDecision> for RouteLine {
    fn from(d: &RouteDecision) -> Self {
        RouteLine {
            model: d.model.clone(),
            provider: d.provider.to_string(),
            tier: d.tier,
            upgraded: d.upgraded,
            signals: d
                .signals
                .iter()
                .map(|s| SignalLine {
                    kind: s.kind.to_string(),
                    score: round3(s.score),
                    evidence: s.evidence.clone(),
                })
                .collect(),
            safety: d.safety.as_str().to_string(),
            reasons: d.reasons.clone(),
            estimated_input_tokens: d.estimated_input_tokens,
            estimated_cost_usd: d.estimated_cost_usd,
            analyzer: d.analyzer.clone(),
        }
    }
}

fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}

/// Routes one case. No clock: health is empty, so time does not matter. With a tier, the
/// interaction config for that tier applies (a model fixed for COACHING_RESPONSE wins).
pub fn route_case(
    router: &Router,
    interactions: &Snapshot,
    case: &RouteCase,
) -> Result<RouteDecision, String> {
    route_case_analyzed(router, interactions, case, None)
}

/// Routes one case with an analyzer result (`grow route --analyze`): the verdict, when there
/// is one, is merged with the deterministic signals by `policy`.
pub fn route_case_analyzed(
    router: &Router,
    interactions: &Snapshot,
    case: &RouteCase,
    analysis: Option<(&Analysis, &MergePolicy)>,
) -> Result<RouteDecision, String> {
    let configured = match case.tier.as_deref() {
        Some(tier) => {
            let tier: UserTier = tier.parse().map_err(|e| format!("{e}"))?;
            match interactions
                .resolve(Interaction::CoachingResponse, tier)
                .model
            {
                ModelChoice::Model(id) => Some(id),
                ModelChoice::Route => None,
            }
        }
        None => None,
    };
    let input = RouteInput {
        message: &case.message,
        prior_turns: case.turns.unwrap_or(0),
        history_tokens: case.history_tokens.unwrap_or(0),
        escalation_risk: case.escalation_risk.unwrap_or_default(),
        configured_model: configured.as_deref(),
        ..RouteInput::default()
    };
    let Some((analysis, policy)) = analysis else {
        return router
            .decide(&input, &HealthBook::default())
            .map_err(|e| e.to_string());
    };
    let detected = router.detect(&input);
    let signals = match &analysis.verdict {
        Some(verdict) => merge(&detected, verdict, policy),
        None => detected,
    };
    let mut decision = router
        .decide_with(
            &input,
            signals,
            analysis.status.signal_origin(),
            &HealthBook::default(),
        )
        .map_err(|e| e.to_string())?;
    decision.analyzer = Some(analysis.report.clone());
    Ok(decision)
}

/// `--jsonl`: one output line per input line, in order; a bad line gets an `error` object.
/// Returns how many lines failed.
pub fn run_jsonl(
    router: &Router,
    interactions: &Snapshot,
    input: impl BufRead,
    out: impl Write,
) -> anyhow::Result<usize> {
    run_jsonl_with(
        router,
        interactions,
        input,
        out,
        &mut |router, interactions, case| route_case(router, interactions, case),
    )
}

/// `--jsonl` with a routing function per case (`--analyze` passes one that asks the
/// analyzer first).
pub fn run_jsonl_with(
    router: &Router,
    interactions: &Snapshot,
    input: impl BufRead,
    mut out: impl Write,
    route: &mut dyn FnMut(&Router, &Snapshot, &RouteCase) -> Result<RouteDecision, String>,
) -> anyhow::Result<usize> {
    let mut failed = 0;
    for (n, line) in input.lines().enumerate() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let result = serde_json::from_str::<RouteCase>(&line)
            .map_err(|e| format!("line {}: {e}", n + 1))
            .and_then(|case| {
                route(router, interactions, &case).map_err(|e| format!("line {}: {e}", n + 1))
            });
        match result {
            Ok(decision) => serde_json::to_writer(&mut out, &RouteLine::from(&decision))?,
            Err(error) => {
                failed += 1;
                serde_json::to_writer(&mut out, &serde_json::json!({ "error": error }))?;
            }
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(failed)
}

/// The human-readable decision.
pub fn render(d: &RouteDecision, style: Style) -> String {
    let mut out = String::new();
    let verdict = if d.upgraded {
        style.yellow("upgraded")
    } else {
        style.green("default")
    };
    out.push_str(&format!(
        "{}  {} ({}, tier {}) — {}\n",
        style.bold("model   "),
        style.bold(&d.model),
        d.provider,
        d.tier,
        verdict
    ));
    if d.safety != crate::routing::types::Safety::None {
        out.push_str(&format!(
            "{}  {}\n",
            style.bold("safety  "),
            style.red(d.safety.as_str())
        ));
    }
    if let Some(a) = &d.analyzer {
        let status = match a.status {
            crate::routing::analyzer::AnalyzerStatus::Used
            | crate::routing::analyzer::AnalyzerStatus::Cached => style.green(a.status.as_str()),
            _ => style.yellow(a.status.as_str()),
        };
        out.push_str(&format!(
            "{}  {} · {} · {} ms · {}\n",
            style.bold("analyzer"),
            status,
            a.model,
            a.latency_ms,
            usd(a.cost_usd)
        ));
    }
    if d.signals.is_empty() {
        out.push_str(&format!(
            "{}  {}\n",
            style.bold("signals "),
            style.dim("none")
        ));
    }
    for (i, s) in d.signals.iter().enumerate() {
        let label = if i == 0 { "signals " } else { "        " };
        out.push_str(&format!(
            "{}  {:<18} {:.2} {} {}\n",
            style.bold(label),
            s.kind.as_str(),
            s.score,
            style.cyan(&bar(s.score, 10)),
            style.dim(&format!("\"{}\"", s.evidence))
        ));
    }
    for (i, r) in d.reasons.iter().enumerate() {
        let label = if i == 0 { "reasons " } else { "        " };
        out.push_str(&format!("{}  {r}\n", style.bold(label)));
    }
    out.push_str(&format!(
        "{}  ~{} input tokens of {} budget · ~{} per turn\n",
        style.bold("estimate"),
        d.estimated_input_tokens,
        d.budget_tokens,
        usd(d.estimated_cost_usd)
    ));
    let plan: Vec<&str> = d.plan.iter().map(|s| s.model.as_str()).collect();
    out.push_str(&format!(
        "{}  {}\n",
        style.bold("plan    "),
        plan.join(" → ")
    ));
    out
}

/// A score as a bar of eighth-blocks.
pub fn bar(score: f32, width: usize) -> String {
    const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let total = (score.clamp(0.0, 1.0) * (width * 8) as f32).round() as usize;
    let mut s = "█".repeat(total / 8);
    if total % 8 > 0 {
        s.push(EIGHTHS[total % 8 - 1]);
    }
    let used = s.chars().count();
    s.push_str(&" ".repeat(width.saturating_sub(used)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_has_fixed_width() {
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.0, 4), "    ");
        assert_eq!(bar(0.5, 4).chars().count(), 4);
    }
}
