//! OpenAI-compatible Chat Completions, streaming (`POST {base_url}/chat/completions`).
//! One implementation for OpenAI, Ollama, llama.cpp, vLLM, LiteLLM and OpenRouter.

use serde_json::{Value, json};

use super::error::{
    ErrorBody, ErrorClass, ProviderConfigError, ProviderError, classify_http, classify_stream_error,
};
use super::http::{CallContext, build_client, execute, normalise_base_url, secret_header};
use super::secret::Secret;
use super::sse::SseEvent;
use super::{ChatRequest, Completion, StreamEvent, Timeouts, WireDecoder};
use crate::catalog::Usage;

#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiCompatConfig {
    /// The endpoint's name in config (`openai`, `ollama`, …), used in messages and attempts.
    pub name: String,
    /// Up to and including the version segment, e.g. `http://localhost:11434/v1`.
    pub base_url: String,
    /// Local servers usually need none.
    pub api_key: Option<Secret>,
    pub timeouts: Timeouts,
    pub output_limit: OutputLimitField,
}

/// The request field that caps the answer's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputLimitField {
    /// `max_tokens`: what local servers (Ollama, llama.cpp, vLLM, LiteLLM) take.
    #[default]
    MaxTokens,
    /// `max_completion_tokens`: OpenAI's own API, where `max_tokens` is deprecated and
    /// refused by reasoning models.
    MaxCompletionTokens,
}

