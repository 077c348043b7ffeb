//! The router: the deterministic detectors plus the selector behind one call.

use std::sync::Arc;

use crate::catalog::Catalog;

use super::health::HealthBook;
use super::lexicon::Lexicon;
use super::selector::{self, Findings, RouteError, RouteInput, RoutingPolicy};
use super::signals::detect;
use super::tokens::estimate_tokens;
use super::types::{RouteDecision, Signal, SignalContext, SignalOrigin};

/// Cheap to clone: the catalog and lexicon are shared.
#[derive(Debug, Clone)]
pub struct Router {
    catalog: Arc<Catalog>,
    lexicon: Arc<Lexicon>,
    policy: RoutingPolicy,
}

impl Router {
    pub fn new(catalog: Arc<Catalog>, lexicon: Arc<Lexicon>, policy: RoutingPolicy) -> Router {
        Router {
            catalog,
            lexicon,
            policy,
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn policy(&self) -> &RoutingPolicy {
        &self.policy
    }

    /// The deterministic signals for a message in its context.
    pub fn detect(&self, input: &RouteInput<'_>) -> Vec<Signal> {
        detect(
            &self.lexicon,
            &SignalContext {
                message: input.message,
                prior_turns: input.prior_turns,
                escalation_risk: input.escalation_risk,
                long_context_turns: self.policy.long_context_turns,
            },
        )
    }

    /// Routes on the deterministic detectors alone.
    pub fn decide(
        &self,
        input: &RouteInput<'_>,
        health: &HealthBook,
    ) -> Result<RouteDecision, RouteError> {
        let signals = self.detect(input);
        self.decide_with(input, signals, SignalOrigin::Deterministic, health)
    }

    /// Routes on signals found elsewhere (e.g. merged with the analyzer's verdict).
    pub fn decide_with(
        &self,
        input: &RouteInput<'_>,
        signals: Vec<Signal>,
        origin: SignalOrigin,
        health: &HealthBook,
    ) -> Result<RouteDecision, RouteError> {
        let findings = Findings {
            signals,
            origin,
            message_tokens: estimate_tokens(input.message),
        };
        selector::select(&self.catalog, &self.policy, input, findings, health)
    }
}
