//! The routing panel: the decision for the draft being typed ("would use …"), the latest turn
//! or a selected past turn — model, tier, why, every signal with its score and evidence, token
//! estimate against the budget, fallback attempts and time to first token.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use super::super::app::App;
use super::super::conversation::TurnRecord;
use super::super::theme::Theme;
use super::super::wrap::{truncate, wrap_spans};
use super::{bar, money, thousands};
use crate::catalog::OFFLINE_MODEL;
use crate::routing::analyzer::{AnalyzerReport, AnalyzerStatus};
use crate::routing::types::{RouteDecision, Safety, SignalOrigin, SignalSource};
use crate::sanitize::strip_controls;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let tab = app.tab();
    let (title, lines) = if app.panel_shows_preview() {
        let d = app.preview();
        let inner_w = usize::from(area.width.saturating_sub(4));
        let mut lines = Vec::new();
        if let Some(d) = d {
            lines.push(Line::from(vec![
                Span::styled("would use ", t.dim),
                Span::styled(d.model.clone(), t.title),
            ]));
            lines.push(Line::from(Span::styled("(draft, not sent)", t.dim)));
            lines.push(Line::default());
            lines.extend(decision_lines(d, inner_w, t));
        }
        (" routing · live preview ".to_string(), lines)
    } else if let Some((i, rec)) = app.panel_turn() {
        let inner_w = usize::from(area.width.saturating_sub(4));
        let selected = if tab.selected_turn.is_some() {
            " · [ ] select · Esc latest"
        } else {
            ""
        };
        (
            format!(
                " routing · turn {} of {}{selected} ",
                i + 1,
                tab.turns.len()
            ),
            turn_lines(rec, inner_w, t),
        )
    } else {
        let lines = vec![
            Line::from(Span::styled("No turn yet.", t.dim)),
            Line::default(),
            Line::from(Span::styled(
                "Start typing: the decision for your draft appears here live.",
                t.dim,
            )),
        ];
        (" routing ".to_string(), lines)
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(t.border)
        .title(Span::styled(
            truncate(&title, usize::from(area.width.saturating_sub(2))),
            t.title,
        ))
        .title_bottom(Line::from(Span::styled(" F2 hides ", t.dim)).alignment(Alignment::Right));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    let text_area = Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    };
    let wrapped: Vec<Line<'static>> = lines
        .into_iter()
        .flat_map(|l| {
            if l.width() <= usize::from(text_area.width) {
                vec![l]
            } else {
                let hang = Span::raw(" ".repeat(hanging_indent(&l)));
                wrap_spans(&l.spans, &[], &[hang], usize::from(text_area.width))
            }
        })
        .collect();
    let rows = usize::from(text_area.height);
    let max_scroll = wrapped.len().saturating_sub(rows);
    let scroll = app.routing_scroll().min(max_scroll);
    let more_below = wrapped.len() > scroll + rows;
    let shown: Vec<Line<'static>> = wrapped.into_iter().skip(scroll).take(rows).collect();
    frame.render_widget(Paragraph::new(shown), text_area);
    if more_below || scroll > 0 {
        let mark = match (scroll > 0, more_below) {
            (true, true) => " ↑↓ more (Alt+↑/↓) ",
            (false, true) => " ↓ more (Alt+↓) ",
            _ => " ↑ more (Alt+↑) ",
        };
        let w = u16::try_from(super::super::wrap::width(mark)).unwrap_or(0);
        if area.width > w + 2 {
            let r = Rect {
                x: area.x + 2,
                y: area.y + area.height - 1,
                width: w,
                height: 1,
            };
            frame.render_widget(Paragraph::new(Span::styled(mark, t.warn)), r);
        }
    }
}

/// Width of the label column ("model", "tier", …).
const LABEL_W: usize = 10;

/// Where continuation lines of a too-long panel line start: under the value of a labelled
/// line, or a little deeper than an indented one.
fn hanging_indent(line: &Line<'_>) -> usize {
    match line.spans.first() {
        Some(first) if first.content.trim().is_empty() => first.content.len() + 1,
        Some(first) if first.content.ends_with(' ') => first.content.chars().count(),
        _ => 2,
    }
}

fn label(name: &str, t: &Theme) -> Span<'static> {
    Span::styled(format!("{name:<LABEL_W$}"), t.dim)
}

