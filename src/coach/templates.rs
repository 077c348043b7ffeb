//! Prompt templates: Jinja2 syntax (minijinja), compiled once, strict about missing parameters.
//!
//! The shipped templates are `assets/prompts/*.j2`, compiled into the binary. A person may put
//! their own `.j2` files in a prompts directory: a file whose stem matches a shipped id replaces
//! it, a new stem adds a template that interactions can name. Every template is compiled when
//! the set is built, so a syntax error is reported at load (file, line) and a render only reuses
//! the compiled form.
//!
//! Undefined values are errors (`UndefinedBehavior::Strict`): a prompt silently missing the
//! person's profile or the text it was meant to revise is worse than a clear failure.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};
use serde::Serialize;

use crate::source_error::{SourceError, nearest};

/// Where the shipped templates live in the source tree (for error messages).
pub const BUILTIN_PROMPTS_DIR: &str = "assets/prompts";

/// A template file larger than this is refused: prompts are text, not data dumps.
pub const MAX_TEMPLATE_BYTES: u64 = 256 * 1024;

const BUILTIN: [(&str, &str); 10] = [
    (
        "coaching_system",
        include_str!("../../assets/prompts/coaching_system.j2"),
    ),
    (
        "coaching_personal",
        include_str!("../../assets/prompts/coaching_personal.j2"),
    ),
    (
        "signal_analysis",
        include_str!("../../assets/prompts/signal_analysis.j2"),
    ),
    (
        "consultation",
        include_str!("../../assets/prompts/consultation.j2"),
    ),
    (
        "profile_generation",
        include_str!("../../assets/prompts/profile_generation.j2"),
    ),
    (
        "persona_generation",
        include_str!("../../assets/prompts/persona_generation.j2"),
    ),
    (
        "persona_update",
        include_str!("../../assets/prompts/persona_update.j2"),
    ),
    (
        "session_summary",
        include_str!("../../assets/prompts/session_summary.j2"),
    ),
    (
        "session_title",
        include_str!("../../assets/prompts/session_title.j2"),
    ),
    (
        "commitment_extraction",
        include_str!("../../assets/prompts/commitment_extraction.j2"),
    ),
];

/// The template that wraps a person's personalised prompt for coaching turns.
pub const PERSONAL_TEMPLATE: &str = "coaching_personal";
/// The parameter holding the personalised prompt's text.
pub const PERSONAL_PROMPT_PARAM: &str = "personal_prompt";

/// Names every template can use; `PromptContext::params` may not reuse them.
pub const CONTEXT_FIELDS: [&str; 5] = ["name", "language", "today", "profile", "metrics"];

/// What a template is rendered with.
///
/// The five named fields are always present (`None` renders as `none` and is falsy, so
/// templates can write `{% if profile %}`); anything a particular template needs beyond them
/// (`personal_prompt`, `current_prompt`, `reason`, …) goes in `params`, and a template that
/// uses a parameter nobody passed fails to render.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptContext {
    /// What the person likes to be called.
    pub name: Option<String>,
    /// The person's language as a name or BCP 47 tag ("English", "中文", "zh-CN"): the
    /// language every answer must be in.
    pub language: String,
    /// Today in the person's time zone (`YYYY-MM-DD`).
    pub today: NaiveDate,
    /// The conversational profile written after the consultation.
    pub profile: Option<String>,
    /// Behaviour metrics by name (adherence, streaks, …), as the behaviour tracker reports them.
    pub metrics: Option<BTreeMap<String, serde_json::Value>>,
    /// Template-specific parameters.
    #[serde(flatten)]
    pub params: BTreeMap<String, serde_json::Value>,
}

