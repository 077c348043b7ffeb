//! Whole coaching turns against fake providers on 127.0.0.1: what the person sees (events,
//! summary) and what is stored (messages, decisions, attempts, usage) for every fault.

mod support;

use grow::coach::api::{Event, SendRequest, TurnStatus, TurnSummary};
use grow::coach::engine::CancelSignal;
use grow::store::{ConversationDetail, MessageStatus};
use support::fake_server::wire::{
    AnthropicUsage, OpenAiUsage, anthropic_error_after, anthropic_error_body, anthropic_stream,
    openai_error_body, openai_stream,
};
use support::fake_server::{FakeServer, Reply, refused_url};
use tokio::sync::mpsc;

use support::coach_harness::{Harness, KEY, OPENAI_KEY, harness, text_of};

async fn ask(h: &Harness, text: &str) -> (TurnSummary, Vec<Event>) {
    ask_in(h, None, text).await
}

async fn ask_in(
    h: &Harness,
    conversation_id: Option<i64>,
    text: &str,
) -> (TurnSummary, Vec<Event>) {
    h.ask_in(conversation_id, text).await
}

fn detail(h: &Harness, id: i64) -> ConversationDetail {
    h.coach
        .with_store(|s| s.conversation_detail(id))
        .expect("detail")
}

