//! The analyzer runner: asks a cheap model for structured scores about a message, within a
//! hard time budget, behind a cache and a circuit breaker. The contract (schema, strict
//! parsing, merge policy, presets) is the routing core's; this is the I/O around it.
//!
//! A turn [`start`](AnalyzerRunner::start)s the analysis before it assembles its context and
//! [`finish`](PendingAnalysis::finish)es it just before routing, so the model's latency
//! overlaps with history loading and prompt rendering. Whatever happens — slow, invalid,
//! down — `finish` returns in time with a status, and routing falls back to the
//! deterministic detectors.
//!
//! - **Budget**: the spawned call keeps running past the budget; its late answer is only
//!   logged (and its tokens are still recorded, see [`AnalyzerRunner::take_late`]).
//! - **Retry**: an invalid answer gets one follow-up turn naming what was wrong
//!   (`VerdictError::clarification`), then it is discarded.
//! - **Circuit breaker**: a `HealthBook` under [`ANALYZER_HEALTH_KEY`] with the preset's
//!   policy; while open no request is sent, after the cool-down one trial call goes through.
//! - **Cache**: an in-memory LRU of valid verdicts; a hit sends nothing.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::catalog::{ModelSpec, Usage};
use crate::providers::{ChatMessage, ChatRequest, Provider, StructuredOutput};
use crate::routing::analyzer::{
    ANALYZER_HEALTH_KEY, AnalyzerReport, AnalyzerStatus, AnalyzerVerdict, ResolvedAnalyzer,
    anthropic_tool, anthropic_tool_choice, openai_response_format, parse_verdict,
};
use crate::routing::health::{HealthBook, HealthState, Outcome};

use super::analyzer_cache::AnalyzerCache;
use super::clock::Clock;
use super::interactions::Interaction;
use super::prompts::Prompts;
use super::provider_set::ProviderSet;

/// An invalid answer echoed back in the retry is cut to this many bytes.
const ECHO_MAX_BYTES: usize = 2_048;

/// The analyzer's system prompt and call settings (interaction `SIGNAL_ANALYSIS`).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzerPrompt {
    pub system: String,
    pub temperature: f32,
    pub max_tokens: u32,
}

impl AnalyzerPrompt {
    /// Renders the `SIGNAL_ANALYSIS` interaction (hot-reloaded templates apply).
    pub fn from_prompts(prompts: &Prompts, model: &ModelSpec) -> anyhow::Result<AnalyzerPrompt> {
        let prepared = prompts.prepare(Interaction::SignalAnalysis, &prompts.context(""))?;
        Ok(AnalyzerPrompt {
            max_tokens: prepared.resolved.max_tokens_for(model),
            temperature: prepared.resolved.temperature,
            system: prepared.system_prompt,
        })
    }
}

/// What the analyzer is asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisRequest {
    pub message: String,
    /// The conversation's latest messages before this one, oldest first (only the last
    /// `context_turns` are used).
    pub recent: Vec<ChatMessage>,
    /// Turns in the conversation before this message.
    pub prior_turns: u32,
    pub prompt: AnalyzerPrompt,
    /// Where the usage of a late answer is recorded (`None` for `grow route`).
    pub conversation_id: Option<i64>,
    pub user_message_id: Option<i64>,
}

/// One model call the analyzer made: what to store as a usage row.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzerCall {
    pub model: String,
    pub usage: Usage,
    pub usage_estimated: bool,
    pub cost_usd: f64,
    pub no_cache_cost_usd: f64,
}

/// A finished analysis as the turn sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub status: AnalyzerStatus,
    /// Present for `used` and `cached`.
    pub verdict: Option<AnalyzerVerdict>,
    pub report: AnalyzerReport,
    /// Calls made within the budget (a timed-out call's usage arrives via `take_late`).
    pub calls: Vec<AnalyzerCall>,
}

impl Analysis {
    pub fn cost_usd(&self) -> f64 {
        self.calls.iter().map(|c| c.cost_usd).sum()
    }
}

