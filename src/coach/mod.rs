//! The coach: one turn end to end, prompts, consultation, profile, behaviour.

pub mod api;
pub mod behaviour;
