//! Typed provider failures: what went wrong, whether retrying can help, what to tell a person.

use std::fmt;
use std::time::Duration;

use crate::catalog::Usage;

/// What kind of failure a call ended in. Callers branch on this (retry, fall back, stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// HTTP 429 (not a spend limit): too many requests or tokens per minute.
    RateLimited,
    /// HTTP 529 or an `overloaded_error`: the provider is busy.
    Overloaded,
    /// HTTP 5xx (and 409): the provider failed.
    ServerError,
    /// A deadline passed; [`ProviderError::timeout`] says which one.
    Timeout,
    /// The connection could not be made (refused, DNS, TLS).
    Connect,
    /// HTTP 401/403: the key is missing, wrong or lacks permission.
    Auth,
    /// HTTP 400/404/422: the request itself is wrong (unknown model, bad parameter).
    BadRequest,
    /// The prompt does not fit the model's context window (or the request is too large).
    ContextTooLong,
    /// Out of credit, quota or a spend limit: retrying cannot help until someone pays.
    SpendLimit,
    /// The stream ended before its terminal event.
    StreamCut,
    /// The stream is not the wire format it claims to be.
    MalformedStream,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 11] = [
        ErrorClass::RateLimited,
        ErrorClass::Overloaded,
        ErrorClass::ServerError,
        ErrorClass::Timeout,
        ErrorClass::Connect,
        ErrorClass::Auth,
        ErrorClass::BadRequest,
        ErrorClass::ContextTooLong,
        ErrorClass::SpendLimit,
        ErrorClass::StreamCut,
        ErrorClass::MalformedStream,
    ];

    /// Stable snake_case name, as stored in SQLite and shown in the routing panel.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Overloaded => "overloaded",
            ErrorClass::ServerError => "server_error",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Connect => "connect",
            ErrorClass::Auth => "auth",
            ErrorClass::BadRequest => "bad_request",
            ErrorClass::ContextTooLong => "context_too_long",
            ErrorClass::SpendLimit => "spend_limit",
            ErrorClass::StreamCut => "stream_cut",
            ErrorClass::MalformedStream => "malformed_stream",
        }
    }

    /// Whether the same request may succeed if sent again (the official SDKs' rule: 408, 409,
    /// 429, 5xx, 529, connection errors and timeouts). Spend limits, auth and bad requests
    /// never heal by themselves; a malformed stream means a broken server or proxy.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::RateLimited
                | ErrorClass::Overloaded
                | ErrorClass::ServerError
                | ErrorClass::Timeout
                | ErrorClass::Connect
                | ErrorClass::StreamCut
        )
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// The TCP/TLS connection was not established in time.
    Connect,
    /// The response did not start in time.
    FirstByte,
    /// The stream went silent between chunks.
    Idle,
    /// The server itself gave up (HTTP 408).
    Server,
}

impl TimeoutKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::FirstByte => "first_byte",
            TimeoutKind::Idle => "idle",
            TimeoutKind::Server => "server",
        }
    }
}

/// One failed call. `message` is one line, free of secrets, and says what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderError {
    pub class: ErrorClass,
    pub timeout: Option<TimeoutKind>,
    pub status: Option<u16>,
    /// How long the provider asked us to wait (`retry-after-ms` / `retry-after`).
    pub retry_after: Option<Duration>,
    pub message: String,
    /// Text already streamed (and passed to `on_delta`) before the failure.
    pub partial: Option<String>,
    /// Usage up to the failure when a response had started (the provider may bill for it):
    /// reported counts where the stream carried them, the rest estimated from characters.
    pub usage: Option<Usage>,
}

