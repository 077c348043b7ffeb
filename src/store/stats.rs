//! The dashboard numbers (`grow stats`, the TUI's Dashboard) and escalation patterns.
//!
//! Every figure covers the half-open range `[start_ms, end_ms)`: decisions and user
//! messages by their `created_at`, cost by `usage.created_at`, errors by `attempts.created_at`.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::usage::{TOTALS_SELECT, totals_row};
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

fn class_counts(
    conn: &Connection,
    sql: &str,
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<ClassCount>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![start_ms, end_ms], |r| {
        Ok(ClassCount {
            class: r.get(0)?,
            count: to_u64(r.get(1)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
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

fn compute_stats(
    conn: &Connection,
    start_ms: i64,
    end_ms: i64,
    utc_offset_minutes: i32,
) -> Result<Stats> {
    let range = params![start_ms, end_ms];

    let (requests, upgrades): (u64, u64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(upgraded), 0) FROM route_decisions \
             WHERE created_at >= ?1 AND created_at < ?2",
        )?
        .query_row(range, |r| Ok((to_u64(r.get(0)?), to_u64(r.get(1)?))))?;

    let requests_by_model = class_counts(
        conn,
        "SELECT model, COUNT(*) AS n FROM route_decisions \
         WHERE created_at >= ?1 AND created_at < ?2 GROUP BY model ORDER BY n DESC, model",
        start_ms,
        end_ms,
    )?
    .into_iter()
    .map(|c| ModelShare {
        share: ratio(c.count as f64, requests as f64),
        model: c.class,
        requests: c.count,
    })
    .collect();

    let triggers = class_counts(
        conn,
        "SELECT kind, COUNT(DISTINCT id) AS n FROM ( \
           SELECT d.id AS id, CASE j.type WHEN 'object' THEN j.value ->> '$.kind' \
                                         WHEN 'text' THEN j.value END AS kind \
           FROM route_decisions d, json_each(d.signals_json) j \
           WHERE d.created_at >= ?1 AND d.created_at < ?2 AND d.upgraded = 1) \
         WHERE kind IS NOT NULL GROUP BY kind ORDER BY n DESC, kind",
        start_ms,
        end_ms,
    )?;
    let firings: u64 = triggers.iter().map(|t| t.count).sum();
    let top_triggers = triggers
        .into_iter()
        .map(|t| TriggerCount {
            share_of_upgrades: ratio(t.count as f64, upgrades as f64),
            share_of_triggers: ratio(t.count as f64, firings as f64),
            signal: t.class,
            count: t.count,
        })
        .collect();

    let totals_sql =
        format!("SELECT {TOTALS_SELECT} FROM usage WHERE created_at >= ?1 AND created_at < ?2");
    let costs = conn
        .prepare_cached(&totals_sql)?
        .query_row(range, totals_row)?;
    let analyzer_sql = format!(
        "SELECT {TOTALS_SELECT} FROM usage \
         WHERE created_at >= ?1 AND created_at < ?2 AND kind = ?3"
    );
    let analyzer = conn
        .prepare_cached(&analyzer_sql)?
        .query_row(params![start_ms, end_ms, usage_kind::ANALYZER], totals_row)?;

    let offset_ms = i64::from(utc_offset_minutes) * 60_000;
    let mut stmt = conn.prepare_cached(
        "SELECT date((created_at + ?3) / 1000, 'unixepoch') AS day, SUM(cost_usd), \
                SUM(upgrade_equiv_cost_usd), COUNT(*) \
         FROM usage WHERE created_at >= ?1 AND created_at < ?2 GROUP BY day ORDER BY day",
    )?;
    let cost_per_day = stmt
        .query_map(params![start_ms, end_ms, offset_ms], |r| {
            Ok(DayCost {
                day: r.get(0)?,
                cost_usd: r.get(1)?,
                upgrade_equiv_cost_usd: r.get(2)?,
                calls: to_u64(r.get(3)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let mut stmt = conn.prepare_cached(
        "SELECT u.conversation_id, c.title, SUM(u.cost_usd) AS cost, COUNT(*) \
         FROM usage u JOIN conversations c ON c.id = u.conversation_id \
         WHERE u.created_at >= ?1 AND u.created_at < ?2 \
         GROUP BY u.conversation_id ORDER BY cost DESC, u.conversation_id",
    )?;
    let cost_per_conversation = stmt
        .query_map(range, |r| {
            Ok(ConversationCost {
                conversation_id: r.get(0)?,
                title: r.get(1)?,
                cost_usd: r.get(2)?,
                calls: to_u64(r.get(3)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let (turns, conversations, active_profiles): (u64, u64, u64) = conn
        .prepare_cached(
            "SELECT COUNT(*), COUNT(DISTINCT m.conversation_id), COUNT(DISTINCT c.profile_id) \
             FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.created_at >= ?1 AND m.created_at < ?2 AND m.role = 'user'",
        )?
        .query_row(range, |r| {
            Ok((to_u64(r.get(0)?), to_u64(r.get(1)?), to_u64(r.get(2)?)))
        })?;

    let (attempts, fallbacks, offline_answers, failed_requests): (u64, u64, u64, u64) = conn
        .prepare_cached(
            "SELECT \
               (SELECT COUNT(*) FROM attempts WHERE created_at >= ?1 AND created_at < ?2), \
               COALESCE(SUM(ok_model IS NOT NULL AND ok_model <> model), 0), \
               COALESCE(SUM(ok_provider = 'offline' AND provider <> 'offline'), 0), \
               COALESCE(SUM(ok_model IS NULL AND tried > 0), 0) \
             FROM (SELECT d.model, d.provider, \
                     (SELECT a.model FROM attempts a WHERE a.decision_id = d.id \
                        AND a.outcome = 'ok' ORDER BY a.id LIMIT 1) AS ok_model, \
                     (SELECT a.provider FROM attempts a WHERE a.decision_id = d.id \
                        AND a.outcome = 'ok' ORDER BY a.id LIMIT 1) AS ok_provider, \
                     (SELECT COUNT(*) FROM attempts a WHERE a.decision_id = d.id) AS tried \
                   FROM route_decisions d WHERE d.created_at >= ?1 AND d.created_at < ?2)",
        )?
        .query_row(range, |r| {
            Ok((
                to_u64(r.get(0)?),
                to_u64(r.get(1)?),
                to_u64(r.get(2)?),
                to_u64(r.get(3)?),
            ))
        })?;

    let errors_by_class = class_counts(
        conn,
        "SELECT outcome, COUNT(*) AS n FROM attempts \
         WHERE created_at >= ?1 AND created_at < ?2 AND outcome NOT IN ('ok', 'skipped') \
         GROUP BY outcome ORDER BY n DESC, outcome",
        start_ms,
        end_ms,
    )?;
    let signal_origins = class_counts(
        conn,
        "SELECT signal_origin, COUNT(*) AS n FROM route_decisions \
         WHERE created_at >= ?1 AND created_at < ?2 GROUP BY signal_origin \
         ORDER BY n DESC, signal_origin",
        start_ms,
        end_ms,
    )?;

    let savings = costs.savings_vs_upgrade_usd();
    Ok(Stats {
        start_ms,
        end_ms,
        requests,
        requests_by_model,
        upgrades,
        upgrade_rate: ratio(upgrades as f64, requests as f64),
        top_triggers,
        cost_per_day,
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
        fallbacks,
        offline_answers,
        failed_requests,
        errors_by_class,
        analyzer,
        signal_origins,
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
