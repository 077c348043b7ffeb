//! Interactions: every kind of model call grow makes, and which model, prompt template and
//! settings serve it for each user tier.
//!
//! No model id lives in code. `assets/interactions.toml` (compiled in) gives each interaction a
//! `default` entry and optional `free` / `standard` / `premium` entries; the user's config file
//! overrides them field by field under `[interactions]`. Resolution for (interaction, tier) is
//! tier entry → default entry → a built-in safe entry (`route` + the interaction's own
//! template), and every step down is logged and counted.
//!
//! Everything is validated and merged once at load into a fixed table, so `resolve` — called on
//! every turn — is an array lookup plus a few relaxed atomic increments.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize, Serializer};

use crate::catalog::{Catalog, ModelSpec, ProviderKind};
use crate::coach::templates::Templates;
use crate::source_error::{PathSeg, SourceError, nearest};

pub const BUILTIN_INTERACTIONS: &str = include_str!("../../assets/interactions.toml");
pub const BUILTIN_INTERACTIONS_FILE: &str = "assets/interactions.toml";

/// The word in an entry's `model` field that hands the choice to the routing core.
pub const ROUTE: &str = "route";

/// The table of the user's config file that overrides the shipped interactions.
pub const USER_SECTION: &str = "interactions";

/// Upper bound for `temperature`: the widest range any supported provider accepts.
pub const MAX_TEMPERATURE: f64 = 2.0;

/// Every kind of model call grow makes. The code (`as_code`) is the key in config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Interaction {
    /// A coaching answer in a conversation: the main chat turn, with the generic GROW prompt
    /// or the person's personalised one.
    CoachingResponse,
    /// The analyzer ("LLM #1"): scores the latest message as JSON (seven signal scores,
    /// escalation risk, crisis, GROW stage, topic, rationale) to inform routing.
    SignalAnalysis,
    /// A turn of the intake consultation that learns the person's goals, situation, history,
    /// values, preferred coaching style and language.
    Consultation,
    /// Writes the ~200-word conversational profile from a finished consultation.
    ProfileGeneration,
    /// Writes the 500–800-word personalised coaching system prompt (prompt version 1).
    PersonaGeneration,
    /// Revises the personalised system prompt after behaviour metrics changed enough.
    PersonaUpdate,
    /// Summarises a finished coaching session for later review.
    SessionSummary,
    /// Names a conversation in six words or fewer for the review list.
    SessionTitle,
    /// Pulls the commitments (GROW "will" step) out of a conversation as JSON.
    CommitmentExtraction,
}

impl Interaction {
    pub const ALL: [Interaction; 9] = [
        Interaction::CoachingResponse,
        Interaction::SignalAnalysis,
        Interaction::Consultation,
        Interaction::ProfileGeneration,
        Interaction::PersonaGeneration,
        Interaction::PersonaUpdate,
        Interaction::SessionSummary,
        Interaction::SessionTitle,
        Interaction::CommitmentExtraction,
    ];

    pub fn as_code(self) -> &'static str {
        match self {
            Interaction::CoachingResponse => "COACHING_RESPONSE",
            Interaction::SignalAnalysis => "SIGNAL_ANALYSIS",
            Interaction::Consultation => "CONSULTATION",
            Interaction::ProfileGeneration => "PROFILE_GENERATION",
            Interaction::PersonaGeneration => "PERSONA_GENERATION",
            Interaction::PersonaUpdate => "PERSONA_UPDATE",
            Interaction::SessionSummary => "SESSION_SUMMARY",
            Interaction::SessionTitle => "SESSION_TITLE",
            Interaction::CommitmentExtraction => "COMMITMENT_EXTRACTION",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The template the built-in safe entry uses (and the natural template of the call).
    pub fn builtin_template(self) -> &'static str {
        match self {
            Interaction::CoachingResponse => "coaching_system",
            Interaction::SignalAnalysis => "signal_analysis",
            Interaction::Consultation => "consultation",
            Interaction::ProfileGeneration => "profile_generation",
            Interaction::PersonaGeneration => "persona_generation",
            Interaction::PersonaUpdate => "persona_update",
            Interaction::SessionSummary => "session_summary",
            Interaction::SessionTitle => "session_title",
            Interaction::CommitmentExtraction => "commitment_extraction",
        }
    }

