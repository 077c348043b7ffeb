//! The cost meter, always visible: this turn, this conversation, today, this month (against
//! the budget when one is set, warning from 80%), savings against all-upgrade, cache savings,
//! and a sparkline of cost per turn. Two lines when there is room, else one line showing as
//! many figures as fit, most important first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use super::super::app::App;
use super::super::theme::Theme;
use super::super::wrap::width;
use super::{bar, money};

/// Budget use from which the meter warns.
pub const BUDGET_WARN: f64 = 0.8;
/// Most turns the sparkline shows.
const SPARK_MAX: u16 = 24;

type Segment = Vec<Span<'static>>;

fn kv(k: &str, v: String, t: &Theme) -> Segment {
    vec![
        Span::styled(format!("{k} "), t.dim),
        Span::styled(v, t.strong),
    ]
}

/// Totals: turn, conversation, today, month with the budget gauge.
fn totals(app: &App) -> Vec<Segment> {
    let t = &app.theme;
    let c = app.costs();
    let tab = app.tab();
    let last_turn = tab.cost_per_turn.last().copied().unwrap_or(0.0);
    let mut month = kv("month", money(c.month), t);
    if let Some(budget) = app.monthly_budget().filter(|b| *b > 0.0) {
        let frac = c.month / budget;
        let style = if frac >= 1.0 {
            t.error
        } else if frac >= BUDGET_WARN {
            t.warn
        } else {
            t.bar_fill
        };
        let (fill, empty) = bar(frac, 8);
        month.push(Span::styled(format!(" of {} ", money(budget)), t.dim));
        month.push(Span::styled(fill, style));
        month.push(Span::styled(empty, t.bar_empty));
        let warn = if frac >= BUDGET_WARN { "⚠" } else { "" };
        month.push(Span::styled(format!(" {warn}{:.0}%", frac * 100.0), style));
    }
    vec![
        kv("turn", money(last_turn), t),
        kv("conversation", money(tab.conversation_cost), t),
        kv("today", money(c.today), t),
        month,
    ]
}

/// Savings: against all-upgrade, and from prompt caching.
fn savings(app: &App) -> Vec<Segment> {
    let t = &app.theme;
    let c = app.costs();
    let mut segs = Vec::new();
    if c.month_if_all_upgrade > 0.0 {
        let saved = c.month_if_all_upgrade - c.month;
        let pct = saved / c.month_if_all_upgrade * 100.0;
        if saved >= 0.0 {
            segs.push(vec![
                Span::styled("saved ", t.dim),
                Span::styled(format!("{} ({pct:.0}%)", money(saved)), t.ok),
                Span::styled(" vs all-upgrade", t.dim),
            ]);
        } else {
            // Possible with pins to pricier models than the upgrade model.
            segs.push(vec![
                Span::styled("spent ", t.dim),
                Span::styled(format!("{} more", money(-saved)), t.warn),
                Span::styled(" than all-upgrade", t.dim),
            ]);
        }
    }
    if c.month_cache_savings > 0.0 {
        segs.push(vec![
            Span::styled("cache saved ", t.dim),
            Span::styled(money(c.month_cache_savings), t.ok),
        ]);
    }
    segs
}

/// Joins segments with separators, stopping before the first that does not fit.
fn fit(segs: Vec<Segment>, max: usize, t: &Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (i, seg) in segs.into_iter().enumerate() {
        let sep = if i == 0 { 0 } else { 3 };
        let w: usize = seg.iter().map(|s| width(&s.content)).sum();
        if used + sep + w > max {
            break;
        }
        if sep > 0 {
            spans.push(Span::styled(" · ", t.dim));
        }
        spans.extend(seg);
        used += sep + w;
    }
    Line::from(spans)
}

fn sparkline(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let costs = &app.tab().cost_per_turn;
    let n = usize::from(area.width);
    // Micro-dollars: the sparkline wants integers; the newest turns win the space.
    let data: Vec<u64> = costs
        .iter()
        .skip(costs.len().saturating_sub(n))
        .map(|c| (c.max(0.0) * 1_000_000.0).round() as u64)
        .collect();
    frame.render_widget(
        Sparkline::default().data(&data).style(app.theme.accent),
        area,
    );
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let has_turns = !app.tab().cost_per_turn.is_empty();
    if area.height >= 2 {
        let [top, bottom] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
        frame.render_widget(
            Paragraph::new(fit(totals(app), usize::from(top.width), t)),
            top,
        );
        let spark_w = if has_turns {
            SPARK_MAX.min(bottom.width / 4)
        } else {
            0
        };
        let label = if has_turns { "per turn " } else { "" };
        let [text, lab, spark] = Layout::horizontal([
            Constraint::Fill(1),
            Constraint::Length(width(label) as u16),
            Constraint::Length(spark_w),
        ])
        .areas(bottom);
        frame.render_widget(
            Paragraph::new(fit(savings(app), usize::from(text.width), t)),
            text,
        );
        frame.render_widget(Paragraph::new(Span::styled(label, t.dim)), lab);
        if spark_w > 0 {
            sparkline(frame, spark, app);
        }
    } else {
        let mut segs = totals(app);
        let month = segs.pop();
        segs.truncate(1);
        segs.extend(month);
        segs.extend(savings(app));
        frame.render_widget(Paragraph::new(fit(segs, usize::from(area.width), t)), area);
    }
}
