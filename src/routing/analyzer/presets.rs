//! Analyzer presets (`assets/analyzer_presets.toml`) and the `[analyzer]` config section.
//!
//! A preset bundles the analyzer model, its time budget, retries, cache and circuit breaker;
//! `off` keeps routing purely deterministic. The config picks a preset and may override any
//! field; [`AnalyzerSettings::resolve`] checks the result against the catalog.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

use super::merge::MergePolicy;
use crate::catalog::Catalog;
use crate::routing::health::HealthPolicy;
use crate::source_error::{PathSeg, SourceError, nearest};
use crate::toml_path;

pub const BUILTIN_PRESETS: &str = include_str!("../../../assets/analyzer_presets.toml");
pub const BUILTIN_PRESETS_FILE: &str = "assets/analyzer_presets.toml";

/// Presets every presets file must define, in the order they are listed.
pub const REQUIRED_PRESETS: [&str; 5] = ["off", "fast", "cheap", "balanced", "reliable"];

pub const DEFAULT_BUDGET_MS: u64 = 1_500;
pub const DEFAULT_RETRIES: u32 = 1;
pub const DEFAULT_CACHE: bool = true;
pub const DEFAULT_CACHE_SIZE: usize = 1_024;
pub const DEFAULT_CONTEXT_TURNS: usize = 4;
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
pub const DEFAULT_COOLDOWN_SECS: u64 = 30;

const BUDGET_MS: (u64, u64) = (100, 30_000);
const RETRIES: (u32, u32) = (0, 1);
const CACHE_SIZE: (usize, usize) = (1, 1_000_000);
const CONTEXT_TURNS: (usize, usize) = (0, 20);
const FAILURE_THRESHOLD: (u32, u32) = (1, 100);
const COOLDOWN_SECS: (u64, u64) = (1, 3_600);

/// One preset, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preset {
    pub name: String,
    pub description: String,
    /// The analyzer model; `None` for a preset that runs no analyzer (`off`).
    pub model: Option<String>,
    pub budget_ms: u64,
    pub retries: u32,
    pub cache: bool,
    pub cache_size: usize,
    pub context_turns: usize,
    pub failure_threshold: u32,
    pub cooldown_secs: u64,
}

/// The validated presets file.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzerPresets {
    default: String,
    merge: MergePolicy,
    presets: Vec<Preset>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetsFile {
    default: String,
    merge: MergePolicy,
    presets: BTreeMap<String, PresetEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetEntry {
    description: String,
    #[serde(default = "yes")]
    enabled: bool,
    model: Option<String>,
    budget_ms: Option<u64>,
    retries: Option<u32>,
    cache: Option<bool>,
    cache_size: Option<usize>,
    context_turns: Option<usize>,
    failure_threshold: Option<u32>,
    cooldown_secs: Option<u64>,
}

fn yes() -> bool {
    true
}

/// A field that failed a check: its key, what is wrong, how to fix it.
struct Invalid {
    field: &'static str,
    message: String,
    hint: Option<String>,
}

impl Invalid {
    fn new(field: &'static str, message: String, hint: Option<String>) -> Self {
        Invalid {
            field,
            message,
            hint,
        }
    }
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    field: &'static str,
    value: T,
    (lo, hi): (T, T),
    unit: &str,
) -> Result<(), Invalid> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("{value} is out of range {lo}..={hi} ({unit})"),
            Some(format!("set a value between {lo} and {hi}")),
        ))
    }
}

fn check_model(model: &str, catalog: &Catalog) -> Result<(), Invalid> {
    match catalog.get(model) {
        None => Err(Invalid::new(
            "model",
            format!("unknown model `{model}`"),
            Some(catalog.suggest(model)),
        )),
        Some(spec) if spec.is_offline() => Err(Invalid::new(
            "model",
            format!("`{model}` is the offline coach and cannot analyze messages"),
            Some("pick a small, cheap online model (tier 3 in `grow models`)".into()),
        )),
        Some(_) => Ok(()),
    }
}

/// The range checks shared by the presets file and config overrides.
fn check_preset(p: &Preset, catalog: &Catalog) -> Result<(), Invalid> {
    if let Some(model) = &p.model {
        check_model(model, catalog)?;
    }
    in_range("budget_ms", p.budget_ms, BUDGET_MS, "milliseconds")?;
    in_range(
        "retries",
        p.retries,
        RETRIES,
        "the analyzer is retried at most once",
    )?;
    in_range("cache_size", p.cache_size, CACHE_SIZE, "verdicts")?;
    in_range("context_turns", p.context_turns, CONTEXT_TURNS, "turns")?;
    in_range(
        "failure_threshold",
        p.failure_threshold,
        FAILURE_THRESHOLD,
        "consecutive failures",
    )?;
    in_range("cooldown_secs", p.cooldown_secs, COOLDOWN_SECS, "seconds")?;
    Ok(())
}

