//! No model id is hard-coded in `src/`: every model a call uses comes from the catalog
//! (`assets/models.toml`) through configuration (`assets/interactions.toml`, the user's config).
//!
//! Scans the string literals of every `src/**/*.rs` file except `src/catalog.rs` (the catalog
//! loader) for an id of the shipped catalog. Code after a `#[cfg(test)]` line is test code and
//! is skipped, as are comments.

use std::fs;
use std::path::{Path, PathBuf};

/// A string literal's text and the line each of its characters is on.
struct Literal {
    text: Vec<char>,
    lines: Vec<usize>,
}

/// The string literals (plain, byte, C and raw) of Rust source, skipping comments and chars.
fn string_literals(src: &str) -> Vec<Literal> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            '\'' => {
                // A char literal ('x', '\n', '\'', '"') or a lifetime/label ('a).
                if next == Some('\\') {
                    i += 2;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            'r' if (i == 0 || !is_ident(chars[i - 1]) || chars[i - 1] == 'b')
                && matches!(next, Some('"') | Some('#')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while chars.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if chars.get(j) != Some(&'"') {
                    // A raw identifier (r#type), not a string.
                    i = j;
                    continue;
                }
                j += 1;
                let mut lit = Literal {
                    text: Vec::new(),
                    lines: Vec::new(),
                };
                while j < chars.len() {
                    if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    lit.text.push(chars[j]);
                    lit.lines.push(line);
                    if chars[j] == '\n' {
                        line += 1;
                    }
                    j += 1;
                }
                out.push(lit);
                i = j;
            }
            '"' => {
                let mut j = i + 1;
                let mut lit = Literal {
                    text: Vec::new(),
                    lines: Vec::new(),
                };
                while j < chars.len() && chars[j] != '"' {
                    if chars[j] == '\\' {
                        // Keep the escaped char's place; its exact value does not matter here.
                        lit.text.push(' ');
                        lit.lines.push(line);
                        j += 1;
                    }
                    if let Some(&ch) = chars.get(j) {
                        lit.text.push(ch);
                        lit.lines.push(line);
                        if ch == '\n' {
                            line += 1;
                        }
                    }
                    j += 1;
                }
                out.push(lit);
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// The part of a file that is not test code: everything before the first `#[cfg(test)]` line.
fn non_test_part(src: &str) -> &str {
    let mut offset = 0;
    for line in src.split_inclusive('\n') {
        if line.trim() == "#[cfg(test)]" {
            return &src[..offset];
        }
        offset += line.len();
    }
    src
}

fn is_id_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.')
}

/// `(line, id)` of every catalog id found in a string literal of `src`'s non-test part.
fn model_literals(src: &str, ids: &[String]) -> Vec<(usize, String)> {
    let mut hits = Vec::new();
    for lit in string_literals(non_test_part(src)) {
        for id in ids {
            let id: Vec<char> = id.chars().collect();
            if id.is_empty() || id.len() > lit.text.len() {
                continue;
            }
            for start in 0..=lit.text.len() - id.len() {
                if lit.text[start..start + id.len()] != id[..] {
                    continue;
                }
                let before = start.checked_sub(1).map(|k| lit.text[k]);
                let after = lit.text.get(start + id.len()).copied();
                let after_next = lit.text.get(start + id.len() + 1).copied();
                let starts_clean = before.is_none_or(|c| !is_id_char(c));
                // A full stop ends a sentence ("use gpt-4o."), but "gpt-4o.1" is another id.
                let ends_clean = match after {
                    None => true,
                    Some('.') => after_next.is_none_or(|c| !c.is_alphanumeric()),
                    Some(c) => !is_id_char(c),
                };
                if starts_clean && ends_clean {
                    hits.push((lit.lines[start], id.iter().collect()));
                }
            }
        }
    }
    hits.sort();
    hits.dedup();
    hits
}

fn catalog_ids(root: &Path) -> Vec<String> {
    let text = fs::read_to_string(root.join("assets/models.toml")).expect("assets/models.toml");
    let doc: toml::Table = toml::from_str(&text).expect("models.toml parses");
    let models = doc
        .get("models")
        .and_then(toml::Value::as_array)
        .expect("models.toml has [[models]]");
    let ids: Vec<String> = models
        .iter()
        .filter_map(|m| m.get("id").and_then(toml::Value::as_str))
        .map(str::to_string)
        .collect();
    assert!(
        ids.len() >= 5,
        "expected the shipped catalog, found {ids:?}"
    );
    ids
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_model_id_literal_in_src_outside_the_catalog() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ids = catalog_ids(root);
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 5);
    let mut report = Vec::new();
    for file in files {
        let rel = file.strip_prefix(root).unwrap_or(&file);
        // The catalog loader, and test modules kept in their own `tests.rs` files.
        if rel == Path::new("src/catalog.rs") || rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let src = fs::read_to_string(&file).expect("source file is UTF-8");
        for (line, id) in model_literals(&src, &ids) {
            report.push(format!("{}:{line}: model id `{id}`", rel.display()));
        }
    }
    assert!(
        report.is_empty(),
        "model ids hard-coded in src/ (name them in assets/interactions.toml or config, or use \
         catalog constants):\n{}",
        report.join("\n")
    );
}

#[test]
fn the_scanner_finds_literals_and_ignores_comments_chars_and_tests() {
    let ids: Vec<String> = [
        "gpt-4o",
        "gpt-4o-mini",
        "claude-opus-4-6",
        "gpt-4.1",
        "qwen2.5:7b",
    ]
    .map(String::from)
    .to_vec();
    let src = r####"
// A comment naming gpt-4o is fine.
/* so is a block comment: "claude-opus-4-6" */
fn a<'a>(x: &'a str) -> char {
    let quote = '"';
    let s = "pick gpt-4o-mini.";
    let t = r#"raw "claude-opus-4-6" here"#;
    let u = "multi
line gpt-4.1";
    let v = "gpt-4o2 and xgpt-4o and gpt-4.1.2 are other things";
    let w = format!("{}", "qwen2.5:7b");
    '\''
}

#[cfg(test)]
mod tests {
    const X: &str = "gpt-4o";
}
"####;
    assert_eq!(
        model_literals(src, &ids),
        vec![
            (6, "gpt-4o-mini".to_string()),
            (7, "claude-opus-4-6".to_string()),
            (9, "gpt-4.1".to_string()),
            (11, "qwen2.5:7b".to_string()),
        ]
    );
}
