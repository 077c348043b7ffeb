//! Interaction resolution, validation messages, templates and hot reload.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use chrono::NaiveDate;
use grow::catalog::Catalog;
use grow::coach::interactions::{
    Interaction, InteractionRegistry, ModelChoice, ResolvedFrom, UserTier,
};
use grow::coach::reload::{Diagnostics, LiveInteractions, ReloadEvent, ReloadSources};
use grow::coach::templates::{
    PERSONAL_TEMPLATE, PromptContext, RenderError, TemplateOrigin, Templates,
};
use grow::source_error::SourceError;

fn catalog() -> Catalog {
    Catalog::builtin().expect("shipped catalog is valid")
}

fn templates() -> Templates {
    Templates::builtin().expect("shipped templates compile")
}

fn load(user: &str) -> Result<InteractionRegistry, SourceError> {
    InteractionRegistry::load(&catalog(), &templates(), Some(("config.toml", user)))
}

fn load_err(user: &str) -> String {
    load(user)
        .expect_err("config should be rejected")
        .to_string()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 21).expect("valid date")
}

fn model(id: &str) -> ModelChoice {
    ModelChoice::Model(id.to_string())
}

// ---------------------------------------------------------------------------------------------
// Resolution

#[test]
fn shipped_config_resolves_every_interaction_without_builtin_fallback() {
    let reg = InteractionRegistry::load(&catalog(), &templates(), None).unwrap();
    for (interaction, tier, r) in reg.entries() {
        assert_ne!(
            r.source,
            ResolvedFrom::BuiltIn,
            "{interaction}/{tier} has no entry in assets/interactions.toml"
        );
        assert!(templates().contains(&r.template), "{}", r.template);
    }
    assert_eq!(reg.entries().count(), 27);
}

#[test]
fn tier_entry_hits_and_inherits_missing_fields_from_default() {
    let reg = InteractionRegistry::load(&catalog(), &templates(), None).unwrap();
    let r = reg.resolve(Interaction::SessionTitle, UserTier::Free);
    assert_eq!(r.source, ResolvedFrom::Tier);
    assert_eq!(r.model, model("claude-haiku-4-5"));
    assert_eq!(r.max_tokens, 24);
    assert_eq!(r.template, "session_title");
    assert!((r.temperature - 0.2).abs() < 1e-6);

    let r = reg.resolve(Interaction::CoachingResponse, UserTier::Premium);
    assert_eq!(r.source, ResolvedFrom::Tier);
    assert_eq!(r.model, ModelChoice::Route);
    assert_eq!(
        (r.template.as_str(), r.max_tokens),
        ("coaching_system", 1200)
    );
    assert!((r.temperature - 0.7).abs() < 1e-6);
}

#[test]
fn tier_miss_falls_back_to_default_and_is_counted() {
    let reg = InteractionRegistry::load(&catalog(), &templates(), None).unwrap();
    let r = reg.resolve(Interaction::SessionTitle, UserTier::Standard);
    assert_eq!(r.source, ResolvedFrom::Default);
    assert_eq!(r.max_tokens, 32);
    reg.resolve(Interaction::SessionTitle, UserTier::Premium);
    reg.resolve(Interaction::SessionTitle, UserTier::Free);
    let stats = reg.stats();
    assert_eq!(stats.resolutions, 3);
    assert_eq!(stats.fallbacks.to_default, 2);
    assert_eq!(stats.fallbacks.to_builtin, 0);
    assert_eq!(
        stats.fallbacks_by_interaction["SESSION_TITLE"].to_default,
        2
    );
    assert_eq!(stats.lookup_latency.count, 3);
}

#[test]
fn missing_interaction_falls_back_to_builtin_route_entry() {
    let base = "[COACHING_RESPONSE.default]\nmodel = \"route\"\ntemplate = \"coaching_system\"\ntemperature = 0.7\nmax_tokens = 800\n";
    let reg =
        InteractionRegistry::from_sources(&catalog(), &templates(), ("base.toml", base), None)
            .unwrap();
    let r = reg.resolve(Interaction::SessionSummary, UserTier::Premium);
    assert_eq!(r.source, ResolvedFrom::BuiltIn);
    assert_eq!(r.model, ModelChoice::Route);
    assert_eq!(r.template, "session_summary");
    assert_eq!(r.max_tokens, 500);
    let stats = reg.stats();
    assert_eq!(stats.fallbacks.to_builtin, 1);
    assert_eq!(
        stats.fallbacks_by_interaction["SESSION_SUMMARY"].to_builtin,
        1
    );
}