fn check_merge(m: &MergePolicy) -> Result<(), Invalid> {
    for (field, value, lo) in [
        ("lower_below_confidence", m.lower_below_confidence, 0.0),
        ("min_analyzer_score", m.min_analyzer_score, 0.0),
        ("crisis_floor", m.crisis_floor, 0.5),
        ("escalation_medium", m.escalation_medium, 0.0),
        ("escalation_high", m.escalation_high, 0.0),
    ] {
        if !value.is_finite() {
            return Err(Invalid::new(
                field,
                format!("{value} is not a number"),
                None,
            ));
        }
        in_range(field, value, (lo, 1.0), "signal score")?;
    }
    if m.lower_below_confidence > m.min_analyzer_score {
        return Err(Invalid::new(
            "lower_below_confidence",
            format!(
                "{} is above min_analyzer_score {}: the analyzer could lower a signal it would itself report",
                m.lower_below_confidence, m.min_analyzer_score
            ),
            Some("keep lower_below_confidence at or below min_analyzer_score".into()),
        ));
    }
    Ok(())
}

fn order_key(name: &str) -> (usize, &str) {
    let rank = REQUIRED_PRESETS
        .iter()
        .position(|&r| r == name)
        .unwrap_or(REQUIRED_PRESETS.len());
    (rank, name)
}

impl AnalyzerPresets {
    /// The shipped presets, checked against the shipped catalog.
    pub fn builtin() -> Result<AnalyzerPresets, SourceError> {
        AnalyzerPresets::parse(BUILTIN_PRESETS_FILE, BUILTIN_PRESETS, &Catalog::builtin()?)
    }