    /// The last-resort entry when neither the shipped file nor the user's config has one.
    /// Always `route`, so no model id is needed here; numbers are conservative.
    fn builtin_settings(self) -> (f32, u32) {
        match self {
            Interaction::CoachingResponse => (0.7, 800),
            Interaction::SignalAnalysis => (0.0, 400),
            Interaction::Consultation => (0.6, 600),
            Interaction::ProfileGeneration => (0.4, 600),
            Interaction::PersonaGeneration | Interaction::PersonaUpdate => (0.5, 2000),
            Interaction::SessionSummary => (0.3, 500),
            Interaction::SessionTitle => (0.2, 32),
            Interaction::CommitmentExtraction => (0.0, 500),
        }
    }

    fn builtin_resolved(self) -> Resolved {
        let (temperature, max_tokens) = self.builtin_settings();
        Resolved {
            model: ModelChoice::Route,
            template: self.builtin_template().to_string(),
            temperature,
            max_tokens,
            source: ResolvedFrom::BuiltIn,
        }
    }
}

impl fmt::Display for Interaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_code())
    }
}

/// An unknown interaction code or tier name, with the nearest valid one when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{given}`{}", suggestion_suffix(.suggestion))]
pub struct UnknownName {
    pub what: &'static str,
    pub given: String,
    pub suggestion: Option<&'static str>,
}

fn suggestion_suffix(s: &Option<&'static str>) -> String {
    s.map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

impl FromStr for Interaction {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Interaction::ALL
            .into_iter()
            .find(|i| i.as_code() == s)
            .ok_or_else(|| UnknownName {
                what: "interaction",
                given: s.to_string(),
                suggestion: nearest(s, Interaction::ALL.map(Interaction::as_code)),
            })
    }
}

/// The person's plan, a profile setting. Decides which per-tier entries apply.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum UserTier {
    Free,
    /// A profile with no tier set is treated as standard.
    #[default]
    Standard,
    Premium,
}

impl UserTier {
    pub const ALL: [UserTier; 3] = [UserTier::Free, UserTier::Standard, UserTier::Premium];

    pub fn as_str(self) -> &'static str {
        match self {
            UserTier::Free => "free",
            UserTier::Standard => "standard",
            UserTier::Premium => "premium",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for UserTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UserTier {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UserTier::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "tier",
                given: s.to_string(),
                suggestion: nearest(s, UserTier::ALL.map(UserTier::as_str)),
            })
    }
}

/// Which model serves a call: the routing core's pick, or a fixed catalog model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// Let `routing::Router` choose (signals, tiers, budget, fallback plan).
    Route,
    /// A catalog model id, validated at load.
    Model(String),
}

impl ModelChoice {
    pub fn as_str(&self) -> &str {
        match self {
            ModelChoice::Route => ROUTE,
            ModelChoice::Model(id) => id,
        }
    }
}

impl fmt::Display for ModelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ModelChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Which step of the resolution chain answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolvedFrom {
    /// An entry for the person's tier.
    Tier,
    /// No entry for the tier: the interaction's `default` entry.
    Default,
    /// No entry at all for the interaction: the built-in safe entry (`route`).
    BuiltIn,
}

impl ResolvedFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolvedFrom::Tier => "tier",
            ResolvedFrom::Default => "default",
            ResolvedFrom::BuiltIn => "built_in",
        }
    }
}

/// The settings for one call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved {
    pub model: ModelChoice,
    pub template: String,
    pub temperature: f32,
    pub max_tokens: u32,
    pub source: ResolvedFrom,
}

