//! Provider fault matrix against local fake servers speaking the exact wire formats, plus
//! property tests of both stream decoders.

mod support;

use std::time::Duration;

use grow::catalog::Usage;
use grow::providers::sse::{SseEvent, SseParser};
use grow::providers::{
    AnthropicClient, AnthropicConfig, AnthropicDecoder, ChatMessage, ChatRequest, Completion,
    ErrorClass, OfflineCoach, OpenAiCompatClient, OpenAiCompatConfig, OpenAiDecoder,
    OutputLimitField, Provider, ProviderError, RetryPolicy, Secret, StreamEvent, TimeoutKind,
    Timeouts, WireDecoder, stream_with_retry,
};
use proptest::prelude::*;
use support::fake_server::wire::{self, AnthropicUsage, OpenAiUsage};
use support::fake_server::{FakeServer, Reply, refused_url};

const KEY: &str = "sk-ant-api03-FAKE-grow-test-key-7f3a9c";

fn fast_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(5),
        idle: Duration::from_secs(5),
    }
}

fn anthropic(url: &str, timeouts: Timeouts) -> Provider {
    Provider::Anthropic(
        AnthropicClient::new(AnthropicConfig {
            base_url: url.to_string(),
            api_key: Secret::new(KEY),
            version: "2023-06-01".into(),
            timeouts,
        })
        .unwrap(),
    )
}

fn openai(url: &str, key: Option<&str>) -> Provider {
    Provider::OpenAiCompat(
        OpenAiCompatClient::new(OpenAiCompatConfig {
            name: "openai".into(),
            base_url: format!("{url}/v1"),
            api_key: key.map(Secret::new),
            timeouts: fast_timeouts(),
            output_limit: OutputLimitField::MaxCompletionTokens,
        })
        .unwrap(),
    )
}

/// Retries that wait a millisecond or two, so the tests stay quick.
fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(60),
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "claude-haiku-4-5".into(),
        system: "You are a warm GROW coach.".into(),
        messages: vec![
            ChatMessage::user("I want to change careers."),
            ChatMessage::assistant("What draws you to a change?"),
            ChatMessage::user("I feel stuck and bored."),
        ],
        max_tokens: 800,
        temperature: Some(0.7),
        cache_prompt: true,
        structured: None,
    }
}

/// What one call produced: the deltas seen, the retries announced, the result.
struct Run {
    deltas: Vec<String>,
    retries: Vec<(ErrorClass, Duration)>,
    result: Result<Completion, ProviderError>,
}

async fn run(provider: &Provider, policy: &RetryPolicy) -> Run {
    let mut deltas = Vec::new();
    let mut retries = Vec::new();
    let result = stream_with_retry(
        provider,
        &request(),
        policy,
        &mut |d: &str| deltas.push(d.to_string()),
        &mut |e: &ProviderError, wait| retries.push((e.class, wait)),
    )
    .await;
    Run {
        deltas,
        retries,
        result,
    }
}

fn usage_a() -> AnthropicUsage {
    AnthropicUsage {
        input: 25,
        cache_write: 1200,
        cache_read: 3400,
        output: 42,
    }
}

fn ok_stream() -> Reply {
    Reply::sse(&wire::anthropic_stream(
        "claude-haiku-4-5",
        &["Hello", " — 你好", ", what feels", " most stuck?"],
        usage_a(),
    ))
}

fn assert_no_key(err: &ProviderError) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(KEY), "key leaked: {shown}");
}

#[tokio::test]
async fn anthropic_streams_deltas_in_order_with_cache_usage() {
    let server = FakeServer::start(vec![ok_stream()]).await;
    let r = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries()).await;
    let done = r.result.unwrap();
    assert_eq!(r.deltas.concat(), "Hello — 你好, what feels most stuck?");
    assert_eq!(done.text, r.deltas.concat());
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 25,
            output_tokens: 42,
            cache_creation_input_tokens: 1200,
            cache_read_input_tokens: 3400,
        }
    );
    assert!(!done.usage_estimated);
    assert_eq!(done.stop_reason.as_deref(), Some("end_turn"));
    assert_eq!(done.http_status, Some(200));
    assert!(done.first_byte_ms.is_some());
}

