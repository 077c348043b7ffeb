//! Export to Markdown (for reading) and JSON (for keeping: it round-trips through
//! [`Store::import_json`]). The store holds no secrets, so neither can an export.

use std::fmt::Write as _;

use rusqlite::{Connection, Row, params};
use serde::{Deserialize, Serialize};

use super::conversations::{
    CONVERSATION_COLS, MESSAGE_COLS, conversation_row, message_row, prefixed,
};
use super::decisions::{ATTEMPT_COLS, DECISION_COLS, attempt_row, decision_row};
use super::profiles::{
    COMMITMENT_COLS, PROFILE_COLS, PROMPT_COLS, SNAPSHOT_COLS, commitment_row, profile_row,
    prompt_row, snapshot_row,
};
use super::usage::{USAGE_COLS, usage_row};
use super::{
    Attempt, BehaviourSnapshot, Checkin, Commitment, Conversation, ConversationDetail, Decision,
    Message, MessageStatus, Profile, PromptVersion, Result, SCHEMA_VERSION, Store, StoreError,
    Turn, UsageRecord, search, to_i64, usage_kind,
};

/// The `format` field of every JSON export.
pub const EXPORT_FORMAT: &str = "grow-export";
/// Bumped when the JSON layout changes incompatibly.
pub const EXPORT_VERSION: u32 = 1;

/// Everything (or one conversation and what hangs off it), row for row, ids kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportDoc {
    pub format: String,
    pub version: u32,
    pub schema_version: i64,
    pub profiles: Vec<Profile>,
    pub prompt_versions: Vec<PromptVersion>,
    pub behaviour_snapshots: Vec<BehaviourSnapshot>,
    pub checkins: Vec<Checkin>,
    pub conversations: Vec<Conversation>,
    pub messages: Vec<Message>,
    pub route_decisions: Vec<Decision>,
    pub attempts: Vec<Attempt>,
    pub usage: Vec<UsageRecord>,
    pub commitments: Vec<Commitment>,
}

fn rows<T>(
    conn: &Connection,
    sql: &str,
    id: Option<i64>,
    map: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare(sql)?;
    let out: rusqlite::Result<Vec<T>> = match id {
        Some(id) => stmt.query_map([id], map)?.collect(),
        None => stmt.query_map([], map)?.collect(),
    };
    out.map_err(StoreError::from)
}

impl Store {
    /// One conversation (with its profile and commitments) or, with `None`, everything.
    pub fn export(&self, conversation_id: Option<i64>) -> Result<ExportDoc> {
        self.read(|c| match conversation_id {
            None => export_all(c),
            Some(id) => export_one(c, id),
        })
    }

    /// [`Store::export`] as pretty JSON.
    pub fn export_json(&self, conversation_id: Option<i64>) -> Result<String> {
        let doc = self.export(conversation_id)?;
        serde_json::to_string_pretty(&doc).map_err(|e| StoreError::BadExport(e.to_string()))
    }

    /// Loads a JSON export into this store, keeping every id. The store must be empty
    /// (a fresh file), so ids cannot collide. Returns the number of messages imported.
    pub fn import_json(&self, json: &str) -> Result<usize> {
        let doc: ExportDoc =
            serde_json::from_str(json).map_err(|e| StoreError::BadExport(e.to_string()))?;
        self.import(&doc)
    }

    pub fn import(&self, doc: &ExportDoc) -> Result<usize> {
        if doc.format != EXPORT_FORMAT {
            return Err(StoreError::BadExport(format!(
                "format is `{}`, expected `{EXPORT_FORMAT}`",
                doc.format
            )));
        }
        if doc.version > EXPORT_VERSION {
            return Err(StoreError::BadExport(format!(
                "export version {} is newer than this grow reads ({EXPORT_VERSION})",
                doc.version
            )));
        }
        self.write(|c| {
            ensure_empty(c)?;
            import_rows(c, doc)?;
            Ok(doc.messages.len())
        })
    }