impl ProviderError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        ProviderError {
            class,
            timeout: None,
            status: None,
            retry_after: None,
            message: message.into(),
            partial: None,
            usage: None,
        }
    }

    pub fn timeout(kind: TimeoutKind, message: impl Into<String>) -> Self {
        ProviderError {
            timeout: Some(kind),
            ..ProviderError::new(ErrorClass::Timeout, message)
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Whether text reached the caller before the failure (then the call must not be retried:
    /// the person has already seen part of an answer).
    pub fn has_partial(&self) -> bool {
        self.partial.as_deref().is_some_and(|p| !p.is_empty())
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.timeout {
            Some(kind) => write!(f, "{} ({}): {}", self.class, kind.as_str(), self.message),
            None => write!(f, "{}: {}", self.class, self.message),
        }
    }
}

impl std::error::Error for ProviderError {}

/// The error fields a provider's JSON error body carries, whichever dialect it speaks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorBody {
    /// Anthropic `error.type`, OpenAI `error.type`.
    pub kind: Option<String>,
    /// OpenAI `error.code` (e.g. `insufficient_quota`, `context_length_exceeded`).
    pub code: Option<String>,
    pub message: Option<String>,
}

impl ErrorBody {
    /// Reads `{"type":"error","error":{"type","message"}}` (Anthropic),
    /// `{"error":{"message","type","code"}}` (OpenAI) or `{"error":"text"}` (Ollama, llama.cpp).
    pub fn parse(body: &str) -> ErrorBody {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
            return ErrorBody::default();
        };
        Self::from_json(&value)
    }

    pub fn from_json(value: &serde_json::Value) -> ErrorBody {
        let text = |v: Option<&serde_json::Value>| -> Option<String> {
            match v? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        match value.get("error") {
            Some(serde_json::Value::String(message)) => ErrorBody {
                kind: None,
                code: None,
                message: Some(message.clone()),
            },
            Some(err @ serde_json::Value::Object(_)) => ErrorBody {
                kind: text(err.get("type")),
                code: text(err.get("code")),
                message: text(err.get("message")),
            },
            _ => ErrorBody {
                kind: None,
                code: None,
                message: text(value.get("message")),
            },
        }
    }

    fn mentions(&self, needles: &[&str]) -> bool {
        let hay = format!(
            "{} {} {}",
            self.kind.as_deref().unwrap_or(""),
            self.code.as_deref().unwrap_or(""),
            self.message.as_deref().unwrap_or("")
        )
        .to_lowercase();
        needles.iter().any(|n| hay.contains(n))
    }

    /// Out of money rather than out of rate: never worth a retry.
    pub fn is_spend_limit(&self) -> bool {
        self.mentions(&[
            "insufficient_quota",
            "billing",
            "credit balance",
            "credits",
            "spend limit",
            "spending limit",
            "usage limit",
            "exceeded your current quota",
            "payment",
        ])
    }

    pub fn is_context_too_long(&self) -> bool {
        self.mentions(&[
            "context_length_exceeded",
            "prompt is too long",
            "context length",
            "context window",
            "maximum context",
            "too many tokens",
            "exceed context limit",
        ])
    }
}

/// Maps an HTTP status and the error body to a class (both Anthropic and OpenAI dialects).
pub fn classify_http(status: u16, body: &ErrorBody) -> (ErrorClass, Option<TimeoutKind>) {
    let kind = body.kind.as_deref().unwrap_or("");
    if body.is_spend_limit() && matches!(status, 400 | 402 | 403 | 429) {
        return (ErrorClass::SpendLimit, None);
    }
    match status {
        401 | 403 => (ErrorClass::Auth, None),
        402 => (ErrorClass::SpendLimit, None),
        408 => (ErrorClass::Timeout, Some(TimeoutKind::Server)),
        413 => (ErrorClass::ContextTooLong, None),
        429 => (ErrorClass::RateLimited, None),
        529 => (ErrorClass::Overloaded, None),
        409 => (ErrorClass::ServerError, None),
        500..=599 if kind == "overloaded_error" => (ErrorClass::Overloaded, None),
        500..=599 => (ErrorClass::ServerError, None),
        _ if body.is_context_too_long() => (ErrorClass::ContextTooLong, None),
        _ => (ErrorClass::BadRequest, None),
    }
}

/// Maps an Anthropic `error` event (sent after HTTP 200) to a class by its `error.type`.
pub fn classify_stream_error(body: &ErrorBody) -> ErrorClass {
    if body.is_spend_limit() {
        return ErrorClass::SpendLimit;
    }
    match body.kind.as_deref().unwrap_or("") {
        "overloaded_error" => ErrorClass::Overloaded,
        "rate_limit_error" => ErrorClass::RateLimited,
        "api_error" | "server_error" => ErrorClass::ServerError,
        "timeout_error" => ErrorClass::Timeout,
        "authentication_error" | "permission_error" => ErrorClass::Auth,
        "request_too_large" => ErrorClass::ContextTooLong,
        "invalid_request_error" | "not_found_error" if body.is_context_too_long() => {
            ErrorClass::ContextTooLong
        }
        "invalid_request_error" | "not_found_error" => ErrorClass::BadRequest,
        _ if body.is_context_too_long() => ErrorClass::ContextTooLong,
        // An unknown failure mid-stream is most likely transient on the provider's side.
        _ => ErrorClass::ServerError,
    }
}

/// What a person can do about each class, appended to messages.
pub fn hint(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::RateLimited => "too many requests right now; wait a moment",
        ErrorClass::Overloaded => "the provider is overloaded; try again shortly",
        ErrorClass::ServerError => "the provider failed; try again shortly",
        ErrorClass::Timeout => "no answer in time; check the network or raise the timeout",
        ErrorClass::Connect => "check the base URL, the network, or that the local server runs",
        ErrorClass::Auth => "check the API key (env var or key command) for this provider",
        ErrorClass::BadRequest => "check the model id and settings in your config",
        ErrorClass::ContextTooLong => "start a new conversation or shorten the history window",
        ErrorClass::SpendLimit => "add credit or raise the spend limit in the provider console",
        ErrorClass::StreamCut => "the connection dropped mid-answer; the partial text is kept",
        ErrorClass::MalformedStream => "the endpoint does not speak the expected format",
    }
}