impl OutputLimitField {
    fn key(self) -> &'static str {
        match self {
            OutputLimitField::MaxTokens => "max_tokens",
            OutputLimitField::MaxCompletionTokens => "max_completion_tokens",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiCompatClient {
    config: OpenAiCompatConfig,
    endpoint: String,
    http: reqwest::Client,
}

impl OpenAiCompatClient {
    pub fn new(mut config: OpenAiCompatConfig) -> Result<Self, ProviderConfigError> {
        let name = config.name.clone();
        let fail = |message: String| ProviderConfigError {
            provider: name.clone(),
            message,
        };
        if config.api_key.as_ref().is_some_and(Secret::is_empty) {
            config.api_key = None;
        }
        if let Some(key) = &config.api_key
            && secret_header(&format!("Bearer {}", key.expose())).is_err()
        {
            return Err(fail(
                "the API key contains characters that cannot go in an HTTP header".into(),
            ));
        }
        config.base_url = normalise_base_url(&config.base_url).map_err(fail)?;
        let http = build_client(&config.timeouts)
            .map_err(|e| fail(format!("could not build the HTTP client: {e}")))?;
        Ok(OpenAiCompatClient {
            endpoint: format!("{}/chat/completions", config.base_url),
            config,
            http,
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &OpenAiCompatConfig {
        &self.config
    }

    pub async fn stream(
        &self,
        req: &ChatRequest,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Completion, ProviderError> {
        let ctx = CallContext {
            provider: &self.config.name,
            key: self.config.api_key.as_ref(),
            timeouts: self.config.timeouts,
        };
        let mut request = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .body(request_body(req, self.config.output_limit).to_string());
        if let Some(key) = &self.config.api_key {
            let value = secret_header(&format!("Bearer {}", key.expose())).map_err(|_| {
                ProviderError::new(ErrorClass::Auth, "the API key is not a valid header value")
            })?;
            request = request.header("authorization", value);
        }
        execute(&ctx, request, req, &mut OpenAiDecoder::default(), on_delta).await
    }
}

/// The JSON body of a streaming chat completion (usage requested in the final chunk).
pub fn request_body(req: &ChatRequest, output_limit: OutputLimitField) -> Value {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        messages.push(json!({"role": "system", "content": req.system}));
    }
    messages.extend(
        req.messages
            .iter()
            .map(|m| json!({"role": m.role.as_str(), "content": m.content})),
    );
    let mut body = json!({
        "model": req.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    body[output_limit.key()] = json!(req.max_tokens);
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(structured) = &req.structured {
        body["response_format"] = structured.openai_response_format.clone();
    }
    body
}

/// Decodes `data:` chunks up to `data: [DONE]`.
#[derive(Debug, Default, Clone)]
pub struct OpenAiDecoder {
    finished: bool,
}

impl WireDecoder for OpenAiDecoder {
    fn decode(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, ProviderError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(vec![StreamEvent::Done]);
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| {
            ProviderError::new(
                ErrorClass::MalformedStream,
                format!("a stream chunk is not JSON ({e})"),
            )
        })?;
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(error, &chunk));
        }
        if !chunk.is_object() {
            return Err(ProviderError::new(
                ErrorClass::MalformedStream,
                "a stream chunk is not a JSON object",
            ));
        }
        let mut out = Vec::new();
        let choice = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first());
        if let Some(choice) = choice {
            if let Some(text) = choice
                .get("delta")
                .and_then(|d| d.get("content"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                out.push(StreamEvent::Text(text.to_string()));
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finished = true;
                out.push(StreamEvent::Stop(reason.to_string()));
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            out.push(StreamEvent::Usage(usage_from(usage)));
        }
        Ok(out)
    }

    /// Some local servers close right after the finishing chunk without `[DONE]`; the answer
    /// is whole then.
    fn complete_without_terminal(&self) -> bool {
        self.finished
    }
}

/// OpenAI counts cached tokens inside `prompt_tokens`; the catalog prices them apart.
fn usage_from(usage: &Value) -> Usage {
    let get = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    let prompt = get(usage.get("prompt_tokens"));
    let cached = get(usage
        .get("prompt_tokens_details")
        .and_then(|d| d.get("cached_tokens")))
    .min(prompt);
    Usage {
        input_tokens: prompt - cached,
        output_tokens: get(usage.get("completion_tokens")),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: cached,
    }
}

/// An error object inside the stream (OpenRouter, LiteLLM and vLLM send these after 200).
fn stream_error(error: &Value, chunk: &Value) -> ProviderError {
    let body = ErrorBody::from_json(chunk);
    let class = match error.get("code").and_then(Value::as_u64) {
        Some(status) => u16::try_from(status)
            .map(|s| classify_http(s, &body).0)
            .unwrap_or(ErrorClass::ServerError),
        None => classify_stream_error(&body),
    };
    ProviderError::new(
        class,
        format!(
            "error in the stream: {}",
            body.message.as_deref().unwrap_or("no message")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(d: &str) -> SseEvent {
        SseEvent {
            event: "message".into(),
            data: d.into(),
        }
    }

    #[test]
    fn decodes_text_finish_usage_and_done() {
        let mut d = OpenAiDecoder::default();
        assert_eq!(
            d.decode(&data(r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#)).unwrap(),
            vec![]
        );
        assert_eq!(
            d.decode(&data(
                r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#
            ))
            .unwrap(),
            vec![StreamEvent::Text("Hi".into())]
        );
        assert!(!d.complete_without_terminal());
        assert_eq!(
            d.decode(&data(
                r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#
            ))
            .unwrap(),
            vec![StreamEvent::Stop("stop".into())]
        );
        assert!(d.complete_without_terminal());
        let usage = d
            .decode(&data(r#"{"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":9,"total_tokens":109,"prompt_tokens_details":{"cached_tokens":64}}}"#))
            .unwrap();
        assert_eq!(
            usage,
            vec![StreamEvent::Usage(Usage {
                input_tokens: 36,
                output_tokens: 9,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 64
            })]
        );
        assert_eq!(d.decode(&data("[DONE]")).unwrap(), vec![StreamEvent::Done]);
    }

    #[test]
    fn structured_request_carries_the_response_format() {
        let mut req = ChatRequest {
            model: "gpt-4o-mini".into(),
            system: "Score it.".into(),
            messages: vec![super::super::ChatMessage::user("a")],
            max_tokens: 400,
            temperature: Some(0.0),
            cache_prompt: false,
            structured: None,
        };
        let plain = request_body(&req, OutputLimitField::MaxTokens);
        assert!(plain.get("response_format").is_none());
        assert_eq!(plain["max_tokens"], 400);
        let openai = request_body(&req, OutputLimitField::MaxCompletionTokens);
        assert_eq!(openai["max_completion_tokens"], 400);
        assert!(openai.get("max_tokens").is_none());
        let format = json!({"type": "json_schema", "json_schema": {"name": "v", "strict": true, "schema": {}}});
        req.structured = Some(super::super::StructuredOutput {
            openai_response_format: format.clone(),
            anthropic_tool: json!({}),
            anthropic_tool_choice: json!({}),
        });
        let body = request_body(&req, OutputLimitField::MaxTokens);
        assert_eq!(body["response_format"], format);
        assert!(body.get("tools").is_none());
    }

    #[test]
    fn typed_errors_in_stream() {
        let mut d = OpenAiDecoder::default();
        let quota = d
            .decode(&data(r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#))
            .unwrap_err();
        assert_eq!(quota.class, ErrorClass::SpendLimit);
        let upstream = d
            .decode(&data(
                r#"{"error":{"code":502,"message":"upstream failed"}}"#,
            ))
            .unwrap_err();
        assert_eq!(upstream.class, ErrorClass::ServerError);
        assert_eq!(
            d.decode(&data("{not json")).unwrap_err().class,
            ErrorClass::MalformedStream
        );
        assert_eq!(
            d.decode(&data("42")).unwrap_err().class,
            ErrorClass::MalformedStream
        );
    }
}