#[test]
fn user_config_overrides_per_field_and_adds_tiers() {
    let user = r#"
[routing]
long_context_turns = 40

[interactions.COACHING_RESPONSE.premium]
temperature = 0.9

[interactions.SESSION_SUMMARY.premium]
model = "claude-sonnet-4-6"
"#;
    let reg = load(user).unwrap();
    let r = reg.resolve(Interaction::CoachingResponse, UserTier::Premium);
    assert!((r.temperature - 0.9).abs() < 1e-6);
    assert_eq!(r.max_tokens, 1200, "kept from the shipped premium entry");
    let r = reg.resolve(Interaction::SessionSummary, UserTier::Premium);
    assert_eq!(r.source, ResolvedFrom::Tier);
    assert_eq!(r.model, model("claude-sonnet-4-6"));
    assert_eq!(r.template, "session_summary", "inherited from default");
    let r = reg.resolve(Interaction::SessionSummary, UserTier::Standard);
    assert_eq!(r.model, model("claude-haiku-4-5"));
}

#[test]
fn a_config_without_interactions_table_changes_nothing() {
    let reg = load("[routing]\nlong_context_turns = 12\n").unwrap();
    let shipped = InteractionRegistry::load(&catalog(), &templates(), None).unwrap();
    let a: Vec<_> = reg.entries().map(|(i, t, r)| (i, t, r.clone())).collect();
    let b: Vec<_> = shipped
        .entries()
        .map(|(i, t, r)| (i, t, r.clone()))
        .collect();
    assert_eq!(a, b);
}

#[test]
fn resolved_max_tokens_clamps_to_the_routed_model() {
    let c = catalog();
    let reg = load("[interactions.COACHING_RESPONSE.default]\nmax_tokens = 8000\n").unwrap();
    let r = reg.resolve(Interaction::CoachingResponse, UserTier::Standard);
    let local = c.get("qwen2.5:7b").unwrap();
    assert_eq!(r.max_tokens_for(local), 4096);
    let sonnet = c.get("claude-sonnet-4-6").unwrap();
    assert_eq!(r.max_tokens_for(sonnet), 8000);
}

// ---------------------------------------------------------------------------------------------
// Validation messages, word for word

#[test]
fn unknown_tier_is_rejected_with_nearest_tier() {
    let user = "[routing]\nx = 1\n\n[interactions.COACHING_RESPONSE.premum]\nmodel = \"claude-opus-4-6\"\n";
    assert_eq!(
        load_err(user),
        "config.toml:4:1: `interactions.COACHING_RESPONSE.premum`: unknown tier `premum` (interaction COACHING_RESPONSE)\n  hint: did you mean `premium`? tiers are `default`, `free`, `standard`, `premium`"
    );
}

#[test]
fn unknown_interaction_is_rejected_with_nearest_code() {
    let user = "[interactions.SESION_SUMMARY.default]\nmodel = \"route\"\n";
    assert_eq!(
        load_err(user),
        "config.toml:1:15: `interactions.SESION_SUMMARY`: unknown interaction `SESION_SUMMARY`\n  hint: did you mean `SESSION_SUMMARY`?"
    );
}

#[test]
fn unknown_model_names_file_line_interaction_tier_and_nearest_id() {
    let user = "[interactions.PERSONA_GENERATION.premium]\ntemperature = 0.5\nmodel = \"claude-opsu-4-6\"\n";
    assert_eq!(
        load_err(user),
        "config.toml:3:9: `interactions.PERSONA_GENERATION.premium.model`: unknown model `claude-opsu-4-6` (interaction PERSONA_GENERATION, tier premium)\n  hint: did you mean `claude-opus-4-6`? (`grow models` lists them all); or \"route\" to let the router choose"
    );
}

#[test]
fn unknown_template_suggests_nearest_template() {
    let user = "[interactions.COACHING_RESPONSE.free]\ntemplate = \"coaching_sytem\"\n";
    assert_eq!(
        load_err(user),
        "config.toml:2:12: `interactions.COACHING_RESPONSE.free.template`: unknown template `coaching_sytem` (interaction COACHING_RESPONSE, tier free)\n  hint: did you mean `coaching_system`? templates are the .j2 files in assets/prompts/ and your prompts directory"
    );
}

