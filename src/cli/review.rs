//! `grow review`: list, show, search, export and import saved conversations, offline.
//!
//! Every query is the store's (the TUI's Review screen reads the same ones). Message text is
//! untrusted model output: human output strips terminal control sequences before printing.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

use crate::config::Config;
use crate::sanitize::strip_controls;
use crate::store::{
    ConversationDetail, ConversationKind, ListFilter, Message, MessageStatus, ModelCount, Role,
    SnippetStyle, Store, StoreError, Turn,
};

use super::db::{EMPTY_HINT, open_existing};
use super::stats::{local_date, local_time, money, parse_date, thousands};
use super::style::{Style, table};
use super::{ExportFormat, ReviewCommand};

/// Hit markers the store puts in snippets for the human face: private-use characters no
/// message contains after sanitising, swapped for colour or brackets at print time.
const HIT_OPEN: char = '\u{E000}';
const HIT_CLOSE: char = '\u{E001}';

pub fn run(config: &Config, cmd: ReviewCommand, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let style = Style::stdout();
    match cmd {
        ReviewCommand::List {
            since,
            model,
            limit,
            json,
        } => {
            let filter = ListFilter {
                since_ms: since
                    .as_deref()
                    .map(|s| parse_date("--since", s))
                    .transpose()?,
                model,
                profile_id: None,
                limit,
            };
            list(open_existing(config)?.as_ref(), &filter, json, out, style)
        }
        ReviewCommand::Show { id, json } => {
            let store = open_existing(config)?.ok_or_else(|| unknown_conversation(id))?;
            show(&store, id, json, out, style)
        }
        ReviewCommand::Search { query, limit, json } => search(
            open_existing(config)?.as_ref(),
            &query,
            limit,
            json,
            out,
            style,
        ),
        ReviewCommand::Export {
            id,
            all,
            format,
            out: path,
            force,
        } => {
            let store = match open_existing(config)? {
                Some(store) => store,
                None if all || id.is_none() => Store::open_in_memory()?,
                None => return Err(unknown_conversation(id.unwrap_or_default())),
            };
            let target = if all { None } else { id };
            export(&store, target, format, path.as_deref(), force, out)
        }
        ReviewCommand::Import { file } => import(config, &file, out),
    }
}

fn unknown_conversation(id: i64) -> anyhow::Error {
    anyhow::anyhow!("conversation {id} does not exist (see `grow review list` for ids)")
}

/// Store errors with a friendlier face for the common case.
fn friendly(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::NotFound {
            what: "conversation",
            id,
        } => unknown_conversation(id),
        e => e.into(),
    }
}

/// One line of `grow review list --json`.
#[derive(Debug, Serialize)]
pub struct ListItem {
    pub id: i64,
    pub title: Option<String>,
    pub kind: ConversationKind,
    pub created_at: i64,
    pub updated_at: i64,
    pub turns: u64,
    pub model_mix: Vec<ModelCount>,
    pub upgrades: u64,
    pub cost_usd: f64,
}

