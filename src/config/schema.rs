//! The config file as written: every key optional (defaults are filled in by
//! [`LoadedConfig::profile`](super::LoadedConfig::profile)), unknown keys refused, values
//! checked while parsing so each problem is reported with its line.
//!
//! Spans ([`toml::Spanned`]) are kept where a later check needs a line: profile names,
//! `default_profile`, keymap entries, and values compared with one another.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::check;
use super::duration;
use crate::engine::judge::Metric;
use crate::engine::judge::policy::OnInconclusive;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Profile used when `--profile` is absent.
    pub default_profile: Option<Spanned<String>>,
    /// Profiles by name (`[profiles.NAME]`).
    #[serde(default)]
    pub profiles: BTreeMap<Spanned<String>, RawProfile>,
    /// Display settings; unset keys take the built-in defaults.
    #[serde(default)]
    pub ui: RawUi,
    /// Key string -> action name; entries override the built-in keymap key by key.
    #[serde(default)]
    pub keymap: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// How relcon authenticates against the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// `Authorization: Bearer $COGNIGY_API_KEY`.
    #[default]
    ApiKey,
    /// OAuth2 client credentials, `POST /v1/auth/token` with a Basic header.
    ClientCredentialsBasic,
    /// OAuth2 client credentials, `POST /oauth/token` with the credentials in a form body.
    ClientCredentialsForm,
}

impl AuthKind {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::ApiKey => "api_key",
            AuthKind::ClientCredentialsBasic => "client_credentials_basic",
            AuthKind::ClientCredentialsForm => "client_credentials_form",
        }
    }
}

/// Which API a profile drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// The Release API of the seed documents (and `relcon sim`).
    #[default]
    ReleaseApi,
    /// Cognigy.AI's REST API v2.0 and OData analytics (and `relcon sim --dialect cognigy`).
    Cognigy,
}

impl BackendKind {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::ReleaseApi => "release_api",
            BackendKind::Cognigy => "cognigy",
        }
    }
}

/// The blue/green environment pair `deploy` alternates between when `--to` is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlueGreen {
    pub blue: String,
    pub green: String,
}

impl BlueGreen {
    /// The environment of the pair that is not `current` (blue when `current` is neither).
    pub fn other(&self, current: &str) -> &str {
        if current == self.blue {
            &self.green
        } else {
            &self.blue
        }
    }
}

/// `[profiles.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub backend: Option<BackendKind>,
    #[serde(default, deserialize_with = "check::opt_url")]
    pub api_url: Option<String>,
    /// Cognigy.AI's OData host (default: derived from `api_url`).
    #[serde(default, deserialize_with = "check::opt_url")]
    pub odata_url: Option<String>,
    /// Cognigy.AI's endpoint host, where REST endpoints answer (default: derived from
    /// `api_url`).
    #[serde(default, deserialize_with = "check::opt_url")]
    pub endpoint_url: Option<String>,
    /// Cognigy.AI: the one project (id or name) the profile works on; every project when
    /// absent.
    #[serde(default, deserialize_with = "check::opt_text")]
    pub project: Option<String>,
    /// The environment variable holding this profile's API key, for installations with
    /// keys of their own (default: `CAI_APIKEY`, then `COGNIGY_API_KEY`).
    #[serde(default, deserialize_with = "check::opt_text")]
    pub api_key_env: Option<String>,
    pub auth: Option<AuthKind>,
    #[serde(default, deserialize_with = "check::opt_url")]
    pub token_url: Option<String>,
    #[serde(default, deserialize_with = "check::opt_scopes")]
    pub scopes: Option<Vec<String>>,
    pub production: Option<bool>,
    pub read_only: Option<bool>,
    /// Requests per 5 minutes the profile may send (every read and write of the process).
    #[serde(default, deserialize_with = "check::opt_request_budget")]
    pub request_budget: Option<u32>,
    #[serde(default, deserialize_with = "check::opt_clock_speed")]
    pub clock_speed: Option<f64>,
    #[serde(default, deserialize_with = "check::opt_text")]
    pub operator: Option<String>,
    #[serde(default, deserialize_with = "check::opt_path")]
    pub audit_log: Option<PathBuf>,
    #[serde(default, deserialize_with = "opt_blue_green")]
    pub blue_green: Option<BlueGreen>,
    #[serde(default, deserialize_with = "check::opt_names")]
    pub region_sync: Option<Vec<String>>,
    #[serde(default)]
    pub timeouts: RawTimeouts,
    #[serde(default)]
    pub retry: RawRetry,
    #[serde(default)]
    pub canary: RawCanary,
    #[serde(default)]
    pub rollback: RawRollback,
    #[serde(default)]
    pub webhooks: Vec<RawWebhook>,
}

/// `[profiles.NAME.timeouts]`, milliseconds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    #[serde(default, deserialize_with = "check::opt_positive_ms")]
    pub connect_ms: Option<u64>,
    #[serde(default, deserialize_with = "check::opt_positive_ms")]
    pub read_ms: Option<u64>,
    #[serde(default, deserialize_with = "check::opt_positive_ms")]
    pub total_ms: Option<u64>,
    /// One call, retries included.
    #[serde(default, deserialize_with = "check::opt_positive_ms")]
    pub deadline_ms: Option<u64>,
}

/// `[profiles.NAME.retry]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    #[serde(default, deserialize_with = "check::opt_attempts")]
    pub attempts: Option<u32>,
    #[serde(default, deserialize_with = "check::opt_spanned_ms")]
    pub base_delay_ms: Option<Spanned<u64>>,
    #[serde(default, deserialize_with = "check::opt_spanned_ms")]
    pub max_delay_ms: Option<Spanned<u64>>,
}