#[test]
fn numbers_are_range_checked() {
    let user = "[interactions.CONSULTATION.default]\ntemperature = 2.5\n";
    assert_eq!(
        load_err(user),
        "config.toml:2:15: `interactions.CONSULTATION.default.temperature`: temperature 2.5 is out of range 0..=2 (interaction CONSULTATION, tier default)\n  hint: 0 is the most predictable, 1 the provider default; coaching works well around 0.7"
    );
    let user = "[interactions.SESSION_TITLE.free]\nmax_tokens = 0\n";
    assert_eq!(
        load_err(user),
        "config.toml:2:14: `interactions.SESSION_TITLE.free.max_tokens`: max_tokens 0 must be at least 1 (interaction SESSION_TITLE, tier free)"
    );
}

#[test]
fn max_tokens_is_checked_against_the_merged_model() {
    // The tier sets only max_tokens; the limit comes from the default entry's model.
    let user = "[interactions.SESSION_SUMMARY.premium]\nmax_tokens = 100000\n";
    assert_eq!(
        load_err(user),
        "config.toml:2:14: `interactions.SESSION_SUMMARY.premium.max_tokens`: max_tokens 100000 is out of range 1..=64000, the output limit of `claude-haiku-4-5` (interaction SESSION_SUMMARY, tier premium)\n  hint: lower max_tokens to at most 64000 or choose another model"
    );
    // A limit written in the default entry, exceeded by a tier's own model.
    let user = "[interactions.PERSONA_GENERATION.default]\nmodel = \"claude-opus-4-6\"\nmax_tokens = 100000\n";
    let errors = InteractionRegistry::check(&catalog(), &templates(), Some(("config.toml", user)))
        .unwrap_err();
    let messages: Vec<_> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "max_tokens 100000 is out of range 1..=64000, the output limit of `claude-haiku-4-5` (interaction PERSONA_GENERATION, tier free, max_tokens from the `default` entry)"
        ]
    );
    assert_eq!((errors[0].line, errors[0].column), (3, 14));
    // A model the person chose whose limit a shipped number exceeds: blame their model.
    let user = "[interactions.PERSONA_UPDATE.standard]\nmodel = \"offline-coach\"\n";
    let err = load(user).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config.toml:2:9: `interactions.PERSONA_UPDATE.standard.model`: max_tokens 2000 is out of range 1..=1000, the output limit of `offline-coach` (interaction PERSONA_UPDATE, tier standard)\n  hint: lower max_tokens to at most 1000 or choose another model"
    );
    // A route entry is checked against the largest output the router could pick.
    let user = "[interactions.COACHING_RESPONSE.default]\nmax_tokens = 200000\n";
    let err = load(user).unwrap_err();
    assert_eq!(err.key, "interactions.COACHING_RESPONSE.default.max_tokens");
    assert_eq!(
        err.message,
        "max_tokens 200000 is out of range 1..=128000, the largest output of any catalog model, since the router may pick any (interaction COACHING_RESPONSE, tier default)"
    );
}

#[test]
fn wrong_types_and_unknown_keys_are_named() {
    let user = "[interactions.SESSION_TITLE.default]\ntemperature = \"low\"\n";
    assert_eq!(
        load_err(user),
        "config.toml:2:15: `interactions.SESSION_TITLE.default.temperature`: `temperature` must be a number, found a string (interaction SESSION_TITLE, tier default)"
    );
    let user = "[interactions.SESSION_TITLE.default]\nmax_token = 20\n";
    assert_eq!(
        load_err(user),
        "config.toml:2:13: `interactions.SESSION_TITLE.default.max_token`: unknown key `max_token` (interaction SESSION_TITLE, tier default)\n  hint: did you mean `max_tokens`? keys are `model`, `template`, `temperature`, `max_tokens`"
    );
    let user = "interactions = 3\n";
    assert_eq!(
        load_err(user),
        "config.toml:1:16: `interactions`: `interactions` must be a table of interactions, found an integer\n  hint: write entries as [interactions.COACHING_RESPONSE.default] with `model`, `template`, `temperature`, `max_tokens`"
    );
}

#[test]
fn toml_syntax_errors_point_into_the_users_file() {
    let err = load("[interactions.SESSION_TITLE.default\nmodel = 1\n").unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("config.toml", 1));
}

