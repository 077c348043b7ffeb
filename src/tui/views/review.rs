//! The Review screen: conversation list, search results with highlighted hits, and one
//! conversation read-only with its routing decisions.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::App;
use super::super::review::{DetailView, ReviewPane, format_time, short_model};
use super::super::theme::Theme;
use super::super::wrap::{truncate, width};
use super::money;
use crate::coach::api::{ConversationSummary, SNIPPET_CLOSE, SNIPPET_OPEN, SearchHit};
use crate::sanitize::strip_controls;

/// Rows above the body (screen bar, search box) and below it (status, hints).
const CHROME_ROWS: u16 = 4;
/// Cells left of the text for the selection mark.
const GUTTER: u16 = 2;
/// From this width on the list shows each conversation's model mix.
const MODEL_MIX_MIN_WIDTH: usize = 80;

/// Height of the list or text area for a terminal of `size`.
pub fn body_rows(size: (u16, u16)) -> usize {
    usize::from(size.1.saturating_sub(CHROME_ROWS))
}

/// Width the read-only conversation is laid out at.
pub fn text_width(size: (u16, u16)) -> u16 {
    size.0.saturating_sub(GUTTER + 1).max(20)
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let r = app.review();
    let body = Rect {
        y: area.y + 2,
        height: area.height.saturating_sub(CHROME_ROWS),
        ..area
    };
    let search_row = Rect {
        y: area.y + 1,
        height: 1,
        ..area
    };
    draw_search_box(frame, search_row, app);
    match r.pane() {
        ReviewPane::Conversations => draw_list(frame, body, app),
        ReviewPane::SearchResults => draw_results(frame, body, app),
        ReviewPane::Detail => {
            if let Some(d) = &r.detail {
                draw_detail(frame, body, d, t);
            }
        }
    }
}

