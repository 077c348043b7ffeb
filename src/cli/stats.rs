//! `grow stats` and `grow stats escalations`: the dashboard for one local month, from the
//! store's stats queries (the TUI's Dashboard reads the same ones).
//!
//! Months and days are cut at local midnight here, at the edge; the store only sees
//! millisecond ranges.

use std::io::Write;
use std::process::ExitCode;

use chrono::{Datelike, Local, NaiveDate, TimeZone};
use serde::Serialize;

use crate::config::Config;
use crate::store::{DayCost, EscalationStats, ListFilter, Projection, Stats, Store};

use super::db::{EMPTY_HINT, open_existing};
use super::style::{Style, table, usd};
use super::{StatsArgs, StatsCommand};

/// A local calendar month as a half-open millisecond range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub label: String,
    pub start_ms: i64,
    pub end_ms: i64,
    #[serde(skip)]
    first_day: NaiveDate,
}

impl Month {
    /// The month `YYYY-MM`, or this month when `None`.
    pub fn parse(text: Option<&str>) -> anyhow::Result<Month> {
        let first_day = match text {
            None => {
                let today = Local::now().date_naive();
                NaiveDate::from_ymd_opt(today.year(), today.month(), 1)
            }
            Some(t) => NaiveDate::parse_from_str(&format!("{}-01", t.trim()), "%Y-%m-%d").ok(),
        }
        .ok_or_else(|| {
            anyhow::anyhow!(
                "invalid --month `{}`: expected YYYY-MM, e.g. 2026-11",
                text.unwrap_or_default()
            )
        })?;
        let next = first_day
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(|| anyhow::anyhow!("--month is out of range"))?;
        Ok(Month {
            label: first_day.format("%Y-%m").to_string(),
            start_ms: local_midnight_ms(first_day)?,
            end_ms: local_midnight_ms(next)?,
            first_day,
        })
    }

    /// `November 2026`.
    pub fn title(&self) -> String {
        self.first_day.format("%B %Y").to_string()
    }

    /// Each local day of the month up to today (all of it for a past month).
    fn days(&self) -> anyhow::Result<Vec<(NaiveDate, i64, i64)>> {
        let today = Local::now().date_naive();
        let mut out = Vec::new();
        let mut day = self.first_day;
        while day.month() == self.first_day.month() && day <= today {
            let next = day
                .succ_opt()
                .ok_or_else(|| anyhow::anyhow!("date out of range"))?;
            out.push((day, local_midnight_ms(day)?, local_midnight_ms(next)?));
            day = next;
        }
        Ok(out)
    }
}

/// Local midnight of `day` in unix ms. Where a DST change skips midnight, the first
/// instant of the day that exists.
pub fn local_midnight_ms(day: NaiveDate) -> anyhow::Result<i64> {
    for hour in 0..3 {
        let naive = day
            .and_hms_opt(hour, 0, 0)
            .ok_or_else(|| anyhow::anyhow!("invalid date {day}"))?;
        if let Some(t) = Local.from_local_datetime(&naive).earliest() {
            return Ok(t.timestamp_millis());
        }
    }
    anyhow::bail!("{day} has no local midnight in this time zone")
}

/// `YYYY-MM-DD` as local midnight in ms, for `--since`.
pub fn parse_date(flag: &str, text: &str) -> anyhow::Result<i64> {
    let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        anyhow::anyhow!("invalid {flag} `{text}`: expected a date as YYYY-MM-DD, e.g. 2026-11-01")
    })?;
    local_midnight_ms(day)
}

