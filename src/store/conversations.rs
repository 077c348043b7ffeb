//! Conversations and messages: writes, prompt history, the review list and detail.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::decisions::{ATTEMPT_COLS, DECISION_COLS, attempt_row, decision_row};
use super::usage::{USAGE_COLS, usage_row};
use super::{
    Conversation, CostTotals, DecisionDetail, Message, MessageStatus, NewConversation, NewMessage,
    Result, Role, Store, StoreError, UsageRecord, search,
};

pub(super) const CONVERSATION_COLS: &str =
    "id, profile_id, title, kind, system_prompt_version_used, created_at, updated_at";

pub(super) fn conversation_row(r: &Row<'_>) -> rusqlite::Result<Conversation> {
    Ok(Conversation {
        id: r.get(0)?,
        profile_id: r.get(1)?,
        title: r.get(2)?,
        kind: r.get(3)?,
        system_prompt_version_used: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

pub(super) const MESSAGE_COLS: &str = "id, conversation_id, role, content, status, model, \
     compare_lane, system_prompt_version_used, created_at";

pub(super) fn message_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        role: r.get(2)?,
        content: r.get(3)?,
        status: r.get(4)?,
        model: r.get(5)?,
        compare_lane: r.get(6)?,
        system_prompt_version_used: r.get(7)?,
        created_at: r.get(8)?,
    })
}

/// Size of a conversation, for routing (`long_context`) and history windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConversationSize {
    /// User messages so far.
    pub turns: u64,
    pub messages: u64,
    /// Characters of content over all messages.
    pub content_chars: u64,
}

/// Which conversations `list_conversations` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFilter {
    /// Only conversations active (updated) at or after this time.
    pub since_ms: Option<i64>,
    /// Only conversations where this model was chosen or answered.
    pub model: Option<String>,
    pub profile_id: Option<i64>,
    /// At most this many (all when `None`).
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCount {
    pub model: String,
    pub count: u64,
}

/// One line of the review list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub conversation: Conversation,
    pub turns: u64,
    /// Models that answered, most used first.
    pub model_mix: Vec<ModelCount>,
    /// Turns routed to the upgrade model.
    pub upgrades: u64,
    pub cost_usd: f64,
}

/// One user message and everything that answered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// 1-based; 0 for messages before the first user message (e.g. a system message).
    pub index: u64,
    pub user: Option<Message>,
    /// Assistant (and system) messages up to the next user message; two in a comparison.
    pub replies: Vec<Message>,
    pub decisions: Vec<DecisionDetail>,
    pub usage: Vec<UsageRecord>,
    pub cost_usd: f64,
}

/// A whole conversation with each turn's decision, attempts, usage and cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    pub turns: Vec<Turn>,
    /// Usage not tied to a turn (e.g. generating the title).
    pub other_usage: Vec<UsageRecord>,
    pub totals: CostTotals,
}

impl Store {
    pub fn create_conversation(&self, new: &NewConversation) -> Result<i64> {
        self.write(|c| {
            c.execute(
                "INSERT INTO conversations (profile_id, title, kind, system_prompt_version_used, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![
                    new.profile_id,
                    new.title,
                    new.kind,
                    new.system_prompt_version_used,
                    new.created_at
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    pub fn set_conversation_title(&self, id: i64, title: &str) -> Result<()> {
        self.update_one(
            "conversation",
            id,
            "UPDATE conversations SET title = ?2 WHERE id = ?1",
            title,
        )
    }

    /// Commits one message (and its search entry) on its own: call it for the user message
    /// before any network call, so the message survives whatever happens next.
    pub fn insert_message(&self, new: &NewMessage) -> Result<i64> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO messages (conversation_id, role, content, status, model, \
                 compare_lane, system_prompt_version_used, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                new.conversation_id,
                new.role,
                new.content,
                new.status,
                new.model,
                new.compare_lane,
                new.system_prompt_version_used,
                new.created_at
            ])?;
            let id = c.last_insert_rowid();
            search::index_message(c, id, &new.content)?;
            c.prepare_cached(
                "UPDATE conversations SET updated_at = MAX(updated_at, ?2) WHERE id = ?1",
            )?
            .execute(params![new.conversation_id, new.created_at])?;
            Ok(id)
        })
    }

