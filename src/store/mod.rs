//! The SQLite store: schema, migrations, queries, full-text search, stats.
//!
//! One file holds everything grow remembers. The store is the only module that speaks SQL;
//! the TUI and the CLI read through the same query functions here (one implementation, two
//! faces). It knows nothing of routing, providers or the coach: decisions arrive as plain
//! fields and JSON strings.
//!
//! Timestamps are INTEGER unix milliseconds passed in by the caller, so tests use fixed
//! clocks and the store never reads the clock.

mod conversations;
mod decisions;
mod export;
mod profiles;
mod schema;
mod search;
mod stats;
mod types;
mod usage;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

pub use conversations::{
    ConversationDetail, ConversationSize, ConversationSummary, ListFilter, ModelCount, Turn,
};
pub use decisions::DecisionDetail;
pub use export::{EXPORT_FORMAT, EXPORT_VERSION, ExportDoc, format_ms, format_usd};
pub use schema::SCHEMA_VERSION;
pub use search::{RANK_WINDOW, SearchHit, Segmented, SnippetStyle, is_cjk, segment};
pub use stats::{
    ClassCount, ConversationCost, CooccurringPair, DayCost, EscalationStats, InteractionEscalation,
    ModelShare, Projection, SignalEscalation, Stats, TriggerCount,
};
pub use types::*;
pub use usage::CostTotals;

/// How long a connection waits for another process's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the directory {} for the database: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the database file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the database {} is damaged or not a grow database ({detail}); it was left untouched. \
         To recover, move it aside (e.g. `mv {0} {0}.broken`) so grow starts a fresh one, \
         or restore a copy made with `grow db backup`",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("cannot open the database {}: {detail}", path.display())]
    Open { path: PathBuf, detail: String },
    #[error(
        "the database {} has schema version {found}, newer than this grow understands \
         (up to {supported}); upgrade grow or point it at another file",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: i64 },
    #[error("{field} is not valid JSON ({detail})")]
    InvalidJson { field: &'static str, detail: String },
    #[error("cannot import: the database already holds {0}; import into an empty database")]
    NotEmpty(String),
    #[error("not a grow export: {0}")]
    BadExport(String),
    #[error("cannot back up to {}: {detail}", path.display())]
    Backup { path: PathBuf, detail: String },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    fn corrupt(path: &Path, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open grow database. Cheap to keep for the life of a process; open one per thread or
/// process (two processes on one file work: WAL + busy timeout).
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the database at `path`, checks it, and brings its schema up to
    /// date. A file that is not a healthy SQLite database is reported as
    /// [`StoreError::Corrupt`] and never written to.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        check_header(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|e| classify_open_error(path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Read-only checks first: nothing below may touch a damaged file. Reading the schema
        // catches a truncated or garbled file at once; the full page-by-page check runs when
        // the file may be damaged (see `needs_full_check`), and always in `grow db check`.
        let full = needs_full_check(path, &conn);
        let checked = if full {
            quick_check(&conn)
        } else {
            schema_readable(&conn)
        };
        match checked {
            Ok(None) => {}
            Ok(Some(detail)) => return Err(StoreError::corrupt(path, detail)),
            Err(e) => return Err(classify_open_error(path, e)),
        }
        let store = Store {
            conn,
            path: Some(path.to_path_buf()),
        };
        store
            .configure(true)
            .map_err(|e| store.corrupt_if_damaged(e))?;
        schema::migrate(&store.conn, path).map_err(|e| store.corrupt_if_damaged(e))?;
        if full {
            store.note_full_check();
        }
        Ok(store)
    }

    /// A private in-memory database with the full schema, for tests and previews.
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        let store = Store { conn, path: None };
        store.configure(false)?;
        schema::migrate(&store.conn, Path::new(":memory:"))?;
        Ok(store)
    }

    /// The file this store was opened from (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn configure(&self, on_disk: bool) -> Result<()> {
        if on_disk {
            let mode: String =
                self.conn
                    .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(
                    mode,
                    "SQLite refused WAL mode; concurrent use will be slower"
                );
            }
        }
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(())
    }

    fn corrupt_if_damaged(&self, e: StoreError) -> StoreError {
        match (e, &self.path) {
            (StoreError::Sqlite(e), Some(path)) => classify_open_error(path, e),
            (e, _) => e,
        }
    }

    /// Runs `PRAGMA integrity_check` (the thorough one). `Ok(vec![])` means healthy;
    /// otherwise the problems SQLite reported, one per entry.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        match self.integrity_problems() {
            // A page too damaged to even walk is itself the finding.
            Err(StoreError::Sqlite(e))
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
                ) =>
            {
                Ok(vec![e.to_string()])
            }
            other => other,
        }
    }

    fn integrity_problems(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut problems: Vec<String> = rows.into_iter().filter(|r| r != "ok").collect();
        let fk: Vec<String> = self
            .conn
            .prepare("PRAGMA foreign_key_check")?
            .query_map([], |r| {
                Ok(format!(
                    "row {} of {} points to a missing {}",
                    r.get::<_, Option<i64>>(1)?.unwrap_or_default(),
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(2)?
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        problems.extend(fk);
        Ok(problems)
    }

    /// Writes a consistent copy of the whole database to `dest` (`VACUUM INTO`), safe while
    /// other processes use the file. Refuses to overwrite an existing file.
    pub fn backup(&self, dest: &Path) -> Result<()> {
        let err = |detail: String| StoreError::Backup {
            path: dest.to_path_buf(),
            detail,
        };
        if dest.exists() {
            return Err(err("the file already exists; choose a new name".into()));
        }
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
        }
        let dest_str = dest
            .to_str()
            .ok_or_else(|| err("the path is not valid UTF-8".into()))?;
        self.conn
            .execute("VACUUM INTO ?1", [dest_str])
            .map_err(|e| err(e.to_string()))?;
        Ok(())
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction: the write lock is taken up front so
    /// a second process waits (busy timeout) instead of failing on lock upgrade.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match f(&self.conn) {
            Ok(v) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => Ok(v),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    Err(e.into())
                }
            },
            Err(e) => {
                if let Err(rollback) = self.conn.execute_batch("ROLLBACK") {
                    tracing::warn!(%rollback, "rollback after a failed write also failed");
                }
                Err(e)
            }
        }
    }

    /// Runs `f` in one read transaction so multi-query reads see one snapshot.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if !self.conn.is_autocommit() {
            return f(&self.conn);
        }
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let out = f(&self.conn);
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            tracing::warn!(%e, "ending a read transaction failed");
        }
        out
    }
}

