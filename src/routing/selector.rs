//! The selector: from signals, context and policy to one model, a fallback plan and reasons.
//!
//! Precedence, highest first: the token budget (a request must fit the model), a user pin,
//! a crisis (always upgrades), a model fixed by the interaction config, `/upgrade`, upgrade
//! signals (unless auto-upgrade is off), session affinity, the default model.

use rustc_hash::FxHashSet;

use crate::catalog::{Catalog, ModelSpec};

use super::health::HealthBook;
use super::plan::{self, PlanInputs, budget_of, fits};
use super::signals::safety_of;
use super::types::{EscalationRisk, RouteDecision, Safety, Signal, SignalOrigin};

/// The routing settings, as plain data (built from config by the layer above).
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingPolicy {
    pub default_model: String,
    pub upgrade_model: String,
    pub auto_upgrade: bool,
    pub long_context_turns: u32,
    pub upgrade_threshold: f32,
    pub affinity_turns: u32,
    pub budget_margin: f64,
    pub expected_output_tokens: u64,
    /// Models never put in a fallback plan (provider without a key, endpoint disabled).
    /// A primary choice is kept even when excluded, so a decision shows what grow would use.
    pub excluded: FxHashSet<String>,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        let pair = crate::catalog::builtin_default_pair();
        RoutingPolicy {
            default_model: pair.default,
            upgrade_model: pair.upgrade,
            auto_upgrade: true,
            long_context_turns: 40,
            upgrade_threshold: 0.5,
            affinity_turns: 3,
            budget_margin: 0.85,
            expected_output_tokens: 400,
            excluded: FxHashSet::default(),
        }
    }
}

/// Everything the core needs to know about one message. Time is passed in.
#[derive(Debug, Clone, Default)]
pub struct RouteInput<'a> {
    pub message: &'a str,
    /// Turns already in the conversation.
    pub prior_turns: u32,
    /// Tokens of the history window that will be sent along.
    pub history_tokens: u64,
    /// Tokens of the system prompt.
    pub system_tokens: u64,
    pub escalation_risk: EscalationRisk,
    /// `/model <id>`.
    pub pin: Option<&'a str>,
    /// `/upgrade`.
    pub force_upgrade: bool,
    /// Turns since a signal last upgraded this conversation (1 = the previous turn).
    pub turns_since_signal_upgrade: Option<u32>,
    pub now_ms: u64,
    /// A model fixed by configuration for this interaction and tier (instead of `route`).
    /// Like a pin, but a crisis still upgrades.
    pub configured_model: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RouteError {
    #[error("unknown model `{id}`: {hint}")]
    UnknownModel { id: String, hint: String },
    #[error(
        "this request needs about {needed} tokens, more than any available model can take \
         (largest: {largest} with {largest_budget}): start a new conversation or lower coach.history_turns"
    )]
    TooLarge {
        needed: u64,
        largest: String,
        largest_budget: u64,
    },
}

/// What the detectors (and the analyzer, when merged) found, with the message's size.
#[derive(Debug, Clone)]
pub struct Findings {
    pub signals: Vec<Signal>,
    pub origin: SignalOrigin,
    pub message_tokens: u64,
}

/// Appends "kind (0.92, 'evidence')" to `out`.
fn describe_into(out: &mut String, s: &Signal) {
    use std::fmt::Write as _;
    let cut = s
        .evidence
        .char_indices()
        .nth(60)
        .map_or(s.evidence.len(), |(i, _)| i);
    // Hundredths as integers: float formatting is the slowest part of a decision's reasons.
    let hundredths = (s.score.clamp(0.0, 1.0) * 100.0).round() as u32;
    let _ = write!(
        out,
        "{} ({}.{:02}, '{}')",
        s.kind,
        hundredths / 100,
        hundredths % 100,
        &s.evidence[..cut]
    );
}

