//! Config errors: every one names the file, and parse errors the line, column and key.

use std::path::{Path, PathBuf};

/// Keys that would hold a secret. The file rejects them with a pointer to the environment.
const SECRET_KEYS: &[(&str, &str)] = &[
    ("api_key", "COGNIGY_API_KEY"),
    ("client_secret", "COGNIGY_CLIENT_SECRET"),
    ("client_id", "COGNIGY_CLIENT_ID"),
    ("secret", "the variable named by secret_env"),
    ("password", "an environment variable"),
    ("token", "an environment variable"),
];

/// Everything that can be wrong with the configuration. Each variant carries the path of the
/// config file it concerns (or a descriptive placeholder such as `(environment)` when there is
/// no file), and its message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A config file was asked for explicitly (`--config` or `$RELCON_CONFIG`) but is not there.
    #[error(
        "config file {} does not exist ({origin}); check the path, or create the file \
         (config.example.toml in the relcon repository documents every key)",
        .path.display()
    )]
    NotFound {
        path: PathBuf,
        /// Where the path came from, e.g. "given with --config".
        origin: String,
    },

    /// The file exists but could not be read.
    #[error(
        "cannot read config file {}: {source}; check that it is a readable file",
        .path.display()
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file is not valid: syntax, unknown key, wrong type, out-of-range value.
    #[error("config error in {}{}: {message}", .path.display(), location(.line, .key))]
    Invalid {
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column (in characters), when known.
        column: Option<usize>,
        /// Dotted key path, e.g. `profiles.prod.timeouts.connect_ms`, when known.
        key: Option<String>,
        message: String,
    },

    /// `--profile NAME` (or `default_profile`) names a profile the file does not define.
    #[error(
        "config error in {}: there is no profile '{name}'; available profiles: {}. Pass one of \
         them with --profile, or add [profiles.{name}] to the file",
        .path.display(), list(.available)
    )]
    UnknownProfile {
        path: PathBuf,
        name: String,
        available: Vec<String>,
    },

    /// No profile was named and the file does not make the choice obvious.
    #[error("config error in {}: {message}", .path.display())]
    NoProfile { path: PathBuf, message: String },

    /// A secret (or the API URL) the profile needs is missing from the environment.
    #[error(
        "config error in {}: profile '{profile}' needs the environment variable {var} \
         ({purpose}); export {var}=... before running relcon. Secrets are read only from the \
         environment, never from the config file or the command line",
        .path.display()
    )]
    MissingEnv {
        path: PathBuf,
        profile: String,
        var: String,
        purpose: String,
    },

    /// An environment variable is set but unusable (e.g. `COGNIGY_API_URL` is not an URL).
    #[error("config error in {}: profile '{profile}': {var} {message}", .path.display())]
    BadEnv {
        path: PathBuf,
        profile: String,
        var: String,
        message: String,
    },
}

impl ConfigError {
    /// The config file (or placeholder) the error concerns.
    pub fn path(&self) -> &Path {
        match self {
            ConfigError::NotFound { path, .. }
            | ConfigError::Read { path, .. }
            | ConfigError::Invalid { path, .. }
            | ConfigError::UnknownProfile { path, .. }
            | ConfigError::NoProfile { path, .. }
            | ConfigError::MissingEnv { path, .. }
            | ConfigError::BadEnv { path, .. } => path,
        }
    }