#[tokio::test]
async fn anthropic_request_has_headers_and_cache_breakpoints() {
    let server = FakeServer::start(vec![ok_stream()]).await;
    run(&anthropic(&server.url(), fast_timeouts()), &quick_retries())
        .await
        .result
        .unwrap();
    let req = &server.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(req.header("x-api-key"), Some(KEY));
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body = req.json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 800);
    assert_eq!(body["model"], "claude-haiku-4-5");
    assert_eq!(body["system"][0]["type"], "text");
    assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    // The breakpoint closes the conversation prefix: the last message before the new one.
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(
        messages[1]["content"][0]["cache_control"]["type"],
        "ephemeral"
    );
    assert!(messages[2]["content"][0].get("cache_control").is_none());
    assert_eq!(messages[2]["content"][0]["text"], "I feel stuck and bored.");
}

#[tokio::test]
async fn consecutive_calls_reuse_the_connection() {
    let server = FakeServer::start(vec![ok_stream(), ok_stream()]).await;
    let provider = anthropic(&server.url(), fast_timeouts());
    for _ in 0..2 {
        run(&provider, &quick_retries()).await.result.unwrap();
        // The rest of the body drains in the background; give it a moment.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let connections: Vec<usize> = server.requests().iter().map(|r| r.connection).collect();
    assert_eq!(connections, vec![0, 0]);
}

#[tokio::test]
async fn json_error_body_with_status_200_is_typed() {
    let server = FakeServer::start(vec![Reply::json(
        200,
        &wire::anthropic_error_body("overloaded_error", "Overloaded"),
    )])
    .await;
    let err = run(
        &anthropic(&server.url(), fast_timeouts()),
        &RetryPolicy::none(),
    )
    .await
    .result
    .unwrap_err();
    assert_eq!((err.class, err.status), (ErrorClass::Overloaded, Some(200)));
}

#[tokio::test]
async fn openai_streams_deltas_and_cached_usage() {
    let server = FakeServer::start(vec![Reply::sse(&wire::openai_stream(
        "gpt-4o",
        &["Hi", " there", "，朋友", "?"],
        Some(OpenAiUsage {
            prompt: 2048,
            completion: 12,
            cached: 1536,
        }),
    ))])
    .await;
    let r = run(&openai(&server.url(), Some(KEY)), &quick_retries()).await;
    let done = r.result.unwrap();
    assert_eq!(r.deltas, vec!["Hi", " there", "，朋友", "?"]);
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 512,
            output_tokens: 12,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 1536,
        }
    );
    assert!(!done.usage_estimated);
    assert_eq!(done.stop_reason.as_deref(), Some("stop"));

    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = req.json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][3]["content"], "I feel stuck and bored.");
}

