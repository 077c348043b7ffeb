//! Versioned migrations, kept in code. `PRAGMA user_version` records how many have run.
//!
//! A migration is never edited once released: a change is a new entry at the end.
//! The README's "Database schema" section documents every table and column.

use std::path::Path;

use rusqlite::Connection;

use super::{Result, StoreError};

/// Migration `i` (0-based) brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Bookkeeping of the store itself (e.g. when the last full integrity check passed).
const V2: &str = r#"
CREATE TABLE maintenance (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
"#;

const V1: &str = r#"
CREATE TABLE profiles (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    tier        TEXT    NOT NULL DEFAULT 'standard',
    settings    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX profiles_name ON profiles(name);

CREATE TABLE prompt_versions (
    id            INTEGER PRIMARY KEY,
    profile_id    INTEGER NOT NULL REFERENCES profiles(id),
    version       INTEGER NOT NULL,
    prompt        TEXT    NOT NULL,
    profile_text  TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    metrics_json  TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metrics_json)),
    model         TEXT,
    cost_usd      REAL    NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    UNIQUE (profile_id, version)
);
-- The full history of personalised prompts: rows are only ever inserted.
CREATE TRIGGER prompt_versions_append_only BEFORE UPDATE ON prompt_versions
BEGIN
    SELECT RAISE(ABORT, 'prompt_versions is append-only: insert a new version instead');
END;

CREATE TABLE conversations (
    id                          INTEGER PRIMARY KEY,
    profile_id                  INTEGER NOT NULL REFERENCES profiles(id),
    title                       TEXT,
    kind                        TEXT    NOT NULL DEFAULT 'chat'
                                CHECK (kind IN ('chat', 'comparison', 'consultation')),
    system_prompt_version_used  INTEGER,
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL
);
CREATE INDEX conversations_updated ON conversations(updated_at DESC, id DESC);
CREATE INDEX conversations_profile ON conversations(profile_id, updated_at);

CREATE TABLE messages (
    id                          INTEGER PRIMARY KEY,
    conversation_id             INTEGER NOT NULL REFERENCES conversations(id),
    role                        TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content                     TEXT    NOT NULL,
    status                      TEXT    NOT NULL DEFAULT 'complete'
                                CHECK (status IN ('complete', 'partial', 'failed')),
    model                       TEXT,
    compare_lane                INTEGER,
    system_prompt_version_used  INTEGER,
    created_at                  INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, created_at, id);
-- Covers the per-range turn counts of stats without touching message rows.
CREATE INDEX messages_created ON messages(created_at, role, conversation_id);

-- Full-text index of messages.content, rowid = messages.id. Contentless: the text lives in
-- `messages`; this holds a segmented form (see store/search.rs) written by the store in the
-- same transaction as the message.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    words, cjk_uni, cjk_bi,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE route_decisions (
    id                      INTEGER PRIMARY KEY,
    conversation_id         INTEGER NOT NULL REFERENCES conversations(id),
    user_message_id         INTEGER NOT NULL REFERENCES messages(id),
    model                   TEXT    NOT NULL,
    provider                TEXT    NOT NULL,
    tier                    INTEGER NOT NULL,
    upgraded                INTEGER NOT NULL CHECK (upgraded IN (0, 1)),
    safety                  TEXT    NOT NULL DEFAULT 'none',
    interaction             TEXT,
    signals_json            TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(signals_json)),
    reasons_json            TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(reasons_json)),
    plan_json               TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(plan_json)),
    signal_origin           TEXT    NOT NULL DEFAULT 'deterministic',
    estimated_input_tokens  INTEGER NOT NULL DEFAULT 0,
    estimated_cost_usd      REAL    NOT NULL DEFAULT 0,
    created_at              INTEGER NOT NULL
);
CREATE INDEX route_decisions_created ON route_decisions(created_at, upgraded);
CREATE INDEX route_decisions_conversation ON route_decisions(conversation_id, created_at);
CREATE INDEX route_decisions_user_message ON route_decisions(user_message_id);