impl Resolved {
    /// `max_tokens` clamped to what `model` can produce. With `route` the limit was checked
    /// against the largest output in the catalog, so the chosen model may allow less.
    pub fn max_tokens_for(&self, model: &ModelSpec) -> u32 {
        let limit = u32::try_from(model.max_output).unwrap_or(u32::MAX);
        self.max_tokens.min(limit).max(1)
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics (shared across reloads, so counts survive a config edit)

/// Latency histogram with power-of-two nanosecond buckets: recording is one relaxed add.
#[derive(Debug)]
pub(crate) struct LatencyHistogram {
    buckets: [AtomicU64; 40],
    count: AtomicU64,
    total_ns: AtomicU64,
    max_ns: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            total_ns: AtomicU64::new(0),
            max_ns: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    pub(crate) fn record(&self, ns: u64) {
        let bucket = (64 - ns.leading_zeros() as usize).min(self.buckets.len() - 1);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_ns.fetch_add(ns, Ordering::Relaxed);
        self.max_ns.fetch_max(ns, Ordering::Relaxed);
    }

    /// Upper bound of the bucket holding quantile `q` (0..1).
    fn quantile(&self, q: f64, count: u64) -> u64 {
        if count == 0 {
            return 0;
        }
        let rank = ((count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                return if i == 0 { 0 } else { (1u64 << i) - 1 };
            }
        }
        self.max_ns.load(Ordering::Relaxed)
    }

    pub(crate) fn summary(&self) -> LatencySummary {
        let count = self.count.load(Ordering::Relaxed);
        let total = self.total_ns.load(Ordering::Relaxed);
        LatencySummary {
            count,
            mean_ns: total.checked_div(count).unwrap_or(0),
            p50_ns_at_most: self.quantile(0.5, count),
            p99_ns_at_most: self.quantile(0.99, count),
            max_ns: self.max_ns.load(Ordering::Relaxed),
        }
    }
}

/// Lookup latency. Percentiles are bucket upper bounds (powers of two), hence "at most".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ns: u64,
    pub p50_ns_at_most: u64,
    pub p99_ns_at_most: u64,
    pub max_ns: u64,
}

/// Counters of `resolve`, shared by every registry a `LiveInteractions` builds.
#[derive(Debug, Default)]
pub struct ResolveStats {
    resolutions: AtomicU64,
    /// `[interaction][0]` fell back to default, `[interaction][1]` to the built-in entry.
    fallbacks: [[AtomicU64; 2]; 9],
    latency: LatencyHistogram,
}

/// How often one interaction fell back, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FallbackCounts {
    /// No entry for the tier: the default entry served.
    pub to_default: u64,
    /// No entry at all: the built-in `route` entry served.
    pub to_builtin: u64,
}

/// A copy of the resolve counters for diagnostics.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ResolveDiagnostics {
    pub resolutions: u64,
    pub lookup_latency: LatencySummary,
    pub fallbacks: FallbackCounts,
    /// Only interactions that fell back at least once.
    pub fallbacks_by_interaction: BTreeMap<&'static str, FallbackCounts>,
}

