//! One model call for an interaction other than the coaching turn (profile and prompt
//! generation, titles, summaries, commitment extraction): settings and template from the
//! interaction config, the model fixed there or chosen by the router, retries and a
//! same-tier/lower-tier fallback, usage and cost recorded. No offline coach here: it cannot
//! write a profile, so when every model fails the caller gets a clear error.

use std::time::Instant;

use anyhow::{Context, anyhow};

use crate::catalog::Usage;
use crate::providers::{ChatMessage, ChatRequest, stream_with_retry};
use crate::routing::health::Outcome;
use crate::routing::plan::{self, PlanInputs};
use crate::routing::selector::RouteInput;
use crate::routing::types::PlanRole;
use crate::store::NewUsage;

use super::engine::Coach;
use super::interactions::{Interaction, ModelChoice};
use super::templates::PromptContext;

/// What a one-shot call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct OneShot {
    pub text: String,
    pub model: String,
    pub usage: Usage,
    pub cost_usd: f64,
    /// The models that failed before one answered, with why.
    pub failures: Vec<String>,
}

impl Coach {
    /// Runs `interaction` with the template rendered from `ctx` as the system prompt and
    /// `messages` as the conversation. `usage_kind` names the call in the usage table
    /// (`grow::store::usage_kind`).
    pub async fn run_interaction(
        &self,
        interaction: Interaction,
        ctx: &PromptContext,
        messages: Vec<ChatMessage>,
        conversation_id: Option<i64>,
        usage_kind: &str,
    ) -> anyhow::Result<OneShot> {
        let prepared = self.prompts().prepare(interaction, ctx)?;
        let catalog = self.router().catalog();
        let last_user = messages
            .iter()
            .rev()
            .find(|m| m.role == crate::providers::Role::User);
        let primary_id = match &prepared.resolved.model {
            ModelChoice::Model(id) => id.clone(),
            ModelChoice::Route => {
                let input = RouteInput {
                    message: last_user.map_or("", |m| m.content.as_str()),
                    system_tokens: crate::routing::tokens::estimate_tokens(&prepared.system_prompt),
                    now_ms: self.now_ms() as u64,
                    ..RouteInput::default()
                };
                self.with_health(|h| self.router().decide(&input, h))?.model
            }
        };
        let primary = catalog
            .get(&primary_id)
            .cloned()
            .ok_or_else(|| anyhow!("{interaction}: model `{primary_id}` is not in the catalog"))?;
        let needed = crate::routing::tokens::estimate_tokens(&prepared.system_prompt)
            + messages
                .iter()
                .map(|m| crate::routing::tokens::estimate_tokens(&m.content))
                .sum::<u64>();
        let steps = self.with_health(|health| {
            plan::build(&PlanInputs {
                catalog,
                primary: &primary,
                needed_tokens: needed,
                budget_margin: self.router().policy().budget_margin,
                excluded: &self.router().policy().excluded,
                health,
                now_ms: self.now_ms() as u64,
            })
            .steps
        });

        let mut failures = Vec::new();
        for step in steps.iter().filter(|s| s.role != PlanRole::Offline) {
            let Some(model) = catalog.get(&step.model) else {
                continue;
            };
            let provider = match self.provider_for(model) {
                Ok(p) => p,
                Err(why) => {
                    failures.push(format!("{}: {why}", model.id));
                    continue;
                }
            };
            let req = ChatRequest {
                model: model.id.clone(),
                system: prepared.system_prompt.clone(),
                messages: super::history::alternate(messages.clone()),
                max_tokens: prepared.resolved.max_tokens_for(model),
                temperature: Some(prepared.resolved.temperature),
                cache_prompt: false,
                structured: None,
            };
            let started = Instant::now();
            let mut sink = |_: &str| {};
            let mut on_retry = |e: &crate::providers::ProviderError, _| {
                tracing::info!(%interaction, model = %model.id, class = e.class.as_str(), "retrying");
            };
            match stream_with_retry(
                provider,
                &req,
                self.retry_policy(),
                &mut sink,
                &mut on_retry,
            )
            .await
            {
                Ok(done) => {
                    self.with_health_mut(|h| {
                        h.record(&model.id, Outcome::Success, self.now_ms() as u64)
                    });
                    let cost = model.cost(&done.usage);
                    self.with_store(|s| {
                        s.insert_usage(&NewUsage {
                            conversation_id,
                            message_id: None,
                            decision_id: None,
                            kind: usage_kind.to_string(),
                            model: model.id.clone(),
                            usage: done.usage,
                            cost_usd: cost,
                            // An all-upgrade setup makes this call too, on the upgrade model.
                            upgrade_equiv_cost_usd: self
                                .router()
                                .catalog()
                                .get(&self.router().policy().upgrade_model)
                                .map_or(cost, |u| u.cost(&done.usage)),
                            no_cache_cost_usd: model.cost_without_cache(&done.usage),
                            estimated: done.usage_estimated,
                            created_at: self.now_ms(),
                        })
                    })
                    .context("recording usage")?;
                    tracing::info!(%interaction, model = %model.id, ms = started.elapsed().as_millis() as u64, cost_usd = cost, "interaction answered");
                    return Ok(OneShot {
                        text: crate::sanitize::strip_controls(&done.text).into_owned(),
                        model: model.id.clone(),
                        usage: done.usage,
                        cost_usd: cost,
                        failures,
                    });
                }
                Err(err) => {
                    self.with_health_mut(|h| {
                        h.record(
                            &model.id,
                            Outcome::Failure {
                                retry_after_ms: err.retry_after.map(|d| d.as_millis() as u64),
                            },
                            self.now_ms() as u64,
                        )
                    });
                    failures.push(format!(
                        "{}: {}",
                        model.id,
                        err.class.as_str().replace('_', " ")
                    ));
                }
            }
        }
        Err(anyhow!(
            "{interaction}: no model could answer ({})",
            if failures.is_empty() {
                "no usable model".to_string()
            } else {
                failures.join("; ")
            }
        ))
    }
}
