//! Key → command mapping as data: defaults embedded here, overrides from the config file,
//! printable and listed in the `?` help.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A named thing the operator can do with one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    Quit,
    Help,
    Palette,
    Filter,
    NextPane,
    PrevPane,
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    Select,
    Back,
    Deploy,
    Canary,
    Rollback,
    PromoteStep,
    PromoteFull,
    PauseResume,
    Abort,
    Refresh,
    Describe,
    CopyId,
    Wide,
    Sort,
    SortReverse,
}

/// Where a command does something; the help lists a pane's commands only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    /// Versions (and Bots, which leads to a version).
    Versions,
    /// Deployments and Canary: commands for a running workflow.
    Running,
    Bots,
    /// Every list pane (Bots, Versions, Deployments, Timeline): sort and filter.
    Lists,
}

impl Command {
    pub const ALL: [Command; 27] = [
        Command::Quit,
        Command::Help,
        Command::Palette,
        Command::Filter,
        Command::NextPane,
        Command::PrevPane,
        Command::Down,
        Command::Up,
        Command::PageDown,
        Command::PageUp,
        Command::Top,
        Command::Bottom,
        Command::Select,
        Command::Back,
        Command::Deploy,
        Command::Canary,
        Command::Rollback,
        Command::PromoteStep,
        Command::PromoteFull,
        Command::PauseResume,
        Command::Abort,
        Command::Refresh,
        Command::Describe,
        Command::CopyId,
        Command::Wide,
        Command::Sort,
        Command::SortReverse,
    ];

    /// The name used in the config file.
    pub fn name(self) -> &'static str {
        match self {
            Command::Quit => "quit",
            Command::Help => "help",
            Command::Palette => "palette",
            Command::Filter => "filter",
            Command::NextPane => "next_pane",
            Command::PrevPane => "prev_pane",
            Command::Down => "down",
            Command::Up => "up",
            Command::PageDown => "page_down",
            Command::PageUp => "page_up",
            Command::Top => "top",
            Command::Bottom => "bottom",
            Command::Select => "select",
            Command::Back => "back",
            Command::Deploy => "deploy",
            Command::Canary => "canary",
            Command::Rollback => "rollback",
            Command::PromoteStep => "promote_step",
            Command::PromoteFull => "promote_full",
            Command::PauseResume => "pause_resume",
            Command::Abort => "abort",
            Command::Refresh => "refresh",
            Command::Describe => "describe",
            Command::CopyId => "copy_id",
            Command::Wide => "wide",
            Command::Sort => "sort",
            Command::SortReverse => "sort_reverse",
        }
    }

    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }

    /// What the command does, for the help overlay.
    pub fn describe(self) -> &'static str {
        match self {
            Command::Quit => "quit (asks first while operations run)",
            Command::Help => "this help",
            Command::Palette => "command palette",
            Command::Filter => "filter the list (any text in its rows; esc clears)",
            Command::NextPane => "next pane",
            Command::PrevPane => "previous pane",
            Command::Down => "move down",
            Command::Up => "move up",
            Command::PageDown => "page down",
            Command::PageUp => "page up",
            Command::Top => "first row",
            Command::Bottom => "last row",
            Command::Select => "select / open",
            Command::Back => "back, close, clear filter",
            Command::Deploy => "deploy the selected version (blue-green, with preview)",
            Command::Canary => "start a canary of the selected version",
            Command::Rollback => "roll the selected bot back (pick a version)",
            Command::PromoteStep => "promote the canary one step",
            Command::PromoteFull => "promote the canary to 100%",
            Command::PauseResume => "pause / resume the selected operation",
            Command::Abort => "abort the selected operation (restores)",
            Command::Refresh => "refresh now",
            Command::Describe => "describe the selected row: every field and id",
            Command::CopyId => "copy the id (of the row, or of what describe shows)",
            Command::Wide => "wide mode: every column, nothing dropped",
            Command::Sort => "sort the list: next key (then its own order again)",
            Command::SortReverse => "sort the list the other way round",
        }
    }

    pub fn scope(self) -> Scope {
        match self {
            Command::Deploy | Command::Canary => Scope::Versions,
            Command::Rollback => Scope::Bots,
            Command::PromoteStep | Command::PromoteFull | Command::PauseResume | Command::Abort => {
                Scope::Running
            }
            Command::Filter | Command::Sort | Command::SortReverse => Scope::Lists,
            _ => Scope::Global,
        }
    }

    /// Whether it changes anything on a server (refused in read-only mode).
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Command::Deploy
                | Command::Canary
                | Command::Rollback
                | Command::PromoteStep
                | Command::PromoteFull
                | Command::PauseResume
                | Command::Abort
        )
    }
}

/// The default bindings (key → command name): the `[keymap]` of
/// `assets/default-config.toml`, the same text `relcon --print-default-config` prints.
pub fn default_bindings() -> BTreeMap<String, String> {
    // The embedded defaults are parsed in the config module's tests; an empty map here
    // would show up in this module's tests as missing bindings.
    crate::config::UiSettings::defaults()
        .map(|s| s.keymap.bindings)
        .unwrap_or_default()
}

