//! The worker's commitment and profile intents against a real coach (offline, SQLite in a
//! temp dir, fixed clock): what a face gets back for `/commit`, `/done`, `/commitments`
//! and the profile screen, and the personal coach's state reported at start.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use grow::coach::api::{CommitmentStatus, Event, Intent, PersonalStatus, Resolution};
use grow::coach::clock::Clock;
use grow::coach::engine::{Coach, routing_policy};
use grow::coach::prompts::Prompts;
use grow::coach::provider_set::ProviderSet;
use grow::config::LoadOptions;
use grow::routing::lexicon::Lexicon;
use grow::routing::router::Router;
use grow::store::Store;
use tokio::sync::mpsc::UnboundedReceiver;

fn offline_coach(dir: &std::path::Path, now_ms: i64) -> Arc<Coach> {
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, "").expect("write config");
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("GROW_DATA_DIR".into(), dir.display().to_string());
    let get = move |k: &str| env.get(k).cloned();
    let config = grow::coach::settings::load(&LoadOptions {
        config_path: Some(config_path),
        db_override: None,
        env: &get,
    })
    .expect("config");
    let providers = ProviderSet::from_config(&config, &get).expect("providers");
    let router = Router::new(
        Arc::new(config.catalog.clone()),
        Arc::new(Lexicon::builtin().expect("lexicon")),
        routing_policy(&config, &providers),
    );
    let prompts = Prompts::load(&config).expect("prompts");
    let store = Store::open(&config.paths.db).expect("store");
    let coach = Coach::new(
        Arc::new(config),
        router,
        providers,
        prompts,
        store,
        Clock::fixed(now_ms),
    )
    .expect("coach");
    Arc::new(coach)
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

#[tokio::test]
async fn commitment_and_profile_intents_answer_the_face() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Thursday 2026-11-26, noon UTC.
    let now = Utc
        .with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
        .single()
        .expect("date")
        .timestamp_millis();
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