/// `2026-11-03 14:05` in local time.
pub fn local_time(ms: i64) -> String {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// `2026-11-03` in local time.
pub fn local_date(ms: i64) -> String {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// The `grow stats --json` document.
#[derive(Debug, Serialize)]
pub struct StatsReport {
    pub month: Month,
    /// The model "savings vs all-upgrade" is priced on.
    pub upgrade_model: String,
    /// `stats.cost_per_day` holds every local day of the month so far, zero days included.
    pub stats: Stats,
    pub projection: Projection,
}

/// The `grow stats escalations --json` document.
#[derive(Debug, Serialize)]
pub struct EscalationReport {
    pub month: Month,
    pub escalations: EscalationStats,
}

pub fn run(config: &Config, args: StatsArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let month = Month::parse(args.month.as_deref())?;
    let style = Style::stdout();
    let existing = open_existing(config)?;
    let has_history = match &existing {
        Some(store) => !store
            .list_conversations(&ListFilter {
                limit: Some(1),
                ..ListFilter::default()
            })?
            .is_empty(),
        None => false,
    };
    // With no database yet, an empty in-memory one gives the same (zero) JSON shape.
    let store = match existing {
        Some(store) => store,
        None => Store::open_in_memory()?,
    };
    match args.command {
        Some(StatsCommand::Escalations) => {
            let report = EscalationReport {
                escalations: store.escalation_stats(month.start_ms, month.end_ms)?,
                month,
            };
            if args.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else if !has_history {
                writeln!(out, "{EMPTY_HINT}")?;
            } else {
                write!(out, "{}", render_escalations(&report, style))?;
            }
        }
        None => {
            let report = build_report(
                &store,
                month,
                &config.settings.models.upgrade,
                (args.users, args.sessions, args.turns),
            )?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else if !has_history {
                writeln!(out, "{EMPTY_HINT}")?;
            } else {
                write!(out, "{}", render(&report, style))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn build_report(
    store: &Store,
    month: Month,
    upgrade_model: &str,
    (users, sessions, turns): (u64, u64, u64),
) -> anyhow::Result<StatsReport> {
    let mut stats = store.stats(month.start_ms, month.end_ms)?;
    // Per day from local day boundaries (DST-correct), not a fixed UTC offset.
    let mut cost_per_day = Vec::new();
    for (day, start, end) in month.days()? {
        let t = store.costs_between(start, end)?;
        cost_per_day.push(DayCost {
            day: day.format("%Y-%m-%d").to_string(),
            cost_usd: t.cost_usd,
            upgrade_equiv_cost_usd: t.upgrade_equiv_cost_usd,
            calls: t.calls,
        });
    }
    stats.cost_per_day = cost_per_day;
    let projection = stats.projection(users, sessions, turns);
    Ok(StatsReport {
        month,
        upgrade_model: upgrade_model.to_string(),
        stats,
        projection,
    })
}

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Dollars as people read them here: sub-dollar amounts to a hundredth of a cent (a turn
/// costs fractions of a cent), larger ones to the cent with separators (`$1,234.56`).
pub fn money(v: f64) -> String {
    if v.abs() < 1.0 && v != 0.0 {
        format!("{}${:.4}", if v < 0.0 { "-" } else { "" }, v.abs())
    } else {
        usd_big(v)
    }
}

/// Dollars for large projected amounts: `$1,234.56`.
fn usd_big(v: f64) -> String {
    if v.abs() < 100.0 {
        return usd(v);
    }
    let cents = (v.abs() * 100.0).round() as u64;
    let sign = if v < 0.0 { "-" } else { "" };
    format!("{sign}${}.{:02}", thousands(cents / 100), cents % 100)
}

/// Indents a table by two spaces (and drops padding after the last cell). A table whose
/// headers are all empty is printed without its header line.
fn indent(text: &str) -> String {
    let mut lines = text.lines().peekable();
    if lines.peek().is_some_and(|h| h.trim().is_empty()) {
        lines.next();
    }
    lines.map(|l| format!("  {}\n", l.trim_end())).collect()
}

/// `1 call`, `2 calls`.
fn count(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// A horizontal bar of `width` cells for `value / max`, in eighth-blocks.
fn bar(value: f64, max: f64, width: usize) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    if max <= 0.0 || value <= 0.0 {
        return String::new();
    }
    let eighths = ((value / max).min(1.0) * (width * 8) as f64).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(EIGHTHS[eighths % 8]);
    }
    if s.is_empty() {
        s.push('▏');
    }
    s
}

pub fn render(report: &StatsReport, style: Style) -> String {
    let s = &report.stats;
    let mut out = String::new();
    out.push_str(&style.bold(&format!("grow stats · {}", report.month.title())));
    out.push_str(&style.dim(" (local time)\n\n"));
    if s.requests == 0 && s.costs.calls == 0 && s.turns == 0 {
        out.push_str(&format!(
            "nothing recorded in {} — try another --month\n",
            report.month.title()
        ));
        return out;
    }

    out.push_str(&style.bold("Requests"));
    out.push_str(&format!(
        "  {} routed · {} upgraded ({})\n",
        thousands(s.requests),
        thousands(s.upgrades),
        pct(s.upgrade_rate)
    ));
    if !s.requests_by_model.is_empty() {
        let rows: Vec<Vec<String>> = s
            .requests_by_model
            .iter()
            .map(|m| vec![m.model.clone(), thousands(m.requests), pct(m.share)])
            .collect();
        out.push_str(&indent(&table(
            &["model", "requests", "share"],
            &rows,
            &[1, 2],
        )));
    }

    out.push('\n');
    out.push_str(&style.bold("Top upgrade triggers"));
    out.push('\n');
    if s.top_triggers.is_empty() {
        out.push_str("  no upgrades this month\n");
    } else {
        let rows: Vec<Vec<String>> = s
            .top_triggers
            .iter()
            .map(|t| {
                vec![
                    t.signal.clone(),
                    thousands(t.count),
                    pct(t.share_of_upgrades),
                    pct(t.share_of_triggers),
                ]
            })
            .collect();
        out.push_str(&indent(&table(
            &["signal", "count", "of upgrades", "of triggers"],
            &rows,
            &[1, 2, 3],
        )));
    }

    out.push('\n');
    out.push_str(&style.bold("Cost"));
    out.push('\n');
    let c = &s.costs;
    let rows = vec![
        vec![
            "this month".into(),
            money(c.cost_usd),
            format!(
                "{} · {} in / {} out / {} cached tokens",
                count(c.calls, "call"),
                thousands(c.usage.input_tokens + c.usage.cache_creation_input_tokens),
                thousands(c.usage.output_tokens),
                thousands(c.usage.cache_read_input_tokens)
            ),
        ],
        vec![
            "per conversation".into(),
            money(s.avg_cost_per_conversation),
            format!(
                "{} · {:.1} turns each",
                count(s.conversations, "conversation"),
                s.avg_turns_per_conversation
            ),
        ],
        vec![
            "per active user".into(),
            money(s.cost_per_active_profile),
            format!("{} active", thousands(s.active_profiles)),
        ],
        vec![
            "per turn".into(),
            money(s.avg_cost_per_turn),
            count(s.turns, "turn"),
        ],
        vec![
            format!("all on {}", report.upgrade_model),
            money(c.upgrade_equiv_cost_usd),
            style.green(&format!(
                "routing saved {} ({})",
                money(s.savings_vs_all_upgrade_usd),
                pct(s.savings_vs_all_upgrade_share)
            )),
        ],
        vec![
            "prompt caching".into(),
            money(s.cache_savings_usd),
            "saved vs no caching".into(),
        ],
        vec![
            "analyzer".into(),
            money(s.analyzer.cost_usd),
            count(s.analyzer.calls, "call"),
        ],
    ];
    out.push_str(&indent(&table(&["", "", ""], &rows, &[1])));

    if !report.stats.cost_per_day.is_empty() {
        out.push('\n');
        out.push_str(&style.bold("Per day"));
        out.push('\n');
        let max = report
            .stats
            .cost_per_day
            .iter()
            .map(|d| d.cost_usd)
            .fold(0.0, f64::max);
        let rows: Vec<Vec<String>> = report
            .stats
            .cost_per_day
            .iter()
            .map(|d| {
                vec![
                    d.day.clone(),
                    money(d.cost_usd),
                    thousands(d.calls),
                    style.cyan(&bar(d.cost_usd, max, 30)),
                ]
            })
            .collect();
        out.push_str(&indent(&table(
            &["day", "cost", "calls", ""],
            &rows,
            &[1, 2],
        )));
    }

    if !s.cost_per_conversation.is_empty() {
        out.push('\n');
        out.push_str(&style.bold("Most expensive conversations"));
        out.push('\n');
        let rows: Vec<Vec<String>> = s
            .cost_per_conversation
            .iter()
            .take(5)
            .map(|c| {
                vec![
                    c.conversation_id.to_string(),
                    super::review::clip(c.title.as_deref().unwrap_or("(untitled)"), 40),
                    thousands(c.calls),
                    money(c.cost_usd),
                ]
            })
            .collect();
        out.push_str(&indent(&table(
            &["id", "title", "calls", "cost"],
            &rows,
            &[0, 2, 3],
        )));
    }

    out.push('\n');
    out.push_str(&style.bold("Fallbacks and errors"));
    out.push_str(&format!(
        "  {} · {} ({} to the offline coach) · {}\n",
        count(s.attempts, "attempt"),
        count(s.fallbacks, "fallback"),
        thousands(s.offline_answers),
        count(s.failed_requests, "failed request")
    ));
    if !s.errors_by_class.is_empty() {
        let rows: Vec<Vec<String>> = s
            .errors_by_class
            .iter()
            .map(|e| vec![e.class.clone(), thousands(e.count)])
            .collect();
        out.push_str(&indent(&table(&["error class", "count"], &rows, &[1])));
    }
    if !s.signal_origins.is_empty() {
        let origins: Vec<String> = s
            .signal_origins
            .iter()
            .map(|o| format!("{} {}", o.class, thousands(o.count)))
            .collect();
        out.push_str(&format!("  signals from: {}\n", origins.join(" · ")));
    }

    let p = &report.projection;
    out.push('\n');
    out.push_str(&style.bold(&format!(
        "Projection: {} users × {} sessions × {} turns a month",
        thousands(p.users),
        thousands(p.sessions_per_user),
        thousands(p.turns_per_session)
    )));
    out.push('\n');
    let rows = vec![
        vec![
            "turns".into(),
            thousands(p.turns),
            format!("at your average of {} a turn", money(s.avg_cost_per_turn)),
        ],
        vec![
            "monthly cost".into(),
            usd_big(p.monthly_cost_usd),
            format!("{} a user", money(p.cost_per_user_usd)),
        ],
        vec![
            "all-upgrade".into(),
            usd_big(p.all_upgrade_cost_usd),
            style.green(&format!("routing saves {}", usd_big(p.savings_usd))),
        ],
    ];
    out.push_str(&indent(&table(&["", "", ""], &rows, &[1])));
    out
}

pub fn render_escalations(report: &EscalationReport, style: Style) -> String {
    let e = &report.escalations;
    let mut out = String::new();
    out.push_str(&style.bold(&format!(
        "grow stats escalations · {}",
        report.month.title()
    )));
    out.push('\n');
    let rate = if e.decisions == 0 {
        0.0
    } else {
        e.upgraded as f64 / e.decisions as f64
    };
    out.push_str(&format!(
        "{} · {} upgraded ({})\n",
        count(e.decisions, "decision"),
        thousands(e.upgraded),
        pct(rate)
    ));
    if e.decisions == 0 {
        out.push_str(&format!(
            "nothing recorded in {} — try another --month\n",
            report.month.title()
        ));
        return out;
    }
    out.push('\n');
    out.push_str(&style.bold("Signals"));
    out.push('\n');
    if e.signals.is_empty() {
        out.push_str("  no signal fired\n");
    } else {
        let rows: Vec<Vec<String>> = e
            .signals
            .iter()
            .map(|s| {
                vec![
                    s.signal.clone(),
                    thousands(s.fired),
                    thousands(s.escalated),
                    pct(s.escalation_rate),
                ]
            })
            .collect();
        out.push_str(&indent(&table(
            &["signal", "fired", "escalated", "rate"],
            &rows,
            &[1, 2, 3],
        )));
    }
    out.push('\n');
    out.push_str(&style.bold("Interactions"));
    out.push('\n');
    let rows: Vec<Vec<String>> = e
        .interactions
        .iter()
        .map(|i| {
            vec![
                i.interaction.clone(),
                thousands(i.decisions),
                thousands(i.upgraded),
                pct(i.upgrade_rate),
            ]
        })
        .collect();
    out.push_str(&indent(&table(
        &["interaction", "decisions", "upgraded", "rate"],
        &rows,
        &[1, 2, 3],
    )));
    out.push('\n');
    out.push_str(&style.bold("Signals that fire together"));
    out.push('\n');
    if e.pairs.is_empty() {
        out.push_str("  no two signals fired in the same message\n");
    } else {
        let rows: Vec<Vec<String>> = e
            .pairs
            .iter()
            .take(10)
            .map(|p| {
                vec![
                    format!("{} + {}", p.a, p.b),
                    thousands(p.count),
                    thousands(p.upgraded),
                ]
            })
            .collect();
        out.push_str(&indent(&table(
            &["pair", "together", "upgraded"],
            &rows,
            &[1, 2],
        )));
    }
    let safety: Vec<String> = e
        .safety
        .iter()
        .map(|s| format!("{} {}", s.class, thousands(s.count)))
        .collect();
    out.push('\n');
    out.push_str(&format!(
        "{} {}\n",
        style.bold("Safety"),
        safety.join(" · ")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(120_000), "120,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        assert_eq!(bar(1.0, 1.0, 4), "████");
        assert_eq!(bar(0.5, 1.0, 4), "██");
        assert_eq!(bar(0.0, 1.0, 4), "");
        assert_eq!(bar(0.0001, 1.0, 4), "▏");
    }

    #[test]
    fn bad_months_and_dates_say_the_expected_format() {
        let err = Month::parse(Some("11/2026")).unwrap_err().to_string();
        assert!(err.contains("YYYY-MM"), "{err}");
        let err = parse_date("--since", "yesterday").unwrap_err().to_string();
        assert!(err.contains("YYYY-MM-DD"), "{err}");
        let m = Month::parse(Some("2026-12")).unwrap();
        assert_eq!(m.label, "2026-12");
        assert!(m.end_ms - m.start_ms >= 30 * 86_400_000);
    }

    #[test]
    fn big_amounts_get_separators() {
        assert_eq!(usd_big(1234.5), "$1,234.50");
        assert_eq!(usd_big(0.5), "$0.50");
        assert_eq!(money(0.01338), "$0.0134");
        assert_eq!(money(0.0), "$0");
        assert_eq!(money(2140.0), "$2,140.00");
    }
}
