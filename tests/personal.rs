//! The personalised coach end to end against a fake Anthropic server on 127.0.0.1 with a
//! fixed clock: consultation → profile and prompt version 1 (length-checked, one
//! regeneration) → a coaching turn on version 1 → behaviour changes → the job writes
//! version 2; unchanged behaviour → skipped with a snapshot and no model call;
//! `ENABLE_GENERIC_FALLBACK=false` → chat waits and says why.

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use grow::coach::api::{Event, SendRequest, TurnStatus};
use grow::coach::behaviour::Metrics;
use grow::coach::clock::Clock;
use grow::coach::consultation::ConsultationState;
use grow::coach::engine::{CancelSignal, Coach};
use grow::coach::jobs::{JobOutcome, run_jobs};
use grow::coach::profile::{ChatWaiting, PersonalStatus, TextLength};
use grow::store::{Checkin, ConversationKind, Role};
use support::coach_harness::coach_in;
use support::fake_server::FakeServer;
use support::fake_server::wire::{sonnet_answer, words};
use tokio::sync::mpsc;

const KEY: &str = "sk-ant-api03-FAKE-SECRET-KEY-personal";
const MODEL: &str = "claude-sonnet-4-6";

struct Harness {
    coach: Arc<Coach>,
    clock: Clock,
    _dir: tempfile::TempDir,
}

/// Noon UTC keeps the local date the same in every time zone from UTC-11 to UTC+11.
fn noon(y: i32, m: u32, d: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0)
        .single()
        .expect("valid date")
        .timestamp_millis()
}

const DAY_MS: i64 = 24 * 3600 * 1000;

fn harness(url: Option<String>, extra_config: &str, now_ms: i64) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "[retry]\nmax_retries = 0\ninitial_backoff_ms = 5\nmax_backoff_ms = 20\n\n[timeouts]\nconnect_secs = 1\nfirst_byte_secs = 2\nidle_secs = 2\n\n{extra_config}"
    );
    let mut env: HashMap<String, String> = HashMap::new();
    if let Some(url) = url {
        env.insert("ANTHROPIC_API_KEY".into(), KEY.into());
        env.insert("ANTHROPIC_BASE_URL".into(), url);
    }
    let clock = Clock::fixed(now_ms);
    let coach = coach_in(dir.path(), &config, env, clock.clone());
    Harness {
        coach: Arc::new(coach),
        clock,
        _dir: dir,
    }
}

async fn consult(h: &Harness, text: &str) -> grow::coach::consultation::ConsultationStep {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let step = h
        .coach
        .consultation_turn(1, text, &tx, CancelSignal::never())
        .await
        .expect("consultation turn");
    drop(tx);
    let mut streamed = String::new();
    while let Some(e) = rx.recv().await {
        if let Event::Delta { text, .. } = e {
            streamed.push_str(&text);
        }
    }
    assert!(!streamed.is_empty(), "the reply streams through the events");
    step
}

async fn chat(h: &Harness, text: &str) -> anyhow::Result<grow::coach::api::TurnSummary> {
    let (tx, _rx) = mpsc::unbounded_channel();
    let req = SendRequest {
        text: text.into(),
        ..Default::default()
    };
    h.coach.send(1, &req, &tx, CancelSignal::never()).await
}

fn checkin(h: &Harness, day: NaiveDate) {
    h.coach
        .with_store(|s| {
            s.insert_checkin(&Checkin {
                profile_id: h.coach.profile_id(),
                day: day.format("%Y-%m-%d").to_string(),
            })
        })
        .expect("checkin");
}

fn snapshot_count(h: &Harness) -> usize {
    h.coach
        .with_store(|s| s.snapshots(h.coach.profile_id(), 1000))
        .expect("snapshots")
        .len()
}

