//! The analyzer runner end to end: whole coaching turns with the analyzer against fake
//! providers on 127.0.0.1 — the coach on a fake Anthropic server, the analyzer (preset
//! `balanced`, an OpenAI model) on a fake OpenAI server, unless a test says otherwise.
//! Status, origin, merged signals, requests sent, and what is stored.

mod support;

use std::time::Duration;

use grow::coach::api::{Event, TurnStatus, TurnSummary};
use grow::routing::analyzer::AnalyzerStatus;
use grow::routing::health::HealthState;
use grow::routing::types::{RouteDecision, Safety, SignalKind, SignalOrigin, SignalSource};
use serde_json::json;
use support::fake_server::wire::{AnthropicUsage, OpenAiUsage, anthropic_stream, openai_stream};
use support::fake_server::{FakeServer, Reply};

use support::coach_harness::{Harness, OPENAI_KEY, harness, text_of};

impl Harness {
    /// `(kind, model, cost_usd, upgrade_equiv_cost_usd, decision_id)` of every usage row.
    fn usage_rows(&self) -> Vec<(String, String, f64, f64, Option<i64>)> {
        let conn = rusqlite::Connection::open(self.db_path()).expect("open db");
        let mut stmt = conn
            .prepare(
                "SELECT kind, model, cost_usd, upgrade_equiv_cost_usd, decision_id FROM usage ORDER BY id",
            )
            .expect("prepare");
        stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    }

    fn analyzer_rows(&self) -> Vec<(String, String, f64, f64, Option<i64>)> {
        self.usage_rows()
            .into_iter()
            .filter(|r| r.0 == "analyzer")
            .collect()
    }
}

const BALANCED: &str = "[analyzer]\npreset = \"balanced\"\n";

async fn ask(h: &Harness, conversation_id: Option<i64>, text: &str) -> (TurnSummary, Vec<Event>) {
    h.ask_in(conversation_id, text).await
}

fn decision_of(events: &[Event]) -> RouteDecision {
    events
        .iter()
        .find_map(|e| match e {
            Event::Decision { decision, .. } => Some(decision.clone()),
            _ => None,
        })
        .expect("a decision event")
}

fn status_of(d: &RouteDecision) -> AnalyzerStatus {
    d.analyzer.as_ref().expect("an analyzer report").status
}

fn coach_server_reply() -> Reply {
    Reply::sse(&anthropic_stream(
        "claude-sonnet-4-6",
        &["Let's ", "look at that."],
        AnthropicUsage {
            input: 900,
            cache_write: 0,
            cache_read: 0,
            output: 20,
        },
    ))
}

/// A verdict with `scores` (contract order) and the given crisis flag.
fn verdict(scores: [f64; 7], crisis: bool, topic: &str) -> serde_json::Value {
    let kinds = SignalKind::ALL.map(SignalKind::as_str);
    let signals: serde_json::Map<String, serde_json::Value> = kinds
        .iter()
        .zip(scores)
        .map(|(k, s)| (k.to_string(), json!(s)))
        .collect();
    json!({
        "signals": signals,
        "escalation_risk": "none",
        "crisis": crisis,
        "grow_stage": "options",
        "topic": topic,
        "rationale": "The person weighs where to live against their career.",
    })
}

/// An OpenAI structured-output answer: the verdict's JSON streamed as content.
fn openai_answer(text: &str) -> Reply {
    let mid = text.len() / 2;
    let cut = (0..=mid)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    Reply::sse(&openai_stream(
        "gpt-4.1-mini",
        &[&text[..cut], &text[cut..]],
        Some(OpenAiUsage {
            prompt: 1500,
            completion: 120,
            cached: 1024,
        }),
    ))
}

fn planning_verdict() -> serde_json::Value {
    verdict([0.0, 0.2, 0.1, 0.85, 0.0, 0.0, 0.0], false, "relocation")
}

/// A message none of the deterministic detectors fires on.
const PLAIN: &str = "I had a long chat with my sister about where we grew up";