/// One key with its modifiers, normalised so that `P` and `shift-p` compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyChord {
    code: ChordCode,
    ctrl: bool,
    alt: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum ChordCode {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    F(u8),
}

impl KeyChord {
    /// Parse `q`, `P`, `?`, `space`, `enter`, `ctrl-r`, `alt-x`, `shift-tab`, `f5`, ...
    pub fn parse(s: &str) -> Option<KeyChord> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        let mut ctrl = false;
        let mut alt = false;
        let mut shift = false;
        let mut rest = s;
        // A lone "-" is a key, not a separator.
        while rest.len() > 1 {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = strip_mod(&lower, &["ctrl-", "c-", "control-"]) {
                ctrl = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = strip_mod(&lower, &["alt-", "a-", "meta-", "m-"]) {
                alt = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = strip_mod(&lower, &["shift-", "s-"]) {
                shift = true;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                let c = if shift { c.to_ascii_uppercase() } else { c };
                ChordCode::Char(c)
            }
            _ => match rest.to_ascii_lowercase().as_str() {
                "space" => ChordCode::Char(' '),
                "enter" | "return" => ChordCode::Enter,
                "esc" | "escape" => ChordCode::Esc,
                "tab" if shift => ChordCode::BackTab,
                "tab" => ChordCode::Tab,
                "backtab" => ChordCode::BackTab,
                "backspace" => ChordCode::Backspace,
                "delete" | "del" => ChordCode::Delete,
                "up" => ChordCode::Up,
                "down" => ChordCode::Down,
                "left" => ChordCode::Left,
                "right" => ChordCode::Right,
                "pageup" | "pgup" => ChordCode::PageUp,
                "pagedown" | "pgdn" => ChordCode::PageDown,
                "home" => ChordCode::Home,
                "end" => ChordCode::End,
                other => {
                    let n: u8 = other.strip_prefix('f')?.parse().ok()?;
                    if (1..=12).contains(&n) {
                        ChordCode::F(n)
                    } else {
                        return None;
                    }
                }
            },
        };
        Some(KeyChord { code, ctrl, alt })
    }

    /// The chord a terminal key event stands for.
    pub fn from_event(key: &KeyEvent) -> Option<KeyChord> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        let code = match key.code {
            KeyCode::Char(c) => ChordCode::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            KeyCode::Enter => ChordCode::Enter,
            KeyCode::Esc => ChordCode::Esc,
            KeyCode::Tab if shift => ChordCode::BackTab,
            KeyCode::Tab => ChordCode::Tab,
            KeyCode::BackTab => ChordCode::BackTab,
            KeyCode::Backspace => ChordCode::Backspace,
            KeyCode::Delete => ChordCode::Delete,
            KeyCode::Up => ChordCode::Up,
            KeyCode::Down => ChordCode::Down,
            KeyCode::Left => ChordCode::Left,
            KeyCode::Right => ChordCode::Right,
            KeyCode::PageUp => ChordCode::PageUp,
            KeyCode::PageDown => ChordCode::PageDown,
            KeyCode::Home => ChordCode::Home,
            KeyCode::End => ChordCode::End,
            KeyCode::F(n) => ChordCode::F(n),
            _ => return None,
        };
        Some(KeyChord { code, ctrl, alt })
    }
}

fn strip_mod<'a>(s: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    prefixes.iter().find_map(|p| s.strip_prefix(p))
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            ChordCode::Char(' ') => f.write_str("space"),
            ChordCode::Char(c) => write!(f, "{c}"),
            ChordCode::Enter => f.write_str("enter"),
            ChordCode::Esc => f.write_str("esc"),
            ChordCode::Tab => f.write_str("tab"),
            ChordCode::BackTab => f.write_str("shift-tab"),
            ChordCode::Backspace => f.write_str("backspace"),
            ChordCode::Delete => f.write_str("delete"),
            ChordCode::Up => f.write_str("up"),
            ChordCode::Down => f.write_str("down"),
            ChordCode::Left => f.write_str("left"),
            ChordCode::Right => f.write_str("right"),
            ChordCode::PageUp => f.write_str("pageup"),
            ChordCode::PageDown => f.write_str("pagedown"),
            ChordCode::Home => f.write_str("home"),
            ChordCode::End => f.write_str("end"),
            ChordCode::F(n) => write!(f, "f{n}"),
        }
    }
}

/// The active bindings.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    bindings: BTreeMap<KeyChord, Command>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::from_config(&BTreeMap::new()).0
    }
}

