//! The dashboard numbers (`grow stats`, the TUI's Dashboard) and escalation patterns.
//!
//! Every figure covers the half-open range `[start_ms, end_ms)`: decisions and user
//! messages by their `created_at`, cost by `usage.created_at`, errors by `attempts.created_at`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::usage::{USAGE_COLS, usage_row};
use super::{CostTotals, Result, Store, signal_kinds, to_u64, usage_kind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelShare {
    pub model: String,
    pub requests: u64,
    /// Fraction of all requests in the range, 0..=1.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerCount {
    pub signal: String,
    /// Upgraded decisions in which this signal fired.
    pub count: u64,
    /// `count` / upgraded decisions (shares can add up to more than 1: signals co-occur).
    pub share_of_upgrades: f64,
    /// `count` / all signal firings in upgraded decisions (adds up to 1).
    pub share_of_triggers: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayCost {
    /// `YYYY-MM-DD` in the requested UTC offset.
    pub day: String,
    pub cost_usd: f64,
    pub upgrade_equiv_cost_usd: f64,
    pub calls: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationCost {
    pub conversation_id: i64,
    pub title: Option<String>,
    pub cost_usd: f64,
    pub calls: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCount {
    pub class: String,
    pub count: u64,
}

/// The dashboard for one range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Routing decisions (one per answered request; two for a comparison).
    pub requests: u64,
    /// By the model routing chose, most used first.
    pub requests_by_model: Vec<ModelShare>,
    pub upgrades: u64,
    pub upgrade_rate: f64,
    pub top_triggers: Vec<TriggerCount>,
    /// All model calls (coaching, analyzer, profile, …).
    pub costs: CostTotals,
    pub cost_per_day: Vec<DayCost>,
    /// Most expensive first.
    pub cost_per_conversation: Vec<ConversationCost>,
    /// `upgrade_equiv_cost_usd − cost_usd` over all calls.
    pub savings_vs_all_upgrade_usd: f64,
    /// Savings as a fraction of the all-upgrade cost.
    pub savings_vs_all_upgrade_share: f64,
    pub cache_savings_usd: f64,
    /// User messages (turns) in the range.
    pub turns: u64,
    /// Conversations with at least one turn in the range.
    pub conversations: u64,
    /// Profiles with at least one turn in the range.
    pub active_profiles: u64,
    pub cost_per_active_profile: f64,
    pub avg_turns_per_conversation: f64,
    pub avg_conversations_per_profile: f64,
    pub avg_cost_per_turn: f64,
    pub avg_cost_per_conversation: f64,
    /// What an average turn would cost on the upgrade model.
    pub avg_upgrade_cost_per_turn: f64,
    /// Model attempts made.
    pub attempts: u64,
    /// Decisions answered by another model than the one chosen.
    pub fallbacks: u64,
    /// Of those, answered by the offline coach.
    pub offline_answers: u64,
    /// Decisions whose every attempt failed.
    pub failed_requests: u64,
    /// Failed attempts by error class (`rate_limited`, `overloaded`, `timeout`, …).
    pub errors_by_class: Vec<ClassCount>,
    /// Analyzer calls (`usage.kind = 'analyzer'`).
    pub analyzer: CostTotals,
    /// Decisions by where their signals came from (`deterministic`, `analyzer`, `fallback`).
    pub signal_origins: Vec<ClassCount>,
}

/// "At N users × S sessions × T turns a month", from the person's own averages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    pub users: u64,
    pub sessions_per_user: u64,
    pub turns_per_session: u64,
    pub turns: u64,
    pub monthly_cost_usd: f64,
    pub cost_per_user_usd: f64,
    pub all_upgrade_cost_usd: f64,
    pub savings_usd: f64,
}

impl Stats {
    /// Defaults of the original cost analysis: 1,000 users × 4 sessions × 30 turns.
    pub const DEFAULT_PROJECTION: (u64, u64, u64) = (1_000, 4, 30);

    pub fn projection(
        &self,
        users: u64,
        sessions_per_user: u64,
        turns_per_session: u64,
    ) -> Projection {
        let turns = users
            .saturating_mul(sessions_per_user)
            .saturating_mul(turns_per_session);
        let monthly = turns as f64 * self.avg_cost_per_turn;
        let all_upgrade = turns as f64 * self.avg_upgrade_cost_per_turn;
        Projection {
            users,
            sessions_per_user,
            turns_per_session,
            turns,
            monthly_cost_usd: monthly,
            cost_per_user_usd: ratio(monthly, users as f64),
            all_upgrade_cost_usd: all_upgrade,
            savings_usd: all_upgrade - monthly,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalEscalation {
    pub signal: String,
    /// Decisions in which it fired.
    pub fired: u64,
    /// Of those, upgraded.
    pub escalated: u64,
    pub escalation_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionEscalation {
    /// The interaction code, or `(none)`.
    pub interaction: String,
    pub decisions: u64,
    pub upgraded: u64,
    pub upgrade_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CooccurringPair {
    /// Alphabetically first of the two.
    pub a: String,
    pub b: String,
    /// Decisions in which both fired.
    pub count: u64,
    /// Of those, upgraded.
    pub upgraded: u64,
}

/// Which signals and interactions escalate most, and which signals fire together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationStats {
    pub start_ms: i64,
    pub end_ms: i64,
    pub decisions: u64,
    pub upgraded: u64,
    /// Most escalations first.
    pub signals: Vec<SignalEscalation>,
    /// Most upgrades first.
    pub interactions: Vec<InteractionEscalation>,
    /// Most frequent first.
    pub pairs: Vec<CooccurringPair>,
    /// Decisions by safety level.
    pub safety: Vec<ClassCount>,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

impl Store {
    /// The dashboard for `[start_ms, end_ms)`, days in UTC.
    pub fn stats(&self, start_ms: i64, end_ms: i64) -> Result<Stats> {
        self.stats_in_zone(start_ms, end_ms, 0)
    }

    /// The dashboard with days cut at local midnight (`utc_offset_minutes` east of UTC).
    pub fn stats_in_zone(
        &self,
        start_ms: i64,
        end_ms: i64,
        utc_offset_minutes: i32,
    ) -> Result<Stats> {
        self.read(|conn| compute_stats(conn, start_ms, end_ms, utc_offset_minutes))
    }

    /// Escalation patterns for `[start_ms, end_ms)`.
    pub fn escalation_stats(&self, start_ms: i64, end_ms: i64) -> Result<EscalationStats> {
        self.read(|conn| compute_escalations(conn, start_ms, end_ms))
    }
}

/// Counts by key, most frequent first, ties alphabetical.
fn ranked(counts: HashMap<String, u64>) -> Vec<ClassCount> {
    let mut v: Vec<ClassCount> = counts
        .into_iter()
        .map(|(class, count)| ClassCount { class, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.class.cmp(&b.class)));
    v
}

/// What one pass over the range's decisions (and their attempts) yields.
#[derive(Default)]
struct DecisionPass {
    requests: u64,
    upgrades: u64,
    by_model: HashMap<String, u64>,
    triggers: HashMap<String, u64>,
    origins: HashMap<String, u64>,
    fallbacks: u64,
    offline_answers: u64,
    failed: u64,
}

impl DecisionPass {
    /// Closes the decision whose attempts were just read.
    fn finish(&mut self, current: &mut Option<OpenDecision>) {
        let Some(d) = current.take() else { return };
        match d.answered_by {
            Some((model, provider)) if model != d.model => {
                self.fallbacks += 1;
                if provider == "offline" && d.provider != "offline" {
                    self.offline_answers += 1;
                }
            }
            Some(_) => {}
            None if d.tried > 0 => self.failed += 1,
            None => {}
        }
    }
}

struct OpenDecision {
    id: i64,
    model: String,
    provider: String,
    tried: u64,
    answered_by: Option<(String, String)>,
}

/// Decisions, upgrades, models, triggers, origins and fallbacks in one indexed pass: each
/// aggregate as its own query would walk the same rows again.
fn decision_pass(conn: &Connection, start_ms: i64, end_ms: i64) -> Result<DecisionPass> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.model, d.provider, d.upgraded, d.signal_origin, \
                CASE WHEN d.upgraded THEN d.signals_json END, \
                a.model, a.provider, a.outcome \
         FROM route_decisions d LEFT JOIN attempts a ON a.decision_id = d.id \
         WHERE d.created_at >= ?1 AND d.created_at < ?2 \
         ORDER BY d.id, a.id",
    )?;
    let mut rows = stmt.query(params![start_ms, end_ms])?;
    let mut pass = DecisionPass::default();
    let mut current: Option<OpenDecision> = None;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        if current.as_ref().map(|d| d.id) != Some(id) {
            pass.finish(&mut current);
            let model: String = r.get(1)?;
            let upgraded: bool = r.get(3)?;
            pass.requests += 1;
            *pass.by_model.entry(model.clone()).or_default() += 1;
            *pass.origins.entry(r.get(4)?).or_default() += 1;
            if upgraded {
                pass.upgrades += 1;
                let signals: Option<String> = r.get(5)?;
                let kinds: BTreeSet<String> = signal_kinds(signals.as_deref().unwrap_or("[]"))
                    .into_iter()
                    .collect();
                for kind in kinds {
                    *pass.triggers.entry(kind).or_default() += 1;
                }
            }
            current = Some(OpenDecision {
                id,
                model,
                provider: r.get(2)?,
                tried: 0,
                answered_by: None,
            });
        }
        let outcome: Option<String> = r.get(8)?;
        if let (Some(d), Some(outcome)) = (current.as_mut(), outcome) {
            d.tried += 1;
            if outcome == "ok" && d.answered_by.is_none() {
                d.answered_by = Some((r.get(6)?, r.get(7)?));
            }
        }
    }
    pass.finish(&mut current);
    Ok(pass)
}

/// Usage totals, analyzer totals, per day and per conversation in one pass.
struct UsagePass {
    costs: CostTotals,
    analyzer: CostTotals,
    per_day: BTreeMap<i64, DayCost>,
    per_conversation: HashMap<i64, (f64, u64)>,
}

fn usage_pass(
    conn: &Connection,
    start_ms: i64,
    end_ms: i64,
    utc_offset_minutes: i32,
) -> Result<UsagePass> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USAGE_COLS} FROM usage WHERE created_at >= ?1 AND created_at < ?2"
    ))?;
    let mut rows = stmt.query(params![start_ms, end_ms])?;
    let offset_ms = i64::from(utc_offset_minutes) * 60_000;
    let mut pass = UsagePass {
        costs: CostTotals::default(),
        analyzer: CostTotals::default(),
        per_day: BTreeMap::new(),
        per_conversation: HashMap::new(),
    };
    while let Some(r) = rows.next()? {
        let u = usage_row(r)?;
        pass.costs.add(&u);
        if u.kind == usage_kind::ANALYZER {
            pass.analyzer.add(&u);
        }
        let day_number = (u.created_at + offset_ms).div_euclid(DAY_MS);
        let day = pass.per_day.entry(day_number).or_insert_with(|| DayCost {
            day: day_label(day_number),
            cost_usd: 0.0,
            upgrade_equiv_cost_usd: 0.0,
            calls: 0,
        });
        day.cost_usd += u.cost_usd;
        day.upgrade_equiv_cost_usd += u.upgrade_equiv_cost_usd;
        day.calls += 1;
        if let Some(c) = u.conversation_id {
            let e = pass.per_conversation.entry(c).or_default();
            e.0 += u.cost_usd;
            e.1 += 1;
        }
    }
    Ok(pass)
}