#[test]
fn check_lists_every_problem_in_file_order() {
    let user = "[interactions.SESSION_TITLE.default]\nmodel = \"gpt-4x\"\n\n[interactions.CONSULTATION.free]\ntemperature = -1\n\n[interactions.NOPE.default]\nmodel = \"route\"\n";
    let errors = InteractionRegistry::check(&catalog(), &templates(), Some(("config.toml", user)))
        .unwrap_err();
    let keys: Vec<_> = errors.iter().map(|e| (e.line, e.key.as_str())).collect();
    assert_eq!(
        keys,
        vec![
            (2, "interactions.SESSION_TITLE.default.model"),
            (5, "interactions.CONSULTATION.free.temperature"),
            (7, "interactions.NOPE"),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Templates

fn full_context() -> PromptContext {
    let mut metrics = BTreeMap::new();
    metrics.insert("commitment_adherence".to_string(), serde_json::json!(0.55));
    metrics.insert("current_streak_days".to_string(), serde_json::json!(3));
    PromptContext::new("English", today())
        .with_name("Sam")
        .with_profile("Sam is a product designer weighing a move into management.")
        .with_metrics(metrics)
        .with_param("personal_prompt", "You coach Sam, a designer.")
        .with_param("current_prompt", "You coach Sam, a designer.")
        .with_param("reason", "adherence fell from 0.82 to 0.55")
}

#[test]
fn every_shipped_template_renders_with_a_full_context() {
    let t = templates();
    let ctx = full_context();
    for id in t.ids().map(str::to_string).collect::<Vec<_>>() {
        let out = t.render(&id, &ctx).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert!(out.len() > 200, "{id} rendered suspiciously short: {out}");
        assert!(!out.contains("{{") && !out.contains("{%"), "{id}: {out}");
    }
    let coaching = t.render("coaching_system", &ctx).unwrap();
    assert!(coaching.contains("working with Sam"));
    assert!(coaching.contains("Sam is a product designer"));
    assert!(coaching.contains("- commitment adherence: 0.55"));
    assert!(coaching.contains("Today is Saturday, 2026-11-21."));
    assert!(coaching.contains("Always reply in English"));
    let update = t.render("persona_update", &ctx).unwrap();
    assert!(update.contains("Why this update was triggered: adherence fell from 0.82 to 0.55"));
    assert!(!update.contains("when the current prompt was written"));
}

#[test]
fn optional_context_fields_may_be_absent() {
    let t = templates();
    let ctx = PromptContext::new("English", today());
    let out = t.render("coaching_system", &ctx).unwrap();
    assert!(out.starts_with("You are a warm, curious and practical personal coach. You coach"));
    assert!(!out.contains("intake conversation"));
    assert!(!out.contains("recent behaviour"));
    assert!(!out.contains("none"));
}

#[test]
fn a_missing_parameter_is_an_error_not_a_blank() {
    let t = templates();
    let ctx = PromptContext::new("English", today());
    let err = t.render("coaching_personal", &ctx).unwrap_err();
    match &err {
        RenderError::Render { missing, line, .. } => {
            assert_eq!(missing, &vec!["personal_prompt".to_string()]);
            assert_eq!(*line, 5);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "template `coaching_personal` (assets/prompts/coaching_personal.j2:5): missing parameter `personal_prompt`: pass it with PromptContext::with_param"
    );
    // Only the parameter that failed is named, not optional ones that are also absent.
    let ctx_update = PromptContext::new("English", today())
        .with_metrics(BTreeMap::new())
        .with_param("current_prompt", "x");
    match t.render("persona_update", &ctx_update).unwrap_err() {
        RenderError::Render { missing, .. } => assert_eq!(missing, vec!["reason".to_string()]),
        other => panic!("unexpected {other:?}"),
    }
    // An optional field a template cannot do without is required explicitly.
    let err = t.render("persona_generation", &ctx).unwrap_err();
    assert!(
        err.to_string()
            .contains("`profile` is required by this template but was not given"),
        "{err}"
    );
    assert_eq!(t.stats().errors, 3);
}

#[test]
fn chinese_language_parameter_renders() {
    let t = templates();
    let ctx = PromptContext::new("中文", today())
        .with_name("小明")
        .with_profile("小明是一名会计，想在五年内转行做产品经理。");
    let out = t.render("coaching_system", &ctx).unwrap();
    assert!(out.contains("working with 小明"));
    assert!(out.contains("Always reply in 中文"));
    assert!(out.contains("小明是一名会计，想在五年内转行做产品经理。"));
    let title = t.render("session_title", &ctx).unwrap();
    assert!(title.contains("in 中文."));
    let analysis = t.render("signal_analysis", &ctx).unwrap();
    assert!(analysis.contains("我真的不想活了"));
}

#[test]
fn unknown_template_and_reserved_param_are_errors() {
    let t = templates();
    let err = t
        .render("session_titel", &PromptContext::new("English", today()))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown template `session_titel` (did you mean `session_title`?)"
    );
    let ctx = PromptContext::new("English", today()).with_param("profile", "x");
    assert!(matches!(
        t.render("session_title", &ctx),
        Err(RenderError::ReservedParam { .. })
    ));
}

#[test]
fn compiled_templates_are_reused_across_renders() {
    let t = templates();
    let ctx = full_context();
    for _ in 0..10 {
        t.render("session_summary", &ctx).unwrap();
    }
    let stats = t.stats();
    assert_eq!(stats.renders, 10);
    assert_eq!(stats.cache_hits, 10);
    assert_eq!(stats.compiles, 10, "each shipped template compiled once");
    assert!((stats.hit_rate - 0.5).abs() < 1e-9);
}

#[test]
fn user_prompts_dir_overrides_and_adds_templates() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("session_title.j2"),
        "Title it in {{ language }}, three words.",
    )
    .unwrap();
    fs::write(dir.path().join("my_coach.j2"), "Be brief, {{ name }}.").unwrap();
    fs::write(dir.path().join("notes.txt"), "not a template").unwrap();
    let t = Templates::load(Some(dir.path())).unwrap();
    let ctx = PromptContext::new("English", today()).with_name("Ana");
    assert_eq!(
        t.render("session_title", &ctx).unwrap(),
        "Title it in English, three words."
    );
    assert_eq!(t.render("my_coach", &ctx).unwrap(), "Be brief, Ana.");
    assert!(matches!(
        t.origin("session_title"),
        Some(TemplateOrigin::Override { .. })
    ));
    assert!(matches!(
        t.origin("my_coach"),
        Some(TemplateOrigin::Added { .. })
    ));
    assert!(!t.contains("notes"));
    assert_eq!(t.stats().user_templates, vec!["my_coach", "session_title"]);

    // Interactions may name a template the person added.
    let reg = InteractionRegistry::load(
        &catalog(),
        &t,
        Some((
            "config.toml",
            "[interactions.COACHING_RESPONSE.default]\ntemplate = \"my_coach\"\n",
        )),
    )
    .unwrap();
    assert_eq!(
        reg.resolve(Interaction::CoachingResponse, UserTier::Free)
            .template,
        "my_coach"
    );
}

#[test]
fn template_syntax_error_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coaching_system.j2");
    fs::write(&path, "Hello\n{% if name %}\nno end").unwrap();
    let err = Templates::load(Some(dir.path())).unwrap_err();
    assert_eq!(err.file, path.display().to_string());
    assert_eq!(err.key, "coaching_system");
    assert_eq!(err.line, 3);
    assert!(err.message.starts_with("syntax error"), "{}", err.message);
}

