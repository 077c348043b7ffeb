//! The routing core: signals, selector, fallback plan, model health. Pure and synchronous:
//! no I/O, no clock reads (time is passed in as milliseconds), no globals.

pub mod analyzer;
pub mod crisis_model;
pub mod health;
pub mod lexicon;
pub mod plan;
pub mod router;
pub mod scripts;
pub mod selector;
pub mod signals;
pub mod types;

/// The token estimate lives at the bottom layer (providers use it too).
pub use crate::tokens;
