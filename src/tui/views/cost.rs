//! The cost meter: one line, always visible. This turn, this conversation, today, this month
//! (against the budget when one is set), savings against all-upgrade, cache savings, and a
//! sparkline of cost per turn.

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

/// The meter's text segments, most important first; as many as fit are shown.
pub fn segments(app: &App) -> Vec<Vec<Span<'static>>> {
    let t = &app.theme;
    let c = app.costs();
    let tab = app.tab();
    let last_turn = tab.cost_per_turn.last().copied().unwrap_or(0.0);
    let kv = |k: &str, v: String, t: &Theme| {
        vec![
            Span::styled(format!("{k} "), t.dim),
            Span::styled(v, t.strong),
        ]
    };
    let mut segs = vec![
        kv("turn", money(last_turn), t),
        kv("conv", money(tab.conversation_cost), t),
        kv("today", money(c.today), t),
    ];
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
        month.push(Span::styled(format!("/{} ", money(budget)), t.dim));
        month.push(Span::styled(fill, style));
        month.push(Span::styled(empty, t.bar_empty));
        let warn = if frac >= BUDGET_WARN { "⚠" } else { "" };
        month.push(Span::styled(format!(" {warn}{:.0}%", frac * 100.0), style));
    }
    segs.push(month);
    let saved = c.month_if_all_upgrade - c.month;
    if c.month_if_all_upgrade > 0.0 {
        let pct = saved / c.month_if_all_upgrade * 100.0;
        segs.push(vec![
            Span::styled("saved ", t.dim),
            Span::styled(format!("{} ({pct:.0}%)", money(saved)), t.ok),
        ]);
    }
    if c.month_cache_savings > 0.0 {
        segs.push(vec![
            Span::styled("cache ", t.dim),
            Span::styled(format!("−{}", money(c.month_cache_savings)), t.ok),
        ]);
    }
    segs
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let costs = &app.tab().cost_per_turn;
    let spark_w: u16 = if area.width >= 90 && !costs.is_empty() {
        16
    } else {
        0
    };
    let [text_area, spark_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(spark_w)]).areas(area);
    let max = usize::from(text_area.width);
    let mut spans = vec![Span::styled(" $ ", t.accent)];
    let mut used = 3;
    for (i, seg) in segments(app).into_iter().enumerate() {
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
    frame.render_widget(Paragraph::new(Line::from(spans)), text_area);
    if spark_w > 0 {
        // Micro-dollars: the sparkline wants integers; the newest turns win the space.
        let n = usize::from(spark_w);
        let data: Vec<u64> = costs
            .iter()
            .skip(costs.len().saturating_sub(n))
            .map(|c| (c.max(0.0) * 1_000_000.0).round() as u64)
            .collect();
        frame.render_widget(Sparkline::default().data(&data).style(t.accent), spark_area);
    }
}