    /// One conversation, or with `None` every conversation, as readable Markdown.
    pub fn export_markdown(&self, conversation_id: Option<i64>) -> Result<String> {
        let ids: Vec<i64> = match conversation_id {
            Some(id) => vec![id],
            None => {
                let mut stmt = self
                    .conn
                    .prepare("SELECT id FROM conversations ORDER BY created_at, id")?;
                stmt.query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            }
        };
        let mut out = String::new();
        for (i, id) in ids.into_iter().enumerate() {
            if i > 0 {
                out.push_str("\n---\n\n");
            }
            render_markdown(&mut out, &self.conversation_detail(id)?);
        }
        Ok(out)
    }
}

fn export_all(c: &Connection) -> Result<ExportDoc> {
    Ok(ExportDoc {
        format: EXPORT_FORMAT.into(),
        version: EXPORT_VERSION,
        schema_version: SCHEMA_VERSION,
        profiles: rows(
            c,
            &format!("SELECT {PROFILE_COLS} FROM profiles ORDER BY id"),
            None,
            profile_row,
        )?,
        prompt_versions: rows(
            c,
            &format!("SELECT {PROMPT_COLS} FROM prompt_versions ORDER BY id"),
            None,
            prompt_row,
        )?,
        behaviour_snapshots: rows(
            c,
            &format!("SELECT {SNAPSHOT_COLS} FROM behaviour_snapshots ORDER BY id"),
            None,
            snapshot_row,
        )?,
        checkins: rows(
            c,
            "SELECT profile_id, day FROM checkins ORDER BY profile_id, day",
            None,
            |r| {
                Ok(Checkin {
                    profile_id: r.get(0)?,
                    day: r.get(1)?,
                })
            },
        )?,
        conversations: rows(
            c,
            &format!("SELECT {CONVERSATION_COLS} FROM conversations ORDER BY id"),
            None,
            conversation_row,
        )?,
        messages: rows(
            c,
            &format!("SELECT {MESSAGE_COLS} FROM messages ORDER BY id"),
            None,
            message_row,
        )?,
        route_decisions: rows(
            c,
            &format!("SELECT {DECISION_COLS} FROM route_decisions ORDER BY id"),
            None,
            decision_row,
        )?,
        attempts: rows(
            c,
            &format!("SELECT {ATTEMPT_COLS} FROM attempts ORDER BY id"),
            None,
            attempt_row,
        )?,
        usage: rows(
            c,
            &format!("SELECT {USAGE_COLS} FROM usage ORDER BY id"),
            None,
            usage_row,
        )?,
        commitments: rows(
            c,
            &format!("SELECT {COMMITMENT_COLS} FROM commitments ORDER BY id"),
            None,
            commitment_row,
        )?,
    })
}

fn export_one(c: &Connection, id: i64) -> Result<ExportDoc> {
    let conversations = rows(
        c,
        &format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE id = ?1"),
        Some(id),
        conversation_row,
    )?;
    let Some(conversation) = conversations.first() else {
        return Err(StoreError::NotFound {
            what: "conversation",
            id,
        });
    };
    let profiles = rows(
        c,
        &format!("SELECT {PROFILE_COLS} FROM profiles WHERE id = ?1"),
        Some(conversation.profile_id),
        profile_row,
    )?;
    Ok(ExportDoc {
        format: EXPORT_FORMAT.into(),
        version: EXPORT_VERSION,
        schema_version: SCHEMA_VERSION,
        profiles,
        prompt_versions: Vec::new(),
        behaviour_snapshots: Vec::new(),
        checkins: Vec::new(),
        messages: rows(
            c,
            &format!("SELECT {MESSAGE_COLS} FROM messages WHERE conversation_id = ?1 ORDER BY id"),
            Some(id),
            message_row,
        )?,
        route_decisions: rows(
            c,
            &format!(
                "SELECT {DECISION_COLS} FROM route_decisions WHERE conversation_id = ?1 ORDER BY id"
            ),
            Some(id),
            decision_row,
        )?,
        attempts: rows(
            c,
            &format!(
                "SELECT {cols} FROM attempts a JOIN route_decisions d ON d.id = a.decision_id \
                 WHERE d.conversation_id = ?1 ORDER BY a.id",
                cols = prefixed(ATTEMPT_COLS, "a")
            ),
            Some(id),
            attempt_row,
        )?,
        usage: rows(
            c,
            &format!("SELECT {USAGE_COLS} FROM usage WHERE conversation_id = ?1 ORDER BY id"),
            Some(id),
            usage_row,
        )?,
        commitments: rows(
            c,
            &format!(
                "SELECT {COMMITMENT_COLS} FROM commitments WHERE conversation_id = ?1 ORDER BY id"
            ),
            Some(id),
            commitment_row,
        )?,
        conversations,
    })
}