    /// The 1-based line of the problem, for errors that point into the file.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => *line,
            _ => None,
        }
    }

    /// The dotted key path of the problem, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => key.as_deref(),
            _ => None,
        }
    }

    /// An `Invalid` error at a byte span of `text`.
    pub(crate) fn at(
        path: &Path,
        text: &str,
        span: Option<std::ops::Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        let (line, column) = span.map(|s| line_col(text, s.start)).unzip();
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            key: Some(key.into()),
            message: message.into(),
        }
    }

    /// Translates a `toml` deserialization error into a config error with line, column, key
    /// path and a message that says what to do. Type errors never echo the string found (a
    /// secret pasted into the wrong key must not end up on screen or in a log).
    pub(crate) fn from_toml(path: &Path, text: &str, err: &toml::de::Error) -> ConfigError {
        let span = err.span();
        let (line, column) = span.clone().map(|s| line_col(text, s.start)).unzip();
        let mut key = error_keys(err);
        let raw = err.message();
        let message = if let Some(rest) = raw.strip_prefix("unknown field ") {
            let names = backticked(rest);
            let field = names.first().cloned().unwrap_or_default();
            key = Some(join_key(key.as_deref(), &field));
            unknown_field(&field, &names[names.len().min(1)..])
        } else if let Some(rest) = raw.strip_prefix("unknown variant ") {
            let names = backticked(rest);
            let value = names.first().cloned().unwrap_or_default();
            format!(
                "unknown value '{value}', expected {}",
                one_of(&names[names.len().min(1)..])
            )
        } else if let Some(rest) = raw.strip_prefix("missing field ") {
            let field = backticked(rest).first().cloned().unwrap_or_default();
            key = Some(join_key(key.as_deref(), &field));
            format!("missing key '{field}'; add it (see config.example.toml)")
        } else if let Some(rest) = raw.strip_prefix("invalid type: ") {
            type_mismatch(rest, false)
        } else if let Some(rest) = raw.strip_prefix("invalid value: ") {
            type_mismatch(rest, true)
        } else if raw.starts_with("invalid length") {
            format!("{raw}; fix the number of entries")
        } else if raw == "duplicate key" {
            if key.is_none() {
                key = span.as_ref().and_then(|s| key_from_text(text, s.clone()));
            }
            let on_header = span
                .as_ref()
                .is_some_and(|s| line_text(text, s.start).starts_with('['));
            if on_header {
                "this table is defined twice; merge the two into one".to_owned()
            } else {
                "this key is defined twice; keep only one".to_owned()
            }
        } else if key.is_none() {
            // The parser's own errors (syntax) come without a key.
            format!("TOML syntax error: {raw}; fix the syntax at this position")
        } else {
            // Our own validators write complete messages.
            raw.to_owned()
        };
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            key,
            message,
        }
    }
}

fn location(line: &Option<usize>, key: &Option<String>) -> String {
    let mut out = String::new();
    if let Some(line) = line {
        out.push_str(&format!(", line {line}"));
    }
    if let Some(key) = key {
        out.push_str(&format!(", key {key}"));
    }
    out
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
pub(crate) fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The key path the `toml` crate recorded for the error. It is not exposed directly, but the
/// error's `Display` prints it (``in `a.b.c` ``) when the error carries no input text.
fn error_keys(err: &toml::de::Error) -> Option<String> {
    let mut bare = err.clone();
    bare.set_input(None);
    let shown = bare.to_string();
    let start = shown.rfind("\nin `")? + "\nin `".len();
    let rest = &shown[start..];
    let end = rest.find('`')?;
    let keys = &rest[..end];
    (!keys.is_empty()).then(|| keys.to_owned())
}

fn join_key(parent: Option<&str>, field: &str) -> String {
    match parent {
        Some(parent) if !parent.is_empty() => format!("{parent}.{field}"),
        _ => field.to_owned(),
    }
}

/// The words between backticks, in order.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect()
}

fn one_of(names: &[String]) -> String {
    match names {
        [] => "nothing here".to_owned(),
        [one] => one.clone(),
        _ => format!("one of {}", names.join(", ")),
    }
}

fn unknown_field(field: &str, expected: &[String]) -> String {
    if let Some((_, env)) = SECRET_KEYS.iter().find(|(k, _)| *k == field) {
        return format!(
            "unknown field '{field}': secrets are never read from the config file; remove it \
             and export {env} instead"
        );
    }
    if expected.is_empty() {
        format!("unknown field '{field}'; remove it, this table takes no keys")
    } else {
        format!("unknown field '{field}', expected {}", one_of(expected))
    }
}

