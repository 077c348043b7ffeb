//! The merge policy: how an analyzer verdict combines with the deterministic signals.
//!
//! The deterministic detectors are the floor the product stands on; the analyzer can see what
//! keywords miss, so it may add and raise, but it may take something away only when it is
//! confident the detector misfired, and never a `crisis`.

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::verdict::AnalyzerVerdict;
use crate::routing::types::{EscalationRisk, Signal, SignalKind, SignalSource};

/// Evidence written for analyzer signals is cut to this many characters (graphemes).
pub const EVIDENCE_MAX_CHARS: usize = 80;

/// How far the analyzer may move the deterministic signals. The shipped values live in
/// `assets/analyzer_presets.toml` (`[merge]`); `Default` mirrors them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergePolicy {
    /// The analyzer may lower a deterministic signal only when its own score for that kind
    /// is below this (it is confident the detector misfired). Default 0.2.
    pub lower_below_confidence: f32,
    /// A signal only the analyzer sees is reported when its score is at least this.
    /// Default 0.3.
    pub min_analyzer_score: f32,
    /// `crisis: true` in a verdict puts the crisis signal at least here. Default 0.9.
    pub crisis_floor: f32,
    /// `escalation_risk: medium` puts `escalation_prep` at least here. Default 0.7.
    pub escalation_medium: f32,
    /// `escalation_risk: high` puts `escalation_prep` at least here. Default 0.9.
    pub escalation_high: f32,
}

impl Default for MergePolicy {
    fn default() -> Self {
        MergePolicy {
            lower_below_confidence: 0.2,
            min_analyzer_score: 0.3,
            crisis_floor: 0.9,
            escalation_medium: 0.7,
            escalation_high: 0.9,
        }
    }
}

/// Kinds the analyzer may never lower.
///
/// - `crisis`: a false alarm costs an upgrade and a safety notice; a missed crisis can cost
///   a life. The detector's word stands.
/// - `long_context`: a count of prior turns, a fact; the analyzer sees only the last few.
/// - `escalation_prep`: often rests on the known risk level in context, which the analyzer
///   does not see; and when in doubt, pointing someone to a human is the safe side.
fn never_lowered(kind: SignalKind) -> bool {
    matches!(
        kind,
        SignalKind::Crisis | SignalKind::LongContext | SignalKind::EscalationPrep
    )
}

