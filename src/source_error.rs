//! Errors that point into a TOML file: file, line, column, key, what is wrong and how to fix it.
//!
//! Config, catalog, signal lexicon and interaction files are all validated at start; a person
//! who mistyped a key deserves to be sent to the exact spot, not handed a serde trace.

use std::fmt;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// One step of a path into a TOML document: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

impl From<&str> for PathSeg {
    fn from(key: &str) -> Self {
        PathSeg::Key(key.to_string())
    }
}

impl From<usize> for PathSeg {
    fn from(index: usize) -> Self {
        PathSeg::Index(index)
    }
}

/// Builds a path: `path!["models", 3, "tier"]`.
#[macro_export]
macro_rules! toml_path {
    ($($seg:expr),* $(,)?) => {
        ::std::vec::Vec::<$crate::source_error::PathSeg>::from([$($crate::source_error::PathSeg::from($seg)),*])
    };
}

/// A problem in a file, located as precisely as the document allows.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted key, e.g. `routing.upgrade_threshold` or `models[3].tier`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SourceError {}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Renders a path as a dotted key: `models[3].tier`.
pub fn dotted(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Byte range of the value at `path`, or of the deepest ancestor that exists.
pub fn locate(src: &str, path: &[PathSeg]) -> Option<Range<usize>> {
    let root = DeTable::parse(src).ok()?;
    let mut best: Option<Range<usize>> = None;
    let mut current: Option<&toml::Spanned<DeValue<'_>>> = None;
    for (depth, seg) in path.iter().enumerate() {
        let next = match (depth, seg) {
            (0, PathSeg::Key(k)) => root.get_ref().get(k.as_str()),
            (0, PathSeg::Index(_)) => None,
            (_, PathSeg::Key(k)) => current.and_then(|v| v.get_ref().get(k.as_str())),
            (_, PathSeg::Index(i)) => current.and_then(|v| v.get_ref().get(*i)),
        };
        match next {
            Some(v) => {
                best = Some(v.span());
                current = Some(v);
            }
            None => break,
        }
    }
    best
}

impl SourceError {
    /// An error at the value found by `path` in `src` (line 1 when the path is absent).
    pub fn at_path(
        file: &str,
        src: &str,
        path: &[PathSeg],
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Self {
        let (line, column) = locate(src, path).map_or((1, 1), |span| line_col(src, span.start));
        SourceError {
            file: file.to_string(),
            line,
            column,
            key: dotted(path),
            message: message.into(),
            hint,
        }
    }

    /// Converts a toml parse/deserialize error, keeping its location and naming the key.
    pub fn from_toml(file: &str, src: &str, err: &toml::de::Error) -> Self {
        let (line, column) = err.span().map_or((1, 1), |span| line_col(src, span.start));
        let message = err.message().trim().to_string();
        let key = key_at_line(src, line);
        let hint = hint_for_toml_message(&message);
        SourceError {
            file: file.to_string(),
            line,
            column,
            key,
            message,
            hint,
        }
    }
}

/// The bare key written on a line (`foo = 1` → `foo`), for messages that lack one.
fn key_at_line(src: &str, line: usize) -> String {
    let Some(text) = src.lines().nth(line.saturating_sub(1)) else {
        return String::new();
    };
    let text = text.trim();
    if text.starts_with('[') {
        return text
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string();
    }
    text.split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .unwrap_or_default()
}

fn hint_for_toml_message(message: &str) -> Option<String> {
    if message.contains("unknown field") {
        if let Some(expected) = message.split("expected").nth(1) {
            return Some(format!(
                "remove the key or use one of:{}",
                expected.trim_end_matches('.')
            ));
        }
        return Some("remove the key; config.example.toml lists every valid key".into());
    }
    if message.contains("invalid type") {
        return Some("check the value's type against config.example.toml".into());
    }
    None
}

/// The candidate closest to `wanted` by edit distance, if it is plausibly a typo of it.
pub fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::normalized_damerau_levenshtein(&wanted_lower, &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.5)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str =
        "a = 1\n[routing]\nthreshold = 2.5\n[[models]]\nid = \"x\"\n[[models]]\nid = \"y\"\n";

    #[test]
    fn locates_nested_keys_and_array_entries() {
        let e = SourceError::at_path(
            "f.toml",
            DOC,
            &toml_path!["routing", "threshold"],
            "bad",
            None,
        );
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (3, 13, "routing.threshold")
        );
        let e = SourceError::at_path("f.toml", DOC, &toml_path!["models", 1, "id"], "bad", None);
        assert_eq!((e.line, e.key.as_str()), (7, "models[1].id"));
    }

    #[test]
    fn missing_path_falls_back_to_deepest_existing_ancestor() {
        let e = SourceError::at_path("f.toml", DOC, &toml_path!["routing", "nope"], "m", None);
        assert_eq!(e.line, 2);
    }

    #[test]
    fn nearest_suggests_typo_fix() {
        let ids = ["claude-opus-4-6", "claude-sonnet-4-6", "gpt-4o"];
        assert_eq!(nearest("claude-sonet-4-6", ids), Some("claude-sonnet-4-6"));
        assert_eq!(nearest("zzzzzzzzzzzzzzzzzzzz", ids), None);
    }

    #[test]
    fn display_names_file_line_key_and_hint() {
        let e = SourceError {
            file: "c.toml".into(),
            line: 4,
            column: 9,
            key: "models.default".into(),
            message: "unknown model `x`".into(),
            hint: Some("did you mean `y`?".into()),
        };
        assert_eq!(
            e.to_string(),
            "c.toml:4:9: `models.default`: unknown model `x`\n  hint: did you mean `y`?"
        );
    }
}
