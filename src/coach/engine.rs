//! One coaching turn, end to end: persist the user message, assemble context, route,
//! stream from the plan (retries, fallbacks, offline coach last), record everything.
//!
//! The store is behind a mutex that is only ever held for one short synchronous call, never
//! across an await, so previews and a second compare lane can run while a turn streams.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;

use crate::catalog::{ModelSpec, OFFLINE_MODEL, Usage};
use crate::config::Config;
use crate::providers::{
    ChatMessage, ChatRequest, Completion, ProviderError, RetryPolicy, stream_with_retry,
};
use crate::routing::health::{HealthBook, HealthPolicy, Outcome};
use crate::routing::router::Router;
use crate::routing::selector::{RouteInput, RoutingPolicy};
use crate::routing::types::{RouteDecision, Safety};
use crate::store::Store;
use crate::store::{
    ConversationKind, MessageStatus, NewAttempt, NewConversation, NewDecision, NewMessage, NewUsage,
};

use super::analyzer::{Analysis, AnalysisRequest, AnalyzerPrompt, AnalyzerRunner, PendingAnalysis};
use super::api::{
    AttemptReport, CostSnapshot, Event, ExportFormat, SendRequest, TurnId, TurnStatus, TurnSummary,
};
use super::clock::Clock;
use super::history::{self, HistoryWindow};
use super::interactions::{Interaction, ModelChoice};
use super::prompts::Prompts;
use super::provider_set::ProviderSet;
use super::reload::Prepared;
use super::safety::SafetyNotices;

/// How often a streaming answer is saved, so a killed process loses at most this much.
const PARTIAL_FLUSH_EVERY: Duration = Duration::from_millis(250);

/// Everything a turn needs, shared by all turns of a session.
pub struct Coach {
    pub config: Arc<Config>,
    router: Router,
    providers: ProviderSet,
    retry: RetryPolicy,
    safety: SafetyNotices,
    prompts: Prompts,
    store: Mutex<Store>,
    health: Mutex<HealthBook>,
    clock: Clock,
    profile_id: i64,
    /// `None` when the analyzer is off or cannot run (no key for its model).
    analyzer: Option<Arc<AnalyzerRunner>>,
}

/// Turns a cancel request into something a streaming turn can wait on.
#[derive(Clone)]
pub struct CancelSignal(watch::Receiver<bool>);

impl CancelSignal {
    pub fn new() -> (watch::Sender<bool>, CancelSignal) {
        let (tx, rx) = watch::channel(false);
        (tx, CancelSignal(rx))
    }

    pub fn never() -> CancelSignal {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        CancelSignal(rx)
    }

    async fn cancelled(&mut self) {
        while !*self.0.borrow() {
            if self.0.changed().await.is_err() {
                // The sender is gone: nobody can cancel any more.
                std::future::pending::<()>().await;
            }
        }
    }
}

pub fn routing_policy(config: &Config, providers: &ProviderSet) -> RoutingPolicy {
    let s = &config.settings;
    RoutingPolicy {
        default_model: s.models.default.clone(),
        upgrade_model: s.models.upgrade.clone(),
        auto_upgrade: s.models.auto_upgrade,
        long_context_turns: s.routing.long_context_turns,
        upgrade_threshold: s.routing.upgrade_threshold,
        affinity_turns: s.routing.affinity_turns,
        budget_margin: s.routing.budget_margin,
        expected_output_tokens: s.routing.expected_output_tokens,
        excluded: providers.unusable_models(&config.catalog),
    }
}

pub fn health_policy(config: &Config) -> HealthPolicy {
    let h = &config.settings.health;
    HealthPolicy {
        failure_threshold: h.failure_threshold,
        window_ms: h.window_secs * 1000,
        cooldown_ms: h.cooldown_secs * 1000,
        max_retry_after_ms: config.settings.retry.max_retry_after_secs * 1000,
    }
}

pub fn retry_policy(config: &Config) -> RetryPolicy {
    let r = &config.settings.retry;
    RetryPolicy {
        max_retries: r.max_retries,
        base: Duration::from_millis(r.initial_backoff_ms),
        cap: Duration::from_millis(r.max_backoff_ms),
        max_retry_after: Duration::from_secs(r.max_retry_after_secs),
    }
}

/// What a turn is prepared with before routing.
struct TurnContext {
    prepared: Prepared,
    /// The personalised prompt version in use, if any.
    prompt_version: Option<i64>,
    /// COACHING_RESPONSE, or CONSULTATION in an intake conversation.
    interaction: Interaction,
}