/// A late answer: the turn had moved on. Only logged, and its usage recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct LateAnalysis {
    pub conversation_id: Option<i64>,
    pub user_message_id: Option<i64>,
    pub calls: Vec<AnalyzerCall>,
}

/// What the spawned call produced.
#[derive(Debug)]
struct CallOutcome {
    status: AnalyzerStatus,
    verdict: Option<AnalyzerVerdict>,
    calls: Vec<AnalyzerCall>,
    elapsed_ms: u64,
}

/// Why the analyzer cannot run (said on stderr by `grow route --analyze`, logged otherwise).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyzerUnavailable {
    #[error("the analyzer is off (preset `{0}`)")]
    Off(String),
    #[error("analyzer model `{0}` is not in the catalog")]
    UnknownModel(String),
    #[error("no provider for analyzer model `{model}`: {why}")]
    NoProvider { model: String, why: String },
}

pub struct AnalyzerRunner {
    settings: ResolvedAnalyzer,
    model: ModelSpec,
    provider: Provider,
    clock: Clock,
    cache: Mutex<Option<AnalyzerCache>>,
    health: Mutex<HealthBook>,
    late: Mutex<Vec<LateAnalysis>>,
}

impl std::fmt::Debug for AnalyzerRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyzerRunner")
            .field("preset", &self.settings.preset)
            .field("model", &self.model.id)
            .field("provider", &self.provider.name())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The structured-output request for a verdict, in both providers' shapes.
pub fn verdict_structure() -> StructuredOutput {
    StructuredOutput {
        openai_response_format: openai_response_format(),
        anthropic_tool: anthropic_tool(),
        anthropic_tool_choice: anthropic_tool_choice(),
    }
}

impl AnalyzerRunner {
    /// The runner for resolved settings, or why there is none (off, unknown model, no key).
    pub fn new(
        settings: ResolvedAnalyzer,
        catalog: &crate::catalog::Catalog,
        providers: &ProviderSet,
        clock: Clock,
    ) -> Result<AnalyzerRunner, AnalyzerUnavailable> {
        let Some(model_id) = settings.model.clone() else {
            return Err(AnalyzerUnavailable::Off(settings.preset.clone()));
        };
        let model = catalog
            .get(&model_id)
            .cloned()
            .ok_or_else(|| AnalyzerUnavailable::UnknownModel(model_id.clone()))?;
        let provider = providers
            .for_model(&model)
            .ok()
            .filter(|p| !p.is_offline())
            .cloned()
            .ok_or_else(|| AnalyzerUnavailable::NoProvider {
                model: model_id.clone(),
                why: providers
                    .for_model(&model)
                    .err()
                    .unwrap_or_else(|| "the offline coach cannot analyze".into()),
            })?;
        Ok(AnalyzerRunner {
            cache: Mutex::new(AnalyzerCache::for_settings(&settings)),
            health: Mutex::new(HealthBook::new(settings.health_policy())),
            late: Mutex::new(Vec::new()),
            settings,
            model,
            provider,
            clock,
        })
    }

    pub fn settings(&self) -> &ResolvedAnalyzer {
        &self.settings
    }

    pub fn model(&self) -> &ModelSpec {
        &self.model
    }

    /// The circuit breaker's state now.
    pub fn circuit(&self) -> HealthState {
        lock(&self.health).state(ANALYZER_HEALTH_KEY, self.now())
    }

    /// Cache size and hit/miss counts: `(entries, hits, misses)`; `None` without a cache.
    pub fn cache_stats(&self) -> Option<(usize, u64, u64)> {
        lock(&self.cache)
            .as_ref()
            .map(|c| (c.len(), c.hits(), c.misses()))
    }

    /// How many late answers wait to be recorded.
    pub fn late_len(&self) -> usize {
        lock(&self.late).len()
    }

    /// Late answers not yet recorded (their usage belongs in the store).
    pub fn take_late(&self) -> Vec<LateAnalysis> {
        std::mem::take(&mut *lock(&self.late))
    }

