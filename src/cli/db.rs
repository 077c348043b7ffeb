//! `grow db`: back up, check and locate the database; and the one way the offline commands
//! open it.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;
use crate::store::{Store, StoreError};

use super::DbCommand;
use super::style::Style;

/// What the offline commands say when there is nothing to show yet.
pub const EMPTY_HINT: &str = "no conversations yet — start with `grow` or `grow ask`";

/// Opens the configured database for reading, or `None` when it does not exist yet: a
/// review of nothing should not leave an empty database behind.
pub fn open_existing(config: &Config) -> anyhow::Result<Option<Store>> {
    let path = &config.paths.db;
    if !path.exists() {
        return Ok(None);
    }
    Store::open(path).map(Some).map_err(anyhow::Error::from)
}

pub fn run(config: &Config, cmd: DbCommand, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let style = Style::stdout();
    match cmd {
        DbCommand::Path => {
            writeln!(out, "{}", config.paths.db.display())?;
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Backup { path, force } => backup(config, &path, force, out, style),
        DbCommand::Check => check(&config.paths.db, out, style),
    }
}

fn backup(
    config: &Config,
    dest: &Path,
    force: bool,
    out: &mut impl Write,
    style: Style,
) -> anyhow::Result<ExitCode> {
    let Some(store) = open_existing(config)? else {
        anyhow::bail!(
            "there is no database at {} yet, so nothing to back up",
            config.paths.db.display()
        );
    };
    if same_file(&config.paths.db, dest) {
        anyhow::bail!(
            "{} is the database itself; choose another path",
            dest.display()
        );
    }
    if !dest.exists() {
        store.backup(dest)?;
    } else if !force {
        anyhow::bail!(
            "{} already exists; choose a new name or pass --force to replace it",
            dest.display()
        );
    } else if dest.is_dir() {
        anyhow::bail!("{} is a directory; give a file name", dest.display());
    } else {
        // Write next to it and rename over it, so a failed backup keeps the old copy.
        let mut tmp_name = dest.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".partial");
        let tmp = dest.with_file_name(tmp_name);
        if tmp.exists() {
            std::fs::remove_file(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
        }
        store.backup(&tmp)?;
        std::fs::rename(&tmp, dest)
            .with_context(|| format!("replacing {} with the new backup", dest.display()))?;
    }
    let size = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    writeln!(
        out,
        "{} {} ({})",
        style.green("backed up to"),
        dest.display(),
        human_bytes(size)
    )?;
    Ok(ExitCode::SUCCESS)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn check(path: &Path, out: &mut impl Write, style: Style) -> anyhow::Result<ExitCode> {
    if !path.exists() {
        anyhow::bail!(
            "there is no database at {} yet (grow creates it on first use)",
            path.display()
        );
    }
    // Opening already runs SQLite's quick check and refuses a damaged file.
    let store = match Store::open(path) {
        Ok(store) => store,
        Err(e @ StoreError::Read { .. }) => return Err(e.into()),
        Err(e) => {
            eprintln!("grow: database check failed: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let problems = store.integrity_check()?;
    if problems.is_empty() {
        writeln!(
            out,
            "{} {} passed the integrity and foreign-key checks",
            style.green("ok"),
            path.display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "grow: database check failed: {} has {} problem{}:",
        path.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems.iter().take(20) {
        eprintln!("  - {p}");
    }
    if problems.len() > 20 {
        eprintln!("  … and {} more", problems.len() - 20);
    }
    eprintln!(
        "Restore a copy made with `grow db backup`, or move the file aside so grow starts fresh."
    );
    Ok(ExitCode::from(1))
}

fn human_bytes(n: u64) -> String {
    const KB: f64 = 1024.0;
    let f = n as f64;
    if f >= KB * KB {
        format!("{:.1} MB", f / (KB * KB))
    } else if f >= KB {
        format!("{:.1} KB", f / KB)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(2048), "2.0 KB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MB");
    }
}