/// Everything about one decision, for a panel `w` cells wide.
pub fn decision_lines(d: &RouteDecision, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    lines.push(Line::from(vec![
        label("model", t),
        Span::styled(d.model.clone(), t.strong),
        Span::styled(format!(" · {}", d.provider), t.dim),
    ]));
    let mut tier = vec![label("tier", t), Span::raw(d.tier.to_string())];
    if d.upgraded {
        tier.push(Span::styled("  ↑ upgraded", t.warn));
    } else {
        tier.push(Span::styled("  default", t.ok));
    }
    if d.pinned {
        tier.push(Span::styled(" · pinned", t.accent));
    }
    if d.affinity {
        tier.push(Span::styled(" · affinity", t.accent));
    }
    lines.push(Line::from(tier));
    if d.safety != Safety::None {
        let style = if d.safety == Safety::Crisis {
            t.safety
        } else {
            t.warn
        };
        lines.push(Line::from(vec![
            label("safety", t),
            Span::styled(format!(" {} ", d.safety.as_str().to_uppercase()), style),
        ]));
    }
    for (i, reason) in d.reasons.iter().enumerate() {
        let head = if i == 0 {
            label("why", t)
        } else {
            label("", t)
        };
        lines.push(Line::from(vec![
            head,
            Span::raw(strip_controls(reason).into_owned()),
        ]));
    }
    let origin = match d.signal_origin {
        SignalOrigin::Deterministic => "deterministic",
        SignalOrigin::Analyzer => "analyzer",
        SignalOrigin::Fallback => "fallback (analyzer failed)",
    };
    lines.push(Line::from(vec![
        label("signals", t),
        Span::styled(
            if d.signals.is_empty() {
                format!("none · {origin}")
            } else {
                origin.to_string()
            },
            t.dim,
        ),
    ]));
    lines.push(Line::from(vec![
        label("analyzer", t),
        analyzer_span(d.analyzer.as_ref(), t),
    ]));
    let name_w = d
        .signals
        .iter()
        .map(|s| s.kind.as_str().len())
        .max()
        .unwrap_or(0);
    let bar_w = w.saturating_sub(name_w + 2 + 6).clamp(4, 16);
    for s in &d.signals {
        let (fill, empty) = bar(f64::from(s.score), bar_w);
        let style = if s.kind.as_str() == "crisis" {
            t.error
        } else if s.score >= 0.7 {
            t.warn
        } else {
            t.bar_fill
        };
        lines.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(format!("{:<name_w$}", s.kind.as_str()), t.strong),
            Span::raw(" "),
            Span::styled(fill, style),
            Span::styled(empty, t.bar_empty),
            Span::raw(format!(" {:.2}", s.score)),
        ]));
        let src = match s.source {
            SignalSource::Deterministic => "",
            SignalSource::Analyzer => " [analyzer]",
            SignalSource::Merged => " [merged]",
        };
        lines.push(Line::from(vec![
            Span::raw("    "),
            Span::styled(format!("“{}”{src}", strip_controls(&s.evidence)), t.quote),
        ]));
    }
    let frac = if d.budget_tokens > 0 {
        d.estimated_input_tokens as f64 / d.budget_tokens as f64
    } else {
        0.0
    };
    let (fill, empty) = bar(frac, 10);
    lines.push(Line::from(vec![
        label("tokens", t),
        Span::raw(thousands(d.estimated_input_tokens)),
        Span::styled(format!(" / {}", thousands(d.budget_tokens)), t.dim),
    ]));
    lines.push(Line::from(vec![
        label("", t),
        Span::styled(fill, if frac >= 0.85 { t.warn } else { t.bar_fill }),
        Span::styled(empty, t.bar_empty),
        Span::styled(format!(" {:.0}% of budget", frac * 100.0), t.dim),
    ]));
    lines.push(Line::from(vec![
        label("estimate", t),
        Span::raw(money(d.estimated_cost_usd)),
    ]));
    if d.plan.len() > 1 {
        let plan: Vec<String> = d.plan.iter().skip(1).map(|p| p.model.clone()).collect();
        lines.push(Line::from(vec![
            label("fallback", t),
            Span::styled(plan.join(" → "), t.dim),
        ]));
    }
    lines
}

/// What the analyzer did for a decision, in words: `used · gpt-4.1-mini · 312 ms · $0.0002`,
/// `timed out · …`, `circuit open`, `cached · …`, `off`.
pub fn analyzer_text(report: Option<&AnalyzerReport>) -> String {
    let Some(r) = report else {
        return "off".to_string();
    };
    let model = strip_controls(&r.model);
    match r.status {
        AnalyzerStatus::Off => "off".to_string(),
        AnalyzerStatus::Used => format!(
            "used · {model} · {} ms · {}",
            r.latency_ms,
            money(r.cost_usd)
        ),
        AnalyzerStatus::Cached => format!("cached · {model}"),
        AnalyzerStatus::TimedOut => format!("timed out · {model} · {} ms", r.latency_ms),
        AnalyzerStatus::CircuitOpen => "circuit open (skipped)".to_string(),
        AnalyzerStatus::Invalid => format!("invalid answer · {model}"),
        AnalyzerStatus::Failed => format!("failed · {model}"),
    }
}

