//! Hot reload of interaction configuration and prompt templates.
//!
//! `LiveInteractions` holds the current `Snapshot` (registry + compiled templates) behind an
//! `RwLock<Arc<Snapshot>>`: a turn takes the read lock only long enough to clone the `Arc`, so a
//! reload never blocks a turn for longer than a pointer swap, and a turn that started on the old
//! snapshot finishes on it. (arc-swap would save the uncontended lock, tens of nanoseconds; not
//! worth a dependency.)
//!
//! A file watcher (`notify`) on the user's config file and prompts directory rebuilds the
//! snapshot after edits settle (debounced). A valid edit is swapped in; an invalid one keeps the
//! last good snapshot and is reported through the watcher's callback and `last_error()`, for
//! the TUI's status bar.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::coach::interactions::{
    Interaction, InteractionRegistry, ResolveDiagnostics, ResolveStats, Resolved, UserTier,
};
use crate::coach::templates::{
    PERSONAL_PROMPT_PARAM, PERSONAL_TEMPLATE, PromptContext, RenderError, TemplateDiagnostics,
    TemplateStats, Templates,
};
use crate::source_error::SourceError;

/// How long the files must be quiet before a reload (editors write in several steps).
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(200);
/// A stream of events never postpones a reload longer than this.
const MAX_DEBOUNCE_WAIT: Duration = Duration::from_secs(2);

/// One consistent configuration: the registry and the templates it was validated against.
#[derive(Debug)]
pub struct Snapshot {
    /// 1 for the first load, +1 for every applied reload.
    pub generation: u64,
    pub registry: InteractionRegistry,
    pub templates: Templates,
    /// Hash of the inputs, so a save that changed nothing does not count as a reload.
    fingerprint: blake3::Hash,
}

/// Settings and rendered system prompt for one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub resolved: Resolved,
    pub system_prompt: String,
}

impl Snapshot {
    pub fn resolve(&self, interaction: Interaction, tier: UserTier) -> Resolved {
        self.registry.resolve(interaction, tier)
    }

    pub fn render(&self, template: &str, ctx: &PromptContext) -> Result<String, RenderError> {
        self.templates.render(template, ctx)
    }

    /// What a turn does: resolve the interaction for the tier and render its template.
    pub fn prepare(
        &self,
        interaction: Interaction,
        tier: UserTier,
        ctx: &PromptContext,
    ) -> Result<Prepared, RenderError> {
        let resolved = self.resolve(interaction, tier);
        let system_prompt = self.render(&resolved.template, ctx)?;
        Ok(Prepared {
            resolved,
            system_prompt,
        })
    }

    /// A coaching turn. With the person's personalised prompt, the `coaching_personal`
    /// template wraps it (today's context and the rules that always hold) instead of the
    /// configured generic template; model and numbers still come from the configuration.
    pub fn prepare_coaching(
        &self,
        tier: UserTier,
        ctx: &PromptContext,
        personal_prompt: Option<&str>,
    ) -> Result<Prepared, RenderError> {
        let Some(personal) = personal_prompt else {
            return self.prepare(Interaction::CoachingResponse, tier, ctx);
        };
        let mut resolved = self.resolve(Interaction::CoachingResponse, tier);
        let ctx = ctx.clone().with_param(PERSONAL_PROMPT_PARAM, personal);
        let system_prompt = self.render(PERSONAL_TEMPLATE, &ctx)?;
        resolved.template = PERSONAL_TEMPLATE.to_string();
        Ok(Prepared {
            resolved,
            system_prompt,
        })
    }

    /// Renders the template of every (interaction, tier) once with `ctx` (for
    /// `grow config check`: catches a template that needs parameters its interaction does not
    /// provide). Counts in the diagnostics like any render.
    pub fn check_renders(&self, ctx: &PromptContext) -> Vec<RenderCheck> {
        self.registry
            .entries()
            .map(|(interaction, tier, resolved)| RenderCheck {
                interaction,
                tier,
                template: resolved.template.clone(),
                result: self.render(&resolved.template, ctx).map(|text| text.len()),
            })
            .collect()
    }