impl PromptContext {
    pub fn new(language: impl Into<String>, today: NaiveDate) -> PromptContext {
        PromptContext {
            name: None,
            language: language.into(),
            today,
            profile: None,
            metrics: None,
            params: BTreeMap::new(),
        }
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    pub fn with_metrics(mut self, metrics: BTreeMap<String, serde_json::Value>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// A context with every parameter the shipped templates use, for `grow config check`
    /// to render each configured template once without a real conversation.
    pub fn sample(today: NaiveDate) -> PromptContext {
        let mut metrics = BTreeMap::new();
        metrics.insert("logging_consistency".to_string(), serde_json::json!(0.6));
        metrics.insert("commitment_adherence".to_string(), serde_json::json!(0.5));
        metrics.insert("current_streak_days".to_string(), serde_json::json!(2));
        PromptContext::new("English", today)
            .with_name("Sample")
            .with_profile("A sample profile used to check that templates render.")
            .with_metrics(metrics.clone())
            .with_param(PERSONAL_PROMPT_PARAM, "A sample personalised prompt.")
            .with_param("current_prompt", "A sample personalised prompt.")
            .with_param("reason", "a sample reason")
            .with_param(
                "previous_metrics",
                serde_json::Value::Object(metrics.into_iter().collect()),
            )
    }

    pub fn with_param(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.params.insert(key.into(), value.into());
        self
    }
}

impl PromptContext {
    /// The render context. Built by hand rather than through serde: minijinja's serde
    /// support is an optional feature, and this is a handful of fields.
    fn to_value(&self) -> Value {
        let fixed = [
            ("name", Value::from(self.name.clone())),
            ("language", Value::from(self.language.as_str())),
            (
                "today",
                Value::from(self.today.format("%Y-%m-%d").to_string()),
            ),
            ("profile", Value::from(self.profile.clone())),
            (
                "metrics",
                self.metrics.as_ref().map_or(Value::from(()), |m| {
                    Value::from_pairs(m.iter().map(|(k, v)| (k.as_str(), json_to_value(v))))
                }),
            ),
        ];
        Value::from_pairs(
            fixed.into_iter().chain(
                self.params
                    .iter()
                    .map(|(k, v)| (k.as_str(), json_to_value(v))),
            ),
        )
    }
}

fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::from)
            .or_else(|| n.as_u64().map(Value::from))
            .unwrap_or_else(|| Value::from(n.as_f64().unwrap_or(f64::NAN))),
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => items.iter().map(json_to_value).collect(),
        serde_json::Value::Object(map) => {
            Value::from_pairs(map.iter().map(|(k, v)| (k.as_str(), json_to_value(v))))
        }
    }
}

