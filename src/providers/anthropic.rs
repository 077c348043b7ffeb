//! Anthropic Messages API, streaming (`POST {base_url}/v1/messages`).

use serde_json::{Value, json};

use super::error::{
    ErrorBody, ErrorClass, ProviderConfigError, ProviderError, classify_stream_error,
};
use super::http::{CallContext, build_client, execute, normalise_base_url, secret_header};
use super::secret::Secret;
use super::sse::SseEvent;
use super::{ChatRequest, Completion, StreamEvent, Timeouts, WireDecoder};
use crate::catalog::Usage;

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const DEFAULT_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone, PartialEq)]
pub struct AnthropicConfig {
    pub base_url: String,
    pub api_key: Secret,
    /// The `anthropic-version` header.
    pub version: String,
    pub timeouts: Timeouts,
}

impl AnthropicConfig {
    /// The public API with default version and timeouts.
    pub fn new(api_key: Secret) -> Self {
        AnthropicConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_key,
            version: DEFAULT_VERSION.to_string(),
            timeouts: Timeouts::default(),
        }
    }
}

/// A client for one Anthropic account. Cloning shares the connection pool.
#[derive(Debug, Clone)]
pub struct AnthropicClient {
    config: AnthropicConfig,
    endpoint: String,
    http: reqwest::Client,
}

impl AnthropicClient {
    pub fn new(mut config: AnthropicConfig) -> Result<Self, ProviderConfigError> {
        let fail = |message: String| ProviderConfigError {
            provider: "anthropic".into(),
            message,
        };
        if config.api_key.is_empty() {
            return Err(fail(
                "no API key: set ANTHROPIC_API_KEY or configure a key command".into(),
            ));
        }
        if secret_header(config.api_key.expose()).is_err() {
            return Err(fail(
                "the API key contains characters that cannot go in an HTTP header".into(),
            ));
        }
        config.base_url = normalise_base_url(&config.base_url).map_err(fail)?;
        let http = build_client(&config.timeouts)
            .map_err(|e| fail(format!("could not build the HTTP client: {e}")))?;
        Ok(AnthropicClient {
            endpoint: format!("{}/v1/messages", config.base_url),
            config,
            http,
        })
    }

    pub fn config(&self) -> &AnthropicConfig {
        &self.config
    }

    pub async fn stream(
        &self,
        req: &ChatRequest,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Completion, ProviderError> {
        let ctx = CallContext {
            provider: "anthropic",
            key: Some(&self.config.api_key),
            timeouts: self.config.timeouts,
        };
        let key = secret_header(self.config.api_key.expose()).map_err(|_| {
            ProviderError::new(
                ErrorClass::Auth,
                "anthropic: the API key is not a valid header value",
            )
        })?;
        let request = self
            .http
            .post(&self.endpoint)
            .header("x-api-key", key)
            .header("anthropic-version", &self.config.version)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .body(request_body(req).to_string());
        execute(
            &ctx,
            request,
            req,
            &mut AnthropicDecoder::default(),
            on_delta,
        )
        .await
    }
}

/// The JSON body of a streaming Messages call. With `cache_prompt`, two cache breakpoints:
/// the system prompt, and the last message before the new one, so the whole conversation
/// prefix is read from cache on the next turn.
///
/// The API refuses empty text blocks and a conversation that opens with the assistant (a
/// history window can start mid-exchange), so those messages are left out.
pub fn request_body(req: &ChatRequest) -> Value {
    let cache = || json!({"type": "ephemeral"});
    let kept: Vec<&super::ChatMessage> = req
        .messages
        .iter()
        .filter(|m| !m.content.trim().is_empty())
        .skip_while(|m| m.role == super::Role::Assistant)
        .collect();
    let prefix_end = kept.len().checked_sub(2);
    let messages: Vec<Value> = kept
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut block = json!({"type": "text", "text": m.content});
            if req.cache_prompt && Some(i) == prefix_end {
                block["cache_control"] = cache();
            }
            json!({"role": m.role.as_str(), "content": [block]})
        })
        .collect();
    let mut body = json!({
        "model": req.model,
        "max_tokens": req.max_tokens,
        "stream": true,
        "messages": messages,
    });
    if !req.system.is_empty() {
        let mut block = json!({"type": "text", "text": req.system});
        if req.cache_prompt {
            block["cache_control"] = cache();
        }
        body["system"] = json!([block]);
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(structured) = &req.structured {
        body["tools"] = json!([structured.anthropic_tool]);
        body["tool_choice"] = structured.anthropic_tool_choice.clone();
    }
    body
}

/// Decodes the Messages event stream.
#[derive(Debug, Default, Clone)]
pub struct AnthropicDecoder {
    usage: Usage,
}

