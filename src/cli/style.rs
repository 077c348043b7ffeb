//! Human output: aligned tables, colour only on a terminal and never under `NO_COLOR`.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn stdout() -> Style {
        Style {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    pub fn stderr() -> Style {
        Style {
            color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    pub fn plain() -> Style {
        Style { color: false }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }
    pub fn cyan(self, text: &str) -> String {
        self.paint("36", text)
    }
    /// A search hit: bold reverse video on a terminal, `[`…`]` in plain output.
    pub fn hit(self, text: &str) -> String {
        if self.color {
            self.paint("1;7", text)
        } else {
            format!("[{text}]")
        }
    }
}

/// Renders rows as columns padded to their widest cell (by display width, so CJK aligns).
/// `right` marks columns to right-align (numbers).
pub fn table(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    use unicode_width::UnicodeWidthStr;
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.width());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.width());
            if i > 0 {
                out.push_str("  ");
            }
            if right.contains(&i) {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// USD with enough precision for per-turn amounts.
pub fn usd(v: f64) -> String {
    if v == 0.0 {
        "$0".to_string()
    } else if v.abs() < 0.01 {
        format!("${v:.4}")
    } else {
        format!("${v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_wide_characters() {
        let t = table(
            &["a", "n"],
            &[
                vec!["表达".into(), "1".into()],
                vec!["xy".into(), "10".into()],
            ],
            &[1],
        );
        assert_eq!(t, "a      n\n表达   1\nxy    10\n");
    }

    #[test]
    fn usd_precision() {
        assert_eq!(usd(0.0), "$0");
        assert_eq!(usd(0.00123), "$0.0012");
        assert_eq!(usd(12.345), "$12.35");
    }
}
