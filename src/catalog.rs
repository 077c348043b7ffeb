//! The model registry: ids, providers, tiers, context windows and list prices.
//!
//! The shipped catalog is `assets/models.toml`, compiled in; a user's config may add models or
//! override fields of shipped ones. Every price used anywhere in grow comes from here.

use rustc_hash::FxHashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::source_error::{PathSeg, SourceError, nearest};
use crate::toml_path;

pub const BUILTIN_CATALOG: &str = include_str!("../assets/models.toml");
pub const BUILTIN_CATALOG_FILE: &str = "assets/models.toml";
/// The id of the built-in offline coach, the last step of every fallback plan.
pub const OFFLINE_MODEL: &str = "offline-coach";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    Anthropic,
    Openai,
    OpenaiCompatible,
    Offline,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Openai => "openai",
            ProviderKind::OpenaiCompatible => "openai-compatible",
            ProviderKind::Offline => "offline",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One model and its prices (USD per 1M tokens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub id: String,
    pub name: String,
    pub provider: ProviderKind,
    /// For `openai-compatible`: the name of the configured endpoint serving it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// 1 high capability, 2 balanced, 3 efficient.
    pub tier: u8,
    pub context_window: u64,
    pub max_output: u64,
    pub input: f64,
    pub output: f64,
    pub cache_write: f64,
    pub cache_read: f64,
    pub capability: f64,
    pub price_date: String,
    pub price_source: String,
}

/// A partial model entry from a user's config: an override of a shipped model, or a new one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelOverride {
    pub id: String,
    pub name: Option<String>,
    pub provider: Option<ProviderKind>,
    pub endpoint: Option<String>,
    pub tier: Option<u8>,
    pub context_window: Option<u64>,
    pub max_output: Option<u64>,
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_write: Option<f64>,
    pub cache_read: Option<f64>,
    pub capability: Option<f64>,
    pub price_date: Option<String>,
    pub price_source: Option<String>,
}

/// Token counts of one call, as the provider reported them (or as estimated when it did not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached input tokens.
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl Usage {
    pub fn total_input(&self) -> u64 {
        self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens
    }

    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
    }
}

impl ModelSpec {
    /// Capability per price: higher is better. Blends input and output price as a chat turn
    /// does (input-heavy), and damps price so a free local model does not beat everything.
    pub fn value_score(&self) -> f64 {
        let blended = (3.0 * self.input + self.output) / 4.0;
        self.capability / (1.0 + blended / 10.0)
    }

    /// Cost in USD of `usage` on this model, at catalog prices.
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.input_tokens as f64 * self.input
            + usage.output_tokens as f64 * self.output
            + usage.cache_creation_input_tokens as f64 * self.cache_write
            + usage.cache_read_input_tokens as f64 * self.cache_read)
            / 1_000_000.0
    }

    /// What the same tokens would have cost with no prompt caching (all input at full price).
    pub fn cost_without_cache(&self, usage: &Usage) -> f64 {
        (usage.total_input() as f64 * self.input + usage.output_tokens as f64 * self.output)
            / 1_000_000.0
    }

    /// Estimated cost of a call before it is made: input tokens at full price plus an
    /// expected output length.
    pub fn estimate_cost(&self, input_tokens: u64, expected_output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input + expected_output_tokens as f64 * self.output)
            / 1_000_000.0
    }

    pub fn is_offline(&self) -> bool {
        self.provider == ProviderKind::Offline
    }
}

#[derive(Debug, Clone)]
pub struct Catalog {
    models: Vec<ModelSpec>,
    /// Ids are the catalog's own and the config's: Fx hashing, looked up several times a
    /// decision.
    by_id: FxHashMap<String, usize>,
    /// Model indices by `value_score`, best first (ties by id): fallback plans walk this order
    /// on every decision, so it is sorted once here.
    by_value: Vec<usize>,
}

/// The catalog file's default/upgrade pair.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultPair {
    pub default: String,
    pub upgrade: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    defaults: Option<DefaultPair>,
    models: Vec<ModelSpec>,
}

