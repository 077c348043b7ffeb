//! `grow models`: the catalog as a table or JSON.

use crate::catalog::Catalog;

use super::style::{Style, table};

pub fn render_table(catalog: &Catalog, default: &str, upgrade: &str, style: Style) -> String {
    let rows: Vec<Vec<String>> = catalog
        .models()
        .iter()
        .map(|m| {
            let role = if m.id == default {
                "default"
            } else if m.id == upgrade {
                "upgrade"
            } else {
                ""
            };
            vec![
                m.id.clone(),
                m.provider.to_string(),
                m.tier.to_string(),
                format_tokens(m.context_window),
                format_tokens(m.max_output),
                format!("{:.2}", m.input),
                format!("{:.2}", m.output),
                format!("{:.3}", m.cache_write),
                format!("{:.3}", m.cache_read),
                format!("{:.2}", m.capability),
                m.price_date.clone(),
                role.to_string(),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "id",
            "provider",
            "tier",
            "context",
            "max out",
            "in $/M",
            "out $/M",
            "cache w",
            "cache r",
            "capab.",
            "price date",
            "role",
        ],
        &rows,
        &[2, 3, 4, 5, 6, 7, 8, 9],
    );
    out.push_str(&style.dim("tier: 1 high, 2 balanced, 3 efficient · prices in USD per 1M tokens · sources: grow models --json\n"));
    out
}

fn format_tokens(n: u64) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

pub fn render_json(catalog: &Catalog) -> serde_json::Result<String> {
    serde_json::to_string_pretty(catalog.models())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_every_model_and_marks_the_pair() {
        let c = Catalog::builtin().unwrap();
        let t = render_table(&c, "claude-sonnet-4-6", "claude-opus-4-6", Style::plain());
        for m in c.models() {
            assert!(t.contains(&m.id), "{} missing", m.id);
        }
        let opus = t
            .lines()
            .find(|l| l.starts_with("claude-opus-4-6 "))
            .unwrap();
        assert!(
            opus.contains("5.00") && opus.contains("25.00") && opus.trim_end().ends_with("upgrade"),
            "{opus}"
        );
        let json: serde_json::Value = serde_json::from_str(&render_json(&c).unwrap()).unwrap();
        assert_eq!(json.as_array().map(|a| a.len()), Some(c.models().len()));
    }
}