/// Rewrites serde's "invalid type/value: <found>, expected <what>" without echoing strings.
fn type_mismatch(rest: &str, is_value: bool) -> String {
    let (found, expected) = match rest.rfind(", expected ") {
        Some(i) => (&rest[..i], &rest[i + ", expected ".len()..]),
        None => (rest, ""),
    };
    let found = if found.starts_with("string") {
        "a string".to_owned()
    } else if let Some(v) = found.strip_prefix("integer ") {
        format!("the number {}", v.trim_matches('`'))
    } else if let Some(v) = found.strip_prefix("floating point ") {
        format!("the number {}", v.trim_matches('`'))
    } else if let Some(v) = found.strip_prefix("boolean ") {
        v.trim_matches('`').to_owned()
    } else if found.starts_with("sequence") {
        "a list".to_owned()
    } else if found.starts_with("map") {
        "a table".to_owned()
    } else {
        found.to_owned()
    };
    let expected = match expected {
        "u8" => "a whole number from 0 to 255".to_owned(),
        "u16" => "a whole number from 0 to 65535".to_owned(),
        "u32" => "a whole number from 0 to 4294967295".to_owned(),
        "u64" | "usize" => "a whole number, 0 or more (no quotes)".to_owned(),
        "i64" | "i32" => "a whole number (no quotes)".to_owned(),
        "f64" | "f32" => "a number (no quotes)".to_owned(),
        "a string" => "a quoted string".to_owned(),
        "a boolean" => "true or false (no quotes)".to_owned(),
        "a sequence" => "a list, e.g. [\"a\", \"b\"]".to_owned(),
        other => other.to_owned(),
    };
    if is_value {
        format!("{found} is not allowed here, expected {expected}")
    } else {
        format!("expected {expected}, found {found}")
    }
}

/// Best-effort key path for an error whose span covers a key (e.g. a duplicate key): the
/// enclosing table header plus the key text.
fn key_from_text(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let start = span.start.min(text.len());
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let this_line = line_text(text, start);
    if this_line.starts_with('[') {
        return table_header(this_line);
    }
    let span_text = text
        .get(span)?
        .trim()
        .trim_matches(|c| c == '"' || c == '\'');
    let header = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .and_then(table_header);
    Some(join_key(header.as_deref(), span_text))
}

/// The trimmed line of `text` that contains byte offset `at`.
fn line_text(text: &str, at: usize) -> &str {
    let at = at.min(text.len());
    let Some(before) = text.get(..at) else {
        return "";
    };
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[start..end].trim()
}

fn table_header(line: &str) -> Option<String> {
    let inner = line.trim_start_matches('[');
    let end = inner.find(']')?;
    let parts: Vec<&str> = inner[..end].split('.').map(str::trim).collect();
    Some(parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3));
        assert_eq!(line_col(text, 1000), (3, 1));
    }

    #[test]
    fn display_names_file_line_and_key() {
        let err = ConfigError::Invalid {
            path: PathBuf::from("/home/a/.config/relcon/config.toml"),
            line: Some(12),
            column: Some(1),
            key: Some("profiles.prod.timeouts.conect_ms".into()),
            message: "unknown field 'conect_ms', expected one of connect_ms, read_ms, total_ms"
                .into(),
        };
        assert_eq!(
            err.to_string(),
            "config error in /home/a/.config/relcon/config.toml, line 12, key \
             profiles.prod.timeouts.conect_ms: unknown field 'conect_ms', expected one of \
             connect_ms, read_ms, total_ms"
        );
    }

    #[test]
    fn duplicate_key_path_from_text() {
        let text = "[profiles.prod]\napi_url = 'a'\napi_url = 'b'\n";
        let at = text.rfind("api_url").unwrap_or_default();
        assert_eq!(
            key_from_text(text, at..at + 7).as_deref(),
            Some("profiles.prod.api_url")
        );
        assert_eq!(
            key_from_text(text, 10..14).as_deref(),
            Some("profiles.prod")
        );
    }
}