fn outcomes(d: &ConversationDetail) -> Vec<(String, String)> {
    d.turns
        .last()
        .map(|t| {
            t.decisions
                .iter()
                .flat_map(|dd| {
                    dd.attempts
                        .iter()
                        .map(|a| (a.model.clone(), a.outcome.clone()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn ok_stream(model: &str, deltas: &[&str]) -> Reply {
    Reply::sse(&anthropic_stream(
        model,
        deltas,
        AnthropicUsage {
            input: 1200,
            cache_write: 300,
            cache_read: 5000,
            output: 40,
        },
    ))
}

fn pair(s: (&str, &str)) -> (String, String) {
    (s.0.to_string(), s.1.to_string())
}

#[tokio::test]
async fn success_stores_answer_decision_attempt_and_true_cost() {
    let server = FakeServer::start(vec![ok_stream(
        "claude-sonnet-4-6",
        &["Hello ", "there. ", "What matters most?"],
    )])
    .await;
    let h = harness(Some(server.url()), None, "");
    let (summary, events) = ask(&h, "I want to plan my week").await;
    assert_eq!(summary.status, TurnStatus::Complete);
    assert_eq!(summary.model, "claude-sonnet-4-6");
    assert!(!summary.offline);
    assert_eq!(text_of(&events), "Hello there. What matters most?");
    assert!(matches!(
        events.iter().find(|e| matches!(e, Event::Decision { .. })),
        Some(Event::Decision { .. })
    ));

    let d = detail(&h, summary.conversation_id);
    let turn = &d.turns[0];
    assert_eq!(
        turn.user.as_ref().map(|m| m.content.as_str()),
        Some("I want to plan my week")
    );
    assert_eq!(turn.replies[0].content, "Hello there. What matters most?");
    assert_eq!(turn.replies[0].status, MessageStatus::Complete);
    assert_eq!(outcomes(&d), vec![pair(("claude-sonnet-4-6", "ok"))]);
    let usage = &turn.usage[0];
    assert_eq!(
        (
            usage.usage.input_tokens,
            usage.usage.cache_creation_input_tokens,
            usage.usage.cache_read_input_tokens,
            usage.usage.output_tokens
        ),
        (1200, 300, 5000, 40)
    );
    // sonnet 4.6: 1200×3 + 300×3.75 + 5000×0.30 + 40×15 = 3600 + 1125 + 1500 + 600 = 6825 / 1e6
    assert!(
        (usage.cost_usd - 0.006825).abs() < 1e-12,
        "{}",
        usage.cost_usd
    );
    assert!((summary.cost_usd - 0.006825).abs() < 1e-12);
    // without cache: 6500×3 + 40×15 = 19500 + 600 = 20100 / 1e6
    assert!((usage.no_cache_cost_usd - 0.0201).abs() < 1e-12);
    assert!(summary.costs.month_cache_savings > 0.0);

    let req = &server.requests()[0];
    assert_eq!(req.header("x-api-key"), Some(KEY));
    let body = req.json();
    assert_eq!(body["model"], "claude-sonnet-4-6");
    assert_eq!(body["max_tokens"], 800);
    assert!(
        body["system"][0]["cache_control"].is_object(),
        "system prompt is cached: {body}"
    );
}

#[tokio::test]
async fn rate_limited_then_success_retries_the_same_model() {
    let server = FakeServer::start(vec![
        Reply::json(
            429,
            &anthropic_error_body(
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            ),
        )
        .header("retry-after", "0"),
        ok_stream("claude-sonnet-4-6", &["Welcome back."]),
    ])
    .await;
    let h = harness(Some(server.url()), None, "");
    let (summary, _) = ask(&h, "quick check-in").await;
    assert_eq!(summary.status, TurnStatus::Complete);
    assert_eq!(summary.model, "claude-sonnet-4-6");
    let d = detail(&h, summary.conversation_id);
    assert_eq!(
        outcomes(&d),
        vec![
            pair(("claude-sonnet-4-6", "rate_limited")),
            pair(("claude-sonnet-4-6", "ok"))
        ]
    );
    assert_eq!(d.turns[0].decisions[0].attempts[0].http_status, Some(429));
}

#[tokio::test]
async fn overloaded_three_times_falls_back_to_the_next_model() {
    let overloaded = Reply::json(529, &anthropic_error_body("overloaded_error", "Overloaded"));
    let server = FakeServer::start(vec![
        overloaded.clone(),
        overloaded.clone(),
        overloaded,
        ok_stream("claude-sonnet-5-5", &["From the fallback."]),
    ])
    .await;
    let h = harness(Some(server.url()), None, "");
    let (summary, _) = ask(&h, "hello coach").await;
    assert_eq!(summary.status, TurnStatus::Complete);
    assert_ne!(summary.model, "claude-sonnet-4-6");
    let notice = summary.notice.clone().unwrap_or_default();
    assert!(
        notice.contains("after fallback") && notice.contains("overloaded"),
        "{notice}"
    );
    let d = detail(&h, summary.conversation_id);
    let o = outcomes(&d);
    assert_eq!(
        &o[..3],
        &[
            pair(("claude-sonnet-4-6", "overloaded")),
            pair(("claude-sonnet-4-6", "overloaded")),
            pair(("claude-sonnet-4-6", "overloaded"))
        ]
    );
    assert_eq!(o[3].1, "ok");
    assert_eq!(server.requests()[3].json()["model"], summary.model.as_str());
}

#[tokio::test]
async fn server_error_then_success() {
    let server = FakeServer::start(vec![
        Reply::json(
            500,
            &anthropic_error_body("api_error", "Internal server error"),
        ),
        ok_stream("claude-sonnet-4-6", &["Recovered."]),
    ])
    .await;
    let h = harness(Some(server.url()), None, "");
    let (summary, _) = ask(&h, "hi").await;
    assert_eq!(summary.status, TurnStatus::Complete);
    let d = detail(&h, summary.conversation_id);
    assert_eq!(
        outcomes(&d),
        vec![
            pair(("claude-sonnet-4-6", "server_error")),
            pair(("claude-sonnet-4-6", "ok"))
        ]
    );
}

#[tokio::test]
async fn connection_refused_everywhere_ends_with_the_offline_coach() {
    let h = harness(Some(refused_url().await), None, "");
    let (summary, events) = ask(&h, "I want to get fitter this year").await;
    assert_eq!(summary.status, TurnStatus::Complete);
    assert!(summary.offline);
    assert_eq!(summary.model, "offline-coach");
    assert!(
        summary
            .notice
            .as_deref()
            .unwrap_or("")
            .contains("the offline coach answered"),
        "{:?}",
        summary.notice
    );
    assert!(
        text_of(&events).contains('?'),
        "the offline coach asks a question"
    );
    let d = detail(&h, summary.conversation_id);
    let o = outcomes(&d);
    assert!(
        o.iter().filter(|(_, out)| out == "connect").count() >= 3,
        "{o:?}"
    );
    assert_eq!(o.last(), Some(&pair(("offline-coach", "ok"))));
}

#[tokio::test]
async fn first_byte_never_comes_times_out_and_falls_back() {
    let server = FakeServer::start(vec![
        Reply::Hang,
        Reply::Hang,
        Reply::Hang,
        ok_stream("claude-sonnet-5-5", &["Here now."]),
    ])
    .await;
    let h = harness(Some(server.url()), None, "");
    let (summary, _) = ask(&h, "hello").await;
    assert_eq!(summary.status, TurnStatus::Complete);
    let d = detail(&h, summary.conversation_id);
    let o = outcomes(&d);
    assert_eq!(
        o.iter()
            .filter(|(m, out)| m == "claude-sonnet-4-6" && out == "timeout")
            .count(),
        3,
        "{o:?}"
    );
    assert_eq!(o.last().map(|x| x.1.as_str()), Some("ok"));
}

#[tokio::test]
async fn stream_cut_keeps_the_partial_answer_marked() {
    let stream = anthropic_stream(
        "claude-sonnet-4-6",
        &["The first part. ", "The second part. ", "Never sent."],
        AnthropicUsage {
            input: 10,
            cache_write: 0,
            cache_read: 0,
            output: 9,
        },
    );
    let server = FakeServer::start(vec![Reply::sse(&stream).cut_before("Never sent")]).await;
    let h = harness(Some(server.url()), None, "");
    let (summary, _) = ask(&h, "tell me").await;
    assert_eq!(summary.status, TurnStatus::Partial);
    assert!(
        summary
            .notice
            .as_deref()
            .unwrap_or("")
            .contains("interrupted"),
        "{:?}",
        summary.notice
    );
    let d = detail(&h, summary.conversation_id);
    let reply = &d.turns[0].replies[0];
    assert_eq!(reply.status, MessageStatus::Partial);
    assert_eq!(reply.content, "The first part. The second part. ");
    assert_eq!(
        outcomes(&d),
        vec![pair(("claude-sonnet-4-6", "stream_cut"))]
    );
    assert_eq!(server.hits(), 1, "no retry after the first byte");
}

#[tokio::test]
async fn error_event_after_200_is_a_typed_failure() {
    let server = FakeServer::start(vec![
        Reply::sse(&anthropic_error_after(
            &[],
            "overloaded_error",
            "Overloaded",
        )),
        ok_stream("claude-sonnet-4-6", &["Second try worked."]),
    ])
    .await;
    let h = harness(Some(server.url()), None, "");
    let (summary, _) = ask(&h, "hello").await;
    assert_eq!(summary.status, TurnStatus::Complete);
    let d = detail(&h, summary.conversation_id);
    assert_eq!(
        outcomes(&d),
        vec![
            pair(("claude-sonnet-4-6", "overloaded")),
            pair(("claude-sonnet-4-6", "ok"))
        ]
    );

    let server = FakeServer::start(vec![Reply::sse(&anthropic_error_after(
        &["Half an ans"],
        "overloaded_error",
        "Overloaded",
    ))])
    .await;
    let h = harness(Some(server.url()), None, "");
    let (summary, _) = ask(&h, "hello").await;
    assert_eq!(
        summary.status,
        TurnStatus::Partial,
        "text had streamed: keep it, do not fall back"
    );
    assert_eq!(
        detail(&h, summary.conversation_id).turns[0].replies[0].content,
        "Half an ans"
    );
}

#[tokio::test]
async fn malformed_chunk_is_a_typed_failure_then_fallback() {
    let bad = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {this is not json\n\n";
    let server = FakeServer::start(vec![
        Reply::sse(bad),
        Reply::sse(bad),
        Reply::sse(bad),
        ok_stream("claude-sonnet-5-5", &["ok"]),
    ])
    .await;
    let h = harness(Some(server.url()), None, "");
    let (summary, _) = ask(&h, "hello").await;
    let d = detail(&h, summary.conversation_id);
    let o = outcomes(&d);
    assert!(o.iter().any(|(_, out)| out == "malformed_stream"), "{o:?}");
    assert_eq!(summary.status, TurnStatus::Complete);
}

#[tokio::test]
async fn usage_missing_is_estimated_and_flagged() {
    let server = FakeServer::start(vec![Reply::sse(&openai_stream(
        "gpt-4o-mini",
        &["Short ", "answer."],
        None,
    ))])
    .await;
    let h = harness(
        None,
        Some(server.url()),
        "[models]\ndefault = \"gpt-4o-mini\"\n",
    );
    let (summary, _) = ask(&h, "hello there").await;
    assert_eq!(summary.status, TurnStatus::Complete);
    assert_eq!(summary.model, "gpt-4o-mini");
    let d = detail(&h, summary.conversation_id);
    let usage = &d.turns[0].usage[0];
    assert!(usage.estimated);
    assert!(usage.usage.output_tokens > 0 && usage.usage.input_tokens > 0);
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
}

#[tokio::test]
async fn openai_usage_with_cached_tokens_is_priced() {
    let server = FakeServer::start(vec![Reply::sse(&openai_stream(
        "gpt-4o-mini",
        &["Hi."],
        Some(OpenAiUsage {
            prompt: 2000,
            completion: 10,
            cached: 1000,
        }),
    ))])
    .await;
    let h = harness(
        None,
        Some(server.url()),
        "[models]\ndefault = \"gpt-4o-mini\"\n",
    );
    let (summary, _) = ask(&h, "hello").await;
    let d = detail(&h, summary.conversation_id);
    let u = &d.turns[0].usage[0];
    assert_eq!(
        (u.usage.input_tokens, u.usage.cache_read_input_tokens),
        (1000, 1000)
    );
    // 1000×0.15 + 1000×0.075 + 10×0.60 = 150 + 75 + 6 = 231 / 1e6
    assert!((u.cost_usd - 0.000231).abs() < 1e-12, "{}", u.cost_usd);
}

#[tokio::test]
async fn auth_error_is_not_retried_and_says_so() {
    let server = FakeServer::start(vec![Reply::json(
        401,
        &anthropic_error_body("authentication_error", "invalid x-api-key"),
    )])
    .await;
    let h = harness(Some(server.url()), None, "");
    let (summary, _) = ask(&h, "hello").await;
    assert_eq!(
        server.hits(),
        1,
        "auth errors are not retried on the same provider"
    );
    let d = detail(&h, summary.conversation_id);
    let first = &d.turns[0].decisions[0].attempts[0];
    assert_eq!(
        (first.outcome.as_str(), first.http_status),
        ("auth", Some(401))
    );
    assert!(summary.offline || summary.status == TurnStatus::Complete);
}

#[tokio::test]
async fn spend_limit_is_not_retried() {
    let server = FakeServer::start(vec![Reply::json(
        429,
        &openai_error_body(
            "insufficient_quota",
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details.",
        ),
    )])
    .await;
    let h = harness(
        None,
        Some(server.url()),
        "[models]\ndefault = \"gpt-4o-mini\"\n",
    );
    let (summary, _) = ask(&h, "hello").await;
    assert_eq!(server.hits(), 1);
    let d = detail(&h, summary.conversation_id);
    assert_eq!(d.turns[0].decisions[0].attempts[0].outcome, "spend_limit");
}

#[tokio::test]
async fn crisis_always_carries_the_safety_notice_even_offline() {
    let h = harness(None, None, "");
    let (summary, events) = ask(
        &h,
        "I don't want to live anymore, I've been thinking about ending my life",
    )
    .await;
    assert!(summary.offline);
    let text = text_of(&events);
    assert!(
        text.contains("988") && text.contains("findahelpline.com"),
        "{text}"
    );
    let d = detail(&h, summary.conversation_id);
    assert_eq!(d.turns[0].decisions[0].decision.safety, "crisis");
    assert!(
        d.turns[0].replies[0].content.contains("988"),
        "the notice is stored with the answer"
    );
}

#[tokio::test]
async fn history_feeds_the_router_and_the_request() {
    let server = FakeServer::start(vec![
        ok_stream("claude-sonnet-4-6", &["One."]),
        ok_stream("claude-sonnet-4-6", &["Two."]),
    ])
    .await;
    let h = harness(Some(server.url()), None, "");
    let (first, _) = ask(&h, "first message").await;
    let (second, _) = ask_in(&h, Some(first.conversation_id), "second message").await;
    assert_eq!(first.conversation_id, second.conversation_id);
    let body = server.requests()[1].json();
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.len(), 3, "{body}");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[1]["role"], "assistant");
    assert!(second.costs.conversation > first.costs.conversation);
}

#[tokio::test]
async fn session_affinity_keeps_the_upgrade_for_following_turns() {
    let server =
        FakeServer::start_repeating(ok_stream("claude-opus-4-6", &["Let's look at it."])).await;
    let h = harness(Some(server.url()), None, "");
    let (first, _) = ask(
        &h,
        "I have three job offers and I can't decide which one to take",
    )
    .await;
    assert_eq!(first.model, "claude-opus-4-6");
    let (second, _) = ask_in(&h, Some(first.conversation_id), "ok").await;
    assert_eq!(
        second.model, "claude-opus-4-6",
        "affinity keeps the upgrade"
    );
    let d = detail(&h, first.conversation_id);
    let reasons = &d.turns[1].decisions[0].decision.reasons_json;
    assert!(reasons.contains("upgrade kept"), "{reasons}");
}

#[tokio::test]
async fn cancel_keeps_the_partial_answer() {
    let stream = anthropic_stream(
        "claude-sonnet-4-6",
        &["Some words ", "then more ", "and more"],
        AnthropicUsage {
            input: 10,
            cache_write: 0,
            cache_read: 0,
            output: 9,
        },
    );
    let server = FakeServer::start(vec![
        Reply::sse(&stream).delay(std::time::Duration::from_millis(30)),
    ])
    .await;
    let h = harness(Some(server.url()), None, "");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (cancel_tx, cancel) = CancelSignal::new();
    let req = SendRequest {
        text: "go".into(),
        ..Default::default()
    };
    let turn = h.coach.send(7, &req, &tx, cancel);
    let canceller = async {
        while let Some(e) = rx.recv().await {
            if matches!(e, Event::Delta { .. }) {
                let _ = cancel_tx.send(true);
                break;
            }
        }
    };
    let (summary, ()) = tokio::join!(turn, canceller);
    let summary = summary.expect("turn");
    assert_eq!(summary.status, TurnStatus::Partial);
    let d = detail(&h, summary.conversation_id);
    assert_eq!(d.turns[0].replies[0].status, MessageStatus::Partial);
    assert!(!d.turns[0].replies[0].content.is_empty());
    assert_eq!(outcomes(&d).last().map(|x| x.1.as_str()), Some("cancelled"));
}

#[tokio::test]
async fn keys_never_reach_the_database_logs_or_exports() {
    let server = FakeServer::start(vec![
        Reply::json(
            401,
            &anthropic_error_body("authentication_error", &format!("invalid x-api-key {KEY}")),
        ),
        Reply::json(529, &anthropic_error_body("overloaded_error", "Overloaded")),
    ])
    .await;
    let h = harness(Some(server.url()), Some(refused_url().await), "");
    let (summary, events) = ask(&h, "hello").await;
    let (summary2, _) = ask_in(&h, Some(summary.conversation_id), "again").await;
    let export_md = h
        .coach
        .export(
            summary2.conversation_id,
            grow::coach::api::ExportFormat::Markdown,
        )
        .expect("export md");
    let export_json = h
        .coach
        .export(
            summary2.conversation_id,
            grow::coach::api::ExportFormat::Json,
        )
        .expect("export json");
    h.coach
        .with_store(|s| s.backup(&h.dir.path().join("backup.db")))
        .expect("backup");
    let Harness { coach, dir } = h;
    drop(coach);
    let logs = std::fs::read_dir(dir.path().join("logs"))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let files = [
        dir.path().join("grow.db"),
        dir.path().join("grow.db-wal"),
        export_md,
        export_json,
        dir.path().join("backup.db"),
    ];
    for path in files.into_iter().chain(logs) {
        if let Ok(bytes) = std::fs::read(&path) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(KEY) && !text.contains(OPENAI_KEY),
                "a key leaked into {}",
                path.display()
            );
        }
    }
    for e in &events {
        let shown = format!("{e:?}");
        assert!(!shown.contains(KEY), "a key leaked into an event: {shown}");
    }
}
