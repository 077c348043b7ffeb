//! Drawing. Every function here takes `&App` and cannot change it.

pub mod chat;
pub mod compare;
pub mod confirm;
pub mod cost;
pub mod dashboard;
pub mod help;
pub mod profile;
pub mod review;
pub mod routing;
pub mod status;
pub mod tiny;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};

use super::app::{App, Screen};
use super::theme::Theme;
use super::wrap::width;

/// Smallest terminal the screens are laid out for.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;
/// From this width on, the routing panel sits beside the chat instead of over it.
pub const SIDE_PANEL_MIN_WIDTH: u16 = 90;
/// From this height on, the cost meter takes two lines (totals; savings and sparkline).
const COST_TWO_LINES_MIN_HEIGHT: u16 = 24;
/// Most input lines shown before the input scrolls.
const MAX_INPUT_LINES: u16 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppLayout {
    pub tabs: Rect,
    pub messages: Rect,
    /// Beside the chat when wide; the chat's own area when narrow (drawn over it).
    pub routing: Option<Rect>,
    /// The commitment proposal's question (no rows without one).
    pub proposal: Rect,
    pub input: Rect,
    pub cost: Rect,
    pub status: Rect,
    pub hints: Rect,
    pub too_small: bool,
}

/// Where everything goes. Shared by drawing and by `App`, which needs the chat pane's size
/// to wrap and scroll.
pub fn layout(area: Rect, app: &App) -> AppLayout {
    let too_small = area.width < MIN_WIDTH || area.height < MIN_HEIGHT;
    let max_lines = if area.height < 24 { 3 } else { MAX_INPUT_LINES };
    let input_lines = u16::try_from(app.input().lines().len())
        .unwrap_or(u16::MAX)
        .clamp(1, max_lines);
    let cost_lines = if area.height >= COST_TWO_LINES_MIN_HEIGHT {
        2
    } else {
        1
    };
    let proposal_lines = u16::from(app.proposal().is_some());
    let [tabs, main, proposal, input, cost, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(proposal_lines),
        Constraint::Length(input_lines + 2),
        Constraint::Length(cost_lines),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let wide = area.width >= SIDE_PANEL_MIN_WIDTH;
    let (messages, routing) = match (app.routing_visible(), wide) {
        (true, true) => {
            let panel = (area.width * 9 / 20).clamp(42, 64);
            let [m, r] =
                Layout::horizontal([Constraint::Fill(1), Constraint::Length(panel)]).areas(main);
            (m, Some(r))
        }
        (true, false) => (main, Some(main)),
        (false, _) => (main, None),
    };
    AppLayout {
        tabs,
        messages,
        routing,
        proposal,
        input,
        cost,
        status,
        hints,
        too_small,
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    let l = layout(area, app);
    if l.too_small {
        tiny::draw(frame, area, app);
        return;
    }
    if app.screen() != Screen::Chat {
        draw_screen(frame, area, app);
        if app.show_help() {
            help::draw(frame, area, app);
        }
        if app.confirm().is_some() {
            confirm::draw(frame, area, app);
        }
        return;
    }
    chat::draw_tabs(frame, l.tabs, app);
    let narrow_overlay = l.routing == Some(l.messages);
    if app.tab().show_compare {
        compare::draw(frame, l.messages, app);
    } else if !narrow_overlay {
        chat::draw_messages(frame, l.messages, app);
    }
    if let Some(r) = l.routing {
        routing::draw(frame, r, app);
    }
    if app.proposal().is_some() {
        confirm::draw_proposal(frame, l.proposal, app);
    }
    chat::draw_input(frame, l.input, app);
    cost::draw(frame, l.cost, app);
    status::draw_status(frame, l.status, app);
    status::draw_hints(frame, l.hints, app);
    if app.show_help() {
        help::draw(frame, area, app);
    }
    if app.confirm().is_some() {
        confirm::draw(frame, area, app);
    }
}

/// Review and Dashboard: the screen bar, the screen, the status line and the key hints.
fn draw_screen(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let [bar, body, status_row, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_screen_bar(frame, bar, app);
    match app.screen() {
        // Review lays out its own search box below the bar.
        Screen::Review => review::draw(frame, area, app),
        Screen::Dashboard => dashboard::draw(frame, body, app),
        Screen::Profile => profile::draw(frame, body, app),
        Screen::Chat => {}
    }
    status::draw_status(frame, status_row, app);
    status::draw_hints(frame, hints, app);
}

/// Which screen is open, and what it shows.
fn draw_screen_bar(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let mut spans = Vec::new();
    for (screen, name, key) in [
        (Screen::Chat, "Chat", "Esc"),
        (Screen::Review, "Review", "F5"),
        (Screen::Dashboard, "Dashboard", "F4"),
        (Screen::Profile, "Profile", "F6"),
    ] {
        let style = if app.screen() == screen {
            t.tab_active
        } else {
            t.tab
        };
        spans.push(Span::styled(format!(" {name} "), style));
        spans.push(Span::styled(format!("{key} "), t.dim));
    }
    let used: usize = spans.iter().map(|s| width(&s.content)).sum();
    let title = match app.screen() {
        Screen::Review => review::title(app),
        Screen::Dashboard => match app.dashboard() {
            Some(d) if d.months_back == 0 => format!("{} (this month) · [ ] month", d.month),
            Some(d) => format!("{} · [ ] month", d.month),
            None => String::new(),
        },
        Screen::Profile => "d/D diff · c consultation · r refresh".to_string(),
        Screen::Chat => String::new(),
    };
    let room = usize::from(area.width).saturating_sub(used + 2);
    if room > 3 && !title.is_empty() {
        spans.push(Span::styled(
            format!(" {}", super::wrap::truncate(&title, room)),
            t.title,
        ));
    }
    frame.render_widget(ratatui::widgets::Paragraph::new(Line::from(spans)), area);
}

/// A line of `key description` pairs, cut to fit.
pub fn hint_line(pairs: &[(&str, &str)], max: usize, t: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    let mut used = 0;
    for (i, (key, what)) in pairs.iter().enumerate() {
        let sep = if i == 0 { " " } else { "  " };
        let w = width(sep) + width(key) + 1 + width(what);
        if used + w > max {
            break;
        }
        spans.push(Span::raw(sep));
        spans.push(Span::styled(key.to_string(), t.key));
        spans.push(Span::styled(format!(" {what}"), t.dim));
        used += w;
    }
    Line::from(spans)
}

/// Formats USD for the meter: more decimals for small amounts.
pub fn money(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "$0".to_string()
    } else if a < 0.01 {
        format!("${x:.4}")
    } else if a < 100.0 {
        format!("${x:.2}")
    } else {
        format!("${x:.0}")
    }
}

/// A horizontal bar of `cells` cells filled to `fraction`, with eighth-cell resolution.
pub fn bar(fraction: f64, cells: usize) -> (String, String) {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let f = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let eighths = (f * cells as f64 * 8.0).round() as usize;
    let full = eighths / 8;
    let part = eighths % 8;
    let mut filled = "█".repeat(full);
    filled.push_str(PARTS[part]);
    let used = full + usize::from(part > 0);
    let empty = "·".repeat(cells.saturating_sub(used));
    (filled, empty)
}

/// Groups thousands: 170000 → "170,000".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_formats() {
        assert_eq!(money(0.0), "$0");
        assert_eq!(money(0.00042), "$0.0004");
        assert_eq!(money(3.456), "$3.46");
        assert_eq!(money(1234.0), "$1234");
    }

    #[test]
    fn bar_fills_proportionally() {
        assert_eq!(bar(0.5, 4), ("██".to_string(), "··".to_string()));
        assert_eq!(bar(1.5, 3).0, "███");
        assert_eq!(bar(f64::NAN, 2).1, "··");
        let (f, e) = bar(0.3, 10);
        assert_eq!(width(&f) + width(&e), 10);
    }

    #[test]
    fn thousands_groups() {
        assert_eq!(thousands(170_000), "170,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
    }
}