// ---------------------------------------------------------------------------------------------
// Hot reload

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(config: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("prompts")).unwrap();
        let f = Fixture { dir };
        f.write_config(config);
        f
    }

    fn config_path(&self) -> std::path::PathBuf {
        self.dir.path().join("config.toml")
    }

    fn prompts(&self) -> std::path::PathBuf {
        self.dir.path().join("prompts")
    }

    /// Writes like an editor does: a temporary file renamed over the original.
    fn write_config(&self, text: &str) {
        write_atomically(&self.config_path(), text);
    }

    fn sources(&self) -> ReloadSources {
        ReloadSources {
            config_file: Some(self.config_path()),
            prompts_dir: Some(self.prompts()),
        }
    }

    fn live(&self) -> LiveInteractions {
        self.live_result().unwrap()
    }

    fn live_result(&self) -> Result<LiveInteractions, SourceError> {
        LiveInteractions::new(Arc::new(catalog()), self.sources())
    }
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

const TITLE_SONNET: &str = "[interactions.SESSION_TITLE.standard]\nmodel = \"claude-sonnet-4-6\"\n";
const TITLE_GPT: &str = "[interactions.SESSION_TITLE.standard]\nmodel = \"gpt-4o-mini\"\n";
const TITLE_TYPO: &str = "[interactions.SESSION_TITLE.standard]\nmodel = \"gpt-4o-mimi\"\n";

