//! HTTP plumbing shared by the remote providers: one client per provider, the three
//! deadlines, HTTP error mapping, and the read loop that feeds an SSE parser and a decoder.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap};

use super::error::{
    ErrorBody, ErrorClass, ProviderError, TimeoutKind, classify_http, classify_stream_error, hint,
};
use super::retry::retry_after_from_headers;
use super::secret::{Secret, scrub};
use super::sse::{SseError, SseParser};
use super::{ChatRequest, Completion, StreamEvent, Timeouts, WireDecoder, estimate_tokens};
use crate::catalog::Usage;

/// Longest error body read from a failed response.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// One pooled client per provider, so consecutive turns reuse the connection (and its TLS
/// session). No overall request timeout: a long answer may stream for minutes; the idle
/// deadline catches a stalled one.
pub(crate) fn build_client(timeouts: &Timeouts) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .user_agent(concat!("grow/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Where a call goes, for messages: provider name and the secret to keep out of them.
pub(crate) struct CallContext<'a> {
    pub provider: &'a str,
    pub key: Option<&'a Secret>,
    pub timeouts: Timeouts,
}

impl CallContext<'_> {
    fn error(&self, class: ErrorClass, detail: &str) -> ProviderError {
        ProviderError::new(class, self.message(class, detail))
    }

    fn message(&self, class: ErrorClass, detail: &str) -> String {
        format!(
            "{}: {} ({})",
            self.provider,
            scrub(detail, self.key),
            hint(class)
        )
    }
}