    fn now(&self) -> u64 {
        u64::try_from(self.clock.now_ms()).unwrap_or(0)
    }

    fn report(&self, status: AnalyzerStatus, latency_ms: u64, cost_usd: f64) -> AnalyzerReport {
        AnalyzerReport {
            status,
            model: self.model.id.clone(),
            latency_ms,
            cost_usd,
            cached: status == AnalyzerStatus::Cached,
            added_ms: 0,
        }
    }

    fn ready(&self, status: AnalyzerStatus, verdict: Option<AnalyzerVerdict>) -> Analysis {
        Analysis {
            status,
            verdict,
            report: self.report(status, 0, 0.0),
            calls: Vec::new(),
        }
    }

    /// Starts analysing `req`: a cache hit or an open circuit answers at once; otherwise the
    /// call is spawned on the runtime and runs while the caller assembles its context.
    pub fn start(self: &Arc<Self>, req: AnalysisRequest) -> PendingAnalysis {
        let started = Instant::now();
        let recent_start = req.recent.len().saturating_sub(self.settings.context_turns);
        let recent = &req.recent[recent_start..];
        let turns: Vec<&str> = recent.iter().map(|m| m.content.as_str()).collect();
        let key = lock(&self.cache)
            .as_mut()
            .map(|cache| cache.key_for(&req.message, &turns));
        if let Some(key) = key
            && let Some(verdict) = lock(&self.cache).as_mut().and_then(|c| c.get(&key))
        {
            tracing::debug!(model = %self.model.id, verdict = ?verdict, "analyzer cache hit");
            return PendingAnalysis::ready(
                self.ready(AnalyzerStatus::Cached, Some(verdict)),
                started,
            );
        }
        {
            let mut health = lock(&self.health);
            let now = self.now();
            if !health.state(ANALYZER_HEALTH_KEY, now).allows_call() {
                tracing::debug!(model = %self.model.id, "analyzer skipped: circuit open");
                return PendingAnalysis::ready(
                    self.ready(AnalyzerStatus::CircuitOpen, None),
                    started,
                );
            }
            health.begin_call(ANALYZER_HEALTH_KEY, now);
        }

        let user = render_user_message(&req.message, recent, req.prior_turns);
        let request = ChatRequest {
            model: self.model.id.clone(),
            system: req.prompt.system.clone(),
            messages: vec![ChatMessage::user(user)],
            max_tokens: req.prompt.max_tokens,
            temperature: Some(req.prompt.temperature),
            cache_prompt: true,
            structured: Some(verdict_structure()),
        };
        let (tx, rx) = oneshot::channel();
        let runner = Arc::clone(self);
        let (conversation_id, user_message_id) = (req.conversation_id, req.user_message_id);
        tokio::spawn(async move {
            let outcome = runner.call(request, started).await;
            if let Err(outcome) = tx.send(outcome) {
                tracing::info!(model = %runner.model.id, status = %outcome.status,
                    ms = outcome.elapsed_ms, verdict = ?outcome.verdict,
                    "analyzer answered after its budget; only logged");
                if !outcome.calls.is_empty() {
                    lock(&runner.late).push(LateAnalysis {
                        conversation_id,
                        user_message_id,
                        calls: outcome.calls,
                    });
                }
            }
        });
        PendingAnalysis {
            state: State::Running {
                runner: Arc::clone(self),
                rx,
                key,
            },
            started,
        }
    }

