//! Display settings and the keymap: built-in defaults (`assets/default-config.toml`) with the
//! user's `[ui]` keys and `[keymap]` entries laid over them one by one.

use std::collections::BTreeMap;
use std::path::Path;

use toml::Spanned;

use super::error::ConfigError;
use super::schema::{ConfigFile, RawUi, Theme};

/// The built-in `[ui]` and `[keymap]`, printed by `relcon --print-default-config`.
pub const DEFAULT_CONFIG: &str = include_str!("../../assets/default-config.toml");

/// Stands in for the path of [`DEFAULT_CONFIG`] in errors.
pub const DEFAULT_CONFIG_NAME: &str = "<built-in default config>";

/// Every action a key can be bound to.
pub const ACTIONS: &[&str] = &[
    "quit",
    "help",
    "palette",
    "filter",
    "next_pane",
    "prev_pane",
    "up",
    "down",
    "page_down",
    "page_up",
    "top",
    "bottom",
    "select",
    "back",
    "deploy",
    "canary",
    "rollback",
    "promote_step",
    "promote_full",
    "pause_resume",
    "abort",
    "refresh",
    "describe",
    "copy_id",
    "wide",
    "sort",
    "sort_reverse",
];

/// Binding a key to this "action" removes the key's default binding.
pub const UNBIND: &str = "none";

/// Key names usable on their own or after modifiers (besides single characters).
pub const NAMED_KEYS: &[&str] = &[
    "tab",
    "enter",
    "esc",
    "space",
    "backspace",
    "delete",
    "insert",
    "home",
    "end",
    "pageup",
    "pagedown",
    "up",
    "down",
    "left",
    "right",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "f6",
    "f7",
    "f8",
    "f9",
    "f10",
    "f11",
    "f12",
];

/// Display settings with defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiConfig {
    pub theme: Theme,
    /// Upper bound on redraws per second.
    pub frame_rate: u16,
    pub mouse: bool,
}

impl UiConfig {
    /// `user` keys over `defaults` keys over hard-coded fallbacks.
    pub fn layered(defaults: &RawUi, user: &RawUi) -> UiConfig {
        UiConfig {
            theme: user.theme.or(defaults.theme).unwrap_or_default(),
            frame_rate: user.frame_rate.or(defaults.frame_rate).unwrap_or(30),
            mouse: user.mouse.or(defaults.mouse).unwrap_or(true),
        }
    }
}

/// Normalised key string -> action name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keymap {
    pub bindings: BTreeMap<String, String>,
}

impl Keymap {
    /// The action bound to a key string (normalised first, so "Ctrl-R" finds "ctrl-r").
    pub fn action(&self, key: &str) -> Option<&str> {
        let key = normalize_key(key).ok()?;
        self.bindings.get(&key).map(String::as_str)
    }

    /// The keys bound to an action, for the help screen.
    pub fn keys_for(&self, action: &str) -> Vec<&str> {
        self.bindings
            .iter()
            .filter(|(_, a)| a.as_str() == action)
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

/// `[ui]` and the keymap, as the TUI uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiSettings {
    pub ui: UiConfig,
    pub keymap: Keymap,
}

impl UiSettings {
    /// The built-in defaults alone (no config file).
    pub fn defaults() -> Result<UiSettings, ConfigError> {
        let (ui, keymap) = builtin()?;
        Ok(UiSettings {
            ui: UiConfig::layered(&ui, &RawUi::default()),
            keymap: Keymap { bindings: keymap },
        })
    }