/// A non-empty file that does not start with the SQLite header is not ours to touch.
fn check_header(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StoreError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(source) => {
                return Err(StoreError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    match read {
        0 => Ok(()),
        16 if &header == SQLITE_HEADER => Ok(()),
        _ => Err(StoreError::corrupt(
            path,
            "the file does not start with the SQLite header",
        )),
    }
}

/// `None` when healthy, else what SQLite found.
/// A full check is due when a WAL file was left behind (an unclean shutdown, or another
/// process writing right now), or when the last full check passed more than a day ago (or
/// never). Otherwise opening stays fast on large databases (a full check reads every page).
fn needs_full_check(path: &Path, conn: &Connection) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0) {
        return true;
    }
    let last: rusqlite::Result<i64> = conn.query_row(
        "SELECT value FROM maintenance WHERE key = 'last_full_check_ms'",
        [],
        |r| r.get(0),
    );
    match last {
        Ok(ms) => chrono::Utc::now().timestamp_millis() - ms > FULL_CHECK_EVERY_MS,
        Err(_) => true,
    }
}

const FULL_CHECK_EVERY_MS: i64 = 24 * 60 * 60 * 1000;

/// Reads the schema: fails fast on a file whose first pages are damaged.
fn schema_readable(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(None)
}

impl Store {
    fn note_full_check(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        let result = self.conn.execute(
            "INSERT INTO maintenance (key, value) VALUES ('last_full_check_ms', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [now],
        );
        if let Err(e) = result {
            tracing::warn!("could not record the integrity check: {e}");
        }
    }
}

fn quick_check(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(None)
    } else {
        Ok(Some(format!("integrity check failed: {}", rows.join("; "))))
    }
}

fn classify_open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
            let detail = match &e {
                rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
                other => other.to_string(),
            };
            StoreError::corrupt(path, detail)
        }
        _ => StoreError::Open {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
    }
}

/// Tokens and counts are `u64` in Rust and INTEGER (i64) in SQLite.
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
