//! Load test of the analyzer: 100 concurrent coaching turns with the analyzer on, against
//! local fake servers (the analyzer model answers in 100 ms, the coach at once), and the same
//! 100 turns with the analyzer off as the baseline.
//!
//! Checks that no turn fails and no message is lost (100 user messages and 100 complete
//! answers stored, 100 analyzer verdicts used), and prints the p50/p95 of the latency the
//! analyzer adds to a turn — measured directly as the time the turn waits for the analyzer
//! after assembling its context (`AnalyzerReport::added_ms`) — plus the analyzer's own
//! latency and whole-turn times with and without it. Goal: p95 added < 200 ms.
//!
//! `cargo bench --bench analyzer_load` (optional: `-- --turns N --rounds R`)

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grow::coach::api::{Event, SendRequest, TurnStatus};
use grow::coach::engine::{CancelSignal, Coach};
use grow::config::LoadOptions;
use grow::routing::analyzer::AnalyzerStatus;
use serde_json::json;

#[allow(dead_code)]
#[path = "../tests/support/fake_server.rs"]
mod fake_server;

use fake_server::wire::{AnthropicUsage, OpenAiUsage, anthropic_stream, openai_stream};
use fake_server::{FakeServer, Reply};

const ANALYZER_DELAY: Duration = Duration::from_millis(100);

fn coach_for(dir: &std::path::Path, coach_url: &str, analyzer_url: &str, analyzer: &str) -> Coach {
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, analyzer).expect("write config");
    let env: HashMap<String, String> = [
        ("GROW_DATA_DIR", dir.display().to_string()),
        ("ANTHROPIC_API_KEY", "sk-ant-FAKE-bench".to_string()),
        ("ANTHROPIC_BASE_URL", coach_url.to_string()),
        ("OPENAI_API_KEY", "sk-FAKE-bench".to_string()),
        ("OPENAI_BASE_URL", analyzer_url.to_string()),
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
    Coach::from_config(config, &get).expect("coach")
}

struct TurnResult {
    total_ms: f64,
    added_ms: Option<u64>,
    analyzer_ms: Option<u64>,
    status: Option<AnalyzerStatus>,
    complete: bool,
}

