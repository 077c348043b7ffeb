//! Routing decisions and the attempts that ran them.

use rusqlite::{Row, params};
use serde::{Deserialize, Serialize};

use super::profiles::check_json;
use super::{Attempt, Decision, NewAttempt, NewDecision, Result, Store, StoreError, to_i64};

pub(super) const DECISION_COLS: &str = "id, conversation_id, user_message_id, model, provider, \
     tier, upgraded, safety, interaction, signals_json, reasons_json, plan_json, signal_origin, \
     estimated_input_tokens, estimated_cost_usd, created_at";

pub(super) fn decision_row(r: &Row<'_>) -> rusqlite::Result<Decision> {
    Ok(Decision {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        user_message_id: r.get(2)?,
        model: r.get(3)?,
        provider: r.get(4)?,
        tier: r.get(5)?,
        upgraded: r.get(6)?,
        safety: r.get(7)?,
        interaction: r.get(8)?,
        signals_json: r.get(9)?,
        reasons_json: r.get(10)?,
        plan_json: r.get(11)?,
        signal_origin: r.get(12)?,
        estimated_input_tokens: super::to_u64(r.get(13)?),
        estimated_cost_usd: r.get(14)?,
        created_at: r.get(15)?,
    })
}

pub(super) const ATTEMPT_COLS: &str = "id, decision_id, assistant_message_id, model, provider, \
     outcome, http_status, first_byte_ms, duration_ms, note, created_at";

pub(super) fn attempt_row(r: &Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: r.get(0)?,
        decision_id: r.get(1)?,
        assistant_message_id: r.get(2)?,
        model: r.get(3)?,
        provider: r.get(4)?,
        outcome: r.get(5)?,
        http_status: r.get(6)?,
        first_byte_ms: r.get::<_, Option<i64>>(7)?.map(super::to_u64),
        duration_ms: super::to_u64(r.get(8)?),
        note: r.get(9)?,
        created_at: r.get(10)?,
    })
}

/// A decision with the attempts that carried it out, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionDetail {
    pub decision: Decision,
    pub attempts: Vec<Attempt>,
}

/// `signals_json` must be an array: stats read each element's `kind`.
fn check_decision_json(new: &NewDecision) -> Result<()> {
    match serde_json::from_str::<serde_json::Value>(&new.signals_json) {
        Ok(serde_json::Value::Array(_)) => {}
        Ok(_) => {
            return Err(StoreError::InvalidJson {
                field: "decision signals",
                detail: "expected a JSON array".into(),
            });
        }
        Err(e) => {
            return Err(StoreError::InvalidJson {
                field: "decision signals",
                detail: e.to_string(),
            });
        }
    }
    check_json("decision reasons", &new.reasons_json)?;
    check_json("decision plan", &new.plan_json)
}

impl Store {
    pub fn insert_decision(&self, new: &NewDecision) -> Result<i64> {
        check_decision_json(new)?;
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO route_decisions (conversation_id, user_message_id, model, provider, \
                 tier, upgraded, safety, interaction, signals_json, reasons_json, plan_json, \
                 signal_origin, estimated_input_tokens, estimated_cost_usd, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                new.conversation_id,
                new.user_message_id,
                new.model,
                new.provider,
                new.tier,
                new.upgraded,
                new.safety,
                new.interaction,
                new.signals_json,
                new.reasons_json,
                new.plan_json,
                new.signal_origin,
                to_i64(new.estimated_input_tokens),
                new.estimated_cost_usd,
                new.created_at
            ])?;
            Ok(c.last_insert_rowid())
        })
    }

    pub fn insert_attempt(&self, new: &NewAttempt) -> Result<i64> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO attempts (decision_id, assistant_message_id, model, provider, \
                 outcome, http_status, first_byte_ms, duration_ms, note, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                new.decision_id,
                new.assistant_message_id,
                new.model,
                new.provider,
                new.outcome,
                new.http_status,
                new.first_byte_ms.map(to_i64),
                to_i64(new.duration_ms),
                new.note,
                new.created_at
            ])?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Links an attempt to the assistant message it produced (known once streaming starts).
    pub fn set_attempt_message(&self, attempt_id: i64, assistant_message_id: i64) -> Result<()> {
        self.write(|c| {
            match c.execute(
                "UPDATE attempts SET assistant_message_id = ?2 WHERE id = ?1",
                params![attempt_id, assistant_message_id],
            )? {
                0 => Err(StoreError::NotFound {
                    what: "attempt",
                    id: attempt_id,
                }),
                _ => Ok(()),
            }
        })
    }

    /// The conversation's latest decisions, newest first (for session affinity).
    pub fn recent_decisions(&self, conversation_id: i64, limit: usize) -> Result<Vec<Decision>> {
        self.read(|conn| {
            let sql = format!(
                "SELECT {DECISION_COLS} FROM route_decisions WHERE conversation_id = ?1 ORDER BY id DESC LIMIT ?2"
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params![conversation_id, limit as i64], decision_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(Into::into)
        })
    }

    pub fn decision(&self, id: i64) -> Result<Option<DecisionDetail>> {
        use rusqlite::OptionalExtension;
        self.read(|conn| {
            let sql = format!("SELECT {DECISION_COLS} FROM route_decisions WHERE id = ?1");
            let Some(decision) = conn.query_row(&sql, [id], decision_row).optional()? else {
                return Ok(None);
            };
            let sql =
                format!("SELECT {ATTEMPT_COLS} FROM attempts WHERE decision_id = ?1 ORDER BY id");
            let mut stmt = conn.prepare(&sql)?;
            let attempts = stmt
                .query_map([id], attempt_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(DecisionDetail { decision, attempts }))
        })
    }

    /// Whether any earlier turn of the conversation was upgraded (session affinity).
    pub fn conversation_has_upgrade(&self, conversation_id: i64) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM route_decisions \
             WHERE conversation_id = ?1 AND upgraded = 1)",
            [conversation_id],
            |r| r.get(0),
        )?)
    }
}
