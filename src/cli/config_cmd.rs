//! `grow config check` and `grow config path`.

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

pub fn render_check(config: &Config, style: Style) -> String {
    let mut out = String::new();
    let source = if config.paths.config_file_exists {
        format!("{} is valid", config.paths.config_file.display())
    } else {
        format!(
            "no config file at {} — using defaults",
            config.paths.config_file.display()
        )
    };
    out.push_str(&style.green(&format!("✓ {source}")));
    out.push('\n');
    for w in &config.warnings {
        out.push_str(&style.yellow(&format!("warning: {w}")));
        out.push('\n');
    }
    out.push_str(&style.dim("# effective settings (file ← environment), keys redacted\n"));
    out.push_str(&config.effective_toml());
    out
}