const DAY_MS: i64 = 86_400_000;

fn day_label(day_number: i64) -> String {
    chrono::DateTime::from_timestamp_millis(day_number.saturating_mul(DAY_MS))
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("day {day_number}"))
}

fn compute_stats(
    conn: &Connection,
    start_ms: i64,
    end_ms: i64,
    utc_offset_minutes: i32,
) -> Result<Stats> {
    let range = params![start_ms, end_ms];
    let d = decision_pass(conn, start_ms, end_ms)?;
    let u = usage_pass(conn, start_ms, end_ms, utc_offset_minutes)?;

    let requests_by_model = ranked(d.by_model)
        .into_iter()
        .map(|c| ModelShare {
            share: ratio(c.count as f64, d.requests as f64),
            model: c.class,
            requests: c.count,
        })
        .collect();
    let triggers = ranked(d.triggers);
    let firings: u64 = triggers.iter().map(|t| t.count).sum();
    let top_triggers = triggers
        .into_iter()
        .map(|t| TriggerCount {
            share_of_upgrades: ratio(t.count as f64, d.upgrades as f64),
            share_of_triggers: ratio(t.count as f64, firings as f64),
            signal: t.class,
            count: t.count,
        })
        .collect();

    let mut title = conn.prepare_cached("SELECT title FROM conversations WHERE id = ?1")?;
    let mut cost_per_conversation = Vec::with_capacity(u.per_conversation.len());
    for (conversation_id, (cost_usd, calls)) in u.per_conversation {
        cost_per_conversation.push(ConversationCost {
            conversation_id,
            title: title
                .query_row([conversation_id], |r| r.get(0))
                .optional()?
                .flatten(),
            cost_usd,
            calls,
        });
    }
    cost_per_conversation.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then(a.conversation_id.cmp(&b.conversation_id))
    });

    let (turns, conversations): (u64, u64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COUNT(DISTINCT conversation_id) FROM messages \
             WHERE created_at >= ?1 AND created_at < ?2 AND role = 'user'",
        )?
        .query_row(range, |r| Ok((to_u64(r.get(0)?), to_u64(r.get(1)?))))?;
    let active_profiles: u64 = conn
        .prepare_cached(
            "SELECT COUNT(DISTINCT profile_id) FROM conversations WHERE id IN \
               (SELECT conversation_id FROM messages \
                WHERE created_at >= ?1 AND created_at < ?2 AND role = 'user')",
        )?
        .query_row(range, |r| r.get(0))
        .map(to_u64)?;

    let mut attempts = 0;
    let mut errors: HashMap<String, u64> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT outcome, COUNT(*) FROM attempts \
             WHERE created_at >= ?1 AND created_at < ?2 GROUP BY outcome",
        )?;
        let mut rows = stmt.query(range)?;
        while let Some(r) = rows.next()? {
            let outcome: String = r.get(0)?;
            let n = to_u64(r.get(1)?);
            attempts += n;
            if outcome != "ok" && outcome != "skipped" {
                errors.insert(outcome, n);
            }
        }
    }

    let costs = u.costs;
    let savings = costs.savings_vs_upgrade_usd();
    Ok(Stats {
        start_ms,
        end_ms,
        requests: d.requests,
        requests_by_model,
        upgrades: d.upgrades,
        upgrade_rate: ratio(d.upgrades as f64, d.requests as f64),
        top_triggers,
        cost_per_day: u.per_day.into_values().collect(),
        avg_cost_per_conversation: ratio(costs.cost_usd, cost_per_conversation.len() as f64),
        cost_per_conversation,
        savings_vs_all_upgrade_usd: savings,
        savings_vs_all_upgrade_share: ratio(savings, costs.upgrade_equiv_cost_usd),
        cache_savings_usd: costs.cache_savings_usd(),
        turns,
        conversations,
        active_profiles,
        cost_per_active_profile: ratio(costs.cost_usd, active_profiles as f64),
        avg_turns_per_conversation: ratio(turns as f64, conversations as f64),
        avg_conversations_per_profile: ratio(conversations as f64, active_profiles as f64),
        avg_cost_per_turn: ratio(costs.cost_usd, turns as f64),
        avg_upgrade_cost_per_turn: ratio(costs.upgrade_equiv_cost_usd, turns as f64),
        costs,
        attempts,
        fallbacks: d.fallbacks,
        offline_answers: d.offline_answers,
        failed_requests: d.failed,
        errors_by_class: ranked(errors),
        analyzer: u.analyzer,
        signal_origins: ranked(d.origins),
    })
}