fn lookup<'c>(catalog: &'c Catalog, id: &str) -> Result<&'c ModelSpec, RouteError> {
    catalog.get(id).ok_or_else(|| RouteError::UnknownModel {
        id: id.to_string(),
        hint: catalog.suggest(id),
    })
}

pub fn select(
    catalog: &Catalog,
    policy: &RoutingPolicy,
    input: &RouteInput<'_>,
    findings: Findings,
    health: &HealthBook,
) -> Result<RouteDecision, RouteError> {
    let Findings {
        signals,
        origin,
        message_tokens,
    } = findings;
    let threshold = policy.upgrade_threshold;
    let triggers: Vec<&Signal> = signals.iter().filter(|s| s.score >= threshold).collect();
    let safety = safety_of(&signals, threshold);
    let needed = message_tokens + input.history_tokens + input.system_tokens;
    let mut reasons = Vec::new();
    let mut upgraded = false;
    let mut affinity = false;
    let trigger_list = || {
        let mut list = String::with_capacity(64 * triggers.len());
        for (i, s) in triggers.iter().enumerate() {
            if i > 0 {
                list.push_str(", ");
            }
            describe_into(&mut list, s);
        }
        list
    };

    let wanted: &ModelSpec = if let Some(pin) = input.pin {
        reasons.push(format!("pinned: {pin} (set with /model; /auto to unpin)"));
        lookup(catalog, pin)?
    } else if safety == Safety::Crisis {
        upgraded = true;
        reasons.push(format!(
            "upgrade: {} — safety always upgrades",
            trigger_list()
        ));
        lookup(catalog, &policy.upgrade_model)?
    } else if let Some(configured) = input.configured_model {
        reasons.push(format!(
            "configured: {configured} serves this interaction for your tier (interactions config)"
        ));
        lookup(catalog, configured)?
    } else if input.force_upgrade {
        upgraded = true;
        reasons.push("upgrade: requested with /upgrade".to_string());
        lookup(catalog, &policy.upgrade_model)?
    } else if !triggers.is_empty() && policy.auto_upgrade {
        upgraded = true;
        reasons.push(format!("upgrade: {}", trigger_list()));
        lookup(catalog, &policy.upgrade_model)?
    } else if !triggers.is_empty() {
        reasons.push(format!(
            "auto-upgrade off (ENABLE_MODEL_AUTO_UPGRADE=false): would upgrade for {}",
            trigger_list()
        ));
        lookup(catalog, &policy.default_model)?
    } else if let Some(n) = input
        .turns_since_signal_upgrade
        .filter(|&n| n >= 1 && n <= policy.affinity_turns && policy.auto_upgrade)
    {
        upgraded = true;
        affinity = true;
        reasons.push(format!(
            "upgrade kept: conversation upgraded {n} turn{} ago (affinity {} turns)",
            if n == 1 { "" } else { "s" },
            policy.affinity_turns
        ));
        lookup(catalog, &policy.upgrade_model)?
    } else {
        reasons.push("default: routine coaching, no upgrade signal".to_string());
        lookup(catalog, &policy.default_model)?
    };

    let primary = if fits(wanted, needed, policy.budget_margin) {
        wanted
    } else {
        let bigger = escalate_for_budget(catalog, policy, wanted, needed)?;
        reasons.push(format!(
            "budget: ~{needed} tokens exceed {}'s {} ({}% of {}); using {}",
            wanted.id,
            budget_of(wanted, policy.budget_margin),
            (policy.budget_margin * 100.0).round(),
            wanted.context_window,
            bigger.id
        ));
        bigger
    };

    let plan = plan::build(&PlanInputs {
        catalog,
        primary,
        needed_tokens: needed,
        budget_margin: policy.budget_margin,
        excluded: &policy.excluded,
        health,
        now_ms: input.now_ms,
    });
    reasons.extend(plan.skipped);
    // The first healthy step answers; the primary may have been skipped for cooling down.
    let chosen = plan
        .steps
        .first()
        .and_then(|s| catalog.get(&s.model))
        .unwrap_or(primary);
    if chosen.id != primary.id {
        reasons.push(format!(
            "using {} ({})",
            chosen.id,
            plan_role_text(&plan.steps)
        ));
    }

    Ok(RouteDecision {
        model: chosen.id.clone(),
        provider: chosen.provider,
        tier: chosen.tier,
        upgraded,
        signals,
        safety,
        reasons,
        estimated_input_tokens: needed,
        estimated_cost_usd: chosen.estimate_cost(needed, policy.expected_output_tokens),
        plan: plan.steps,
        pinned: input.pin.is_some(),
        affinity,
        signal_origin: origin,
        budget_tokens: budget_of(chosen, policy.budget_margin),
        analyzer: None,
    })
}

