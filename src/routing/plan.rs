//! The fallback plan: the chosen model, then same-tier alternatives, then lower tiers, then
//! anything else available, then the offline coach — skipping models that are cooling down,
//! excluded (no key, endpoint disabled) or too small for the request.

use rustc_hash::FxHashSet;

use crate::catalog::{Catalog, ModelSpec, OFFLINE_MODEL};

use super::health::{HealthBook, HealthState};
use super::types::{PlanRole, PlanStep};

/// How many alternatives of each kind a plan holds; beyond that, fallbacks only add latency.
const SAME_TIER_MAX: usize = 2;
const LOWER_TIER_MAX: usize = 2;
const ANY_MAX: usize = 1;

pub struct PlanInputs<'a> {
    pub catalog: &'a Catalog,
    pub primary: &'a ModelSpec,
    pub needed_tokens: u64,
    pub budget_margin: f64,
    pub excluded: &'a FxHashSet<String>,
    pub health: &'a HealthBook,
    pub now_ms: u64,
}

/// A plan, plus the human-readable reasons for every model left out of it.
pub struct Plan {
    pub steps: Vec<PlanStep>,
    pub skipped: Vec<String>,
}

pub fn fits(m: &ModelSpec, needed_tokens: u64, margin: f64) -> bool {
    budget_of(m, margin) >= needed_tokens
}

pub fn budget_of(m: &ModelSpec, margin: f64) -> u64 {
    (m.context_window as f64 * margin) as u64
}

fn step(m: &ModelSpec, role: PlanRole) -> PlanStep {
    PlanStep {
        model: m.id.clone(),
        provider: m.provider,
        role,
    }
}

pub fn build(inputs: &PlanInputs<'_>) -> Plan {
    let PlanInputs {
        catalog,
        primary,
        needed_tokens,
        budget_margin,
        excluded,
        health,
        now_ms,
    } = *inputs;
    let mut skipped = Vec::new();
    let mut steps = Vec::new();

    match health.state(&primary.id, now_ms) {
        HealthState::Open { remaining_ms } => skipped.push(format!(
            "skipped {}: cooling down {} s",
            primary.id,
            remaining_ms.div_ceil(1000)
        )),
        _ => steps.push(step(primary, PlanRole::Primary)),
    }

    // Best value first: the catalog keeps its models in that order.
    let usable: Vec<&ModelSpec> = catalog
        .by_value()
        .filter(|m| m.id != primary.id && !m.is_offline() && !excluded.contains(&m.id))
        .filter(|m| fits(m, needed_tokens, budget_margin))
        .filter(|m| match health.state(&m.id, now_ms) {
            HealthState::Open { remaining_ms } => {
                skipped.push(format!(
                    "skipped {}: cooling down {} s",
                    m.id,
                    remaining_ms.div_ceil(1000)
                ));
                false
            }
            _ => true,
        })
        .collect();

    for m in usable
        .iter()
        .filter(|m| m.tier == primary.tier)
        .take(SAME_TIER_MAX)
    {
        steps.push(step(m, PlanRole::SameTier));
    }
    let mut lower: Vec<&&ModelSpec> = usable.iter().filter(|m| m.tier > primary.tier).collect();
    lower.sort_by_key(|m| m.tier);
    for m in lower.into_iter().take(LOWER_TIER_MAX) {
        steps.push(step(m, PlanRole::LowerTier));
    }
    let any: Vec<PlanStep> = usable
        .iter()
        .filter(|m| steps.iter().all(|s| s.model != m.id))
        .take(ANY_MAX)
        .map(|m| step(m, PlanRole::AnyAvailable))
        .collect();
    steps.extend(any);

    if let Some(offline) = catalog.get(OFFLINE_MODEL) {
        if primary.id != OFFLINE_MODEL {
            steps.push(step(offline, PlanRole::Offline));
        }
    }
    Plan { steps, skipped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::health::{HealthPolicy, Outcome};

    fn plan_for(primary: &str, excluded: &[&str], health: &HealthBook, needed: u64) -> Plan {
        let catalog = Catalog::builtin().unwrap();
        let excluded: FxHashSet<String> = excluded.iter().map(|s| s.to_string()).collect();
        let primary = catalog.get(primary).unwrap().clone();
        build(&PlanInputs {
            catalog: &catalog,
            primary: &primary,
            needed_tokens: needed,
            budget_margin: 0.85,
            excluded: &excluded,
            health,
            now_ms: 1_000,
        })
    }

    fn roles(p: &Plan) -> Vec<PlanRole> {
        p.steps.iter().map(|s| s.role).collect()
    }

    #[test]
    fn order_is_primary_same_tier_lower_any_offline() {
        let p = plan_for("claude-opus-4-6", &[], &HealthBook::default(), 1_000);
        let r = roles(&p);
        assert_eq!(r.first(), Some(&PlanRole::Primary));
        assert_eq!(r.last(), Some(&PlanRole::Offline));
        let pos = |role| r.iter().position(|x| *x == role);
        assert!(pos(PlanRole::SameTier) < pos(PlanRole::LowerTier));
        assert!(pos(PlanRole::LowerTier) < pos(PlanRole::AnyAvailable));
        let catalog = Catalog::builtin().unwrap();
        for s in p.steps.iter().filter(|s| s.role == PlanRole::SameTier) {
            assert_eq!(catalog.get(&s.model).unwrap().tier, 1);
        }
        for s in p.steps.iter().filter(|s| s.role == PlanRole::LowerTier) {
            assert!(catalog.get(&s.model).unwrap().tier > 1);
        }
        let ids: std::collections::HashSet<&str> =
            p.steps.iter().map(|s| s.model.as_str()).collect();
        assert_eq!(ids.len(), p.steps.len(), "no model twice");
    }

    #[test]
    fn cooled_down_models_are_skipped_with_a_reason() {
        let mut health = HealthBook::new(HealthPolicy::default());
        health.record(
            "claude-sonnet-4-6",
            Outcome::Failure {
                retry_after_ms: Some(12_000),
            },
            1_000,
        );
        let p = plan_for("claude-sonnet-4-6", &[], &health, 1_000);
        assert_ne!(p.steps[0].model, "claude-sonnet-4-6");
        assert!(
            p.skipped
                .contains(&"skipped claude-sonnet-4-6: cooling down 12 s".to_string()),
            "{:?}",
            p.skipped
        );
    }

    #[test]
    fn excluded_and_too_small_models_are_left_out() {
        let p = plan_for(
            "claude-sonnet-4-6",
            &["gpt-4.1", "llama3.1:8b"],
            &HealthBook::default(),
            150_000,
        );
        for s in &p.steps {
            assert_ne!(s.model, "gpt-4.1");
            assert_ne!(
                s.model, "gpt-4o",
                "128k window × 0.85 cannot hold 150k tokens"
            );
        }
        assert_eq!(
            p.steps.last().map(|s| s.model.as_str()),
            Some(OFFLINE_MODEL)
        );
    }
}
