//! The Dashboard: one month of routing and cost as charts, and the interaction config's
//! diagnostics.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, BorderType, Paragraph, Sparkline};

use super::super::app::App;
use super::super::review::short_model;
use super::super::theme::Theme;
use super::super::wrap::{width, wrap_spans};
use super::{money, thousands};
use crate::coach::api::DashboardData;

/// From this height on, charts get bordered panels; below, a compact stack.
const FULL_LAYOUT_MIN_HEIGHT: u16 = 24;
/// Bars shown in the models and triggers charts.
const TOP_N: usize = 5;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let Some(d) = app.dashboard() else {
        let text = if app.dashboard_loading() {
            " building the dashboard…"
        } else {
            " no data"
        };
        frame.render_widget(Paragraph::new(Span::styled(text, t.dim)), area);
        return;
    };
    let full = area.height + 4 >= FULL_LAYOUT_MIN_HEIGHT;
    let lines = summary_lines(d, area.width, t);
    let summary_rows = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let [summary, rest] =
        Layout::vertical([Constraint::Length(summary_rows), Constraint::Fill(1)]).areas(area);
    frame.render_widget(Paragraph::new(lines), summary);
    if full {
        draw_full(frame, rest, d, t);
    } else {
        draw_compact(frame, rest, d, t);
    }
}

fn summary_lines(d: &DashboardData, w: u16, t: &Theme) -> Vec<Line<'static>> {
    let s = &d.stats;
    let w = usize::from(w);
    let first = vec![
        Span::styled(" spent ", t.dim),
        Span::styled(money(s.costs.cost_usd), t.strong),
        Span::styled(" · saved ", t.dim),
        Span::styled(money(s.savings_vs_all_upgrade_usd), t.ok),
        Span::styled(
            format!(
                " ({:.0}%) vs all-upgrade {}",
                s.savings_vs_all_upgrade_share * 100.0,
                money(s.costs.upgrade_equiv_cost_usd)
            ),
            t.dim,
        ),
        Span::styled(format!(" · cache {}", money(s.cache_savings_usd)), t.dim),
    ];
    let errors: u64 = s.errors_by_class.iter().map(|c| c.count).sum();
    let problem = |n: u64| if n > 0 { t.warn } else { t.base };
    let second = vec![
        Span::styled(" requests ", t.dim),
        Span::styled(thousands(s.requests), t.base),
        Span::styled(" · upgraded ", t.dim),
        Span::styled(
            format!("{} ({:.0}%)", s.upgrades, s.upgrade_rate * 100.0),
            t.base,
        ),
        Span::styled(" · fallbacks ", t.dim),
        Span::styled(s.fallbacks.to_string(), problem(s.fallbacks)),
        Span::styled(" · offline ", t.dim),
        Span::styled(s.offline_answers.to_string(), problem(s.offline_answers)),
        Span::styled(" · errors ", t.dim),
        Span::styled(errors.to_string(), problem(errors)),
        Span::styled(" · failed ", t.dim),
        Span::styled(s.failed_requests.to_string(), problem(s.failed_requests)),
    ];
    let hang = [Span::raw("   ")];
    let mut lines = wrap_spans(&first, &[], &hang, w);
    lines.extend(wrap_spans(&second, &[], &hang, w));
    lines
}

/// Cost per day of the month in hundredths of a cent (bars need integers), one slot a day.
fn daily_units(d: &DashboardData) -> Vec<u64> {
    let mut days = vec![0u64; d.days_in_month as usize];
    for day in &d.stats.cost_per_day {
        // `YYYY-MM-DD`: the day of the month is the last two digits.
        let Some(n) = day.day.get(8..10).and_then(|s| s.parse::<usize>().ok()) else {
            continue;
        };
        if let Some(slot) = n.checked_sub(1).and_then(|i| days.get_mut(i)) {
            *slot += (day.cost_usd * 10_000.0).round().max(0.0) as u64;
        }
    }
    days
}

fn panel<'a>(title: String, t: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(t.border)
        .title(Span::styled(format!(" {title} "), t.title))
}

/// Horizontal bars labelled `name  count  share%`, names and numbers aligned; the numbers
/// sit in the label so a short bar never hides them.
fn labelled_bars(rows: Vec<(String, u64, f64)>, style: Style) -> Vec<Bar<'static>> {
    let name_w = rows.iter().map(|(n, _, _)| width(n)).max().unwrap_or(0);
    let count_w = rows
        .iter()
        .map(|(_, c, _)| c.to_string().len())
        .max()
        .unwrap_or(1);
    rows.into_iter()
        .map(|(name, count, share)| {
            let pad = " ".repeat(name_w.saturating_sub(width(&name)));
            Bar::default()
                .label(Line::from(format!(
                    "{name}{pad} {count:>count_w$} {:>3.0}% ",
                    share * 100.0
                )))
                .value(count)
                .text_value(String::new())
                .style(style)
        })
        .collect()
}