/// The default/upgrade pair shipped in `assets/models.toml` (validated by the tests and at
/// start with the rest of the config; empty ids would be refused there with a clear error).
pub fn builtin_default_pair() -> DefaultPair {
    #[derive(Deserialize)]
    struct OnlyDefaults {
        defaults: DefaultPair,
    }
    toml::from_str::<OnlyDefaults>(BUILTIN_CATALOG)
        .map(|f| f.defaults)
        .unwrap_or_default()
}

fn value_order(models: &[ModelSpec]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..models.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&models[a], &models[b]);
        b.value_score()
            .total_cmp(&a.value_score())
            .then_with(|| a.id.cmp(&b.id))
    });
    order
}

impl Catalog {
    /// The catalog shipped in the binary.
    pub fn builtin() -> Result<Catalog, SourceError> {
        Catalog::parse(BUILTIN_CATALOG_FILE, BUILTIN_CATALOG)
    }

    /// Parses and validates a catalog file.
    pub fn parse(file: &str, src: &str) -> Result<Catalog, SourceError> {
        let parsed: CatalogFile =
            toml::from_str(src).map_err(|e| SourceError::from_toml(file, src, &e))?;
        for (i, model) in parsed.models.iter().enumerate() {
            validate_model(model).map_err(|(field, message)| {
                SourceError::at_path(file, src, &toml_path!["models", i, field], message, None)
            })?;
        }
        let catalog = Catalog::from_models(parsed.models);
        if let Some(pair) = &parsed.defaults {
            for (key, id) in [("default", &pair.default), ("upgrade", &pair.upgrade)] {
                if catalog.get(id).is_none() {
                    return Err(SourceError::at_path(
                        file,
                        src,
                        &toml_path!["defaults", key],
                        format!("unknown model `{id}`"),
                        Some(catalog.suggest(id)),
                    ));
                }
            }
        }
        if let Some((i, id)) = catalog.first_duplicate() {
            return Err(SourceError::at_path(
                file,
                src,
                &toml_path!["models", i, "id"],
                format!("model `{id}` is listed twice"),
                Some("remove one of the entries".into()),
            ));
        }
        Ok(catalog)
    }

    pub fn from_models(models: Vec<ModelSpec>) -> Catalog {
        let by_id = models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();
        let by_value = value_order(&models);
        Catalog {
            models,
            by_id,
            by_value,
        }
    }

    /// Every model, best `value_score` first (ties by id).
    pub fn by_value(&self) -> impl Iterator<Item = &ModelSpec> {
        self.by_value.iter().map(|&i| &self.models[i])
    }

    fn first_duplicate(&self) -> Option<(usize, &str)> {
        self.models
            .iter()
            .enumerate()
            .find(|(i, m)| self.by_id.get(&m.id) != Some(i))
            .map(|(i, m)| (i, m.id.as_str()))
    }

