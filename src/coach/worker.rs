//! The coach worker: receives intents from a face, runs turns as tasks, sends events up.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;

use chrono::{Datelike, Local, NaiveDate, TimeZone};

use crate::store::{ConversationKind, ListFilter, SnippetStyle};

use super::api::{
    ConsultationInfo, DashboardData, Event, HistoryPage, Intent, ProfileData, SNIPPET_CLOSE,
    SNIPPET_OPEN, SendRequest, TREND_SNAPSHOTS, TurnId, TurnStatus, TurnSummary,
};
use super::consultation::MarkerFilter;
use super::engine::{CancelSignal, Coach};
use super::jobs::{JobOutcome, run_jobs};
use super::profile::{PersonalAssets, PersonalStatus, ProposalCues};

/// Starts the worker on the current tokio runtime; returns the face's ends of the channels.
pub fn spawn(coach: Arc<Coach>) -> (UnboundedSender<Intent>, UnboundedReceiver<Event>) {
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    (start(coach, event_tx), event_rx)
}

/// Starts the worker sending its events into `events` (which other sources, such as the
/// config watcher, may share).
pub fn start(coach: Arc<Coach>, events: UnboundedSender<Event>) -> UnboundedSender<Intent> {
    let (intent_tx, intent_rx) = mpsc::unbounded_channel();
    spawn_scheduled(coach.clone(), events.clone());
    tokio::spawn(run(coach, intent_rx, events));
    intent_tx
}

/// How often the scheduled prompt update runs while a face is open (issue 6: at start and
/// hourly; `run_jobs` itself decides whether an update is due).
const JOBS_EVERY: Duration = Duration::from_secs(60 * 60);
/// How often the personal coach's state is read: a generation takes tens of seconds, so a
/// few seconds' delay in showing that it finished is fine.
const PERSONAL_STATUS_EVERY: Duration = Duration::from_secs(3);

/// Background work while a face is open: the scheduled prompt update (at start, then
/// hourly) and the personal coach's state. Both stop when the face drops its events end.
pub fn spawn_scheduled(coach: Arc<Coach>, events: UnboundedSender<Event>) {
    let jobs_coach = coach.clone();
    let jobs_events = events.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(JOBS_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !jobs_events.is_closed() {
            every.tick().await;
            match run_jobs(&jobs_coach, false).await {
                Ok(report) => {
                    tracing::info!("scheduled prompt update: {}", report.describe());
                    if matches!(
                        report.outcome,
                        JobOutcome::Regenerated { .. }
                            | JobOutcome::Generated { .. }
                            | JobOutcome::Failed { .. }
                    ) {
                        let _ = jobs_events.send(Event::Notice(report.describe()));
                    }
                }
                Err(e) => tracing::warn!("scheduled prompt update failed: {e:#}"),
            }
        }
    });
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PERSONAL_STATUS_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last: Option<PersonalStatus> = None;
        while !events.is_closed() {
            every.tick().await;
            match coach.personal_status() {
                Ok(status) if last.as_ref() != Some(&status) => {
                    last = Some(status.clone());
                    if events.send(Event::PersonalCoach(status)).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::debug!("reading the personal coach's state failed: {e:#}"),
            }
        }
    });
}