#[test]
fn reload_applies_a_changed_file_to_the_next_resolution() {
    let fx = Fixture::new(TITLE_SONNET);
    let live = fx.live();
    let before = live.current();
    assert_eq!(before.generation, 1);
    assert_eq!(
        before
            .resolve(Interaction::SessionTitle, UserTier::Standard)
            .model,
        model("claude-sonnet-4-6")
    );

    fx.write_config(TITLE_GPT);
    assert_eq!(live.reload_now().unwrap(), 2);
    let after = live.current();
    assert_eq!(
        after
            .resolve(Interaction::SessionTitle, UserTier::Standard)
            .model,
        model("gpt-4o-mini")
    );
    // A turn holding the old snapshot finishes on it.
    assert_eq!(
        before
            .resolve(Interaction::SessionTitle, UserTier::Standard)
            .model,
        model("claude-sonnet-4-6")
    );
    // Saving without changes is not a reload.
    fx.write_config(TITLE_GPT);
    assert_eq!(live.reload_now().unwrap(), 2);
    let d = live.diagnostics();
    assert_eq!((d.reloads.applied, d.reloads.unchanged), (1, 1));
}

#[test]
fn invalid_reload_keeps_the_last_good_config_and_reports_the_error() {
    let fx = Fixture::new(TITLE_SONNET);
    let live = fx.live();
    fx.write_config(TITLE_TYPO);
    let err = live.reload_now().unwrap_err();
    assert_eq!(err.line, 2);
    assert_eq!(err.key, "interactions.SESSION_TITLE.standard.model");
    assert!(err.message.starts_with("unknown model `gpt-4o-mimi`"));
    assert_eq!(
        err.hint.as_deref(),
        Some(
            "did you mean `gpt-4o-mini`? (`grow models` lists them all); or \"route\" to let the router choose"
        )
    );

    let current = live.current();
    assert_eq!(current.generation, 1);
    assert_eq!(
        current
            .resolve(Interaction::SessionTitle, UserTier::Standard)
            .model,
        model("claude-sonnet-4-6")
    );
    assert_eq!(live.last_error(), Some(err.clone()));
    let d = live.diagnostics();
    assert_eq!(d.reloads.rejected, 1);
    assert_eq!(d.reloads.last_error, Some(err.to_string()));

    // Fixing the file clears the error.
    fx.write_config(TITLE_GPT);
    assert_eq!(live.reload_now().unwrap(), 2);
    assert_eq!(live.last_error(), None);
}

#[test]
fn reload_picks_up_template_edits() {
    let fx = Fixture::new("");
    let live = fx.live();
    let ctx = PromptContext::new("English", today());
    let shipped = live.current().render("session_title", &ctx).unwrap();
    write_atomically(
        &fx.prompts().join("session_title.j2"),
        "Short title in {{ language }}.",
    );
    live.reload_now().unwrap();
    let edited = live.current().render("session_title", &ctx).unwrap();
    assert_ne!(shipped, edited);
    assert_eq!(edited, "Short title in English.");
    // A broken template is refused; the previous one keeps serving.
    write_atomically(&fx.prompts().join("session_title.j2"), "{{ language ");
    assert!(live.reload_now().is_err());
    assert_eq!(
        live.current().render("session_title", &ctx).unwrap(),
        "Short title in English."
    );
}

#[test]
fn starting_with_an_invalid_file_can_fall_back_to_shipped_config() {
    let fx = Fixture::new(TITLE_TYPO);
    assert!(LiveInteractions::new(Arc::new(catalog()), fx.sources()).is_err());
    let (live, error) =
        LiveInteractions::new_or_builtin(Arc::new(catalog()), fx.sources()).unwrap();
    assert!(error.is_some());
    assert_eq!(
        live.current()
            .resolve(Interaction::SessionTitle, UserTier::Standard)
            .model,
        model("claude-haiku-4-5")
    );
    fx.write_config(TITLE_GPT);
    live.reload_now().unwrap();
    assert_eq!(
        live.current()
            .resolve(Interaction::SessionTitle, UserTier::Standard)
            .model,
        model("gpt-4o-mini")
    );
}