#[tokio::test]
async fn valid_answer_is_merged_and_recorded() {
    let coach = FakeServer::start_repeating(coach_server_reply()).await;
    let analyzer = FakeServer::start(vec![openai_answer(&planning_verdict().to_string())]).await;
    let h = harness(Some(coach.url()), Some(analyzer.url()), BALANCED);

    let (summary, events) = ask(&h, None, PLAIN).await;
    assert_eq!(summary.status, TurnStatus::Complete);
    let d = decision_of(&events);
    assert_eq!(status_of(&d), AnalyzerStatus::Used);
    assert_eq!(d.signal_origin, SignalOrigin::Analyzer);
    let planning = d
        .signals
        .iter()
        .find(|s| s.kind == SignalKind::StrategicPlanning)
        .expect("the analyzer's signal is added");
    assert_eq!(planning.source, SignalSource::Analyzer);
    assert!((planning.score - 0.85).abs() < 1e-6);
    assert!(
        d.upgraded,
        "an analyzer signal above the threshold upgrades"
    );
    let report = d.analyzer.as_ref().expect("report");
    assert_eq!(report.model, "gpt-4.1-mini");
    assert!(report.cost_usd > 0.0);
    assert!(!report.cached);

    // The request used OpenAI's structured output, strict, and carried the message.
    let body = analyzer.requests()[0].json();
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(body["model"], "gpt-4.1-mini");
    assert!(
        body["messages"][1]["content"]
            .as_str()
            .unwrap_or("")
            .contains(PLAIN)
    );
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap_or("")
            .contains("You are the analyzer")
    );

    // One usage row of kind analyzer, tied to the decision, no upgrade equivalent; counted
    // in the cost meter.
    let rows = h.analyzer_rows();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "gpt-4.1-mini");
    assert!((rows[0].2 - report.cost_usd).abs() < 1e-12);
    assert_eq!(rows[0].3, 0.0);
    assert!(rows[0].4.is_some());
    assert!(summary.costs.turn >= summary.cost_usd + report.cost_usd - 1e-12);
    let stats = h.coach.with_store(|s| s.stats(0, i64::MAX)).expect("stats");
    assert_eq!(stats.analyzer.calls, 1);
    assert!(
        stats
            .signal_origins
            .iter()
            .any(|c| c.class == "analyzer" && c.count == 1),
        "{:?}",
        stats.signal_origins
    );
}