fn plan_role_text(steps: &[super::types::PlanStep]) -> &'static str {
    match steps.first().map(|s| s.role) {
        Some(super::types::PlanRole::SameTier) => "same-tier fallback",
        Some(super::types::PlanRole::LowerTier) => "lower-tier fallback",
        Some(super::types::PlanRole::AnyAvailable) => "any available model",
        Some(super::types::PlanRole::Offline) => "offline coach",
        _ => "primary",
    }
}

/// The best-value model that fits `needed`, preferring the wanted tier or a more capable one.
fn escalate_for_budget<'c>(
    catalog: &'c Catalog,
    policy: &RoutingPolicy,
    wanted: &ModelSpec,
    needed: u64,
) -> Result<&'c ModelSpec, RouteError> {
    let candidates = || {
        catalog
            .models()
            .iter()
            .filter(|m| !m.is_offline() && !policy.excluded.contains(&m.id))
            .filter(|m| fits(m, needed, policy.budget_margin))
    };
    let best = |it: &mut dyn Iterator<Item = &'c ModelSpec>| {
        it.max_by(|a, b| {
            a.value_score()
                .total_cmp(&b.value_score())
                .then_with(|| b.id.cmp(&a.id))
        })
    };
    if let Some(m) = best(&mut candidates().filter(|m| m.tier <= wanted.tier))
        .or_else(|| best(&mut candidates()))
    {
        return Ok(m);
    }
    let largest = catalog
        .models()
        .iter()
        .filter(|m| !m.is_offline())
        .max_by_key(|m| m.context_window)
        .unwrap_or(wanted);
    Err(RouteError::TooLarge {
        needed,
        largest: largest.id.clone(),
        largest_budget: budget_of(largest, policy.budget_margin),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::OFFLINE_MODEL;
    use crate::routing::health::{HealthPolicy, Outcome};
    use crate::routing::types::{PlanRole, SignalKind, SignalSource};

    fn sig(kind: SignalKind, score: f32, evidence: &str) -> Signal {
        Signal {
            kind,
            score,
            evidence: evidence.into(),
            source: SignalSource::Deterministic,
        }
    }

    fn decide_with(
        policy: &RoutingPolicy,
        input: &RouteInput<'_>,
        signals: Vec<Signal>,
        health: &HealthBook,
    ) -> Result<RouteDecision, RouteError> {
        let catalog = Catalog::builtin().unwrap();
        let findings = Findings {
            signals,
            origin: SignalOrigin::Deterministic,
            message_tokens: 20,
        };
        select(&catalog, policy, input, findings, health)
    }

    fn decide(input: &RouteInput<'_>, signals: Vec<Signal>) -> RouteDecision {
        decide_with(
            &RoutingPolicy::default(),
            input,
            signals,
            &HealthBook::default(),
        )
        .unwrap()
    }

    #[test]
    fn routine_message_uses_default() {
        let d = decide(
            &RouteInput {
                message: "checked in today",
                ..Default::default()
            },
            vec![],
        );
        assert_eq!(d.model, "claude-sonnet-4-6");
        assert!(!d.upgraded);
        assert_eq!(d.reasons[0], "default: routine coaching, no upgrade signal");
        assert_eq!(d.plan.last().map(|s| s.model.as_str()), Some(OFFLINE_MODEL));
    }

    #[test]
    fn upgrade_signal_selects_upgrade_model_with_reason() {
        let d = decide(
            &RouteInput::default(),
            vec![sig(SignalKind::ComplexDecision, 0.92, "three job offers")],
        );
        assert_eq!(d.model, "claude-opus-4-6");
        assert!(d.upgraded);
        assert_eq!(
            d.reasons[0],
            "upgrade: complex_decision (0.92, 'three job offers')"
        );
        // estimate: 20 tokens in at $5/M + 400 out at $25/M
        assert!((d.estimated_cost_usd - (20.0 * 5.0 + 400.0 * 25.0) / 1e6).abs() < 1e-12);
    }

    #[test]
    fn weak_signal_below_threshold_does_not_upgrade() {
        let d = decide(
            &RouteInput::default(),
            vec![sig(SignalKind::StrategicPlanning, 0.3, "long-term")],
        );
        assert!(!d.upgraded);
        assert_eq!(d.signals.len(), 1, "weak signals are still reported");
    }

    #[test]
    fn auto_upgrade_off_keeps_default_but_says_why() {
        let policy = RoutingPolicy {
            auto_upgrade: false,
            ..Default::default()
        };
        let d = decide_with(
            &policy,
            &RouteInput::default(),
            vec![sig(SignalKind::DeepReflection, 0.8, "why do I always")],
            &HealthBook::default(),
        )
        .unwrap();
        assert_eq!(d.model, "claude-sonnet-4-6");
        assert!(
            d.reasons[0].starts_with("auto-upgrade off"),
            "{}",
            d.reasons[0]
        );
    }

    #[test]
    fn crisis_upgrades_even_with_auto_upgrade_off() {
        let policy = RoutingPolicy {
            auto_upgrade: false,
            ..Default::default()
        };
        let d = decide_with(
            &policy,
            &RouteInput::default(),
            vec![sig(SignalKind::Crisis, 0.97, "want to end my life")],
            &HealthBook::default(),
        )
        .unwrap();
        assert_eq!(d.model, "claude-opus-4-6");
        assert_eq!(d.safety, Safety::Crisis);
    }

    #[test]
    fn pin_wins_over_signals() {
        let input = RouteInput {
            pin: Some("gpt-4o-mini"),
            ..Default::default()
        };
        let d = decide(
            &input,
            vec![sig(SignalKind::ComplexDecision, 0.9, "two offers")],
        );
        assert_eq!(d.model, "gpt-4o-mini");
        assert!(d.pinned);
        let bad = RouteInput {
            pin: Some("gpt-4o-mni"),
            ..Default::default()
        };
        let err = decide_with(
            &RoutingPolicy::default(),
            &bad,
            vec![],
            &HealthBook::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("did you mean `gpt-4o-mini`"),
            "{err}"
        );
    }

    #[test]
    fn pin_loses_to_the_token_budget() {
        let input = RouteInput {
            pin: Some("gpt-4o-mini"),
            history_tokens: 150_000,
            ..Default::default()
        };
        let d = decide(&input, vec![]);
        let catalog = Catalog::builtin().unwrap();
        let chosen = catalog.get(&d.model).unwrap();
        assert!(
            chosen.context_window as f64 * 0.85 >= 150_020.0,
            "{} cannot hold it",
            d.model
        );
        assert!(chosen.tier <= 3);
        assert!(
            d.reasons
                .iter()
                .any(|r| r.starts_with("budget: ~150020 tokens exceed gpt-4o-mini's 108800")),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn budget_escalates_default_to_a_model_that_fits() {
        // Sonnet 4.6 holds 170k at 85% of 200k; 500k needs a 1M-window model.
        let d = decide(
            &RouteInput {
                history_tokens: 500_000,
                ..Default::default()
            },
            vec![],
        );
        let catalog = Catalog::builtin().unwrap();
        let chosen = catalog.get(&d.model).unwrap();
        assert!(chosen.context_window >= 1_000_000);
        assert!(
            chosen.tier <= 2,
            "escalation keeps the tier or goes up: {}",
            d.model
        );
        assert_eq!(d.budget_tokens, 850_000.min(budget_of(chosen, 0.85)));
    }

    #[test]
    fn nothing_fits_is_a_clear_error() {
        let err = decide_with(
            &RoutingPolicy::default(),
            &RouteInput {
                history_tokens: 5_000_000,
                ..Default::default()
            },
            vec![],
            &HealthBook::default(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                RouteError::TooLarge {
                    needed: 5_000_020,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("start a new conversation"));
    }

    #[test]
    fn among_fitting_candidates_best_value_wins() {
        // With 800k tokens only 1M-window models fit; of tier ≤ 2 the cheapest capable wins
        // over Fable/Opus (same capability per dollar is lower for them).
        let d = decide(
            &RouteInput {
                history_tokens: 800_000,
                ..Default::default()
            },
            vec![],
        );
        let catalog = Catalog::builtin().unwrap();
        let best = catalog
            .models()
            .iter()
            .filter(|m| !m.is_offline() && m.tier <= 2 && fits(m, 800_020, 0.85))
            .max_by(|a, b| a.value_score().total_cmp(&b.value_score()))
            .unwrap();
        assert_eq!(d.model, best.id);
    }

    #[test]
    fn affinity_keeps_upgrade_for_configured_turns() {
        for (n, expect) in [(1, true), (3, true), (4, false)] {
            let d = decide(
                &RouteInput {
                    turns_since_signal_upgrade: Some(n),
                    ..Default::default()
                },
                vec![],
            );
            assert_eq!(d.upgraded, expect, "{n} turns after");
            assert_eq!(d.affinity, expect);
        }
        let policy = RoutingPolicy {
            affinity_turns: 0,
            ..Default::default()
        };
        let d = decide_with(
            &policy,
            &RouteInput {
                turns_since_signal_upgrade: Some(1),
                ..Default::default()
            },
            vec![],
            &HealthBook::default(),
        )
        .unwrap();
        assert!(!d.upgraded);
    }

    #[test]
    fn configured_model_serves_unless_crisis() {
        let input = RouteInput {
            configured_model: Some("gpt-4o-mini"),
            ..Default::default()
        };
        let d = decide(
            &input,
            vec![sig(SignalKind::ComplexDecision, 0.9, "two offers")],
        );
        assert_eq!(d.model, "gpt-4o-mini");
        assert!(
            d.reasons[0].starts_with("configured: gpt-4o-mini"),
            "{}",
            d.reasons[0]
        );
        let d = decide(&input, vec![sig(SignalKind::Crisis, 0.95, "end my life")]);
        assert_eq!(d.model, "claude-opus-4-6");
    }

    #[test]
    fn force_upgrade_uses_upgrade_model() {
        let d = decide(
            &RouteInput {
                force_upgrade: true,
                ..Default::default()
            },
            vec![],
        );
        assert_eq!(d.model, "claude-opus-4-6");
        assert_eq!(d.reasons[0], "upgrade: requested with /upgrade");
    }

    #[test]
    fn cooled_down_primary_falls_to_same_tier_alternative() {
        let mut health = HealthBook::new(HealthPolicy::default());
        health.record(
            "claude-opus-4-6",
            Outcome::Failure {
                retry_after_ms: Some(12_000),
            },
            0,
        );
        let d = decide_with(
            &RoutingPolicy::default(),
            &RouteInput {
                force_upgrade: true,
                now_ms: 0,
                ..Default::default()
            },
            vec![],
            &health,
        )
        .unwrap();
        assert_ne!(d.model, "claude-opus-4-6");
        assert_eq!(d.tier, 1);
        assert_eq!(d.plan[0].role, PlanRole::SameTier);
        assert!(
            d.reasons
                .contains(&"skipped claude-opus-4-6: cooling down 12 s".to_string()),
            "{:?}",
            d.reasons
        );
    }
}