    /// Parses and validates a presets file; every error names file, line and key.
    pub fn parse(file: &str, src: &str, catalog: &Catalog) -> Result<AnalyzerPresets, SourceError> {
        let parsed: PresetsFile =
            toml::from_str(src).map_err(|e| SourceError::from_toml(file, src, &e))?;
        let at = |path: &[PathSeg], inv: Invalid| {
            SourceError::at_path(file, src, path, inv.message, inv.hint)
        };
        check_merge(&parsed.merge).map_err(|inv| at(&toml_path!["merge", inv.field], inv))?;

        let mut presets = Vec::with_capacity(parsed.presets.len());
        for (name, entry) in parsed.presets {
            let preset = preset_of(&name, entry)
                .map_err(|inv| at(&toml_path!["presets", name.as_str(), inv.field], inv))?;
            check_preset(&preset, catalog)
                .map_err(|inv| at(&toml_path!["presets", name.as_str(), inv.field], inv))?;
            presets.push(preset);
        }
        presets.sort_by(|a, b| order_key(&a.name).cmp(&order_key(&b.name)));

        for required in REQUIRED_PRESETS {
            if !presets.iter().any(|p| p.name == required) {
                return Err(SourceError::at_path(
                    file,
                    src,
                    &toml_path!["presets"],
                    format!("preset `{required}` is missing"),
                    Some(format!("add a [presets.{required}] table")),
                ));
            }
        }
        if !presets.iter().any(|p| p.name == parsed.default) {
            let hint = nearest(&parsed.default, presets.iter().map(|p| p.name.as_str()))
                .map(|n| format!("did you mean `{n}`?"));
            return Err(SourceError::at_path(
                file,
                src,
                &toml_path!["default"],
                format!("unknown preset `{}`", parsed.default),
                hint,
            ));
        }
        Ok(AnalyzerPresets {
            default: parsed.default,
            merge: parsed.merge,
            presets,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Preset> {
        self.presets.iter().find(|p| p.name == name)
    }

    /// All presets: the required ones in their fixed order, then any others by name.
    pub fn presets(&self) -> &[Preset] {
        &self.presets
    }

    /// The preset used when the config names none.
    pub fn default_preset(&self) -> &str {
        &self.default
    }

    pub fn merge_policy(&self) -> MergePolicy {
        self.merge
    }
}

fn preset_of(name: &str, e: PresetEntry) -> Result<Preset, Invalid> {
    let model = match (e.enabled, e.model) {
        (true, Some(model)) => Some(model),
        (true, None) => {
            return Err(Invalid::new(
                "model",
                format!("preset `{name}` needs a `model`"),
                Some("name a catalog id, or set `enabled = false`".into()),
            ));
        }
        (false, Some(_)) => {
            return Err(Invalid::new(
                "model",
                format!("preset `{name}` is disabled and runs no model"),
                Some("remove `model`, or remove `enabled = false`".into()),
            ));
        }
        (false, None) => None,
    };
    Ok(Preset {
        name: name.to_string(),
        description: e.description,
        model,
        budget_ms: e.budget_ms.unwrap_or(DEFAULT_BUDGET_MS),
        retries: e.retries.unwrap_or(DEFAULT_RETRIES),
        cache: e.cache.unwrap_or(DEFAULT_CACHE),
        cache_size: e.cache_size.unwrap_or(DEFAULT_CACHE_SIZE),
        context_turns: e.context_turns.unwrap_or(DEFAULT_CONTEXT_TURNS),
        failure_threshold: e.failure_threshold.unwrap_or(DEFAULT_FAILURE_THRESHOLD),
        cooldown_secs: e.cooldown_secs.unwrap_or(DEFAULT_COOLDOWN_SECS),
    })
}

/// The `[analyzer]` config section is defined with the settings (bottom layer).
pub use crate::config::sections::AnalyzerSettings;

/// A bad `[analyzer]` value. `field` is the key inside `[analyzer]`; [`Self::locate`] turns
/// it into a file:line error against the config text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`analyzer.{field}`: {message}")]
pub struct SettingsError {
    pub field: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl SettingsError {
    fn from_invalid(inv: Invalid) -> Self {
        SettingsError {
            field: inv.field,
            message: inv.message,
            hint: inv.hint,
        }
    }

    /// The error located in the config file it came from.
    pub fn locate(&self, file: &str, src: &str) -> SourceError {
        SourceError::at_path(
            file,
            src,
            &toml_path!["analyzer", self.field],
            self.message.clone(),
            self.hint.clone(),
        )
    }
}

/// The analyzer settings in effect: a preset with the config's overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedAnalyzer {
    pub preset: String,
    /// `None`: the analyzer is off and routing is purely deterministic.
    pub model: Option<String>,
    pub budget_ms: u64,
    pub retries: u32,
    /// `None`: no cache.
    pub cache_size: Option<NonZeroUsize>,
    pub context_turns: usize,
    pub failure_threshold: u32,
    pub cooldown_ms: u64,
    pub merge: MergePolicy,
}

impl ResolvedAnalyzer {
    pub fn is_enabled(&self) -> bool {
        self.model.is_some()
    }

    /// The circuit breaker's policy, for a `HealthBook` keyed by
    /// [`super::ANALYZER_HEALTH_KEY`]. Failures count until a success resets them (no time
    /// window): the circuit opens after `failure_threshold` consecutive failures.
    pub fn health_policy(&self) -> HealthPolicy {
        HealthPolicy {
            failure_threshold: self.failure_threshold,
            window_ms: u64::MAX,
            cooldown_ms: self.cooldown_ms,
            max_retry_after_ms: HealthPolicy::default().max_retry_after_ms,
        }
    }
}

impl AnalyzerSettings {
    /// Applies the overrides to the chosen preset and checks the result against `catalog`
    /// (the catalog in effect, with the user's models).
    pub fn resolve(
        &self,
        presets: &AnalyzerPresets,
        catalog: &Catalog,
    ) -> Result<ResolvedAnalyzer, SettingsError> {
        let name = self.preset.as_deref().unwrap_or(presets.default_preset());
        let Some(base) = presets.get(name) else {
            let names = presets.presets().iter().map(|p| p.name.as_str());
            let hint = match nearest(name, names.clone()) {
                Some(n) => format!("did you mean `{n}`?"),
                None => format!("use one of: {}", names.collect::<Vec<_>>().join(", ")),
            };
            return Err(SettingsError {
                field: "preset",
                message: format!("unknown analyzer preset `{name}`"),
                hint: Some(hint),
            });
        };
        if base.model.is_none() && self.model.is_some() {
            return Err(SettingsError {
                field: "model",
                message: format!("preset `{name}` runs no analyzer, so it takes no model"),
                hint: Some(
                    "remove `model`, or pick a preset such as `balanced` and keep the override"
                        .into(),
                ),
            });
        }
        let p = Preset {
            name: base.name.clone(),
            description: base.description.clone(),
            model: self.model.clone().or_else(|| base.model.clone()),
            budget_ms: self.budget_ms.unwrap_or(base.budget_ms),
            retries: self.retries.unwrap_or(base.retries),
            cache: self.cache.unwrap_or(base.cache),
            cache_size: self.cache_size.unwrap_or(base.cache_size),
            context_turns: self.context_turns.unwrap_or(base.context_turns),
            failure_threshold: self.failure_threshold.unwrap_or(base.failure_threshold),
            cooldown_secs: self.cooldown_secs.unwrap_or(base.cooldown_secs),
        };
        check_preset(&p, catalog).map_err(SettingsError::from_invalid)?;
        let mut merge = presets.merge_policy();
        if let Some(v) = self.lower_below_confidence {
            merge.lower_below_confidence = v;
        }
        if let Some(v) = self.min_analyzer_score {
            merge.min_analyzer_score = v;
        }
        check_merge(&merge).map_err(SettingsError::from_invalid)?;
        Ok(ResolvedAnalyzer {
            preset: p.name,
            model: p.model,
            budget_ms: p.budget_ms,
            retries: p.retries,
            cache_size: NonZeroUsize::new(p.cache_size).filter(|_| p.cache),
            context_turns: p.context_turns,
            failure_threshold: p.failure_threshold,
            cooldown_ms: p.cooldown_secs.saturating_mul(1_000),
            merge,
        })
    }
}