/// `[profiles.NAME.canary]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCanary {
    #[serde(default, deserialize_with = "check::opt_steps")]
    pub steps: Option<Spanned<Vec<u8>>>,
    #[serde(default, deserialize_with = "duration::deserialize_option")]
    pub interval: Option<Duration>,
    #[serde(default, deserialize_with = "check::opt_percent")]
    pub max_traffic: Option<u8>,
    #[serde(default, deserialize_with = "check::opt_fraction")]
    pub error_rate: Option<f64>,
    #[serde(default, deserialize_with = "check::opt_score")]
    pub satisfaction_score: Option<f64>,
    #[serde(default, deserialize_with = "check::opt_positive_ms")]
    pub max_latency_ms: Option<u64>,
    pub min_conversations: Option<u32>,
    /// The false-alarm level of the whole canary.
    #[serde(default, deserialize_with = "check::opt_alpha")]
    pub alpha: Option<f64>,
    /// The risk, per metric, of passing it although it is worse than tolerated.
    #[serde(default, deserialize_with = "check::opt_alpha")]
    pub beta: Option<f64>,
    /// The metrics the canary is gated on.
    #[serde(default, deserialize_with = "check::opt_metrics")]
    pub gates: Option<Vec<Metric>>,
    /// Degradation tolerated per metric.
    #[serde(default)]
    pub tolerance: RawTolerances,
    #[serde(default, deserialize_with = "duration::deserialize_option")]
    pub max_hold: Option<Duration>,
    pub failure_limit: Option<u32>,
    pub inconclusive_limit: Option<u32>,
    #[serde(default, deserialize_with = "check::opt_attempts")]
    pub error_limit: Option<u32>,
    #[serde(default, deserialize_with = "check::opt_on_inconclusive")]
    pub on_inconclusive: Option<OnInconclusive>,
}

/// `[profiles.NAME.canary.tolerance]`: degradation tolerated against the baseline, in each
/// metric's units (fractions for rates).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTolerances {
    #[serde(default, deserialize_with = "check::opt_fraction")]
    pub error_rate: Option<f64>,
    #[serde(default, deserialize_with = "check::opt_fraction")]
    pub fallback_rate: Option<f64>,
    #[serde(default, deserialize_with = "check::opt_fraction")]
    pub handoff_rate: Option<f64>,
    #[serde(default, deserialize_with = "check::opt_non_negative")]
    pub latency_ms: Option<f64>,
    #[serde(default, deserialize_with = "check::opt_score")]
    pub satisfaction_score: Option<f64>,
    #[serde(default, deserialize_with = "check::opt_fraction")]
    pub intent_score: Option<f64>,
}

impl RawTolerances {
    pub fn get(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::ErrorRate => self.error_rate,
            Metric::FallbackRate => self.fallback_rate,
            Metric::HandoffRate => self.handoff_rate,
            Metric::LatencyMs => self.latency_ms,
            Metric::SatisfactionScore => self.satisfaction_score,
            Metric::IntentScore => self.intent_score,
        }
    }
}

/// `[profiles.NAME.rollback]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollback {
    /// The most sessions a rollback may cut off at its drain deadline (default 0).
    pub max_active_sessions: Option<u32>,
    /// How long the replaced version's sessions may finish after the switch (default 10m).
    #[serde(default, deserialize_with = "duration::deserialize_option")]
    pub wait_drain: Option<Duration>,
    #[serde(default, deserialize_with = "check::opt_text")]
    pub fallback_version: Option<String>,
    /// Overrides the bot's own test message (default: the bot's).
    #[serde(default, deserialize_with = "check::opt_text")]
    pub test_message: Option<String>,
    /// Overrides the bot's own expected intent (default: the bot's).
    #[serde(default, deserialize_with = "check::opt_text")]
    pub expected_intent: Option<String>,
    #[serde(default, deserialize_with = "check::opt_fraction")]
    pub min_confidence: Option<f64>,
    #[serde(default, deserialize_with = "check::opt_text")]
    pub environment: Option<String>,
}

/// `[[profiles.NAME.webhooks]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    #[serde(deserialize_with = "check::url")]
    pub url: String,
    #[serde(deserialize_with = "check::events")]
    pub events: Vec<String>,
    /// Name of the environment variable holding the signing secret; unsigned when absent.
    #[serde(default, deserialize_with = "check::opt_env_var")]
    pub secret_env: Option<String>,
}

/// Colour theme of the TUI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    Dark,
    Light,
    /// No colours (also what `NO_COLOR` should select).
    Mono,
}

/// `[ui]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUi {
    pub theme: Option<Theme>,
    #[serde(default, deserialize_with = "check::opt_frame_rate")]
    pub frame_rate: Option<u16>,
    pub mouse: Option<bool>,
}

/// `blue_green = ["env-a", "env-b"]`: two different, non-empty environment names.
fn opt_blue_green<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<BlueGreen>, D::Error> {
    let pair = <Vec<String> as serde::Deserialize>::deserialize(d)?;
    match pair.as_slice() {
        [blue, green] if !blue.trim().is_empty() && !green.trim().is_empty() && blue != green => {
            Ok(Some(BlueGreen {
                blue: blue.clone(),
                green: green.clone(),
            }))
        }
        _ => Err(check::custom(
            "blue_green must name two different environments, e.g. [\"env-prod-blue\", \
             \"env-prod-green\"]",
        )),
    }
}
