//! `grow config check [--stats]` and `grow config path`.

use chrono::Local;

use crate::coach::interactions::{Interaction, InteractionRegistry, UserTier};
use crate::coach::reload::Diagnostics;
use crate::coach::templates::{PromptContext, Templates};
use crate::config::Config;

use super::style::Style;

pub fn render_paths(config: &Config) -> String {
    let p = &config.paths;
    let exists = |b: bool| if b { "" } else { "  (not created yet)" };
    format!(
        "config file  {}{}\ndata dir     {}\ndatabase     {}{}\nlogs         {}\nprompts      {}{}\n",
        p.config_file.display(),
        exists(p.config_file_exists),
        p.data_dir.display(),
        p.db.display(),
        exists(p.db.exists()),
        p.log_dir.display(),
        p.prompts_dir.display(),
        exists(p.prompts_dir.exists()),
    )
}

/// The result of checking everything the config steers: settings (already validated at
/// load), interactions and prompt templates.
pub struct CheckReport {
    pub text: String,
    pub ok: bool,
}

/// Validates interactions and templates against the catalog, every error listed in file
/// order; with `stats`, renders every interaction once and reports the diagnostics.
pub fn check(config: &Config, key_lines: &[String], stats: bool, style: Style) -> CheckReport {
    let mut out = String::new();
    let mut ok = true;
    let file_name = config.paths.config_file.display().to_string();
    let user = config
        .file_src
        .as_deref()
        .map(|src| (file_name.as_str(), src));
    let prompts_dir = config
        .paths
        .prompts_dir
        .exists()
        .then_some(config.paths.prompts_dir.as_path());
    let templates = match Templates::load(prompts_dir) {
        Ok(t) => Some(t),
        Err(e) => {
            ok = false;
            out.push_str(&style.red(&format!("✗ {e}\n")));
            None
        }
    };
    let registry = templates.as_ref().and_then(|t| {
        match InteractionRegistry::check(&config.catalog, t, user) {
            Ok(r) => Some(r),
            Err(errors) => {
                ok = false;
                for e in errors {
                    out.push_str(&style.red(&format!("✗ {e}\n")));
                }
                None
            }
        }
    });
    if ok {
        let source = if config.paths.config_file_exists {
            format!("{} is valid", config.paths.config_file.display())
        } else {
            format!(
                "no config file at {} — using defaults",
                config.paths.config_file.display()
            )
        };
        out.push_str(&style.green(&format!(
            "✓ {source}; interactions and prompt templates are valid\n"
        )));
    }
    for w in &config.warnings {
        out.push_str(&style.yellow(&format!("warning: {w}\n")));
    }
    for line in key_lines {
        out.push_str(&format!("{line}\n"));
    }
    if let (true, Some(registry), Some(templates)) = (stats, &registry, &templates) {
        out.push_str(&render_stats(registry, templates, &mut ok, style));
    }
    out.push_str(&style.dim("# effective settings (file ← environment), keys redacted\n"));
    out.push_str(&config.effective_toml());
    CheckReport { text: out, ok }
}

fn render_stats(
    registry: &InteractionRegistry,
    templates: &Templates,
    ok: &mut bool,
    style: Style,
) -> String {
    let mut out = String::from("\ninteractions (tier standard / free / premium):\n");
    let ctx = PromptContext::sample(Local::now().date_naive());
    for interaction in Interaction::ALL {
        let cells: Vec<String> = [UserTier::Standard, UserTier::Free, UserTier::Premium]
            .into_iter()
            .map(|tier| {
                let r = registry.resolve(interaction, tier);
                format!(
                    "{} ({}, {}, {} tok)",
                    r.model,
                    r.source.as_str(),
                    r.template,
                    r.max_tokens
                )
            })
            .collect();
        out.push_str(&format!(
            "  {:<22} {}\n",
            interaction.as_code(),
            cells.join(" | ")
        ));
        let template = registry.resolve(interaction, UserTier::Standard).template;
        if let Err(e) = templates.render(&template, &ctx) {
            // Templates that need per-call parameters report them; that is information, not
            // an error, unless the sample context should have covered it.
            out.push_str(&style.dim(&format!("    render with sample context: {e}\n")));
        }
    }
    let d = Diagnostics::of(registry, templates);
    let lat = &d.resolve.lookup_latency;
    out.push_str(&format!(
        "\nlookups {} · latency p50 ≤ {} ns, p99 ≤ {} ns, max {} ns\n",
        d.resolve.resolutions, lat.p50_ns_at_most, lat.p99_ns_at_most, lat.max_ns
    ));
    out.push_str(&format!(
        "fallbacks: to default {}, to built-in {}\n",
        d.resolve.fallbacks.to_default, d.resolve.fallbacks.to_builtin
    ));
    let t = &d.templates;
    out.push_str(&format!(
        "templates: {} renders, {} compiles, cache hit rate {:.0}%, {} errors\n\n",
        t.renders,
        t.compiles,
        t.hit_rate * 100.0,
        t.errors
    ));
    if t.errors > 0 && !out.contains("render with sample context") {
        *ok = false;
    }
    out
}
