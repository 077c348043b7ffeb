//! The help overlay: every key, by context, and the slash commands.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use super::super::app::{App, Screen};
use super::super::commands::COMMANDS;
use super::super::theme::Theme;
use super::super::wrap::wrap_spans;

/// (context, [(keys, what they do)]) for keys of the chat screen and global keys.
pub const KEYS: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            ("Ctrl+C", "stop the answer; quit when nothing streams"),
            ("Esc", "stop the answer / close compare / back to input"),
            ("Ctrl+Q", "quit"),
            ("F1", "this help"),
            (
                "F5, Ctrl+O",
                "Review: history, search, export (again: back)",
            ),
            ("F4", "Dashboard: models, triggers, costs (again: back)"),
            ("F6", "Profile: prompt versions, metrics, commitments"),
            ("F2, Ctrl+R", "routing panel on/off"),
            ("Alt+↑ / Alt+↓", "scroll the routing panel"),
            ("F3", "compare view on/off"),
            ("Ctrl+T", "new conversation tab"),
            ("Ctrl+W", "close tab"),
            ("Ctrl+← / →", "previous / next tab"),
            ("Alt+1..9", "go to tab"),
            ("PgUp / PgDn", "scroll the conversation"),
            ("mouse wheel", "scroll the conversation"),
            ("Shift+drag", "select text to copy (the mouse is captured)"),
            ("Tab", "switch focus: input ⇄ messages"),
            ("Esc (narrow)", "close the routing panel over the chat"),
        ],
    ),
    (
        "Input",
        &[
            ("Enter", "send"),
            ("Shift/Alt+Enter", "new line"),
            ("Ctrl+J", "new line (any terminal)"),
            ("paste", "inserted as is, never sent"),
            ("↑ ↓ ← →, Home/End", "move in the text"),
            ("Ctrl+U", "undo"),
            ("Ctrl+K", "delete to the end of the line"),
            ("//text", "send a message starting with /"),
        ],
    ),
    (
        "Commitment proposal (Commit to: …? [y/n])",
        &[
            ("y / n", "commit / dismiss, while the input is empty"),
            ("Alt+Y / Alt+N", "commit / dismiss, any time"),
            ("Esc", "dismiss, while the input is empty"),
        ],
    ),
    (
        "Consultation (/consult)",
        &[
            ("Enter", "answer the interviewer"),
            ("switch or close the tab", "pause; /consult resumes"),
            ("/finish", "end it; your personal coach is prepared"),
            (
                "y / n",
                "turn it on / leave it off, after the cost is shown",
            ),
        ],
    ),
    (
        "Messages pane",
        &[
            ("j / k, ↓ / ↑", "scroll one line"),
            ("g / G", "top / bottom (follow the stream)"),
            ("[ / ]", "routing of previous / next turn"),
            ("?", "this help"),
            ("i, Enter, letters", "back to the input"),
            (
                "g, PgUp at the top",
                "load older messages of a resumed conversation",
            ),
        ],
    ),
];

/// Keys of the Review screen.
pub const REVIEW_KEYS: &[(&str, &[(&str, &str)])] = &[
    (
        "Review: list and search results",
        &[
            ("j / k, ↓ / ↑", "move"),
            ("PgUp / PgDn, g / G", "page, first / last"),
            ("Enter, l, →", "open read-only with routing decisions"),
            ("/", "search all messages; Enter searches, Esc stops typing"),
            ("Esc", "clear the search / back to the chat"),
            ("c", "continue the conversation in a chat tab"),
            ("e / E", "export as Markdown / JSON"),
            ("r", "reload the list"),
            ("?", "this help"),
        ],
    ),
    (
        "Review: a conversation",
        &[
            ("j / k, ↓ / ↑, wheel", "scroll"),
            ("PgUp / PgDn, Space", "page"),
            ("g / G", "top / bottom"),
            ("n / p, ] / [", "select next / previous message"),
            ("y", "copy the selected message (OSC 52)"),
            ("b", "copy its next code block (OSC 52)"),
            ("c", "continue in a chat tab"),
            ("e / E", "export as Markdown / JSON"),
            ("Esc, h, ←", "back to the list"),
        ],
    ),
];

/// Keys of the Dashboard.
pub const DASHBOARD_KEYS: &[(&str, &[(&str, &str)])] = &[(
    "Dashboard",
    &[
        ("[ / ], ← / →", "previous / next month"),
        ("r", "refresh"),
        ("Esc, q", "back to the chat"),
        ("?", "this help"),
    ],
)];

