//! Configuration: a TOML file of profiles (`demo`, `staging`, `prod`, ...), display settings
//! and a keymap. Secrets come only from environment variables (`COGNIGY_API_KEY`,
//! `COGNIGY_CLIENT_ID`, `COGNIGY_CLIENT_SECRET`, webhook `secret_env`s), never from the file or
//! the command line; `COGNIGY_API_URL` overrides a profile's `api_url`.
//!
//! Loading goes file -> [`LoadedConfig`] (parsed and checked: every problem is reported with
//! the file, line and key) -> [`Profile`] (one profile, defaults filled in) ->
//! [`ResolvedProfile`] (secrets read from the environment).
//!
//! `config.example.toml` at the repository root documents every key; a test loads it.

mod check;
mod duration;
mod error;
mod keymap;
mod profile;
mod schema;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use directories::ProjectDirs;

pub use duration::{
    deserialize_option as deserialize_duration_option, format_duration, parse_duration,
};
pub use error::ConfigError;
pub use keymap::{
    ACTIONS, DEFAULT_CONFIG, DEFAULT_CONFIG_NAME, Keymap, NAMED_KEYS, UNBIND, UiConfig, UiSettings,
    merged_keymap, normalize_key,
};
pub use profile::{
    Backend, CanarySettings, CognigyTarget, Credentials, DEFAULT_SCOPES, DEMO_API_KEY, ENV_API_KEY,
    ENV_API_URL, ENV_CAI_APIKEY, ENV_CLIENT_ID, ENV_CLIENT_SECRET, Profile, ResolvedProfile,
    RetryPolicy, RollbackSettings, Timeouts, TokenStyle, Webhook, WebhookConfig, default_audit_log,
};
pub use schema::{
    AuthKind, BackendKind, BlueGreen, ConfigFile, RawCanary, RawProfile, RawRetry, RawRollback,
    RawTimeouts, RawUi, RawWebhook, Theme,
};

/// Names a config file to use instead of the default path.
pub const ENV_CONFIG: &str = "RELCON_CONFIG";

fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("dev", "relcon", "relcon")
}

/// `<config dir>/config.toml`, e.g. `~/.config/relcon/config.toml` on Linux. `None` when the
/// platform has no home directory.
pub fn default_config_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("config.toml"))
}

/// Where relcon keeps data (audit logs under `audit/`), e.g. `~/.local/share/relcon`.
pub fn data_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.data_dir().to_path_buf())
}

/// Where log files go: the state directory (`~/.local/state/relcon/logs`), or the cache
/// directory where the platform has no state directory.
pub fn log_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.state_dir().unwrap_or(d.cache_dir()).join("logs"))
}