impl TurnContext {
    /// A model fixed for this interaction and tier by configuration (instead of `route`).
    fn configured_model(&self) -> Option<&str> {
        match &self.prepared.resolved.model {
            ModelChoice::Model(id) => Some(id.as_str()),
            ModelChoice::Route => None,
        }
    }
}

/// What one attempt at one model produced.
enum AttemptResult {
    Answered(Completion),
    /// Text had streamed when the model failed or the person cancelled: keep it, stop.
    Interrupted {
        partial: String,
        reason: String,
        usage: Option<Usage>,
    },
    /// Nothing streamed: try the next model in the plan.
    Failed(String),
}

impl Coach {
    /// Everything from config: keys, providers, router, prompts, the database.
    pub fn from_config(
        config: Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Coach> {
        Coach::from_config_at(config, env, Clock::System)
    }

    /// The same, reading time from `clock` (a fixed one for tests of days and schedules).
    pub fn from_config_at(
        config: Config,
        env: &dyn Fn(&str) -> Option<String>,
        clock: Clock,
    ) -> anyhow::Result<Coach> {
        let providers = ProviderSet::from_config(&config, env)?;
        let router = Router::new(
            Arc::new(config.catalog.clone()),
            Arc::new(crate::routing::lexicon::Lexicon::builtin()?),
            routing_policy(&config, &providers),
        );
        let prompts = Prompts::load(&config)?;
        let store = Store::open(&config.paths.db)?;
        Coach::new(Arc::new(config), router, providers, prompts, store, clock)
    }

    pub fn prompts(&self) -> &Prompts {
        &self.prompts
    }

    pub fn new(
        config: Arc<Config>,
        router: Router,
        providers: ProviderSet,
        prompts: Prompts,
        store: Store,
        clock: Clock,
    ) -> anyhow::Result<Coach> {
        let now = clock.now_ms();
        let name = if config.settings.user.name.is_empty() {
            "me"
        } else {
            config.settings.user.name.as_str()
        };
        let profile_id = store
            .ensure_profile(name, now)
            .context("creating the profile")?;
        let analyzer = analyzer_runner(&config, &providers, &clock);
        Ok(Coach {
            analyzer,
            retry: retry_policy(&config),
            health: Mutex::new(HealthBook::new(health_policy(&config))),
            safety: SafetyNotices::builtin()?,
            router,
            providers,
            prompts,
            store: Mutex::new(store),
            clock,
            profile_id,
            config,
        })
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the connection itself intact.
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn health(&self) -> MutexGuard<'_, HealthBook> {
        self.health
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The analyzer runner, when the analyzer is on and can run.
    pub fn analyzer(&self) -> Option<&Arc<AnalyzerRunner>> {
        self.analyzer.as_ref()
    }

    /// Starts the analyzer for a stored user message, before the turn's context is
    /// assembled; `None` when it is off. It never fails a turn: a local error (reading the
    /// recent messages, rendering its prompt) is logged and counts as `failed`.
    fn start_analysis(
        &self,
        text: &str,
        conversation_id: i64,
        user_message_id: i64,
    ) -> Option<PendingAnalysis> {
        let runner = self.analyzer.as_ref()?;
        match self.try_start_analysis(runner, text, conversation_id, user_message_id) {
            Ok(pending) => Some(pending),
            Err(e) => {
                tracing::warn!("analyzer not started: {e:#}");
                Some(runner.failed_locally())
            }
        }
    }

    /// Only the few recent messages the analyzer needs are read here.
    fn try_start_analysis(
        &self,
        runner: &Arc<AnalyzerRunner>,
        text: &str,
        conversation_id: i64,
        user_message_id: i64,
    ) -> anyhow::Result<PendingAnalysis> {
        let wanted = runner.settings().context_turns + 1;
        let (recent, prior_turns) = {
            let store = self.store();
            let mut recent = store.recent_messages(conversation_id, wanted)?;
            if recent.last().is_some_and(|m| m.id == user_message_id) {
                recent.pop();
            }
            let size = store.conversation_size(conversation_id)?;
            (recent, size.turns.saturating_sub(1) as u32)
        };
        let recent = recent
            .into_iter()
            .filter(|m| m.status != MessageStatus::Failed && m.compare_lane.unwrap_or(0) == 0)
            .filter(|m| !m.content.trim().is_empty())
            .filter_map(|m| match m.role {
                crate::store::Role::User => Some(ChatMessage::user(m.content)),
                crate::store::Role::Assistant => Some(ChatMessage::assistant(m.content)),
                _ => None,
            })
            .collect();
        let prompt = AnalyzerPrompt::from_prompts(&self.prompts, runner.model())?;
        Ok(runner.start(AnalysisRequest {
            message: text.to_string(),
            recent,
            prior_turns,
            prompt,
            conversation_id: Some(conversation_id),
            user_message_id: Some(user_message_id),
        }))
    }

    /// Stores the analyzer's calls as usage rows (`kind = analyzer`, no upgrade equivalent:
    /// an all-upgrade setup would not make them), and any late answers' calls.
    fn record_analyzer_usage(
        &self,
        analysis: Option<&Analysis>,
        conversation_id: i64,
        user_message_id: i64,
        decision_id: i64,
    ) -> anyhow::Result<()> {
        let Some(runner) = &self.analyzer else {
            return Ok(());
        };
        let now = self.clock.now_ms();
        let store = self.store();
        let mut rows = Vec::new();
        if let Some(a) = analysis {
            rows.extend(a.calls.iter().map(|c| {
                (
                    Some(conversation_id),
                    Some(user_message_id),
                    Some(decision_id),
                    c.clone(),
                )
            }));
        }
        for late in runner.take_late() {
            rows.extend(
                late.calls
                    .into_iter()
                    .map(|c| (late.conversation_id, late.user_message_id, None, c)),
            );
        }
        for (conversation_id, message_id, decision_id, call) in rows {
            store.insert_usage(&NewUsage {
                conversation_id,
                message_id,
                decision_id,
                kind: crate::store::usage_kind::ANALYZER.to_string(),
                model: call.model,
                usage: call.usage,
                cost_usd: call.cost_usd,
                upgrade_equiv_cost_usd: 0.0,
                no_cache_cost_usd: call.no_cache_cost_usd,
                estimated: call.usage_estimated,
                created_at: now,
            })?;
        }
        Ok(())
    }

    /// Routes on the deterministic signals merged with the analyzer's verdict, if any.
    fn decide(
        &self,
        input: &RouteInput<'_>,
        analysis: Option<&Analysis>,
    ) -> anyhow::Result<RouteDecision> {
        let health = self.health();
        let Some(analysis) = analysis else {
            return Ok(self.router.decide(input, &health)?);
        };
        let detected = self.router.detect(input);
        let signals = match (&analysis.verdict, &self.analyzer) {
            (Some(verdict), Some(runner)) => {
                crate::routing::analyzer::merge(&detected, verdict, &runner.settings().merge)
            }
            _ => detected,
        };
        let mut decision =
            self.router
                .decide_with(input, signals, analysis.status.signal_origin(), &health)?;
        decision.analyzer = Some(analysis.report.clone());
        Ok(decision)
    }

    pub fn has_remote_provider(&self) -> bool {
        self.providers.any_remote()
    }

    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.store())
    }

