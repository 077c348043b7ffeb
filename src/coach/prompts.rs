//! The system prompt and call settings of a coaching turn, from the live interaction
//! configuration (hot-reloaded) and the person's personalised prompt when one exists.

use std::sync::Arc;

use chrono::Local;

use crate::config::Config;

use super::interactions::{Interaction, UserTier};
use super::reload::{LiveInteractions, Prepared, ReloadSources};
use super::safety::is_mostly_cjk;
use super::templates::PromptContext;

pub struct Prompts {
    live: Arc<LiveInteractions>,
    tier: UserTier,
    name: Option<String>,
}

impl Prompts {
    /// Loads interactions and templates; an invalid user file is an error here (at start),
    /// while later invalid edits keep the last good configuration (see `reload`).
    pub fn load(config: &Config) -> anyhow::Result<Prompts> {
        let sources = ReloadSources {
            config_file: config
                .paths
                .config_file_exists
                .then(|| config.paths.config_file.clone()),
            prompts_dir: config
                .paths
                .prompts_dir
                .exists()
                .then(|| config.paths.prompts_dir.clone()),
        };
        let live = LiveInteractions::new(Arc::new(config.catalog.clone()), sources)?;
        Ok(Prompts::new(Arc::new(live), config))
    }

    pub fn new(live: Arc<LiveInteractions>, config: &Config) -> Prompts {
        let tier = config
            .settings
            .user
            .tier
            .parse()
            .unwrap_or(UserTier::Standard);
        let name = Some(config.settings.user.name.clone()).filter(|n| !n.is_empty());
        Prompts { live, tier, name }
    }

    pub fn live(&self) -> &Arc<LiveInteractions> {
        &self.live
    }

    pub fn tier(&self) -> UserTier {
        self.tier
    }

    /// The context every template gets: language of the message, today's date, name.
    pub fn context(&self, message: &str) -> PromptContext {
        let language = if is_mostly_cjk(message) { "zh" } else { "en" };
        let ctx = PromptContext::new(language, Local::now().date_naive());
        match &self.name {
            Some(name) => ctx.with_name(name.clone()),
            None => ctx,
        }
    }

    /// Settings and system prompt for a coaching answer to `message`.
    pub fn coaching(
        &self,
        message: &str,
        personal_prompt: Option<&str>,
    ) -> anyhow::Result<Prepared> {
        let ctx = self.context(message);
        Ok(self
            .live
            .current()
            .prepare_coaching(self.tier, &ctx, personal_prompt)?)
    }

    /// Settings and prompt for any other interaction, with extra template parameters.
    pub fn prepare(
        &self,
        interaction: Interaction,
        ctx: &PromptContext,
    ) -> anyhow::Result<Prepared> {
        Ok(self.live.current().prepare(interaction, self.tier, ctx)?)
    }
}