fn ensure_empty(c: &Connection) -> Result<()> {
    for table in ["profiles", "conversations", "messages", "usage"] {
        let n: i64 = c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
        if n > 0 {
            return Err(StoreError::NotEmpty(format!("{n} rows in `{table}`")));
        }
    }
    Ok(())
}

fn import_rows(c: &Connection, doc: &ExportDoc) -> Result<()> {
    for p in &doc.profiles {
        c.prepare_cached(
            "INSERT INTO profiles (id, name, tier, settings, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![p.id, p.name, p.tier, p.settings_json, p.created_at])?;
    }
    for v in &doc.prompt_versions {
        c.prepare_cached(
            "INSERT INTO prompt_versions (id, profile_id, version, prompt, profile_text, reason, \
             metrics_json, model, cost_usd, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            v.id,
            v.profile_id,
            v.version,
            v.prompt,
            v.profile_text,
            v.reason,
            v.metrics_json,
            v.model,
            v.cost_usd,
            v.created_at
        ])?;
    }
    for s in &doc.behaviour_snapshots {
        c.prepare_cached(
            "INSERT INTO behaviour_snapshots (id, profile_id, metrics_json, created_at) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![s.id, s.profile_id, s.metrics_json, s.created_at])?;
    }
    for k in &doc.checkins {
        c.prepare_cached("INSERT INTO checkins (profile_id, day) VALUES (?1, ?2)")?
            .execute(params![k.profile_id, k.day])?;
    }
    for v in &doc.conversations {
        c.prepare_cached(
            "INSERT INTO conversations (id, profile_id, title, kind, system_prompt_version_used, \
             created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            v.id,
            v.profile_id,
            v.title,
            v.kind,
            v.system_prompt_version_used,
            v.created_at,
            v.updated_at
        ])?;
    }
    for m in &doc.messages {
        c.prepare_cached(
            "INSERT INTO messages (id, conversation_id, role, content, status, model, \
             compare_lane, system_prompt_version_used, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            m.id,
            m.conversation_id,
            m.role,
            m.content,
            m.status,
            m.model,
            m.compare_lane,
            m.system_prompt_version_used,
            m.created_at
        ])?;
        search::index_message(c, m.id, &m.content)?;
    }
    for d in &doc.route_decisions {
        c.prepare_cached(
            "INSERT INTO route_decisions (id, conversation_id, user_message_id, model, provider, \
             tier, upgraded, safety, interaction, signals_json, reasons_json, plan_json, \
             signal_origin, estimated_input_tokens, estimated_cost_usd, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?
        .execute(params![
            d.id,
            d.conversation_id,
            d.user_message_id,
            d.model,
            d.provider,
            d.tier,
            d.upgraded,
            d.safety,
            d.interaction,
            d.signals_json,
            d.reasons_json,
            d.plan_json,
            d.signal_origin,
            to_i64(d.estimated_input_tokens),
            d.estimated_cost_usd,
            d.created_at
        ])?;
    }
    for a in &doc.attempts {
        c.prepare_cached(
            "INSERT INTO attempts (id, decision_id, assistant_message_id, model, provider, \
             outcome, http_status, first_byte_ms, duration_ms, note, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            a.id,
            a.decision_id,
            a.assistant_message_id,
            a.model,
            a.provider,
            a.outcome,
            a.http_status,
            a.first_byte_ms.map(to_i64),
            to_i64(a.duration_ms),
            a.note,
            a.created_at
        ])?;
    }
    for u in &doc.usage {
        c.prepare_cached(
            "INSERT INTO usage (id, conversation_id, message_id, decision_id, kind, model, \
             input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd, \
             upgrade_equiv_cost_usd, no_cache_cost_usd, estimated, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?
        .execute(params![
            u.id,
            u.conversation_id,
            u.message_id,
            u.decision_id,
            u.kind,
            u.model,
            to_i64(u.usage.input_tokens),
            to_i64(u.usage.output_tokens),
            to_i64(u.usage.cache_creation_input_tokens),
            to_i64(u.usage.cache_read_input_tokens),
            u.cost_usd,
            u.upgrade_equiv_cost_usd,
            u.no_cache_cost_usd,
            u.estimated,
            u.created_at
        ])?;
    }
    for k in &doc.commitments {
        c.prepare_cached(
            "INSERT INTO commitments (id, profile_id, conversation_id, text, due_date, status, \
             created_at, resolved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            k.id,
            k.profile_id,
            k.conversation_id,
            k.text,
            k.due_date,
            k.status,
            k.created_at,
            k.resolved_at
        ])?;
    }
    Ok(())
}

