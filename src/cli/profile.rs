//! `grow profile …`: the personalised coach from the command line — profile and prompt
//! versions, diffs, regeneration, the consultation (enable, one headless turn, finish) and
//! commitments (`commit`, `commitments`, `done`, `missed`).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use tokio::sync::mpsc;

use crate::coach::api::Event;
use crate::coach::behaviour::Metrics;
use crate::coach::commitments::{CommitmentView, Resolution, parse_due};
use crate::coach::consultation::{ConsultationState, CostEstimate, MarkerFilter};
use crate::coach::engine::{CancelSignal, Coach};
use crate::coach::profile::{PersonalStatus, VersionDiff, metrics_summary};
use crate::store::{CommitmentStatus, PromptVersion};

use super::style::{Style, table, usd};

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// The profile text, the personalised prompt in use, its status and behaviour metrics.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also print the full personalised prompt.
        #[arg(long)]
        prompt: bool,
    },
    /// Every prompt version (never deleted): when, why, which model, what it cost.
    Versions {
        #[arg(long)]
        json: bool,
    },
    /// Line diff between two prompt versions (profile text and prompt).
    Diff {
        /// The older version.
        a: i64,
        /// The newer version.
        b: i64,
    },
    /// Write a new prompt version now (ignores the schedule and change detection): from the
    /// consultation when there is no version yet, else revised from current behaviour.
    Regenerate,
    /// Turn the intake consultation on, after showing its estimated cost.
    EnableConsultation {
        /// Do not ask for confirmation (needed without a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Turn the consultation off (nothing stored is deleted).
    DisableConsultation,
    /// One consultation turn, headless: the interviewer's reply streams to stdout. When the
    /// consultation completes, the profile and prompt are generated before it returns.
    Consult {
        /// Your message (omit with --finish).
        #[arg(required_unless_present = "finish")]
        message: Option<String>,
        /// End the consultation now and generate the personal coach from what was said.
        #[arg(long, conflicts_with = "message")]
        finish: bool,
    },
    /// Make a commitment (the GROW "will" step), e.g. `grow profile commit "send the email" --by friday`.
    Commit {
        /// What you will do; "… by <date>" at the end also sets the date.
        text: String,
        /// Due date: YYYY-MM-DD, today, tomorrow, a weekday, next week, end of month, in N days.
        #[arg(long, value_name = "DATE")]
        by: Option<String>,
    },
    /// List commitments with their numbers and state.
    Commitments {
        #[arg(long)]
        json: bool,
    },
    /// Mark commitment N as done.
    Done { id: i64 },
    /// Mark commitment N as missed.
    Missed { id: i64 },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn status_line(status: &PersonalStatus) -> String {
    match status {
        PersonalStatus::None => "generic GROW coach (no personalised prompt yet)".into(),
        PersonalStatus::Preparing => "preparing your personal coach…".into(),
        PersonalStatus::Ready(v) => format!("personal coach, prompt version {v}"),
        PersonalStatus::Failed(e) => {
            format!("preparing the personal coach failed: {e} (retry: grow profile regenerate)")
        }
    }
}

fn consultation_line(state: &ConsultationState) -> String {
    match state {
        ConsultationState::Disabled => {
            "off (grow profile enable-consultation shows the cost and turns it on)".into()
        }
        ConsultationState::NotStarted => "on, not started (grow profile consult \"hello\")".into(),
        ConsultationState::InProgress {
            conversation_id,
            exchanges,
        } => format!(
            "in progress: {exchanges} exchange(s) in conversation {conversation_id} (continue with grow profile consult)"
        ),
        ConsultationState::Completed {
            conversation_id, ..
        } => format!("completed (conversation {conversation_id})"),
    }
}

fn metrics_lines(m: &Metrics) -> String {
    metrics_summary(m)
        .iter()
        .map(|(k, v)| {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            format!("  {}: {v}\n", k.replace('_', " "))
        })
        .collect()
}

fn version_time(ms: i64) -> String {
    crate::store::format_ms(ms)
}

pub fn render_versions(versions: &[PromptVersion]) -> String {
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                version_time(v.created_at),
                v.model.clone().unwrap_or_default(),
                usd(v.cost_usd),
                crate::coach::profile::TextLength::of(&v.prompt).describe(),
                v.reason.clone(),
            ]
        })
        .collect();
    table(
        &["version", "created", "model", "cost", "length", "reason"],
        &rows,
        &[0, 3],
    )
}

