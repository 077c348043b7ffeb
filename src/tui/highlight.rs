//! Light syntax colouring for code blocks: keywords, strings, numbers and line comments.
//!
//! One line at a time and no grammar: enough to make code readable in a chat, at a cost of
//! microseconds, without a highlighting engine and its themes.

use ratatui::style::Style;
use ratatui::text::Span;

use super::theme::Theme;

struct Lang {
    keywords: &'static [&'static str],
    line_comments: &'static [&'static str],
}

const RUST: Lang = Lang {
    keywords: &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait",
        "true", "type", "unsafe", "use", "where", "while", "Some", "None", "Ok", "Err",
    ],
    line_comments: &["//"],
};

const PYTHON: Lang = Lang {
    keywords: &[
        "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "False", "finally", "for", "from", "global", "if", "import",
        "in", "is", "lambda", "None", "nonlocal", "not", "or", "pass", "raise", "return", "True",
        "try", "while", "with", "yield", "self",
    ],
    line_comments: &["#"],
};

const JS: Lang = Lang {
    keywords: &[
        "async",
        "await",
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "default",
        "delete",
        "do",
        "else",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "import",
        "in",
        "instanceof",
        "interface",
        "let",
        "new",
        "null",
        "of",
        "return",
        "static",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "type",
        "typeof",
        "undefined",
        "var",
        "void",
        "while",
        "yield",
    ],
    line_comments: &["//"],
};

const GO: Lang = Lang {
    keywords: &[
        "break",
        "case",
        "chan",
        "const",
        "continue",
        "default",
        "defer",
        "else",
        "false",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "import",
        "interface",
        "map",
        "nil",
        "package",
        "range",
        "return",
        "select",
        "struct",
        "switch",
        "true",
        "type",
        "var",
    ],
    line_comments: &["//"],
};

const C_LIKE: Lang = Lang {
    keywords: &[
        "auto",
        "bool",
        "break",
        "case",
        "char",
        "class",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extends",
        "false",
        "final",
        "float",
        "for",
        "if",
        "import",
        "include",
        "int",
        "long",
        "namespace",
        "new",
        "null",
        "nullptr",
        "private",
        "protected",
        "public",
        "return",
        "short",
        "static",
        "struct",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typedef",
        "unsigned",
        "void",
        "while",
    ],
    line_comments: &["//"],
};

const SHELL: Lang = Lang {
    keywords: &[
        "case", "do", "done", "echo", "elif", "else", "esac", "export", "fi", "for", "function",
        "if", "in", "local", "return", "then", "while", "cd", "sudo",
    ],
    line_comments: &["#"],
};

const SQL: Lang = Lang {
    keywords: &[
        "select", "from", "where", "and", "or", "not", "insert", "into", "values", "update", "set",
        "delete", "create", "table", "index", "join", "left", "inner", "on", "group", "by",
        "order", "limit", "as", "null", "is", "primary", "key", "SELECT", "FROM", "WHERE", "AND",
        "OR", "NOT", "INSERT", "INTO", "VALUES", "UPDATE", "SET", "DELETE", "CREATE", "TABLE",
        "INDEX", "JOIN", "LEFT", "INNER", "ON", "GROUP", "BY", "ORDER", "LIMIT", "AS", "NULL",
        "IS", "PRIMARY", "KEY",
    ],
    line_comments: &["--"],
};

const CONFIG: Lang = Lang {
    keywords: &["true", "false", "null", "yes", "no"],
    line_comments: &["#"],
};

const PLAIN: Lang = Lang {
    keywords: &[],
    line_comments: &[],
};

fn lang_for(tag: &str) -> &'static Lang {
    let tag = tag
        .split([',', ' '])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match tag.as_str() {
        "rust" | "rs" => &RUST,
        "python" | "py" => &PYTHON,
        "js" | "javascript" | "ts" | "typescript" | "jsx" | "tsx" => &JS,
        "go" | "golang" => &GO,
        "c" | "h" | "cpp" | "c++" | "java" | "kotlin" | "cs" | "csharp" | "swift" => &C_LIKE,
        "sh" | "bash" | "zsh" | "shell" | "console" => &SHELL,
        "sql" | "sqlite" => &SQL,
        "toml" | "yaml" | "yml" | "ini" | "json" => &CONFIG,
        _ => &PLAIN,
    }
}

/// Colours one line of code written in `lang` (the info string of the fence).
pub fn highlight_line(line: &str, lang: &str, theme: &Theme) -> Vec<Span<'static>> {
    let lang = lang_for(lang);
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut push = |text: &str, style: Style| match spans.last_mut() {
        Some(last) if last.style == style => last.content.to_mut().push_str(text),
        _ => spans.push(Span::styled(text.to_string(), style)),
    };
    let plain = theme.code_block;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        if lang.line_comments.iter().any(|c| rest.starts_with(c)) {
            push(rest, theme.code_comment);
            break;
        }
        let b = bytes[i];
        if (b == b'"' || b == b'\'' || b == b'`') && !std::ptr::eq(lang, &PLAIN) {
            let end = string_end(rest, b);
            push(&rest[..end], theme.code_string);
            i += end;
        } else if b.is_ascii_digit() {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(rest.len());
            push(&rest[..end], theme.code_number);
            i += end;
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            let style = if lang.keywords.contains(&word) {
                theme.code_keyword
            } else {
                plain
            };
            push(word, style);
            i += end;
        } else {
            let ch_len = rest.chars().next().map_or(1, char::len_utf8);
            push(&rest[..ch_len], plain);
            i += ch_len;
        }
    }
    spans
}

/// Byte length of a string literal starting at `s[0]` (the quote), escapes honoured; an
/// unterminated literal runs to the end of the line.
fn string_end(s: &str, quote: u8) -> usize {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::ThemeKind;

    #[test]
    fn keywords_strings_comments_and_numbers_are_coloured() {
        let t = Theme::new(ThemeKind::Dark, false);
        let spans = highlight_line(r#"let x = "fn" + 42; // done"#, "rust", &t);
        let find = |s: &str| spans.iter().find(|sp| sp.content == s).map(|sp| sp.style);
        assert_eq!(find("let"), Some(t.code_keyword));
        assert_eq!(find("\"fn\""), Some(t.code_string));
        assert_eq!(find("42"), Some(t.code_number));
        assert_eq!(find("// done"), Some(t.code_comment));
        let joined: String = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(joined, r#"let x = "fn" + 42; // done"#);
    }

    #[test]
    fn unknown_language_is_left_plain_but_complete() {
        let t = Theme::new(ThemeKind::Dark, false);
        let spans = highlight_line("it's 中文 text", "", &t);
        let joined: String = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(joined, "it's 中文 text");
        assert!(
            spans
                .iter()
                .all(|s| s.style == t.code_block || s.style == t.code_number)
        );
    }
}