/// What the CLI prints when there is no config file anywhere.
pub fn no_config_help() -> String {
    let default = default_config_path().map_or_else(
        || "(none: this system has no home directory; use --config)".to_owned(),
        |p| p.display().to_string(),
    );
    format!(
        "relcon found no config file.

It looked for {default}
(pass --config FILE or set {ENV_CONFIG}=FILE to use another one).

Try relcon without any server or config:
    relcon demo
  starts the simulator in-process and opens the console on it.

Use the simulator from another terminal (or from CI):
    relcon sim --port 8080 --speed 30
  then create {default} with:
    default_profile = \"demo\"
    [profiles.demo]
    api_url = \"http://127.0.0.1:8080\"
    auth = \"api_key\"
    clock_speed = 30
  and run:  {ENV_API_KEY}={DEMO_API_KEY} relcon

Point at a real server with a profile such as:
    [profiles.prod]
    api_url = \"https://api.cognigy.ai\"
    auth = \"client_credentials_basic\"
    production = true
  and export {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} ({ENV_API_KEY} for auth = \"api_key\").
  Secrets are read only from the environment, never from the file or the command line.
  {ENV_API_URL}, when set, overrides the profile's api_url.

Every key is documented in config.example.toml (in the relcon repository);
`relcon --print-default-config` prints the display and keymap defaults.
"
    )
}

/// Finds and loads the config file.
pub struct Config;

impl Config {
    /// Loads `explicit` (which must exist), else the file named by `$RELCON_CONFIG` (which must
    /// exist), else [`default_config_path`] if it exists. `Ok(None)` when there is no file at
    /// all; the CLI then prints [`no_config_help`].
    pub fn load(explicit: Option<&Path>) -> Result<Option<LoadedConfig>, ConfigError> {
        Config::load_with(explicit, &|k| std::env::var(k).ok(), default_config_path())
    }

    /// [`Config::load`] with the environment and the default path injected (for tests).
    pub fn load_with(
        explicit: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        default_path: Option<PathBuf>,
    ) -> Result<Option<LoadedConfig>, ConfigError> {
        let (path, origin) = if let Some(path) = explicit {
            (path.to_path_buf(), Some("given with --config"))
        } else if let Some(path) = env(ENV_CONFIG).filter(|p| !p.trim().is_empty()) {
            (PathBuf::from(path), Some("named by RELCON_CONFIG"))
        } else if let Some(path) = default_path {
            (path, None)
        } else {
            return Ok(None);
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => LoadedConfig::parse(path, &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match origin {
                Some(origin) => Err(ConfigError::NotFound {
                    path,
                    origin: origin.to_owned(),
                }),
                None => Ok(None),
            },
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }
}

/// A parsed and checked config file.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its contents as written.
    pub file: ConfigFile,
    /// Its text, so that later errors can still name a line.
    text: String,
}

impl LoadedConfig {
    /// Parses and checks config text as if read from `path`. Everything that can be checked
    /// without the environment is: unknown keys, types, ranges, profile names,
    /// `default_profile`, the keymap.
    pub fn parse(path: impl Into<PathBuf>, text: &str) -> Result<LoadedConfig, ConfigError> {
        let path = path.into();
        let file: ConfigFile =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(&path, text, &e))?;
        let loaded = LoadedConfig {
            path,
            file,
            text: text.to_owned(),
        };
        loaded.check()?;
        Ok(loaded)
    }

    fn invalid(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::at(&self.path, &self.text, span, key, message)
    }

    fn check(&self) -> Result<(), ConfigError> {
        for (name, raw) in &self.file.profiles {
            let valid = !name.get_ref().is_empty()
                && name.get_ref().len() <= 64
                && name
                    .get_ref()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(self.invalid(
                    Some(name.span()),
                    format!("profiles.{}", name.get_ref()),
                    "a profile name may use only letters, digits, '-' and '_' (at most 64); \
                     rename the profile",
                ));
            }
            let prefix = format!("profiles.{}", name.get_ref());
            let steps = raw.canary.steps.as_ref();
            let max_traffic = raw.canary.max_traffic.unwrap_or(100);
            if let Some(steps) = steps
                && let Some(last) = steps.get_ref().last()
                && *last > max_traffic
            {
                return Err(self.invalid(
                    Some(steps.span()),
                    format!("{prefix}.canary.steps"),
                    format!(
                        "the last step ({last}%) is above max_traffic ({max_traffic}%); lower \
                         the step or raise max_traffic"
                    ),
                ));
            }
            let base = raw.retry.base_delay_ms.as_ref();
            let max = raw.retry.max_delay_ms.as_ref();
            let base_ms = base.map_or(200, |b| *b.get_ref());
            let max_ms = max.map_or(10_000, |m| *m.get_ref());
            if base_ms > max_ms {
                let (span, key) = match (base, max) {
                    (_, Some(m)) => (m.span(), "max_delay_ms"),
                    (Some(b), None) => (b.span(), "base_delay_ms"),
                    (None, None) => (0..0, "max_delay_ms"),
                };
                return Err(self.invalid(
                    Some(span),
                    format!("{prefix}.retry.{key}"),
                    format!(
                        "base_delay_ms ({base_ms}) is above max_delay_ms ({max_ms}); make \
                         max_delay_ms at least base_delay_ms"
                    ),
                ));
            }
        }
        if let Some(default) = &self.file.default_profile
            && !self.file.profiles.contains_key(default.get_ref().as_str())
        {
            return Err(self.invalid(
                Some(default.span()),
                "default_profile",
                format!(
                    "default_profile is '{}' but there is no [profiles.{}]; available \
                     profiles: {}",
                    default.get_ref(),
                    default.get_ref(),
                    self.list_profiles()
                ),
            ));
        }
        keymap::check_keymap(&self.path, &self.text, &self.file.keymap)?;
        Ok(())
    }

    fn list_profiles(&self) -> String {
        let names = self.profile_names();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }

    /// The profile names, sorted.
    pub fn profile_names(&self) -> Vec<String> {
        self.file
            .profiles
            .keys()
            .map(|k| k.get_ref().clone())
            .collect()
    }

    /// The profile `name`, else `default_profile`, else the only profile, with defaults
    /// filled in.
    pub fn profile(&self, name: Option<&str>) -> Result<Profile, ConfigError> {
        let names = self.profile_names();
        let chosen = match name {
            Some(name) => name.to_owned(),
            None => match (&self.file.default_profile, names.as_slice()) {
                (Some(default), _) => default.get_ref().clone(),
                (None, [only]) => only.clone(),
                (None, []) => {
                    return Err(ConfigError::NoProfile {
                        path: self.path.clone(),
                        message: "the file defines no profile; add one, e.g. [profiles.demo] \
                                  with api_url = \"http://127.0.0.1:8080\" (see \
                                  config.example.toml)"
                            .to_owned(),
                    });
                }
                (None, _) => {
                    return Err(ConfigError::NoProfile {
                        path: self.path.clone(),
                        message: format!(
                            "no profile chosen: the file defines {} and no default_profile; \
                             pass --profile NAME or set default_profile",
                            names.join(", ")
                        ),
                    });
                }
            },
        };
        let raw =
            self.file
                .profiles
                .get(chosen.as_str())
                .ok_or_else(|| ConfigError::UnknownProfile {
                    path: self.path.clone(),
                    name: chosen.clone(),
                    available: names.clone(),
                })?;
        Profile::from_raw(&chosen, &self.path, raw)
    }

    /// Display settings and keymap: the built-in defaults with this file's `[ui]` keys and
    /// `[keymap]` entries laid over them.
    pub fn ui_settings(&self) -> Result<UiSettings, ConfigError> {
        UiSettings::layered(&self.path, &self.text, &self.file)
    }
}
