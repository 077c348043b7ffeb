//! grow: a terminal coaching client that routes every message to the model that fits the moment.
//!
//! Layers point down only: `tui`/`cli` → `coach` → {`routing`, `providers`, `store`} →
//! `config`/`catalog`. `routing` is pure and synchronous.

pub mod catalog;
pub mod cli;
pub mod coach;
pub mod config;
pub mod logging;
pub mod providers;
pub mod routing;
pub mod sanitize;
pub mod source_error;
pub mod store;
pub mod tokens;
pub mod tui;