#[tokio::test]
async fn invalid_json_then_valid_on_retry() {
    let coach = FakeServer::start_repeating(coach_server_reply()).await;
    let analyzer = FakeServer::start(vec![
        openai_answer("Sure! Here are the scores: {\"signals\": "),
        openai_answer(&planning_verdict().to_string()),
    ])
    .await;
    let h = harness(Some(coach.url()), Some(analyzer.url()), BALANCED);
    let (_, events) = ask(&h, None, PLAIN).await;
    let d = decision_of(&events);
    assert_eq!(status_of(&d), AnalyzerStatus::Used);
    assert_eq!(d.signal_origin, SignalOrigin::Analyzer);
    assert_eq!(analyzer.hits(), 2);

    // The retry is a follow-up turn: the invalid answer, then what was wrong with it.
    let retry = analyzer.requests()[1].json();
    let messages = retry["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.len(), 4, "{retry}");
    assert_eq!(messages[2]["role"], "assistant");
    assert!(
        messages[2]["content"]
            .as_str()
            .unwrap_or("")
            .starts_with("Sure!")
    );
    let clarification = messages[3]["content"].as_str().unwrap_or("");
    assert!(
        clarification.starts_with("Your previous answer was invalid")
            && clarification.contains("not valid JSON"),
        "{clarification}"
    );
    assert_eq!(h.analyzer_rows().len(), 2, "both calls are paid for");
}

#[tokio::test]
async fn out_of_range_values_are_retried_then_discarded() {
    let coach = FakeServer::start_repeating(coach_server_reply()).await;
    let bad = verdict([0.0, 0.0, 0.0, 1.7, 0.0, 0.0, 0.0], false, "relocation").to_string();
    let analyzer = FakeServer::start(vec![openai_answer(&bad), openai_answer(&bad)]).await;
    let h = harness(Some(coach.url()), Some(analyzer.url()), BALANCED);
    let (summary, events) = ask(&h, None, PLAIN).await;
    assert_eq!(summary.status, TurnStatus::Complete);
    let d = decision_of(&events);
    assert_eq!(status_of(&d), AnalyzerStatus::Invalid);
    assert_eq!(d.signal_origin, SignalOrigin::Fallback);
    assert!(
        d.signals.is_empty(),
        "only deterministic signals: {:?}",
        d.signals
    );
    assert!(!d.upgraded);
    assert_eq!(analyzer.hits(), 2, "one retry, no more");
    let retry = analyzer.requests()[1].json();
    let clarification = retry["messages"][3]["content"].as_str().unwrap_or("");
    assert!(
        clarification.contains("signals.strategic_planning"),
        "the clarification names the field: {clarification}"
    );
}

#[tokio::test]
async fn slow_answer_beyond_the_budget_routes_deterministically() {
    let coach = FakeServer::start_repeating(coach_server_reply()).await;
    // The whole answer arrives after 600 ms; the budget is 150 ms.
    let slow = openai_answer(&planning_verdict().to_string())
        .pieces_of(1 << 20)
        .delay(Duration::from_millis(600));
    let analyzer = FakeServer::start(vec![slow]).await;
    let h = harness(
        Some(coach.url()),
        Some(analyzer.url()),
        &format!("{BALANCED}budget_ms = 150\n"),
    );
    let (summary, events) = ask(&h, None, PLAIN).await;
    assert_eq!(summary.status, TurnStatus::Complete, "the turn goes on");
    let d = decision_of(&events);
    assert_eq!(status_of(&d), AnalyzerStatus::TimedOut);
    assert_eq!(d.signal_origin, SignalOrigin::Fallback);
    assert!(d.signals.is_empty());
    assert!(
        h.analyzer_rows().is_empty(),
        "nothing paid is known yet: {:?}",
        h.analyzer_rows()
    );

    // The late answer is only logged, and its tokens are recorded on the next turn.
    let runner = h.coach.analyzer().expect("analyzer on").clone();
    for _ in 0..200 {
        if runner.late_len() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(runner.late_len(), 1, "the late answer arrived");
    assert!(
        runner
            .cache_stats()
            .is_some_and(|(entries, _, _)| entries == 0),
        "a late verdict is not cached"
    );
    let (_, events) = ask(&h, None, "another plain message about my week").await;
    // The analyzer server has no script left: a 500 now.
    assert_eq!(status_of(&decision_of(&events)), AnalyzerStatus::Failed);
    let rows = h.analyzer_rows();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].4, None, "a late call belongs to no decision");
}