impl ResolveStats {
    pub fn snapshot(&self) -> ResolveDiagnostics {
        let mut total = FallbackCounts::default();
        let mut by_interaction = BTreeMap::new();
        for i in Interaction::ALL {
            let c = FallbackCounts {
                to_default: self.fallbacks[i.index()][0].load(Ordering::Relaxed),
                to_builtin: self.fallbacks[i.index()][1].load(Ordering::Relaxed),
            };
            total.to_default += c.to_default;
            total.to_builtin += c.to_builtin;
            if c != FallbackCounts::default() {
                by_interaction.insert(i.as_code(), c);
            }
        }
        ResolveDiagnostics {
            resolutions: self.resolutions.load(Ordering::Relaxed),
            lookup_latency: self.latency.summary(),
            fallbacks: total,
            fallbacks_by_interaction: by_interaction,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The registry

/// The validated, merged interaction table.
#[derive(Debug, Clone)]
pub struct InteractionRegistry {
    /// `[interaction][tier]`, fully merged at load.
    table: Vec<[Resolved; 3]>,
    stats: Arc<ResolveStats>,
}

impl InteractionRegistry {
    /// The shipped table overridden by the user's config (`(file name, file text)`), validated
    /// against `catalog` and `templates`.
    pub fn load(
        catalog: &Catalog,
        templates: &Templates,
        user: Option<(&str, &str)>,
    ) -> Result<InteractionRegistry, SourceError> {
        Self::load_with_stats(catalog, templates, user, Arc::default())
    }

    pub(crate) fn load_with_stats(
        catalog: &Catalog,
        templates: &Templates,
        user: Option<(&str, &str)>,
        stats: Arc<ResolveStats>,
    ) -> Result<InteractionRegistry, SourceError> {
        Self::check_with_stats(
            catalog,
            templates,
            (BUILTIN_INTERACTIONS_FILE, BUILTIN_INTERACTIONS),
            user,
            stats,
        )
        .map_err(first_error)
    }

    /// Like `load` with a different base file instead of the shipped one (tests, tools).
    pub fn from_sources(
        catalog: &Catalog,
        templates: &Templates,
        base: (&str, &str),
        user: Option<(&str, &str)>,
    ) -> Result<InteractionRegistry, SourceError> {
        Self::check_with_stats(catalog, templates, base, user, Arc::default()).map_err(first_error)
    }

    /// Validates everything and returns every problem found, in file order (for
    /// `grow config check`, which should list them all at once).
    pub fn check(
        catalog: &Catalog,
        templates: &Templates,
        user: Option<(&str, &str)>,
    ) -> Result<InteractionRegistry, Vec<SourceError>> {
        Self::check_with_stats(
            catalog,
            templates,
            (BUILTIN_INTERACTIONS_FILE, BUILTIN_INTERACTIONS),
            user,
            Arc::default(),
        )
    }

    fn check_with_stats(
        catalog: &Catalog,
        templates: &Templates,
        base: (&str, &str),
        user: Option<(&str, &str)>,
        stats: Arc<ResolveStats>,
    ) -> Result<InteractionRegistry, Vec<SourceError>> {
        let checker = Checker { catalog, templates };
        let mut errors = Vec::new();
        let mut layers = Vec::with_capacity(2);
        match parse_layer(base.0, base.1, None, &checker) {
            Ok((layer, errs)) => {
                layers.push(layer);
                errors.extend(errs);
            }
            Err(e) => errors.push(e),
        }
        if let Some((file, src)) = user {
            match parse_layer(file, src, Some(USER_SECTION), &checker) {
                Ok((layer, errs)) => {
                    layers.push(layer);
                    errors.extend(errs);
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(in_file_order(errors, base.0));
        }
        let mut table = Vec::with_capacity(Interaction::ALL.len());
        for interaction in Interaction::ALL {
            // The default entry on its own first, so a problem written there is reported as
            // the default entry's before the tiers that inherit it.
            if let Err(e) = merge(&layers, interaction, None, &checker) {
                errors.push(e);
            }
            let mut row = Vec::with_capacity(3);
            for tier in UserTier::ALL {
                match merge(&layers, interaction, Some(tier), &checker) {
                    Ok(r) => row.push(r),
                    Err(e) => errors.push(e),
                }
            }
            if let Ok(row) = <[Resolved; 3]>::try_from(row) {
                table.push(row);
            }
        }
        if !errors.is_empty() {
            return Err(in_file_order(errors, base.0));
        }
        for interaction in Interaction::ALL {
            for tier in UserTier::ALL {
                let r = &table[interaction.index()][tier.index()];
                if r.source != ResolvedFrom::Tier {
                    tracing::debug!(
                        interaction = interaction.as_code(),
                        tier = tier.as_str(),
                        source = r.source.as_str(),
                        model = %r.model,
                        "interaction resolves through a fallback"
                    );
                }
            }
        }
        Ok(InteractionRegistry { table, stats })
    }

    /// The settings for one call. Tier entry → default entry → built-in entry; each step down
    /// is logged (debug) and counted.
    pub fn resolve(&self, interaction: Interaction, tier: UserTier) -> Resolved {
        let started = Instant::now();
        let resolved = self.table[interaction.index()][tier.index()].clone();
        self.stats.resolutions.fetch_add(1, Ordering::Relaxed);
        let fallback = match resolved.source {
            ResolvedFrom::Tier => None,
            ResolvedFrom::Default => Some(0),
            ResolvedFrom::BuiltIn => Some(1),
        };
        if let Some(kind) = fallback {
            self.stats.fallbacks[interaction.index()][kind].fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                interaction = interaction.as_code(),
                tier = tier.as_str(),
                source = resolved.source.as_str(),
                "interaction fell back"
            );
        }
        let elapsed = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats.latency.record(elapsed);
        resolved
    }

    /// Every (interaction, tier) with its effective settings, without touching the counters.
    pub fn entries(&self) -> impl Iterator<Item = (Interaction, UserTier, &Resolved)> {
        Interaction::ALL.into_iter().flat_map(move |i| {
            UserTier::ALL
                .into_iter()
                .map(move |t| (i, t, &self.table[i.index()][t.index()]))
        })
    }

    pub fn stats(&self) -> ResolveDiagnostics {
        self.stats.snapshot()
    }
}

/// Base file first, then the user's file, each top to bottom; one report per spot.
fn in_file_order(mut errors: Vec<SourceError>, base_file: &str) -> Vec<SourceError> {
    errors.sort_by(|a, b| {
        (a.file != base_file, a.line, a.column).cmp(&(b.file != base_file, b.line, b.column))
    });
    errors.dedup();
    errors
}

fn first_error(mut errors: Vec<SourceError>) -> SourceError {
    // `check_with_stats` never fails with an empty list; this keeps the function total.
    if errors.is_empty() {
        return SourceError::at_path("", "", &[], "invalid interaction configuration", None);
    }
    errors.swap_remove(0)
}

// ---------------------------------------------------------------------------------------------
// Parsing and merging

/// Entry keys, in the order they are documented.
const ENTRY_KEYS: [&str; 4] = ["model", "template", "temperature", "max_tokens"];
const TIER_KEYS: [&str; 4] = ["default", "free", "standard", "premium"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TierKey {
    Default,
    Tier(UserTier),
}

impl TierKey {
    fn parse(s: &str) -> Option<TierKey> {
        if s == "default" {
            return Some(TierKey::Default);
        }
        s.parse().ok().map(TierKey::Tier)
    }

    fn slot(self) -> usize {
        match self {
            TierKey::Default => 0,
            TierKey::Tier(t) => t.index() + 1,
        }
    }
}

/// Where a field was written: file, source text and TOML path, for errors found after merging.
#[derive(Debug, Clone)]
struct Origin<'a> {
    file: &'a str,
    src: &'a str,
    path: Vec<PathSeg>,
    /// Written in the user's config (which they can edit) rather than the shipped file.
    from_user: bool,
}

impl Origin<'_> {
    /// The tier table the field was written in (`default`, `free`, …).
    fn tier_name(&self) -> Option<&str> {
        match self
            .path
            .len()
            .checked_sub(2)
            .and_then(|i| self.path.get(i))
        {
            Some(PathSeg::Key(k)) => Some(k.as_str()),
            _ => None,
        }
    }

    fn error(&self, message: String, hint: Option<String>) -> SourceError {
        SourceError::at_path(self.file, self.src, &self.path, message, hint)
    }
}

#[derive(Debug, Clone, Default)]
struct PartialEntry<'a> {
    model: Option<(ModelChoice, Origin<'a>)>,
    template: Option<String>,
    temperature: Option<f32>,
    max_tokens: Option<(u32, Origin<'a>)>,
}

/// One file's entries: `[interaction][default, free, standard, premium]`.
struct Layer<'a> {
    entries: Vec<[Option<PartialEntry<'a>>; 4]>,
}

struct Checker<'c> {
    catalog: &'c Catalog,
    templates: &'c Templates,
}

impl Checker<'_> {
    /// The largest output any network model can produce: the ceiling for `route` entries.
    fn route_max_output(&self) -> u64 {
        self.catalog
            .models()
            .iter()
            .filter(|m| m.provider != ProviderKind::Offline)
            .map(|m| m.max_output)
            .max()
            .unwrap_or(1)
    }
}

fn location(interaction: &str, tier: &str) -> String {
    format!("(interaction {interaction}, tier {tier})")
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses one file: the whole document (`section: None`, the shipped file) or one top-level
/// table of it (`Some("interactions")`, the user's config). A TOML syntax error is fatal for
/// the file; problems in entries are collected.
fn parse_layer<'a>(
    file: &'a str,
    src: &'a str,
    section: Option<&str>,
    checker: &Checker<'_>,
) -> Result<(Layer<'a>, Vec<SourceError>), SourceError> {
    let root: toml::Table =
        toml::from_str(src).map_err(|e| SourceError::from_toml(file, src, &e))?;
    let mut layer = Layer {
        entries: vec![Default::default(); Interaction::ALL.len()],
    };
    let mut errors = Vec::new();
    let prefix: Vec<PathSeg> = section.map(PathSeg::from).into_iter().collect();
    let at = |segs: &[&str]| -> Vec<PathSeg> {
        let mut p = prefix.clone();
        p.extend(segs.iter().map(|s| PathSeg::from(*s)));
        p
    };
    let table = match section {
        None => &root,
        Some(name) => match root.get(name) {
            None => return Ok((layer, errors)),
            Some(toml::Value::Table(t)) => t,
            Some(other) => {
                let message = format!(
                    "`{name}` must be a table of interactions, found {}",
                    type_name(other)
                );
                let hint = Some(format!(
                    "write entries as [{name}.COACHING_RESPONSE.default] with `model`, `template`, `temperature`, `max_tokens`"
                ));
                return Err(SourceError::at_path(file, src, &prefix, message, hint));
            }
        },
    };
    for (code, tiers) in table {
        let Ok(interaction) = code.parse::<Interaction>() else {
            let hint = match nearest(code, Interaction::ALL.map(Interaction::as_code)) {
                Some(n) => format!("did you mean `{n}`?"),
                None => format!(
                    "interactions are {}",
                    quoted_list(&Interaction::ALL.map(Interaction::as_code))
                ),
            };
            errors.push(SourceError::at_path(
                file,
                src,
                &at(&[code]),
                format!("unknown interaction `{code}`"),
                Some(hint),
            ));
            continue;
        };
        let toml::Value::Table(tiers) = tiers else {
            errors.push(SourceError::at_path(
                file,
                src,
                &at(&[code]),
                format!(
                    "interaction {code} must be a table of tiers ({}), found {}",
                    quoted_list(&TIER_KEYS),
                    type_name(tiers)
                ),
                None,
            ));
            continue;
        };
        for (tier_name, entry) in tiers {
            let Some(tier) = TierKey::parse(tier_name) else {
                let hint = match nearest(tier_name, TIER_KEYS) {
                    Some(n) => format!("did you mean `{n}`? tiers are {}", quoted_list(&TIER_KEYS)),
                    None => format!("tiers are {}", quoted_list(&TIER_KEYS)),
                };
                errors.push(SourceError::at_path(
                    file,
                    src,
                    &at(&[code, tier_name]),
                    format!("unknown tier `{tier_name}` (interaction {code})"),
                    Some(hint),
                ));
                continue;
            };
            let toml::Value::Table(entry) = entry else {
                errors.push(SourceError::at_path(
                    file,
                    src,
                    &at(&[code, tier_name]),
                    format!(
                        "entry must be a table with {}, found {} {}",
                        quoted_list(&ENTRY_KEYS),
                        type_name(entry),
                        location(code, tier_name)
                    ),
                    None,
                ));
                continue;
            };
            let mut parsed = PartialEntry::default();
            for (key, value) in entry {
                let origin = Origin {
                    file,
                    src,
                    path: at(&[code, tier_name, key]),
                    from_user: section.is_some(),
                };
                if let Err(e) =
                    parse_field(&mut parsed, key, value, origin, code, tier_name, checker)
                {
                    errors.push(e);
                }
            }
            layer.entries[interaction.index()][tier.slot()] = Some(parsed);
        }
    }
    Ok((layer, errors))
}

fn parse_field<'a>(
    entry: &mut PartialEntry<'a>,
    key: &str,
    value: &toml::Value,
    origin: Origin<'a>,
    code: &str,
    tier: &str,
    checker: &Checker<'_>,
) -> Result<(), SourceError> {
    let wrong_type = |expected: &str| {
        origin.error(
            format!(
                "`{key}` must be {expected}, found {} {}",
                type_name(value),
                location(code, tier)
            ),
            None,
        )
    };
    match key {
        "model" => {
            let toml::Value::String(id) = value else {
                return Err(wrong_type("a string (a catalog model id or \"route\")"));
            };
            let choice = if id == ROUTE {
                ModelChoice::Route
            } else if checker.catalog.get(id).is_some() {
                ModelChoice::Model(id.clone())
            } else {
                return Err(origin.error(
                    format!("unknown model `{id}` {}", location(code, tier)),
                    Some(format!(
                        "{}; or \"route\" to let the router choose",
                        checker.catalog.suggest(id)
                    )),
                ));
            };
            entry.model = Some((choice, origin));
        }
        "template" => {
            let toml::Value::String(id) = value else {
                return Err(wrong_type("a string (a template id)"));
            };
            if !checker.templates.contains(id) {
                let hint = match checker.templates.nearest_id(id) {
                    Some(n) => format!(
                        "did you mean `{n}`? templates are the .j2 files in assets/prompts/ and your prompts directory"
                    ),
                    None => format!(
                        "templates are {}",
                        quoted_list(&checker.templates.ids().collect::<Vec<_>>())
                    ),
                };
                return Err(origin.error(
                    format!("unknown template `{id}` {}", location(code, tier)),
                    Some(hint),
                ));
            }
            entry.template = Some(id.clone());
        }
        "temperature" => {
            let t = match value {
                toml::Value::Float(f) => *f,
                toml::Value::Integer(i) => *i as f64,
                _ => return Err(wrong_type("a number")),
            };
            if !(0.0..=MAX_TEMPERATURE).contains(&t) {
                return Err(origin.error(
                    format!(
                        "temperature {t} is out of range 0..=2 {}",
                        location(code, tier)
                    ),
                    Some("0 is the most predictable, 1 the provider default; coaching works well around 0.7".into()),
                ));
            }
            entry.temperature = Some(t as f32);
        }
        "max_tokens" => {
            let toml::Value::Integer(n) = value else {
                return Err(wrong_type("an integer"));
            };
            let n = match u32::try_from(*n) {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(origin.error(
                        format!("max_tokens {n} must be at least 1 {}", location(code, tier)),
                        None,
                    ));
                }
            };
            entry.max_tokens = Some((n, origin));
        }
        other => {
            let hint = match nearest(other, ENTRY_KEYS) {
                Some(n) => format!("did you mean `{n}`? keys are {}", quoted_list(&ENTRY_KEYS)),
                None => format!("keys are {}", quoted_list(&ENTRY_KEYS)),
            };
            return Err(origin.error(
                format!("unknown key `{other}` {}", location(code, tier)),
                Some(hint),
            ));
        }
    }
    Ok(())
}