async fn run(
    coach: Arc<Coach>,
    mut intents: UnboundedReceiver<Intent>,
    events: UnboundedSender<Event>,
) {
    let mut next_turn: TurnId = 1;
    let mut cancels: HashMap<TurnId, watch::Sender<bool>> = HashMap::new();
    while let Some(intent) = intents.recv().await {
        cancels.retain(|_, tx| !tx.is_closed());
        match intent {
            Intent::Send(req) => {
                let turn = next_turn;
                next_turn += 1;
                match coach.begin_turn(&req, ConversationKind::Chat) {
                    Ok((conversation_id, user_message_id)) => {
                        let _ = events.send(Event::TurnStarted {
                            turn,
                            conversation_id,
                            user_message_id,
                            compare_lane: None,
                        });
                        let (tx, cancel) = CancelSignal::new();
                        cancels.insert(turn, tx);
                        spawn_turn(
                            coach.clone(),
                            events.clone(),
                            turn,
                            req,
                            conversation_id,
                            user_message_id,
                            None,
                            cancel,
                        );
                    }
                    Err(e) => {
                        let _ = events
                            .send(Event::Error(format!("could not save your message: {e:#}")));
                    }
                }
            }
            Intent::Compare(req) => {
                let (default, upgrade) = {
                    let p = coach.router().policy();
                    (p.default_model.clone(), p.upgrade_model.clone())
                };
                match coach.begin_turn(&req, ConversationKind::Chat) {
                    Ok((conversation_id, user_message_id)) => {
                        for (lane, model) in [(0u8, default), (1u8, upgrade)] {
                            let turn = next_turn;
                            next_turn += 1;
                            let _ = events.send(Event::TurnStarted {
                                turn,
                                conversation_id,
                                user_message_id,
                                compare_lane: Some(lane),
                            });
                            let lane_req = SendRequest {
                                pin: Some(model),
                                force_upgrade: false,
                                ..req.clone()
                            };
                            let (tx, cancel) = CancelSignal::new();
                            cancels.insert(turn, tx);
                            spawn_turn(
                                coach.clone(),
                                events.clone(),
                                turn,
                                lane_req,
                                conversation_id,
                                user_message_id,
                                Some(lane),
                                cancel,
                            );
                        }
                    }
                    Err(e) => {
                        let _ = events
                            .send(Event::Error(format!("could not save your message: {e:#}")));
                    }
                }
            }
            Intent::Cancel { turn } => {
                if let Some(tx) = cancels.get(&turn) {
                    let _ = tx.send(true);
                }
            }
            Intent::Preview {
                conversation_id,
                text,
            } => match coach.preview(conversation_id, &text) {
                Ok(decision) => {
                    let _ = events.send(Event::Preview { decision });
                }
                Err(e) => tracing::debug!("preview failed: {e:#}"),
            },
            Intent::Export {
                conversation_id,
                format,
            } => match coach.export(conversation_id, format) {
                Ok(path) => {
                    let _ = events.send(Event::Notice(format!("exported to {}", path.display())));
                }
                Err(e) => {
                    let _ = events.send(Event::Error(format!("export failed: {e:#}")));
                }
            },
            Intent::ListConversations => reply(
                &events,
                "listing conversations",
                coach.with_store(|s| s.list_conversations(&ListFilter::default())),
                Event::Conversations,
            ),
            Intent::Search { query, limit } => reply(
                &events,
                "search",
                coach.with_store(|s| s.search_with(&query, limit, &snippet_style())),
                |hits| Event::SearchResults { query, hits },
            ),
            Intent::OpenConversation { id } => reply(
                &events,
                "opening the conversation",
                coach.with_store(|s| s.conversation_detail(id)),
                |d| Event::Conversation(Box::new(d)),
            ),
            Intent::LoadHistory {
                conversation_id,
                loaded,
                page,
            } => reply(
                &events,
                "loading older messages",
                history_page(&coach, conversation_id, loaded, page),
                Event::History,
            ),
            Intent::Dashboard { months_back } => reply(
                &events,
                "building the dashboard",
                dashboard(&coach, months_back),
                |d| Event::Dashboard(Box::new(d)),
            ),
            Intent::Commit {
                conversation_id,
                input,
            } => reply(
                &events,
                "saving the commitment",
                coach.commit(&input, conversation_id),
                |c| commitment_saved(&c),
            ),
            Intent::ResolveCommitment { id, resolution } => reply(
                &events,
                "updating the commitment",
                coach.resolve_commitment(id, resolution),
                |c| Event::Notice(format!("commitment #{} {}: {}", c.id, c.status, c.text)),
            ),
            Intent::ListCommitments => reply(
                &events,
                "listing commitments",
                coach.commitments_list(),
                Event::Commitments,
            ),
            Intent::Profile => reply(&events, "loading your profile", profile_data(&coach), |d| {
                Event::Profile(Box::new(d))
            }),
            Intent::DiffVersions { from, to } => reply(
                &events,
                "comparing prompt versions",
                coach.diff_versions(from, to),
                |d| Event::VersionDiff(Box::new(d)),
            ),
            Intent::Consultation => reply(
                &events,
                "reading the consultation",
                consultation_info(&coach),
                |i| Event::Consultation(Box::new(i)),
            ),
            Intent::EnableConsultation { enabled } => reply(
                &events,
                "changing the consultation",
                coach
                    .set_consultation_enabled(enabled)
                    .and_then(|()| consultation_info(&coach)),
                |i| Event::Consultation(Box::new(i)),
            ),
            Intent::ConsultationTurn { text } => {
                let turn = next_turn;
                next_turn += 1;
                let _ = events.send(Event::ConsultationTurnQueued { turn });
                let (tx, cancel) = CancelSignal::new();
                cancels.insert(turn, tx);
                spawn_consultation_turn(coach.clone(), events.clone(), turn, text, cancel);
            }
            Intent::FinishConsultation => match coach.finish_consultation() {
                Ok(conversation_id) => {
                    tracing::info!(conversation_id, "consultation finished by the person");
                    consultation_completed(&coach, &events);
                }
                Err(e) => {
                    let _ = events.send(Event::Error(format!("{e:#}")));
                }
            },
            Intent::ProposeCommitment { conversation_id } => {
                spawn_proposal(coach.clone(), events.clone(), conversation_id, true);
            }
            Intent::AcceptProposal {
                conversation_id,
                proposal,
            } => reply(
                &events,
                "saving the commitment",
                coach.accept_proposal(&proposal, conversation_id),
                |c| commitment_saved(&c),
            ),
            Intent::Shutdown => break,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_turn(
    coach: Arc<Coach>,
    events: UnboundedSender<Event>,
    turn: TurnId,
    req: SendRequest,
    conversation_id: i64,
    user_message_id: i64,
    lane: Option<u8>,
    cancel: CancelSignal,
) {
    tokio::spawn(async move {
        match coach
            .run_turn(
                turn,
                &req,
                conversation_id,
                user_message_id,
                lane,
                &events,
                cancel,
            )
            .await
        {
            Ok(summary) if lane.is_none() && reaches_will_step(&coach, &req.text, &summary) => {
                spawn_proposal(coach, events, summary.conversation_id, false);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(turn, "turn failed: {e:#}");
                let _ = events.send(Event::Error(format!("{e:#}")));
            }
        }
    });
}

/// Whether a finished coaching turn is worth reading for a commitment: answered by a model
/// (the offline coach cannot extract one), complete, and the person's message or the answer
/// carries a will-step cue (`[proposals]` in `assets/personalization.toml`).
fn reaches_will_step(coach: &Coach, user_text: &str, summary: &TurnSummary) -> bool {
    if summary.status != TurnStatus::Complete || summary.offline || !coach.has_remote_provider() {
        return false;
    }
    // The shipped asset is validated by tests; read it once, not on every turn.
    static CUES: OnceLock<Option<ProposalCues>> = OnceLock::new();
    let Some(cues) = CUES.get_or_init(|| match PersonalAssets::builtin() {
        Ok(a) => Some(a.proposals),
        Err(e) => {
            tracing::warn!("proposal cues unreadable, no automatic proposals: {e}");
            None
        }
    }) else {
        return false;
    };
    let reply = summary
        .assistant_message_id
        .and_then(|id| coach.with_store(|s| s.message(id)).ok().flatten())
        .map(|m| m.content)
        .unwrap_or_default();
    cues.reached(&[user_text, &reply])
}

/// Reads the last exchange for a commitment to propose. `asked`: the person asked
/// (`/propose`), so "nothing found" and failures are told; after an ordinary turn they are
/// only logged.
fn spawn_proposal(
    coach: Arc<Coach>,
    events: UnboundedSender<Event>,
    conversation_id: i64,
    asked: bool,
) {
    if !coach.has_remote_provider() {
        if asked {
            let _ = events.send(Event::Error(
                "proposing a commitment needs a model: set ANTHROPIC_API_KEY or OPENAI_API_KEY (the offline coach cannot); /commit <text> [by <date>] works without one".into(),
            ));
        }
        return;
    }
    tokio::spawn(async move {
        match coach.propose_commitment(conversation_id).await {
            Ok(Some(proposal)) => {
                tracing::info!(conversation_id, model = %proposal.model, "commitment proposed");
                let _ = events.send(Event::CommitmentProposal {
                    conversation_id,
                    proposal,
                });
            }
            Ok(None) => {
                tracing::debug!(conversation_id, "no commitment in the last exchange");
                if asked {
                    let _ = events.send(Event::Notice(
                        "no new commitment in the last exchange (/commit <text> [by <date>] notes one yourself)".into(),
                    ));
                }
            }
            Err(e) => {
                tracing::warn!(conversation_id, "proposing a commitment failed: {e:#}");
                if asked {
                    let _ = events.send(Event::Error(format!(
                        "proposing a commitment failed: {e:#}"
                    )));
                }
            }
        }
    });
}

/// Runs one consultation turn, hiding the completion marker from the streamed text; when
/// the interviewer ends the consultation, the personal coach is prepared in the background.
fn spawn_consultation_turn(
    coach: Arc<Coach>,
    events: UnboundedSender<Event>,
    turn: TurnId,
    text: String,
    cancel: CancelSignal,
) {
    let (filtered_tx, mut filtered_rx) = mpsc::unbounded_channel::<Event>();
    let out = events.clone();
    let forward = tokio::spawn(async move {
        let mut filter = MarkerFilter::default();
        while let Some(event) = filtered_rx.recv().await {
            let event = match event {
                Event::Delta { turn, text } => {
                    let shown = filter.push(&text);
                    if shown.is_empty() {
                        continue;
                    }
                    Event::Delta { turn, text: shown }
                }
                finished @ Event::TurnFinished { .. } => {
                    let rest = filter.finish();
                    if let Event::TurnFinished { turn, .. } = &finished
                        && !rest.is_empty()
                    {
                        let _ = out.send(Event::Delta {
                            turn: *turn,
                            text: rest,
                        });
                    }
                    finished
                }
                other => other,
            };
            if out.send(event).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let result = coach
            .consultation_turn(turn, &text, &filtered_tx, cancel)
            .await;
        drop(filtered_tx);
        // Everything the turn streamed is on its way before the step is reported.
        let _ = forward.await;
        match result {
            Ok(step) => {
                let _ = events.send(Event::ConsultationStep {
                    turn,
                    conversation_id: step.conversation_id,
                    finished: step.finished,
                });
                if step.finished {
                    consultation_completed(&coach, &events);
                }
            }
            Err(e) => {
                tracing::warn!(turn, "consultation turn failed: {e:#}");
                let _ = events.send(Event::Error(format!("{e:#}")));
            }
        }
    });
}

/// After a consultation ends: start preparing the personal coach (chat keeps working on
/// the generic prompt meanwhile) and tell the face at once.
fn consultation_completed(coach: &Arc<Coach>, events: &UnboundedSender<Event>) {
    if Coach::spawn_personal_generation(coach).is_some() {
        let _ = events.send(Event::PersonalCoach(PersonalStatus::Preparing));
    }
    reply(
        events,
        "reading the consultation",
        consultation_info(coach),
        |i| Event::Consultation(Box::new(i)),
    );
}

fn consultation_info(coach: &Coach) -> anyhow::Result<ConsultationInfo> {
    Ok(ConsultationInfo {
        state: coach.consultation_state()?,
        estimate: coach.consultation_estimate()?,
        has_model: coach.has_remote_provider(),
    })
}

/// Sends `ok(value)`, or an `Error` event naming what failed.
fn reply<T, E: std::fmt::Display>(
    events: &UnboundedSender<Event>,
    what: &str,
    result: Result<T, E>,
    ok: impl FnOnce(T) -> Event,
) {
    let event = match result {
        Ok(v) => ok(v),
        Err(e) => Event::Error(format!("{what} failed: {e:#}")),
    };
    let _ = events.send(event);
}

fn profile_data(coach: &Coach) -> anyhow::Result<ProfileData> {
    Ok(ProfileData {
        status: coach.personal_status()?,
        versions: coach.prompt_history()?,
        metrics: coach.behaviour_metrics()?,
        history: coach.behaviour_history(TREND_SNAPSHOTS)?,
        commitments: coach.commitments_list()?,
        consultation: coach.consultation_state()?,
    })
}

/// `finish the draft (due 2026-11-27)`.
fn commitment_saved(c: &super::api::CommitmentView) -> Event {
    Event::Notice(format!("commitment #{} saved: {}", c.id, describe(c)))
}

fn describe(c: &super::api::CommitmentView) -> String {
    match c.due {
        Some(d) => format!("{} (due {d})", c.text),
        None => c.text.clone(),
    }
}

fn snippet_style() -> SnippetStyle {
    SnippetStyle {
        open: SNIPPET_OPEN.to_string(),
        close: SNIPPET_CLOSE.to_string(),
        max_chars: 120,
        ..SnippetStyle::default()
    }
}

/// The `page` messages before the `loaded` newest ones. The store reads history windows from
/// the end, so the window grows by a page and the part already shown is cut off.
fn history_page(
    coach: &Coach,
    conversation_id: i64,
    loaded: usize,
    page: usize,
) -> anyhow::Result<HistoryPage> {
    let want = loaded.saturating_add(page);
    let mut messages = coach.with_store(|s| s.recent_messages(conversation_id, want))?;
    let complete = messages.len() < want;
    messages.truncate(messages.len().saturating_sub(loaded));
    Ok(HistoryPage {
        conversation_id,
        messages,
        complete,
    })
}

/// The dashboard of the calendar month `months_back` months before this one, local time.
fn dashboard(coach: &Coach, months_back: u32) -> anyhow::Result<DashboardData> {
    let now = Local
        .timestamp_millis_opt(coach.now_ms())
        .single()
        .unwrap_or_else(Local::now);
    let index = now.year() * 12 + now.month0() as i32 - months_back as i32;
    let (year, month0) = (index.div_euclid(12), index.rem_euclid(12) as u32);
    let first = NaiveDate::from_ymd_opt(year, month0 + 1, 1)
        .ok_or_else(|| anyhow::anyhow!("no such month: {year}-{}", month0 + 1))?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| anyhow::anyhow!("no month after {first}"))?;
    let start = local_midnight_ms(first);
    let end = local_midnight_ms(next);
    let offset_minutes = now.offset().local_minus_utc() / 60;
    let (stats, escalations) = coach.with_store(|s| {
        anyhow::Ok((
            s.stats_in_zone(start, end, offset_minutes)?,
            s.escalation_stats(start, end)?,
        ))
    })?;
    Ok(DashboardData {
        month: first.format("%Y-%m").to_string(),
        months_back,
        days_in_month: u32::try_from((next - first).num_days()).unwrap_or(31),
        stats,
        escalations,
        diagnostics: coach.prompts().live().diagnostics(),
    })
}

fn local_midnight_ms(day: NaiveDate) -> i64 {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    Local
        .from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            Local
                .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or(0, |t| t.timestamp_millis())
}