    pub fn with_health<T>(&self, f: impl FnOnce(&HealthBook) -> T) -> T {
        f(&self.health())
    }

    pub fn with_health_mut<T>(&self, f: impl FnOnce(&mut HealthBook) -> T) -> T {
        f(&mut self.health())
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn profile_id(&self) -> i64 {
        self.profile_id
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The provider serving `model`, or why none can.
    pub fn provider_for(&self, model: &ModelSpec) -> Result<&crate::providers::Provider, String> {
        self.providers.for_model(model)
    }

    /// The decision a draft would get, without sending or storing anything.
    pub fn preview(
        &self,
        conversation_id: Option<i64>,
        text: &str,
    ) -> anyhow::Result<RouteDecision> {
        let window = match conversation_id {
            Some(id) => history::load(
                &self.store(),
                id,
                self.config.settings.coach.history_turns,
                self.router.policy().upgrade_threshold,
            )?,
            None => HistoryWindow::default(),
        };
        let context = self.turn_context(text, ConversationKind::Chat)?;
        let mut input =
            self.route_input(text, &window, &context.prepared.system_prompt, None, false);
        input.configured_model = context.configured_model();
        let health = self.health();
        Ok(self.router.decide(&input, &health)?)
    }

    /// The prompt and settings a turn runs with: the consultation prompt in an intake
    /// conversation, else the personalised prompt when present, else the generic one (unless
    /// `ENABLE_GENERIC_FALLBACK` is off: then a typed `ChatWaiting` error).
    fn turn_context(&self, text: &str, kind: ConversationKind) -> anyhow::Result<TurnContext> {
        if kind == ConversationKind::Consultation {
            return Ok(TurnContext {
                prepared: super::consultation::prepare_turn(self, text)?,
                prompt_version: None,
                interaction: Interaction::Consultation,
            });
        }
        let personal = self.store().latest_prompt_version(self.profile_id)?;
        if personal.is_none() {
            super::profile::ensure_generic_allowed(self)?;
        }
        let prepared = self
            .prompts
            .coaching(text, personal.as_ref().map(|p| p.prompt.as_str()))?;
        Ok(TurnContext {
            prepared,
            prompt_version: personal.map(|p| p.version),
            interaction: Interaction::CoachingResponse,
        })
    }

    fn route_input<'a>(
        &self,
        text: &'a str,
        window: &HistoryWindow,
        system: &str,
        pin: Option<&'a str>,
        force_upgrade: bool,
    ) -> RouteInput<'a> {
        RouteInput {
            message: text,
            prior_turns: window.prior_turns,
            history_tokens: window.tokens,
            system_tokens: crate::routing::tokens::estimate_tokens(system),
            escalation_risk: Default::default(),
            pin,
            force_upgrade,
            turns_since_signal_upgrade: window.turns_since_signal_upgrade,
            now_ms: self.clock.now_ms() as u64,
            configured_model: None,
        }
    }

