//! The chat screen: tab bar, message pane (only visible lines drawn, from the per-message
//! caches) and the input.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};

use super::super::app::{App, Focus};
use super::super::conversation::Tab;
use super::super::wrap::{truncate, width};
use crate::tui::conversation::RenderCtx;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Columns for message text inside the chat pane (borders and one column of padding each side).
pub fn text_width(pane: Rect) -> u16 {
    pane.width.saturating_sub(4).max(1)
}

/// Rows for message text inside the chat pane.
pub fn text_rows(pane: Rect) -> u16 {
    pane.height.saturating_sub(2)
}

pub fn spinner_glyph(frame: u128) -> &'static str {
    SPINNER[(frame % SPINNER.len() as u128) as usize]
}

pub fn draw_tabs(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let max_title = if app.tabs().len() > 3 { 12 } else { 20 };
    let labels: Vec<String> = app
        .tabs()
        .iter()
        .enumerate()
        .map(|(i, tab)| {
            let busy = if tab.is_busy() { " ●" } else { "" };
            format!(
                " {}:{}{} ",
                i + 1,
                truncate(&tab.display_title(), max_title),
                busy
            )
        })
        .collect();
    // Drop tabs from the left until the active one fits.
    let brand = " grow ";
    let avail = usize::from(area.width).saturating_sub(width(brand) + 2);
    let active = app.active_index();
    let mut first = 0;
    while first < active
        && labels[first..=active]
            .iter()
            .map(|l| width(l) + 1)
            .sum::<usize>()
            > avail
    {
        first += 1;
    }
    let mut spans = vec![Span::styled(brand, t.title)];
    if first > 0 {
        spans.push(Span::styled("‹", t.dim));
    }
    for (i, label) in labels.into_iter().enumerate().skip(first) {
        let style = if i == active { t.tab_active } else { t.tab };
        spans.push(Span::styled(label, style));
        spans.push(Span::styled("│", t.border));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The line under the last message while waiting for the first token.
fn spinner_line(tab: &Tab, app: &App) -> Option<Line<'static>> {
    let t = &app.theme;
    let (since, model) = tab.waiting()?;
    let elapsed = app.now().saturating_duration_since(since).as_secs_f64();
    let what = match model {
        None => "routing…".to_string(),
        Some(m) => format!("{m} · waiting for the first token"),
    };
    Some(Line::from(vec![
        Span::raw("  "),
        Span::styled(spinner_glyph(app.spinner_frame()), t.accent),
        Span::styled(format!(" {what}  {elapsed:.1}s"), t.dim),
        Span::styled("  (Esc stops)", t.dim),
    ]))
}

/// The lines of the conversation that fit `rows`, `scroll` lines above the bottom. Uses each
/// message's cached layout; lays out on the fly only a message whose cache is stale.
pub fn visible_lines(
    tab: &Tab,
    ctx: &RenderCtx<'_>,
    rows: usize,
    footer: Option<Line<'static>>,
) -> Vec<Line<'static>> {
    let mut skip = tab.scroll;
    let mut out: Vec<Line<'static>> = Vec::with_capacity(rows);
    let mut take = |line: &Line<'static>, out: &mut Vec<Line<'static>>| -> bool {
        if skip > 0 {
            skip -= 1;
        } else {
            out.push(line.clone());
        }
        out.len() >= rows
    };
    if let Some(f) = &footer
        && take(f, &mut out)
    {
        out.reverse();
        return out;
    }
    for m in tab.messages.iter().rev() {
        let fresh;
        let parts = match m.cached_lines(ctx.width) {
            Some(parts) => parts,
            None => {
                fresh = m.layout(ctx);
                [fresh.as_slice(), &[], &[]]
            }
        };
        for line in parts.iter().rev().flat_map(|p| p.iter().rev()) {
            if take(line, &mut out) {
                out.reverse();
                return out;
            }
        }
    }
    out.reverse();
    out
}

pub fn draw_messages(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let tab = app.tab();
    let focused = app.focus() == Focus::Messages;
    let mut block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(if focused { t.border_focus } else { t.border })
        .title(Span::styled(
            if tab.consultation {
                " consultation "
            } else {
                " chat "
            },
            if focused { t.title } else { t.dim },
        ));
    if tab.scroll > 0 {
        block = block.title_bottom(
            Line::from(Span::styled(
                format!(" ↑ {} lines up · G follows ", tab.scroll),
                t.warn,
            ))
            .alignment(Alignment::Right),
        );
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let text_area = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    if tab.messages.is_empty() {
        let lines = vec![
            Line::default(),
            Line::from(Span::styled(
                "What would you like to work on today?",
                t.title,
            )),
            Line::from(Span::styled(
                "Type below · Enter sends · /help lists commands",
                t.dim,
            )),
        ];
        frame.render_widget(
            Paragraph::new(lines).alignment(Alignment::Center),
            text_area,
        );
        return;
    }
    let ctx = app.render_ctx();
    let rows = usize::from(text_area.height);
    let lines = visible_lines(tab, &ctx, rows, spinner_line(tab, app));
    let buf = frame.buffer_mut();
    for (i, line) in lines.iter().enumerate() {
        let y = text_area.y + i as u16;
        buf.set_line(text_area.x, y, line, text_area.width);
    }
}

pub fn draw_input(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let tab = app.tab();
    let focused = app.focus() == Focus::Input;
    let title = if tab.is_busy() {
        Span::styled(" answer arriving · Esc stops ", t.warn)
    } else {
        Span::styled(" message ", if focused { t.title } else { t.dim })
    };
    let mut right: Vec<Span<'static>> = Vec::new();
    if let Some(pin) = &tab.pin {
        right.push(Span::styled(format!(" pinned: {pin} "), t.warn));
    }
    if tab.upgrade_next {
        right.push(Span::styled(" next turn: upgrade ", t.warn));
    }
    let lines = app.input().lines();
    if lines.len() > 1 {
        let chars: usize = lines.iter().map(|l| l.chars().count()).sum();
        right.push(Span::styled(
            format!(" {} lines · {chars} chars ", lines.len()),
            t.dim,
        ));
    }
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(if focused { t.border_focus } else { t.border })
        .title(title)
        .title(Line::from(right).alignment(Alignment::Right));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let text_area = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(1),
        ..inner
    };
    frame.render_widget(app.input(), text_area);
}

/// Width of a rendered line, for tests and layout checks.
pub fn line_width(line: &Line<'_>) -> usize {
    line.spans.iter().map(|s| width(&s.content)).sum()
}
