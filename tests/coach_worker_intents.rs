//! The worker's commitment and profile intents against a real coach (offline, SQLite in a
//! temp dir, fixed clock): what a face gets back for `/commit`, `/done`, `/commitments`
//! and the profile screen, and the personal coach's state reported at start. Against a fake
//! Anthropic server on 127.0.0.1: the consultation from the face (cost, turning it on,
//! turns with the completion marker hidden, pause and resume, preparing the personal coach),
//! commitment proposals after a will-step turn and on `/propose`, the profile's trend.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use grow::coach::api::{
    CommitmentStatus, ConsultationState, Event, Intent, PersonalStatus, Resolution, SendRequest,
};
use grow::coach::clock::Clock;
use grow::coach::engine::Coach;
use support::coach_harness::{KEY, coach_in, text_of};
use support::fake_server::FakeServer;
use support::fake_server::wire::{sonnet_answer, words};
use tokio::sync::mpsc::UnboundedReceiver;

fn offline_coach(dir: &std::path::Path, now_ms: i64) -> Arc<Coach> {
    coach_at(dir, now_ms, None)
}

/// A coach whose Anthropic provider is the fake server at `anthropic` (with a fake key).
fn coach_at(dir: &std::path::Path, now_ms: i64, anthropic: Option<String>) -> Arc<Coach> {
    let config = if anthropic.is_some() {
        "[retry]\nmax_retries = 0\ninitial_backoff_ms = 5\nmax_backoff_ms = 20\n\n[timeouts]\nconnect_secs = 1\nfirst_byte_secs = 5\nidle_secs = 5\n"
    } else {
        ""
    };
    let mut env: HashMap<String, String> = HashMap::new();
    if let Some(url) = anthropic {
        env.insert("ANTHROPIC_API_KEY".into(), KEY.into());
        env.insert("ANTHROPIC_BASE_URL".into(), url);
    }
    Arc::new(coach_in(dir, config, env, Clock::fixed(now_ms)))
}

/// The next event that answers an intent (the personal coach's state arrives on its own).
async fn answer(events: &mut UnboundedReceiver<Event>) -> Event {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("an answer in time")
            .expect("worker running");
        if !matches!(event, Event::PersonalCoach(_)) {
            return event;
        }
    }
}

/// Thursday 2026-11-26, noon UTC, in unix milliseconds: a Friday deadline is tomorrow.
fn thursday_noon() -> i64 {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
        .single()
        .expect("date")
        .timestamp_millis()
}

#[tokio::test]
async fn commitment_and_profile_intents_answer_the_face() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = thursday_noon();
    let (intents, mut events) = grow::coach::worker::spawn(offline_coach(dir.path(), now));

    let send = |i: Intent| intents.send(i).expect("worker running");
    send(Intent::Commit {
        conversation_id: None,
        input: "Send the portfolio by friday".into(),
    });
    assert_eq!(
        answer(&mut events).await,
        Event::Notice("commitment #1 saved: Send the portfolio (due 2026-11-27)".into())
    );
    send(Intent::Commit {
        conversation_id: None,
        input: "   ".into(),
    });
    assert!(matches!(answer(&mut events).await, Event::Error(e) if e.contains("needs some text")));
    send(Intent::ResolveCommitment {
        id: 1,
        resolution: Resolution::Done,
    });
    assert_eq!(
        answer(&mut events).await,
        Event::Notice("commitment #1 done: Send the portfolio".into())
    );
    send(Intent::ResolveCommitment {
        id: 99,
        resolution: Resolution::Missed,
    });
    assert!(matches!(answer(&mut events).await, Event::Error(e) if e.contains("#99")));
    send(Intent::ListCommitments);
    match answer(&mut events).await {
        Event::Commitments(list) => {
            assert_eq!(list.len(), 1);
            assert_eq!(list[0].status, CommitmentStatus::Done);
            assert_eq!(list[0].due, NaiveDate::from_ymd_opt(2026, 11, 27));
        }
        other => panic!("expected the commitments, got {other:?}"),
    }
    send(Intent::Profile);
    match answer(&mut events).await {
        Event::Profile(p) => {
            assert_eq!(p.status, PersonalStatus::None);
            assert!(p.versions.is_empty());
            assert_eq!(p.commitments.len(), 1);
            assert_eq!(p.metrics.commitments.kept, 1);
        }
        other => panic!("expected the profile, got {other:?}"),
    }
    send(Intent::DiffVersions { from: 1, to: 2 });
    assert!(
        matches!(answer(&mut events).await, Event::Error(e) if e.contains("no prompt version 1"))
    );
    send(Intent::Shutdown);
}