#[tokio::test]
async fn local_endpoint_without_key_sends_no_authorization() {
    let server = FakeServer::start(vec![Reply::sse(&wire::openai_stream(
        "llama3.2",
        &["ok"],
        None,
    ))])
    .await;
    run(&openai(&server.url(), None), &quick_retries())
        .await
        .result
        .unwrap();
    assert_eq!(server.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn openai_usage_missing_is_estimated_and_flagged() {
    let server = FakeServer::start(vec![Reply::sse(&wire::openai_stream(
        "llama3.2",
        &["Let us ", "look at ", "what matters."],
        None,
    ))])
    .await;
    let done = run(&openai(&server.url(), None), &quick_retries())
        .await
        .result
        .unwrap();
    assert!(done.usage_estimated);
    assert_eq!(
        done.usage.output_tokens,
        grow::providers::estimate_tokens("Let us look at what matters.")
    );
    assert_eq!(done.usage.input_tokens, request().estimated_input_tokens());
}

#[tokio::test]
async fn rate_limited_then_success_honours_retry_after() {
    let server = FakeServer::start(vec![
        Reply::json(
            429,
            &wire::anthropic_error_body(
                "rate_limit_error",
                "This request would exceed the rate limit for your organization of 50,000 input tokens per minute.",
            ),
        )
        .header("retry-after-ms", "20")
        .header("retry-after", "1"),
        ok_stream(),
    ])
    .await;
    let r = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries()).await;
    assert!(r.result.is_ok());
    assert_eq!(
        r.retries,
        vec![(ErrorClass::RateLimited, Duration::from_millis(20))]
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn overloaded_three_times_fails_after_two_retries() {
    let overloaded = || {
        Reply::json(
            529,
            &wire::anthropic_error_body("overloaded_error", "Overloaded"),
        )
    };
    let server =
        FakeServer::start(vec![overloaded(), overloaded(), overloaded(), ok_stream()]).await;
    let r = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries()).await;
    let err = r.result.unwrap_err();
    assert_eq!(err.class, ErrorClass::Overloaded);
    assert_eq!(err.status, Some(529));
    assert_eq!(server.hits(), 3);
    assert_eq!(r.retries.len(), 2);
    assert!(
        r.retries
            .iter()
            .all(|(c, w)| *c == ErrorClass::Overloaded && *w <= Duration::from_millis(5))
    );
}

#[tokio::test]
async fn server_error_500_is_retried_then_succeeds() {
    let server = FakeServer::start(vec![
        Reply::json(
            500,
            &wire::anthropic_error_body("api_error", "Internal server error"),
        ),
        ok_stream(),
    ])
    .await;
    let r = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries()).await;
    assert!(r.result.is_ok());
    assert_eq!(r.retries[0].0, ErrorClass::ServerError);
}

#[tokio::test]
async fn server_error_500_every_time_is_a_server_error() {
    let e500 = || {
        Reply::json(
            500,
            &wire::anthropic_error_body("api_error", "Internal server error"),
        )
    };
    let server = FakeServer::start(vec![e500(), e500(), e500()]).await;
    let err = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries())
        .await
        .result
        .unwrap_err();
    assert_eq!(
        (err.class, err.status),
        (ErrorClass::ServerError, Some(500))
    );
    assert!(
        err.message.contains("Internal server error"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn connection_refused_is_a_connect_error_after_retries() {
    let url = refused_url().await;
    let r = run(&anthropic(&url, fast_timeouts()), &quick_retries()).await;
    let err = r.result.unwrap_err();
    assert_eq!(err.class, ErrorClass::Connect, "{err}");
    assert_eq!(r.retries.len(), 2);
    assert!(
        err.message.contains("check the base URL"),
        "{}",
        err.message
    );
    assert_no_key(&err);
}

#[tokio::test]
async fn first_byte_never_comes_is_a_first_byte_timeout() {
    let server = FakeServer::start(vec![Reply::Hang]).await;
    let timeouts = Timeouts {
        first_byte: Duration::from_millis(150),
        ..fast_timeouts()
    };
    let err = run(&anthropic(&server.url(), timeouts), &RetryPolicy::none())
        .await
        .result
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Timeout);
    assert_eq!(err.timeout, Some(TimeoutKind::FirstByte));
    assert!(err.class.is_retryable());
}

/// A listener whose accept queue is full: the kernel drops further SYNs, so connecting hangs.
async fn unanswered_connect_url() -> (tokio::net::TcpListener, Vec<tokio::net::TcpStream>, String) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(stream)) = tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            held.push(stream);
        }
    }
    (listener, held, format!("http://{addr}"))
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn connect_that_never_completes_is_a_connect_timeout() {
    let (_listener, _held, url) = unanswered_connect_url().await;
    let timeouts = Timeouts {
        connect: Duration::from_millis(200),
        ..fast_timeouts()
    };
    let err = run(&anthropic(&url, timeouts), &RetryPolicy::none())
        .await
        .result
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Timeout, "{err}");
    assert_eq!(err.timeout, Some(TimeoutKind::Connect), "{err}");
}