#[tokio::test]
async fn consultation_to_version_one_then_behaviour_change_writes_version_two() {
    let profile_short = words("ProfileDraft", 100);
    let profile_ok = words("ProfileFinal", 200);
    let persona = words("Zephyrine", 650);
    let revised = words("Revisedine", 620);
    let server = FakeServer::start(vec![
        sonnet_answer("Welcome! What would you like to change in your life right now?"),
        sonnet_answer("Here is what I learned: you want to run a marathon.\nThank you — your personal coach is being prepared.\nCONSULTATION_COMPLETE"),
        sonnet_answer(&profile_short),
        sonnet_answer(&profile_ok),
        sonnet_answer(&persona),
        sonnet_answer("What would make this week a good one for your training?"),
        sonnet_answer(r#"{"commitments": [{"text": "Run three times this week", "due": "2026-11-06", "confirmed": true, "evidence": "I'll run three times by Friday"}]}"#),
        sonnet_answer(&revised),
    ])
    .await;
    // Monday 2026-11-02.
    let h = harness(Some(server.url()), "", noon(2026, 11, 2));

    // The consultation is off by default.
    assert_eq!(
        h.coach.consultation_state().unwrap(),
        ConsultationState::Disabled
    );
    assert!(consult_err(&h).await.contains("enable-consultation"));
    h.coach.set_consultation_enabled(true).unwrap();
    let estimate = h.coach.consultation_estimate().unwrap();
    assert!(estimate.total_usd > 0.0 && estimate.lines.len() == 3);

    // Two exchanges: the first is paused/resumed through the stored conversation.
    let first = consult(&h, "Hi, I'd like some help getting fit.").await;
    assert!(!first.finished);
    assert!(matches!(
        h.coach.consultation_state().unwrap(),
        ConsultationState::InProgress { exchanges: 1, .. }
    ));
    let second = consult(&h, "Yes, that's accurate.").await;
    assert_eq!(second.conversation_id, first.conversation_id, "resumed");
    assert!(second.finished);
    assert!(!second.reply.contains("CONSULTATION_COMPLETE"));
    let requests = server.requests();
    assert!(requests[0].raw_text().contains("intake interviewer"));
    // The second turn carried the first exchange.
    assert!(requests[1].raw_text().contains("getting fit"));
    let conv = h
        .coach
        .with_store(|s| s.conversation(first.conversation_id))
        .unwrap()
        .unwrap();
    assert_eq!(conv.kind, ConversationKind::Consultation);
    let stored = h
        .coach
        .with_store(|s| s.history(first.conversation_id))
        .unwrap();
    assert!(
        stored
            .iter()
            .all(|m| !m.content.contains("CONSULTATION_COMPLETE"))
    );
    // Consultation turns are not coaching check-ins.
    assert!(h.coach.checkin_dates().unwrap().is_empty());

    // Generation in the background: the status says so at once.
    let handle = Coach::spawn_personal_generation(&h.coach).expect("generation starts");
    assert_eq!(
        h.coach.personal_status().unwrap(),
        PersonalStatus::Preparing
    );
    assert!(
        Coach::spawn_personal_generation(&h.coach).is_none(),
        "one at a time"
    );
    let report = handle.await.unwrap().expect("generation");
    assert_eq!(report.version, 1);
    // Profile: 100 words was out of range → exactly one more call; persona fit first time.
    assert_eq!(report.calls, 3);
    assert_eq!(server.hits(), 5);
    let retry = server.requests()[3].raw_text();
    assert!(
        retry.contains("That text is 100 words") && retry.contains("between 170 and 230 words"),
        "{retry}"
    );
    assert!(server.requests()[4].raw_text().contains("ProfileFinal"));
    assert_eq!(h.coach.personal_status().unwrap(), PersonalStatus::Ready(1));
    let v1 = h.coach.prompt_version(1).unwrap();
    assert!(v1.prompt.starts_with("Zephyrine"));
    assert!(v1.profile_text.starts_with("ProfileFinal"));
    assert!(v1.reason.contains("consultation"), "{}", v1.reason);
    assert_eq!(v1.model.as_deref(), Some(MODEL));
    assert!(v1.cost_usd > 0.0);
    assert_eq!(TextLength::of(&v1.prompt).words, 650);
    let baseline: Metrics = serde_json::from_str(&v1.metrics_json).expect("metrics snapshot");
    assert_eq!(baseline.checkin_days, 0);
    assert_eq!(snapshot_count(&h), 1);

    // A coaching turn runs on version 1 and records it.
    let summary = chat(&h, "I want to plan my training this week.")
        .await
        .expect("turn");
    assert_eq!(summary.status, TurnStatus::Complete);
    let system = server.requests()[5].json()["system"].to_string();
    assert!(system.contains("Zephyrine"), "personalised prompt sent");
    let conv = h
        .coach
        .with_store(|s| s.conversation(summary.conversation_id))
        .unwrap()
        .unwrap();
    assert_eq!(conv.system_prompt_version_used, Some(1));
    let messages = h
        .coach
        .with_store(|s| s.history(summary.conversation_id))
        .unwrap();
    let answer = messages.iter().find(|m| m.role == Role::Assistant).unwrap();
    assert_eq!(answer.system_prompt_version_used, Some(1));
    // The turn recorded today's check-in.
    assert_eq!(
        h.coach.checkin_dates().unwrap(),
        vec![NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()]
    );

    // The coach proposes a commitment from the last exchange; the person confirms it.
    let proposal = h
        .coach
        .propose_commitment(summary.conversation_id)
        .await
        .unwrap()
        .expect("a proposal");
    assert_eq!(proposal.text, "Run three times this week");
    assert_eq!(proposal.due, NaiveDate::from_ymd_opt(2026, 11, 6));
    assert!(
        h.coach.commitments_list().unwrap().is_empty(),
        "not before confirmation"
    );
    let c = h
        .coach
        .accept_proposal(&proposal, Some(summary.conversation_id))
        .unwrap();
    assert_eq!(h.coach.commitments_list().unwrap(), vec![c]);

    // Same day: not due, nothing computed, no call.
    let hits = server.hits();
    let r = run_jobs(&h.coach, false).await.unwrap();
    assert!(matches!(r.outcome, JobOutcome::NotDue { .. }), "{r:?}");
    assert_eq!(server.hits(), hits);

    // Two weeks of daily sessions later (Monday 2026-11-16, after the Sunday slot).
    for d in 3..=16 {
        checkin(&h, NaiveDate::from_ymd_opt(2026, 11, d).unwrap());
    }
    h.clock.advance_ms(14 * DAY_MS);
    let r = run_jobs(&h.coach, false).await.unwrap();
    let JobOutcome::Regenerated {
        version, reasons, ..
    } = &r.outcome
    else {
        panic!("expected a regeneration: {r:?}");
    };
    assert_eq!(*version, 2);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("logging consistency rose")),
        "{reasons:?}"
    );
    let update = server.requests()[7].raw_text();
    assert!(
        update.contains("Zephyrine") && update.contains("logging consistency"),
        "PERSONA_UPDATE gets the current prompt and the metrics"
    );
    let v2 = h.coach.prompt_version(2).unwrap();
    assert!(v2.prompt.starts_with("Revisedine"));
    assert!(
        v2.reason.contains("logging consistency rose"),
        "{}",
        v2.reason
    );
    let triggering: Metrics = serde_json::from_str(&v2.metrics_json).unwrap();
    assert_eq!(triggering.current_streak, 15);
    assert!(v2.cost_usd > 0.0);
    // Version 1 is kept as it was.
    assert_eq!(h.coach.prompt_version(1).unwrap(), v1);
    let diff = h.coach.diff_versions(1, 2).unwrap();
    assert!(diff.added > 0 && diff.removed > 0);

    // Forced again at once: behaviour is what version 2 was written from → skipped,
    // snapshot stored, no model call.
    let hits = server.hits();
    let snapshots = snapshot_count(&h);
    let r = run_jobs(&h.coach, true).await.unwrap();
    assert!(matches!(r.outcome, JobOutcome::Skipped { .. }), "{r:?}");
    assert_eq!(server.hits(), hits);
    assert_eq!(snapshot_count(&h), snapshots + 1);
    assert_eq!(h.coach.prompt_history().unwrap().len(), 2);
    // The trend: v1's baseline, v2's trigger, the skipped check — oldest first.
    let trend = h.coach.behaviour_history(10).unwrap();
    let streaks: Vec<u32> = trend.iter().map(|(_, m)| m.current_streak).collect();
    assert_eq!(streaks, vec![0, 15, 15]);
}

