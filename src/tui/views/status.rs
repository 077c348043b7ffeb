//! The status line (messages, pin, worker state) and the key-hint bar.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::{App, Focus, Screen, StatusKind};
use super::super::review::ReviewPane;
use super::super::wrap::{truncate, width};
use super::hint_line;

pub fn draw_status(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let tab = app.tab();
    let mut right: Vec<Span<'static>> = Vec::new();
    if app.personal_preparing() {
        right.push(Span::styled("preparing your personal coach… ", t.accent));
    }
    if tab.consultation && app.screen() == Screen::Chat {
        right.push(if app.consultation_tab_done() {
            Span::styled("consultation complete ", t.ok)
        } else {
            Span::styled("consultation · /finish ends it ", t.accent)
        });
    }
    match &tab.pin {
        Some(p) => right.push(Span::styled(format!("model: {p} (pinned) "), t.warn)),
        None => right.push(Span::styled("model: auto ", t.dim)),
    }
    if let Some(id) = tab.conversation_id {
        right.push(Span::styled(format!("· #{id} "), t.dim));
    }
    let right_w: usize = right.iter().map(|s| width(&s.content)).sum();
    let max_left = usize::from(area.width).saturating_sub(right_w + 2);
    let left = match app.status() {
        Some(s) => {
            let style = match s.kind {
                StatusKind::Info => t.base,
                StatusKind::Warn => t.warn,
                StatusKind::Error => t.error,
            };
            let mark = match s.kind {
                StatusKind::Info => "",
                StatusKind::Warn => "! ",
                StatusKind::Error => "✗ ",
            };
            Span::styled(truncate(&format!(" {mark}{}", s.text), max_left), style)
        }
        None if app.worker_gone() => Span::styled(" coach worker stopped", t.error),
        None => Span::styled(" ready", t.dim),
    };
    frame.render_widget(Paragraph::new(Line::from(left)), area);
    frame.render_widget(
        Paragraph::new(Line::from(right)).alignment(Alignment::Right),
        area,
    );
}

pub fn draw_hints(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let busy = app.tab().is_busy();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if app.show_help() {
        pairs.extend([("Esc", "close help"), ("j/k", "scroll")]);
    } else if app.confirm().is_some() {
        pairs.extend([("y/Enter", "yes"), ("n/Esc", "no"), ("Ctrl+Q", "quit")]);
    } else if app.screen() == Screen::Review {
        let r = app.review();
        if r.search.editing {
            pairs.extend([
                ("Enter", "search"),
                ("Esc", "stop typing"),
                ("Ctrl+U", "clear"),
            ]);
        } else {
            match r.pane() {
                // Most useful first: the line is cut on narrow terminals; `?` lists all.
                ReviewPane::Detail => pairs.extend([
                    ("Esc", "back"),
                    ("n/p", "message"),
                    ("y", "copy"),
                    ("b", "code"),
                    ("c", "continue"),
                    ("?", "help"),
                    ("e", "export"),
                    ("j/k", "scroll"),
                ]),
                ReviewPane::SearchResults | ReviewPane::Conversations => pairs.extend([
                    ("Enter", "open"),
                    ("/", "search"),
                    ("c", "continue"),
                    ("Esc", "back"),
                    ("?", "help"),
                    ("e", "export"),
                    ("j/k", "move"),
                ]),
            }
        }
        pairs.push(("Ctrl+Q", "quit"));
    } else if app.screen() == Screen::Profile && app.profile_diff().is_some() {
        pairs.extend([
            ("[ ]", "version A"),
            ("{ }", "version B"),
            ("d", "back"),
            ("j/k", "scroll"),
            ("Esc", "chat"),
            ("?", "help"),
        ]);
    } else if app.screen() == Screen::Profile {
        pairs.extend([
            ("j/k", "scroll"),
            ("d/D", "diff"),
            ("c", "consultation"),
            ("r", "refresh"),
            ("Esc", "chat"),
            ("?", "help"),
            ("Ctrl+Q", "quit"),
        ]);
    } else if app.screen() == Screen::Dashboard {
        pairs.extend([
            ("[ ]", "month"),
            ("r", "refresh"),
            ("Esc", "chat"),
            ("F5", "review"),
            ("?", "help"),
            ("Ctrl+Q", "quit"),
        ]);
    } else {
        if busy {
            pairs.push(("Esc", "stop"));
        }
        match app.focus() {
            Focus::Input => pairs.extend([
                ("Enter", "send"),
                ("Shift+Enter", "newline"),
                ("Tab", "focus"),
            ]),
            Focus::Messages => pairs.extend([
                ("j/k", "scroll"),
                ("g/G", "top/bottom"),
                ("[ ]", "turn"),
                ("Tab", "input"),
            ]),
        }
        pairs.extend([
            ("F2", "routing"),
            ("F5", "review"),
            ("F4", "stats"),
            ("F1", "help"),
            (if busy { "Ctrl+Q" } else { "Ctrl+C" }, "quit"),
            ("F6", "profile"),
            ("Ctrl+T", "tab"),
        ]);
    }
    let line = hint_line(&pairs, usize::from(area.width), t);
    frame.render_widget(Paragraph::new(line), area);
}