fn list(
    store: Option<&Store>,
    filter: &ListFilter,
    json: bool,
    out: &mut impl Write,
    style: Style,
) -> anyhow::Result<ExitCode> {
    let summaries = match store {
        Some(store) => store.list_conversations(filter)?,
        None => Vec::new(),
    };
    if json {
        let items: Vec<ListItem> = summaries
            .into_iter()
            .map(|s| ListItem {
                id: s.conversation.id,
                title: s.conversation.title,
                kind: s.conversation.kind,
                created_at: s.conversation.created_at,
                updated_at: s.conversation.updated_at,
                turns: s.turns,
                model_mix: s.model_mix,
                upgrades: s.upgrades,
                cost_usd: s.cost_usd,
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if summaries.is_empty() {
        let filtered = filter.since_ms.is_some() || filter.model.is_some();
        if filtered && has_conversations(store)? {
            writeln!(out, "no conversations match these filters")?;
        } else {
            writeln!(out, "{EMPTY_HINT}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|s| {
            let mix: Vec<String> = s
                .model_mix
                .iter()
                .map(|m| format!("{}×{}", m.model, m.count))
                .collect();
            vec![
                local_time(s.conversation.updated_at),
                s.conversation.id.to_string(),
                clip(&title_of(s.conversation.title.as_deref()), 40),
                thousands(s.turns),
                mix.join(" "),
                thousands(s.upgrades),
                money(s.cost_usd),
            ]
        })
        .collect();
    let text = table(
        &[
            "last active",
            "id",
            "title",
            "turns",
            "models",
            "upgrades",
            "cost",
        ],
        &rows,
        &[1, 3, 5, 6],
    );
    let mut lines = text.lines();
    if let Some(header) = lines.next() {
        writeln!(out, "{}", style.bold(header.trim_end()))?;
    }
    for line in lines {
        writeln!(out, "{}", line.trim_end())?;
    }
    let total: f64 = summaries.iter().map(|s| s.cost_usd).sum();
    writeln!(
        out,
        "{}",
        style.dim(&format!(
            "{} conversation{} · {} · `grow review show ID` for one",
            summaries.len(),
            plural(summaries.len()),
            money(total)
        ))
    )?;
    Ok(ExitCode::SUCCESS)
}

fn has_conversations(store: Option<&Store>) -> anyhow::Result<bool> {
    Ok(match store {
        Some(store) => !store
            .list_conversations(&ListFilter {
                limit: Some(1),
                ..ListFilter::default()
            })?
            .is_empty(),
        None => false,
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn title_of(title: Option<&str>) -> String {
    match title.map(|t| one_line(&strip_controls(t))) {
        Some(t) if !t.is_empty() => t,
        _ => "(untitled)".to_string(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts `s` to at most `width` terminal columns, with `…` when cut.
pub fn clip(s: &str, width: usize) -> String {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

fn show(
    store: &Store,
    id: i64,
    json: bool,
    out: &mut impl Write,
    style: Style,
) -> anyhow::Result<ExitCode> {
    let detail = store.conversation_detail(id).map_err(friendly)?;
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&detail_json(&detail)?)?
        )?;
    } else {
        write!(out, "{}", render_detail(&detail, style))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The detail as JSON with each decision's `signals_json`/`reasons_json`/`plan_json` strings
/// replaced by the parsed `signals`/`reasons`/`plan`, so scripts need not parse twice.
pub fn detail_json(detail: &ConversationDetail) -> anyhow::Result<Value> {
    let mut doc = serde_json::to_value(detail)?;
    if let Some(turns) = doc.get_mut("turns").and_then(Value::as_array_mut) {
        for turn in turns {
            let Some(decisions) = turn.get_mut("decisions").and_then(Value::as_array_mut) else {
                continue;
            };
            for d in decisions {
                let Some(decision) = d.get_mut("decision").and_then(Value::as_object_mut) else {
                    continue;
                };
                for (raw, parsed) in [
                    ("signals_json", "signals"),
                    ("reasons_json", "reasons"),
                    ("plan_json", "plan"),
                ] {
                    if let Some(Value::String(text)) = decision.remove(raw) {
                        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                        decision.insert(parsed.to_string(), value);
                    }
                }
            }
        }
    }
    let totals = &detail.totals;
    if let Some(obj) = doc.as_object_mut() {
        obj.insert(
            "savings_vs_all_upgrade_usd".into(),
            totals.savings_vs_upgrade_usd().into(),
        );
        obj.insert(
            "cache_savings_usd".into(),
            totals.cache_savings_usd().into(),
        );
    }
    Ok(doc)
}

fn indented(text: &str, prefix: &str) -> String {
    let clean = strip_controls(text);
    let mut out = String::new();
    for line in clean.trim_end().lines() {
        out.push_str(prefix);
        out.push_str(line);
        out.push('\n');
    }
    out
}

pub fn render_detail(detail: &ConversationDetail, style: Style) -> String {
    let c = &detail.conversation;
    let turns = detail.turns.iter().filter(|t| t.user.is_some()).count();
    let mut out = String::new();
    out.push_str(&style.bold(&title_of(c.title.as_deref())));
    out.push('\n');
    out.push_str(&style.dim(&format!(
        "conversation {} · {} · started {} · last active {} · {} turn{} · {}",
        c.id,
        c.kind,
        local_time(c.created_at),
        local_time(c.updated_at),
        turns,
        plural(turns),
        money(detail.totals.cost_usd)
    )));
    out.push('\n');
    for turn in &detail.turns {
        out.push('\n');
        render_turn(&mut out, turn, style);
    }
    let t = &detail.totals;
    out.push('\n');
    out.push_str(&style.bold("Total"));
    out.push_str(&format!(
        "  {} call{} · {} in / {} out / {} cached tokens · {} · all-upgrade {} · routing saved {} · caching saved {}\n",
        t.calls,
        plural(t.calls as usize),
        thousands(t.usage.input_tokens + t.usage.cache_creation_input_tokens),
        thousands(t.usage.output_tokens),
        thousands(t.usage.cache_read_input_tokens),
        money(t.cost_usd),
        money(t.upgrade_equiv_cost_usd),
        money(t.savings_vs_upgrade_usd()),
        money(t.cache_savings_usd()),
    ));
    if !detail.other_usage.is_empty() {
        let other: f64 = detail.other_usage.iter().map(|u| u.cost_usd).sum();
        out.push_str(&style.dim(&format!(
            "  of which {} outside turns ({})\n",
            money(other),
            detail
                .other_usage
                .iter()
                .map(|u| u.kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    out
}

fn render_turn(out: &mut String, turn: &Turn, style: Style) {
    let heading = match &turn.user {
        Some(user) => format!("── Turn {} · {} ", turn.index, local_time(user.created_at)),
        None => "── Before the first turn ".to_string(),
    };
    out.push_str(&style.bold(&format!("{heading}{}", "─".repeat(20))));
    out.push('\n');
    if let Some(user) = &turn.user {
        out.push_str(&style.cyan("You"));
        out.push('\n');
        out.push_str(&indented(&user.content, "  "));
    }
    for d in &turn.decisions {
        let d_ = &d.decision;
        let mut head = format!(
            "{} ({}, tier {})",
            style.bold(&d_.model),
            d_.provider,
            d_.tier
        );
        head.push_str(&if d_.upgraded {
            format!(" · {}", style.yellow("upgraded"))
        } else {
            " · default".to_string()
        });
        if d_.safety != "none" {
            head.push_str(&format!(" · safety {}", style.red(&d_.safety)));
        }
        if let Some(i) = &d_.interaction {
            head.push_str(&format!(" · interaction {i}"));
        }
        head.push_str(&format!(
            " · signals {} · est. {} tokens, {}",
            d_.signal_origin,
            thousands(d_.estimated_input_tokens),
            money(d_.estimated_cost_usd)
        ));
        out.push_str(&format!("{} {head}\n", style.dim("Route")));
        let signals: Vec<Value> = serde_json::from_str(&d_.signals_json).unwrap_or_default();
        if !signals.is_empty() {
            let rows: Vec<Vec<String>> = signals
                .iter()
                .map(|s| {
                    vec![
                        s.get("kind")
                            .and_then(Value::as_str)
                            .or_else(|| s.as_str())
                            .unwrap_or("?")
                            .to_string(),
                        s.get("score")
                            .and_then(Value::as_f64)
                            .map_or_else(|| "—".into(), |v| format!("{v:.2}")),
                        s.get("evidence")
                            .and_then(Value::as_str)
                            .map_or_else(String::new, |e| {
                                format!("“{}”", clip(&one_line(&strip_controls(e)), 60))
                            }),
                    ]
                })
                .collect();
            out.push_str(&indent_table(&table(
                &["signal", "score", "evidence"],
                &rows,
                &[1],
            )));
        }
        let reasons: Vec<String> = serde_json::from_str(&d_.reasons_json).unwrap_or_default();
        for r in &reasons {
            out.push_str(&format!(
                "  {} {}\n",
                style.dim("why"),
                one_line(&strip_controls(r))
            ));
        }
        if !d.attempts.is_empty() {
            let rows: Vec<Vec<String>> = d
                .attempts
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let outcome = if a.outcome == "ok" {
                        style.green(&a.outcome)
                    } else if a.outcome == "skipped" {
                        style.dim(&a.outcome)
                    } else {
                        style.red(&a.outcome)
                    };
                    vec![
                        (i + 1).to_string(),
                        a.model.clone(),
                        a.provider.clone(),
                        outcome,
                        a.http_status.map_or_else(|| "—".into(), |s| s.to_string()),
                        a.first_byte_ms
                            .map_or_else(|| "—".into(), |ms| format!("{} ms", thousands(ms))),
                        format!("{} ms", thousands(a.duration_ms)),
                    ]
                })
                .collect();
            out.push_str(&indent_table(&table(
                &[
                    "#",
                    "attempt",
                    "provider",
                    "outcome",
                    "status",
                    "first byte",
                    "took",
                ],
                &rows,
                &[0, 4, 5, 6],
            )));
        }
    }
    for reply in &turn.replies {
        render_reply(out, turn, reply, style);
    }
}

fn indent_table(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {}\n", l.trim_end()))
        .collect()
}

fn render_reply(out: &mut String, turn: &Turn, reply: &Message, style: Style) {
    let mut who = match (reply.role, reply.compare_lane) {
        (Role::System, _) => "System".to_string(),
        (_, Some(lane)) => format!("Coach (lane {})", lane + 1),
        _ => "Coach".to_string(),
    };
    if let Some(model) = &reply.model {
        who.push_str(&format!(" · {model}"));
    }
    out.push_str(&style.green(&who));
    match reply.status {
        MessageStatus::Complete => {}
        MessageStatus::Partial => out.push_str(&style.yellow(" [partial: cut off]")),
        MessageStatus::Failed => out.push_str(&style.red(" [failed: no answer]")),
    }
    out.push('\n');
    out.push_str(&indented(&reply.content, "  "));
    let usage: Vec<_> = turn
        .usage
        .iter()
        .filter(|u| u.message_id == Some(reply.id))
        .collect();
    for u in usage {
        let mut line = format!(
            "{} {} in / {} out",
            u.kind,
            thousands(u.usage.input_tokens + u.usage.cache_creation_input_tokens),
            thousands(u.usage.output_tokens)
        );
        if u.usage.cache_read_input_tokens > 0 {
            line.push_str(&format!(
                " / {} cached",
                thousands(u.usage.cache_read_input_tokens)
            ));
        }
        line.push_str(&format!(" tokens · {}", money(u.cost_usd)));
        if u.upgrade_equiv_cost_usd > 0.0 {
            line.push_str(&format!(
                " (all-upgrade {})",
                money(u.upgrade_equiv_cost_usd)
            ));
        }
        if u.estimated {
            line.push_str(" · estimated");
        }
        out.push_str(&format!("  {}\n", style.dim(&line)));
    }
    // Usage of the turn not tied to an answer (the analyzer, a failed turn).
    if turn.replies.last().map(|r| r.id) == Some(reply.id) {
        for u in turn
            .usage
            .iter()
            .filter(|u| !turn.replies.iter().any(|r| u.message_id == Some(r.id)))
        {
            out.push_str(&format!(
                "  {}\n",
                style.dim(&format!(
                    "{} · {} · {} in / {} out tokens · {}",
                    u.kind,
                    u.model,
                    thousands(u.usage.input_tokens + u.usage.cache_creation_input_tokens),
                    thousands(u.usage.output_tokens),
                    money(u.cost_usd)
                ))
            ));
        }
    }
}

fn search(
    store: Option<&Store>,
    query: &str,
    limit: usize,
    json: bool,
    out: &mut impl Write,
    style: Style,
) -> anyhow::Result<ExitCode> {
    let Some(store) = store else {
        if json {
            writeln!(out, "[]")?;
        } else {
            writeln!(out, "{EMPTY_HINT}")?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    if json {
        let hits = store.search(query, limit)?;
        writeln!(out, "{}", serde_json::to_string_pretty(&hits)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let marked = SnippetStyle {
        open: HIT_OPEN.to_string(),
        close: HIT_CLOSE.to_string(),
        ..SnippetStyle::default()
    };
    let hits = store.search_with(query, limit, &marked)?;
    if hits.is_empty() {
        if has_conversations(Some(store))? {
            writeln!(out, "no messages match “{}”", one_line(query))?;
        } else {
            writeln!(out, "{EMPTY_HINT}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    for (i, hit) in hits.iter().enumerate() {
        let who = match hit.role {
            Role::User => "you".to_string(),
            Role::Assistant => hit.model.clone().unwrap_or_else(|| "coach".into()),
            Role::System => "system".to_string(),
        };
        writeln!(
            out,
            "{} {}",
            style.bold(&format!("{:>2}.", i + 1)),
            style.dim(&format!(
                "conversation {} · {} · {} · {}",
                hit.conversation_id,
                local_date(hit.created_at),
                who,
                clip(&title_of(hit.conversation_title.as_deref()), 40)
            ))
        )?;
        writeln!(out, "    {}", highlight(&hit.snippet, style))?;
    }
    writeln!(
        out,
        "{}",
        style.dim(&format!(
            "{} hit{} · `grow review show ID` to read one",
            hits.len(),
            plural(hits.len())
        ))
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Swaps the private hit markers for bold-reverse on a terminal, `[`…`]` otherwise.
fn highlight(snippet: &str, style: Style) -> String {
    let clean = strip_controls(snippet);
    let mut out = String::with_capacity(clean.len() + 16);
    let mut rest: &str = &clean;
    while let Some(open) = rest.find(HIT_OPEN) {
        out.push_str(&rest[..open]);
        let after = &rest[open + HIT_OPEN.len_utf8()..];
        let (hit, tail) = match after.find(HIT_CLOSE) {
            Some(close) => (&after[..close], &after[close + HIT_CLOSE.len_utf8()..]),
            None => (after, ""),
        };
        out.push_str(&style.hit(hit));
        rest = tail;
    }
    out.push_str(rest);
    out
}

fn export(
    store: &Store,
    id: Option<i64>,
    format: ExportFormat,
    path: Option<&Path>,
    force: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let text = match format {
        ExportFormat::Md => store.export_markdown(id).map_err(friendly)?,
        ExportFormat::Json => store.export_json(id).map_err(friendly)?,
    };
    if format == ExportFormat::Md && text.is_empty() {
        eprintln!("grow: {EMPTY_HINT}");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(path) = path else {
        write!(out, "{}", text)?;
        if !text.ends_with('\n') {
            writeln!(out)?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    if path.exists() && !force {
        anyhow::bail!(
            "{} already exists; choose a new name or pass --force to replace it",
            path.display()
        );
    }
    let mut body = text;
    if !body.ends_with('\n') {
        body.push('\n');
    }
    std::fs::write(path, body).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("grow: exported to {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn import(config: &Config, file: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let json =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let store = Store::open(&config.paths.db)?;
    let messages = store.import_json(&json).map_err(|e| match e {
        StoreError::NotEmpty(what) => anyhow::anyhow!(
            "cannot import into {}: it already holds {what}. Import into a fresh file, e.g. \
             `grow --db new.sqlite review import {}`",
            config.paths.db.display(),
            file.display()
        ),
        e => e.into(),
    })?;
    writeln!(
        out,
        "imported {} message{} into {}",
        thousands(messages as u64),
        plural(messages),
        config.paths.db.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_counts_display_width() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdefghij", 5), "abcd…");
        assert_eq!(clip("表达自己的想法", 7), "表达自…");
    }

    #[test]
    fn highlight_uses_brackets_without_colour() {
        let s = format!("I {HIT_OPEN}want{HIT_CLOSE} to {HIT_OPEN}表达{HIT_CLOSE}");
        assert_eq!(highlight(&s, Style::plain()), "I [want] to [表达]");
    }

    #[test]
    fn highlight_strips_control_sequences_from_the_message() {
        let s = format!("evil\x1b]52;c;aGk=\x07 {HIT_OPEN}word{HIT_CLOSE}");
        assert_eq!(highlight(&s, Style::plain()), "evil [word]");
    }
}
