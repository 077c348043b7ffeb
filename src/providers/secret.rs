//! API keys as a type that cannot be printed by accident.

use std::fmt;

/// An API key. `Debug` and `Display` print `***`; only [`Secret::expose`] reads it, and the
/// only callers are the places that put it on the wire (a header) or scrub it out of text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Longest provider error body echoed into a message; the rest is cut with `…`.
pub const MAX_ECHO_CHARS: usize = 300;

/// Makes text that came back from a server safe to show and log: the key (and anything that
/// looks like a key or a bearer token) replaced by `***`, folded to one line, truncated.
pub fn scrub(text: &str, key: Option<&Secret>) -> String {
    let mut out = text.to_string();
    if let Some(key) = key
        && key.expose().len() >= 4
    {
        out = out.replace(key.expose(), "***");
    }
    out = mask_key_shapes(&out);
    let one_line: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&one_line, MAX_ECHO_CHARS)
}

/// Replaces tokens shaped like provider keys (`sk-…`, `Bearer …`) even when we do not know
/// the key, e.g. a proxy echoing some other credential back.
fn mask_key_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut mask_next = false;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let looks_like_key = word.len() >= 20
            && (word.starts_with("sk-") || word.starts_with("sk_") || word.starts_with("key-"));
        if mask_next && !word.is_empty() || looks_like_key {
            out.push_str("***");
        } else {
            out.push_str(word);
        }
        mask_next = word.eq_ignore_ascii_case("bearer");
    }
    out
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_key() {
        let s = Secret::new("sk-ant-very-secret");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "sk-ant-very-secret");
    }

    #[test]
    fn scrub_removes_key_folds_lines_and_truncates() {
        let key = Secret::new("my-fake-key-123");
        let text = format!(
            "bad key my-fake-key-123\nsecond line Bearer abc {}",
            "x".repeat(400)
        );
        let out = scrub(&text, Some(&key));
        assert!(!out.contains("my-fake-key-123"));
        assert!(!out.contains("abc"));
        assert!(!out.contains('\n'));
        assert!(out.chars().count() <= MAX_ECHO_CHARS + 1);
        assert!(out.ends_with('…'));
    }

    #[test]
    fn scrub_masks_key_shapes_it_was_not_told_about() {
        let out = scrub("key sk-proj-abcdefghijklmnopqrstuvwxyz is wrong", None);
        assert_eq!(out, "key *** is wrong");
    }
}
