//! Full-text search over messages, English and Chinese (and other CJK scripts).
//!
//! FTS5's `unicode61` tokenizer sees a Chinese sentence as one long token, so 表达 inside
//! 我不知道怎么表达自己 is never found; `trigram` cannot find words shorter than three
//! characters. So the store indexes a segmented form of each message in three columns:
//!
//! - `words`: the text with CJK characters blanked out (Latin, Cyrillic, digits, …),
//! - `cjk_uni`: every CJK character as its own token,
//! - `cjk_bi`: every pair of adjacent CJK characters within a run as a token.
//!
//! A query is segmented the same way: a word becomes a (prefix) term on `words`, a single
//! CJK character a term on `cjk_uni`, and a CJK run of n ≥ 2 characters the phrase of its
//! n−1 overlapping bigrams on `cjk_bi` (consecutive positions, so 怎么表达 matches only
//! where those four characters stand together). Every piece of the query is quoted by us,
//! so nothing a person types is read as FTS syntax. Results are ranked by bm25 and the
//! snippet is cut from the original text, with the hits highlighted.
//!
//! Scoring every match costs about a microsecond a row, so a word found in 30,000 messages
//! would take tens of milliseconds to rank. Ranking therefore covers the newest
//! [`RANK_WINDOW`] matching messages (by id, which grows with time): every match when there
//! are fewer, and for very common words the best of the recent ones, which is what a person
//! reviewing their own history looks for. Scores stay true bm25 (global statistics).

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{MessageStatus, Result, Role, Store};

/// Words shorter than this match exactly; longer ones also match as a prefix
/// ("goal" finds "goals"), which for very short words would match half the index.
const PREFIX_MIN_CHARS: usize = 3;

/// How many of the newest matches are ranked (see the module docs).
pub const RANK_WINDOW: usize = 5_000;

/// bm25 weights of the `words`, `cjk_uni` and `cjk_bi` columns: a single character is
/// weaker evidence than a word or a bigram.
const BM25: &str = "bm25(messages_fts, 1.0, 0.5, 1.0)";

/// Whether `c` belongs to a script written without spaces between words (Han, kana) or
/// commonly searched inside running text (Hangul, Bopomofo).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF       // Hangul Jamo
        | 0x3005..=0x3007     // 々 〆 〇
        | 0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3100..=0x312F     // Bopomofo
        | 0x3130..=0x318F     // Hangul compatibility Jamo
        | 0x31F0..=0x31FF     // Katakana extensions
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xAC00..=0xD7AF     // Hangul syllables
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0x20000..=0x3134F // CJK extensions B–G
    )
}

/// The three indexed columns of one text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segmented {
    pub words: String,
    pub cjk_uni: String,
    pub cjk_bi: String,
}

/// Splits `text` into the indexed form described in the module docs.
pub fn segment(text: &str) -> Segmented {
    let mut out = Segmented {
        words: String::with_capacity(text.len()),
        ..Segmented::default()
    };
    let mut prev_cjk: Option<char> = None;
    for c in text.chars() {
        if is_cjk(c) {
            out.words.push(' ');
            push_token(&mut out.cjk_uni, |s| s.push(c));
            if let Some(p) = prev_cjk {
                push_token(&mut out.cjk_bi, |s| {
                    s.push(p);
                    s.push(c);
                });
            }
            prev_cjk = Some(c);
        } else {
            out.words.push(c);
            prev_cjk = None;
        }
    }
    out
}

fn push_token(dst: &mut String, write: impl FnOnce(&mut String)) {
    if !dst.is_empty() {
        dst.push(' ');
    }
    write(dst);
}

/// One searchable piece of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    /// Lower-cased; `prefix` when long enough to match as a prefix too.
    Word {
        text: String,
        prefix: bool,
    },
    Cjk(Vec<char>),
}