    /// Human-readable differences from `old`, for the status bar after a reload:
    /// `SESSION_TITLE/standard: model claude-sonnet-4-6 → gpt-4o-mini`, `template consultation changed`.
    pub fn changes_from(&self, old: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for ((interaction, tier, new), (_, _, before)) in
            self.registry.entries().zip(old.registry.entries())
        {
            let mut fields = Vec::new();
            if new.model != before.model {
                fields.push(format!("model {} → {}", before.model, new.model));
            }
            if new.template != before.template {
                fields.push(format!("template {} → {}", before.template, new.template));
            }
            if new.temperature != before.temperature {
                fields.push(format!(
                    "temperature {} → {}",
                    before.temperature, new.temperature
                ));
            }
            if new.max_tokens != before.max_tokens {
                fields.push(format!(
                    "max_tokens {} → {}",
                    before.max_tokens, new.max_tokens
                ));
            }
            if !fields.is_empty() {
                out.push(format!("{interaction}/{tier}: {}", fields.join(", ")));
            }
        }
        for (id, what) in self.templates.changes_from(&old.templates) {
            out.push(format!("template {id} {what}"));
        }
        out
    }
}

/// One line of `Snapshot::check_renders`: the rendered length, or why it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderCheck {
    pub interaction: Interaction,
    pub tier: UserTier,
    pub template: String,
    pub result: Result<usize, RenderError>,
}

/// The files a `LiveInteractions` reads and watches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSources {
    /// The user's config file (its `[interactions]` table). Missing file = no overrides.
    pub config_file: Option<PathBuf>,
    /// Directory of user `*.j2` templates. Missing directory = shipped templates only.
    pub prompts_dir: Option<PathBuf>,
}

/// What a watcher reports after files changed.
#[derive(Debug, Clone, PartialEq)]
pub enum ReloadEvent {
    /// The new configuration is live from the next turn. `changes` lists what differs
    /// (see `Snapshot::changes_from`), for the status bar.
    Applied {
        generation: u64,
        changes: Vec<String>,
    },
    /// The edit is invalid; the previous configuration stays live.
    Rejected { error: SourceError },
}

/// Rebuilds the catalog from the config file's text on reload (the config loader's
/// `[[catalog.models]]` overrides), so a new model can be added and used in one edit.
pub type CatalogLoader = Arc<dyn Fn(&str, &str) -> Result<Catalog, SourceError> + Send + Sync>;

#[derive(Debug, Default)]
struct ReloadStats {
    applied: AtomicU64,
    unchanged: AtomicU64,
    rejected: AtomicU64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ReloadDiagnostics {
    pub applied: u64,
    /// Reloads where the files' content had not changed (nothing swapped).
    pub unchanged: u64,
    pub rejected: u64,
    /// The error of the last rejected reload, until a later reload succeeds.
    pub last_error: Option<String>,
}

/// For `grow config check --stats` and the dashboard's diagnostics section.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Diagnostics {
    pub generation: u64,
    pub resolve: ResolveDiagnostics,
    pub templates: TemplateDiagnostics,
    pub reloads: ReloadDiagnostics,
}

impl Diagnostics {
    /// Diagnostics of a registry and templates loaded without `LiveInteractions`.
    pub fn of(registry: &InteractionRegistry, templates: &Templates) -> Diagnostics {
        Diagnostics {
            generation: 1,
            resolve: registry.stats(),
            templates: templates.stats(),
            reloads: ReloadDiagnostics::default(),
        }
    }
}

/// The live interaction configuration, reloadable while grow runs.
pub struct LiveInteractions {
    current: RwLock<Arc<Snapshot>>,
    sources: ReloadSources,
    /// The catalog and a version bumped by `set_catalog`, part of the reload fingerprint.
    catalog: RwLock<(Arc<Catalog>, u64)>,
    catalog_loader: Option<CatalogLoader>,
    resolve_stats: Arc<ResolveStats>,
    template_stats: Arc<TemplateStats>,
    reload_stats: ReloadStats,
    last_error: Mutex<Option<SourceError>>,
    /// Serialises reloads (watcher thread and `reload_now` callers).
    reloading: Mutex<()>,
}

impl std::fmt::Debug for LiveInteractions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveInteractions")
            .field("sources", &self.sources)
            .field("generation", &self.current().generation)
            .finish_non_exhaustive()
    }
}

/// The inputs of one build, read from disk.
struct Inputs {
    config: Option<(String, String)>,
}

