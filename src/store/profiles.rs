//! Profiles and what the coach keeps about a person: prompt versions (append-only),
//! behaviour snapshots, commitments and check-ins.

use rusqlite::{OptionalExtension, Row, params};

use super::{
    BehaviourSnapshot, Checkin, Commitment, CommitmentStatus, NewCommitment, NewProfile,
    NewPromptVersion, NewSnapshot, Profile, PromptVersion, Result, Store, StoreError,
};

pub(super) fn check_json(field: &'static str, text: &str) -> Result<()> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|_| ())
        .map_err(|e| StoreError::InvalidJson {
            field,
            detail: e.to_string(),
        })
}

pub(super) const PROFILE_COLS: &str = "id, name, tier, settings, created_at";

pub(super) fn profile_row(r: &Row<'_>) -> rusqlite::Result<Profile> {
    Ok(Profile {
        id: r.get(0)?,
        name: r.get(1)?,
        tier: r.get(2)?,
        settings_json: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub(super) const PROMPT_COLS: &str = "id, profile_id, version, prompt, profile_text, reason, \
     metrics_json, model, cost_usd, created_at";

pub(super) fn prompt_row(r: &Row<'_>) -> rusqlite::Result<PromptVersion> {
    Ok(PromptVersion {
        id: r.get(0)?,
        profile_id: r.get(1)?,
        version: r.get(2)?,
        prompt: r.get(3)?,
        profile_text: r.get(4)?,
        reason: r.get(5)?,
        metrics_json: r.get(6)?,
        model: r.get(7)?,
        cost_usd: r.get(8)?,
        created_at: r.get(9)?,
    })
}

pub(super) const SNAPSHOT_COLS: &str = "id, profile_id, metrics_json, created_at";

pub(super) fn snapshot_row(r: &Row<'_>) -> rusqlite::Result<BehaviourSnapshot> {
    Ok(BehaviourSnapshot {
        id: r.get(0)?,
        profile_id: r.get(1)?,
        metrics_json: r.get(2)?,
        created_at: r.get(3)?,
    })
}

pub(super) const COMMITMENT_COLS: &str =
    "id, profile_id, conversation_id, text, due_date, status, created_at, resolved_at";

pub(super) fn commitment_row(r: &Row<'_>) -> rusqlite::Result<Commitment> {
    Ok(Commitment {
        id: r.get(0)?,
        profile_id: r.get(1)?,
        conversation_id: r.get(2)?,
        text: r.get(3)?,
        due_date: r.get(4)?,
        status: r.get(5)?,
        created_at: r.get(6)?,
        resolved_at: r.get(7)?,
    })
}

impl Store {
    pub fn create_profile(&self, new: &NewProfile) -> Result<i64> {
        let settings = new.settings_json.as_deref().unwrap_or("{}");
        check_json("profile settings", settings)?;
        self.write(|c| {
            c.execute(
                "INSERT INTO profiles (name, tier, settings, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    new.name,
                    new.tier.as_deref().unwrap_or("standard"),
                    settings,
                    new.created_at
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// The id of the profile called `name`, creating it (tier `standard`, empty settings)
    /// when missing.
    pub fn ensure_profile(&self, name: &str, created_at: i64) -> Result<i64> {
        self.write(|c| {
            c.execute(
                "INSERT INTO profiles (name, created_at) VALUES (?1, ?2) \
                 ON CONFLICT(name) DO NOTHING",
                params![name, created_at],
            )?;
            Ok(
                c.query_row("SELECT id FROM profiles WHERE name = ?1", [name], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    pub fn profile(&self, id: i64) -> Result<Option<Profile>> {
        let sql = format!("SELECT {PROFILE_COLS} FROM profiles WHERE id = ?1");
        Ok(self.conn.query_row(&sql, [id], profile_row).optional()?)
    }

    pub fn profiles(&self) -> Result<Vec<Profile>> {
        let sql = format!("SELECT {PROFILE_COLS} FROM profiles ORDER BY id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], profile_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn set_profile_settings(&self, id: i64, settings_json: &str) -> Result<()> {
        check_json("profile settings", settings_json)?;
        self.update_one(
            "profile",
            id,
            "UPDATE profiles SET settings = ?2 WHERE id = ?1",
            settings_json,
        )
    }

    pub fn set_profile_tier(&self, id: i64, tier: &str) -> Result<()> {
        self.update_one(
            "profile",
            id,
            "UPDATE profiles SET tier = ?2 WHERE id = ?1",
            tier,
        )
    }

    pub(super) fn update_one(
        &self,
        what: &'static str,
        id: i64,
        sql: &str,
        value: &str,
    ) -> Result<()> {
        self.write(|c| match c.execute(sql, params![id, value])? {
            0 => Err(StoreError::NotFound { what, id }),
            _ => Ok(()),
        })
    }

    /// Appends the next prompt version of a profile (1 for the first) and returns
    /// `(id, version)`. Versions are never updated.
    pub fn insert_prompt_version(&self, new: &NewPromptVersion) -> Result<(i64, i64)> {
        check_json("prompt version metrics", &new.metrics_json)?;
        self.write(|c| {
            let version: i64 = c.query_row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM prompt_versions WHERE profile_id = ?1",
                [new.profile_id],
                |r| r.get(0),
            )?;
            c.execute(
                "INSERT INTO prompt_versions (profile_id, version, prompt, profile_text, reason, \
                 metrics_json, model, cost_usd, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    new.profile_id,
                    version,
                    new.prompt,
                    new.profile_text,
                    new.reason,
                    new.metrics_json,
                    new.model,
                    new.cost_usd,
                    new.created_at
                ],
            )?;
            Ok((c.last_insert_rowid(), version))
        })
    }

    /// The newest prompt version of a profile, if it has one.
    pub fn latest_prompt_version(&self, profile_id: i64) -> Result<Option<PromptVersion>> {
        let sql = format!(
            "SELECT {PROMPT_COLS} FROM prompt_versions WHERE profile_id = ?1 \
             ORDER BY version DESC LIMIT 1"
        );
        Ok(self
            .conn
            .query_row(&sql, [profile_id], prompt_row)
            .optional()?)
    }

    /// Every prompt version of a profile, oldest first.
    pub fn prompt_versions(&self, profile_id: i64) -> Result<Vec<PromptVersion>> {
        let sql = format!(
            "SELECT {PROMPT_COLS} FROM prompt_versions WHERE profile_id = ?1 ORDER BY version"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([profile_id], prompt_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn insert_snapshot(&self, new: &NewSnapshot) -> Result<i64> {
        check_json("behaviour snapshot metrics", &new.metrics_json)?;
        self.write(|c| {
            c.execute(
                "INSERT INTO behaviour_snapshots (profile_id, metrics_json, created_at) \
                 VALUES (?1, ?2, ?3)",
                params![new.profile_id, new.metrics_json, new.created_at],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// The newest `limit` behaviour snapshots of a profile, newest first.
    pub fn snapshots(&self, profile_id: i64, limit: usize) -> Result<Vec<BehaviourSnapshot>> {
        let sql = format!(
            "SELECT {SNAPSHOT_COLS} FROM behaviour_snapshots WHERE profile_id = ?1 \
             ORDER BY created_at DESC, id DESC LIMIT ?2"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(
            params![profile_id, super::to_i64(limit as u64)],
            snapshot_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn insert_commitment(&self, new: &NewCommitment) -> Result<i64> {
        self.write(|c| {
            c.execute(
                "INSERT INTO commitments (profile_id, conversation_id, text, due_date, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    new.profile_id,
                    new.conversation_id,
                    new.text,
                    new.due_date,
                    new.created_at
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Marks a commitment done or missed (or reopens it with `Open`, clearing `resolved_at`).
    pub fn resolve_commitment(
        &self,
        id: i64,
        status: CommitmentStatus,
        resolved_at: i64,
    ) -> Result<()> {
        let resolved = (status != CommitmentStatus::Open).then_some(resolved_at);
        self.write(|c| {
            match c.execute(
                "UPDATE commitments SET status = ?2, resolved_at = ?3 WHERE id = ?1",
                params![id, status, resolved],
            )? {
                0 => Err(StoreError::NotFound {
                    what: "commitment",
                    id,
                }),
                _ => Ok(()),
            }
        })
    }

    /// A profile's commitments, optionally only those with `status`, by due date (undated
    /// last) then creation.
    pub fn commitments(
        &self,
        profile_id: i64,
        status: Option<CommitmentStatus>,
    ) -> Result<Vec<Commitment>> {
        let sql = format!(
            "SELECT {COMMITMENT_COLS} FROM commitments \
             WHERE profile_id = ?1 AND (?2 IS NULL OR status = ?2) \
             ORDER BY due_date IS NULL, due_date, created_at, id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![profile_id, status], commitment_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records a check-in for `day` (`YYYY-MM-DD`); `false` if that day was already recorded.
    pub fn insert_checkin(&self, checkin: &Checkin) -> Result<bool> {
        self.write(|c| {
            Ok(c.execute(
                "INSERT OR IGNORE INTO checkins (profile_id, day) VALUES (?1, ?2)",
                params![checkin.profile_id, checkin.day],
            )? == 1)
        })
    }

    /// Check-in days of a profile on or after `since_day`, ascending.
    pub fn checkin_days(&self, profile_id: i64, since_day: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT day FROM checkins WHERE profile_id = ?1 AND day >= ?2 ORDER BY day")?;
        let rows = stmt.query_map(params![profile_id, since_day], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