impl Keymap {
    /// The defaults with `overrides` applied on top (`"none"` unbinds a key). Returns the
    /// keymap and a warning per entry it could not understand.
    pub fn from_config(overrides: &BTreeMap<String, String>) -> (Keymap, Vec<String>) {
        let mut bindings = BTreeMap::new();
        let mut warnings = Vec::new();
        for (key, action) in default_bindings().iter().chain(overrides.iter()) {
            let Some(chord) = KeyChord::parse(key) else {
                warnings.push(format!("keymap: cannot read key {key:?}"));
                continue;
            };
            if action == "none" {
                bindings.remove(&chord);
                continue;
            }
            match Command::from_name(action) {
                Some(cmd) => {
                    bindings.insert(chord, cmd);
                }
                None => warnings.push(format!("keymap: unknown action {action:?} for {key:?}")),
            }
        }
        (Keymap { bindings }, warnings)
    }

    pub fn command_for(&self, key: &KeyEvent) -> Option<Command> {
        let chord = KeyChord::from_event(key)?;
        self.bindings.get(&chord).copied()
    }

    /// The first key bound to `cmd`, as text.
    pub fn first_key(&self, cmd: Command) -> Option<String> {
        self.bindings
            .iter()
            .find(|(_, c)| **c == cmd)
            .map(|(k, _)| k.to_string())
    }

    /// Every key bound to `cmd`, as text (`j/down`).
    pub fn keys_for(&self, cmd: Command) -> String {
        let keys: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, c)| **c == cmd)
            .map(|(k, _)| k.to_string())
            .collect();
        keys.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn parses_the_spellings_of_the_config() {
        let p = |s| KeyChord::parse(s).unwrap();
        assert_eq!(
            p("ctrl-r"),
            KeyChord::from_event(&ev(KeyCode::Char('r'), KeyModifiers::CONTROL)).unwrap()
        );
        assert_eq!(
            p("shift-tab"),
            KeyChord::from_event(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)).unwrap()
        );
        assert_eq!(
            p("P"),
            KeyChord::from_event(&ev(KeyCode::Char('P'), KeyModifiers::SHIFT)).unwrap()
        );
        assert_eq!(p("shift-p"), p("P"));
        assert_eq!(
            p("space"),
            KeyChord::from_event(&ev(KeyCode::Char(' '), KeyModifiers::NONE)).unwrap()
        );
        assert_eq!(
            p("-"),
            KeyChord::from_event(&ev(KeyCode::Char('-'), KeyModifiers::NONE)).unwrap()
        );
        assert_eq!(p("f5").to_string(), "f5");
        assert_eq!(p("ctrl-r").to_string(), "ctrl-r");
        assert!(KeyChord::parse("").is_none());
        assert!(KeyChord::parse("hyper-x").is_none());
        assert!(KeyChord::parse("f99").is_none());
    }

    #[test]
    fn defaults_cover_every_command_and_overrides_apply() {
        let km = Keymap::default();
        for cmd in Command::ALL {
            assert!(!km.keys_for(cmd).is_empty(), "{} has no key", cmd.name());
        }
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('p'), KeyModifiers::NONE)),
            Some(Command::PromoteStep)
        );
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('P'), KeyModifiers::SHIFT)),
            Some(Command::PromoteFull)
        );
        let mut o = BTreeMap::new();
        o.insert("x".to_string(), "abort".to_string());
        o.insert("a".to_string(), "none".to_string());
        o.insert("z".to_string(), "fly".to_string());
        let (km, warnings) = Keymap::from_config(&o);
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(Command::Abort)
        );
        assert_eq!(
            km.command_for(&ev(KeyCode::Char('a'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(warnings.len(), 1);
    }
}

#[cfg(test)]
mod console_default_tests {
    use super::*;

    #[test]
    fn sort_keys_are_bound_and_the_config_can_rebind_them() {
        let ev = |c: char, m| KeyEvent::new(KeyCode::Char(c), m);
        let km = Keymap::default();
        assert_eq!(
            km.command_for(&ev('s', KeyModifiers::NONE)),
            Some(Command::Sort)
        );
        assert_eq!(
            km.command_for(&ev('S', KeyModifiers::SHIFT)),
            Some(Command::SortReverse)
        );
        assert_eq!(
            Command::from_name("sort_reverse"),
            Some(Command::SortReverse)
        );
        let mut o = BTreeMap::new();
        o.insert("s".to_string(), "none".to_string());
        o.insert("o".to_string(), "sort".to_string());
        let (km, warnings) = Keymap::from_config(&o);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(km.command_for(&ev('s', KeyModifiers::NONE)), None);
        assert_eq!(km.keys_for(Command::Sort), "o");
    }
}

#[cfg(test)]
mod default_source_tests {
    use super::*;

    #[test]
    fn the_console_defaults_are_the_printed_defaults() {
        let d = default_bindings();
        assert_eq!(d.len(), 29);
        assert_eq!(d.get("G").map(String::as_str), Some("bottom"));
        assert_eq!(d.get("pagedown").map(String::as_str), Some("page_down"));
        for action in d.values() {
            assert!(
                crate::config::ACTIONS.contains(&action.as_str()),
                "{action} is bound by default but a config file could not name it"
            );
        }
    }
}