impl LiveInteractions {
    /// Loads the configuration; fails if the user's files are invalid.
    pub fn new(
        catalog: Arc<Catalog>,
        sources: ReloadSources,
    ) -> Result<LiveInteractions, SourceError> {
        LiveInteractions::build(catalog, sources, None)
    }

    /// Like `new` with a catalog rebuilt from the config text on every reload.
    pub fn with_catalog_loader(
        catalog: Arc<Catalog>,
        sources: ReloadSources,
        loader: CatalogLoader,
    ) -> Result<LiveInteractions, SourceError> {
        LiveInteractions::build(catalog, sources, Some(loader))
    }

    /// Starts even when the user's files are invalid: the shipped configuration serves and the
    /// error is returned (and kept as `last_error`) so the UI can show it. A later valid edit is
    /// picked up by the watcher as usual.
    pub fn new_or_builtin(
        catalog: Arc<Catalog>,
        sources: ReloadSources,
    ) -> Result<(LiveInteractions, Option<SourceError>), SourceError> {
        match LiveInteractions::new(catalog.clone(), sources.clone()) {
            Ok(live) => Ok((live, None)),
            Err(error) => {
                tracing::warn!(%error, "interaction config invalid; starting with the shipped one");
                let live = LiveInteractions::build(catalog, ReloadSources::default(), None)?;
                let live = LiveInteractions { sources, ..live };
                live.reload_stats.rejected.fetch_add(1, Ordering::Relaxed);
                *lock(&live.last_error) = Some(error.clone());
                Ok((live, Some(error)))
            }
        }
    }

    fn build(
        catalog: Arc<Catalog>,
        sources: ReloadSources,
        catalog_loader: Option<CatalogLoader>,
    ) -> Result<LiveInteractions, SourceError> {
        let resolve_stats = Arc::<ResolveStats>::default();
        let template_stats = Arc::<TemplateStats>::default();
        let inputs = read_inputs(&sources)?;
        let catalog = match (&catalog_loader, &inputs.config) {
            (Some(load), Some((file, src))) => Arc::new(load(file, src)?),
            _ => catalog,
        };
        let snapshot = build_snapshot(
            &catalog,
            &sources,
            &inputs,
            fingerprint(&inputs, &sources, 0),
            1,
            &resolve_stats,
            &template_stats,
        )?;
        Ok(LiveInteractions {
            current: RwLock::new(Arc::new(snapshot)),
            sources,
            catalog: RwLock::new((catalog, 0)),
            catalog_loader,
            resolve_stats,
            template_stats,
            reload_stats: ReloadStats::default(),
            last_error: Mutex::new(None),
            reloading: Mutex::new(()),
        })
    }

