//! Model providers: Anthropic Messages, OpenAI-compatible chat, the offline coach.
//!
//! One streaming interface over all three: text deltas as they arrive, then a [`Completion`]
//! with usage and stop reason, or a typed [`ProviderError`]. Retries live in [`retry`];
//! fallback across models is the coach's job.
//!
//! Typical use by the coach: resolve a key with [`resolve_key`], build one client per
//! provider at start ([`AnthropicClient::new`], [`OpenAiCompatClient::new`],
//! [`OfflineCoach::embedded`]) and keep it (it pools connections), then per attempt call
//! [`stream_with_retry`]. On error, `class` decides what happens next
//! ([`ErrorClass::is_retryable`] for health, `SpendLimit`/`Auth` to skip a provider), `partial`
//! holds text the person already saw, and `message` is safe to show and store.

pub mod anthropic;
pub mod error;
mod http;
pub mod offline;
pub mod openai_compat;
pub mod retry;
pub mod secret;
pub mod sse;

use std::time::Duration;

use crate::catalog::Usage;

pub use anthropic::{AnthropicClient, AnthropicConfig, AnthropicDecoder};
pub use error::{ErrorClass, ProviderConfigError, ProviderError, TimeoutKind};
pub use offline::{Language, OfflineCoach, OfflineReply, OfflineTemplateError, Stage};
pub use openai_compat::{OpenAiCompatClient, OpenAiCompatConfig, OpenAiDecoder, OutputLimitField};
pub use retry::{RetryPolicy, stream_with_retry};
pub use secret::{KeyError, Secret, resolve_key};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// One call: the conversation so far, ending with the new user message.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub system: String,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// Mark the system prompt and the conversation prefix as cacheable (Anthropic).
    pub cache_prompt: bool,
    /// Constrain the answer to a JSON schema (the analyzer). The completion text is then the
    /// JSON document, whatever the provider's mechanism.
    pub structured: Option<StructuredOutput>,
}

/// A provider's structured-output mechanism, filled in by the caller (the providers layer
/// knows the wire fields, not the schema's meaning).
///
/// - OpenAI-compatible: `response_format` (`{type: "json_schema", json_schema: {name,
///   strict: true, schema}}`); the answer text is the JSON.
/// - Anthropic: `tools: [tool]` with `tool_choice` forcing it; the tool call's streamed
///   `input_json_delta` fragments become the completion text.
#[derive(Debug, Clone, PartialEq)]
pub struct StructuredOutput {
    /// The OpenAI `response_format` value.
    pub openai_response_format: serde_json::Value,
    /// The Anthropic tool definition (`name`, `description`, `input_schema`).
    pub anthropic_tool: serde_json::Value,
    /// The Anthropic `tool_choice` that forces the tool.
    pub anthropic_tool_choice: serde_json::Value,
}

impl ChatRequest {
    /// Rough input size, for when a provider reports no usage.
    pub fn estimated_input_tokens(&self) -> u64 {
        estimate_tokens(&self.system)
            + self
                .messages
                .iter()
                .map(|m| estimate_tokens(&m.content) + 4)
                .sum::<u64>()
    }
}

/// A finished call.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub usage: Usage,
    /// The provider reported no usage; `usage` is estimated from characters.
    pub usage_estimated: bool,
    pub stop_reason: Option<String>,
    pub http_status: Option<u16>,
    /// Milliseconds from sending the request to the response head arriving.
    pub first_byte_ms: Option<u64>,
}

/// The three deadlines of a streaming call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    /// Longest silence between two chunks of the body.
    pub idle: Duration,
}

impl From<&crate::config::TimeoutSettings> for Timeouts {
    fn from(t: &crate::config::TimeoutSettings) -> Self {
        Timeouts {
            connect: Duration::from_secs(t.connect_secs),
            first_byte: Duration::from_secs(t.first_byte_secs),
            idle: Duration::from_secs(t.idle_secs),
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(60),
            idle: Duration::from_secs(30),
        }
    }
}

/// A configured provider. An enum rather than a trait object: three known kinds, async
/// methods without boxing.
#[derive(Debug, Clone)]
pub enum Provider {
    Anthropic(AnthropicClient),
    OpenAiCompat(OpenAiCompatClient),
    Offline(OfflineCoach),
}

impl Provider {
    /// Streams one call. Every text delta is passed to `on_delta` as it arrives (the caller
    /// keeps the partial text itself, so dropping this future to cancel loses nothing).
    /// Errors after text has streamed carry it in `partial`.
    pub async fn stream(
        &self,
        req: &ChatRequest,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Completion, ProviderError> {
        match self {
            Provider::Anthropic(client) => client.stream(req, on_delta).await,
            Provider::OpenAiCompat(client) => client.stream(req, on_delta).await,
            Provider::Offline(coach) => Ok(coach.stream(req, on_delta)),
        }
    }

    /// Short name for logs and attempt rows: `anthropic`, the endpoint name, or `offline`.
    pub fn name(&self) -> &str {
        match self {
            Provider::Anthropic(_) => "anthropic",
            Provider::OpenAiCompat(client) => client.name(),
            Provider::Offline(_) => "offline",
        }
    }

    pub fn is_offline(&self) -> bool {
        matches!(self, Provider::Offline(_))
    }
}

/// What a wire decoder makes of one SSE event.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Text(String),
    /// Usage so far (cumulative: a later one replaces an earlier one).
    Usage(Usage),
    Stop(String),
    /// The protocol's terminal event (`message_stop`, `[DONE]`).
    Done,
}

/// Turns SSE events of one wire format into [`StreamEvent`]s. Synchronous and I/O-free so
/// both formats can be tested (and fuzzed) without a network.
pub trait WireDecoder {
    fn decode(
        &mut self,
        event: &crate::providers::sse::SseEvent,
    ) -> Result<Vec<StreamEvent>, ProviderError>;

    /// Whether a stream that ends now (without its terminal event) still holds a complete
    /// answer.
    fn complete_without_terminal(&self) -> bool {
        false
    }
}

/// Token estimates (used when a provider reports no usage) are shared with the router.
pub use crate::tokens::{estimate_tokens, is_cjk};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_latin_and_cjk() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("你好世界"), 4);
        assert_eq!(estimate_tokens("你好 abc"), 3);
    }

    #[test]
    fn timeouts_default() {
        let t = Timeouts::default();
        assert_eq!(
            Timeouts::from(&crate::config::TimeoutSettings::default()),
            t
        );
        assert_eq!(
            (t.connect, t.first_byte, t.idle),
            (
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(30)
            )
        );
    }
}
