//! What a terminal too small for the screens shows instead of garbage.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::app::App;
use super::{MIN_HEIGHT, MIN_WIDTH};

pub fn notice(w: u16, h: u16) -> String {
    format!("enlarge the window (need {MIN_WIDTH}×{MIN_HEIGHT}, have {w}×{h})")
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let lines = vec![
        Line::from(Span::styled(notice(area.width, area.height), t.warn)),
        Line::from(Span::styled("Ctrl+Q quits", t.dim)),
    ];
    let text_h = 3u16.min(area.height);
    let y = area.y + area.height.saturating_sub(text_h) / 2;
    let rect = Rect {
        y,
        height: area.height.saturating_sub(y - area.y),
        ..area
    };
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        rect,
    );
}