fn parse_query(query: &str) -> Vec<Term> {
    let mut terms: Vec<Term> = Vec::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, terms: &mut Vec<Term>| {
        if !word.is_empty() {
            let text = std::mem::take(word).to_lowercase();
            let prefix = text.chars().count() >= PREFIX_MIN_CHARS;
            let term = Term::Word { text, prefix };
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
    };
    let flush_run = |run: &mut Vec<char>, terms: &mut Vec<Term>| {
        if !run.is_empty() {
            let term = Term::Cjk(std::mem::take(run));
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
    };
    for c in query.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut terms);
            run.push(c);
        } else if c.is_alphanumeric() {
            flush_run(&mut run, &mut terms);
            word.push(c);
        } else {
            flush_word(&mut word, &mut terms);
            flush_run(&mut run, &mut terms);
        }
    }
    flush_word(&mut word, &mut terms);
    flush_run(&mut run, &mut terms);
    terms
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The FTS5 MATCH expression for `terms` (all must match), or `None` when empty.
fn match_expression(terms: &[Term]) -> Option<String> {
    let parts: Vec<String> = terms
        .iter()
        .map(|t| match t {
            Term::Word { text, prefix } => {
                format!("words : {}{}", quote(text), if *prefix { "*" } else { "" })
            }
            Term::Cjk(chars) if chars.len() == 1 => {
                format!("cjk_uni : {}", quote(&chars[0].to_string()))
            }
            Term::Cjk(chars) => {
                let bigrams: Vec<String> = chars
                    .windows(2)
                    .map(|w| w.iter().collect::<String>())
                    .collect();
                format!("cjk_bi : {}", quote(&bigrams.join(" ")))
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

/// Writes the index entry of a message (replacing any earlier one).
pub(super) fn index_message(conn: &Connection, id: i64, content: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM messages_fts WHERE rowid = ?1")?
        .execute([id])?;
    let seg = segment(content);
    conn.prepare_cached(
        "INSERT INTO messages_fts (rowid, words, cjk_uni, cjk_bi) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, seg.words, seg.cjk_uni, seg.cjk_bi])?;
    Ok(())
}

/// How snippets mark hits. Faces pick markers they can find again (the CLI uses ANSI
/// colour on a TTY and `[`…`]` otherwise, the TUI private-use characters it styles).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnippetStyle {
    pub open: String,
    pub close: String,
    /// Stands for text cut at either end.
    pub ellipsis: String,
    /// Longest snippet, in characters, not counting markers.
    pub max_chars: usize,
}

impl Default for SnippetStyle {
    fn default() -> Self {
        SnippetStyle {
            open: "[".into(),
            close: "]".into(),
            ellipsis: "…".into(),
            max_chars: 80,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub message_id: i64,
    pub conversation_id: i64,
    pub conversation_title: Option<String>,
    pub role: Role,
    pub status: MessageStatus,
    pub model: Option<String>,
    pub created_at: i64,
    /// One line of the original text around the first hit, hits wrapped in the markers.
    pub snippet: String,
    /// bm25 score: lower is a better match.
    pub score: f64,
}

impl Store {
    /// Messages matching every word of `query`, best first, with `[`…`]` snippets.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        self.search_with(query, limit, &SnippetStyle::default())
    }

    /// [`Store::search`] with the face's own snippet markers.
    pub fn search_with(
        &self,
        query: &str,
        limit: usize,
        style: &SnippetStyle,
    ) -> Result<Vec<SearchHit>> {
        let terms = parse_query(query);
        let Some(expr) = match_expression(&terms) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT m.id, m.conversation_id, c.title, m.role, m.status, m.model, m.created_at, \
                    m.content, hit.score \
             FROM (SELECT rowid AS id, {BM25} AS score FROM messages_fts \
                   WHERE messages_fts MATCH ?1 AND rowid >= ?3 ORDER BY score LIMIT ?2) AS hit \
             JOIN messages m ON m.id = hit.id \
             JOIN conversations c ON c.id = m.conversation_id \
             ORDER BY hit.score, m.id"
        );
        self.read(|conn| {
            // The oldest message id inside the ranking window; cheap, nothing is scored.
            let window_start: i64 = conn
                .prepare_cached(
                    "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1 \
                     ORDER BY rowid DESC LIMIT 1 OFFSET ?2",
                )?
                .query_row(params![expr, super::to_i64(RANK_WINDOW as u64 - 1)], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(i64::MIN);
            let mut stmt = conn.prepare_cached(&sql)?;
            let args = params![expr, super::to_i64(limit as u64), window_start];
            let rows = stmt.query_map(args, |r| {
                let content: String = r.get(7)?;
                Ok(SearchHit {
                    message_id: r.get(0)?,
                    conversation_id: r.get(1)?,
                    conversation_title: r.get(2)?,
                    role: r.get(3)?,
                    status: r.get(4)?,
                    model: r.get(5)?,
                    created_at: r.get(6)?,
                    snippet: snippet(&content, &terms, style),
                    score: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Rebuilds the whole search index from `messages` (after an import, or to repair it).
    pub fn rebuild_search_index(&self) -> Result<()> {
        self.write(rebuild_index)
    }
}

pub(super) fn rebuild_index(conn: &Connection) -> Result<()> {
    conn.execute(
        "INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')",
        [],
    )?;
    let mut stmt = conn.prepare("SELECT id, content FROM messages")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let content: String = r.get(1)?;
        index_message(conn, id, &content)?;
    }
    Ok(())
}

/// Char ranges `[start, end)` of every hit of `terms` in `chars`, sorted and merged.
fn hit_ranges(chars: &[char], terms: &[Term]) -> Vec<(usize, usize)> {
    let lower: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let mut ranges = Vec::new();
    // Words: maximal runs of non-CJK alphanumerics, as the tokenizer sees them.
    let mut i = 0;
    while i < lower.len() {
        if lower[i].is_alphanumeric() && !is_cjk(lower[i]) {
            let start = i;
            while i < lower.len() && lower[i].is_alphanumeric() && !is_cjk(lower[i]) {
                i += 1;
            }
            let token = &lower[start..i];
            for t in terms {
                if let Term::Word { text, prefix } = t {
                    let q: Vec<char> = text.chars().collect();
                    let hit = if *prefix {
                        token.starts_with(&q)
                    } else {
                        token == q.as_slice()
                    };
                    if hit {
                        ranges.push((start, i));
                    }
                }
            }
        } else {
            i += 1;
        }
    }
    for t in terms {
        if let Term::Cjk(q) = t {
            let mut at = 0;
            while at + q.len() <= chars.len() {
                if &chars[at..at + q.len()] == q.as_slice() {
                    ranges.push((at, at + q.len()));
                    at += q.len();
                } else {
                    at += 1;
                }
            }
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// A one-line window of `text` around its first hit, hits wrapped in the style's markers.
fn snippet(text: &str, terms: &[Term], style: &SnippetStyle) -> String {
    // Snippets are one line: newlines and runs of whitespace become one space.
    let mut chars: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c == ' ' && (chars.is_empty() || chars.last() == Some(&' ')) {
            continue;
        }
        chars.push(c);
    }
    while chars.last() == Some(&' ') {
        chars.pop();
    }
    let hits = hit_ranges(&chars, terms);
    let max = style.max_chars.max(8);
    let (start, end) = if chars.len() <= max {
        (0, chars.len())
    } else {
        let first = hits.first().map_or(0, |h| h.0);
        // Some context before the hit, then snap to the start of a word if one is near.
        let mut start = first.saturating_sub(max / 4);
        if start > 0 {
            if let Some(space) = chars[start..first].iter().position(|c| *c == ' ') {
                start += space + 1;
            }
        }
        let start = start.min(chars.len().saturating_sub(max));
        (start, (start + max).min(chars.len()))
    };
    let mut out = String::new();
    if start > 0 {
        out.push_str(&style.ellipsis);
    }
    let mut pos = start;
    for &(s, e) in hits.iter().filter(|(s, e)| *e > start && *s < end) {
        let (s, e) = (s.max(start), e.min(end));
        out.extend(&chars[pos..s]);
        out.push_str(&style.open);
        out.extend(&chars[s..e]);
        out.push_str(&style.close);
        pos = e;
    }
    out.extend(&chars[pos..end]);
    if end < chars.len() {
        out.push_str(&style.ellipsis);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cjk_runs_into_unigrams_and_bigrams() {
        let s = segment("我想表达 ok 自己");
        assert_eq!(s.cjk_uni, "我 想 表 达 自 己");
        assert_eq!(s.cjk_bi, "我想 想表 表达 自己");
        assert_eq!(s.words.trim(), "ok");
    }

    #[test]
    fn query_syntax_is_never_passed_through() {
        let terms = parse_query(r#"he said "stop" AND (NOT x*) NEAR/2 col:表达"#);
        let expr = match_expression(&terms).unwrap_or_default();
        assert!(expr.contains(r#"words : "stop"*"#), "{expr}");
        assert!(expr.contains(r#"cjk_bi : "表达""#), "{expr}");
        assert!(!expr.contains('('), "{expr}");
        assert_eq!(match_expression(&parse_query("\"*() -")), None);
    }

    #[test]
    fn cjk_phrase_uses_consecutive_bigrams() {
        let expr = match_expression(&parse_query("怎么表达")).unwrap_or_default();
        assert_eq!(expr, r#"cjk_bi : "怎么 么表 表达""#);
        let expr = match_expression(&parse_query("我")).unwrap_or_default();
        assert_eq!(expr, r#"cjk_uni : "我""#);
    }

    #[test]
    fn snippet_marks_hits_in_the_original_text() {
        let style = SnippetStyle::default();
        let s = snippet("我不知道怎么表达自己", &parse_query("表达"), &style);
        assert_eq!(s, "我不知道怎么[表达]自己");
        let s = snippet("Goals and\nmore GOALS", &parse_query("goal"), &style);
        assert_eq!(s, "[Goals] and more [GOALS]");
    }

    #[test]
    fn long_snippets_are_cut_around_the_first_hit() {
        let style = SnippetStyle {
            max_chars: 20,
            ..SnippetStyle::default()
        };
        let text = format!("{} needle {}", "word ".repeat(30), "tail ".repeat(30));
        let s = snippet(&text, &parse_query("needle"), &style);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("[needle]"), "{s}");
    }
}