fn compute_escalations(conn: &Connection, start_ms: i64, end_ms: i64) -> Result<EscalationStats> {
    let mut stmt = conn.prepare_cached(
        "SELECT upgraded, interaction, signals_json, safety FROM route_decisions \
         WHERE created_at >= ?1 AND created_at < ?2",
    )?;
    let mut rows = stmt.query(params![start_ms, end_ms])?;
    let (mut decisions, mut upgraded_total) = (0u64, 0u64);
    let mut signals: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut interactions: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut pairs: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let mut safety: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(r) = rows.next()? {
        let upgraded: bool = r.get(0)?;
        let interaction: Option<String> = r.get(1)?;
        let signals_json: String = r.get(2)?;
        let level: String = r.get(3)?;
        let up = u64::from(upgraded);
        decisions += 1;
        upgraded_total += up;
        *safety.entry(level).or_default() += 1;
        let entry = interactions
            .entry(interaction.unwrap_or_else(|| "(none)".into()))
            .or_default();
        entry.0 += 1;
        entry.1 += up;
        if signals_json.trim() == "[]" {
            continue;
        }
        let kinds: Vec<String> = signal_kinds(&signals_json)
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for (i, a) in kinds.iter().enumerate() {
            let e = signals.entry(a.clone()).or_default();
            e.0 += 1;
            e.1 += up;
            for b in &kinds[i + 1..] {
                let e = pairs.entry((a.clone(), b.clone())).or_default();
                e.0 += 1;
                e.1 += up;
            }
        }
    }
    let mut signals: Vec<SignalEscalation> = signals
        .into_iter()
        .map(|(signal, (fired, escalated))| SignalEscalation {
            signal,
            fired,
            escalated,
            escalation_rate: ratio(escalated as f64, fired as f64),
        })
        .collect();
    signals.sort_by(|a, b| b.escalated.cmp(&a.escalated).then(b.fired.cmp(&a.fired)));
    let mut interactions: Vec<InteractionEscalation> = interactions
        .into_iter()
        .map(|(interaction, (n, up))| InteractionEscalation {
            interaction,
            decisions: n,
            upgraded: up,
            upgrade_rate: ratio(up as f64, n as f64),
        })
        .collect();
    interactions.sort_by(|a, b| {
        b.upgraded
            .cmp(&a.upgraded)
            .then(b.decisions.cmp(&a.decisions))
    });
    let mut pairs: Vec<CooccurringPair> = pairs
        .into_iter()
        .map(|((a, b), (count, upgraded))| CooccurringPair {
            a,
            b,
            count,
            upgraded,
        })
        .collect();
    pairs.sort_by(|x, y| y.count.cmp(&x.count).then(y.upgraded.cmp(&x.upgraded)));
    let mut safety: Vec<ClassCount> = safety
        .into_iter()
        .map(|(class, count)| ClassCount { class, count })
        .collect();
    safety.sort_by_key(|s| std::cmp::Reverse(s.count));
    Ok(EscalationStats {
        start_ms,
        end_ms,
        decisions,
        upgraded: upgraded_total,
        signals,
        interactions,
        pairs,
        safety,
    })
}