#[tokio::test]
async fn silence_mid_stream_is_an_idle_timeout_with_partial_text() {
    let server = FakeServer::start(vec![ok_stream().stall_before("\" most stuck?\"")]).await;
    let timeouts = Timeouts {
        idle: Duration::from_millis(150),
        ..fast_timeouts()
    };
    let r = run(&anthropic(&server.url(), timeouts), &quick_retries()).await;
    let err = r.result.unwrap_err();
    assert_eq!(err.timeout, Some(TimeoutKind::Idle));
    assert_eq!(err.partial.as_deref(), Some("Hello — 你好, what feels"));
    assert!(r.retries.is_empty(), "text had streamed: no retry");
}

#[tokio::test]
async fn stream_cut_keeps_partial_text_and_is_not_retried() {
    let server = FakeServer::start(vec![
        ok_stream().cut_before("\" most stuck?\""),
        ok_stream(),
    ])
    .await;
    let r = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries()).await;
    let err = r.result.unwrap_err();
    assert_eq!(err.class, ErrorClass::StreamCut, "{err}");
    assert_eq!(err.partial.as_deref(), Some("Hello — 你好, what feels"));
    assert_eq!(r.deltas.concat(), "Hello — 你好, what feels");
    // message_start had arrived: the usage billed so far travels with the error.
    assert_eq!(err.usage.map(|u| u.cache_read_input_tokens), Some(3400));
    assert_eq!(server.hits(), 1);
    assert!(r.retries.is_empty());
}

#[tokio::test]
async fn openai_stream_cut_without_usage_is_stream_cut() {
    let stream = wire::openai_stream("gpt-4o", &["One", " two", " three"], None);
    let server = FakeServer::start(vec![Reply::sse(&stream).cut_before("\" three\"")]).await;
    let r = run(&openai(&server.url(), Some(KEY)), &RetryPolicy::none()).await;
    let err = r.result.unwrap_err();
    assert_eq!(err.class, ErrorClass::StreamCut);
    assert_eq!(err.partial.as_deref(), Some("One two"));
    assert!(err.usage.is_some_and(|u| u.output_tokens > 0));
}

#[tokio::test]
async fn error_event_after_200_before_text_is_retried() {
    let server = FakeServer::start(vec![
        Reply::sse(&wire::anthropic_error_after(
            &[],
            "overloaded_error",
            "Overloaded",
        )),
        ok_stream(),
    ])
    .await;
    let r = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries()).await;
    assert!(r.result.is_ok());
    assert_eq!(r.retries[0].0, ErrorClass::Overloaded);
}

#[tokio::test]
async fn error_event_after_text_is_typed_and_keeps_partial() {
    let server = FakeServer::start(vec![Reply::sse(&wire::anthropic_error_after(
        &["I hear", " you"],
        "overloaded_error",
        "Overloaded",
    ))])
    .await;
    let r = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries()).await;
    let err = r.result.unwrap_err();
    assert_eq!(err.class, ErrorClass::Overloaded);
    assert_eq!(err.status, Some(200));
    assert_eq!(err.partial.as_deref(), Some("I hear you"));
    assert!(err.message.contains("overloaded_error"), "{}", err.message);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn malformed_json_chunk_is_a_typed_error() {
    let stream = wire::anthropic_stream("claude-haiku-4-5", &["Hello", " there"], usage_a())
        .replacen("\"text\":\" there\"}}", "\"text\":\" there\"", 1);
    let server = FakeServer::start(vec![Reply::sse(&stream), ok_stream()]).await;
    let r = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries()).await;
    let err = r.result.unwrap_err();
    assert_eq!(err.class, ErrorClass::MalformedStream, "{err}");
    assert_eq!(err.partial.as_deref(), Some("Hello"));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn openai_garbage_chunk_before_text_is_malformed_not_retried() {
    let server = FakeServer::start(vec![Reply::sse("data: {\"choices\":[{\"delta\":\n\n")]).await;
    let r = run(&openai(&server.url(), None), &quick_retries()).await;
    assert_eq!(r.result.unwrap_err().class, ErrorClass::MalformedStream);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn unauthorized_401_is_not_retried_and_says_what_to_do() {
    let server = FakeServer::start(vec![
        Reply::json(
            401,
            &wire::anthropic_error_body("authentication_error", "invalid x-api-key"),
        ),
        ok_stream(),
    ])
    .await;
    let r = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries()).await;
    let err = r.result.unwrap_err();
    assert_eq!((err.class, err.status), (ErrorClass::Auth, Some(401)));
    assert_eq!(server.hits(), 1);
    assert!(r.retries.is_empty());
    assert!(err.message.contains("invalid x-api-key"), "{}", err.message);
    assert!(err.message.contains("check the API key"), "{}", err.message);
    assert!(!err.message.contains('\n'));
    assert_no_key(&err);
}