/// A provider that cannot be built from its configuration (no key, bad URL, no TLS).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct ProviderConfigError {
    pub provider: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(kind: &str, code: Option<&str>, msg: &str) -> ErrorBody {
        ErrorBody {
            kind: Some(kind.into()),
            code: code.map(Into::into),
            message: Some(msg.into()),
        }
    }

    #[test]
    fn parses_both_dialects() {
        let a = ErrorBody::parse(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(a.kind.as_deref(), Some("overloaded_error"));
        let o = ErrorBody::parse(
            r#"{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota","param":null}}"#,
        );
        assert_eq!(o.code.as_deref(), Some("insufficient_quota"));
        let plain = ErrorBody::parse(r#"{"error":"model 'x' not found"}"#);
        assert_eq!(plain.message.as_deref(), Some("model 'x' not found"));
        assert_eq!(ErrorBody::parse("<html>"), ErrorBody::default());
    }

    #[test]
    fn statuses_map_to_classes() {
        let none = ErrorBody::default();
        assert_eq!(classify_http(401, &none).0, ErrorClass::Auth);
        assert_eq!(classify_http(403, &none).0, ErrorClass::Auth);
        assert_eq!(
            classify_http(408, &none),
            (ErrorClass::Timeout, Some(TimeoutKind::Server))
        );
        assert_eq!(classify_http(409, &none).0, ErrorClass::ServerError);
        assert_eq!(classify_http(413, &none).0, ErrorClass::ContextTooLong);
        assert_eq!(classify_http(429, &none).0, ErrorClass::RateLimited);
        assert_eq!(classify_http(500, &none).0, ErrorClass::ServerError);
        assert_eq!(classify_http(503, &none).0, ErrorClass::ServerError);
        assert_eq!(classify_http(529, &none).0, ErrorClass::Overloaded);
        assert_eq!(classify_http(404, &none).0, ErrorClass::BadRequest);
    }

    #[test]
    fn bodies_refine_the_class() {
        let long = body(
            "invalid_request_error",
            None,
            "prompt is too long: 210000 tokens > 200000 maximum",
        );
        assert_eq!(classify_http(400, &long).0, ErrorClass::ContextTooLong);
        let ctx = body(
            "invalid_request_error",
            Some("context_length_exceeded"),
            "…",
        );
        assert_eq!(classify_http(400, &ctx).0, ErrorClass::ContextTooLong);
        let quota = body(
            "insufficient_quota",
            Some("insufficient_quota"),
            "You exceeded your current quota",
        );
        assert_eq!(classify_http(429, &quota).0, ErrorClass::SpendLimit);
        let rate = body(
            "rate_limit_error",
            None,
            "This request would exceed the rate limit for your organization",
        );
        assert_eq!(classify_http(429, &rate).0, ErrorClass::RateLimited);
        // Real rate-limit wording must not read as a spend limit.
        let openai_rate = body(
            "tokens",
            Some("rate_limit_exceeded"),
            "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s. Visit https://platform.openai.com/account/rate-limits to learn more.",
        );
        assert_eq!(classify_http(429, &openai_rate).0, ErrorClass::RateLimited);
        let anthropic_rate = body(
            "rate_limit_error",
            None,
            "This request would exceed the rate limit for your organization of 50,000 input tokens per minute. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales to discuss your options for a rate limit increase.",
        );
        assert_eq!(
            classify_http(429, &anthropic_rate).0,
            ErrorClass::RateLimited
        );
        let output_cap = body(
            "invalid_request_error",
            None,
            "max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5",
        );
        assert_eq!(classify_http(400, &output_cap).0, ErrorClass::BadRequest);
        let openrouter =
            ErrorBody::parse(r#"{"error":{"code":402,"message":"Insufficient credits"}}"#);
        assert_eq!(classify_http(402, &openrouter).0, ErrorClass::SpendLimit);
        let credit = body(
            "invalid_request_error",
            None,
            "Your credit balance is too low",
        );
        assert_eq!(classify_http(400, &credit).0, ErrorClass::SpendLimit);
    }

    #[test]
    fn stream_errors_map_by_type() {
        let e = |k: &str| classify_stream_error(&body(k, None, "x"));
        assert_eq!(e("overloaded_error"), ErrorClass::Overloaded);
        assert_eq!(e("rate_limit_error"), ErrorClass::RateLimited);
        assert_eq!(e("api_error"), ErrorClass::ServerError);
        assert_eq!(e("something_new"), ErrorClass::ServerError);
    }

    #[test]
    fn names_are_snake_case_and_retry_rules_hold() {
        let names: Vec<_> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        assert!(!ErrorClass::SpendLimit.is_retryable());
        assert!(!ErrorClass::Auth.is_retryable());
        assert!(!ErrorClass::BadRequest.is_retryable());
        assert!(ErrorClass::Overloaded.is_retryable());
        assert!(ErrorClass::Timeout.is_retryable());
    }
}