fn analyzer_span(report: Option<&AnalyzerReport>, t: &Theme) -> Span<'static> {
    let style = match report.map(|r| r.status) {
        None | Some(AnalyzerStatus::Off) => t.dim,
        Some(AnalyzerStatus::Used | AnalyzerStatus::Cached) => t.ok,
        Some(_) => t.warn,
    };
    Span::styled(analyzer_text(report), style)
}

/// A turn: its decision, then what happened (attempts, first token, who answered, cost).
pub fn turn_lines(rec: &TurnRecord, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = match &rec.decision {
        Some(d) => decision_lines(d, w, t),
        None => vec![Line::from(Span::styled("routing…", t.dim))],
    };
    if !rec.attempts.is_empty() {
        lines.push(Line::from(label("attempts", t)));
        for a in &rec.attempts {
            let ok = a.outcome == "ok";
            let mark = if ok {
                Span::styled("  ✓ ", t.ok)
            } else {
                Span::styled("  ✗ ", t.error)
            };
            let status = a.http_status.map(|s| format!(" {s}")).unwrap_or_default();
            let mut spans = vec![
                mark,
                Span::raw(a.model.clone()),
                Span::styled(
                    format!(" {}{status}", a.outcome),
                    if ok { t.ok } else { t.warn },
                ),
                Span::styled(format!(" {:.2}s", a.duration_ms as f64 / 1000.0), t.dim),
            ];
            if let Some(fb) = a.first_byte_ms {
                spans.push(Span::styled(format!(" (1st byte {fb} ms)"), t.dim));
            }
            lines.push(Line::from(spans));
            if let Some(note) = &a.note {
                lines.push(Line::from(vec![
                    Span::raw("    "),
                    Span::styled(strip_controls(note).into_owned(), t.dim),
                ]));
            }
        }
    } else if let Some(m) = &rec.current_attempt {
        lines.push(Line::from(vec![label("trying", t), Span::raw(m.clone())]));
    }
    if let Some(ms) = rec.first_token_ms {
        lines.push(Line::from(vec![
            label("1st token", t),
            Span::raw(format!("{ms} ms")),
        ]));
    }
    if let Some(s) = &rec.summary {
        let mut spans = vec![label("answered", t), Span::raw(s.model.clone())];
        if s.offline || s.model == OFFLINE_MODEL {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(" offline coach ", t.offline_label));
        }
        spans.push(Span::styled(format!(" · {}", s.status.as_str()), t.dim));
        lines.push(Line::from(spans));
        lines.push(Line::from(vec![
            label("usage", t),
            Span::raw(format!(
                "{} in · {} out",
                thousands(s.usage.total_input()),
                thousands(s.usage.output_tokens)
            )),
        ]));
        if s.usage.cache_read_input_tokens > 0 {
            lines.push(Line::from(vec![
                label("", t),
                Span::styled(
                    format!(
                        "{} read from cache",
                        thousands(s.usage.cache_read_input_tokens)
                    ),
                    t.ok,
                ),
            ]));
        }
        lines.push(Line::from(vec![
            label("cost", t),
            Span::raw(money(s.cost_usd)),
        ]));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(status: AnalyzerStatus) -> AnalyzerReport {
        AnalyzerReport {
            status,
            model: "gpt-4.1-mini".into(),
            latency_ms: 312,
            cost_usd: 0.0002,
            cached: status == AnalyzerStatus::Cached,
            added_ms: 40,
        }
    }

    #[test]
    fn analyzer_line_names_each_outcome() {
        assert_eq!(analyzer_text(None), "off");
        assert_eq!(
            analyzer_text(Some(&report(AnalyzerStatus::Used))),
            "used · gpt-4.1-mini · 312 ms · $0.0002"
        );
        assert_eq!(
            analyzer_text(Some(&report(AnalyzerStatus::TimedOut))),
            "timed out · gpt-4.1-mini · 312 ms"
        );
        assert_eq!(
            analyzer_text(Some(&report(AnalyzerStatus::CircuitOpen))),
            "circuit open (skipped)"
        );
        assert_eq!(
            analyzer_text(Some(&report(AnalyzerStatus::Cached))),
            "cached · gpt-4.1-mini"
        );
    }
}