    /// The configuration for this turn. Cheap: an uncontended read lock and an `Arc` clone.
    pub fn current(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn sources(&self) -> &ReloadSources {
        &self.sources
    }

    /// Replaces the catalog used to validate the next reload (e.g. after the config loader
    /// re-read `[[catalog.models]]`).
    pub fn set_catalog(&self, catalog: Arc<Catalog>) {
        let mut slot = self.catalog.write().unwrap_or_else(PoisonError::into_inner);
        slot.1 += 1;
        slot.0 = catalog;
    }

    /// Re-reads the files now. Returns the live generation: a new one when something changed,
    /// the same when the files are as before. On error the previous snapshot stays live and the
    /// error is kept as `last_error`.
    pub fn reload_now(&self) -> Result<u64, SourceError> {
        let _one_at_a_time = lock(&self.reloading);
        let result = self.try_reload();
        match &result {
            Ok(generation) => {
                *lock(&self.last_error) = None;
                tracing::info!(generation, "interaction configuration live");
            }
            Err(error) => {
                self.reload_stats.rejected.fetch_add(1, Ordering::Relaxed);
                *lock(&self.last_error) = Some(error.clone());
                tracing::warn!(%error, "interaction configuration rejected; keeping the last good one");
            }
        }
        result
    }

    fn try_reload(&self) -> Result<u64, SourceError> {
        let inputs = read_inputs(&self.sources)?;
        let old = self.current();
        let (catalog, catalog_version) = match (&self.catalog_loader, &inputs.config) {
            (Some(load), Some((file, src))) => {
                // Derived from the config text, which the fingerprint already covers.
                let catalog = Arc::new(load(file, src)?);
                let mut slot = self.catalog.write().unwrap_or_else(PoisonError::into_inner);
                slot.0 = catalog.clone();
                (catalog, slot.1)
            }
            _ => self
                .catalog
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        };
        let fingerprint = fingerprint(&inputs, &self.sources, catalog_version);
        if fingerprint == old.fingerprint {
            self.reload_stats.unchanged.fetch_add(1, Ordering::Relaxed);
            return Ok(old.generation);
        }
        let snapshot = build_snapshot(
            &catalog,
            &self.sources,
            &inputs,
            fingerprint,
            old.generation + 1,
            &self.resolve_stats,
            &self.template_stats,
        )?;
        let generation = snapshot.generation;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
        self.reload_stats.applied.fetch_add(1, Ordering::Relaxed);
        Ok(generation)
    }

    pub fn last_error(&self) -> Option<SourceError> {
        lock(&self.last_error).clone()
    }

    pub fn diagnostics(&self) -> Diagnostics {
        Diagnostics {
            generation: self.current().generation,
            resolve: self.resolve_stats.snapshot(),
            templates: self.current().templates.stats(),
            reloads: ReloadDiagnostics {
                applied: self.reload_stats.applied.load(Ordering::Relaxed),
                unchanged: self.reload_stats.unchanged.load(Ordering::Relaxed),
                rejected: self.reload_stats.rejected.load(Ordering::Relaxed),
                last_error: self.last_error().map(|e| e.to_string()),
            },
        }
    }

    /// Watches the config file and prompts directory; after changes settle for `debounce`,
    /// reloads and reports the outcome to `on_event` (called on the watcher's thread). Stops
    /// when the returned guard is dropped.
    pub fn watch(
        self: &Arc<Self>,
        debounce: Duration,
        on_event: impl Fn(ReloadEvent) + Send + 'static,
    ) -> Result<ReloadWatcher, notify::Error> {
        let (tx, rx) = mpsc::channel::<()>();
        let targets = WatchTargets::new(&self.sources);
        let filter = targets.clone();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                match res {
                    Ok(event) if filter.is_relevant(&event) => {
                        // The receiver is gone only while the watcher shuts down.
                        let _ = tx.send(());
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "file watcher error"),
                }
            })?;
        if targets.dirs.is_empty() {
            tracing::warn!(
                sources = ?self.sources,
                "no existing directory to watch: interaction config changes need a restart"
            );
        }
        for (dir, mode) in &targets.dirs {
            watcher.watch(dir, *mode)?;
            tracing::debug!(dir = %dir.display(), ?mode, "watching for interaction config changes");
        }
        let live = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("grow-config-watch".into())
            .spawn(move || debounce_loop(&live, &rx, debounce, &on_event))
            .map_err(notify::Error::io)?;
        Ok(ReloadWatcher {
            watcher: Some(watcher),
            thread: Some(thread),
        })
    }
}

/// Keeps the watcher running; dropping it stops watching and joins the reload thread.
pub struct ReloadWatcher {
    watcher: Option<RecommendedWatcher>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ReloadWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadWatcher").finish_non_exhaustive()
    }
}

impl Drop for ReloadWatcher {
    fn drop(&mut self) {
        // Dropping the watcher drops the channel's sender, which ends the loop.
        self.watcher.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("config watch thread panicked");
        }
    }
}