    /// Creates the conversation if needed and commits the user message before anything else.
    pub fn begin_turn(
        &self,
        req: &SendRequest,
        kind: ConversationKind,
    ) -> anyhow::Result<(i64, i64)> {
        let now = self.clock.now_ms();
        let store = self.store();
        let conversation_id = match req.conversation_id {
            Some(id) => {
                store.conversation(id)?.ok_or_else(|| {
                    anyhow!("conversation {id} does not exist (see `grow review list`)")
                })?;
                id
            }
            None => store.create_conversation(&NewConversation {
                profile_id: self.profile_id,
                title: Some(history::title_from(&req.text)),
                kind,
                system_prompt_version_used: store
                    .latest_prompt_version(self.profile_id)?
                    .map(|p| p.version),
                created_at: now,
            })?,
        };
        let user_message_id =
            store.insert_message(&NewMessage::user(conversation_id, req.text.clone(), now))?;
        Ok((conversation_id, user_message_id))
    }

    /// Runs one turn whose user message is already stored.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_turn(
        &self,
        turn: TurnId,
        req: &SendRequest,
        conversation_id: i64,
        user_message_id: i64,
        compare_lane: Option<u8>,
        events: &UnboundedSender<Event>,
        mut cancel: CancelSignal,
    ) -> anyhow::Result<TurnSummary> {
        let emit = |e: Event| {
            let _ = events.send(e);
        };
        // Started first so the analyzer's latency overlaps with assembling the context.
        let pending = self.start_analysis(&req.text, conversation_id, user_message_id);
        let window = history::load(
            &self.store(),
            conversation_id,
            self.config.settings.coach.history_turns,
            self.router.policy().upgrade_threshold,
        )?;
        let kind = self
            .store()
            .conversation(conversation_id)?
            .map_or(ConversationKind::Chat, |c| c.kind);
        let context = self.turn_context(&req.text, kind)?;
        let mut input = self.route_input(
            &req.text,
            &window,
            &context.prepared.system_prompt,
            req.pin.as_deref(),
            req.force_upgrade,
        );
        input.configured_model = context.configured_model();
        let analysis = match pending {
            Some(p) => Some(p.finish().await),
            None => None,
        };
        let decision = self.decide(&input, analysis.as_ref())?;
        let decision_id = self.store().insert_decision(&NewDecision {
            conversation_id,
            user_message_id,
            model: decision.model.clone(),
            provider: decision.provider.to_string(),
            tier: i64::from(decision.tier),
            upgraded: decision.upgraded,
            safety: decision.safety.as_str().to_string(),
            interaction: Some(context.interaction.as_code().to_string()),
            signals_json: serde_json::to_string(&decision.signals)?,
            reasons_json: serde_json::to_string(&decision.reasons)?,
            plan_json: serde_json::to_string(&decision.plan)?,
            signal_origin: serde_json::to_value(decision.signal_origin)?
                .as_str()
                .unwrap_or("deterministic")
                .to_string(),
            estimated_input_tokens: decision.estimated_input_tokens,
            estimated_cost_usd: decision.estimated_cost_usd,
            created_at: self.clock.now_ms(),
        })?;
        if let Err(e) = self.record_analyzer_usage(
            analysis.as_ref(),
            conversation_id,
            user_message_id,
            decision_id,
        ) {
            tracing::warn!("could not record the analyzer's usage: {e:#}");
        }
        let analyzer_cost = analysis.as_ref().map_or(0.0, Analysis::cost_usd);
        emit(Event::Decision {
            turn,
            decision: decision.clone(),
        });

        let mut messages = window.messages;
        messages.push(ChatMessage::user(req.text.clone()));
        let resolved = context.prepared.resolved.clone();
        let mut chat = ChatRequest {
            model: decision.model.clone(),
            system: context.prepared.system_prompt,
            messages: history::alternate(messages),
            max_tokens: resolved.max_tokens,
            temperature: Some(resolved.temperature),
            cache_prompt: self.config.settings.anthropic.prompt_caching,
            structured: None,
        };

        // The answer text so far, shared by every attempt (only one attempt ever streams text).
        let mut answer = String::new();
        if decision.safety == Safety::Crisis {
            let notice = format!("{}\n\n", self.safety.for_message(&req.text));
            answer.push_str(&notice);
            emit(Event::Delta { turn, text: notice });
        }
        let prefix_len = answer.len();
        let mut assistant_id: Option<i64> = None;
        let mut failures: Vec<String> = Vec::new();
        // Providers whose account refused us (bad key, spend limit): their other models would too.
        let mut blocked: Vec<(String, String)> = Vec::new();
        let mut outcome: Option<(String, AttemptResult)> = None;
        let started = Instant::now();
        let mut first_token_sent = false;

        for step in &decision.plan {
            let Some(model) = self.router.catalog().get(&step.model).cloned() else {
                continue;
            };
            let provider = match self.providers.for_model(&model) {
                Ok(p) if blocked.iter().any(|(name, _)| name == p.name()) => {
                    let why = blocked
                        .iter()
                        .find(|(name, _)| name == p.name())
                        .map(|(_, why)| why.clone())
                        .unwrap_or_default();
                    self.record_attempt(
                        turn,
                        decision_id,
                        None,
                        &model,
                        "skipped",
                        None,
                        None,
                        0,
                        Some(why),
                        &emit,
                    )?;
                    continue;
                }
                Ok(p) => p,
                Err(why) => {
                    self.record_attempt(
                        turn,
                        decision_id,
                        None,
                        &model,
                        "skipped",
                        None,
                        None,
                        0,
                        Some(why.clone()),
                        &emit,
                    )?;
                    failures.push(format!("{}: {why}", model.id));
                    continue;
                }
            };
            chat.model = model.id.clone();
            chat.max_tokens = resolved.max_tokens_for(&model);
            emit(Event::AttemptStarted {
                turn,
                model: model.id.clone(),
            });
            self.health()
                .begin_call(&model.id, self.clock.now_ms() as u64);

            let try_started = Mutex::new(Instant::now());
            let mut last_flush = Instant::now();
            let mut on_delta = |text: &str| {
                let clean = crate::sanitize::strip_controls(text);
                if !first_token_sent {
                    first_token_sent = true;
                    emit(Event::FirstToken {
                        turn,
                        after_ms: started.elapsed().as_millis() as u64,
                    });
                }
                answer.push_str(&clean);
                emit(Event::Delta {
                    turn,
                    text: clean.into_owned(),
                });
                if assistant_id.is_none() || last_flush.elapsed() >= PARTIAL_FLUSH_EVERY {
                    last_flush = Instant::now();
                    self.save_partial(
                        conversation_id,
                        &model.id,
                        &answer,
                        compare_lane,
                        context.prompt_version,
                        &mut assistant_id,
                    );
                }
            };
            let mut retried: Vec<(ProviderError, Duration, u64)> = Vec::new();
            let mut on_retry = |err: &ProviderError, wait: Duration| {
                let mut t = try_started.lock().unwrap_or_else(|p| p.into_inner());
                retried.push((err.clone(), wait, t.elapsed().as_millis() as u64));
                *t = Instant::now();
            };
            let result = if provider.is_offline() && decision.safety == Safety::Crisis {
                // No model to answer with: stay with the person instead of asking a GROW question.
                let reply = self.safety.offline_reply(&req.text).to_string();
                on_delta(&reply);
                Some(Ok(Completion {
                    usage: estimate_usage(&chat, &reply),
                    text: reply,
                    usage_estimated: true,
                    stop_reason: Some("end_turn".into()),
                    http_status: None,
                    first_byte_ms: Some(0),
                }))
            } else {
                tokio::select! {
                    r = stream_with_retry(provider, &chat, &self.retry, &mut on_delta, &mut on_retry) => Some(r),
                    _ = cancel.cancelled() => None,
                }
            };
            let try_ms = try_started
                .lock()
                .map(|t| t.elapsed().as_millis() as u64)
                .unwrap_or(0);
            for (err, wait, ms) in &retried {
                let note = format!("{}; retried after {} ms", err.message, wait.as_millis());
                self.record_attempt(
                    turn,
                    decision_id,
                    None,
                    &model,
                    err.class.as_str(),
                    err.status,
                    None,
                    *ms,
                    Some(note),
                    &emit,
                )?;
                self.health().record(
                    &model.id,
                    Outcome::Failure {
                        retry_after_ms: err.retry_after.map(|d| d.as_millis() as u64),
                    },
                    self.clock.now_ms() as u64,
                );
            }
            let streamed = answer.len() > prefix_len;
            match result {
                None => {
                    self.record_attempt(
                        turn,
                        decision_id,
                        assistant_id,
                        &model,
                        "cancelled",
                        None,
                        None,
                        try_ms,
                        None,
                        &emit,
                    )?;
                    let partial = answer.clone();
                    outcome = Some((
                        model.id.clone(),
                        AttemptResult::Interrupted {
                            partial,
                            reason: "stopped by you".into(),
                            usage: None,
                        },
                    ));
                    break;
                }
                Some(Ok(completion)) => {
                    self.health()
                        .record(&model.id, Outcome::Success, self.clock.now_ms() as u64);
                    self.record_attempt(
                        turn,
                        decision_id,
                        assistant_id,
                        &model,
                        "ok",
                        completion.http_status,
                        completion.first_byte_ms,
                        try_ms,
                        None,
                        &emit,
                    )?;
                    outcome = Some((model.id.clone(), AttemptResult::Answered(completion)));
                    break;
                }
                Some(Err(err)) => {
                    if counts_against_health(&err) {
                        self.health().record(
                            &model.id,
                            Outcome::Failure {
                                retry_after_ms: err.retry_after.map(|d| d.as_millis() as u64),
                            },
                            self.clock.now_ms() as u64,
                        );
                    }
                    self.record_attempt(
                        turn,
                        decision_id,
                        assistant_id,
                        &model,
                        err.class.as_str(),
                        err.status,
                        None,
                        try_ms,
                        Some(err.message.clone()),
                        &emit,
                    )?;
                    if streamed {
                        let reason =
                            format!("{} ({})", err.class.as_str().replace('_', " "), model.id);
                        outcome = Some((
                            model.id.clone(),
                            AttemptResult::Interrupted {
                                partial: answer.clone(),
                                reason,
                                usage: err.usage,
                            },
                        ));
                        break;
                    }
                    if account_wide(&err) {
                        let why = format!(
                            "{} refused the account: {}",
                            provider.name(),
                            err.class.as_str().replace('_', " ")
                        );
                        blocked.push((provider.name().to_string(), why));
                    }
                    failures.push(format!(
                        "{}: {}",
                        model.id,
                        err.class.as_str().replace('_', " ")
                    ));
                    outcome = Some((model.id.clone(), AttemptResult::Failed(err.message.clone())));
                }
            }
        }

        let (model_id, result) = outcome.ok_or_else(|| anyhow!("the fallback plan was empty"))?;
        let model = self
            .router
            .catalog()
            .get(&model_id)
            .cloned()
            .ok_or_else(|| anyhow!("model {model_id} left the catalog"))?;
        let offline = model.id == OFFLINE_MODEL;
        let (status, usage, estimated, mut notice) = match result {
            AttemptResult::Answered(c) => {
                answer = if prefix_len > 0 {
                    format!("{}{}", &answer[..prefix_len], strip(&c.text))
                } else {
                    strip(&c.text)
                };
                let notice = (!failures.is_empty()).then(|| {
                    if offline {
                        format!(
                            "No model could answer ({}) — the offline coach answered.",
                            failures.join("; ")
                        )
                    } else {
                        format!(
                            "{} answered after fallback ({}).",
                            model.id,
                            failures.join("; ")
                        )
                    }
                });
                (TurnStatus::Complete, c.usage, c.usage_estimated, notice)
            }
            AttemptResult::Interrupted {
                partial,
                reason,
                usage,
            } => {
                answer = partial;
                let usage = usage.unwrap_or_else(|| estimate_usage(&chat, &answer));
                (
                    TurnStatus::Partial,
                    usage,
                    true,
                    Some(format!(
                        "Answer interrupted: {reason}. The partial answer is kept."
                    )),
                )
            }
            AttemptResult::Failed(message) => {
                let notice = format!("No answer: {message}");
                (TurnStatus::Failed, Usage::default(), false, Some(notice))
            }
        };
        if offline && notice.is_none() && !self.providers.any_remote() {
            notice = Some("Offline coach: no API key is configured. Set ANTHROPIC_API_KEY (or enable a local endpoint) for model answers.".to_string());
        }

        let stored_status = match status {
            TurnStatus::Complete => MessageStatus::Complete,
            TurnStatus::Partial => MessageStatus::Partial,
            TurnStatus::Failed => MessageStatus::Failed,
        };
        let now = self.clock.now_ms();
        let cost = model.cost(&usage);
        let assistant_message_id = {
            let store = self.store();
            let id = match assistant_id {
                Some(id) => {
                    store.update_message(id, &answer, stored_status)?;
                    id
                }
                None => {
                    let mut msg = NewMessage::assistant(
                        conversation_id,
                        model.id.clone(),
                        answer.clone(),
                        stored_status,
                        now,
                    );
                    msg.compare_lane = compare_lane.map(i64::from);
                    msg.system_prompt_version_used = context.prompt_version;
                    store.insert_message(&msg)?
                }
            };
            if status != TurnStatus::Failed {
                let upgrade = self
                    .router
                    .catalog()
                    .get(&self.router.policy().upgrade_model);
                store.insert_usage(&NewUsage {
                    conversation_id: Some(conversation_id),
                    message_id: Some(id),
                    decision_id: Some(decision_id),
                    kind: if kind == ConversationKind::Consultation {
                        crate::store::usage_kind::PROFILE
                    } else {
                        crate::store::usage_kind::COACHING
                    }
                    .to_string(),
                    model: model.id.clone(),
                    usage,
                    cost_usd: cost,
                    // The offline coach answers when no model can: routing saved nothing there.
                    upgrade_equiv_cost_usd: if offline {
                        cost
                    } else {
                        upgrade.map_or(cost, |u| u.cost(&usage))
                    },
                    no_cache_cost_usd: model.cost_without_cache(&usage),
                    estimated,
                    created_at: now,
                })?;
            }
            id
        };
        if self.config.settings.logging.log_model_usage {
            tracing::info!(turn, model = %model.id, input = usage.input_tokens, output = usage.output_tokens,
                cache_write = usage.cache_creation_input_tokens, cache_read = usage.cache_read_input_tokens,
                cost_usd = cost, status = status.as_str(), "model usage");
        }
        if kind == ConversationKind::Chat {
            super::commitments::record_checkin(self, now);
        }
        let costs = self.cost_snapshot(conversation_id, cost + analyzer_cost)?;
        let summary = TurnSummary {
            conversation_id,
            assistant_message_id: Some(assistant_message_id),
            model: model.id.clone(),
            status,
            offline,
            usage,
            cost_usd: cost,
            costs,
            notice,
        };
        emit(Event::TurnFinished {
            turn,
            summary: summary.clone(),
        });
        Ok(summary)
    }

    fn save_partial(
        &self,
        conversation_id: i64,
        model: &str,
        text: &str,
        lane: Option<u8>,
        prompt_version: Option<i64>,
        id: &mut Option<i64>,
    ) {
        let store = self.store();
        let result = match *id {
            Some(existing) => store
                .update_message(existing, text, MessageStatus::Partial)
                .map(|_| existing),
            None => {
                let mut msg = NewMessage::assistant(
                    conversation_id,
                    model,
                    text,
                    MessageStatus::Partial,
                    self.clock.now_ms(),
                );
                msg.compare_lane = lane.map(i64::from);
                msg.system_prompt_version_used = prompt_version;
                store.insert_message(&msg)
            }
        };
        match result {
            Ok(saved) => *id = Some(saved),
            Err(e) => tracing::warn!("could not save the partial answer: {e}"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record_attempt(
        &self,
        turn: TurnId,
        decision_id: i64,
        assistant_message_id: Option<i64>,
        model: &ModelSpec,
        outcome: &str,
        http_status: Option<u16>,
        first_byte_ms: Option<u64>,
        duration_ms: u64,
        note: Option<String>,
        emit: &dyn Fn(Event),
    ) -> anyhow::Result<()> {
        let report = AttemptReport {
            model: model.id.clone(),
            provider: model.provider.to_string(),
            outcome: outcome.to_string(),
            http_status,
            first_byte_ms,
            duration_ms,
            note: note.clone(),
        };
        self.store().insert_attempt(&NewAttempt {
            decision_id,
            assistant_message_id,
            model: model.id.clone(),
            provider: model.provider.to_string(),
            outcome: outcome.to_string(),
            http_status,
            first_byte_ms,
            duration_ms,
            note,
            created_at: self.clock.now_ms(),
        })?;
        tracing::info!(turn, model = %report.model, outcome = %report.outcome, status = ?report.http_status, "attempt");
        emit(Event::AttemptFinished {
            turn,
            attempt: report,
        });
        Ok(())
    }

    /// The cost meter: this turn, the conversation, today and this month (local time).
    pub fn cost_snapshot(
        &self,
        conversation_id: i64,
        turn_cost: f64,
    ) -> anyhow::Result<CostSnapshot> {
        let now = self.clock.now_ms();
        let (day_start, month_start) = self.clock.local_day_and_month_start(now);
        let store = self.store();
        let conversation = store.conversation_costs(conversation_id)?;
        let today = store.costs_between(day_start, now + 1)?;
        let month = store.costs_between(month_start, now + 1)?;
        Ok(CostSnapshot {
            turn: turn_cost,
            conversation: conversation.cost_usd,
            today: today.cost_usd,
            month: month.cost_usd,
            month_if_all_upgrade: month.upgrade_equiv_cost_usd,
            month_cache_savings: month.cache_savings_usd(),
            monthly_budget: self.config.monthly_budget(),
        })
    }

    /// Writes a conversation to `<data dir>/exports/` and returns the file's path.
    pub fn export(
        &self,
        conversation_id: i64,
        format: ExportFormat,
    ) -> anyhow::Result<std::path::PathBuf> {
        let (text, ext) = {
            let store = self.store();
            match format {
                ExportFormat::Markdown => (store.export_markdown(Some(conversation_id))?, "md"),
                ExportFormat::Json => (store.export_json(Some(conversation_id))?, "json"),
            }
        };
        let dir = self.config.paths.data_dir.join("exports");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let path = dir.join(format!("conversation-{conversation_id}-{stamp}.{ext}"));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Runs a whole turn (begin + run) for faces that do not need the ids first.
    pub async fn send(
        &self,
        turn: TurnId,
        req: &SendRequest,
        events: &UnboundedSender<Event>,
        cancel: CancelSignal,
    ) -> anyhow::Result<TurnSummary> {
        let (conversation_id, user_message_id) = self.begin_turn(req, ConversationKind::Chat)?;
        let _ = events.send(Event::TurnStarted {
            turn,
            conversation_id,
            user_message_id,
            compare_lane: None,
        });
        self.run_turn(
            turn,
            req,
            conversation_id,
            user_message_id,
            None,
            events,
            cancel,
        )
        .await
    }
}

/// The analyzer the config asks for, when it can run; why not is logged.
fn analyzer_runner(
    config: &Config,
    providers: &ProviderSet,
    clock: &Clock,
) -> Option<Arc<AnalyzerRunner>> {
    let settings = match super::settings::resolve_analyzer(&config.settings, &config.catalog) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("analyzer off: {e}");
            return None;
        }
    };
    match AnalyzerRunner::new(settings, &config.catalog, providers, clock.clone()) {
        Ok(runner) => {
            tracing::info!(?runner, "analyzer on");
            Some(Arc::new(runner))
        }
        Err(why) => {
            tracing::info!("analyzer not running: {why}");
            None
        }
    }
}

fn strip(text: &str) -> String {
    crate::sanitize::strip_controls(text).into_owned()
}

/// Auth, bad requests and spend limits say nothing about the model's health.
fn counts_against_health(err: &ProviderError) -> bool {
    use crate::providers::ErrorClass::*;
    !matches!(err.class, Auth | BadRequest | SpendLimit | ContextTooLong)
}

/// Errors about the account rather than the model: every model of that provider would fail.
fn account_wide(err: &ProviderError) -> bool {
    use crate::providers::ErrorClass::*;
    matches!(err.class, Auth | SpendLimit)
}

fn estimate_usage(req: &ChatRequest, answer: &str) -> Usage {
    Usage {
        input_tokens: req.estimated_input_tokens(),
        output_tokens: crate::routing::tokens::estimate_tokens(answer),
        ..Usage::default()
    }
}
