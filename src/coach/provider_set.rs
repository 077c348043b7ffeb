//! The providers this person can use, built once from config and keys.
//!
//! A model is usable when its provider has a key (Anthropic, OpenAI) or its endpoint is
//! enabled (OpenAI-compatible); the offline coach always is. Models that are not usable are
//! kept out of fallback plans, and a decision that chose one says why it was skipped.

use rustc_hash::FxHashSet;
use std::collections::HashMap;
use std::time::Duration;

use crate::catalog::{Catalog, ModelSpec, ProviderKind};
use crate::config::Config;
use crate::providers::{
    AnthropicClient, AnthropicConfig, OfflineCoach, OpenAiCompatClient, OpenAiCompatConfig,
    OutputLimitField, Provider, Timeouts,
};

use super::keys::{self, KeyOrigin};

#[derive(Debug, Clone)]
pub struct ProviderSet {
    anthropic: Result<Provider, String>,
    openai: Result<Provider, String>,
    endpoints: HashMap<String, Result<Provider, String>>,
    offline: Provider,
    /// Where each provider's key came from, for diagnostics (never the key itself).
    pub key_origins: Vec<(String, KeyOrigin)>,
}

fn timeouts(config: &Config) -> Timeouts {
    let t = &config.settings.timeouts;
    Timeouts {
        connect: Duration::from_secs(t.connect_secs),
        first_byte: Duration::from_secs(t.first_byte_secs),
        idle: Duration::from_secs(t.idle_secs),
    }
}

impl ProviderSet {
    /// Resolves keys (env, key command, config) and builds one client per provider.
    pub fn from_config(
        config: &Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<ProviderSet> {
        let s = &config.settings;
        let offline = Provider::Offline(OfflineCoach::embedded()?);
        let mut key_origins = Vec::new();

        let anthropic = match keys::resolve(s.anthropic.key_source(), env)? {
            Some((key, origin)) => {
                key_origins.push(("anthropic".to_string(), origin));
                AnthropicClient::new(AnthropicConfig {
                    base_url: s.anthropic.base_url.clone(),
                    api_key: key,
                    version: s.anthropic.version.clone(),
                    timeouts: timeouts(config),
                })
                .map(Provider::Anthropic)
                .map_err(|e| e.to_string())
            }
            None => Err(format!(
                "no Anthropic key (set {})",
                key_hint(&s.anthropic.api_key_env)
            )),
        };
        let openai = match keys::resolve(s.openai.key_source(), env)? {
            Some((key, origin)) => {
                key_origins.push(("openai".to_string(), origin));
                OpenAiCompatClient::new(OpenAiCompatConfig {
                    name: "openai".into(),
                    base_url: s.openai.base_url.clone(),
                    api_key: Some(key),
                    timeouts: timeouts(config),
                    output_limit: OutputLimitField::MaxCompletionTokens,
                })
                .map(Provider::OpenAiCompat)
                .map_err(|e| e.to_string())
            }
            None => Err(format!(
                "no OpenAI key (set {})",
                key_hint(&s.openai.api_key_env)
            )),
        };
        let mut endpoints = HashMap::new();
        for e in &s.endpoints {
            let client = if !e.enabled {
                Err(format!(
                    "endpoint `{}` is disabled (set enabled = true in [[endpoints]])",
                    e.name
                ))
            } else {
                let key = keys::resolve(e.key_source(), env)?.map(|(k, origin)| {
                    key_origins.push((e.name.clone(), origin));
                    k
                });
                OpenAiCompatClient::new(OpenAiCompatConfig {
                    name: e.name.clone(),
                    base_url: e.base_url.clone(),
                    api_key: key,
                    timeouts: timeouts(config),
                    output_limit: OutputLimitField::MaxTokens,
                })
                .map(Provider::OpenAiCompat)
                .map_err(|e| e.to_string())
            };
            endpoints.insert(e.name.clone(), client);
        }
        Ok(ProviderSet {
            anthropic,
            openai,
            endpoints,
            offline,
            key_origins,
        })
    }

    /// A set with only the offline coach (tests, and `grow route`, which calls nothing).
    pub fn offline_only() -> anyhow::Result<ProviderSet> {
        Ok(ProviderSet {
            anthropic: Err("no Anthropic key".into()),
            openai: Err("no OpenAI key".into()),
            endpoints: HashMap::new(),
            offline: Provider::Offline(OfflineCoach::embedded()?),
            key_origins: Vec::new(),
        })
    }

    /// Replaces a provider (tests point clients at local fake servers).
    pub fn with_anthropic(mut self, provider: Provider) -> Self {
        self.anthropic = Ok(provider);
        self
    }

    pub fn with_openai(mut self, provider: Provider) -> Self {
        self.openai = Ok(provider);
        self
    }

    /// The provider serving `model`, or why there is none.
    pub fn for_model(&self, model: &ModelSpec) -> Result<&Provider, String> {
        let found = match model.provider {
            ProviderKind::Anthropic => self.anthropic.as_ref(),
            ProviderKind::Openai => self.openai.as_ref(),
            ProviderKind::Offline => Ok(&self.offline),
            ProviderKind::OpenaiCompatible => {
                let name = model.endpoint.as_deref().unwrap_or("");
                match self.endpoints.get(name) {
                    Some(p) => p.as_ref(),
                    None => return Err(format!("endpoint `{name}` is not configured")),
                }
            }
        };
        found.map_err(Clone::clone)
    }

    /// Models no configured provider can serve: kept out of fallback plans.
    pub fn unusable_models(&self, catalog: &Catalog) -> FxHashSet<String> {
        catalog
            .models()
            .iter()
            .filter(|m| self.for_model(m).is_err())
            .map(|m| m.id.clone())
            .collect()
    }

    /// True when at least one remote provider is usable.
    pub fn any_remote(&self) -> bool {
        self.anthropic.is_ok() || self.openai.is_ok() || self.endpoints.values().any(Result::is_ok)
    }
}

fn key_hint(env: &str) -> String {
    if env.is_empty() {
        "api_key_env or api_key_command in the config".to_string()
    } else {
        env.to_string()
    }
}