fn debounce_loop(
    live: &LiveInteractions,
    rx: &mpsc::Receiver<()>,
    debounce: Duration,
    on_event: &dyn Fn(ReloadEvent),
) {
    while rx.recv().is_ok() {
        let first = Instant::now();
        loop {
            match rx.recv_timeout(debounce) {
                Ok(()) if first.elapsed() < MAX_DEBOUNCE_WAIT => continue,
                Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        let before = live.current();
        match live.reload_now() {
            Ok(generation) if generation != before.generation => {
                let changes = live.current().changes_from(&before);
                on_event(ReloadEvent::Applied {
                    generation,
                    changes,
                });
            }
            Ok(_) => {}
            Err(error) => on_event(ReloadEvent::Rejected { error }),
        }
    }
}

/// Directories to watch and how to tell a relevant event. Paths are made absolute and
/// canonical up front, because that is how the watcher reports them.
#[derive(Debug, Clone)]
struct WatchTargets {
    dirs: Vec<(PathBuf, RecursiveMode)>,
    /// (directory, file name) of the config file.
    config_file: Option<(PathBuf, std::ffi::OsString)>,
    prompts_dir: Option<PathBuf>,
}

impl WatchTargets {
    fn new(sources: &ReloadSources) -> WatchTargets {
        let mut dirs = Vec::new();
        // Editors save by writing a temporary file and renaming it over the original, which a
        // watch on the file itself would lose: watch the directory and filter by name.
        let config_file = sources.config_file.as_deref().and_then(|file| {
            let dir = canonical_parent(file)?;
            dirs.push((dir.clone(), RecursiveMode::NonRecursive));
            Some((dir, file.file_name()?.to_os_string()))
        });
        let prompts_dir = sources.prompts_dir.as_deref().and_then(|dir| {
            if let Ok(dir) = dir.canonicalize() {
                dirs.push((dir.clone(), RecursiveMode::NonRecursive));
                return Some(dir);
            }
            // Not there yet: watch its parent, recursively, so files written into the
            // directory once it is created are seen too.
            let parent = canonical_parent(dir)?;
            dirs.push((parent.clone(), RecursiveMode::Recursive));
            Some(parent.join(dir.file_name()?))
        });
        // One watch per directory; recursive wins.
        dirs.sort_by(|a, b| {
            a.0.cmp(&b.0).then(
                (a.1 == RecursiveMode::NonRecursive).cmp(&(b.1 == RecursiveMode::NonRecursive)),
            )
        });
        dirs.dedup_by(|later, earlier| later.0 == earlier.0);
        WatchTargets {
            dirs,
            config_file,
            prompts_dir,
        }
    }

    fn is_relevant(&self, event: &notify::Event) -> bool {
        if matches!(event.kind, EventKind::Access(_)) {
            return false;
        }
        event.paths.iter().any(|p| {
            let is_config = self.config_file.as_ref().is_some_and(|(dir, name)| {
                p.parent() == Some(dir.as_path()) && p.file_name() == Some(name.as_os_str())
            });
            is_config
                || self
                    .prompts_dir
                    .as_deref()
                    .is_some_and(|d| p.starts_with(d))
        })
    }
}

/// The canonical directory holding `path` (the current directory for a bare file name).
fn canonical_parent(path: &Path) -> Option<PathBuf> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    parent.canonicalize().ok()
}

fn read_inputs(sources: &ReloadSources) -> Result<Inputs, SourceError> {
    let config = match &sources.config_file {
        None => None,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(src) => Some((path.display().to_string(), src)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(SourceError {
                    file: path.display().to_string(),
                    line: 1,
                    column: 1,
                    key: String::new(),
                    message: format!("cannot read the config file: {e}"),
                    hint: None,
                });
            }
        },
    };
    Ok(Inputs { config })
}

/// Hash of the config text and every `*.j2` prompt file (name + content).
fn fingerprint(inputs: &Inputs, sources: &ReloadSources, catalog_version: u64) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update(&catalog_version.to_le_bytes());
    if let Some((file, src)) = &inputs.config {
        h.update(file.as_bytes());
        h.update(&[0]);
        h.update(src.as_bytes());
    }
    h.update(&[0xff]);
    if let Some(dir) = &sources.prompts_dir
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        // Only what `Templates::load` reads: editors' temporary and swap files are not changes.
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "j2"))
            .collect();
        paths.sort();
        for p in paths {
            h.update(p.as_os_str().as_encoded_bytes());
            h.update(&[0]);
            if let Ok(bytes) = std::fs::read(&p) {
                h.update(&bytes);
            }
            h.update(&[0]);
        }
    }
    h.finalize()
}

fn build_snapshot(
    catalog: &Catalog,
    sources: &ReloadSources,
    inputs: &Inputs,
    fingerprint: blake3::Hash,
    generation: u64,
    resolve_stats: &Arc<ResolveStats>,
    template_stats: &Arc<TemplateStats>,
) -> Result<Snapshot, SourceError> {
    let templates =
        Templates::load_with_stats(sources.prompts_dir.as_deref(), template_stats.clone())?;
    let user = inputs
        .config
        .as_ref()
        .map(|(file, src)| (file.as_str(), src.as_str()));
    let registry =
        InteractionRegistry::load_with_stats(catalog, &templates, user, resolve_stats.clone())?;
    Ok(Snapshot {
        generation,
        registry,
        templates,
        fingerprint,
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