/// `2026-11-21 14:05 UTC`.
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// Dollars with enough digits to show a fraction of a cent.
pub fn format_usd(usd: f64) -> String {
    if usd.abs() >= 1.0 {
        format!("${usd:.2}")
    } else {
        format!("${usd:.4}")
    }
}

fn render_markdown(out: &mut String, detail: &ConversationDetail) {
    let c = &detail.conversation;
    let title = c.title.as_deref().filter(|t| !t.trim().is_empty());
    let turns = detail.turns.iter().filter(|t| t.user.is_some()).count();
    let _ = writeln!(
        out,
        "# {}\n",
        one_line(title.unwrap_or("Untitled conversation"))
    );
    let _ = writeln!(
        out,
        "<sub>conversation {} · {} · started {} · {} turn{} · {}</sub>\n",
        c.id,
        c.kind,
        format_ms(c.created_at),
        turns,
        if turns == 1 { "" } else { "s" },
        format_usd(detail.totals.cost_usd)
    );
    for turn in &detail.turns {
        render_turn(out, turn);
    }
}

fn render_turn(out: &mut String, turn: &Turn) {
    match &turn.user {
        Some(user) => {
            let _ = writeln!(
                out,
                "## Turn {} · {}\n",
                turn.index,
                format_ms(user.created_at)
            );
            let _ = writeln!(out, "**You**\n");
            for line in user.content.lines() {
                let _ = writeln!(out, "> {line}");
            }
            out.push('\n');
        }
        None => {
            let _ = writeln!(out, "## Before the first turn\n");
        }
    }
    for reply in &turn.replies {
        let who = match (reply.role, reply.compare_lane) {
            (super::Role::System, _) => "**System**".to_string(),
            (_, Some(lane)) => format!("**Coach** (lane {})", lane + 1),
            _ => "**Coach**".to_string(),
        };
        let _ = writeln!(out, "{who}\n");
        let body = reply.content.trim_end();
        if !body.is_empty() {
            let _ = writeln!(out, "{body}\n");
        }
        match reply.status {
            MessageStatus::Complete => {}
            MessageStatus::Partial => {
                let _ = writeln!(out, "*(partial: the answer was cut off here)*\n");
            }
            MessageStatus::Failed => {
                let _ = writeln!(out, "*(failed: no answer arrived)*\n");
            }
        }
        if let Some(model) = &reply.model {
            // The answer's own calls; with one answer, also unattached coaching calls. The
            // analyzer is another model's call and gets its own line below.
            let usage: Vec<&UsageRecord> = turn
                .usage
                .iter()
                .filter(|u| {
                    u.message_id == Some(reply.id)
                        || (turn.replies.len() == 1
                            && u.message_id.is_none()
                            && u.kind != usage_kind::ANALYZER)
                })
                .collect();
            let _ = writeln!(out, "<sub>{}</sub>\n", small_print(model, turn, &usage));
        }
    }
    for u in turn
        .usage
        .iter()
        .filter(|u| u.kind == usage_kind::ANALYZER && u.message_id.is_none())
    {
        let _ = writeln!(
            out,
            "<sub>analyzer {} · {} in / {} out tokens · {}</sub>\n",
            u.model,
            u.usage.input_tokens + u.usage.cache_creation_input_tokens,
            u.usage.output_tokens,
            format_usd(u.cost_usd)
        );
    }
}

