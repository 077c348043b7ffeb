//! Client-side overhead of one coaching turn: `cargo bench --bench turn_overhead`.
//!
//! A fake Anthropic server on 127.0.0.1 answers instantly; the coach writes to a real SQLite
//! file. Two spans are timed from the turn's own events (delivered over an unbounded channel
//! the moment they happen):
//! - before: `send` called → the request is about to go on the wire (`AttemptStarted`): the
//!   user message committed, history loaded, prompt rendered, route decided and stored;
//! - after: the last streamed text → `TurnFinished` (answer, attempt and usage committed,
//!   cost meter computed).
//!
//! Prints median and p95 of each over 300 turns in one conversation.

#[path = "../tests/support/fake_server.rs"]
#[allow(dead_code)]
mod fake_server;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fake_server::wire::{AnthropicUsage, anthropic_stream};
use fake_server::{FakeServer, Reply};
use grow::coach::api::{Event, SendRequest};
use grow::coach::engine::{CancelSignal, Coach};
use grow::config::LoadOptions;
use tokio::sync::mpsc;

const TURNS: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let stream = anthropic_stream(
        "claude-sonnet-4-6",
        &["Let's ", "look at ", "that."],
        AnthropicUsage {
            input: 900,
            cache_write: 0,
            cache_read: 0,
            output: 12,
        },
    );
    let server =
        FakeServer::start_repeating(Reply::sse(&stream).pieces_of(4096).delay(Duration::ZERO))
            .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, "").expect("config");
    let env: HashMap<String, String> = [
        ("GROW_DATA_DIR", dir.path().display().to_string()),
        ("ANTHROPIC_API_KEY", "sk-ant-bench".to_string()),
        ("ANTHROPIC_BASE_URL", server.url()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let get = move |k: &str| env.get(k).cloned();
    let config = grow::coach::settings::load(&LoadOptions {
        config_path: Some(config_path),
        db_override: None,
        env: &get,
    })
    .expect("config");
    let coach = Coach::from_config(config, &get).expect("coach");

    let mut before = Vec::with_capacity(TURNS);
    let mut after = Vec::with_capacity(TURNS);
    let mut total = Vec::with_capacity(TURNS);
    let mut conversation = None;
    for i in 0..TURNS {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let req = SendRequest {
            conversation_id: conversation,
            text: format!("Routine check-in number {i}: the week went fine."),
            ..Default::default()
        };
        let start = Instant::now();
        let watcher = tokio::spawn(async move {
            let (mut attempt, mut last_delta, mut finished) = (None, None, None);
            while let Some(e) = rx.recv().await {
                let now = Instant::now();
                match e {
                    Event::AttemptStarted { .. } => attempt = Some(now),
                    Event::Delta { .. } => last_delta = Some(now),
                    Event::TurnFinished { .. } => finished = Some(now),
                    _ => {}
                }
            }
            (attempt, last_delta, finished)
        });
        let summary = coach
            .send(i as u64, &req, &tx, CancelSignal::never())
            .await
            .expect("turn");
        drop(tx);
        let (attempt, last_delta, finished) = watcher.await.expect("watcher");
        conversation = Some(summary.conversation_id);
        if let (Some(a), Some(d), Some(f)) = (attempt, last_delta, finished) {
            before.push(a - start);
            after.push(f - d);
            total.push(f - start);
        }
    }
    for (name, v) in [
        ("send → request on the wire", &mut before),
        ("last byte → committed", &mut after),
        ("whole turn (instant server)", &mut total),
    ] {
        v.sort();
        println!(
            "turn_overhead/{name:<28} median {:>8.3} ms   p95 {:>8.3} ms   (n={})",
            percentile(v, 0.5).as_secs_f64() * 1e3,
            percentile(v, 0.95).as_secs_f64() * 1e3,
            v.len()
        );
    }
}