/// Sends the request and streams the answer through `decoder`.
pub(crate) async fn execute<D: WireDecoder>(
    ctx: &CallContext<'_>,
    request: reqwest::RequestBuilder,
    chat: &ChatRequest,
    decoder: &mut D,
    on_delta: &mut (dyn FnMut(&str) + Send),
) -> Result<Completion, ProviderError> {
    let started = Instant::now();
    let response = match tokio::time::timeout(ctx.timeouts.first_byte, request.send()).await {
        Err(_) => {
            return Err(ProviderError::timeout(
                TimeoutKind::FirstByte,
                ctx.message(
                    ErrorClass::Timeout,
                    &format!(
                        "no response within {}",
                        human_duration(ctx.timeouts.first_byte)
                    ),
                ),
            ));
        }
        Ok(Err(e)) => return Err(send_error(ctx, &e)),
        Ok(Ok(response)) => response,
    };
    let first_byte_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let status = response.status().as_u16();
    tracing::debug!(provider = ctx.provider, model = %chat.model, status, first_byte_ms, "response head");

    if !response.status().is_success() {
        return Err(http_error(ctx, response).await);
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if is_json {
        // Some proxies answer 200 with a JSON error instead of a stream.
        let body = read_capped(ctx, response).await;
        let parsed = ErrorBody::parse(&body);
        let mut err = match parsed.message.as_deref() {
            Some(message) => ctx.error(
                classify_stream_error(&parsed),
                &format!("HTTP 200 with an error body: {message}"),
            ),
            None => ctx.error(
                ErrorClass::MalformedStream,
                &format!("expected an event stream, got JSON: {body}"),
            ),
        };
        err.status = Some(status);
        return Err(err);
    }

    let mut stream = Streamed::default();
    let result = read_stream(ctx, response, decoder, &mut stream, on_delta).await;
    let usage_reported = stream.usage.is_some();
    let usage = stream.usage.unwrap_or_else(|| Usage {
        input_tokens: chat.estimated_input_tokens(),
        output_tokens: estimate_tokens(&stream.text),
        ..Usage::default()
    });
    match result {
        Ok(()) => Ok(Completion {
            text: stream.text,
            usage,
            usage_estimated: !usage_reported,
            stop_reason: stream.stop,
            http_status: Some(status),
            first_byte_ms: Some(first_byte_ms),
        }),
        Err(mut err) => {
            err.status.get_or_insert(status);
            // A cut stream rarely got its final usage: count at least the text that arrived.
            let mut usage = usage;
            usage.output_tokens = usage.output_tokens.max(estimate_tokens(&stream.text));
            err.usage = Some(usage);
            if !stream.text.is_empty() {
                err.partial = Some(stream.text);
            }
            tracing::debug!(
                provider = ctx.provider,
                class = err.class.as_str(),
                error = %err.message,
                "stream failed"
            );
            Err(err)
        }
    }
}

#[derive(Default)]
struct Streamed {
    text: String,
    usage: Option<Usage>,
    stop: Option<String>,
}

async fn read_stream<D: WireDecoder>(
    ctx: &CallContext<'_>,
    mut response: reqwest::Response,
    decoder: &mut D,
    out: &mut Streamed,
    on_delta: &mut (dyn FnMut(&str) + Send),
) -> Result<(), ProviderError> {
    let mut parser = SseParser::new();
    loop {
        let chunk = match tokio::time::timeout(ctx.timeouts.idle, response.chunk()).await {
            Err(_) => {
                return Err(ProviderError::timeout(
                    TimeoutKind::Idle,
                    ctx.message(
                        ErrorClass::Timeout,
                        &format!(
                            "the stream went silent for {}",
                            human_duration(ctx.timeouts.idle)
                        ),
                    ),
                ));
            }
            Ok(Err(e)) => {
                return Err(ctx.error(
                    ErrorClass::StreamCut,
                    &format!("connection lost mid-stream: {}", error_chain(&e)),
                ));
            }
            Ok(Ok(chunk)) => chunk,
        };
        let Some(bytes) = chunk else {
            return match parser.finish() {
                Ok(()) if decoder.complete_without_terminal() => Ok(()),
                Ok(()) | Err(SseError::Cut) => Err(ctx.error(
                    ErrorClass::StreamCut,
                    "the stream ended before its final event",
                )),
                Err(SseError::Malformed(m)) => Err(ctx.error(ErrorClass::MalformedStream, &m)),
            };
        };
        let events = parser.feed(&bytes).map_err(|e| match e {
            SseError::Malformed(m) => ctx.error(ErrorClass::MalformedStream, &m),
            SseError::Cut => ctx.error(ErrorClass::StreamCut, "the stream was cut"),
        })?;
        for event in events {
            let decoded = decoder.decode(&event).map_err(|mut e| {
                e.message = ctx.message(e.class, &e.message);
                e
            })?;
            for item in decoded {
                match item {
                    StreamEvent::Text(delta) => {
                        on_delta(&delta);
                        out.text.push_str(&delta);
                    }
                    StreamEvent::Usage(usage) => out.usage = Some(usage),
                    StreamEvent::Stop(reason) => out.stop = Some(reason),
                    // The answer is complete: return now rather than wait for the server to
                    // end the body, and let the rest drain in the background so the pooled
                    // connection can serve the next turn.
                    StreamEvent::Done => {
                        tokio::spawn(drain(response, ctx.timeouts.idle));
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Reads what is left of a finished stream (normally just the terminating chunk).
async fn drain(mut response: reqwest::Response, idle: Duration) {
    let mut left = MAX_ERROR_BODY_BYTES;
    while let Ok(Ok(Some(bytes))) = tokio::time::timeout(idle, response.chunk()).await {
        left = left.saturating_sub(bytes.len());
        if left == 0 {
            break;
        }
    }
}

/// Maps a failed HTTP response (status + JSON error body + retry headers) to an error.
async fn http_error(ctx: &CallContext<'_>, response: reqwest::Response) -> ProviderError {
    let status = response.status().as_u16();
    let retry_after = retry_after_from_headers(response.headers());
    let request_id = request_id(response.headers());
    let body = read_capped(ctx, response).await;
    let parsed = ErrorBody::parse(&body);
    let (class, timeout) = classify_http(status, &parsed);
    let mut detail = format!("HTTP {status}");
    if let Some(kind) = parsed.code.as_deref().or(parsed.kind.as_deref()) {
        detail.push_str(&format!(" {kind}"));
    }
    match parsed.message.as_deref() {
        Some(message) => detail.push_str(&format!(": {message}")),
        None if !body.trim().is_empty() => detail.push_str(&format!(": {body}")),
        None => {}
    }
    if let Some(id) = request_id {
        detail.push_str(&format!(" [request {id}]"));
    }
    let mut err = ctx.error(class, &detail).with_status(status);
    err.timeout = timeout;
    err.retry_after = retry_after;
    tracing::debug!(
        provider = ctx.provider,
        status,
        class = class.as_str(),
        error = %err.message,
        "http error"
    );
    err
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    ["request-id", "x-request-id"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(|id| {
            id.chars()
                .filter(|c| c.is_ascii_graphic())
                .take(80)
                .collect()
        })
}

/// Reads at most [`MAX_ERROR_BODY_BYTES`] of a body, giving up at the idle deadline.
async fn read_capped(ctx: &CallContext<'_>, mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match tokio::time::timeout(ctx.timeouts.idle, response.chunk()).await {
            Ok(Ok(Some(bytes))) => body.extend_from_slice(&bytes),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY_BYTES);
    String::from_utf8_lossy(&body).into_owned()
}

fn send_error(ctx: &CallContext<'_>, e: &reqwest::Error) -> ProviderError {
    let detail = error_chain(e);
    if e.is_timeout() {
        let kind = if e.is_connect() {
            TimeoutKind::Connect
        } else {
            TimeoutKind::FirstByte
        };
        let what = match kind {
            TimeoutKind::Connect => format!(
                "could not connect within {}",
                human_duration(ctx.timeouts.connect)
            ),
            _ => "no response in time".to_string(),
        };
        return ProviderError::timeout(
            kind,
            ctx.message(ErrorClass::Timeout, &format!("{what}: {detail}")),
        );
    }
    ctx.error(
        ErrorClass::Connect,
        &format!("could not reach the server: {detail}"),
    )
}

/// `reqwest`'s display plus its causes ("error sending request: … : Connection refused").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

fn human_duration(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.0}s", d.as_secs_f64())
    }
}

/// Marks a header value as sensitive so `reqwest`/`http` never print it in Debug output.
pub(crate) fn secret_header(
    value: &str,
) -> Result<reqwest::header::HeaderValue, reqwest::header::InvalidHeaderValue> {
    let mut header = reqwest::header::HeaderValue::from_str(value)?;
    header.set_sensitive(true);
    Ok(header)
}

/// Checks a configured base URL and strips the trailing slash.
pub(crate) fn normalise_base_url(base_url: &str) -> Result<String, String> {
    let trimmed = base_url.trim().trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(trimmed.to_string()),
        Ok(url) => Err(format!(
            "base URL `{trimmed}` uses `{}`; use http:// or https://",
            url.scheme()
        )),
        Err(e) => Err(format!("base URL `{trimmed}` is not a URL ({e})")),
    }
}