    /// One analysis: a call, and for an invalid answer one clarified retry.
    async fn call(&self, mut request: ChatRequest, started: Instant) -> CallOutcome {
        let mut calls = Vec::new();
        let mut attempt = 0;
        let status = loop {
            tracing::debug!(model = %self.model.id, attempt,
                input = %request.messages.iter().map(|m| m.content.as_str()).collect::<Vec<_>>().join("\n---\n"),
                "analyzer request");
            let mut sink = |_: &str| {};
            match self.provider.stream(&request, &mut sink).await {
                Err(err) => {
                    if let Some(usage) = err.usage {
                        calls.push(self.call_record(usage, true));
                    }
                    tracing::warn!(model = %self.model.id, class = err.class.as_str(),
                        error = %err.message, "analyzer call failed");
                    break (AnalyzerStatus::Failed, None);
                }
                Ok(done) => {
                    calls.push(self.call_record(done.usage, done.usage_estimated));
                    tracing::debug!(model = %self.model.id, attempt, output = %done.text, "analyzer answer");
                    match parse_verdict(done.text.as_str()) {
                        Ok(verdict) => break (AnalyzerStatus::Used, Some(verdict)),
                        Err(problems) => {
                            tracing::info!(model = %self.model.id, attempt, %problems, "analyzer answer invalid");
                            if attempt >= self.settings.retries {
                                break (AnalyzerStatus::Invalid, None);
                            }
                            attempt += 1;
                            let echoed = echo(&done.text);
                            request.messages.push(ChatMessage::assistant(echoed));
                            request
                                .messages
                                .push(ChatMessage::user(problems.clarification()));
                        }
                    }
                }
            }
        };
        CallOutcome {
            status: status.0,
            verdict: status.1,
            calls,
            elapsed_ms: ms(started.elapsed()),
        }
    }

    fn call_record(&self, usage: Usage, estimated: bool) -> AnalyzerCall {
        AnalyzerCall {
            model: self.model.id.clone(),
            usage,
            usage_estimated: estimated,
            cost_usd: self.model.cost(&usage),
            no_cache_cost_usd: self.model.cost_without_cache(&usage),
        }
    }

    /// Records an in-time outcome (health, cache) and builds the turn's analysis.
    fn settle(&self, outcome: CallOutcome, key: Option<[u8; 32]>, waited_ms: u64) -> Analysis {
        let now = self.now();
        let result = if outcome.status.is_failure() {
            Outcome::Failure {
                retry_after_ms: None,
            }
        } else {
            Outcome::Success
        };
        lock(&self.health).record(ANALYZER_HEALTH_KEY, result, now);
        if let (Some(key), Some(verdict)) = (key, &outcome.verdict)
            && let Some(cache) = lock(&self.cache).as_mut()
        {
            cache.put(key, verdict.clone());
        }
        let cost = outcome.calls.iter().map(|c| c.cost_usd).sum();
        let mut report = self.report(outcome.status, outcome.elapsed_ms, cost);
        report.added_ms = waited_ms;
        Analysis {
            status: outcome.status,
            report,
            verdict: outcome.verdict,
            calls: outcome.calls,
        }
    }

    fn timed_out(&self, waited_ms: u64) -> Analysis {
        lock(&self.health).record(
            ANALYZER_HEALTH_KEY,
            Outcome::Failure {
                retry_after_ms: None,
            },
            self.now(),
        );
        tracing::info!(model = %self.model.id, budget_ms = self.settings.budget_ms,
            "analyzer timed out; routing on the deterministic signals");
        let mut analysis = self.ready(AnalyzerStatus::TimedOut, None);
        analysis.report.latency_ms = self.settings.budget_ms;
        analysis.report.added_ms = waited_ms;
        analysis
    }

    /// An analysis that could not start for a local reason (logged by the caller): status
    /// `failed`, no call made, nothing counted against the endpoint's health.
    pub fn failed_locally(&self) -> PendingAnalysis {
        PendingAnalysis::ready(self.ready(AnalyzerStatus::Failed, None), Instant::now())
    }

    /// Starts and finishes at once (headless use: `grow route --analyze`).
    pub async fn analyze(self: &Arc<Self>, req: AnalysisRequest) -> Analysis {
        self.start(req).finish().await
    }
}

/// The user turn the `signal_analysis` template describes.
fn render_user_message(message: &str, recent: &[ChatMessage], prior_turns: u32) -> String {
    let mut out = String::new();
    if !recent.is_empty() {
        out.push_str("Recent turns:\n");
        for m in recent {
            let who = match m.role {
                crate::providers::Role::User => "person",
                crate::providers::Role::Assistant => "coach",
            };
            out.push_str(&format!("{who}: {}\n", m.content.trim()));
        }
    }
    out.push_str(&format!("Prior turns in conversation: {prior_turns}\n"));
    out.push_str("Latest message:\n");
    out.push_str(message.trim());
    out
}

