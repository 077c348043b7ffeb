//! The coach: one turn end to end, prompts, consultation, profile, behaviour.

pub mod analyzer;
pub mod analyzer_cache;
pub mod api;
pub mod behaviour;
pub mod clock;
pub mod commitments;
pub mod consultation;
pub mod engine;
pub mod history;
pub mod interactions;
pub mod jobs;
pub mod keys;
pub mod oneshot;
pub mod profile;
pub mod prompts;
pub mod provider_set;
pub mod reload;
pub mod safety;
pub mod settings;
pub mod templates;
pub mod worker;