fn small_print(model: &str, turn: &Turn, usage: &[&UsageRecord]) -> String {
    let mut parts = vec![format!("model {model}")];
    if let Some(d) = turn.decisions.first() {
        let kinds = d.decision.signal_kinds();
        if d.decision.upgraded {
            if kinds.is_empty() {
                parts.push("upgraded".into());
            } else {
                parts.push(format!("upgraded: {}", kinds.join(", ")));
            }
        }
        if d.decision.model != model {
            parts.push(format!("fallback from {}", d.decision.model));
        }
    }
    let (mut input, mut output, mut cached, mut cost) = (0u64, 0u64, 0u64, 0.0);
    for u in usage {
        input += u.usage.input_tokens + u.usage.cache_creation_input_tokens;
        output += u.usage.output_tokens;
        cached += u.usage.cache_read_input_tokens;
        cost += u.cost_usd;
    }
    if !usage.is_empty() {
        let mut tokens = format!("{input} in / {output} out tokens");
        if cached > 0 {
            let _ = write!(tokens, " / {cached} cached");
        }
        parts.push(tokens);
        parts.push(format_usd(cost));
    }
    parts.join(" · ")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use crate::catalog::Usage;
    use crate::store::{
        ConversationKind, MessageStatus, NewConversation, NewDecision, NewMessage, NewProfile,
        NewUsage, Store, usage_kind,
    };

    fn usage_row(
        conversation_id: i64,
        (message_id, decision_id): (Option<i64>, i64),
        kind: &str,
        input: u64,
        cost: f64,
    ) -> NewUsage {
        NewUsage {
            conversation_id: Some(conversation_id),
            message_id,
            decision_id: Some(decision_id),
            kind: kind.into(),
            model: "m-small".into(),
            usage: Usage {
                input_tokens: input,
                output_tokens: 10,
                ..Usage::default()
            },
            cost_usd: cost,
            upgrade_equiv_cost_usd: cost,
            no_cache_cost_usd: cost,
            estimated: false,
            created_at: 2,
        }
    }

    #[test]
    fn markdown_keeps_analyzer_tokens_out_of_the_answer_small_print() {
        let store = Store::open_in_memory().unwrap();
        let profile = store
            .create_profile(&NewProfile {
                name: "me".into(),
                tier: None,
                settings_json: None,
                created_at: 0,
            })
            .unwrap();
        let c = store
            .create_conversation(&NewConversation {
                profile_id: profile,
                title: Some("t".into()),
                kind: ConversationKind::Chat,
                system_prompt_version_used: None,
                created_at: 0,
            })
            .unwrap();
        let user = store
            .insert_message(&NewMessage::user(c, "hello", 1))
            .unwrap();
        let decision = store
            .insert_decision(&NewDecision {
                conversation_id: c,
                user_message_id: user,
                model: "m-big".into(),
                provider: "anthropic".into(),
                tier: 1,
                upgraded: false,
                safety: "none".into(),
                interaction: None,
                signals_json: "[]".into(),
                reasons_json: "[]".into(),
                plan_json: "[]".into(),
                signal_origin: "analyzer".into(),
                estimated_input_tokens: 0,
                estimated_cost_usd: 0.0,
                created_at: 1,
            })
            .unwrap();
        let answer = store
            .insert_message(&NewMessage::assistant(
                c,
                "m-big",
                "hi",
                MessageStatus::Complete,
                2,
            ))
            .unwrap();
        store
            .insert_usage(&usage_row(
                c,
                (Some(answer), decision),
                usage_kind::COACHING,
                1000,
                0.5,
            ))
            .unwrap();
        store
            .insert_usage(&usage_row(
                c,
                (None, decision),
                usage_kind::ANALYZER,
                300,
                0.25,
            ))
            .unwrap();
        let md = store.export_markdown(Some(c)).unwrap();
        assert!(
            md.contains("model m-big · 1000 in / 10 out tokens · $0.5000"),
            "{md}"
        );
        assert!(!md.contains("1300 in"), "{md}");
        assert!(
            md.contains("analyzer m-small · 300 in / 10 out tokens · $0.2500"),
            "{md}"
        );
    }
}
