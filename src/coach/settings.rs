//! Loading the configuration with the sections whose meaning lives in this layer and below
//! (the analyzer presets, the personalised coach's update schedule). `config` itself stays
//! at the bottom and knows nothing of them; every face loads through here.

use crate::catalog::Catalog;
use crate::config::{Config, ConfigError, LoadOptions, Settings};
use crate::routing::analyzer::{AnalyzerPresets, ResolvedAnalyzer, SettingsError};
use crate::source_error::SourceError;
use crate::toml_path;

/// `Config::load`, then the `[analyzer]` and `[personalization]` sections checked (errors
/// located in the file) and the personalization env variables applied over the file.
pub fn load(opts: &LoadOptions<'_>) -> Result<Config, ConfigError> {
    let mut config = Config::load(opts)?;
    let file = config.paths.config_file.display().to_string();
    let src = config.file_src.clone().unwrap_or_default();
    resolve_analyzer(&config.settings, &config.catalog)
        .map_err(|e| ConfigError::File(e.locate(&file, &src)))?;
    apply_personalization_env(&mut config.settings, &file, &src, opts.env)?;
    Ok(config)
}

/// The `[analyzer]` section applied to the shipped presets and checked against `catalog`
/// (the catalog in effect, with the user's models).
pub fn resolve_analyzer(
    s: &Settings,
    catalog: &Catalog,
) -> Result<ResolvedAnalyzer, SettingsError> {
    let presets = AnalyzerPresets::builtin().map_err(|e| SettingsError {
        field: "preset",
        message: format!("the shipped analyzer presets are invalid: {e}"),
        hint: None,
    })?;
    s.analyzer.resolve(&presets, catalog)
}

/// Checks the file's `[personalization]` values (located in the file), then applies the
/// policy's env variables over them (errors name the variable).
fn apply_personalization_env(
    s: &mut Settings,
    file: &str,
    src: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Err((var, message)) = s.personalization.validate() {
        let key = message.split_whitespace().next().unwrap_or_default();
        return Err(SourceError::at_path(
            file,
            src,
            &toml_path!["personalization", key],
            message.clone(),
            Some(format!(
                "fix the value in the file (or override it with {var})"
            )),
        )
        .into());
    }
    s.personalization.apply_env(env).map_err(|e| {
        let (var, message) = e
            .split_once(": ")
            .unwrap_or(("personalization", e.as_str()));
        ConfigError::Env {
            var: var.to_string(),
            message: message.to_string(),
            hint: None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load_with(src: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        if let Some(src) = src {
            std::fs::write(&path, src).unwrap();
        }
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert("GROW_DATA_DIR".into(), dir.path().display().to_string());
        let env = move |k: &str| map.get(k).cloned();
        load(&LoadOptions {
            config_path: src.map(|_| path.clone()),
            db_override: None,
            env: &env,
        })
    }

    fn file_err(src: &str) -> SourceError {
        match load_with(Some(src), &[]) {
            Err(ConfigError::File(e)) => e,
            other => panic!("expected a file error, got {other:?}"),
        }
    }

    #[test]
    fn analyzer_section_is_validated_and_located() {
        let c = load_with(
            Some("[analyzer]\npreset = \"balanced\"\nbudget_ms = 800\n"),
            &[],
        )
        .unwrap();
        let resolved = resolve_analyzer(&c.settings, &c.catalog).unwrap();
        assert_eq!(resolved.budget_ms, 800);
        assert!(resolved.is_enabled());
        let off = load_with(None, &[]).unwrap();
        assert!(
            !resolve_analyzer(&off.settings, &off.catalog)
                .unwrap()
                .is_enabled()
        );

        let err = load_with(Some("[models]\nauto_upgrade = true\n\n[analyzer]\npreset = \"balanced\"\nbudget_ms = 5\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains(":6:"), "{err}");
        assert!(err.contains("budget_ms"), "{err}");
        let err = load_with(Some("[analyzer]\npreset = \"balancd\"\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `balanced`"), "{err}");
        let err = load_with(Some("[analyzer]\nbudget = 1\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("budget"), "{err}");
    }

    #[test]
    fn personalization_env_overrides_the_file_and_errors_name_the_variable() {
        let c = load_with(
            Some("[personalization]\nupdate_hour = 5\nmin_days_between_updates = 3\n"),
            &[
                ("PROMPT_UPDATE_HOUR", "4"),
                ("ENABLE_GENERIC_FALLBACK", "false"),
            ],
        )
        .unwrap();
        let p = &c.settings.personalization;
        assert_eq!(
            (
                p.update_hour,
                p.min_days_between_updates,
                p.enable_generic_fallback
            ),
            (4, 3, false)
        );
        let err = load_with(None, &[("ADHERENCE_CHANGE_THRESHOLD", "lots")]).unwrap_err();
        assert!(
            err.to_string().contains("ADHERENCE_CHANGE_THRESHOLD"),
            "{err}"
        );
        let e = file_err("[personalization]\nupdate_hour = 30\n");
        assert_eq!((e.line, e.key.as_str()), (2, "personalization.update_hour"));
    }
}