/// Merges a verdict into the deterministic signals. Rules, in order:
///
/// 1. **One per kind.** Deterministic signals of the same kind collapse to the highest.
/// 2. **Add.** A kind with no deterministic signal is added when the analyzer scores it at
///    least `min_analyzer_score`: source `Analyzer`, evidence = the verdict's topic and
///    rationale, abbreviated.
/// 3. **Raise.** An analyzer score above the deterministic one raises it: score = the
///    analyzer's (the max), source `Merged`, evidence keeps the detector's phrase.
/// 4. **Lower, only when confident.** An analyzer score below `lower_below_confidence`
///    lowers a deterministic signal to that score (source `Merged`, evidence kept) — except
///    `crisis`, `long_context` and `escalation_prep`, which are never lowered: a missed
///    crisis or a missed need for a human costs far more than an upgrade, and the turn
///    count and the known risk level are facts the analyzer does not see.
/// 5. **Confirm.** An analyzer score between, at least `min_analyzer_score`, marks the
///    deterministic signal `Merged` without changing its score.
/// 6. **Nothing is removed.** Every deterministic kind is in the output.
/// 7. **Crisis flag.** `crisis: true` adds or raises `crisis` to at least `crisis_floor`
///    (0.9), whatever the crisis score says.
/// 8. **Escalation.** `escalation_risk` medium/high adds or raises `escalation_prep` to at
///    least `escalation_medium` / `escalation_high`.
/// 9. **Order.** Sorted by score, highest first; ties in contract order of kinds.
pub fn merge(
    deterministic: &[Signal],
    verdict: &AnalyzerVerdict,
    policy: &MergePolicy,
) -> Vec<Signal> {
    let mut by_kind: [Option<Signal>; 7] = Default::default();
    for s in deterministic {
        let slot = &mut by_kind[index(s.kind)];
        if slot.as_ref().is_none_or(|kept| s.score > kept.score) {
            *slot = Some(s.clone());
        }
    }

    let note = abbreviate(&format!(
        "{}: {}",
        verdict.topic.trim(),
        verdict.rationale.trim()
    ));
    for (kind, score) in verdict.scores.iter() {
        let slot = &mut by_kind[index(kind)];
        match slot {
            Some(det) => judge(det, score, policy),
            None if score >= policy.min_analyzer_score => {
                *slot = Some(Signal {
                    kind,
                    score,
                    evidence: note.clone(),
                    source: SignalSource::Analyzer,
                });
            }
            None => {}
        }
    }

    if verdict.crisis {
        at_least(
            &mut by_kind[index(SignalKind::Crisis)],
            SignalKind::Crisis,
            policy.crisis_floor,
            || abbreviate(&format!("acute risk: {note}")),
        );
    }
    let escalation_floor = match verdict.escalation_risk {
        EscalationRisk::Medium => Some(policy.escalation_medium),
        EscalationRisk::High => Some(policy.escalation_high),
        EscalationRisk::None | EscalationRisk::Low => None,
    };
    if let Some(floor) = escalation_floor {
        at_least(
            &mut by_kind[index(SignalKind::EscalationPrep)],
            SignalKind::EscalationPrep,
            floor,
            || {
                abbreviate(&format!(
                    "escalation risk {}: {}",
                    verdict.escalation_risk.as_str(),
                    verdict.topic.trim()
                ))
            },
        );
    }

    let mut merged: Vec<Signal> = by_kind.into_iter().flatten().collect();
    merged.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.kind.cmp(&b.kind)));
    merged
}

/// Rules 3–5 for one deterministic signal.
fn judge(det: &mut Signal, analyzer: f32, policy: &MergePolicy) {
    let raise = analyzer > det.score;
    let confident_lower = analyzer < policy.lower_below_confidence && !never_lowered(det.kind);
    if raise || confident_lower {
        det.score = analyzer;
        det.source = SignalSource::Merged;
    } else if analyzer >= policy.min_analyzer_score {
        det.source = SignalSource::Merged;
    }
}

/// Rules 7–8: raise `slot` to `floor`, or add it from the analyzer.
fn at_least(
    slot: &mut Option<Signal>,
    kind: SignalKind,
    floor: f32,
    evidence: impl FnOnce() -> String,
) {
    match slot {
        Some(s) => {
            s.score = s.score.max(floor);
            if s.source == SignalSource::Deterministic {
                s.source = SignalSource::Merged;
            }
        }
        None => {
            *slot = Some(Signal {
                kind,
                score: floor,
                evidence: evidence(),
                source: SignalSource::Analyzer,
            });
        }
    }
}

fn index(kind: SignalKind) -> usize {
    SignalKind::ALL
        .iter()
        .position(|&k| k == kind)
        .unwrap_or_default()
}

/// Cuts `text` to [`EVIDENCE_MAX_CHARS`] graphemes, marking the cut with `…`.
fn abbreviate(text: &str) -> String {
    let graphemes: Vec<&str> = text.graphemes(true).collect();
    if graphemes.len() <= EVIDENCE_MAX_CHARS {
        return text.to_string();
    }
    let mut out: String = graphemes[..EVIDENCE_MAX_CHARS - 1].concat();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviate_cuts_on_graphemes() {
        assert_eq!(abbreviate("short"), "short");
        let long = "职业".repeat(60);
        let cut = abbreviate(&long);
        assert_eq!(cut.graphemes(true).count(), EVIDENCE_MAX_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn index_matches_contract_order() {
        for (i, k) in SignalKind::ALL.into_iter().enumerate() {
            assert_eq!(index(k), i);
        }
    }
}