#[tokio::test]
async fn repeated_failures_open_the_circuit_and_it_recovers() {
    let coach = FakeServer::start_repeating(coach_server_reply()).await;
    let error = || {
        Reply::json(
            500,
            r#"{"error":{"message":"boom","type":"server_error","code":null}}"#,
        )
    };
    let analyzer = FakeServer::start(vec![
        error(),
        error(),
        error(),
        openai_answer(&planning_verdict().to_string()),
    ])
    .await;
    let h = harness(
        Some(coach.url()),
        Some(analyzer.url()),
        &format!("{BALANCED}failure_threshold = 3\ncooldown_secs = 1\n"),
    );
    for i in 0..3 {
        let (_, events) = ask(&h, None, &format!("plain message number {i}")).await;
        assert_eq!(status_of(&decision_of(&events)), AnalyzerStatus::Failed);
    }
    assert_eq!(analyzer.hits(), 3);
    let runner = h.coach.analyzer().expect("analyzer on").clone();
    assert!(matches!(runner.circuit(), HealthState::Open { .. }));

    // While open: no request reaches the server, the turn routes deterministically.
    let (summary, events) = ask(&h, None, "plain message while open").await;
    assert_eq!(summary.status, TurnStatus::Complete);
    let d = decision_of(&events);
    assert_eq!(status_of(&d), AnalyzerStatus::CircuitOpen);
    assert_eq!(d.signal_origin, SignalOrigin::Fallback);
    assert_eq!(analyzer.hits(), 3, "no call while the circuit is open");

    // After the cool-down one trial call goes through; its success closes the circuit.
    for _ in 0..100 {
        if runner.circuit() == HealthState::HalfOpen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(runner.circuit(), HealthState::HalfOpen);
    let (_, events) = ask(&h, None, PLAIN).await;
    assert_eq!(status_of(&decision_of(&events)), AnalyzerStatus::Used);
    assert_eq!(analyzer.hits(), 4);
    assert_eq!(runner.circuit(), HealthState::Closed);
}

#[tokio::test]
async fn cache_hit_skips_the_call() {
    let coach = FakeServer::start_repeating(coach_server_reply()).await;
    let analyzer = FakeServer::start(vec![openai_answer(&planning_verdict().to_string())]).await;
    let h = harness(Some(coach.url()), Some(analyzer.url()), BALANCED);
    let (first, events) = ask(&h, None, PLAIN).await;
    assert_eq!(status_of(&decision_of(&events)), AnalyzerStatus::Used);
    // The same words in a new conversation, spaced and cased differently.
    let (second, events) = ask(&h, None, &PLAIN.to_uppercase().replace(' ', "  ")).await;
    assert_ne!(first.conversation_id, second.conversation_id);
    let d = decision_of(&events);
    let report = d.analyzer.as_ref().expect("report");
    assert_eq!(report.status, AnalyzerStatus::Cached);
    assert!(report.cached);
    assert_eq!(report.cost_usd, 0.0);
    assert_eq!(d.signal_origin, SignalOrigin::Analyzer);
    assert!(
        d.signals
            .iter()
            .any(|s| s.kind == SignalKind::StrategicPlanning)
    );
    assert_eq!(analyzer.hits(), 1, "the cache answered");
    assert_eq!(h.analyzer_rows().len(), 1, "a cache hit costs nothing");

    // In a conversation with history the key differs: the recent turns count.
    let (_, events) = ask(&h, Some(first.conversation_id), PLAIN).await;
    assert_eq!(status_of(&decision_of(&events)), AnalyzerStatus::Failed);
    assert_eq!(analyzer.hits(), 2);
}

#[tokio::test]
async fn analyzer_says_no_crisis_but_the_detector_does() {
    let coach = FakeServer::start_repeating(coach_server_reply()).await;
    let calm = verdict([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], false, "weekend plans");
    let analyzer = FakeServer::start(vec![openai_answer(&calm.to_string())]).await;
    let h = harness(Some(coach.url()), Some(analyzer.url()), BALANCED);
    let (summary, events) = ask(
        &h,
        None,
        "I don't want to live anymore, I've been thinking about ending my life",
    )
    .await;
    let d = decision_of(&events);
    assert_eq!(status_of(&d), AnalyzerStatus::Used);
    assert_eq!(d.safety, Safety::Crisis);
    assert!(d.upgraded);
    let crisis = d
        .signals
        .iter()
        .find(|s| s.kind == SignalKind::Crisis)
        .expect("the detector's crisis stays");
    assert!(crisis.score >= 0.5, "{crisis:?}");
    let text = text_of(&events);
    assert!(text.contains("988"), "the safety notice is shown: {text}");
    assert_eq!(summary.status, TurnStatus::Complete);
}

#[tokio::test]
async fn anthropic_analyzer_uses_a_forced_tool_call() {
    // Preset `cheap` runs an Anthropic model: the analyzer and the coach share the server;
    // the analyzer's request comes first.
    let tool_stream = anthropic_tool_stream(&planning_verdict().to_string());
    let server = FakeServer::start(vec![Reply::sse(&tool_stream), coach_server_reply()]).await;
    let h = harness(Some(server.url()), None, "[analyzer]\npreset = \"cheap\"\n");
    let (summary, events) = ask(&h, None, PLAIN).await;
    assert_eq!(summary.status, TurnStatus::Complete);
    let d = decision_of(&events);
    assert_eq!(status_of(&d), AnalyzerStatus::Used, "{:?}", d.analyzer);
    assert!(
        d.signals
            .iter()
            .any(|s| s.kind == SignalKind::StrategicPlanning)
    );
    let body = server.requests()[0].json();
    assert_eq!(body["tool_choice"]["type"], "tool");
    assert_eq!(body["tools"][0]["name"], body["tool_choice"]["name"]);
    assert_eq!(body["model"], "claude-haiku-5-5");
    assert!(
        !server.requests()[1]
            .json()
            .to_string()
            .contains("tool_choice"),
        "the coaching call has no tools"
    );
}

/// A Messages stream whose answer is a forced tool call with `input` streamed as
/// `input_json_delta` fragments.
fn anthropic_tool_stream(input: &str) -> String {
    let mut s = String::from(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-5-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":1400,\"cache_read_input_tokens\":0,\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}\n\n",
    );
    s.push_str("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"grow_analyzer_verdict\",\"input\":{}}}\n\n");
    let chars: Vec<char> = input.chars().collect();
    for piece in chars.chunks(40) {
        let piece: String = piece.iter().collect();
        let data = json!({
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": piece},
        });
        s.push_str(&format!("event: content_block_delta\ndata: {data}\n\n"));
    }
    s.push_str(
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    );
    s.push_str("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":110}}\n\n");
    s.push_str("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    s
}

#[tokio::test]
async fn preset_off_changes_nothing_and_calls_nothing() {
    let coach = FakeServer::start_repeating(coach_server_reply()).await;
    let analyzer = FakeServer::start(vec![openai_answer(&planning_verdict().to_string())]).await;
    let h = harness(Some(coach.url()), Some(analyzer.url()), "");
    assert!(h.coach.analyzer().is_none());
    let (_, events) = ask(&h, None, PLAIN).await;
    let d = decision_of(&events);
    assert!(d.analyzer.is_none());
    assert_eq!(d.signal_origin, SignalOrigin::Deterministic);
    assert!(
        !serde_json::to_string(&d)
            .unwrap_or_default()
            .contains("analyzer"),
        "no analyzer field in the decision's JSON"
    );
    assert_eq!(analyzer.hits(), 0);
    assert!(h.analyzer_rows().is_empty());
}

#[tokio::test]
async fn analyzer_without_a_key_is_off() {
    let coach = FakeServer::start_repeating(coach_server_reply()).await;
    // Preset balanced runs an OpenAI model, and no OpenAI key is configured.
    let h = harness(Some(coach.url()), None, BALANCED);
    assert!(h.coach.analyzer().is_none());
    let (summary, events) = ask(&h, None, PLAIN).await;
    assert_eq!(summary.status, TurnStatus::Complete);
    assert!(decision_of(&events).analyzer.is_none());
}

#[tokio::test]
async fn grow_route_analyze_headless() {
    let analyzer = FakeServer::start(vec![openai_answer(&planning_verdict().to_string())]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, BALANCED).expect("write config");
    let data_dir = dir.path().to_path_buf();
    let url = analyzer.url();
    let run = move |with_key: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_grow"));
        cmd.arg("--config")
            .arg(&config)
            .args(["route", "--analyze", "--json", PLAIN])
            .env("GROW_DATA_DIR", &data_dir)
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("GROW_CONFIG")
            .env_remove("GROW_DB");
        if with_key {
            cmd.env("OPENAI_API_KEY", OPENAI_KEY)
                .env("OPENAI_BASE_URL", &url);
        }
        cmd
    };
    let out = tokio::task::spawn_blocking(move || {
        let with = run(true).output().expect("run grow");
        let without = run(false).output().expect("run grow");
        (with, without)
    })
    .await
    .expect("join");
    let (with, without) = out;
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&with.stdout).expect("json");
    assert_eq!(line["analyzer"]["status"], "used", "{line}");
    assert_eq!(line["upgraded"], true);
    assert!(
        line["signals"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["kind"] == "strategic_planning"))
    );
    assert_eq!(analyzer.hits(), 1);

    assert!(without.status.success(), "falls back, exit 0");
    let stderr = String::from_utf8_lossy(&without.stderr);
    assert!(
        stderr.contains("--analyze") && stderr.contains("OPENAI_API_KEY"),
        "{stderr}"
    );
    let line: serde_json::Value = serde_json::from_slice(&without.stdout).expect("json");
    assert!(line.get("analyzer").is_none(), "{line}");
    assert!(!stderr.contains(OPENAI_KEY));
}