fn model_bars(d: &DashboardData, t: &Theme) -> Vec<Bar<'static>> {
    let rows = d
        .stats
        .requests_by_model
        .iter()
        .take(TOP_N)
        .map(|m| (short_model(&m.model), m.requests, m.share))
        .collect();
    labelled_bars(rows, t.accent)
}

/// Share of upgrades each signal took part in (signals co-occur: shares can pass 100% in sum).
fn trigger_bars(d: &DashboardData, t: &Theme) -> Vec<Bar<'static>> {
    let rows = d
        .stats
        .top_triggers
        .iter()
        .take(TOP_N)
        .map(|c| (c.signal.clone(), c.count, c.share_of_upgrades))
        .collect();
    labelled_bars(rows, t.warn)
}

fn horizontal_chart<'a>(bars: Vec<Bar<'a>>, block: Option<Block<'a>>) -> BarChart<'a> {
    let chart = BarChart::default()
        .direction(Direction::Horizontal)
        .bar_width(1)
        .bar_gap(0)
        .data(BarGroup::default().bars(&bars));
    match block {
        Some(b) => chart.block(b),
        None => chart,
    }
}

/// A horizontal bar chart in `area` (inside `block`, when given), or a dim `note` in its
/// place when there is nothing to chart.
fn chart_or_note<'a>(
    frame: &mut Frame<'_>,
    area: Rect,
    bars: Vec<Bar<'a>>,
    block: Option<Block<'a>>,
    note: &str,
    t: &Theme,
) {
    if !bars.is_empty() {
        frame.render_widget(horizontal_chart(bars, block), area);
        return;
    }
    let inner = match block {
        Some(block) => {
            let inner = block.inner(area);
            frame.render_widget(block, area);
            inner
        }
        None => area,
    };
    frame.render_widget(Paragraph::new(Span::styled(note.to_string(), t.dim)), inner);
}

fn draw_full(frame: &mut Frame<'_>, area: Rect, d: &DashboardData, t: &Theme) {
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(area);
    let [days_area, models_area] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(top);
    let [triggers_area, diag_area] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(bottom);

    // Cost per day: one bar a day when they fit, else a sparkline.
    let units = daily_units(d);
    let max_day = d
        .stats
        .cost_per_day
        .iter()
        .map(|c| c.cost_usd)
        .fold(0.0, f64::max);
    let block = panel(
        format!("cost per day · {} · max {}", d.month, money(max_day)),
        t,
    );
    let inner = block.inner(days_area);
    let n = units.len() as u16;
    if n > 0 && inner.width > n && inner.height >= 3 {
        frame.render_widget(block, days_area);
        let gap = u16::from(inner.width >= n * 2);
        let step = usize::from(1 + gap);
        let bars: Vec<Bar<'static>> = units
            .iter()
            .map(|&v| {
                Bar::default()
                    .value(v)
                    .text_value(String::new())
                    .style(t.accent)
            })
            .collect();
        let [chart, axis] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
        frame.render_widget(
            BarChart::default()
                .bar_width(1)
                .bar_gap(gap)
                .data(BarGroup::default().bars(&bars)),
            chart,
        );
        frame.render_widget(Paragraph::new(day_axis(units.len(), step, t)), axis);
    } else {
        frame.render_widget(
            Sparkline::default()
                .block(block)
                .data(&units)
                .style(t.accent),
            days_area,
        );
    }

    chart_or_note(
        frame,
        models_area,
        model_bars(d, t),
        Some(panel("models".into(), t)),
        "no requests this month",
        t,
    );
    chart_or_note(
        frame,
        triggers_area,
        trigger_bars(d, t),
        Some(panel("top upgrade triggers".into(), t)),
        "no upgrades this month",
        t,
    );

    let block = panel("errors · interaction config".into(), t);
    let inner = block.inner(diag_area);
    frame.render_widget(block, diag_area);
    let mut lines = error_lines(d, t);
    lines.extend(diagnostics_lines(d, t));
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        inner,
    );
}

