//! Colours and text styles. Two palettes (dark and light backgrounds) and a no-colour mode
//! that conveys the same distinctions with modifiers only (`NO_COLOR`).

use ratatui::style::{Color, Modifier, Style};

/// Which background the palette is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThemeKind {
    #[default]
    Dark,
    Light,
}

/// Every style a view uses, resolved once at start.
#[derive(Debug, Clone)]
pub struct Theme {
    pub base: Style,
    pub dim: Style,
    pub border: Style,
    pub border_focus: Style,
    pub title: Style,
    pub tab: Style,
    pub tab_active: Style,
    pub user_label: Style,
    pub coach_label: Style,
    pub offline_label: Style,
    pub heading: Style,
    pub emphasis: Style,
    pub strong: Style,
    pub code_inline: Style,
    pub code_block: Style,
    pub code_keyword: Style,
    pub code_string: Style,
    pub code_comment: Style,
    pub code_number: Style,
    pub link: Style,
    pub quote: Style,
    pub ok: Style,
    pub warn: Style,
    pub error: Style,
    pub safety: Style,
    pub bar_fill: Style,
    pub bar_empty: Style,
    pub key: Style,
    pub accent: Style,
    pub no_color: bool,
}

impl Theme {
    pub fn new(kind: ThemeKind, no_color: bool) -> Theme {
        if no_color {
            return Theme::monochrome();
        }
        match kind {
            ThemeKind::Dark => Theme::dark(),
            ThemeKind::Light => Theme::light(),
        }
    }

    fn dark() -> Theme {
        let fg = |c: Color| Style::new().fg(c);
        Theme {
            base: Style::new(),
            dim: fg(Color::DarkGray),
            border: fg(Color::DarkGray),
            border_focus: fg(Color::Cyan),
            title: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            tab: fg(Color::Gray),
            tab_active: fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            user_label: fg(Color::LightBlue).add_modifier(Modifier::BOLD),
            coach_label: fg(Color::LightGreen).add_modifier(Modifier::BOLD),
            offline_label: fg(Color::Black).bg(Color::Yellow),
            heading: fg(Color::LightCyan).add_modifier(Modifier::BOLD),
            emphasis: Style::new().add_modifier(Modifier::ITALIC),
            strong: Style::new().add_modifier(Modifier::BOLD),
            code_inline: fg(Color::LightYellow),
            code_block: fg(Color::Gray),
            code_keyword: fg(Color::LightMagenta).add_modifier(Modifier::BOLD),
            code_string: fg(Color::LightGreen),
            code_comment: fg(Color::DarkGray).add_modifier(Modifier::ITALIC),
            code_number: fg(Color::LightCyan),
            link: fg(Color::LightBlue).add_modifier(Modifier::UNDERLINED),
            quote: fg(Color::Gray).add_modifier(Modifier::ITALIC),
            ok: fg(Color::LightGreen),
            warn: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            error: fg(Color::LightRed).add_modifier(Modifier::BOLD),
            safety: fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD),
            bar_fill: fg(Color::Cyan),
            bar_empty: fg(Color::DarkGray),
            key: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            accent: fg(Color::Cyan),
            no_color: false,
        }
    }

    /// Darker hues: yellow and light variants vanish on a white background.
    fn light() -> Theme {
        let fg = |c: Color| Style::new().fg(c);
        let slate = Color::Indexed(240);
        let amber = Color::Indexed(130);
        Theme {
            base: Style::new(),
            dim: fg(slate),
            border: fg(Color::Indexed(248)),
            border_focus: fg(Color::Blue),
            title: fg(Color::Blue).add_modifier(Modifier::BOLD),
            tab: fg(slate),
            tab_active: fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(Modifier::BOLD),
            user_label: fg(Color::Blue).add_modifier(Modifier::BOLD),
            coach_label: fg(Color::Indexed(28)).add_modifier(Modifier::BOLD),
            offline_label: fg(Color::White).bg(amber),
            heading: fg(Color::Indexed(25)).add_modifier(Modifier::BOLD),
            emphasis: Style::new().add_modifier(Modifier::ITALIC),
            strong: Style::new().add_modifier(Modifier::BOLD),
            code_inline: fg(Color::Indexed(124)),
            code_block: fg(Color::Indexed(236)),
            code_keyword: fg(Color::Magenta).add_modifier(Modifier::BOLD),
            code_string: fg(Color::Indexed(28)),
            code_comment: fg(slate).add_modifier(Modifier::ITALIC),
            code_number: fg(Color::Indexed(25)),
            link: fg(Color::Blue).add_modifier(Modifier::UNDERLINED),
            quote: fg(slate).add_modifier(Modifier::ITALIC),
            ok: fg(Color::Indexed(28)),
            warn: fg(amber).add_modifier(Modifier::BOLD),
            error: fg(Color::Red).add_modifier(Modifier::BOLD),
            safety: fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD),
            bar_fill: fg(Color::Blue),
            bar_empty: fg(Color::Indexed(250)),
            key: fg(Color::Blue).add_modifier(Modifier::BOLD),
            accent: fg(Color::Blue),
            no_color: false,
        }
    }

    /// `NO_COLOR`: no colour at all; bold, dim, italic, underline and reverse carry meaning.
    fn monochrome() -> Theme {
        let m = |md: Modifier| Style::new().add_modifier(md);
        Theme {
            base: Style::new(),
            dim: m(Modifier::DIM),
            border: Style::new(),
            border_focus: m(Modifier::BOLD),
            title: m(Modifier::BOLD),
            tab: Style::new(),
            tab_active: m(Modifier::REVERSED | Modifier::BOLD),
            user_label: m(Modifier::BOLD),
            coach_label: m(Modifier::BOLD | Modifier::UNDERLINED),
            offline_label: m(Modifier::REVERSED),
            heading: m(Modifier::BOLD | Modifier::UNDERLINED),
            emphasis: m(Modifier::ITALIC),
            strong: m(Modifier::BOLD),
            code_inline: m(Modifier::BOLD),
            code_block: Style::new(),
            code_keyword: m(Modifier::BOLD),
            code_string: m(Modifier::ITALIC),
            code_comment: m(Modifier::DIM),
            code_number: Style::new(),
            link: m(Modifier::UNDERLINED),
            quote: m(Modifier::ITALIC),
            ok: Style::new(),
            warn: m(Modifier::BOLD),
            error: m(Modifier::BOLD | Modifier::REVERSED),
            safety: m(Modifier::BOLD | Modifier::REVERSED),
            bar_fill: Style::new(),
            bar_empty: m(Modifier::DIM),
            key: m(Modifier::BOLD),
            accent: m(Modifier::BOLD),
            no_color: true,
        }
    }
}

/// True when the `NO_COLOR` convention asks for no colour (set and not empty).
pub fn no_color_from_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monochrome_theme_uses_no_colour() {
        let t = Theme::new(ThemeKind::Dark, true);
        for s in [
            t.base,
            t.dim,
            t.title,
            t.tab_active,
            t.safety,
            t.warn,
            t.error,
            t.code_keyword,
            t.offline_label,
            t.bar_fill,
        ] {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
        assert!(t.safety.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn light_theme_avoids_yellow_text() {
        let t = Theme::new(ThemeKind::Light, false);
        for s in [t.warn, t.code_inline, t.heading, t.ok] {
            assert_ne!(s.fg, Some(Color::Yellow));
            assert_ne!(s.fg, Some(Color::LightYellow));
        }
    }
}