/// Overlays `top` onto `base` field by field.
fn overlay<'a>(
    base: Option<&PartialEntry<'a>>,
    top: Option<&PartialEntry<'a>>,
) -> Option<PartialEntry<'a>> {
    match (base, top) {
        (None, None) => None,
        (Some(b), None) => Some(b.clone()),
        (None, Some(t)) => Some(t.clone()),
        (Some(b), Some(t)) => Some(PartialEntry {
            model: t.model.clone().or_else(|| b.model.clone()),
            template: t.template.clone().or_else(|| b.template.clone()),
            temperature: t.temperature.or(b.temperature),
            max_tokens: t.max_tokens.clone().or_else(|| b.max_tokens.clone()),
        }),
    }
}

fn merged_slot<'a>(
    layers: &[Layer<'a>],
    interaction: Interaction,
    slot: usize,
) -> Option<PartialEntry<'a>> {
    layers.iter().fold(None, |acc, layer| {
        overlay(
            acc.as_ref(),
            layer.entries[interaction.index()][slot].as_ref(),
        )
    })
}

/// The effective entry for `tier`, or for the default entry alone when `tier` is `None`.
fn merge(
    layers: &[Layer<'_>],
    interaction: Interaction,
    tier: Option<UserTier>,
    checker: &Checker<'_>,
) -> Result<Resolved, SourceError> {
    let tier_entry = tier.and_then(|t| merged_slot(layers, interaction, TierKey::Tier(t).slot()));
    let default_entry = merged_slot(layers, interaction, TierKey::Default.slot());
    let source = if tier_entry.is_some() {
        ResolvedFrom::Tier
    } else if default_entry.is_some() {
        ResolvedFrom::Default
    } else {
        ResolvedFrom::BuiltIn
    };
    let entry = overlay(default_entry.as_ref(), tier_entry.as_ref()).unwrap_or_default();
    let builtin = interaction.builtin_resolved();
    let (model, model_origin) = match entry.model {
        Some((m, o)) => (m, Some(o)),
        None => (builtin.model, None),
    };
    let (max_tokens, tokens_origin) = match entry.max_tokens {
        Some((n, o)) => (n, Some(o)),
        None => (builtin.max_tokens, None),
    };
    let (limit, limit_of) = match &model {
        ModelChoice::Route => (
            checker.route_max_output(),
            "the largest output of any catalog model, since the router may pick any".to_string(),
        ),
        ModelChoice::Model(id) => (
            checker.catalog.get(id).map_or(u64::MAX, |m| m.max_output),
            format!("the output limit of `{id}`"),
        ),
    };
    if u64::from(max_tokens) > limit {
        // A tier without an entry of its own is the default entry: name it so.
        let tier_label = match (tier, &tier_entry) {
            (Some(t), Some(_)) => t.as_str(),
            _ => "default",
        };
        // Point at the field the person can change: their own over the shipped one, and
        // max_tokens over model when both are theirs.
        let blamed = match (&tokens_origin, &model_origin) {
            (Some(t), Some(m)) if m.from_user && !t.from_user => Some(("model", m)),
            (Some(t), _) => Some(("max_tokens", t)),
            (None, Some(m)) => Some(("model", m)),
            (None, None) => None,
        };
        let mut place = format!("interaction {}, tier {tier_label}", interaction.as_code());
        if let Some((field, origin)) = blamed
            && let Some(written_in) = origin.tier_name()
            && written_in != tier_label
        {
            place.push_str(&format!(", {field} from the `{written_in}` entry"));
        }
        let message =
            format!("max_tokens {max_tokens} is out of range 1..={limit}, {limit_of} ({place})");
        let hint = Some(format!(
            "lower max_tokens to at most {limit} or choose another model"
        ));
        let err = match blamed {
            Some((_, origin)) => origin.error(message, hint),
            None => SourceError::at_path(BUILTIN_INTERACTIONS_FILE, "", &[], message, hint),
        };
        return Err(err);
    }
    Ok(Resolved {
        model,
        template: entry.template.unwrap_or(builtin.template),
        temperature: entry.temperature.unwrap_or(builtin.temperature),
        max_tokens,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_suggest() {
        for i in Interaction::ALL {
            assert_eq!(i.as_code().parse::<Interaction>(), Ok(i));
        }
        let err = "SESSION_TITEL".parse::<Interaction>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown interaction `SESSION_TITEL` (did you mean `SESSION_TITLE`?)"
        );
        for t in UserTier::ALL {
            assert_eq!(t.as_str().parse::<UserTier>(), Ok(t));
        }
        assert_eq!(
            "Premium".parse::<UserTier>().unwrap_err().to_string(),
            "unknown tier `Premium` (did you mean `premium`?)"
        );
    }

    #[test]
    fn serde_names_match_the_codes() {
        for i in Interaction::ALL {
            assert_eq!(serde_json::to_value(i).unwrap(), i.as_code());
            let back: Interaction = serde_json::from_value(i.as_code().into()).unwrap();
            assert_eq!(back, i);
        }
        for t in UserTier::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn histogram_quantiles_are_bucket_bounds() {
        let h = LatencyHistogram::default();
        for ns in [100, 120, 130, 5000] {
            h.record(ns);
        }
        let s = h.summary();
        assert_eq!(s.count, 4);
        assert_eq!(s.p50_ns_at_most, 127);
        assert_eq!(s.p99_ns_at_most, 8191);
        assert_eq!(s.max_ns, 5000);
        assert_eq!(s.mean_ns, (100 + 120 + 130 + 5000) / 4);
    }
}