fn malformed(what: &str) -> ProviderError {
    ProviderError::new(ErrorClass::MalformedStream, what.to_string())
}

fn count(usage: &Value, field: &str) -> Option<u64> {
    usage.get(field).and_then(Value::as_u64)
}

impl AnthropicDecoder {
    /// Merges a `usage` object; absent fields keep their value (`message_delta` usage is
    /// cumulative and may repeat or omit the input counts).
    fn merge_usage(&mut self, usage: &Value) -> StreamEvent {
        let u = &mut self.usage;
        if let Some(n) = count(usage, "input_tokens") {
            u.input_tokens = n;
        }
        if let Some(n) = count(usage, "output_tokens") {
            u.output_tokens = n;
        }
        if let Some(n) = count(usage, "cache_creation_input_tokens") {
            u.cache_creation_input_tokens = n;
        }
        if let Some(n) = count(usage, "cache_read_input_tokens") {
            u.cache_read_input_tokens = n;
        }
        StreamEvent::Usage(*u)
    }
}

impl WireDecoder for AnthropicDecoder {
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, ProviderError> {
        let known = [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
            "error",
        ];
        let named = event.event.as_str();
        if named != "message" && !known.contains(&named) {
            // `ping` and event types added after this client was written.
            return Ok(Vec::new());
        }
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|e| malformed(&format!("`{named}` event data is not JSON ({e})")))?;
        let kind = if named == "message" {
            data.get("type").and_then(Value::as_str).unwrap_or("")
        } else {
            named
        };
        let mut out = Vec::new();
        match kind {
            "message_start" => {
                let message = data
                    .get("message")
                    .ok_or_else(|| malformed("`message_start` without a message"))?;
                if let Some(usage) = message.get("usage") {
                    out.push(self.merge_usage(usage));
                }
            }
            "content_block_start" => {
                let block = data.get("content_block");
                // A forced tool call (structured output): its input streams as
                // `input_json_delta` fragments; a non-empty `input` here is a whole answer
                // some servers send at once.
                if block.and_then(|b| b.get("type")).and_then(Value::as_str) == Some("tool_use")
                    && let Some(input) = block
                        .and_then(|b| b.get("input"))
                        .filter(|i| i.as_object().is_some_and(|o| !o.is_empty()))
                {
                    out.push(StreamEvent::Text(input.to_string()));
                }
                let is_text =
                    block.and_then(|b| b.get("type")).and_then(Value::as_str) == Some("text");
                if let Some(text) = block.and_then(|b| b.get("text")).and_then(Value::as_str)
                    && is_text
                    && !text.is_empty()
                {
                    out.push(StreamEvent::Text(text.to_string()));
                }
            }
            "content_block_delta" => {
                let delta = data
                    .get("delta")
                    .ok_or_else(|| malformed("`content_block_delta` without a delta"))?;
                // Tool input is only ever requested for structured output, where the JSON is
                // the answer; other delta kinds (thinking, citations) are not shown.
                let (field, what) = match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => ("text", "`text_delta` without text"),
                    Some("input_json_delta") => {
                        ("partial_json", "`input_json_delta` without partial_json")
                    }
                    _ => return Ok(out),
                };
                let text = delta
                    .get(field)
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed(what))?;
                if !text.is_empty() {
                    out.push(StreamEvent::Text(text.to_string()));
                }
            }
            "message_delta" => {
                if let Some(reason) = data
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    out.push(StreamEvent::Stop(reason.to_string()));
                }
                if let Some(usage) = data.get("usage") {
                    out.push(self.merge_usage(usage));
                }
            }
            "message_stop" => out.push(StreamEvent::Done),
            "error" => {
                let body = ErrorBody::from_json(&data);
                let class = classify_stream_error(&body);
                let detail = format!(
                    "error event after HTTP 200: {}: {}",
                    body.kind.as_deref().unwrap_or("unknown_error"),
                    body.message.as_deref().unwrap_or("no message")
                );
                return Err(ProviderError::new(class, detail));
            }
            _ => {}
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ChatMessage;

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn decodes_usage_text_and_stop() {
        let mut d = AnthropicDecoder::default();
        let start = d
            .decode(&ev(
                "message_start",
                r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":1}}}"#,
            ))
            .unwrap();
        assert_eq!(
            start,
            vec![StreamEvent::Usage(Usage {
                input_tokens: 10,
                output_tokens: 1,
                cache_creation_input_tokens: 5,
                cache_read_input_tokens: 100
            })]
        );
        let text = d
            .decode(&ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            ))
            .unwrap();
        assert_eq!(text, vec![StreamEvent::Text("Hi".into())]);
        let end = d
            .decode(&ev(
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}"#,
            ))
            .unwrap();
        assert_eq!(end[0], StreamEvent::Stop("end_turn".into()));
        let StreamEvent::Usage(u) = end[1] else {
            panic!("expected usage, got {:?}", end[1]);
        };
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.cache_read_input_tokens),
            (10, 7, 100)
        );
        assert_eq!(
            d.decode(&ev("message_stop", r#"{"type":"message_stop"}"#))
                .unwrap(),
            vec![StreamEvent::Done]
        );
    }

    #[test]
    fn ignores_ping_and_unknown_events_and_reports_error_events() {
        let mut d = AnthropicDecoder::default();
        assert!(
            d.decode(&ev("ping", "{\"type\": \"ping\"}"))
                .unwrap()
                .is_empty()
        );
        assert!(
            d.decode(&ev("future_event", "not json"))
                .unwrap()
                .is_empty()
        );
        let err = d
            .decode(&ev(
                "error",
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            ))
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Overloaded);
        let bad = d.decode(&ev("content_block_delta", "{oops")).unwrap_err();
        assert_eq!(bad.class, ErrorClass::MalformedStream);
    }

    #[test]
    fn decodes_a_forced_tool_call_into_text() {
        let mut d = AnthropicDecoder::default();
        let start = d
            .decode(&ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_01","name":"grow_analyzer_verdict","input":{}}}"#,
            ))
            .unwrap();
        assert!(start.is_empty());
        let mut text = String::new();
        for piece in [r#"{"crisis": "#, r#"false, "topic""#, r#": "jobs"}"#] {
            let data = serde_json::json!({
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": piece},
            });
            for e in d
                .decode(&ev("content_block_delta", &data.to_string()))
                .unwrap()
            {
                if let StreamEvent::Text(t) = e {
                    text.push_str(&t);
                }
            }
        }
        assert_eq!(text, r#"{"crisis": false, "topic": "jobs"}"#);
        let whole = d
            .decode(&ev(
                "content_block_start",
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"n","input":{"a":1}}}"#,
            ))
            .unwrap();
        assert_eq!(whole, vec![StreamEvent::Text(r#"{"a":1}"#.into())]);
        let bad = d
            .decode(&ev(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta"}}"#,
            ))
            .unwrap_err();
        assert_eq!(bad.class, ErrorClass::MalformedStream);
    }

    #[test]
    fn structured_request_forces_the_tool() {
        let req = ChatRequest {
            model: "claude-haiku-4-5".into(),
            system: "Score it.".into(),
            messages: vec![ChatMessage::user("a")],
            max_tokens: 400,
            temperature: Some(0.0),
            cache_prompt: false,
            structured: Some(crate::providers::StructuredOutput {
                openai_response_format: json!({"type": "json_schema"}),
                anthropic_tool: json!({"name": "t", "input_schema": {"type": "object"}}),
                anthropic_tool_choice: json!({"type": "tool", "name": "t"}),
            }),
        };
        let body = request_body(&req);
        assert_eq!(body["tools"][0]["name"], "t");
        assert_eq!(body["tool_choice"], json!({"type": "tool", "name": "t"}));
        assert!(body.get("response_format").is_none());
    }

    #[test]
    fn body_has_two_cache_breakpoints() {
        let req = ChatRequest {
            model: "claude-haiku-4-5".into(),
            system: "You are a coach.".into(),
            messages: vec![
                ChatMessage::user("a"),
                ChatMessage::assistant("b"),
                ChatMessage::user("c"),
            ],
            max_tokens: 800,
            temperature: None,
            cache_prompt: true,
            structured: None,
        };
        assert!(request_body(&req).get("tools").is_none());
        let body = request_body(&req);
        assert_eq!(body["stream"], true);
        assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(
            body["messages"][1]["content"][0]["cache_control"]["type"],
            "ephemeral"
        );
        assert!(
            body["messages"][2]["content"][0]
                .get("cache_control")
                .is_none()
        );
        assert!(
            body["messages"][0]["content"][0]
                .get("cache_control")
                .is_none()
        );
        let plain = request_body(&ChatRequest {
            cache_prompt: false,
            ..req.clone()
        });
        assert!(!plain.to_string().contains("cache_control"));

        let window = request_body(&ChatRequest {
            messages: vec![
                ChatMessage::assistant("cut-off reply"),
                ChatMessage::user("a"),
                ChatMessage::assistant(""),
                ChatMessage::user("c"),
            ],
            ..req
        });
        let messages = window["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0]["role"], "user");
        assert_eq!(
            messages[0]["content"][0]["cache_control"]["type"],
            "ephemeral"
        );
    }
}