#[tokio::test]
async fn the_personal_coach_state_is_reported_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_intents, mut events) = grow::coach::worker::spawn(offline_coach(dir.path(), 0));
    let first = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.recv().await {
                Some(Event::PersonalCoach(s)) => return Some(s),
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await
    .expect("reported in time");
    assert_eq!(first, Some(PersonalStatus::None));
}

/// Events until `done` holds for one (included), failing after 20 s.
async fn until(events: &mut UnboundedReceiver<Event>, done: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; events so far: {seen:#?}"))
            .expect("worker running");
        let stop = done(&event);
        seen.push(event);
        if stop {
            return seen;
        }
    }
}

#[tokio::test]
async fn consultation_proposals_and_trend_from_the_face() {
    let server = FakeServer::start(vec![
        sonnet_answer("Welcome! What would you like to change right now?"),
        sonnet_answer("Thank you, I have what I need.\nCONSULTATION_COMPLETE"),
        sonnet_answer(&words("ProfileFinal", 200)),
        sonnet_answer(&words("Zephyrine", 650)),
        sonnet_answer("Good. What exactly will you send, and to whom?"),
        sonnet_answer(
            r#"{"commitments": [{"text": "Send the portfolio to two studios", "due": "2026-11-27", "confirmed": true, "evidence": "I'll send the portfolio by Friday"}]}"#,
        ),
        sonnet_answer(r#"{"commitments": []}"#),
    ])
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let now = thursday_noon();
    let (intents, mut events) =
        grow::coach::worker::spawn(coach_at(dir.path(), now, Some(server.url())));
    let send = |i: Intent| intents.send(i).expect("worker running");

    // Off by default, with its cost.
    send(Intent::Consultation);
    match answer(&mut events).await {
        Event::Consultation(info) => {
            assert_eq!(info.state, ConsultationState::Disabled);
            assert!(info.has_model);
            assert!(info.estimate.total_usd > 0.0);
            assert_eq!(info.estimate.lines.len(), 3);
        }
        other => panic!("expected the consultation, got {other:?}"),
    }
    send(Intent::EnableConsultation { enabled: true });
    assert!(matches!(
        answer(&mut events).await,
        Event::Consultation(i) if i.state == ConsultationState::NotStarted
    ));

    // First exchange: queued as a consultation turn, streamed, not finished.
    send(Intent::ConsultationTurn {
        text: "Hi, I want to change jobs.".into(),
    });
    let first = until(&mut events, |e| matches!(e, Event::ConsultationStep { .. })).await;
    let queued = first.iter().find_map(|e| match e {
        Event::ConsultationTurnQueued { turn } => Some(*turn),
        _ => None,
    });
    let started = first.iter().find_map(|e| match e {
        Event::TurnStarted { turn, .. } => Some(*turn),
        _ => None,
    });
    assert!(queued.is_some() && queued == started, "{first:#?}");
    assert!(text_of(&first).contains("What would you like to change"));
    let Some(Event::ConsultationStep {
        conversation_id,
        finished: false,
        ..
    }) = first.last().cloned()
    else {
        panic!("not finished after one exchange: {first:#?}");
    };

    // Paused: the state says where it stands; the next turn resumes the same conversation.
    send(Intent::Consultation);
    assert!(matches!(
        answer(&mut events).await,
        Event::Consultation(i) if i.state == ConsultationState::InProgress { conversation_id, exchanges: 1 }
    ));
    send(Intent::ConsultationTurn {
        text: "That's everything.".into(),
    });
    let second = until(&mut events, |e| {
        matches!(e, Event::Consultation(i) if matches!(i.state, ConsultationState::Completed { .. }))
    })
    .await;
    let text = text_of(&second);
    assert!(text.contains("I have what I need"), "{text}");
    assert!(
        !text.contains("CONSULTATION") && !text.contains("COMPLETE"),
        "{text}"
    );
    assert!(second.contains(&Event::ConsultationStep {
        turn: queued.map_or(0, |t| t + 1),
        conversation_id,
        finished: true,
    }));
    assert!(second.contains(&Event::PersonalCoach(PersonalStatus::Preparing)));
    // Generation runs in the background and the state poller reports it ready.
    until(&mut events, |e| {
        matches!(e, Event::PersonalCoach(PersonalStatus::Ready(1)))
    })
    .await;

    // A coaching turn at the will step: the coach proposes, the face accepts.
    send(Intent::Send(SendRequest {
        text: "OK, I'll send the portfolio by Friday.".into(),
        ..SendRequest::default()
    }));
    let turn = until(&mut events, |e| {
        matches!(e, Event::CommitmentProposal { .. })
    })
    .await;
    let Some(Event::CommitmentProposal {
        conversation_id: chat_id,
        proposal,
    }) = turn.last().cloned()
    else {
        panic!("no proposal: {turn:#?}");
    };
    assert_eq!(proposal.text, "Send the portfolio to two studios");
    assert_eq!(proposal.due, NaiveDate::from_ymd_opt(2026, 11, 27));
    send(Intent::AcceptProposal {
        conversation_id: Some(chat_id),
        proposal,
    });
    assert_eq!(
        answer(&mut events).await,
        Event::Notice(
            "commitment #1 saved: Send the portfolio to two studios (due 2026-11-27)".into()
        )
    );

    // `/propose` asks again; nothing new is there.
    send(Intent::ProposeCommitment {
        conversation_id: chat_id,
    });
    assert!(matches!(
        answer(&mut events).await,
        Event::Notice(n) if n.starts_with("no new commitment")
    ));
    assert_eq!(server.hits(), 7, "one extraction per proposal, no more");

    // The profile: version 1, its snapshot as the trend's first point, the commitment.
    send(Intent::Profile);
    match answer(&mut events).await {
        Event::Profile(p) => {
            assert_eq!(p.versions.len(), 1);
            assert_eq!(p.history.len(), 1);
            assert_eq!(p.commitments.len(), 1);
            assert!(matches!(
                p.consultation,
                ConsultationState::Completed { .. }
            ));
        }
        other => panic!("expected the profile, got {other:?}"),
    }
    send(Intent::Shutdown);
}

#[tokio::test]
async fn without_a_model_the_consultation_and_proposals_say_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (intents, mut events) = grow::coach::worker::spawn(offline_coach(dir.path(), 0));
    let send = |i: Intent| intents.send(i).expect("worker running");
    send(Intent::EnableConsultation { enabled: true });
    assert!(matches!(
        answer(&mut events).await,
        Event::Consultation(i) if !i.has_model && i.state == ConsultationState::NotStarted
    ));
    send(Intent::ConsultationTurn {
        text: "hello".into(),
    });
    assert!(matches!(
        answer(&mut events).await,
        Event::ConsultationTurnQueued { .. }
    ));
    assert!(matches!(answer(&mut events).await, Event::Error(e) if e.contains("needs a model")));
    send(Intent::FinishConsultation);
    assert!(
        matches!(answer(&mut events).await, Event::Error(e) if e.contains("no consultation in progress"))
    );
    send(Intent::ProposeCommitment { conversation_id: 1 });
    assert!(matches!(answer(&mut events).await, Event::Error(e) if e.contains("needs a model")));
    // An offline coaching turn at the will step proposes nothing (and calls nothing).
    send(Intent::Send(SendRequest {
        text: "I'll call Anna by Friday".into(),
        ..SendRequest::default()
    }));
    until(&mut events, |e| matches!(e, Event::TurnFinished { .. })).await;
    send(Intent::ListCommitments);
    assert!(matches!(answer(&mut events).await, Event::Commitments(l) if l.is_empty()));
    send(Intent::Shutdown);
}