#[tokio::test]
async fn spend_limit_429_is_never_retried() {
    let server = FakeServer::start(vec![
        Reply::json(
            429,
            &wire::openai_error_body(
                "insufficient_quota",
                "insufficient_quota",
                "You exceeded your current quota, please check your plan and billing details.",
            ),
        )
        .header("retry-after", "1"),
        Reply::sse(&wire::openai_stream("gpt-4o", &["x"], None)),
    ])
    .await;
    let r = run(&openai(&server.url(), Some(KEY)), &quick_retries()).await;
    let err = r.result.unwrap_err();
    assert_eq!(err.class, ErrorClass::SpendLimit);
    assert_eq!(server.hits(), 1);

    let server = FakeServer::start(vec![Reply::json(
        429,
        &wire::anthropic_error_body(
            "rate_limit_error",
            "You have reached your specified workspace API usage limits.",
        ),
    )])
    .await;
    let err = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries())
        .await
        .result
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::SpendLimit);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn context_too_long_is_recognised_in_both_dialects() {
    let server = FakeServer::start(vec![Reply::json(
        400,
        &wire::anthropic_error_body(
            "invalid_request_error",
            "prompt is too long: 215304 tokens > 200000 maximum",
        ),
    )])
    .await;
    let err = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries())
        .await
        .result
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::ContextTooLong);

    let server = FakeServer::start(vec![Reply::json(
        400,
        &wire::openai_error_body(
            "context_length_exceeded",
            "invalid_request_error",
            "This model's maximum context length is 128000 tokens.",
        ),
    )])
    .await;
    let err = run(&openai(&server.url(), Some(KEY)), &quick_retries())
        .await
        .result
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::ContextTooLong);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn key_never_appears_in_errors_or_debug_output() {
    // A proxy that echoes the key back in its error body.
    let echo = format!(
        r#"{{"error":{{"message":"key {KEY} is not valid; got header Bearer {KEY}","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
    );
    let server = FakeServer::start(vec![
        Reply::json(401, &echo),
        Reply::json(400, &echo),
        Reply::json(500, &echo),
        Reply::Close,
    ])
    .await;
    let a = anthropic(&server.url(), fast_timeouts());
    let o = openai(&server.url(), Some(KEY));
    let mut errors = Vec::new();
    for provider in [&a, &o, &a, &o] {
        errors.push(
            run(provider, &RetryPolicy::none())
                .await
                .result
                .unwrap_err(),
        );
    }
    let refused = refused_url().await;
    errors.push(
        run(&anthropic(&refused, fast_timeouts()), &RetryPolicy::none())
            .await
            .result
            .unwrap_err(),
    );
    for err in &errors {
        assert_no_key(err);
    }
    assert!(errors[0].message.contains("***"), "{}", errors[0].message);
    let debug = format!("{a:?} {o:?}");
    assert!(!debug.contains(KEY), "{debug}");
    // The key did go out, in the right header only.
    let requests = server.requests();
    assert_eq!(requests[0].header("x-api-key"), Some(KEY));
    assert!(!String::from_utf8_lossy(&requests[0].body).contains(KEY));
}