    /// Replaces a message's content and status: partial saves while streaming, then the
    /// final text (`complete`), or `partial`/`failed` when the stream was cut.
    pub fn update_message(&self, id: i64, content: &str, status: MessageStatus) -> Result<()> {
        self.write(|c| {
            let n = c
                .prepare_cached("UPDATE messages SET content = ?2, status = ?3 WHERE id = ?1")?
                .execute(params![id, content, status])?;
            if n == 0 {
                return Err(StoreError::NotFound {
                    what: "message",
                    id,
                });
            }
            search::index_message(c, id, content)?;
            Ok(())
        })
    }

    /// Sets the model of a message (an assistant answer whose model was known only later).
    pub fn set_message_model(&self, id: i64, model: &str) -> Result<()> {
        self.update_one(
            "message",
            id,
            "UPDATE messages SET model = ?2 WHERE id = ?1",
            model,
        )
    }

    pub fn conversation(&self, id: i64) -> Result<Option<Conversation>> {
        let sql = format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE id = ?1");
        Ok(self
            .conn
            .query_row(&sql, [id], conversation_row)
            .optional()?)
    }

    pub fn message(&self, id: i64) -> Result<Option<Message>> {
        let sql = format!("SELECT {MESSAGE_COLS} FROM messages WHERE id = ?1");
        Ok(self.conn.query_row(&sql, [id], message_row).optional()?)
    }

    /// Every message of a conversation in order, for prompt building and display.
    pub fn history(&self, conversation_id: i64) -> Result<Vec<Message>> {
        messages_of(&self.conn, conversation_id)
    }

