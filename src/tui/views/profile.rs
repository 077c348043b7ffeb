//! The Profile screen (F6), read-only: the personal coach's state, the current profile
//! text, every prompt version (newest first, with why it was written, by which model and at
//! what cost), the behaviour metrics over the window and the open commitments.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::App;
use super::super::review::format_time;
use super::super::theme::Theme;
use super::super::wrap::wrap_spans;
use super::money;
use crate::coach::api::{CommitmentStatus, PersonalStatus, ProfileData, VersionDiff};
use crate::sanitize::strip_controls;

/// Width of the metric names column.
const LABEL_W: usize = 21;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let Some(d) = app.profile() else {
        let text = if app.profile_loading() {
            " loading your profile…"
        } else {
            " no data"
        };
        frame.render_widget(Paragraph::new(Span::styled(text, t.dim)), area);
        return;
    };
    let lines = match app.profile_diff() {
        Some(diff) => diff_lines(diff, usize::from(area.width), t),
        None => profile_lines(d, usize::from(area.width), app.utc_offset_minutes(), t),
    };
    let max_scroll = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_sub(area.height);
    let scroll = app.profile_scroll().min(max_scroll);
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), area);
}

/// Unchanged lines kept around each change in the diff view.
const DIFF_CONTEXT: usize = 1;

/// A prompt-version diff: changed lines with one line of context, long unchanged runs
/// folded into `…`.
pub fn diff_lines(diff: &VersionDiff, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        heading(
            &format!(
                "Prompt version {} → {} · +{} −{} · d: back to the profile",
                diff.from, diff.to, diff.added, diff.removed
            ),
            t,
        ),
        Line::default(),
    ];
    let near_change = |i: usize| {
        let lo = i.saturating_sub(DIFF_CONTEXT);
        let hi = (i + DIFF_CONTEXT).min(diff.lines.len().saturating_sub(1));
        diff.lines[lo..=hi].iter().any(|l| l.sign != ' ')
    };
    let mut folded = false;
    for (i, l) in diff.lines.iter().enumerate() {
        if !near_change(i) {
            if !folded {
                lines.push(Line::from(Span::styled("   …", t.dim)));
                folded = true;
            }
            continue;
        }
        folded = false;
        let style = match l.sign {
            '+' => t.ok,
            '-' => t.error,
            _ => t.dim,
        };
        let text = strip_controls(l.text.trim_end_matches('\n')).into_owned();
        lines.extend(wrap_spans(
            &[Span::styled(text, style)],
            &[Span::styled(format!(" {} ", l.sign), style)],
            &[Span::raw("   ")],
            w,
        ));
    }
    if diff.lines.iter().all(|l| l.sign == ' ') {
        lines.push(Line::from(Span::styled("   no changes", t.dim)));
    }
    lines
}

fn heading(text: &str, t: &Theme) -> Line<'static> {
    Line::from(Span::styled(format!(" {text}"), t.title))
}

fn metric(name: &str, value: String, w: usize, t: &Theme) -> Vec<Line<'static>> {
    wrap_spans(
        &[Span::styled(value, t.base)],
        &[Span::styled(format!("   {name:<LABEL_W$}"), t.dim)],
        &[Span::raw(" ".repeat(LABEL_W + 3))],
        w,
    )
}

fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// Everything on the screen, `w` cells wide.
pub fn profile_lines(d: &ProfileData, w: usize, utc_offset: i32, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let (status, style) = match &d.status {
        PersonalStatus::None => (
            "not set up: the generic coach answers (a consultation prepares yours)".to_string(),
            t.dim,
        ),
        PersonalStatus::Preparing => ("preparing your personal coach…".to_string(), t.accent),
        PersonalStatus::Ready(v) => (format!("ready · prompt version {v}"), t.ok),
        PersonalStatus::Failed(why) => (
            format!(
                "preparing failed: {} (retried within the hour)",
                strip_controls(why)
            ),
            t.warn,
        ),
    };
    lines.extend(
        metric("personal coach", String::new(), w, t)
            .into_iter()
            .map(|mut l| {
                l.spans.push(Span::styled(status.clone(), style));
                l
            }),
    );

    lines.push(Line::default());
    lines.push(heading("Profile", t));
    match d.versions.last() {
        Some(v) if !v.profile_text.trim().is_empty() => {
            for para in strip_controls(&v.profile_text).lines() {
                lines.extend(wrap_spans(
                    &[Span::styled(para.to_string(), t.base)],
                    &[Span::raw("   ")],
                    &[Span::raw("   ")],
                    w,
                ));
            }
        }
        _ => lines.push(Line::from(Span::styled("   no profile yet", t.dim))),
    }

    lines.push(Line::default());
    lines.push(heading("Prompt versions", t));
    if d.versions.is_empty() {
        lines.push(Line::from(Span::styled("   none yet", t.dim)));
    }
    for v in d.versions.iter().rev() {
        let model = v.model.as_deref().map(strip_controls).unwrap_or_default();
        let mut head = vec![
            Span::styled(format!("v{}", v.version), t.strong),
            Span::styled(
                format!("  {}", format_time(v.created_at, utc_offset, false)),
                t.dim,
            ),
        ];
        if !model.is_empty() {
            head.push(Span::styled(format!(" · {model}"), t.dim));
        }
        head.push(Span::styled(format!(" · {}", money(v.cost_usd)), t.dim));
        lines.extend(wrap_spans(
            &head,
            &[Span::raw("   ")],
            &[Span::raw("     ")],
            w,
        ));
        if !v.reason.trim().is_empty() {
            lines.extend(wrap_spans(
                &[Span::styled(strip_controls(&v.reason).into_owned(), t.base)],
                &[Span::raw("     ")],
                &[Span::raw("     ")],
                w,
            ));
        }
    }

    let m = &d.metrics;
    lines.push(Line::default());
    lines.push(heading(
        &format!(
            "Metrics · last {} days (from {})",
            m.window_days, m.window_start
        ),
        t,
    ));
    lines.extend(metric(
        "logging consistency",
        format!(
            "{} ({} of {} days)",
            percent(m.logging_consistency),
            m.checkin_days,
            m.observed_days
        ),
        w,
        t,
    ));
    lines.extend(metric(
        "streak",
        format!("{} days now · best {}", m.current_streak, m.best_streak),
        w,
        t,
    ));
    let c = &m.commitments;
    lines.extend(metric(
        "adherence",
        match m.adherence {
            Some(a) => format!(
                "{} kept of {} due ({} late, {} missed, {} overdue)",
                percent(a),
                c.due,
                c.late,
                c.missed,
                c.overdue
            ),
            None => "nothing was due in the window".to_string(),
        },
        w,
        t,
    ));
    if m.patterns.is_empty() {
        lines.extend(metric("patterns", "none flagged".to_string(), w, t));
    }
    for (i, p) in m.patterns.iter().enumerate() {
        let name = if i == 0 { "patterns" } else { "" };
        lines.extend(metric(
            name,
            format!("• {}", strip_controls(&p.summary)),
            w,
            t,
        ));
    }

    lines.push(Line::default());
    lines.push(heading("Open commitments", t));
    let open: Vec<_> = d
        .commitments
        .iter()
        .filter(|c| c.status == CommitmentStatus::Open)
        .collect();
    if open.is_empty() {
        lines.push(Line::from(Span::styled(
            "   none (/commit <text> [by <date>] in the chat)",
            t.dim,
        )));
    }
    for c in open {
        let mut spans = vec![
            Span::styled(format!("#{} ", c.id), t.strong),
            Span::styled(strip_controls(&c.text).into_owned(), t.base),
        ];
        match (c.due, c.overdue) {
            (Some(due), true) => {
                spans.push(Span::styled(format!(" · overdue since {due}"), t.warn))
            }
            (Some(due), false) => spans.push(Span::styled(format!(" · by {due}"), t.dim)),
            (None, _) => {}
        }
        lines.extend(wrap_spans(
            &spans,
            &[Span::raw("   ")],
            &[Span::raw("     ")],
            w,
        ));
    }
    lines
}
