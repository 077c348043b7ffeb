//! Questions that wait for a yes or no: the box over everything that asks before the
//! consultation is turned on (with its cost), and the one-line commitment proposal above
//! the input.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use super::super::app::App;
use super::super::wrap::{truncate, width, wrap_spans};
use crate::sanitize::strip_controls;

/// The confirmation box, centred; `y`/Enter and `n`/Esc are shown under the question.
pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(c) = app.confirm() else {
        return;
    };
    let t = &app.theme;
    let w = area.width.saturating_sub(4).min(76);
    let text_w = usize::from(w.saturating_sub(4));
    let mut lines: Vec<Line<'static>> = Vec::new();
    for l in &c.lines {
        if l.is_empty() {
            lines.push(Line::default());
            continue;
        }
        lines.extend(wrap_spans(
            &[Span::styled(l.clone(), t.base)],
            &[],
            &[],
            text_w,
        ));
    }
    // The body, a blank row and the question; on a short screen the body is cut, never
    // the question.
    let h = u16::try_from(lines.len() + 4)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(t.border_focus)
        .title(Span::styled(format!(" {} ", c.title), t.title))
        .title_bottom(
            Line::from(Span::styled(" y/Enter yes · n/Esc no ", t.dim)).alignment(Alignment::Right),
        );
    frame.render_widget(Clear, rect);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let body_rows = inner.height.saturating_sub(2);
    let body = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        height: body_rows,
        ..inner
    };
    let question = Rect {
        y: inner.y + inner.height.saturating_sub(1),
        height: inner.height.min(1),
        ..body
    };
    frame.render_widget(Paragraph::new(lines), body);
    frame.render_widget(
        Paragraph::new(Span::styled(c.question.clone(), t.strong)),
        question,
    );
}

/// `◆ Commit to: Send the portfolio by Fri 27 Nov? [y/n]` and, when there is room, which
/// keys answer it (y/n work while the draft is empty; Alt+Y/Alt+N always).
pub fn draw_proposal(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(p) = app.proposal() else {
        return;
    };
    let t = &app.theme;
    let keys = if app.input_text().trim().is_empty() {
        "  y/n · Esc no"
    } else {
        "  Alt+Y/Alt+N"
    };
    let room = usize::from(area.width);
    let end = p.question_end();
    let head = " ◆ Commit to: ";
    // The commitment's text gives way first, so the date and [y/n] stay readable.
    let text_room = room.saturating_sub(width(head) + width(&end)).max(4);
    let text = truncate(&strip_controls(&p.proposal.text), text_room);
    let question = format!("{head}{text}{end}");
    let mut spans = vec![Span::styled(truncate(&question, room), t.accent)];
    if width(&question) + width(keys) <= room {
        spans.push(Span::styled(keys, t.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
