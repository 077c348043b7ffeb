//! Row types: what callers write (`New*`) and what reads return.

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

use crate::catalog::Usage;

/// Declares a string-backed enum stored as TEXT, with `as_str`, `FromStr`, serde and SQL.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} `{}` (expected one of: {})",
                        stringify!($name),
                        other,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = value.as_str()?;
                s.parse().map_err(|e: String| FromSqlError::Other(e.into()))
            }
        }
    };
}

text_enum!(
    /// Who wrote a message.
    Role { User => "user", Assistant => "assistant", System => "system" }
);

text_enum!(
    /// Whether a message is whole: `partial` is a stream cut off (kept, marked), `failed` an
    /// answer that never came.
    MessageStatus { Complete => "complete", Partial => "partial", Failed => "failed" }
);

text_enum!(
    /// What a conversation is: a coaching chat, a side-by-side model comparison, or the
    /// profile consultation.
    ConversationKind { Chat => "chat", Comparison => "comparison", Consultation => "consultation" }
);

text_enum!(
    /// The state of a commitment a person made ("I'll send the email by Friday").
    CommitmentStatus { Open => "open", Done => "done", Missed => "missed" }
);

/// Well-known `usage.kind` values; the column is free text so new kinds need no migration.
pub mod usage_kind {
    /// The coaching answer of a turn.
    pub const COACHING: &str = "coaching";
    /// The analyzer model scoring a message for routing.
    pub const ANALYZER: &str = "analyzer";
    /// Building or updating a person's profile / personalised prompt.
    pub const PROFILE: &str = "profile";
    /// Generating a conversation title.
    pub const TITLE: &str = "title";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewProfile {
    pub name: String,
    /// Defaults to `standard` when `None`.
    pub tier: Option<String>,
    /// A JSON object (never secrets).
    pub settings_json: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub id: i64,
    pub name: String,
    pub tier: String,
    pub settings_json: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewConversation {
    pub profile_id: i64,
    pub title: Option<String>,
    pub kind: ConversationKind,
    pub system_prompt_version_used: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: i64,
    pub profile_id: i64,
    pub title: Option<String>,
    pub kind: ConversationKind,
    pub system_prompt_version_used: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMessage {
    pub conversation_id: i64,
    pub role: Role,
    pub content: String,
    pub status: MessageStatus,
    pub model: Option<String>,
    /// Which side of a comparison (0, 1) this answer belongs to.
    pub compare_lane: Option<i64>,
    pub system_prompt_version_used: Option<i64>,
    pub created_at: i64,
}

impl NewMessage {
    /// A complete user message.
    pub fn user(conversation_id: i64, content: impl Into<String>, created_at: i64) -> NewMessage {
        NewMessage {
            conversation_id,
            role: Role::User,
            content: content.into(),
            status: MessageStatus::Complete,
            model: None,
            compare_lane: None,
            system_prompt_version_used: None,
            created_at,
        }
    }

    /// An assistant message (often started empty and `partial`, then updated as it streams).
    pub fn assistant(
        conversation_id: i64,
        model: impl Into<String>,
        content: impl Into<String>,
        status: MessageStatus,
        created_at: i64,
    ) -> NewMessage {
        NewMessage {
            conversation_id,
            role: Role::Assistant,
            content: content.into(),
            status,
            model: Some(model.into()),
            compare_lane: None,
            system_prompt_version_used: None,
            created_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub role: Role,
    pub content: String,
    pub status: MessageStatus,
    pub model: Option<String>,
    pub compare_lane: Option<i64>,
    pub system_prompt_version_used: Option<i64>,
    pub created_at: i64,
}

/// A routing decision as the coach persists it: plain fields plus JSON produced by the
/// coach layer. `signals_json` is an array of objects with at least a `kind` field
/// (`[{"kind":"complex_decision","score":0.8,"evidence":"…"}]`); stats read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDecision {
    pub conversation_id: i64,
    pub user_message_id: i64,
    pub model: String,
    pub provider: String,
    pub tier: i64,
    pub upgraded: bool,
    /// `none`, `distress` or `crisis`.
    pub safety: String,
    /// The interaction code the turn ran under (e.g. `check_in`), if any.
    pub interaction: Option<String>,
    pub signals_json: String,
    pub reasons_json: String,
    pub plan_json: String,
    /// `deterministic`, `analyzer` or `fallback`.
    pub signal_origin: String,
    pub estimated_input_tokens: u64,
    pub estimated_cost_usd: f64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: i64,
    pub conversation_id: i64,
    pub user_message_id: i64,
    pub model: String,
    pub provider: String,
    pub tier: i64,
    pub upgraded: bool,
    pub safety: String,
    pub interaction: Option<String>,
    pub signals_json: String,
    pub reasons_json: String,
    pub plan_json: String,
    pub signal_origin: String,
    pub estimated_input_tokens: u64,
    pub estimated_cost_usd: f64,
    pub created_at: i64,
}

impl Decision {
    /// The signal kinds named in `signals_json`, in order (unparseable entries skipped).
    pub fn signal_kinds(&self) -> Vec<String> {
        signal_kinds(&self.signals_json)
    }
}

/// Kinds from a signals JSON array: objects with `kind`, or bare strings.
pub(crate) fn signal_kinds(signals_json: &str) -> Vec<String> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str(signals_json) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|v| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(o) => o.get("kind")?.as_str().map(str::to_owned),
            _ => None,
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAttempt {
    pub decision_id: i64,
    pub assistant_message_id: Option<i64>,
    pub model: String,
    pub provider: String,
    /// `ok`, a provider error class (`rate_limited`, `overloaded`, `timeout`, …) or `skipped`.
    pub outcome: String,
    pub http_status: Option<u16>,
    pub first_byte_ms: Option<u64>,
    pub duration_ms: u64,
    pub note: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub id: i64,
    pub decision_id: i64,
    pub assistant_message_id: Option<i64>,
    pub model: String,
    pub provider: String,
    pub outcome: String,
    pub http_status: Option<u16>,
    pub first_byte_ms: Option<u64>,
    pub duration_ms: u64,
    pub note: Option<String>,
    pub created_at: i64,
}

/// Tokens and cost of one model call. Costs are computed by the caller from the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewUsage {
    pub conversation_id: Option<i64>,
    pub message_id: Option<i64>,
    pub decision_id: Option<i64>,
    /// See [`usage_kind`].
    pub kind: String,
    pub model: String,
    pub usage: Usage,
    pub cost_usd: f64,
    /// The same tokens priced on the upgrade model (0 for calls an all-upgrade setup would
    /// not make, such as the analyzer).
    pub upgrade_equiv_cost_usd: f64,
    /// The same tokens with no prompt caching (all input at full price).
    pub no_cache_cost_usd: f64,
    /// Tokens were estimated (the provider sent no usage, e.g. a cut stream).
    pub estimated: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub id: i64,
    pub conversation_id: Option<i64>,
    pub message_id: Option<i64>,
    pub decision_id: Option<i64>,
    pub kind: String,
    pub model: String,
    pub usage: Usage,
    pub cost_usd: f64,
    pub upgrade_equiv_cost_usd: f64,
    pub no_cache_cost_usd: f64,
    pub estimated: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewPromptVersion {
    pub profile_id: i64,
    pub prompt: String,
    pub profile_text: String,
    pub reason: String,
    pub metrics_json: String,
    pub model: Option<String>,
    pub cost_usd: f64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptVersion {
    pub id: i64,
    pub profile_id: i64,
    /// 1, 2, 3, … per profile, assigned by the store.
    pub version: i64,
    pub prompt: String,
    pub profile_text: String,
    pub reason: String,
    pub metrics_json: String,
    pub model: Option<String>,
    pub cost_usd: f64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSnapshot {
    pub profile_id: i64,
    pub metrics_json: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BehaviourSnapshot {
    pub id: i64,
    pub profile_id: i64,
    pub metrics_json: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCommitment {
    pub profile_id: i64,
    pub conversation_id: Option<i64>,
    pub text: String,
    /// `YYYY-MM-DD`.
    pub due_date: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commitment {
    pub id: i64,
    pub profile_id: i64,
    pub conversation_id: Option<i64>,
    pub text: String,
    pub due_date: Option<String>,
    pub status: CommitmentStatus,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkin {
    pub profile_id: i64,
    /// `YYYY-MM-DD` in the person's local time.
    pub day: String,
}
