//! Token usage and cost: writes and totals.

use rusqlite::{Row, params};
use serde::{Deserialize, Serialize};

use crate::catalog::Usage;

use super::{NewUsage, Result, Store, UsageRecord, to_i64, to_u64};

pub(super) const USAGE_COLS: &str = "id, conversation_id, message_id, decision_id, kind, model, \
     input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd, \
     upgrade_equiv_cost_usd, no_cache_cost_usd, estimated, created_at";

pub(super) fn usage_row(r: &Row<'_>) -> rusqlite::Result<UsageRecord> {
    Ok(UsageRecord {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        message_id: r.get(2)?,
        decision_id: r.get(3)?,
        kind: r.get(4)?,
        model: r.get(5)?,
        usage: Usage {
            input_tokens: to_u64(r.get(6)?),
            output_tokens: to_u64(r.get(7)?),
            cache_creation_input_tokens: to_u64(r.get(8)?),
            cache_read_input_tokens: to_u64(r.get(9)?),
        },
        cost_usd: r.get(10)?,
        upgrade_equiv_cost_usd: r.get(11)?,
        no_cache_cost_usd: r.get(12)?,
        estimated: r.get(13)?,
        created_at: r.get(14)?,
    })
}

/// Sums of usage rows. Savings are derived, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CostTotals {
    /// Model calls counted.
    pub calls: u64,
    pub usage: Usage,
    /// What was actually spent.
    pub cost_usd: f64,
    /// The same tokens on the upgrade model.
    pub upgrade_equiv_cost_usd: f64,
    /// The same tokens without prompt caching.
    pub no_cache_cost_usd: f64,
}

impl CostTotals {
    /// Saved by routing instead of sending everything to the upgrade model.
    pub fn savings_vs_upgrade_usd(&self) -> f64 {
        self.upgrade_equiv_cost_usd - self.cost_usd
    }

    /// Saved by prompt caching.
    pub fn cache_savings_usd(&self) -> f64 {
        self.no_cache_cost_usd - self.cost_usd
    }

    pub(super) fn add(&mut self, u: &UsageRecord) {
        self.calls += 1;
        self.usage.add(&u.usage);
        self.cost_usd += u.cost_usd;
        self.upgrade_equiv_cost_usd += u.upgrade_equiv_cost_usd;
        self.no_cache_cost_usd += u.no_cache_cost_usd;
    }
}

pub(super) const TOTALS_SELECT: &str = "COUNT(*), COALESCE(SUM(input_tokens), 0), \
     COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_write_tokens), 0), \
     COALESCE(SUM(cache_read_tokens), 0), COALESCE(SUM(cost_usd), 0), \
     COALESCE(SUM(upgrade_equiv_cost_usd), 0), COALESCE(SUM(no_cache_cost_usd), 0)";

pub(super) fn totals_row(r: &Row<'_>) -> rusqlite::Result<CostTotals> {
    Ok(CostTotals {
        calls: to_u64(r.get(0)?),
        usage: Usage {
            input_tokens: to_u64(r.get(1)?),
            output_tokens: to_u64(r.get(2)?),
            cache_creation_input_tokens: to_u64(r.get(3)?),
            cache_read_input_tokens: to_u64(r.get(4)?),
        },
        cost_usd: r.get(5)?,
        upgrade_equiv_cost_usd: r.get(6)?,
        no_cache_cost_usd: r.get(7)?,
    })
}

impl Store {
    pub fn insert_usage(&self, new: &NewUsage) -> Result<i64> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO usage (conversation_id, message_id, decision_id, kind, model, \
                 input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd, \
                 upgrade_equiv_cost_usd, no_cache_cost_usd, estimated, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                new.conversation_id,
                new.message_id,
                new.decision_id,
                new.kind,
                new.model,
                to_i64(new.usage.input_tokens),
                to_i64(new.usage.output_tokens),
                to_i64(new.usage.cache_creation_input_tokens),
                to_i64(new.usage.cache_read_input_tokens),
                new.cost_usd,
                new.upgrade_equiv_cost_usd,
                new.no_cache_cost_usd,
                new.estimated,
                new.created_at
            ])?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Totals of every model call in `[start_ms, end_ms)` (all kinds: coaching, analyzer, …).
    pub fn costs_between(&self, start_ms: i64, end_ms: i64) -> Result<CostTotals> {
        let sql =
            format!("SELECT {TOTALS_SELECT} FROM usage WHERE created_at >= ?1 AND created_at < ?2");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![start_ms, end_ms], totals_row)?)
    }

    /// Totals of one conversation.
    pub fn conversation_costs(&self, conversation_id: i64) -> Result<CostTotals> {
        let sql = format!("SELECT {TOTALS_SELECT} FROM usage WHERE conversation_id = ?1");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([conversation_id], totals_row)?)
    }
}