    /// The built-in defaults with a file's `[ui]` and `[keymap]` laid over them. `text` is the
    /// file's text (for line numbers in errors).
    pub(crate) fn layered(
        path: &Path,
        text: &str,
        file: &ConfigFile,
    ) -> Result<UiSettings, ConfigError> {
        let (ui, keymap) = builtin()?;
        let user = check_keymap(path, text, &file.keymap)?;
        Ok(UiSettings {
            ui: UiConfig::layered(&ui, &file.ui),
            keymap: Keymap {
                bindings: merged_keymap(&keymap, &user),
            },
        })
    }
}

/// Parses [`DEFAULT_CONFIG`].
fn builtin() -> Result<(RawUi, BTreeMap<String, String>), ConfigError> {
    let path = Path::new(DEFAULT_CONFIG_NAME);
    let file: ConfigFile = toml::from_str(DEFAULT_CONFIG)
        .map_err(|e| ConfigError::from_toml(path, DEFAULT_CONFIG, &e))?;
    let keymap = check_keymap(path, DEFAULT_CONFIG, &file.keymap)?;
    Ok((file.ui, keymap))
}

/// `overrides` laid over `defaults` key by key; an override bound to [`UNBIND`] removes the
/// key. Both maps must hold normalised keys (as [`normalize_key`] returns them).
pub fn merged_keymap(
    defaults: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut merged = defaults.clone();
    for (key, action) in overrides {
        if action == UNBIND {
            merged.remove(key);
        } else {
            merged.insert(key.clone(), action.clone());
        }
    }
    merged
}

/// Canonical form of a key string: modifiers lower-case in the order `ctrl-alt-shift-`,
/// named keys lower-case, single characters as written (`shift-p` becomes `P`). The error
/// says what a valid key looks like.
pub fn normalize_key(text: &str) -> Result<String, String> {
    let invalid = |why: &str| {
        format!(
            "'{text}' is not a key: {why}; write a single character (\"q\", \"?\", \"P\") or a \
             named key ({}), optionally after ctrl-, alt- or shift- (\"ctrl-r\", \"shift-tab\")",
            "tab, enter, esc, space, up, down, pageup, f1, ..."
        )
    };
    if text.chars().count() == 1 {
        return if text.chars().all(char::is_whitespace) {
            Err(invalid("write a space as \"space\""))
        } else {
            Ok(text.to_owned())
        };
    }
    let (mods, key) = if let Some(mods) = text.strip_suffix("--") {
        (mods, "-")
    } else {
        match text.rsplit_once('-') {
            Some((mods, key)) => (mods, key),
            None => ("", text),
        }
    };
    let (mut ctrl, mut alt, mut shift) = (false, false, false);
    if !mods.is_empty() {
        for m in mods.split('-') {
            let flag = match m.to_ascii_lowercase().as_str() {
                "ctrl" | "control" => &mut ctrl,
                "alt" | "meta" => &mut alt,
                "shift" => &mut shift,
                _ => return Err(invalid(&format!("unknown modifier '{m}'"))),
            };
            if *flag {
                return Err(invalid(&format!("modifier '{m}' given twice")));
            }
            *flag = true;
        }
    }
    let mut key = if key.chars().count() == 1 {
        key.to_owned()
    } else {
        let lower = key.to_ascii_lowercase();
        let canonical = match lower.as_str() {
            "escape" => "esc",
            "return" => "enter",
            "pgup" => "pageup",
            "pgdn" | "pgdown" => "pagedown",
            "del" => "delete",
            "ins" => "insert",
            "backtab" => {
                shift = true;
                "tab"
            }
            other => other,
        };
        if !NAMED_KEYS.contains(&canonical) {
            return Err(invalid(&format!("unknown key name '{key}'")));
        }
        canonical.to_owned()
    };
    if shift && key.chars().count() == 1 {
        if key.chars().all(|c| c.is_ascii_alphabetic()) {
            key = key.to_ascii_uppercase();
            shift = false;
        } else {
            return Err(invalid(
                "shift with a character; write the shifted character itself",
            ));
        }
    }
    let mut out = String::new();
    for (on, name) in [(ctrl, "ctrl-"), (alt, "alt-"), (shift, "shift-")] {
        if on {
            out.push_str(name);
        }
    }
    out.push_str(&key);
    Ok(out)
}

/// The `keymap` key path of a key string, quoted unless it is a bare TOML key.
fn key_path(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        format!("keymap.{key}")
    } else {
        format!("keymap.\"{}\"", key.escape_default())
    }
}