fn next_event(rx: &mpsc::Receiver<ReloadEvent>) -> ReloadEvent {
    // Generous: file events on a loaded CI machine can be slow. Not a timing assertion.
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the watcher reported the edit")
}

/// The next applied reload. A slow machine may split one burst of writes into two reloads,
/// so while the config is broken a rejection can be reported twice; skip those.
fn next_applied(rx: &mpsc::Receiver<ReloadEvent>) -> ReloadEvent {
    for _ in 0..5 {
        let event = next_event(rx);
        if matches!(event, ReloadEvent::Applied { .. }) {
            return event;
        }
    }
    panic!("no applied reload after several events")
}

#[test]
fn watcher_reloads_after_an_edit_and_reports_bad_edits() {
    let fx = Fixture::new(TITLE_SONNET);
    let live = Arc::new(fx.live());
    let (tx, rx) = mpsc::channel();
    let watcher = live
        .watch(Duration::from_millis(50), move |event| {
            let _ = tx.send(event);
        })
        .unwrap();

    fx.write_config(TITLE_GPT);
    assert_eq!(
        next_event(&rx),
        ReloadEvent::Applied {
            generation: 2,
            changes: vec!["SESSION_TITLE/standard: model claude-sonnet-4-6 → gpt-4o-mini".into()],
        }
    );
    assert_eq!(
        live.current()
            .resolve(Interaction::SessionTitle, UserTier::Standard)
            .model,
        model("gpt-4o-mini")
    );

    fx.write_config(TITLE_TYPO);
    match next_event(&rx) {
        ReloadEvent::Rejected { error } => {
            assert_eq!(error.key, "interactions.SESSION_TITLE.standard.model")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(
        live.current()
            .resolve(Interaction::SessionTitle, UserTier::Standard)
            .model,
        model("gpt-4o-mini")
    );

    write_atomically(
        &fx.prompts().join("consultation.j2"),
        "Interview in {{ language }}.",
    );
    // The config is still broken, so the template edit is refused too, until it is fixed.
    assert!(matches!(next_event(&rx), ReloadEvent::Rejected { .. }));
    fx.write_config(TITLE_SONNET);
    assert_eq!(
        next_applied(&rx),
        ReloadEvent::Applied {
            generation: 3,
            changes: vec![
                "SESSION_TITLE/standard: model gpt-4o-mini → claude-sonnet-4-6".into(),
                "template consultation changed".into(),
            ],
        }
    );
    let ctx = PromptContext::new("English", today());
    assert_eq!(
        live.current().render("consultation", &ctx).unwrap(),
        "Interview in English."
    );
    drop(watcher);
}

#[test]
fn diagnostics_serialise_for_the_dashboard() {
    let fx = Fixture::new(TITLE_SONNET);
    let live = fx.live();
    let snap = live.current();
    let ctx = full_context();
    snap.prepare(Interaction::SessionTitle, UserTier::Free, &ctx)
        .unwrap();
    snap.prepare(Interaction::SessionTitle, UserTier::Premium, &ctx)
        .unwrap();
    let d = live.diagnostics();
    assert_eq!(d.resolve.resolutions, 2);
    assert_eq!(d.resolve.fallbacks.to_default, 1);
    assert_eq!(d.templates.renders, 2);
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["resolve"]["fallbacks"]["to_default"], 1);
    assert_eq!(json["templates"]["renders"], 2);
    assert!(json["resolve"]["lookup_latency"]["p50_ns_at_most"].is_u64());
    assert_eq!(json["reloads"]["last_error"], serde_json::Value::Null);

    let reg = InteractionRegistry::load(&catalog(), &templates(), None).unwrap();
    let d = Diagnostics::of(&reg, &templates());
    assert_eq!(d.resolve.resolutions, 0);
}

#[test]
fn coaching_turn_uses_the_personal_prompt_when_there_is_one() {
    let fx = Fixture::new("");
    let live = fx.live();
    let snap = live.current();
    let ctx = PromptContext::new("English", today()).with_name("Sam");
    let generic = snap.prepare_coaching(UserTier::Free, &ctx, None).unwrap();
    assert_eq!(generic.resolved.template, "coaching_system");
    assert!(generic.system_prompt.contains("GROW model"));
    let personal = snap
        .prepare_coaching(
            UserTier::Free,
            &ctx,
            Some("You coach Sam, who wants to run a marathon."),
        )
        .unwrap();
    assert_eq!(personal.resolved.template, PERSONAL_TEMPLATE);
    assert_eq!(
        personal.resolved.max_tokens, 600,
        "numbers still come from the free entry"
    );
    assert!(
        personal
            .system_prompt
            .starts_with("You coach Sam, who wants to run a marathon.\n\n---\n")
    );
}

#[test]
fn check_renders_exercises_every_configured_template() {
    let fx = Fixture::new("");
    let live = fx.live();
    let checks = live
        .current()
        .check_renders(&PromptContext::sample(today()));
    assert_eq!(checks.len(), 27);
    for c in &checks {
        assert!(
            c.result.is_ok(),
            "{}/{}: {:?}",
            c.interaction,
            c.tier,
            c.result
        );
    }
    // A template that needs parameters its interaction never passes is caught.
    fx.write_config("[interactions.SESSION_TITLE.free]\ntemplate = \"persona_update\"\n");
    live.reload_now().unwrap();
    let ctx = PromptContext::new("English", today());
    let failing: Vec<_> = live
        .current()
        .check_renders(&ctx)
        .into_iter()
        .filter(|c| c.template == "persona_update" && c.result.is_err())
        .map(|c| (c.interaction, c.tier))
        .collect();
    assert!(failing.contains(&(Interaction::SessionTitle, UserTier::Free)));
    assert!(live.diagnostics().templates.errors >= 1);
}

#[test]
fn watcher_sees_a_prompts_directory_created_after_start() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = dir.path().join("prompts");
    let sources = ReloadSources {
        config_file: Some(dir.path().join("config.toml")),
        prompts_dir: Some(prompts.clone()),
    };
    let live = Arc::new(LiveInteractions::new(Arc::new(catalog()), sources).unwrap());
    let (tx, rx) = mpsc::channel();
    let _watcher = live
        .watch(Duration::from_millis(50), move |event| {
            let _ = tx.send(event);
        })
        .unwrap();
    fs::create_dir(&prompts).unwrap();
    write_atomically(
        &prompts.join("session_title.j2"),
        "Name it in {{ language }}.",
    );
    match next_event(&rx) {
        ReloadEvent::Applied { changes, .. } => {
            assert_eq!(changes, vec!["template session_title changed".to_string()])
        }
        other => panic!("expected the new template to apply, got {other:?}"),
    }
    let ctx = PromptContext::new("English", today());
    assert_eq!(
        live.current().render("session_title", &ctx).unwrap(),
        "Name it in English."
    );
}