/// Where a template came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplateOrigin {
    BuiltIn,
    /// A user file replacing the shipped template of the same id.
    Override {
        path: PathBuf,
    },
    /// A user file with a new id.
    Added {
        path: PathBuf,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("unknown template `{id}`{}", .suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownTemplate {
        id: String,
        suggestion: Option<String>,
    },
    #[error("template `{id}`: parameter `{key}` is reserved for a PromptContext field; rename it")]
    ReservedParam { id: String, key: String },
    #[error("template `{id}` ({file}:{line}): {message}")]
    Render {
        id: String,
        file: String,
        line: usize,
        message: String,
        /// Parameters the template uses that the context did not provide.
        missing: Vec<String>,
    },
}

/// Render counters. A cache hit is a render served by an already-compiled template; a
/// compilation happens once per template whenever the set is (re)built.
#[derive(Debug, Default)]
pub struct TemplateStats {
    renders: AtomicU64,
    cache_hits: AtomicU64,
    compiles: AtomicU64,
    errors: AtomicU64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TemplateDiagnostics {
    pub renders: u64,
    pub cache_hits: u64,
    pub compiles: u64,
    pub errors: u64,
    /// cache_hits / (cache_hits + compiles); 0 before anything happened.
    pub hit_rate: f64,
    /// Ids served from the person's prompts directory.
    pub user_templates: Vec<String>,
}

impl TemplateStats {
    fn snapshot(&self) -> TemplateDiagnostics {
        let hits = self.cache_hits.load(Ordering::Relaxed);
        let compiles = self.compiles.load(Ordering::Relaxed);
        let lookups = hits + compiles;
        TemplateDiagnostics {
            renders: self.renders.load(Ordering::Relaxed),
            cache_hits: hits,
            compiles,
            errors: self.errors.load(Ordering::Relaxed),
            hit_rate: if lookups == 0 {
                0.0
            } else {
                hits as f64 / lookups as f64
            },
            user_templates: Vec::new(),
        }
    }
}

/// The compiled template set.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    origins: BTreeMap<String, TemplateOrigin>,
    /// Hash of each template's source, to tell what a reload changed.
    hashes: BTreeMap<String, blake3::Hash>,
    stats: Arc<TemplateStats>,
}

impl Templates {
    /// Only the shipped templates.
    pub fn builtin() -> Result<Templates, SourceError> {
        Templates::load(None)
    }

    /// The shipped templates plus the `*.j2` files of `user_dir` (a missing directory is the
    /// same as an empty one).
    pub fn load(user_dir: Option<&Path>) -> Result<Templates, SourceError> {
        Templates::load_with_stats(user_dir, Arc::default())
    }

    pub(crate) fn load_with_stats(
        user_dir: Option<&Path>,
        stats: Arc<TemplateStats>,
    ) -> Result<Templates, SourceError> {
        let mut sources: BTreeMap<String, (String, TemplateOrigin)> = BUILTIN
            .iter()
            .map(|(id, src)| (id.to_string(), (src.to_string(), TemplateOrigin::BuiltIn)))
            .collect();
        if let Some(dir) = user_dir {
            for (id, path, src) in read_user_dir(dir)? {
                let origin = if sources.contains_key(&id) {
                    TemplateOrigin::Override { path }
                } else {
                    TemplateOrigin::Added { path }
                };
                tracing::debug!(template = %id, ?origin, "user prompt template");
                sources.insert(id, (src, origin));
            }
        }

        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| SourceError {
                file: BUILTIN_PROMPTS_DIR.into(),
                line: 1,
                column: 1,
                key: String::new(),
                message: format!("template syntax configuration: {e}"),
                hint: None,
            })?;
        env.set_syntax(syntax);
        env.add_filter("weekday", weekday);
        env.add_function("require", require);

        let mut origins = BTreeMap::new();
        let mut hashes = BTreeMap::new();
        for (id, (src, origin)) in sources {
            hashes.insert(id.clone(), blake3::hash(src.as_bytes()));
            let file = origin_file(&id, &origin);
            env.add_template_owned(id.clone(), src.clone())
                .map_err(|e| template_source_error(&file, &id, &src, &e))?;
            stats.compiles.fetch_add(1, Ordering::Relaxed);
            origins.insert(id, origin);
        }
        Ok(Templates {
            env,
            origins,
            hashes,
            stats,
        })
    }

    pub fn contains(&self, id: &str) -> bool {
        self.origins.contains_key(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.origins.keys().map(String::as_str)
    }

    pub fn nearest_id(&self, wanted: &str) -> Option<&str> {
        nearest(wanted, self.ids())
    }

    pub fn origin(&self, id: &str) -> Option<&TemplateOrigin> {
        self.origins.get(id)
    }

    /// Ids whose source differs between `old` and `self`, with what happened to each
    /// (`added`, `removed`, `changed`), in id order.
    pub fn changes_from(&self, old: &Templates) -> Vec<(String, &'static str)> {
        let mut ids: Vec<&String> = self.hashes.keys().chain(old.hashes.keys()).collect();
        ids.sort();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| {
                let what = match (old.hashes.get(id), self.hashes.get(id)) {
                    (None, Some(_)) => "added",
                    (Some(_), None) => "removed",
                    (Some(a), Some(b)) if a != b => "changed",
                    _ => return None,
                };
                Some((id.clone(), what))
            })
            .collect()
    }

    /// Renders template `id` with `ctx`. Undefined parameters are errors that name them.
    pub fn render(&self, id: &str, ctx: &PromptContext) -> Result<String, RenderError> {
        self.stats.renders.fetch_add(1, Ordering::Relaxed);
        let result = self.render_inner(id, ctx);
        if result.is_err() {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn render_inner(&self, id: &str, ctx: &PromptContext) -> Result<String, RenderError> {
        let Ok(template) = self.env.get_template(id) else {
            return Err(RenderError::UnknownTemplate {
                id: id.to_string(),
                suggestion: self.nearest_id(id).map(str::to_string),
            });
        };
        self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
        if let Some(key) = ctx
            .params
            .keys()
            .find(|k| CONTEXT_FIELDS.contains(&k.as_str()))
        {
            return Err(RenderError::ReservedParam {
                id: id.to_string(),
                key: key.clone(),
            });
        }
        let value = ctx.to_value();
        template.render(&value).map_err(|e| {
            let missing = if e.kind() == ErrorKind::UndefinedError {
                let mut used = template.undeclared_variables(true);
                // Functions and filters' globals (`require`, `range`) are not parameters.
                used.retain(|path| {
                    let root = path.split('.').next().unwrap_or(path);
                    !self.env.globals().any(|(name, _)| name == root)
                });
                let mut missing = missing_variables(&used, &value);
                // Several may be absent where only one is required (an optional parameter
                // guarded by `is defined`): keep those named at the failing spot.
                if let (Some(range), Some(src)) = (e.range(), e.template_source())
                    && let Some(spot) = src.get(range)
                {
                    let at_spot: Vec<String> = missing
                        .iter()
                        .filter(|path| spot.contains(path.split('.').next().unwrap_or(path)))
                        .cloned()
                        .collect();
                    if !at_spot.is_empty() {
                        missing = at_spot;
                    }
                }
                missing
            } else {
                Vec::new()
            };
            let message = match missing.as_slice() {
                [] => e.to_string(),
                names => format!(
                    "missing parameter{} {}: pass {} with PromptContext::with_param",
                    if names.len() == 1 { "" } else { "s" },
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if names.len() == 1 { "it" } else { "them" },
                ),
            };
            let origin = self
                .origins
                .get(id)
                .cloned()
                .unwrap_or(TemplateOrigin::BuiltIn);
            RenderError::Render {
                id: id.to_string(),
                file: origin_file(id, &origin),
                line: e.line().unwrap_or(1),
                message,
                missing,
            }
        })
    }

    pub fn stats(&self) -> TemplateDiagnostics {
        let mut d = self.stats.snapshot();
        d.user_templates = self
            .origins
            .iter()
            .filter(|(_, o)| **o != TemplateOrigin::BuiltIn)
            .map(|(id, _)| id.clone())
            .collect();
        d
    }
}

/// `{{ today|weekday }}` → "Saturday": models are unreliable at deriving weekdays from dates,
/// and "by Friday" needs one.
fn weekday(date: String) -> Result<String, minijinja::Error> {
    let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(|e| {
        minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("weekday: `{date}` is not a YYYY-MM-DD date ({e})"),
        )
    })?;
    Ok(date.format("%A").to_string())
}

/// `{{ require(profile, "profile") }}`: an optional context field this template cannot do
/// without. `none` is an error here, like an undefined parameter.
fn require(value: Value, what: String) -> Result<Value, minijinja::Error> {
    if value.is_none() || value.is_undefined() {
        return Err(minijinja::Error::new(
            ErrorKind::UndefinedError,
            format!("`{what}` is required by this template but was not given"),
        ));
    }
    Ok(value)
}

/// Dotted variable paths (`metrics.adherence`) that do not resolve in `ctx`.
fn missing_variables(used: &std::collections::HashSet<String>, ctx: &Value) -> Vec<String> {
    let mut missing: Vec<String> = used
        .iter()
        .filter(|path| {
            let mut v = ctx.clone();
            for seg in path.split('.') {
                match v.get_attr(seg) {
                    Ok(next) if !next.is_undefined() => v = next,
                    _ => return true,
                }
            }
            false
        })
        .cloned()
        .collect();
    missing.sort();
    missing
}

fn origin_file(id: &str, origin: &TemplateOrigin) -> String {
    match origin {
        TemplateOrigin::BuiltIn => format!("{BUILTIN_PROMPTS_DIR}/{id}.j2"),
        TemplateOrigin::Override { path } | TemplateOrigin::Added { path } => {
            path.display().to_string()
        }
    }
}

fn template_source_error(file: &str, id: &str, src: &str, e: &minijinja::Error) -> SourceError {
    let line = e.line().unwrap_or(1);
    let column = e
        .range()
        .and_then(|r| {
            let start = r.start.min(src.len());
            let before = src.get(..start)?;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            Some(before[line_start..].chars().count() + 1)
        })
        .unwrap_or(1);
    let message = match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    SourceError {
        file: file.to_string(),
        line,
        column,
        key: id.to_string(),
        message,
        hint: Some(
            "templates use Jinja2 syntax: {{ value }}, {% if %}…{% endif %}, {# comment #}".into(),
        ),
    }
}

fn dir_error(path: &Path, message: String) -> SourceError {
    SourceError {
        file: path.display().to_string(),
        line: 1,
        column: 1,
        key: String::new(),
        message,
        hint: None,
    }
}

/// `(id, path, text)` of every `*.j2` file in `dir`, in name order.
fn read_user_dir(dir: &Path) -> Result<Vec<(String, PathBuf, String)>, SourceError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::debug!(dir = %dir.display(), "no user prompts directory");
            return Ok(Vec::new());
        }
        Err(e) => {
            return Err(dir_error(
                dir,
                format!("cannot read the prompts directory: {e}"),
            ));
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "j2") && p.is_file())
        .collect();
    paths.sort();
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let Some(id) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            return Err(dir_error(
                &path,
                "template file name is not valid UTF-8".into(),
            ));
        };
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(SourceError {
                hint: Some(
                    "name templates like `coaching_system.j2` (letters, digits, `_`, `-`)".into(),
                ),
                ..dir_error(
                    &path,
                    format!(
                        "template id `{id}` has characters other than letters, digits, `_` and `-`"
                    ),
                )
            });
        }
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if size > MAX_TEMPLATE_BYTES {
            return Err(dir_error(
                &path,
                format!("template is {size} bytes; the limit is {MAX_TEMPLATE_BYTES}"),
            ));
        }
        let src = fs::read_to_string(&path)
            .map_err(|e| dir_error(&path, format!("cannot read template: {e}")))?;
        out.push((id, path, src));
    }
    Ok(out)
}