CREATE TABLE attempts (
    id                    INTEGER PRIMARY KEY,
    decision_id           INTEGER NOT NULL REFERENCES route_decisions(id),
    assistant_message_id  INTEGER REFERENCES messages(id),
    model                 TEXT    NOT NULL,
    provider              TEXT    NOT NULL,
    outcome               TEXT    NOT NULL,
    http_status           INTEGER,
    first_byte_ms         INTEGER,
    duration_ms           INTEGER NOT NULL DEFAULT 0,
    note                  TEXT,
    created_at            INTEGER NOT NULL
);
CREATE INDEX attempts_decision ON attempts(decision_id, id);
CREATE INDEX attempts_created ON attempts(created_at, outcome);

CREATE TABLE usage (
    id                      INTEGER PRIMARY KEY,
    conversation_id         INTEGER REFERENCES conversations(id),
    message_id              INTEGER REFERENCES messages(id),
    decision_id             INTEGER REFERENCES route_decisions(id),
    kind                    TEXT    NOT NULL,
    model                   TEXT    NOT NULL,
    input_tokens            INTEGER NOT NULL DEFAULT 0,
    output_tokens           INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens       INTEGER NOT NULL DEFAULT 0,
    cost_usd                REAL    NOT NULL DEFAULT 0,
    upgrade_equiv_cost_usd  REAL    NOT NULL DEFAULT 0,
    no_cache_cost_usd       REAL    NOT NULL DEFAULT 0,
    estimated               INTEGER NOT NULL DEFAULT 0 CHECK (estimated IN (0, 1)),
    created_at              INTEGER NOT NULL
);
CREATE INDEX usage_created ON usage(created_at);
CREATE INDEX usage_conversation ON usage(conversation_id, created_at);
CREATE INDEX usage_decision ON usage(decision_id);

CREATE TABLE behaviour_snapshots (
    id            INTEGER PRIMARY KEY,
    profile_id    INTEGER NOT NULL REFERENCES profiles(id),
    metrics_json  TEXT    NOT NULL CHECK (json_valid(metrics_json)),
    created_at    INTEGER NOT NULL
);
CREATE INDEX behaviour_snapshots_profile ON behaviour_snapshots(profile_id, created_at);

CREATE TABLE commitments (
    id               INTEGER PRIMARY KEY,
    profile_id       INTEGER NOT NULL REFERENCES profiles(id),
    conversation_id  INTEGER REFERENCES conversations(id),
    text             TEXT    NOT NULL,
    due_date         TEXT,
    status           TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'missed')),
    created_at       INTEGER NOT NULL,
    resolved_at      INTEGER
);
CREATE INDEX commitments_profile ON commitments(profile_id, status, due_date);

CREATE TABLE checkins (
    profile_id  INTEGER NOT NULL REFERENCES profiles(id),
    day         TEXT    NOT NULL,
    PRIMARY KEY (profile_id, day)
) WITHOUT ROWID;
"#;

/// Applies every migration newer than the file's `user_version`, each in its own
/// `BEGIN IMMEDIATE` transaction so two processes opening a fresh file do not race.
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    loop {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let outcome = step(conn, path);
        match outcome {
            Ok(true) => conn.execute_batch("COMMIT")?,
            Ok(false) => {
                conn.execute_batch("COMMIT")?;
                return Ok(());
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
    }
}

/// Runs the next pending migration; `false` when none is left.
fn step(conn: &Connection, path: &Path) -> Result<bool> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let Some(sql) = usize::try_from(version)
        .ok()
        .and_then(|v| MIGRATIONS.get(v))
    else {
        return Ok(false);
    };
    tracing::info!(
        from = version,
        to = version + 1,
        "migrating the database schema"
    );
    conn.execute_batch(sql)?;
    conn.pragma_update(None, "user_version", version + 1)?;
    Ok(true)
}
