//! Clear statements of suicidal intent or self-harm are never missed: every intent with every
//! act of `tests/data/crisis_statements.toml`, and every whole statement there, is a crisis
//! decision in English, in Simplified Chinese and in Traditional Chinese.
//!
//! The labelled sets measure how well the detectors generalise; this grid states the floor
//! that no lexicon or model change may break, whatever it gains elsewhere.

use std::sync::Arc;

use grow::catalog::Catalog;
use grow::routing::health::{HealthBook, HealthPolicy};
use grow::routing::lexicon::Lexicon;
use grow::routing::router::Router;
use grow::routing::selector::{RouteInput, RoutingPolicy};
use grow::routing::types::Safety;
use serde::Deserialize;

const STATEMENTS: &str = include_str!("data/crisis_statements.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Statements {
    en: Language,
    zh: Language,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Language {
    intents: Vec<String>,
    acts: Vec<String>,
    statements: Vec<String>,
}

impl Language {
    /// Every intent with every act, then the whole statements.
    fn messages(&self, join: &str) -> Vec<String> {
        let grid = self
            .intents
            .iter()
            .flat_map(|i| self.acts.iter().map(move |a| format!("{i}{join}{a}")));
        grid.chain(self.statements.iter().cloned()).collect()
    }
}

fn statements() -> Statements {
    toml::from_str(STATEMENTS).unwrap_or_else(|e| panic!("crisis_statements.toml: {e}"))
}

/// The messages that do not come out as a crisis decision.
fn missed(messages: &[String]) -> Vec<String> {
    let catalog = Catalog::builtin().unwrap_or_else(|e| panic!("{e}"));
    let lexicon = Lexicon::builtin().unwrap_or_else(|e| panic!("{e}"));
    let router = Router::new(
        Arc::new(catalog),
        Arc::new(lexicon),
        RoutingPolicy::default(),
    );
    let health = HealthBook::new(HealthPolicy::default());
    messages
        .iter()
        .filter(|message| {
            let input = RouteInput {
                message,
                ..RouteInput::default()
            };
            let decision = router
                .decide(&input, &health)
                .unwrap_or_else(|e| panic!("{message}: {e}"));
            decision.safety != Safety::Crisis || !decision.upgraded
        })
        .cloned()
        .collect()
}

#[test]
fn english_statements_are_crises() {
    let messages = statements().en.messages(" ");
    assert!(messages.len() > 250);
    assert_eq!(missed(&messages), Vec::<String>::new());
}

#[test]
fn simplified_chinese_statements_are_crises() {
    let messages = statements().zh.messages("");
    assert!(messages.len() > 250);
    assert_eq!(missed(&messages), Vec::<String>::new());
}

#[test]
fn traditional_chinese_statements_are_crises() {
    let messages: Vec<String> = statements()
        .zh
        .messages("")
        .iter()
        .map(hanconv::s2t)
        .collect();
    // The conversion must have changed something, or this test would repeat the one above.
    assert!(messages.iter().any(|m| m.contains("殺")));
    assert_eq!(missed(&messages), Vec::<String>::new());
}
