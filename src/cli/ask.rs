//! `grow ask`: one full coaching turn, headless. The answer streams to stdout; the decision
//! line and fallback notes go to stderr, so the answer can be piped on its own.

use std::io::Write;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::catalog::Usage;
use crate::coach::api::{AttemptReport, Event, SendRequest, TurnStatus, TurnSummary};
use crate::coach::engine::{CancelSignal, Coach};
use crate::routing::types::RouteDecision;

use super::route::RouteLine;
use super::style::{Style, usd};

#[derive(Debug, Serialize)]
pub struct AskOutput {
    pub conversation_id: i64,
    pub model: String,
    pub provider: String,
    pub text: String,
    pub status: TurnStatus,
    pub offline: bool,
    pub decision: Option<RouteLine>,
    pub attempts: Vec<AttemptReport>,
    pub usage: Usage,
    pub cost_usd: f64,
}

/// Runs the turn and prints it. Returns the summary and the JSON object (for `--json`).
pub async fn run(
    coach: &Coach,
    req: SendRequest,
    json: bool,
) -> anyhow::Result<(TurnSummary, AskOutput)> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let printer = tokio::spawn(async move {
        let err_style = Style::stderr();
        let mut decision: Option<RouteDecision> = None;
        let mut attempts = Vec::new();
        let mut text = String::new();
        let mut stdout = std::io::stdout();
        while let Some(event) = rx.recv().await {
            match event {
                Event::Decision { decision: d, .. } => {
                    if !json {
                        let why = d.reasons.first().cloned().unwrap_or_default();
                        eprintln!(
                            "{} {} {}",
                            err_style.cyan("→"),
                            err_style.bold(&d.model),
                            err_style.dim(&format!("({why})"))
                        );
                    }
                    decision = Some(d);
                }
                Event::AttemptFinished { attempt, .. } => {
                    if !json && attempt.outcome != "ok" {
                        let status = attempt
                            .http_status
                            .map(|s| format!(" {s}"))
                            .unwrap_or_default();
                        let note = attempt
                            .note
                            .as_deref()
                            .map(|n| format!(" — {n}"))
                            .unwrap_or_default();
                        eprintln!(
                            "{} {}: {}{status}{note}",
                            err_style.yellow("✗"),
                            attempt.model,
                            attempt.outcome
                        );
                    }
                    attempts.push(attempt);
                }
                Event::Delta { text: delta, .. } => {
                    text.push_str(&delta);
                    if !json {
                        let _ = stdout.write_all(delta.as_bytes());
                        let _ = stdout.flush();
                    }
                }
                _ => {}
            }
        }
        (decision, attempts, text)
    });
    let result = coach.send(1, &req, &tx, CancelSignal::never()).await;
    drop(tx);
    let (decision, attempts, streamed) = printer.await?;
    let summary = result?;
    if !json {
        if !streamed.ends_with('\n') {
            println!();
        }
        let style = Style::stderr();
        if let Some(notice) = &summary.notice {
            eprintln!("{}", style.yellow(notice));
        }
        let label = if summary.offline {
            " · offline coach"
        } else {
            ""
        };
        eprintln!(
            "{}",
            style.dim(&format!(
                "{} · {} in / {} out tokens · {} · conversation {}{label}",
                summary.model,
                summary.usage.total_input(),
                summary.usage.output_tokens,
                usd(summary.cost_usd),
                summary.conversation_id
            ))
        );
    }
    let provider = coach
        .router()
        .catalog()
        .get(&summary.model)
        .map_or_else(String::new, |m| m.provider.to_string());
    let text = coach
        .with_store(|s| summary.assistant_message_id.map(|id| s.message(id)))
        .transpose()?
        .flatten()
        .map_or(streamed, |m| m.content);
    let output = AskOutput {
        conversation_id: summary.conversation_id,
        model: summary.model.clone(),
        provider,
        text,
        status: summary.status,
        offline: summary.offline,
        decision: decision.as_ref().map(RouteLine::from),
        attempts,
        usage: summary.usage,
        cost_usd: summary.cost_usd,
    };
    Ok((summary, output))
}