/// Collects everything a tracing subscriber writes.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn key_never_appears_in_trace_logs() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = FakeServer::start(vec![
        Reply::json(
            529,
            &wire::anthropic_error_body("overloaded_error", "Overloaded"),
        ),
        Reply::json(
            401,
            &wire::anthropic_error_body("authentication_error", &format!("bad key {KEY}")),
        ),
        Reply::sse(&wire::openai_stream("gpt-4o", &["ok"], None)),
    ])
    .await;
    let _ = run(&anthropic(&server.url(), fast_timeouts()), &quick_retries()).await;
    let _ = run(&openai(&server.url(), Some(KEY)), &quick_retries()).await;

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("retrying"),
        "expected retry logs, got: {text}"
    );
    assert!(!text.contains(KEY), "key in logs: {text}");
}

#[tokio::test]
async fn offline_provider_streams_without_network() {
    let provider = Provider::Offline(OfflineCoach::embedded().unwrap());
    let r = run(&provider, &quick_retries()).await;
    let done = r.result.unwrap();
    assert_eq!(r.deltas.concat(), done.text);
    assert!(
        done.text.contains("I feel stuck and bored"),
        "{}",
        done.text
    );
    assert_eq!(done.text.matches(['?', '？']).count(), 1);
    assert!(done.usage_estimated);
    assert_eq!(done.http_status, None);
}

// ---- property tests of the stream decoders ----

/// Parses `bytes` split at `cuts` and decodes every event; `Err` carries the error class.
fn decode_chunked<D: WireDecoder + Default>(
    bytes: &[u8],
    cuts: &[usize],
) -> (Vec<StreamEvent>, Option<ErrorClass>) {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    bounds.push(0);
    bounds.push(bytes.len());
    bounds.sort_unstable();
    let mut parser = SseParser::new();
    let mut decoder = D::default();
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let events: Vec<SseEvent> = match parser.feed(&bytes[w[0]..w[1]]) {
            Ok(events) => events,
            Err(_) => return (out, Some(ErrorClass::MalformedStream)),
        };
        for event in events {
            match decoder.decode(&event) {
                Ok(items) => out.extend(items),
                Err(e) => return (out, Some(e.class)),
            }
        }
    }
    let end = parser.finish().err().map(|_| ErrorClass::StreamCut);
    (out, end)
}

fn anthropic_fixture() -> String {
    format!(
        ": keep-alive\n\n{}",
        wire::anthropic_stream(
            "claude-haiku-4-5",
            &["Hel", "lo — 你好", "\nwhat ", "feels 🙂 stuck?"],
            usage_a(),
        )
    )
}

fn openai_fixture() -> String {
    format!(
        ": OPENROUTER PROCESSING\r\n\r\n{}",
        wire::openai_stream(
            "gpt-4o",
            &["Hi", " 朋友", "\r\nline", " 🙂"],
            Some(OpenAiUsage {
                prompt: 100,
                completion: 7,
                cached: 64,
            }),
        )
    )
}

/// Raw SSE with a BOM, comments, multi-line data, an `event` without data, unknown fields,
/// and all three line endings.
const RAW_SSE: &str = "\u{feff}: hello\r\nevent: a\ndata: one\rdata:two\r\n\r\nid: 7\nretry: 10\nevent: lonely\n\ndata:  spaced 你好\nfoo: bar\n\n";

fn sse_chunked(bytes: &[u8], cuts: &[usize]) -> Result<Vec<SseEvent>, String> {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    bounds.extend([0, bytes.len()]);
    bounds.sort_unstable();
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        out.extend(parser.feed(&bytes[w[0]..w[1]]).map_err(|e| e.to_string())?);
    }
    parser.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

