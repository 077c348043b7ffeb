//! A real `Coach` whose providers point at fake servers, with fast retries, short timeouts
//! and its own temporary data dir and config.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use grow::coach::api::{Event, SendRequest, TurnSummary};
use grow::coach::clock::Clock;
use grow::coach::engine::{CancelSignal, Coach};
use grow::config::LoadOptions;
use tokio::sync::mpsc;

pub const KEY: &str = "sk-ant-api03-FAKE-SECRET-KEY-7f3a9c";
pub const OPENAI_KEY: &str = "sk-proj-FAKE-OPENAI-SECRET-41d2";

pub struct Harness {
    pub coach: Coach,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("grow.db")
    }

    /// One whole turn (in `conversation_id`, or a new conversation), with every event it sent.
    pub async fn ask_in(
        &self,
        conversation_id: Option<i64>,
        text: &str,
    ) -> (TurnSummary, Vec<Event>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let req = SendRequest {
            conversation_id,
            text: text.into(),
            ..Default::default()
        };
        let summary = self
            .coach
            .send(1, &req, &tx, CancelSignal::never())
            .await
            .expect("turn runs");
        drop(tx);
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            events.push(e);
        }
        (summary, events)
    }
}

/// A coach with Anthropic at `anthropic` and OpenAI at `openai` (each with a fake key when
/// given), and `extra` appended to the config.
pub fn harness(anthropic: Option<String>, openai: Option<String>, extra: &str) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "[retry]\ninitial_backoff_ms = 5\nmax_backoff_ms = 20\n\n[timeouts]\nconnect_secs = 1\nfirst_byte_secs = 1\nidle_secs = 1\n\n{extra}"
    );
    let mut env: HashMap<String, String> = HashMap::new();
    if let Some(url) = anthropic {
        env.insert("ANTHROPIC_API_KEY".into(), KEY.into());
        env.insert("ANTHROPIC_BASE_URL".into(), url);
    }
    if let Some(url) = openai {
        env.insert("OPENAI_API_KEY".into(), OPENAI_KEY.into());
        env.insert("OPENAI_BASE_URL".into(), url);
    }
    let coach = coach_in(dir.path(), &config, env, Clock::System);
    Harness { coach, dir }
}

/// A real coach keeping its data and its config file (`config`) in `dir`, seeing `env` as its
/// environment, reading time from `clock`.
pub fn coach_in(dir: &Path, config: &str, mut env: HashMap<String, String>, clock: Clock) -> Coach {
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, config).expect("write config");
    env.insert("GROW_DATA_DIR".into(), dir.display().to_string());
    let get = move |k: &str| env.get(k).cloned();
    let config = grow::coach::settings::load(&LoadOptions {
        config_path: Some(config_path),
        db_override: None,
        env: &get,
    })
    .expect("config");
    Coach::from_config_at(config, &get, clock).expect("coach")
}

/// The answer text a turn streamed, from its `Delta` events.
pub fn text_of(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Delta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}
