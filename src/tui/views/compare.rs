//! Compare: one message answered by the default and the upgrade model, side by side, each
//! pane with its own stream, tokens and cost.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph};

use super::super::app::App;
use super::super::conversation::{MessageStatus, TurnRecord, safety_banner};
use super::super::markdown;
use super::super::wrap::truncate;
use super::chat::spinner_glyph;
use super::{money, thousands};
use crate::catalog::OFFLINE_MODEL;
use crate::routing::types::Safety;
use crate::sanitize::strip_controls;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let tab = app.tab();
    let [left, right] =
        Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(area);
    for (lane, rect) in [(0usize, left), (1usize, right)] {
        let rec = tab.lane_turn(lane);
        let role = if lane == 0 { "default" } else { "upgrade" };
        let model = rec
            .and_then(|r| {
                r.summary
                    .as_ref()
                    .map(|s| s.model.clone())
                    .or_else(|| r.decision.as_ref().map(|d| d.model.clone()))
            })
            .unwrap_or_else(|| {
                if lane == 0 {
                    app.opts.default_model.clone()
                } else {
                    app.opts.upgrade_model.clone()
                }
            });
        let title = format!(" {} · {role} · {model} ", if lane == 0 { "A" } else { "B" });
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(t.border)
            .title(Span::styled(
                truncate(&title, usize::from(rect.width.saturating_sub(2))),
                t.title,
            ))
            .title_bottom(
                footer(rec, app, usize::from(rect.width.saturating_sub(4)))
                    .alignment(Alignment::Right),
            );
        let inner = block.inner(rect);
        frame.render_widget(block, rect);
        let text_area = Rect {
            x: inner.x + 1,
            width: inner.width.saturating_sub(2),
            ..inner
        };
        let lines = lane_lines(rec, text_area.width, app);
        let rows = usize::from(text_area.height);
        // Same rule as the chat: follow the bottom unless scrolled up.
        let end = lines.len().saturating_sub(tab.compare_scroll);
        let start = end.saturating_sub(rows);
        let shown: Vec<Line<'static>> = lines[start..end.max(start)].to_vec();
        frame.render_widget(Paragraph::new(shown), text_area);
    }
}

fn lane_lines(rec: Option<&TurnRecord>, width: u16, app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let Some(rec) = rec else {
        let glyph = spinner_glyph(app.spinner_frame());
        return vec![Line::from(Span::styled(format!("{glyph} routing…"), t.dim))];
    };
    let mut lines = Vec::new();
    if rec
        .decision
        .as_ref()
        .is_some_and(|d| d.safety == Safety::Crisis)
    {
        lines.extend(safety_banner(
            &app.opts.crisis_notice,
            usize::from(width),
            t,
        ));
    }
    let text = strip_controls(&rec.lane_text);
    if text.is_empty() && !rec.finished() {
        let elapsed = app
            .now()
            .saturating_duration_since(rec.sent_at)
            .as_secs_f64();
        let glyph = spinner_glyph(app.spinner_frame());
        lines.push(Line::from(Span::styled(
            format!("{glyph} waiting for the first token  {elapsed:.1}s"),
            t.dim,
        )));
    }
    lines.extend(markdown::render(&text, width, t));
    match rec.status() {
        MessageStatus::Interrupted => {
            lines.push(Line::from(Span::styled("interrupted (partial)", t.warn)));
        }
        MessageStatus::Failed => lines.push(Line::from(Span::styled("failed", t.error))),
        MessageStatus::Streaming | MessageStatus::Complete => {}
    }
    lines
}

/// Tokens, cost and time to first token, most important first, cut to `max` cells.
fn footer(rec: Option<&TurnRecord>, app: &App, max: usize) -> Line<'static> {
    let t = &app.theme;
    let Some(rec) = rec else {
        return Line::default();
    };
    let mut parts: Vec<(String, ratatui::style::Style)> = Vec::new();
    match &rec.summary {
        Some(s) => {
            if s.offline || s.model == OFFLINE_MODEL {
                parts.push((" offline coach ".to_string(), t.offline_label));
            }
            parts.push((format!(" {} ", money(s.cost_usd)), t.strong));
            parts.push((
                format!(
                    "{}→{} tok ",
                    thousands(s.usage.total_input()),
                    thousands(s.usage.output_tokens)
                ),
                t.dim,
            ));
        }
        None if !rec.finished() => parts.push((" streaming… ".to_string(), t.accent)),
        None => {}
    }
    if let Some(ms) = rec.first_token_ms {
        parts.push((format!("1st {ms} ms "), t.dim));
    }
    let mut used = 0;
    let mut spans = Vec::new();
    for (text, style) in parts {
        let w = super::super::wrap::width(&text);
        if used + w > max {
            break;
        }
        used += w;
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}
