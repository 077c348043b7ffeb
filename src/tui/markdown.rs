//! Markdown to wrapped, styled terminal lines (pulldown-cmark events, one pass).
//!
//! Headings, paragraphs, emphasis, strong, strikethrough, inline code, links, block quotes,
//! nested ordered and unordered lists, rules, tables, and fenced code blocks with light
//! keyword colouring. Input must already be sanitised (`crate::sanitize::strip_controls`).

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::highlight::highlight_line;
use super::theme::Theme;
use super::wrap::{hard_wrap, width, wrap_spans};
use crate::sanitize::expand_tabs;

const TAB_WIDTH: usize = 4;

/// Renders `text` as Markdown wrapped to `width` cells.
pub fn render(text: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let mut r = Renderer::new(theme, usize::from(width.max(4)));
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(text, options) {
        r.event(event);
    }
    r.flush_inline();
    r.out
}

#[derive(Clone)]
enum Container {
    Quote,
    /// A list item; `marker` is shown on its first line, then replaced by indentation.
    Item {
        marker: String,
        shown: bool,
    },
}

struct List {
    next_number: Option<u64>,
}

struct Table {
    rows: Vec<Vec<Vec<Span<'static>>>>,
    header_rows: usize,
}

struct Renderer<'t> {
    theme: &'t Theme,
    width: usize,
    out: Vec<Line<'static>>,
    spans: Vec<Span<'static>>,
    styles: Vec<Style>,
    containers: Vec<Container>,
    lists: Vec<List>,
    code: Option<(String, String)>,
    links: Vec<String>,
    table: Option<Table>,
    /// A blank line is due before the next block, at this container depth (a blank line
    /// after a quote has no quote bar, one between paragraphs inside it has).
    pending_blank: Option<usize>,
}