/// What the config loader would pass: the shipped catalog plus the file's `[[catalog.models]]`.
fn catalog_with_user_models(file: &str, src: &str) -> Result<Catalog, SourceError> {
    let mut catalog = Catalog::builtin()?;
    let doc: toml::Table =
        toml::from_str(src).map_err(|e| SourceError::from_toml(file, src, &e))?;
    let models = doc
        .get("catalog")
        .and_then(|c| c.get("models"))
        .cloned()
        .map(|m| m.try_into::<Vec<grow::catalog::ModelOverride>>())
        .transpose()
        .map_err(|e| SourceError::from_toml(file, src, &e))?
        .unwrap_or_default();
    catalog.apply_overrides(&models, file, src, &grow::toml_path!["catalog", "models"])?;
    Ok(catalog)
}

#[test]
fn a_catalog_loader_lets_one_edit_add_a_model_and_use_it() {
    const LAB_MODEL: &str = "[[catalog.models]]\nid = \"lab-model\"\nprovider = \"openai-compatible\"\nendpoint = \"lab\"\ntier = 3\ncontext_window = 8192\nmax_output = 1024\ninput = 0.0\noutput = 0.0\n";
    let use_it = "\n[interactions.SESSION_TITLE.default]\nmodel = \"lab-model\"\n";
    let fx = Fixture::new("");
    let live = LiveInteractions::with_catalog_loader(
        Arc::new(catalog()),
        fx.sources(),
        Arc::new(catalog_with_user_models),
    )
    .unwrap();
    fx.write_config(&format!("{LAB_MODEL}{use_it}"));
    live.reload_now().unwrap();
    assert_eq!(
        live.current()
            .resolve(Interaction::SessionTitle, UserTier::Standard)
            .model,
        model("lab-model")
    );
    // Without the loader the new model is unknown to validation.
    let plain = fx.live_result();
    assert!(
        plain
            .unwrap_err()
            .message
            .starts_with("unknown model `lab-model`")
    );
}
