//! Colour themes: dark, light and monochrome. `NO_COLOR` (checked by the caller, who may
//! read the environment) selects monochrome whatever the configured name. In monochrome,
//! meaning is carried by symbols and modifiers (bold, reversed, underline) alone.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;

/// The tone a piece of text carries; panes say what they mean, the theme says how it looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Normal,
    Muted,
    Accent,
    Good,
    Warn,
    Bad,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: &'static str,
    pub text: Style,
    pub muted: Style,
    pub accent: Style,
    pub good: Style,
    pub warn: Style,
    pub bad: Style,
    pub selected: Style,
    pub header: Style,
    pub border: Style,
    pub border_focus: Style,
    pub title: Style,
    pub popup: Style,
    /// The status-bar badge of a production profile.
    pub production_badge: Style,
    pub profile_badge: Style,
    pub readonly_badge: Style,
    pub status_bar: Style,
    pub baseline: Style,
    pub canary: Style,
    pub threshold: Style,
    pub baseline_marker: Marker,
    pub canary_marker: Marker,
}

impl Theme {
    pub const NAMES: [&'static str; 3] = ["dark", "light", "mono"];

    /// The theme called `name` (unknown names fall back to dark); `no_color` forces mono.
    pub fn named(name: &str, no_color: bool) -> Theme {
        if no_color {
            return Theme::mono();
        }
        match name {
            "light" => Theme::light(),
            "mono" | "monochrome" => Theme::mono(),
            _ => Theme::dark(),
        }
    }

    pub fn tone(&self, tone: Tone) -> Style {
        match tone {
            Tone::Normal => self.text,
            Tone::Muted => self.muted,
            Tone::Accent => self.accent,
            Tone::Good => self.good,
            Tone::Warn => self.warn,
            Tone::Bad => self.bad,
        }
    }

    pub fn dark() -> Theme {
        let bold = Modifier::BOLD;
        Theme {
            name: "dark",
            text: Style::new(),
            muted: Style::new().fg(Color::DarkGray),
            accent: Style::new().fg(Color::Cyan),
            good: Style::new().fg(Color::Green),
            warn: Style::new().fg(Color::Yellow),
            bad: Style::new().fg(Color::Red),
            selected: Style::new().bg(Color::DarkGray).add_modifier(bold),
            header: Style::new().fg(Color::Gray).add_modifier(bold),
            border: Style::new().fg(Color::DarkGray),
            border_focus: Style::new().fg(Color::Cyan),
            title: Style::new().add_modifier(bold),
            popup: Style::new().bg(Color::Black),
            production_badge: Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(bold),
            profile_badge: Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(bold),
            readonly_badge: Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(bold),
            status_bar: Style::new(),
            baseline: Style::new().fg(Color::Blue),
            canary: Style::new().fg(Color::Magenta),
            threshold: Style::new().fg(Color::Red),
            baseline_marker: Marker::Braille,
            canary_marker: Marker::Braille,
        }
    }

    pub fn light() -> Theme {
        let bold = Modifier::BOLD;
        Theme {
            name: "light",
            text: Style::new(),
            muted: Style::new().fg(Color::Indexed(244)),
            accent: Style::new().fg(Color::Indexed(25)),
            good: Style::new().fg(Color::Indexed(28)),
            warn: Style::new().fg(Color::Indexed(130)),
            bad: Style::new().fg(Color::Indexed(160)),
            selected: Style::new().bg(Color::Indexed(252)).add_modifier(bold),
            header: Style::new().fg(Color::Indexed(238)).add_modifier(bold),
            border: Style::new().fg(Color::Indexed(248)),
            border_focus: Style::new().fg(Color::Indexed(25)),
            title: Style::new().add_modifier(bold),
            popup: Style::new().bg(Color::Indexed(255)),
            production_badge: Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(bold),
            profile_badge: Style::new()
                .fg(Color::White)
                .bg(Color::Indexed(25))
                .add_modifier(bold),
            readonly_badge: Style::new()
                .fg(Color::Black)
                .bg(Color::Indexed(220))
                .add_modifier(bold),
            status_bar: Style::new(),
            baseline: Style::new().fg(Color::Indexed(25)),
            canary: Style::new().fg(Color::Indexed(127)),
            threshold: Style::new().fg(Color::Indexed(160)),
            baseline_marker: Marker::Braille,
            canary_marker: Marker::Braille,
        }
    }

    pub fn mono() -> Theme {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            name: "mono",
            text: Style::new(),
            muted: Style::new().add_modifier(Modifier::DIM),
            accent: bold,
            good: Style::new(),
            warn: bold,
            bad: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            header: bold,
            border: Style::new(),
            border_focus: bold,
            title: bold,
            popup: Style::new(),
            production_badge: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            profile_badge: Style::new().add_modifier(Modifier::REVERSED),
            readonly_badge: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            status_bar: Style::new(),
            baseline: Style::new(),
            canary: bold,
            threshold: Style::new().add_modifier(Modifier::DIM),
            baseline_marker: Marker::Dot,
            canary_marker: Marker::Braille,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_forces_mono() {
        assert_eq!(Theme::named("dark", true).name, "mono");
        assert_eq!(Theme::named("light", false).name, "light");
        assert_eq!(Theme::named("nonsense", false).name, "dark");
        let mono = Theme::mono();
        for s in [mono.bad, mono.good, mono.production_badge, mono.canary] {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
    }
}