pub fn render_diff(diff: &VersionDiff, style: Style) -> String {
    let mut out = format!(
        "{}\n{}\n",
        style.bold(&format!("--- version {}", diff.from)),
        style.bold(&format!("+++ version {}", diff.to))
    );
    for line in &diff.lines {
        let text = format!("{}{}", line.sign, line.text);
        out.push_str(&match line.sign {
            '+' => style.green(&text),
            '-' => style.red(&text),
            _ => style.dim(&text),
        });
        out.push('\n');
    }
    out.push_str(&format!(
        "{} line(s) added, {} removed\n",
        diff.added, diff.removed
    ));
    out
}

pub fn render_estimate(estimate: &CostEstimate) -> String {
    let rows: Vec<Vec<String>> = estimate
        .lines
        .iter()
        .map(|l| {
            vec![
                l.interaction.to_string(),
                l.model.clone(),
                l.calls.to_string(),
                l.input_tokens.to_string(),
                l.output_tokens.to_string(),
                usd(l.cost_usd),
            ]
        })
        .collect();
    format!(
        "{}estimated total: {} (a ~12-exchange interview, then a ~200-word profile and a 500–800-word prompt; catalog prices, typical token counts)\n",
        table(
            &[
                "interaction",
                "model",
                "calls",
                "input tok",
                "output tok",
                "cost"
            ],
            &rows,
            &[2, 3, 4, 5]
        ),
        usd(estimate.total_usd)
    )
}

pub fn render_commitments(list: &[CommitmentView], style: Style) -> String {
    if list.is_empty() {
        return "no commitments yet (grow profile commit \"…\" --by friday)\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let state = match c.status {
                CommitmentStatus::Open if c.overdue => style.red("overdue"),
                CommitmentStatus::Open => "open".into(),
                CommitmentStatus::Done => style.green("done"),
                CommitmentStatus::Missed => style.yellow("missed"),
            };
            vec![
                format!("#{}", c.id),
                state,
                c.due.map_or_else(|| "-".into(), |d| d.to_string()),
                c.text.clone(),
            ]
        })
        .collect();
    table(&["#", "state", "due", "commitment"], &rows, &[])
}

fn commitment_line(c: &CommitmentView) -> String {
    let due = c
        .due
        .map(|d| format!(" (due {})", d.format("%a %Y-%m-%d")))
        .unwrap_or_default();
    format!("#{} {}: {}{due}", c.id, c.status, c.text)
}

/// Asks on the terminal; refuses without one.
fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("no terminal to confirm on: pass --yes to accept the cost");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