/// Checks `[keymap]` entries (key syntax, action names, keys written twice) and returns them
/// normalised. Errors point at the entry's line.
pub(crate) fn check_keymap(
    path: &Path,
    text: &str,
    entries: &BTreeMap<Spanned<String>, Spanned<String>>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    let mut written: BTreeMap<String, &str> = BTreeMap::new();
    for (key, action) in entries {
        let at_key = |message: String| {
            ConfigError::at(
                path,
                text,
                Some(key.span()),
                key_path(key.get_ref()),
                message,
            )
        };
        let normalized = normalize_key(key.get_ref()).map_err(at_key)?;
        if let Some(first) = written.insert(normalized.clone(), key.get_ref()) {
            return Err(at_key(format!(
                "'{first}' and '{}' are the same key; keep one of them",
                key.get_ref()
            )));
        }
        let name = action.get_ref().as_str();
        if name != UNBIND && !ACTIONS.contains(&name) {
            return Err(ConfigError::at(
                path,
                text,
                Some(action.span()),
                key_path(key.get_ref()),
                format!(
                    "unknown action '{name}', expected one of {}, or \"{UNBIND}\" to unbind \
                     the key",
                    ACTIONS.join(", ")
                ),
            ));
        }
        out.insert(normalized, name.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_keys() {
        let ok = |k: &str| normalize_key(k).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok("q"), "q");
        assert_eq!(ok("P"), "P");
        assert_eq!(ok("?"), "?");
        assert_eq!(ok("-"), "-");
        assert_eq!(ok("Ctrl-R"), "ctrl-R");
        assert_eq!(ok("ctrl-r"), "ctrl-r");
        assert_eq!(ok("shift-ctrl-x"), "ctrl-X");
        assert_eq!(ok("shift-p"), "P");
        assert_eq!(ok("Shift-Tab"), "shift-tab");
        assert_eq!(ok("backtab"), "shift-tab");
        assert_eq!(ok("Escape"), "esc");
        assert_eq!(ok("alt-ctrl-pgdn"), "ctrl-alt-pagedown");
        assert_eq!(ok("ctrl--"), "ctrl--");
        for bad in ["", " ", "hyper-x", "ctrl-ctrl-x", "foo", "shift-1", "ctrl-"] {
            assert!(normalize_key(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn builtin_defaults_parse_and_cover_the_documented_bindings() {
        let settings = UiSettings::defaults().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            settings.ui,
            UiConfig {
                theme: Theme::Dark,
                frame_rate: 30,
                mouse: true
            }
        );
        let km = &settings.keymap;
        for (key, action) in [
            ("q", "quit"),
            ("?", "help"),
            (":", "palette"),
            ("/", "filter"),
            ("tab", "next_pane"),
            ("shift-tab", "prev_pane"),
            ("j", "down"),
            ("down", "down"),
            ("k", "up"),
            ("up", "up"),
            ("enter", "select"),
            ("esc", "back"),
            ("D", "deploy"),
            ("d", "describe"),
            ("y", "copy_id"),
            ("w", "wide"),
            ("c", "canary"),
            ("r", "rollback"),
            ("p", "promote_step"),
            ("P", "promote_full"),
            ("space", "pause_resume"),
            ("a", "abort"),
            ("ctrl-r", "refresh"),
            ("pagedown", "page_down"),
            ("pageup", "page_up"),
            ("g", "top"),
            ("G", "bottom"),
            ("s", "sort"),
            ("S", "sort_reverse"),
        ] {
            assert_eq!(km.action(key), Some(action), "{key}");
        }
        assert_eq!(km.bindings.len(), 29);
        // Every action has a key.
        for action in ACTIONS {
            assert!(!km.keys_for(action).is_empty(), "{action} has no key");
        }
    }

    #[test]
    fn merge_overrides_key_by_key_and_unbinds() {
        let defaults: BTreeMap<String, String> = [("q", "quit"), ("d", "deploy")]
            .into_iter()
            .map(|(k, a)| (k.to_owned(), a.to_owned()))
            .collect();
        let user: BTreeMap<String, String> = [("q", "back"), ("d", UNBIND), ("x", "quit")]
            .into_iter()
            .map(|(k, a)| (k.to_owned(), a.to_owned()))
            .collect();
        let merged = merged_keymap(&defaults, &user);
        assert_eq!(merged.get("q").map(String::as_str), Some("back"));
        assert_eq!(merged.get("d"), None);
        assert_eq!(merged.get("x").map(String::as_str), Some("quit"));
    }
}
