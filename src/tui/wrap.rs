//! Word wrapping of styled text to a column width, measured in terminal cells.
//!
//! Breaks at spaces, and around wide (CJK) characters, which carry no spaces between words.
//! A word longer than a line is split between graphemes. `\n` in the text forces a break.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Display width of a string in terminal cells.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cuts `s` to at most `max` cells, adding `…` when something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for g in s.graphemes(true) {
        let gw = width(g);
        if w + gw > max - 1 {
            break;
        }
        out.push_str(g);
        w += gw;
    }
    out.push('…');
    out
}

enum Piece {
    Break,
    Space(Style),
    /// Fragments of one unbreakable word (it may change style mid-word) and its width.
    Word(Vec<(String, Style)>, usize),
}

fn pieces(spans: &[Span<'_>]) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut word: Vec<(String, Style)> = Vec::new();
    let mut word_w = 0usize;
    let flush = |out: &mut Vec<Piece>, word: &mut Vec<(String, Style)>, word_w: &mut usize| {
        if !word.is_empty() {
            out.push(Piece::Word(std::mem::take(word), *word_w));
            *word_w = 0;
        }
    };
    for span in spans {
        for g in span.content.graphemes(true) {
            if g == "\n" || g == "\r\n" {
                flush(&mut out, &mut word, &mut word_w);
                out.push(Piece::Break);
            } else if g.chars().all(char::is_whitespace) {
                flush(&mut out, &mut word, &mut word_w);
                out.push(Piece::Space(span.style));
            } else {
                let gw = width(g);
                if gw >= 2 {
                    flush(&mut out, &mut word, &mut word_w);
                    out.push(Piece::Word(vec![(g.to_string(), span.style)], gw));
                } else {
                    match word.last_mut() {
                        Some((text, style)) if *style == span.style => text.push_str(g),
                        _ => word.push((g.to_string(), span.style)),
                    }
                    word_w += gw;
                }
            }
        }
    }
    flush(&mut out, &mut word, &mut word_w);
    out
}

struct LineBuilder<'p> {
    first_prefix: &'p [Span<'static>],
    cont_prefix: &'p [Span<'static>],
    width: usize,
    lines: Vec<Line<'static>>,
    current: Vec<Span<'static>>,
    used: usize,
}

impl<'p> LineBuilder<'p> {
    fn new(
        first_prefix: &'p [Span<'static>],
        cont_prefix: &'p [Span<'static>],
        width: usize,
    ) -> Self {
        LineBuilder {
            first_prefix,
            cont_prefix,
            width,
            lines: Vec::new(),
            current: Vec::new(),
            used: 0,
        }
    }

    fn prefix(&self) -> &'p [Span<'static>] {
        if self.lines.is_empty() {
            self.first_prefix
        } else {
            self.cont_prefix
        }
    }

    /// Cells left for text on the current line (at least one, so progress is always made).
    fn avail(&self) -> usize {
        let pw: usize = self.prefix().iter().map(|s| width(&s.content)).sum();
        self.width.saturating_sub(pw).max(1)
    }

    fn push(&mut self, text: &str, style: Style) {
        match self.current.last_mut() {
            Some(last) if last.style == style => last.content.to_mut().push_str(text),
            _ => self.current.push(Span::styled(text.to_string(), style)),
        }
        self.used += width(text);
    }

    fn end_line(&mut self) {
        let mut spans = self.prefix().to_vec();
        // Trailing spaces carry no meaning and would only widen the line.
        if let Some(last) = self.current.last_mut() {
            let trimmed = last.content.trim_end_matches(' ').len();
            last.content.to_mut().truncate(trimmed);
        }
        spans.append(&mut self.current);
        self.lines.push(Line::from(spans));
        self.used = 0;
    }

    fn place_word(&mut self, frags: &[(String, Style)], w: usize) {
        if w <= self.avail() {
            for (text, style) in frags {
                self.push(text, *style);
            }
            return;
        }
        // Longer than a whole line: split between graphemes.
        for (text, style) in frags {
            for g in text.graphemes(true) {
                let gw = width(g);
                if self.used > 0 && self.used + gw > self.avail() {
                    self.end_line();
                }
                self.push(g, *style);
            }
        }
    }
}