pub fn run(coach: Coach, command: ProfileCommand) -> anyhow::Result<ExitCode> {
    let style = Style::stdout();
    match command {
        ProfileCommand::Show { json, prompt } => {
            let status = coach.personal_status()?;
            let consultation = coach.consultation_state()?;
            let latest = coach.prompt_history()?.pop();
            let metrics = coach.behaviour_metrics()?;
            if json {
                let out = serde_json::json!({
                    "status": status,
                    "consultation": consultation,
                    "version": latest.as_ref().map(|v| v.version),
                    "profile": latest.as_ref().map(|v| v.profile_text.clone()),
                    "prompt": latest.as_ref().map(|v| v.prompt.clone()),
                    "metrics": metrics,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!("{} {}", style.bold("coach:"), status_line(&status));
            println!(
                "{} {}",
                style.bold("consultation:"),
                consultation_line(&consultation)
            );
            match &latest {
                Some(v) => {
                    println!(
                        "\n{}\n{}\n",
                        style.bold(&format!(
                            "profile (version {}, {}):",
                            v.version,
                            version_time(v.created_at)
                        )),
                        v.profile_text.trim()
                    );
                    if prompt {
                        println!("{}\n{}\n", style.bold("prompt:"), v.prompt.trim());
                    }
                }
                None => println!(),
            }
            println!(
                "{}\n{}",
                style.bold(&format!(
                    "behaviour over the last {} days:",
                    metrics.window_days
                )),
                metrics_lines(&metrics)
            );
        }
        ProfileCommand::Versions { json } => {
            let versions = coach.prompt_history()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&versions)?);
            } else if versions.is_empty() {
                println!(
                    "no prompt versions yet: {}",
                    status_line(&coach.personal_status()?)
                );
            } else {
                print!("{}", render_versions(&versions));
            }
        }
        ProfileCommand::Diff { a, b } => {
            print!("{}", render_diff(&coach.diff_versions(a, b)?, style));
        }
        ProfileCommand::Regenerate => {
            let report = runtime()?.block_on(coach.regenerate_prompt())?;
            println!(
                "prompt version {} written ({} call(s), {}): {}",
                report.version,
                report.calls,
                usd(report.cost_usd),
                report.reason
            );
        }
        ProfileCommand::EnableConsultation { yes } => {
            if coach.personal_settings()?.consultation_enabled {
                println!(
                    "the consultation is already on: {}",
                    consultation_line(&coach.consultation_state()?)
                );
                return Ok(ExitCode::SUCCESS);
            }
            print!("{}", render_estimate(&coach.consultation_estimate()?));
            if !yes && !confirm("Turn the consultation on?")? {
                println!("left off");
                return Ok(ExitCode::from(1));
            }
            coach.set_consultation_enabled(true)?;
            println!(
                "consultation on: start it with grow profile consult \"hello\" (or in the app)"
            );
        }
        ProfileCommand::DisableConsultation => {
            coach.set_consultation_enabled(false)?;
            println!("consultation off (conversations and prompt versions are kept)");
        }
        ProfileCommand::Consult { message, finish } => {
            return runtime()?.block_on(consult(&coach, message, finish));
        }
        ProfileCommand::Commit { text, by } => {
            let view = match by {
                Some(by) => {
                    let due = parse_due(&by, coach.today())?;
                    coach.add_commitment(&text, Some(due), None)?
                }
                None => coach.commit(&text, None)?,
            };
            println!("committed {}", commitment_line(&view));
        }
        ProfileCommand::Commitments { json } => {
            let list = coach.commitments_list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print!("{}", render_commitments(&list, style));
            }
        }
        ProfileCommand::Done { id } => {
            let view = coach.resolve_commitment(id, Resolution::Done)?;
            println!("{}", commitment_line(&view));
        }
        ProfileCommand::Missed { id } => {
            let view = coach.resolve_commitment(id, Resolution::Missed)?;
            println!("{}", commitment_line(&view));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn consult(coach: &Coach, message: Option<String>, finish: bool) -> anyhow::Result<ExitCode> {
    let err_style = Style::stderr();
    let finished = if finish {
        coach.finish_consultation()?;
        true
    } else {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            let mut stdout = std::io::stdout();
            // The completion marker is for the app, not the person.
            let mut filter = MarkerFilter::default();
            while let Some(event) = rx.recv().await {
                if let Event::Delta { text, .. } = event {
                    let _ = stdout.write_all(filter.push(&text).as_bytes());
                    let _ = stdout.flush();
                }
            }
            let _ = stdout.write_all(filter.finish().as_bytes());
        });
        let text = message.unwrap_or_default();
        let result = coach
            .consultation_turn(1, &text, &tx, CancelSignal::never())
            .await;
        drop(tx);
        printer.await?;
        let step = result?;
        println!();
        if let Some(notice) = &step.summary.notice {
            eprintln!("{}", err_style.yellow(notice));
        }
        eprintln!(
            "{}",
            err_style.dim(&format!(
                "{} · {} · consultation {}",
                step.summary.model,
                usd(step.summary.cost_usd),
                step.conversation_id
            ))
        );
        step.finished
    };
    if finished {
        eprintln!("{}", err_style.cyan("preparing your personal coach…"));
        let report = coach.generate_personal_prompt().await?;
        eprintln!(
            "personal coach ready: prompt version {} ({}, {}; profile {}, prompt {})",
            report.version,
            report.models.join(" + "),
            usd(report.cost_usd),
            report.profile_length.describe(),
            report.prompt_length.describe()
        );
    }
    Ok(ExitCode::SUCCESS)
}
