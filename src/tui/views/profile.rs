//! The Profile screen (F6): the personal coach's state and the consultation's, the current
//! profile text, every prompt version (newest first, with why it was written, by which model
//! and at what cost) and a diff between any two of them, the behaviour metrics over the
//! window with their trend over the stored snapshots, and the commitments.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::App;
use super::super::review::format_time;
use super::super::theme::Theme;
use super::super::wrap::wrap_spans;
use super::money;
use crate::coach::api::{
    CommitmentStatus, ConsultationState, Metrics, PersonalStatus, ProfileData, VersionDiff,
};
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
                "Prompt version {} → {} · +{} −{} · [ ] version A · {{ }} version B · d back",
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

    let (consult, consult_style) = match &d.consultation {
        ConsultationState::Disabled => (
            "off · c turns it on (shows the cost first)".to_string(),
            t.dim,
        ),
        ConsultationState::NotStarted => ("on, not started · c starts it".to_string(), t.accent),
        ConsultationState::InProgress { exchanges, .. } => (
            format!("paused after {exchanges} exchange(s) · c resumes it"),
            t.accent,
        ),
        ConsultationState::Completed { at, .. } => (
            format!(
                "completed {} · c starts a new one",
                format_time(*at, utc_offset, false)
            ),
            t.ok,
        ),
    };
    lines.extend(wrap_spans(
        &[Span::styled(consult, consult_style)],
        &[Span::styled(
            format!("   {:<LABEL_W$}", "consultation"),
            t.dim,
        )],
        &[Span::raw(" ".repeat(LABEL_W + 3))],
        w,
    ));

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
        format!(
            "{} day{} now · best {}",
            m.current_streak,
            if m.current_streak == 1 { "" } else { "s" },
            m.best_streak
        ),
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

    lines.extend(trend_lines(d, w, t));

    let count = |s: CommitmentStatus| d.commitments.iter().filter(|c| c.status == s).count();
    lines.push(Line::default());
    lines.push(heading(
        &format!(
            "Commitments · {} open, {} done, {} missed",
            count(CommitmentStatus::Open),
            count(CommitmentStatus::Done),
            count(CommitmentStatus::Missed)
        ),
        t,
    ));
    let open: Vec<_> = d
        .commitments
        .iter()
        .filter(|c| c.status == CommitmentStatus::Open)
        .collect();
    if d.commitments.is_empty() {
        lines.push(Line::from(Span::styled(
            "   none (/commit <text> [by <date>] in the chat, or say yes to one the coach proposes)",
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
    // Resolved ones, the most recent first.
    let mut resolved: Vec<_> = d
        .commitments
        .iter()
        .filter(|c| c.status != CommitmentStatus::Open)
        .collect();
    resolved.sort_by_key(|c| std::cmp::Reverse(c.resolved_at.unwrap_or(c.created_at)));
    for c in resolved.iter().take(RESOLVED_SHOWN) {
        let (mark, style) = match c.status {
            CommitmentStatus::Done => ("✓ done", t.ok),
            _ => ("✗ missed", t.warn),
        };
        let mut spans = vec![
            Span::styled(format!("#{} ", c.id), t.dim),
            Span::styled(format!("{mark} "), style),
            Span::styled(strip_controls(&c.text).into_owned(), t.dim),
        ];
        if let Some(due) = c.due {
            spans.push(Span::styled(format!(" · due {due}"), t.dim));
        }
        lines.extend(wrap_spans(
            &spans,
            &[Span::raw("   ")],
            &[Span::raw("     ")],
            w,
        ));
    }
    if resolved.len() > RESOLVED_SHOWN {
        lines.push(Line::from(Span::styled(
            format!(
                "   … {} older (/commitments lists them)",
                resolved.len() - RESOLVED_SHOWN
            ),
            t.dim,
        )));
    }
    lines
}

/// Resolved commitments listed under the open ones.
const RESOLVED_SHOWN: usize = 8;

/// Block characters of the sparklines, lowest first.
const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One metric's values over the snapshots and now: `None` where it had no value (adherence
/// with nothing due). `max`: the top of the scale (1 for shares; the largest value for
/// day counts).
pub fn sparkline(values: &[Option<f64>], max: f64) -> String {
    values
        .iter()
        .map(|v| match v {
            Some(x) if max > 0.0 && x.is_finite() => {
                let i = ((x / max).clamp(0.0, 1.0) * (SPARK.len() - 1) as f64).round() as usize;
                SPARK[i.min(SPARK.len() - 1)]
            }
            Some(_) => SPARK[0],
            None => '·',
        })
        .collect()
}

/// How a metric moved since the last snapshot: arrow, signed change and unit.
fn delta(now: Option<f64>, before: Option<f64>, points: bool) -> (String, Option<bool>) {
    match (now, before) {
        (Some(n), Some(b)) => {
            let d = if points { (n - b) * 100.0 } else { n - b };
            let unit = if points { " pts" } else { " d" };
            if d.abs() < 0.5 {
                ("= no change".to_string(), None)
            } else if d > 0.0 {
                (format!("▲ +{d:.0}{unit}"), Some(true))
            } else {
                (format!("▼ −{:.0}{unit}", d.abs()), Some(false))
            }
        }
        (None, _) => ("nothing due".to_string(), None),
        (Some(_), None) => ("new".to_string(), None),
    }
}

/// The trend: per metric a sparkline over the stored snapshots then now, and the change
/// since the newest snapshot.
fn trend_lines(d: &ProfileData, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::default()];
    let Some((_, last)) = d.history.last() else {
        lines.push(heading("Trend", t));
        lines.push(Line::from(Span::styled(
            "   no snapshots yet: each prompt version and each weekly check stores one",
            t.dim,
        )));
        return lines;
    };
    let since = last.today;
    lines.push(heading(
        &format!(
            "Trend · {} snapshot(s) then now · change since {since}",
            d.history.len()
        ),
        t,
    ));
    let series: Vec<&Metrics> = d
        .history
        .iter()
        .map(|(_, m)| m)
        .chain(std::iter::once(&d.metrics))
        .collect();
    type Get = fn(&Metrics) -> Option<f64>;
    let rows: [(&str, Get, bool); 4] = [
        ("logging consistency", |m| Some(m.logging_consistency), true),
        (
            "current streak",
            |m| Some(f64::from(m.current_streak)),
            false,
        ),
        ("best streak", |m| Some(f64::from(m.best_streak)), false),
        ("adherence", |m| m.adherence, true),
    ];
    for (name, get, share) in rows {
        let values: Vec<Option<f64>> = series.iter().map(|m| get(m)).collect();
        let max = if share {
            1.0
        } else {
            values.iter().flatten().fold(1.0_f64, |a, b| a.max(*b))
        };
        let now = get(&d.metrics);
        let current = match now {
            Some(x) if share => percent(x),
            Some(x) => format!("{x:.0} d"),
            None => "–".to_string(),
        };
        let (change, better) = delta(now, get(last), share);
        let style = match better {
            Some(true) => t.ok,
            Some(false) => t.warn,
            None => t.dim,
        };
        lines.extend(wrap_spans(
            &[
                Span::styled(sparkline(&values, max), t.accent),
                Span::styled(format!(" {current:>5} "), t.base),
                Span::styled(change, style),
            ],
            &[Span::styled(format!("   {name:<LABEL_W$}"), t.dim)],
            &[Span::raw(" ".repeat(LABEL_W + 3))],
            w,
        ));
    }
    lines
}