async fn run_turns(coach: Arc<Coach>, turns: usize, round: usize) -> Vec<TurnResult> {
    let mut handles = Vec::with_capacity(turns);
    for i in 0..turns {
        let coach = Arc::clone(&coach);
        handles.push(tokio::spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let req = SendRequest {
                text: format!("round {round}, turn {i}: I had a long chat with my sister"),
                ..Default::default()
            };
            let started = Instant::now();
            let summary = coach.send(i as u64, &req, &tx, CancelSignal::never()).await;
            let total_ms = started.elapsed().as_secs_f64() * 1000.0;
            drop(tx);
            let mut report = None;
            while let Some(e) = rx.recv().await {
                if let Event::Decision { decision, .. } = e {
                    report = decision.analyzer;
                }
            }
            TurnResult {
                total_ms,
                added_ms: report.as_ref().map(|r| r.added_ms),
                analyzer_ms: report.as_ref().map(|r| r.latency_ms),
                status: report.map(|r| r.status),
                complete: summary.is_ok_and(|s| s.status == TurnStatus::Complete),
            }
        }));
    }
    let mut out = Vec::with_capacity(turns);
    for h in handles {
        out.push(h.await.expect("turn task"));
    }
    out
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let turns = arg("--turns", 100);
    let rounds = arg("--rounds", 1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let coach_server = FakeServer::start_repeating(Reply::sse(&anthropic_stream(
            "claude-sonnet-4-6",
            &["Let's ", "look ", "at that."],
            AnthropicUsage {
                input: 900,
                cache_write: 0,
                cache_read: 0,
                output: 20,
            },
        )))
        .await;
        let kinds = [
            "long_context",
            "complex_decision",
            "deep_reflection",
            "strategic_planning",
            "escalation_prep",
            "distress",
            "crisis",
        ];
        let verdict = json!({
            "signals": kinds.iter().map(|k| (k.to_string(), json!(0.1))).collect::<serde_json::Map<_, _>>(),
            "escalation_risk": "none",
            "crisis": false,
            "grow_stage": "reality",
            "topic": "family",
            "rationale": "A calm conversation about family.",
        })
        .to_string();
        // The whole answer leaves the server after ANALYZER_DELAY.
        let analyzer_server = FakeServer::start_repeating(
            Reply::sse(&openai_stream(
                "gpt-4.1-mini",
                &[&verdict],
                Some(OpenAiUsage {
                    prompt: 1500,
                    completion: 120,
                    cached: 1024,
                }),
            ))
            .pieces_of(1 << 20)
            .delay(ANALYZER_DELAY),
        )
        .await;

        println!(
            "analyzer load: {turns} concurrent turns × {rounds} round(s); analyzer model answers in {} ms",
            ANALYZER_DELAY.as_millis()
        );
        let mut all_added = Vec::new();
        let mut all_analyzer = Vec::new();
        let mut with_totals = Vec::new();
        let mut without_totals = Vec::new();
        let mut failures = 0usize;
        for round in 0..rounds {
            let on_dir = tempfile::tempdir().expect("tempdir");
            let off_dir = tempfile::tempdir().expect("tempdir");
            // No cache: every turn must really call the analyzer.
            let on = Arc::new(coach_for(
                on_dir.path(),
                &coach_server.url(),
                &analyzer_server.url(),
                "[analyzer]\npreset = \"balanced\"\ncache = false\n",
            ));
            let off = Arc::new(coach_for(
                off_dir.path(),
                &coach_server.url(),
                &analyzer_server.url(),
                "",
            ));
            let hits_before = analyzer_server.hits();
            let baseline = run_turns(Arc::clone(&off), turns, round).await;
            let results = run_turns(Arc::clone(&on), turns, round).await;
            let analyzer_calls = analyzer_server.hits() - hits_before;

            let stored = on
                .with_store(|s| s.stats(0, i64::MAX))
                .expect("stats");
            let (users, answers) = count_messages(&on);
            let used = results
                .iter()
                .filter(|r| r.status == Some(AnalyzerStatus::Used))
                .count();
            let complete = results.iter().filter(|r| r.complete).count();
            let round_failures = (turns - complete)
                + (turns - used)
                + (turns - users)
                + (turns - answers)
                + baseline.iter().filter(|r| !r.complete).count();
            failures += round_failures;
            println!(
                "round {round}: complete {complete}/{turns}, analyzer used {used}/{turns} ({analyzer_calls} calls, {} usage rows), stored user messages {users}/{turns}, complete answers {answers}/{turns}",
                stored.analyzer.calls
            );
            let mut statuses: HashMap<String, usize> = HashMap::new();
            for r in &results {
                *statuses
                    .entry(r.status.map_or("none".into(), |s| s.to_string()))
                    .or_default() += 1;
            }
            if used < turns {
                println!("  analyzer statuses: {statuses:?}");
            }
            all_added.extend(results.iter().filter_map(|r| r.added_ms).map(|v| v as f64));
            all_analyzer.extend(results.iter().filter_map(|r| r.analyzer_ms).map(|v| v as f64));
            with_totals.extend(results.iter().map(|r| r.total_ms));
            without_totals.extend(baseline.iter().map(|r| r.total_ms));
        }
        let p = |v: &mut Vec<f64>| (percentile(v, 50.0), percentile(v, 95.0), percentile(v, 100.0));
        let (a50, a95, amax) = p(&mut all_added);
        let (l50, l95, lmax) = p(&mut all_analyzer);
        let (w50, w95, _) = p(&mut with_totals);
        let (o50, o95, _) = p(&mut without_totals);
        println!("latency the analyzer adds to a turn (waited after context assembly): p50 {a50:.0} ms, p95 {a95:.0} ms, max {amax:.0} ms  (goal p95 < 200 ms)");
        println!("analyzer call latency (start to verdict):                           p50 {l50:.0} ms, p95 {l95:.0} ms, max {lmax:.0} ms");
        println!("whole turn with analyzer:    p50 {w50:.0} ms, p95 {w95:.0} ms");
        println!("whole turn without analyzer: p50 {o50:.0} ms, p95 {o95:.0} ms  (difference p50 {:.0} ms, p95 {:.0} ms)", w50 - o50, w95 - o95);
        if failures > 0 {
            println!("FAILED: {failures} lost or failed turn(s)");
            std::process::exit(1);
        }
        println!("ok: no failure, no lost message; p95 added {} the 200 ms goal", if a95 < 200.0 { "meets" } else { "MISSES" });
    });
}

/// Stored user messages and complete assistant answers, counted in the database file.
fn count_messages(coach: &Coach) -> (usize, usize) {
    let conn = rusqlite::Connection::open(&coach.config.paths.db).expect("open db");
    let count = |sql: &str| {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map_or(0, |n| usize::try_from(n).unwrap_or(0))
    };
    (
        count("SELECT COUNT(*) FROM messages WHERE role = 'user'"),
        count("SELECT COUNT(*) FROM messages WHERE role = 'assistant' AND status = 'complete'"),
    )
}