/// The invalid answer as the assistant turn of the retry: never empty (a provider refuses
/// empty turns), cut on a character boundary.
fn echo(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "(empty answer)".to_string();
    }
    let mut end = text.len().min(ECHO_MAX_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

enum State {
    Ready(Box<Analysis>),
    Running {
        runner: Arc<AnalyzerRunner>,
        rx: oneshot::Receiver<CallOutcome>,
        key: Option<[u8; 32]>,
    },
}

/// An analysis under way; [`finish`](Self::finish) waits for it up to the budget.
pub struct PendingAnalysis {
    state: State,
    started: Instant,
}

impl PendingAnalysis {
    fn ready(analysis: Analysis, started: Instant) -> Self {
        PendingAnalysis {
            state: State::Ready(Box::new(analysis)),
            started,
        }
    }

    /// The analysis, or `timed_out` once the budget (counted from `start`) is spent. Never
    /// waits longer than the budget.
    pub async fn finish(self) -> Analysis {
        let (runner, mut rx, key) = match self.state {
            State::Ready(analysis) => return *analysis,
            State::Running { runner, rx, key } => (runner, rx, key),
        };
        let waiting = Instant::now();
        let deadline = self.started + Duration::from_millis(runner.settings.budget_ms);
        let received = match tokio::time::timeout_at(deadline.into(), &mut rx).await {
            Ok(Ok(outcome)) => Some(outcome),
            Ok(Err(_)) => None,
            Err(_) => {
                // Close first: an answer sent before this point is taken, one sent after it
                // fails to send and is logged as late by the task.
                rx.close();
                match rx.try_recv() {
                    Ok(outcome) => Some(outcome),
                    Err(_) => return runner.timed_out(ms(waiting.elapsed())),
                }
            }
        };
        let waited = ms(waiting.elapsed());
        match received {
            Some(outcome) => runner.settle(outcome, key, waited),
            // The task ended without an answer (it panicked): a failure like any other.
            None => runner.settle(
                CallOutcome {
                    status: AnalyzerStatus::Failed,
                    verdict: None,
                    calls: Vec::new(),
                    elapsed_ms: ms(self.started.elapsed()),
                },
                key,
                waited,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_message_follows_the_template() {
        let text = render_user_message(
            " Should I move? ",
            &[
                ChatMessage::user("I got an offer"),
                ChatMessage::assistant("Tell me more"),
            ],
            7,
        );
        assert_eq!(
            text,
            "Recent turns:\nperson: I got an offer\ncoach: Tell me more\nPrior turns in conversation: 7\nLatest message:\nShould I move?"
        );
        assert_eq!(
            render_user_message("hi", &[], 0),
            "Prior turns in conversation: 0\nLatest message:\nhi"
        );
    }

    #[test]
    fn echo_is_never_empty_and_cut_on_a_boundary() {
        assert_eq!(echo("  "), "(empty answer)");
        let long = "职".repeat(1000);
        let cut = echo(&long);
        assert!(cut.len() <= ECHO_MAX_BYTES);
        assert!(cut.chars().all(|c| c == '职'));
    }

    /// Every few-shot example in the shipped prompt is a valid verdict: the model is shown
    /// exactly the shape `parse_verdict` accepts.
    #[test]
    fn template_examples_parse_as_verdicts() {
        let template = include_str!("../../assets/prompts/signal_analysis.j2");
        let examples: Vec<&str> = template
            .lines()
            .filter(|l| l.trim_start().starts_with("{\"signals\""))
            .collect();
        assert_eq!(examples.len(), 7);
        for line in examples {
            if let Err(e) = parse_verdict(line) {
                panic!("{e}\n{line}");
            }
        }
    }
}