/// Keys of the Profile screen.
pub const PROFILE_KEYS: &[(&str, &[(&str, &str)])] = &[(
    "Profile",
    &[
        ("j/k, ↑/↓, PgUp/PgDn", "scroll"),
        ("g, Home", "top"),
        ("r", "refresh"),
        ("d", "diff: newest prompt version against the one before"),
        ("D", "diff: first prompt version against the newest"),
        (
            "[ / ]",
            "in a diff: version A to the previous / next version",
        ),
        (
            "{ / }",
            "in a diff: version B to the previous / next version",
        ),
        (
            "c",
            "consultation: turn on (shows the cost), start or resume",
        ),
        ("Esc, q", "back to the chat"),
        ("?", "this help"),
    ],
)];

/// Every key group, the open screen's first.
pub fn groups(screen: Screen) -> Vec<(&'static str, &'static [(&'static str, &'static str)])> {
    let (first, rest): (&[_], [&[_]; 3]) = match screen {
        Screen::Chat => (KEYS, [REVIEW_KEYS, DASHBOARD_KEYS, PROFILE_KEYS]),
        Screen::Review => (REVIEW_KEYS, [KEYS, DASHBOARD_KEYS, PROFILE_KEYS]),
        Screen::Dashboard => (DASHBOARD_KEYS, [KEYS, REVIEW_KEYS, PROFILE_KEYS]),
        Screen::Profile => (PROFILE_KEYS, [KEYS, REVIEW_KEYS, DASHBOARD_KEYS]),
    };
    first
        .iter()
        .chain(rest.iter().flat_map(|g| g.iter()))
        .copied()
        .collect()
}

/// The help text for a box `width` cells wide: descriptions wrap under themselves.
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let t: &Theme = &app.theme;
    let groups = groups(app.screen());
    let key_w = groups
        .iter()
        .flat_map(|(_, ks)| ks.iter().map(|(k, _)| k.chars().count()))
        .chain(COMMANDS.iter().map(|(n, a, _)| n.len() + a.len() + 1))
        .max()
        .unwrap_or(10);
    let mut out = Vec::new();
    for (ctx, keys) in &groups {
        out.push(Line::from(Span::styled(ctx.to_string(), t.heading)));
        for (k, what) in keys.iter() {
            out.extend(entry(k, what, key_w, width, t));
        }
        out.push(Line::default());
    }
    out.push(Line::from(Span::styled("Commands", t.heading)));
    for (name, arg, what) in COMMANDS {
        let k = if arg.is_empty() {
            name.to_string()
        } else {
            format!("{name} {arg}")
        };
        out.extend(entry(&k, what, key_w, width, t));
    }
    if !app.opts.log_hint.is_empty() {
        out.push(Line::default());
        out.push(Line::from(Span::styled(
            format!("logs: {}", app.opts.log_hint),
            t.dim,
        )));
    }
    out
}

/// One key and its description; the description wraps in its own column.
fn entry(key: &str, what: &str, key_w: usize, width: usize, t: &Theme) -> Vec<Line<'static>> {
    let pad = key_w.saturating_sub(key.chars().count());
    let first = vec![
        Span::raw("  "),
        Span::styled(key.to_string(), t.key),
        Span::raw(" ".repeat(pad + 2)),
    ];
    let hang = vec![Span::raw(" ".repeat(key_w + 4))];
    wrap_spans(&[Span::raw(what.to_string())], &first, &hang, width)
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let w = area.width.saturating_sub(4).min(78);
    let h = area.height.saturating_sub(2).min(40);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let all = lines(app, usize::from(w.saturating_sub(4)));
    let inner_rows = usize::from(h.saturating_sub(2));
    let max_scroll = all.len().saturating_sub(inner_rows);
    let scroll = app.help_scroll().min(max_scroll);
    let more = if max_scroll > 0 {
        format!(" j/k scroll {}/{} · Esc closes ", scroll, max_scroll)
    } else {
        " any key closes ".to_string()
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(t.border_focus)
        .title(Span::styled(" help ", t.title))
        .title_bottom(Line::from(Span::styled(more, t.dim)).alignment(Alignment::Right));
    frame.render_widget(Clear, rect);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let text = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    let shown: Vec<Line<'static>> = all.into_iter().skip(scroll).collect();
    frame.render_widget(Paragraph::new(shown), text);
}
