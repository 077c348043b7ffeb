//! The coach: one turn end to end, prompts, consultation, profile, behaviour.

pub mod analyzer_cache;
pub mod api;
pub mod interactions;
pub mod reload;
pub mod templates;