fn draw_compact(frame: &mut Frame<'_>, area: Rect, d: &DashboardData, t: &Theme) {
    let [days_title, days, charts, diag] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let max_day = d
        .stats
        .cost_per_day
        .iter()
        .map(|c| c.cost_usd)
        .fold(0.0, f64::max);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(format!(" cost per day · {}", d.month), t.heading),
            Span::styled(format!(" · max {}", money(max_day)), t.dim),
        ])),
        days_title,
    );
    let units = daily_units(d);
    let spark = Rect {
        x: days.x + 1,
        width: days.width.saturating_sub(2),
        ..days
    };
    frame.render_widget(Sparkline::default().data(&units).style(t.accent), spark);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(charts);
    let heading = |area: Rect, text: &str| {
        let [h, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
        (
            h,
            body,
            Line::from(Span::styled(format!(" {text}"), t.heading)),
        )
    };
    let (h, body, title) = heading(left, "models");
    frame.render_widget(Paragraph::new(title), h);
    chart_or_note(
        frame,
        pad_left(body),
        model_bars(d, t),
        None,
        "no requests",
        t,
    );
    let (h, body, title) = heading(right, "upgrade triggers");
    frame.render_widget(Paragraph::new(title), h);
    chart_or_note(
        frame,
        pad_left(body),
        trigger_bars(d, t),
        None,
        "no upgrades",
        t,
    );
    let diag_line = diagnostics_lines(d, t)
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut spans = vec![Span::raw(" ")];
    spans.extend(diag_line.spans);
    frame.render_widget(Paragraph::new(Line::from(spans)), diag);
}

/// Day numbers under a per-day bar chart: 1, 5, 10, … under their bars.
fn day_axis(days: usize, step: usize, t: &Theme) -> Line<'static> {
    let mut text = String::new();
    for day in 1..=days {
        if day == 1 || day % 5 == 0 {
            let col = (day - 1) * step;
            if text.len() < col {
                text.push_str(&" ".repeat(col - text.len()));
            }
            if text.len() == col {
                text.push_str(&day.to_string());
            }
        }
    }
    Line::from(Span::styled(text, t.dim))
}

fn pad_left(r: Rect) -> Rect {
    Rect {
        x: r.x + 1,
        width: r.width.saturating_sub(1),
        ..r
    }
}

fn error_lines(d: &DashboardData, t: &Theme) -> Vec<Line<'static>> {
    let s = &d.stats;
    if s.errors_by_class.is_empty() {
        return vec![Line::from(Span::styled("no provider errors", t.ok))];
    }
    let parts: Vec<String> = s
        .errors_by_class
        .iter()
        .map(|c| format!("{} {}", c.class, c.count))
        .collect();
    vec![Line::from(vec![
        Span::styled("errors: ", t.dim),
        Span::styled(parts.join(", "), t.warn),
    ])]
}

fn diagnostics_lines(d: &DashboardData, t: &Theme) -> Vec<Line<'static>> {
    let g = &d.diagnostics;
    let lat = &g.resolve.lookup_latency;
    let us = |ns: u64| format!("{:.1}µs", ns as f64 / 1000.0);
    let fb = &g.resolve.fallbacks;
    let mut lines = vec![
        Line::from(vec![
            Span::styled("lookup ", t.dim),
            Span::styled(
                format!(
                    "p50≤{} p99≤{} ×{}",
                    us(lat.p50_ns_at_most),
                    us(lat.p99_ns_at_most),
                    lat.count
                ),
                t.base,
            ),
        ]),
        Line::from(vec![
            Span::styled("templates ", t.dim),
            Span::styled(
                format!(
                    "{:.0}% cached · {} renders · {} errors",
                    g.templates.hit_rate * 100.0,
                    g.templates.renders,
                    g.templates.errors
                ),
                if g.templates.errors > 0 {
                    t.warn
                } else {
                    t.base
                },
            ),
        ]),
        Line::from(vec![
            Span::styled("config fallbacks ", t.dim),
            Span::styled(
                format!("default {} · built-in {}", fb.to_default, fb.to_builtin),
                if fb.to_builtin > 0 { t.warn } else { t.base },
            ),
        ]),
        Line::from(vec![
            Span::styled("reloads ", t.dim),
            Span::styled(
                format!(
                    "{} applied · {} rejected",
                    g.reloads.applied, g.reloads.rejected
                ),
                if g.reloads.rejected > 0 {
                    t.warn
                } else {
                    t.base
                },
            ),
        ]),
    ];
    if let Some(e) = &g.reloads.last_error {
        lines.push(Line::from(Span::styled(
            format!("last reload error: {}", crate::sanitize::strip_controls(e)),
            t.error,
        )));
    }
    lines
}