/// Wraps `spans` to `width` cells. The first line starts with `first_prefix`, the others with
/// `cont_prefix` (list markers, quote bars, indentation). Spaces between words are kept as
/// they are; spaces at a wrap point are dropped; leading spaces of the text are kept.
pub fn wrap_spans(
    spans: &[Span<'_>],
    first_prefix: &[Span<'static>],
    cont_prefix: &[Span<'static>],
    width: usize,
) -> Vec<Line<'static>> {
    let mut b = LineBuilder::new(first_prefix, cont_prefix, width);
    let mut pending_spaces: Vec<Style> = Vec::new();
    let mut at_start = true;
    for piece in pieces(spans) {
        match piece {
            Piece::Break => {
                b.end_line();
                pending_spaces.clear();
                at_start = true;
            }
            Piece::Space(style) => {
                if at_start {
                    // Indentation the text itself asks for.
                    if b.used < b.avail() {
                        b.push(" ", style);
                    }
                } else if b.used > 0 {
                    pending_spaces.push(style);
                }
            }
            Piece::Word(frags, w) => {
                at_start = false;
                let spaces = pending_spaces.len();
                if b.used > 0 && b.used + spaces + w > b.avail() {
                    b.end_line();
                } else {
                    for style in &pending_spaces {
                        b.push(" ", *style);
                    }
                }
                pending_spaces.clear();
                b.place_word(&frags, w);
            }
        }
    }
    if b.used > 0 || !b.current.is_empty() || b.lines.is_empty() {
        b.end_line();
    }
    b.lines
}

/// Wraps preformatted text (code) between graphemes, keeping every space.
pub fn hard_wrap(
    spans: &[Span<'static>],
    first_prefix: &[Span<'static>],
    cont_prefix: &[Span<'static>],
    max_width: usize,
) -> Vec<Line<'static>> {
    let mut b = LineBuilder::new(first_prefix, cont_prefix, max_width);
    for span in spans {
        for g in span.content.graphemes(true) {
            let gw = width(g);
            if b.used > 0 && b.used + gw > b.avail() {
                b.end_line();
            }
            b.push(g, span.style);
        }
    }
    b.end_line();
    b.lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn wraps_at_spaces() {
        let spans = [Span::raw("the quick brown fox jumps over")];
        let lines = wrap_spans(&spans, &[], &[], 10);
        assert_eq!(texts(&lines), ["the quick", "brown fox", "jumps over"]);
    }

    #[test]
    fn splits_words_longer_than_a_line() {
        let spans = [Span::raw("abcdefghij klm")];
        let lines = wrap_spans(&spans, &[], &[], 4);
        assert_eq!(texts(&lines), ["abcd", "efgh", "ij", "klm"]);
    }

    #[test]
    fn chinese_breaks_between_characters_and_never_overflows() {
        let spans = [Span::raw("我想换一份工作但是很害怕")];
        let lines = wrap_spans(&spans, &[], &[], 9);
        for l in &lines {
            assert!(l.width() <= 9, "{l:?}");
        }
        assert_eq!(texts(&lines).concat(), "我想换一份工作但是很害怕");
        assert_eq!(texts(&lines)[0], "我想换一");
    }

    #[test]
    fn prefixes_apply_to_first_and_following_lines() {
        let spans = [Span::raw("one two three four")];
        let lines = wrap_spans(&spans, &[Span::raw("• ")], &[Span::raw("  ")], 10);
        assert_eq!(texts(&lines), ["• one two", "  three", "  four"]);
    }

    #[test]
    fn newline_forces_a_break() {
        let spans = [Span::raw("a\nb")];
        assert_eq!(texts(&wrap_spans(&spans, &[], &[], 10)), ["a", "b"]);
    }

    #[test]
    fn hard_wrap_keeps_spaces() {
        let spans = [Span::raw("fn  main() {}")];
        let lines = hard_wrap(&spans, &[], &[], 6);
        assert_eq!(texts(&lines), ["fn  ma", "in() {", "}"]);
    }

    #[test]
    fn truncate_marks_the_cut() {
        assert_eq!(truncate("hello world", 6), "hello…");
        assert_eq!(truncate("hi", 6), "hi");
        assert_eq!(truncate("中文中文", 5), "中文…");
    }
}