    /// Applies config overrides; `path_of(i)` gives the config path of override `i` for errors.
    pub fn apply_overrides(
        &mut self,
        overrides: &[ModelOverride],
        file: &str,
        src: &str,
        base_path: &[PathSeg],
    ) -> Result<(), SourceError> {
        for (i, ov) in overrides.iter().enumerate() {
            let mut path = base_path.to_vec();
            path.push(PathSeg::Index(i));
            let merged = match self.get(&ov.id) {
                Some(existing) => merge(existing.clone(), ov),
                None => new_model(ov).map_err(|field| {
                    let mut p = path.clone();
                    p.push(PathSeg::Key(field.to_string()));
                    SourceError::at_path(
                        file,
                        src,
                        &p,
                        format!("new model `{}` needs `{field}`", ov.id),
                        Some("a model not in the shipped catalog must set every field; see assets/models.toml".into()),
                    )
                })?,
            };
            validate_model(&merged).map_err(|(field, message)| {
                let mut p = path.clone();
                p.push(PathSeg::Key(field.to_string()));
                SourceError::at_path(file, src, &p, message, None)
            })?;
            match self.by_id.get(&merged.id) {
                Some(&idx) => self.models[idx] = merged,
                None => {
                    self.by_id.insert(merged.id.clone(), self.models.len());
                    self.models.push(merged);
                }
            }
        }
        self.by_value = value_order(&self.models);
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&ModelSpec> {
        self.by_id.get(id).map(|&i| &self.models[i])
    }

    pub fn models(&self) -> &[ModelSpec] {
        &self.models
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(|m| m.id.as_str())
    }

    /// The id closest to a mistyped one, for "did you mean" hints.
    pub fn nearest_id(&self, wanted: &str) -> Option<&str> {
        nearest(wanted, self.ids())
    }

    /// A "did you mean `x`?" hint for an unknown id, or the list of ids when nothing is close.
    pub fn suggest(&self, wanted: &str) -> String {
        match self.nearest_id(wanted) {
            Some(id) => format!("did you mean `{id}`? (`grow models` lists them all)"),
            None => "run `grow models` to list the catalog".to_string(),
        }
    }

    /// Cost of `usage` on `model`, or 0 when the model is unknown (e.g. a deleted override).
    pub fn cost(&self, model: &str, usage: &Usage) -> f64 {
        self.get(model).map_or(0.0, |m| m.cost(usage))
    }
}

fn validate_model(m: &ModelSpec) -> Result<(), (&'static str, String)> {
    if m.id.trim().is_empty() {
        return Err(("id", "model id is empty".into()));
    }
    if !(1..=3).contains(&m.tier) {
        return Err((
            "tier",
            format!(
                "tier {} is out of range: use 1 (high), 2 (balanced) or 3 (efficient)",
                m.tier
            ),
        ));
    }
    if !(0.0..=1.0).contains(&m.capability) {
        return Err((
            "capability",
            format!("capability {} is out of range 0..1", m.capability),
        ));
    }
    for (field, price) in [
        ("input", m.input),
        ("output", m.output),
        ("cache_write", m.cache_write),
        ("cache_read", m.cache_read),
    ] {
        if !price.is_finite() || price < 0.0 {
            return Err((
                field,
                format!("price {price} must be a non-negative number (USD per 1M tokens)"),
            ));
        }
    }
    if m.context_window == 0 {
        return Err(("context_window", "context window must be positive".into()));
    }
    if m.max_output == 0 {
        return Err(("max_output", "max output must be positive".into()));
    }
    if m.provider == ProviderKind::OpenaiCompatible && m.endpoint.is_none() {
        return Err((
            "endpoint",
            format!(
                "openai-compatible model `{}` needs `endpoint` naming an [[endpoints]] entry",
                m.id
            ),
        ));
    }
    Ok(())
}

fn merge(mut m: ModelSpec, ov: &ModelOverride) -> ModelSpec {
    macro_rules! take {
        ($($f:ident),*) => { $( if let Some(v) = &ov.$f { m.$f = v.clone(); } )* };
    }
    take!(
        name,
        provider,
        tier,
        context_window,
        max_output,
        input,
        output,
        cache_write,
        cache_read,
        capability,
        price_date,
        price_source
    );
    if ov.endpoint.is_some() {
        m.endpoint = ov.endpoint.clone();
    }
    m
}

fn new_model(ov: &ModelOverride) -> Result<ModelSpec, &'static str> {
    Ok(ModelSpec {
        id: ov.id.clone(),
        name: ov.name.clone().unwrap_or_else(|| ov.id.clone()),
        provider: ov.provider.ok_or("provider")?,
        endpoint: ov.endpoint.clone(),
        tier: ov.tier.ok_or("tier")?,
        context_window: ov.context_window.ok_or("context_window")?,
        max_output: ov.max_output.ok_or("max_output")?,
        input: ov.input.ok_or("input")?,
        output: ov.output.ok_or("output")?,
        cache_write: ov.cache_write.or(ov.input).ok_or("cache_write")?,
        cache_read: ov.cache_read.or(ov.input).ok_or("cache_read")?,
        capability: ov.capability.unwrap_or(0.5),
        price_date: ov.price_date.clone().unwrap_or_else(|| "unknown".into()),
        price_source: ov
            .price_source
            .clone()
            .unwrap_or_else(|| "user config".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_loads_with_default_pair_and_offline_coach() {
        let c = Catalog::builtin().expect("builtin catalog is valid");
        let opus = c.get("claude-opus-4-6").expect("upgrade model");
        assert_eq!((opus.input, opus.output), (5.0, 25.0));
        assert_eq!(opus.tier, 1);
        assert_eq!(c.get("claude-sonnet-4-6").map(|m| m.tier), Some(2));
        assert!(c.get(OFFLINE_MODEL).is_some_and(|m| m.is_offline()));
        for id in [
            "claude-haiku-4-5",
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
        ] {
            assert!(c.get(id).is_some(), "{id} missing");
        }
    }

    #[test]
    fn builtin_default_pair_is_in_the_catalog() {
        let c = Catalog::builtin().unwrap();
        let pair = builtin_default_pair();
        assert_eq!(c.get(&pair.default).map(|m| m.tier), Some(2));
        assert_eq!(c.get(&pair.upgrade).map(|m| m.tier), Some(1));
    }

    #[test]
    fn cost_uses_all_four_prices() {
        let c = Catalog::builtin().unwrap();
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            cache_creation_input_tokens: 1_000_000,
            cache_read_input_tokens: 1_000_000,
        };
        // sonnet 4.6: 3 + 15 + 3.75 + 0.30
        assert!((c.cost("claude-sonnet-4-6", &usage) - 22.05).abs() < 1e-9);
        let small = Usage {
            input_tokens: 1200,
            output_tokens: 300,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 5000,
        };
        // opus 4.6: 1200*5 + 300*25 + 5000*0.5 = 6000 + 7500 + 2500 = 16000 / 1e6
        assert!((c.cost("claude-opus-4-6", &small) - 0.016).abs() < 1e-12);
        let m = c.get("claude-opus-4-6").unwrap();
        // without cache: 6200*5 + 300*25 = 31000 + 7500 = 38500 / 1e6
        assert!((m.cost_without_cache(&small) - 0.0385).abs() < 1e-12);
    }

    #[test]
    fn rejects_out_of_range_tier_with_location() {
        let src = BUILTIN_CATALOG.replacen("tier = 1", "tier = 7", 1);
        let err = Catalog::parse("models.toml", &src).unwrap_err();
        assert_eq!(err.key, "models[0].tier");
        assert!(
            err.message.contains("tier 7 is out of range"),
            "{}",
            err.message
        );
        assert!(err.line > 1);
    }

    #[test]
    fn rejects_duplicates_and_unknown_fields() {
        let dup = format!(
            "{BUILTIN_CATALOG}\n[[models]]\nid = \"gpt-4o\"\nname = \"x\"\nprovider = \"openai\"\ntier = 2\ncontext_window = 1\nmax_output = 1\ninput = 1.0\noutput = 1.0\ncache_write = 1.0\ncache_read = 1.0\ncapability = 0.5\nprice_date = \"x\"\nprice_source = \"x\"\n"
        );
        let err = Catalog::parse("m.toml", &dup).unwrap_err();
        assert!(err.message.contains("listed twice"));
        let unknown = "[[models]]\nid = \"a\"\nprise = 1\n";
        let err = Catalog::parse("m.toml", unknown).unwrap_err();
        assert!(
            err.message.contains("unknown field `prise`"),
            "{}",
            err.message
        );
        assert_eq!(err.line, 3);
    }

    #[test]
    fn overrides_change_prices_and_add_models() {
        let mut c = Catalog::builtin().unwrap();
        let ov = vec![
            ModelOverride {
                id: "gpt-4o".into(),
                input: Some(1.0),
                ..Default::default()
            },
            ModelOverride {
                id: "my-local".into(),
                provider: Some(ProviderKind::OpenaiCompatible),
                endpoint: Some("lab".into()),
                tier: Some(3),
                context_window: Some(8192),
                max_output: Some(1024),
                input: Some(0.0),
                output: Some(0.0),
                ..Default::default()
            },
        ];
        c.apply_overrides(&ov, "c.toml", "", &toml_path!["catalog", "models"])
            .unwrap();
        assert_eq!(c.get("gpt-4o").map(|m| m.input), Some(1.0));
        assert_eq!(c.get("my-local").map(|m| m.tier), Some(3));
    }
}