impl<'t> Renderer<'t> {
    fn new(theme: &'t Theme, width: usize) -> Self {
        Renderer {
            theme,
            width,
            out: Vec::new(),
            spans: Vec::new(),
            styles: vec![theme.base],
            containers: Vec::new(),
            lists: Vec::new(),
            code: None,
            links: Vec::new(),
            table: None,
            pending_blank: None,
        }
    }

    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or_default()
    }

    fn push_style(&mut self, s: Style) {
        let merged = self.style().patch(s);
        self.styles.push(merged);
    }

    fn pop_style(&mut self) {
        if self.styles.len() > 1 {
            self.styles.pop();
        }
    }

    fn text(&mut self, text: &str) {
        let style = self.style();
        if let Some((_, buf)) = &mut self.code {
            buf.push_str(text);
            return;
        }
        let text = expand_tabs(text, TAB_WIDTH);
        match self.spans.last_mut() {
            Some(last) if last.style == style => last.content.to_mut().push_str(&text),
            _ => self.spans.push(Span::styled(text.into_owned(), style)),
        }
    }

    /// Prefixes for the next lines: quote bars and list indentation, with the pending list
    /// marker on the first line of an item.
    fn prefixes(&mut self) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
        let mut first = Vec::new();
        let mut cont = Vec::new();
        for c in &mut self.containers {
            match c {
                Container::Quote => {
                    first.push(Span::styled("│ ", self.theme.quote));
                    cont.push(Span::styled("│ ", self.theme.quote));
                }
                Container::Item { marker, shown } => {
                    let pad = " ".repeat(width(marker));
                    if *shown {
                        first.push(Span::raw(pad.clone()));
                    } else {
                        first.push(Span::styled(marker.clone(), self.theme.accent));
                        *shown = true;
                    }
                    cont.push(Span::raw(pad));
                }
            }
        }
        (first, cont)
    }

    /// Separates blocks with one blank line; lists stay compact (tight or loose alike), so
    /// a list renders the same however its blank lines arrive while streaming.
    fn blank_if_pending(&mut self) {
        let Some(depth) = self.pending_blank.take() else {
            return;
        };
        if !self.lists.is_empty() || self.out.is_empty() {
            return;
        }
        let bars: Vec<Span<'static>> = self
            .containers
            .iter()
            .take(depth)
            .filter(|c| matches!(c, Container::Quote))
            .map(|_| Span::styled("│", self.theme.quote))
            .collect();
        self.out.push(Line::from(bars));
    }

    fn block_done(&mut self) {
        self.pending_blank = Some(self.containers.len());
    }

    fn flush_inline(&mut self) {
        if self.spans.is_empty() {
            return;
        }
        self.blank_if_pending();
        let spans = std::mem::take(&mut self.spans);
        let (first, cont) = self.prefixes();
        let lines = wrap_spans(&spans, &first, &cont, self.width);
        self.out.extend(lines);
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                let style = self.style().patch(self.theme.code_inline);
                self.spans.push(Span::styled(t.to_string(), style));
            }
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.text("\n"),
            Event::Rule => {
                self.flush_inline();
                self.blank_if_pending();
                let w = self.width.min(40);
                self.out
                    .push(Line::from(Span::styled("─".repeat(w), self.theme.dim)));
                self.block_done();
            }
            Event::Html(t) | Event::InlineHtml(t) => {
                let style = self.theme.dim;
                self.spans
                    .push(Span::styled(t.trim_end().to_string(), style));
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
            Event::FootnoteReference(t) => self.text(&format!("[{t}]")),
            Event::InlineMath(t) | Event::DisplayMath(t) => self.text(&t),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {}
            Tag::Heading { level, .. } => {
                self.flush_inline();
                let style = match level {
                    HeadingLevel::H1 => self.theme.heading.add_modifier(Modifier::UNDERLINED),
                    HeadingLevel::H2 => self.theme.heading,
                    _ => self.theme.strong,
                };
                self.push_style(style);
            }
            Tag::BlockQuote(_) => {
                self.flush_inline();
                self.containers.push(Container::Quote);
                self.push_style(self.theme.quote);
            }
            Tag::CodeBlock(kind) => {
                self.flush_inline();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::List(start) => {
                self.flush_inline();
                if self.lists.is_empty() {
                    self.blank_if_pending();
                }
                self.lists.push(List { next_number: start });
            }
            Tag::Item => {
                self.flush_inline();
                let marker = match self.lists.last_mut() {
                    Some(List {
                        next_number: Some(n),
                    }) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => match self.lists.len() {
                        0 | 1 => "• ".to_string(),
                        2 => "◦ ".to_string(),
                        _ => "▪ ".to_string(),
                    },
                };
                self.containers.push(Container::Item {
                    marker,
                    shown: false,
                });
            }
            Tag::Emphasis => self.push_style(self.theme.emphasis),
            Tag::Strong => self.push_style(self.theme.strong),
            Tag::Strikethrough => self.push_style(Style::new().add_modifier(Modifier::CROSSED_OUT)),
            Tag::Link { dest_url, .. } => {
                self.links.push(dest_url.to_string());
                self.push_style(self.theme.link);
            }
            Tag::Image { dest_url, .. } => {
                self.links.push(dest_url.to_string());
                self.text("[image: ");
            }
            Tag::Table(_) => {
                self.flush_inline();
                self.table = Some(Table {
                    rows: Vec::new(),
                    header_rows: 0,
                });
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(t) = &mut self.table {
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableCell => self.spans.clear(),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                self.flush_inline();
                self.block_done();
            }
            TagEnd::Heading(_) => {
                self.flush_inline();
                self.pop_style();
                self.block_done();
            }
            TagEnd::BlockQuote(_) => {
                self.flush_inline();
                self.containers.pop();
                self.pop_style();
                self.block_done();
            }
            TagEnd::CodeBlock => {
                if let Some((lang, body)) = self.code.take() {
                    self.code_block(&lang, &body);
                }
                self.block_done();
            }
            TagEnd::List(_) => {
                self.flush_inline();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.block_done();
                }
            }
            TagEnd::Item => {
                self.flush_inline();
                // A loose item ends with a paragraph; items themselves stay tight.
                if !self.lists.is_empty() {
                    self.pending_blank = None;
                }
                self.containers.pop();
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => self.pop_style(),
            TagEnd::Link => {
                self.pop_style();
                if let Some(url) = self.links.pop() {
                    let shown: String = self.spans.iter().map(|s| s.content.as_ref()).collect();
                    if !shown.ends_with(url.as_str()) {
                        let style = self.theme.dim;
                        self.spans.push(Span::styled(format!(" ({url})"), style));
                    }
                }
            }
            TagEnd::Image => {
                self.links.pop();
                self.text("]");
            }
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.spans);
                if let Some(row) = self.table.as_mut().and_then(|t| t.rows.last_mut()) {
                    row.push(cell);
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.header_rows = t.rows.len();
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.table_block(t);
                }
                self.block_done();
            }
            _ => {}
        }
    }

    fn code_block(&mut self, lang: &str, body: &str) {
        self.blank_if_pending();
        let (mut first, mut cont) = self.prefixes();
        let bar = Span::styled("▏ ", self.theme.dim);
        first.push(bar.clone());
        cont.push(bar);
        let body = body.strip_suffix('\n').unwrap_or(body);
        for (i, line) in body.split('\n').enumerate() {
            let line = expand_tabs(line, TAB_WIDTH);
            let spans = highlight_line(&line, lang, self.theme);
            let p = if i == 0 { &first } else { &cont };
            self.out.extend(hard_wrap(&spans, p, &cont, self.width));
        }
    }

    fn table_block(&mut self, t: Table) {
        self.blank_if_pending();
        let cols = t.rows.iter().map(Vec::len).max().unwrap_or(0);
        let cell_w = |c: &Vec<Span<'static>>| c.iter().map(|s| width(&s.content)).sum::<usize>();
        let mut widths = vec![0usize; cols];
        for row in &t.rows {
            for (i, c) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell_w(c));
            }
        }
        let (_, prefix) = self.prefixes();
        let prefix_w: usize = prefix.iter().map(|s| width(&s.content)).sum();
        let total = prefix_w + widths.iter().sum::<usize>() + cols.saturating_sub(1) * 3;
        for (ri, row) in t.rows.iter().enumerate() {
            if total > self.width {
                // Too wide for a grid: each row as one wrapped line, cells separated.
                let mut spans = Vec::new();
                for (i, c) in row.iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::styled(" │ ", self.theme.dim));
                    }
                    spans.extend(c.iter().cloned());
                }
                self.out
                    .extend(wrap_spans(&spans, &prefix, &prefix, self.width));
            } else {
                let mut spans = prefix.clone();
                for (i, w) in widths.iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::styled(" │ ", self.theme.dim));
                    }
                    let cell = row.get(i);
                    let used = cell.map_or(0, cell_w);
                    if let Some(c) = cell {
                        let bold = ri < t.header_rows;
                        spans.extend(c.iter().map(|s| {
                            let mut s = s.clone();
                            if bold {
                                s.style = s.style.patch(self.theme.strong);
                            }
                            s
                        }));
                    }
                    if i + 1 < cols {
                        spans.push(Span::raw(" ".repeat(w - used)));
                    }
                }
                self.out.push(Line::from(spans));
            }
            if ri + 1 == t.header_rows {
                let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
                let mut spans = prefix.clone();
                spans.push(Span::styled(
                    rule.join("─┼─")
                        .chars()
                        .take(self.width)
                        .collect::<String>(),
                    self.theme.dim,
                ));
                self.out.push(Line::from(spans));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::ThemeKind;

    fn theme() -> Theme {
        Theme::new(ThemeKind::Dark, false)
    }

    fn plain(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn headings_paragraphs_and_emphasis() {
        let t = theme();
        let lines = render("# Goal\n\nYou want **more** *time*.", 40, &t);
        assert_eq!(plain(&lines), ["Goal", "", "You want more time."]);
        assert!(
            lines[0].spans[0]
                .style
                .add_modifier
                .contains(Modifier::BOLD)
        );
        let strong = lines[2].spans.iter().find(|s| s.content == "more");
        assert!(strong.is_some_and(|s| s.style.add_modifier.contains(Modifier::BOLD)));
        let em = lines[2].spans.iter().find(|s| s.content == "time");
        assert!(em.is_some_and(|s| s.style.add_modifier.contains(Modifier::ITALIC)));
    }

    #[test]
    fn nested_lists_wrap_under_their_marker() {
        let t = theme();
        let md = "1. first option with a long tail\n2. second\n   - nested point\n";
        let lines = render(md, 20, &t);
        assert_eq!(
            plain(&lines),
            [
                "1. first option with",
                "   a long tail",
                "2. second",
                "   ◦ nested point"
            ]
        );
    }

    #[test]
    fn code_block_is_highlighted_and_not_reflowed() {
        let t = theme();
        let md = "Try:\n\n```rust\nfn main() {\n\tlet x = 1;\n}\n```\n";
        let lines = render(md, 40, &t);
        assert_eq!(
            plain(&lines),
            ["Try:", "", "▏ fn main() {", "▏     let x = 1;", "▏ }"]
        );
        let kw = lines[2].spans.iter().find(|s| s.content == "fn");
        assert_eq!(kw.map(|s| s.style), Some(t.code_keyword));
    }

    #[test]
    fn inline_code_and_links() {
        let t = theme();
        let lines = render("Run `grow` see [docs](https://x.org)", 80, &t);
        assert_eq!(plain(&lines), ["Run grow see docs (https://x.org)"]);
        let code = lines[0].spans.iter().find(|s| s.content == "grow");
        assert_eq!(code.map(|s| s.style), Some(t.code_inline));
    }

    #[test]
    fn block_quote_and_rule() {
        let t = theme();
        let lines = render("> wise words\n\n---\n\nafter", 30, &t);
        assert_eq!(plain(&lines)[0], "│ wise words");
        assert!(plain(&lines)[2].starts_with("───"));
        assert_eq!(plain(&lines).last().map(String::as_str), Some("after"));
    }

    #[test]
    fn table_is_aligned() {
        let t = theme();
        let lines = render("| a | bb |\n|---|---|\n| 中文 | x |\n", 40, &t);
        assert_eq!(plain(&lines), ["a    │ bb", "─────┼───", "中文 │ x"]);
    }

    #[test]
    fn chinese_paragraph_fits_width() {
        let t = theme();
        let lines = render("我最近总是拖延，想知道为什么我总是这样做。", 16, &t);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.width() <= 16));
    }
}