async fn consult_err(h: &Harness) -> String {
    let (tx, _rx) = mpsc::unbounded_channel();
    match h
        .coach
        .consultation_turn(1, "hello", &tx, CancelSignal::never())
        .await
    {
        Ok(_) => panic!("the consultation should be refused while off"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn small_behaviour_changes_skip_regeneration_without_a_model_call() {
    let server = FakeServer::start(vec![]).await;
    let h = harness(Some(server.url()), "", noon(2026, 11, 2));
    // Version 1 written from a week of daily sessions (Oct 27 – Nov 2).
    for d in 27..=31 {
        checkin(&h, NaiveDate::from_ymd_opt(2026, 10, d).unwrap());
    }
    for d in 1..=2 {
        checkin(&h, NaiveDate::from_ymd_opt(2026, 11, d).unwrap());
    }
    let metrics = h.coach.behaviour_metrics().unwrap();
    h.coach
        .with_store(|s| {
            s.insert_prompt_version(&grow::store::NewPromptVersion {
                profile_id: h.coach.profile_id(),
                prompt: words("Initial", 600),
                profile_text: words("Profile", 200),
                reason: "initial".into(),
                metrics_json: serde_json::to_string(&metrics).unwrap(),
                model: Some(MODEL.into()),
                cost_usd: 0.02,
                created_at: h.coach.now_ms(),
            })
        })
        .unwrap();
    // Two weeks later (Monday Nov 16, after the Sunday slot), sessions on Nov 15 and 16 only:
    // consistency 7/30 → 9/30 (+0.07), streak 7 → 2 (-5, under 7), nothing due.
    checkin(&h, NaiveDate::from_ymd_opt(2026, 11, 15).unwrap());
    checkin(&h, NaiveDate::from_ymd_opt(2026, 11, 16).unwrap());
    h.clock.advance_ms(14 * DAY_MS);
    let before = snapshot_count(&h);
    let r = run_jobs(&h.coach, false).await.unwrap();
    let JobOutcome::Skipped { reasons } = &r.outcome else {
        panic!("expected a skip: {r:?}");
    };
    assert!(
        reasons.iter().any(|r| r.contains("logging consistency")),
        "{reasons:?}"
    );
    assert_eq!(server.hits(), 0, "no model call");
    assert_eq!(snapshot_count(&h), before + 1);
    assert_eq!(h.coach.prompt_history().unwrap().len(), 1);
    // The stored snapshot counts as this week's check: run again → not due.
    let r = run_jobs(&h.coach, false).await.unwrap();
    assert!(matches!(r.outcome, JobOutcome::NotDue { .. }), "{r:?}");
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn automatic_updates_off_means_never_automatically() {
    let server = FakeServer::start(vec![]).await;
    let h = harness(
        Some(server.url()),
        "[personalization]\nenable_automatic_updates = false\n",
        noon(2026, 11, 2),
    );
    h.coach
        .with_store(|s| {
            s.insert_prompt_version(&grow::store::NewPromptVersion {
                profile_id: h.coach.profile_id(),
                prompt: words("Initial", 600),
                profile_text: words("Profile", 200),
                reason: "initial".into(),
                metrics_json: "{}".into(),
                model: None,
                cost_usd: 0.0,
                created_at: h.coach.now_ms(),
            })
        })
        .unwrap();
    h.clock.advance_ms(30 * DAY_MS);
    let r = run_jobs(&h.coach, false).await.unwrap();
    let JobOutcome::NotDue { reason } = &r.outcome else {
        panic!("expected not due: {r:?}");
    };
    assert!(reason.contains("ENABLE_AUTOMATIC_UPDATES"), "{reason}");
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn without_generic_fallback_chat_waits_and_says_why() {
    let server = FakeServer::start(vec![]).await;
    let h = harness(
        Some(server.url()),
        "[personalization]\nenable_generic_fallback = false\n",
        noon(2026, 11, 2),
    );
    let err = chat(&h, "Can we talk about my week?")
        .await
        .expect_err("no personalised prompt: the turn is refused");
    let waiting = err
        .downcast_ref::<ChatWaiting>()
        .expect("a typed ChatWaiting error");
    assert!(
        waiting.0.contains("ENABLE_GENERIC_FALLBACK") && waiting.0.contains("enable-consultation"),
        "{waiting}"
    );
    assert_eq!(server.hits(), 0, "nothing was sent on the generic prompt");

    // With the consultation on, the message points at it instead.
    h.coach.set_consultation_enabled(true).unwrap();
    let err = chat(&h, "Hello?").await.expect_err("still waiting");
    assert!(format!("{err}").contains("consultation"), "{err}");
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn commitments_from_the_command_text() {
    // Thursday 2026-11-26.
    let h = harness(None, "", noon(2026, 11, 26));
    let c = h
        .coach
        .commit("Send the portfolio by friday", None)
        .unwrap();
    assert_eq!(c.text, "Send the portfolio");
    assert_eq!(c.due, NaiveDate::from_ymd_opt(2026, 11, 27));
    let undated = h.coach.commit("Stand by my decision", None).unwrap();
    assert_eq!(undated.due, None);
    h.coach
        .resolve_commitment(c.id, grow::coach::commitments::Resolution::Done)
        .unwrap();
    h.coach
        .resolve_commitment(undated.id, grow::coach::commitments::Resolution::Missed)
        .unwrap();
    assert!(
        h.coach
            .resolve_commitment(999, grow::coach::commitments::Resolution::Done)
            .is_err()
    );
    let m = h.coach.behaviour_metrics().unwrap();
    assert_eq!((m.commitments.kept, m.commitments.missed), (1, 1));
    assert_eq!(m.adherence, Some(0.5));
}

#[tokio::test]
async fn an_explicit_finish_is_picked_up_by_the_job() {
    let server = FakeServer::start(vec![
        sonnet_answer("What would you like to work on first?"),
        sonnet_answer(&words("ProfileText", 190)),
        sonnet_answer(&words("PromptText", 520)),
    ])
    .await;
    let h = harness(Some(server.url()), "", noon(2026, 11, 2));
    h.coach.set_consultation_enabled(true).unwrap();
    let step = consult(
        &h,
        "I want to change careers; I don't have much time today.",
    )
    .await;
    assert!(!step.finished);
    assert_eq!(h.coach.finish_consultation().unwrap(), step.conversation_id);
    assert!(matches!(
        h.coach.consultation_state().unwrap(),
        ConsultationState::Completed { .. }
    ));
    // Completed but not generated yet (e.g. the app was closed): pending.
    assert_eq!(
        h.coach.personal_status().unwrap(),
        PersonalStatus::Preparing
    );
    let r = run_jobs(&h.coach, false).await.unwrap();
    assert!(
        matches!(r.outcome, JobOutcome::Generated { version: 1, .. }),
        "{r:?}"
    );
    assert_eq!(server.hits(), 3, "both texts in range: no regeneration");
    assert_eq!(h.coach.personal_status().unwrap(), PersonalStatus::Ready(1));
    assert!(
        h.coach.finish_consultation().is_err(),
        "nothing left to finish"
    );
}