fn draw_search_box(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let s = &app.review().search;
    let max = usize::from(area.width).saturating_sub(4);
    let line = if s.editing {
        Line::from(vec![
            Span::styled(" / ", t.key),
            Span::styled(truncate_left(&s.query, max.saturating_sub(1)), t.base),
            Span::styled("▏", t.accent),
        ])
    } else if let Some((q, hits)) = &s.results {
        Line::from(vec![
            Span::styled(" / ", t.key),
            Span::styled(truncate(q, max / 2), t.strong),
            Span::styled(
                format!(
                    "  {} found · / new search · Esc all conversations",
                    hits.len()
                ),
                t.dim,
            ),
        ])
    } else if s.waiting {
        Line::from(vec![
            Span::styled(" / ", t.key),
            Span::styled(truncate(&s.query, max / 2), t.strong),
            Span::styled("  searching…", t.dim),
        ])
    } else {
        Line::from(vec![
            Span::styled(" / ", t.key),
            Span::styled("search all messages (English, 中文)", t.dim),
        ])
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The end of `s` when it is too long (the cursor end of a query box).
fn truncate_left(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out: Vec<char> = Vec::new();
    let mut w = 1;
    for c in s.chars().rev() {
        let cw = width(c.encode_utf8(&mut [0; 4]));
        if w + cw > max {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.reverse();
    format!("…{}", out.into_iter().collect::<String>())
}

/// `s` cut or padded to exactly `w` cells.
fn fit(s: &str, w: usize) -> String {
    let cut = truncate(s, w);
    let pad = w.saturating_sub(width(&cut));
    format!("{cut}{}", " ".repeat(pad))
}

fn fit_right(s: &str, w: usize) -> String {
    let cut = truncate(s, w);
    let pad = w.saturating_sub(width(&cut));
    format!("{}{cut}", " ".repeat(pad))
}

/// First row shown so that `selected` stays in a window of `rows`.
fn window_start(selected: usize, rows: usize) -> usize {
    (selected + 1).saturating_sub(rows.max(1))
}

fn model_mix(c: &ConversationSummary) -> String {
    c.model_mix
        .iter()
        .map(|m| format!("{} {}", short_model(&m.model), m.count))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn draw_list(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let r = app.review();
    let Some(list) = &r.conversations else {
        frame.render_widget(
            Paragraph::new(Span::styled(" loading conversations…", t.dim)),
            area,
        );
        return;
    };
    if list.is_empty() {
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(Span::styled(" No saved conversations yet.", t.base)),
                Line::from(Span::styled(
                    " Chat first (Esc goes back); every turn is kept here.",
                    t.dim,
                )),
            ]),
            area,
        );
        return;
    }
    let w = usize::from(area.width);
    let narrow = w < MODEL_MIX_MIN_WIDTH;
    let date_w = if narrow { 11 } else { 16 };
    let turns_w = 6;
    let cost_w = 9;
    let mix_w = if narrow { 0 } else { 26 };
    let title_w = w.saturating_sub(1 + date_w + 2 + turns_w + mix_w + cost_w + 1);
    let mut header = format!(
        " {}  {}{}",
        fit("date", date_w),
        fit("title", title_w),
        fit_right("turns", turns_w)
    );
    if !narrow {
        header.push_str(&format!("  {}", fit("models  ↑ upgraded", mix_w - 2)));
    }
    header.push_str(&fit_right("cost", cost_w));
    let mut lines = vec![Line::from(Span::styled(header, t.dim))];
    let rows = usize::from(area.height).saturating_sub(1);
    let start = window_start(r.selected, rows);
    for (i, c) in list.iter().enumerate().skip(start).take(rows) {
        let title = c
            .conversation
            .title
            .as_deref()
            .map(|s| strip_controls(s).replace('\n', " "))
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| format!("#{} (untitled)", c.conversation.id));
        let date = format_time(
            c.conversation.updated_at,
            app.opts.utc_offset_minutes,
            narrow,
        );
        let selected = i == r.selected;
        let row_style = if selected {
            t.base.add_modifier(Modifier::REVERSED)
        } else {
            t.base
        };
        let mut spans = vec![
            Span::styled(if selected { "▌" } else { " " }, t.accent),
            Span::styled(fit(&date, date_w), t.dim),
            Span::raw("  "),
            Span::styled(fit(&title, title_w), row_style),
            Span::styled(fit_right(&c.turns.to_string(), turns_w), t.base),
        ];
        if !narrow {
            spans.push(Span::raw("  "));
            let mix = if c.upgrades > 0 {
                format!("↑{} {}", c.upgrades, model_mix(c))
            } else {
                model_mix(c)
            };
            let up = if c.upgrades > 0 { t.warn } else { t.dim };
            spans.push(Span::styled(fit(&mix, mix_w - 2), up));
        }
        spans.push(Span::styled(fit_right(&money(c.cost_usd), cost_w), t.base));
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// A snippet with its marked hits highlighted.
pub fn snippet_spans(snippet: &str, base: Style, hit: Style) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut current = String::new();
    let mut in_hit = false;
    for c in snippet.chars() {
        match c {
            SNIPPET_OPEN | SNIPPET_CLOSE => {
                if !current.is_empty() {
                    let style = if in_hit { hit } else { base };
                    spans.push(Span::styled(std::mem::take(&mut current), style));
                }
                in_hit = c == SNIPPET_OPEN;
            }
            '\n' | '\r' | '\t' => current.push(' '),
            c if c.is_control() => {}
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        spans.push(Span::styled(current, if in_hit { hit } else { base }));
    }
    spans
}

/// Cuts spans to `max` cells.
fn clip_spans(spans: Vec<Span<'static>>, max: usize) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut used = 0;
    for s in spans {
        let w = width(&s.content);
        if used + w <= max {
            used += w;
            out.push(s);
        } else {
            let rest = max.saturating_sub(used);
            if rest > 0 {
                out.push(Span::styled(truncate(&s.content, rest), s.style));
            }
            break;
        }
    }
    out
}

fn draw_results(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let s = &app.review().search;
    let Some((query, hits)) = &s.results else {
        frame.render_widget(Paragraph::new(Span::styled(" searching…", t.dim)), area);
        return;
    };
    if hits.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!(" Nothing matches “{}”. Try fewer or other words.", query),
                t.dim,
            )),
            area,
        );
        return;
    }
    let w = usize::from(area.width);
    let per_hit = 2;
    let rows = usize::from(area.height) / per_hit;
    let start = window_start(s.selected, rows);
    let hit_style = t.accent.add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    let mut lines = Vec::new();
    for (i, h) in hits.iter().enumerate().skip(start).take(rows) {
        let selected = i == s.selected;
        lines.push(hit_header(h, selected, w, app.opts.utc_offset_minutes, t));
        let mut spans = vec![Span::raw("   ")];
        spans.extend(snippet_spans(&h.snippet, t.base, hit_style));
        lines.push(Line::from(clip_spans(spans, w)));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn hit_header(h: &SearchHit, selected: bool, w: usize, offset: i32, t: &Theme) -> Line<'static> {
    let who = match h.role {
        crate::coach::api::StoredRole::User => "you".to_string(),
        _ => match &h.model {
            Some(m) => format!("coach · {}", short_model(m)),
            None => "coach".to_string(),
        },
    };
    let title = h
        .conversation_title
        .as_deref()
        .map(|s| strip_controls(s).replace('\n', " "))
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| format!("#{}", h.conversation_id));
    let title_style = if selected {
        t.strong.add_modifier(Modifier::REVERSED)
    } else {
        t.strong
    };
    let spans = vec![
        Span::styled(if selected { "▌ " } else { "  " }, t.accent),
        Span::styled(format_time(h.created_at, offset, w < 80), t.dim),
        Span::raw("  "),
        Span::styled(title, title_style),
        Span::styled(format!("  {who}"), t.dim),
    ];
    Line::from(clip_spans(spans, w))
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, d: &DetailView, t: &Theme) {
    let rows = usize::from(area.height);
    let scroll = d.scroll.min(d.max_scroll(rows));
    let sel = d.anchors.get(d.selected);
    let mut lines = Vec::with_capacity(rows);
    for (i, line) in d.lines.iter().enumerate().skip(scroll).take(rows) {
        let marked = sel.is_some_and(|a| i >= a.start && i < a.end);
        let mut spans = vec![Span::styled(if marked { "▌ " } else { "  " }, t.accent)];
        spans.extend(line.spans.iter().cloned());
        lines.push(Line::from(spans).style(line.style));
    }
    let text = Rect {
        width: area.width.saturating_sub(1),
        ..area
    };
    frame.render_widget(Paragraph::new(lines), text);
    // A one-column position indicator on the right.
    let total = d.lines.len();
    if total > rows && area.width > 0 && rows > 0 {
        let bar = Rect {
            x: area.x + area.width - 1,
            width: 1,
            ..area
        };
        let thumb = (rows * rows / total).max(1);
        let max_scroll = d.max_scroll(rows).max(1);
        let top = (rows - thumb) * scroll / max_scroll;
        let cells: Vec<Line<'static>> = (0..rows)
            .map(|i| {
                if i >= top && i < top + thumb {
                    Line::from(Span::styled("┃", t.accent))
                } else {
                    Line::from(Span::styled("│", t.border))
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(cells).alignment(Alignment::Left), bar);
    }
}

/// The title of the Review screen for the screen bar.
pub fn title(app: &App) -> String {
    let r = app.review();
    match r.pane() {
        ReviewPane::Detail => r
            .detail
            .as_ref()
            .map(|d| {
                let c = &d.detail.conversation;
                let name = c
                    .title
                    .as_deref()
                    .map(|s| strip_controls(s).replace('\n', " "))
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| format!("#{}", c.id));
                let turns = d.detail.turns.iter().filter(|t| t.user.is_some()).count();
                let plural = if turns == 1 { "" } else { "s" };
                // "read-only" first: a long title is cut at the end.
                format!(
                    "read-only · {name} · {turns} turn{plural} · {}",
                    money(d.detail.totals.cost_usd)
                )
            })
            .unwrap_or_default(),
        ReviewPane::SearchResults => "search".to_string(),
        ReviewPane::Conversations => match &r.conversations {
            Some(l) => format!("{} conversations, newest first", l.len()),
            None => String::new(),
        },
    }
}