#[test]
fn raw_sse_fields_comments_and_line_endings() {
    let events = sse_chunked(RAW_SSE.as_bytes(), &[]).unwrap();
    assert_eq!(
        events,
        vec![
            SseEvent {
                event: "a".into(),
                data: "one\ntwo".into()
            },
            SseEvent {
                event: "message".into(),
                data: " spaced 你好".into()
            },
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sse_events_do_not_depend_on_chunking(cuts in prop::collection::vec(any::<usize>(), 0..40)) {
        let whole = sse_chunked(RAW_SSE.as_bytes(), &[]);
        prop_assert_eq!(sse_chunked(RAW_SSE.as_bytes(), &cuts), whole);
    }

    #[test]
    fn anthropic_events_do_not_depend_on_chunking(cuts in prop::collection::vec(any::<usize>(), 0..40)) {
        let bytes = anthropic_fixture().into_bytes();
        let whole = decode_chunked::<AnthropicDecoder>(&bytes, &[]);
        prop_assert_eq!(whole.1, None);
        prop_assert_eq!(whole.0.last(), Some(&StreamEvent::Done));
        prop_assert_eq!(decode_chunked::<AnthropicDecoder>(&bytes, &cuts), whole);
    }

    #[test]
    fn openai_events_do_not_depend_on_chunking(cuts in prop::collection::vec(any::<usize>(), 0..40)) {
        let bytes = openai_fixture().into_bytes();
        let whole = decode_chunked::<OpenAiDecoder>(&bytes, &[]);
        prop_assert_eq!(whole.1, None);
        prop_assert_eq!(decode_chunked::<OpenAiDecoder>(&bytes, &cuts), whole);
    }

    #[test]
    fn crlf_and_lf_streams_decode_alike(cuts in prop::collection::vec(any::<usize>(), 0..20)) {
        let lf = anthropic_fixture();
        let crlf = lf.replace('\n', "\r\n");
        prop_assert_eq!(
            decode_chunked::<AnthropicDecoder>(crlf.as_bytes(), &cuts),
            decode_chunked::<AnthropicDecoder>(lf.as_bytes(), &[])
        );
    }

    #[test]
    fn garbage_bytes_give_events_or_a_typed_error(
        garbage in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        for (events, err) in [
            decode_chunked::<AnthropicDecoder>(&garbage, &cuts),
            decode_chunked::<OpenAiDecoder>(&garbage, &cuts),
        ] {
            if let Some(class) = err {
                prop_assert!(matches!(class, ErrorClass::MalformedStream | ErrorClass::StreamCut
                    | ErrorClass::ServerError | ErrorClass::Overloaded | ErrorClass::RateLimited
                    | ErrorClass::BadRequest | ErrorClass::Auth | ErrorClass::Timeout
                    | ErrorClass::ContextTooLong | ErrorClass::SpendLimit), "{:?}", class);
            }
            prop_assert!(events.len() <= garbage.len());
        }
    }

    #[test]
    fn garbage_spliced_into_a_real_stream_never_panics(
        at in any::<usize>(),
        garbage in prop::collection::vec(any::<u8>(), 1..64),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut bytes = anthropic_fixture().into_bytes();
        let at = at % bytes.len();
        bytes.splice(at..at, garbage.iter().copied());
        let _ = decode_chunked::<AnthropicDecoder>(&bytes, &cuts);
        let mut bytes = openai_fixture().into_bytes();
        let at = at % bytes.len();
        bytes.splice(at..at, garbage);
        let _ = decode_chunked::<OpenAiDecoder>(&bytes, &cuts);
    }
}

/// The coach runs turns on spawned tasks: the call futures must be `Send`.
#[tokio::test]
async fn call_futures_can_be_spawned() {
    let server = FakeServer::start(vec![ok_stream()]).await;
    let provider = anthropic(&server.url(), fast_timeouts());
    let task = tokio::spawn(async move {
        let mut text = String::new();
        let result = stream_with_retry(
            &provider,
            &request(),
            &RetryPolicy::default(),
            &mut |d: &str| text.push_str(d),
            &mut |_: &ProviderError, _| {},
        )
        .await;
        (text, result.map(|c| c.text))
    });
    let (text, result) = task.await.unwrap();
    assert_eq!(result.unwrap(), text);
}