    /// The last `limit` messages of a conversation, in order (a history window).
    pub fn recent_messages(&self, conversation_id: i64, limit: usize) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT * FROM (SELECT {MESSAGE_COLS} FROM messages WHERE conversation_id = ?1 \
             ORDER BY created_at DESC, id DESC LIMIT ?2) ORDER BY created_at, id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![conversation_id, super::to_i64(limit as u64)],
            message_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn conversation_size(&self, conversation_id: i64) -> Result<ConversationSize> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(role = 'user'), 0), COUNT(*), COALESCE(SUM(length(content)), 0) \
             FROM messages WHERE conversation_id = ?1",
            [conversation_id],
            |r| {
                Ok(ConversationSize {
                    turns: super::to_u64(r.get(0)?),
                    messages: super::to_u64(r.get(1)?),
                    content_chars: super::to_u64(r.get(2)?),
                })
            },
        )?)
    }

    /// Conversations newest (most recently active) first, with turns, model mix, upgrades
    /// and cost.
    pub fn list_conversations(&self, filter: &ListFilter) -> Result<Vec<ConversationSummary>> {
        let sql = format!(
            "SELECT {cols}, \
               (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id \
                  AND m.role = 'user'), \
               (SELECT COUNT(*) FROM route_decisions d WHERE d.conversation_id = c.id \
                  AND d.upgraded = 1), \
               (SELECT COALESCE(SUM(u.cost_usd), 0) FROM usage u \
                  WHERE u.conversation_id = c.id) \
             FROM conversations c \
             WHERE (?1 IS NULL OR c.updated_at >= ?1) \
               AND (?2 IS NULL OR c.profile_id = ?2) \
               AND (?3 IS NULL \
                    OR EXISTS (SELECT 1 FROM route_decisions d \
                               WHERE d.conversation_id = c.id AND d.model = ?3) \
                    OR EXISTS (SELECT 1 FROM messages m \
                               WHERE m.conversation_id = c.id AND m.model = ?3)) \
             ORDER BY c.updated_at DESC, c.id DESC \
             LIMIT ?4",
            cols = CONVERSATION_COLS
                .split(", ")
                .map(|c| format!("c.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let limit = filter.limit.map_or(-1, |l| super::to_i64(l as u64));
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![filter.since_ms, filter.profile_id, filter.model, limit],
                |r| {
                    Ok(ConversationSummary {
                        conversation: conversation_row(r)?,
                        turns: super::to_u64(r.get(7)?),
                        model_mix: Vec::new(),
                        upgrades: super::to_u64(r.get(8)?),
                        cost_usd: r.get(9)?,
                    })
                },
            )?;
            let mut out: Vec<ConversationSummary> = rows.collect::<rusqlite::Result<_>>()?;
            let mut mix = conn.prepare_cached(
                "SELECT model, COUNT(*) AS n FROM messages \
                 WHERE conversation_id = ?1 AND role = 'assistant' AND model IS NOT NULL \
                 GROUP BY model ORDER BY n DESC, model",
            )?;
            for summary in &mut out {
                summary.model_mix = mix
                    .query_map([summary.conversation.id], |r| {
                        Ok(ModelCount {
                            model: r.get(0)?,
                            count: super::to_u64(r.get(1)?),
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(out)
        })
    }

    /// The whole conversation, turn by turn, with decisions, attempts, usage and cost.
    pub fn conversation_detail(&self, id: i64) -> Result<ConversationDetail> {
        self.read(|conn| {
            let sql = format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE id = ?1");
            let conversation = conn
                .query_row(&sql, [id], conversation_row)
                .optional()?
                .ok_or(StoreError::NotFound {
                    what: "conversation",
                    id,
                })?;
            let messages = messages_of(conn, id)?;
            let decisions = collect(
                conn,
                &format!(
                    "SELECT {DECISION_COLS} FROM route_decisions WHERE conversation_id = ?1 \
                     ORDER BY created_at, id"
                ),
                id,
                decision_row,
            )?;
            let attempts = collect(
                conn,
                &format!(
                    "SELECT {cols} FROM attempts a JOIN route_decisions d ON d.id = a.decision_id \
                     WHERE d.conversation_id = ?1 ORDER BY a.id",
                    cols = prefixed(ATTEMPT_COLS, "a")
                ),
                id,
                attempt_row,
            )?;
            let usage = collect(
                conn,
                &format!(
                    "SELECT {USAGE_COLS} FROM usage WHERE conversation_id = ?1 \
                     ORDER BY created_at, id"
                ),
                id,
                usage_row,
            )?;
            Ok(assemble(conversation, messages, decisions, attempts, usage))
        })
    }
}

pub(super) fn prefixed(cols: &str, alias: &str) -> String {
    cols.split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn collect<T>(
    conn: &Connection,
    sql: &str,
    id: i64,
    map: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([id], map)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn messages_of(conn: &Connection, conversation_id: i64) -> Result<Vec<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLS} FROM messages WHERE conversation_id = ?1 ORDER BY created_at, id"
    );
    collect(conn, &sql, conversation_id, message_row)
}

/// Groups a conversation's rows into turns: a turn starts at each user message.
fn assemble(
    conversation: Conversation,
    messages: Vec<Message>,
    decisions: Vec<super::Decision>,
    attempts: Vec<super::Attempt>,
    usage: Vec<UsageRecord>,
) -> ConversationDetail {
    let mut turns: Vec<Turn> = Vec::new();
    let mut turn_of_message: HashMap<i64, usize> = HashMap::new();
    for m in messages {
        if m.role == Role::User || turns.is_empty() {
            let index = if m.role == Role::User {
                turns.iter().filter(|t| t.user.is_some()).count() as u64 + 1
            } else {
                0
            };
            turns.push(Turn {
                index,
                user: None,
                replies: Vec::new(),
                decisions: Vec::new(),
                usage: Vec::new(),
                cost_usd: 0.0,
            });
        }
        let at = turns.len() - 1;
        turn_of_message.insert(m.id, at);
        let turn = &mut turns[at];
        if m.role == Role::User {
            turn.user = Some(m);
        } else {
            turn.replies.push(m);
        }
    }
    let mut turn_of_decision: HashMap<i64, (usize, usize)> = HashMap::new();
    for d in decisions {
        if let Some(&t) = turn_of_message.get(&d.user_message_id) {
            turn_of_decision.insert(d.id, (t, turns[t].decisions.len()));
            turns[t].decisions.push(DecisionDetail {
                decision: d,
                attempts: Vec::new(),
            });
        }
    }
    for a in attempts {
        if let Some(&(t, d)) = turn_of_decision.get(&a.decision_id) {
            turns[t].decisions[d].attempts.push(a);
        }
    }
    let mut totals = CostTotals::default();
    let mut other_usage = Vec::new();
    for u in usage {
        totals.add(&u);
        let turn = u
            .decision_id
            .and_then(|d| turn_of_decision.get(&d).map(|(t, _)| *t))
            .or_else(|| u.message_id.and_then(|m| turn_of_message.get(&m).copied()));
        match turn {
            Some(t) => {
                turns[t].cost_usd += u.cost_usd;
                turns[t].usage.push(u);
            }
            None => other_usage.push(u),
        }
    }
    ConversationDetail {
        conversation,
        turns,
        other_usage,
        totals,
    }
}
