//! Profiles: the file's `[profiles.NAME]` with defaults filled in ([`Profile`]), then with
//! the secrets taken from the environment ([`ResolvedProfile`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use super::check;
use super::error::ConfigError;
use super::schema::{AuthKind, BackendKind, BlueGreen, RawProfile, RawWebhook};
use crate::clock::Clock;
use crate::domain::Thresholds;
use crate::engine::judge::Metric;
use crate::engine::judge::policy::{Budgets, OnInconclusive};

/// Overrides the profile's `api_url`.
pub const ENV_API_URL: &str = "COGNIGY_API_URL";
/// The API key for `auth = "api_key"`.
pub const ENV_API_KEY: &str = "COGNIGY_API_KEY";
/// The OAuth2 client id for the client-credentials styles.
pub const ENV_CLIENT_ID: &str = "COGNIGY_CLIENT_ID";
/// The OAuth2 client secret for the client-credentials styles.
pub const ENV_CLIENT_SECRET: &str = "COGNIGY_CLIENT_SECRET";

/// The Cognigy.AI API key, as the official Cognigy CLI names it (read before
/// `COGNIGY_API_KEY` for `backend = "cognigy"`).
pub const ENV_CAI_APIKEY: &str = "CAI_APIKEY";

/// Which API a resolved profile drives, with what that API needs besides `api_url`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Backend {
    #[default]
    ReleaseApi,
    Cognigy(CognigyTarget),
}

/// Where a Cognigy.AI installation answers, and which project a profile works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognigyTarget {
    /// The OData host (`/v2.4/<Collection>` is under it), no trailing slash.
    pub odata_url: String,
    /// The endpoint host (`/<URLToken>` is under it), no trailing slash.
    pub endpoint_url: String,
    /// One project (id or name); every project the key can see when `None`.
    pub project: Option<String>,
}

impl CognigyTarget {
    /// The hosts of an installation whose REST API is at `api_url`: `api-X` becomes
    /// `odata-X` and `endpoint-X` (the platform's naming, e.g. `api-trial.cognigy.ai`);
    /// any other host (the simulator) serves all three itself.
    pub fn derived(api_url: &str, project: Option<String>) -> CognigyTarget {
        let swap = |to: &str| match api_url.split_once("://") {
            Some((scheme, rest)) if rest.starts_with("api-") => {
                format!("{scheme}://{to}-{}", &rest[4..])
            }
            _ => api_url.to_owned(),
        };
        CognigyTarget {
            odata_url: swap("odata"),
            endpoint_url: swap("endpoint"),
            project,
        }
    }
}

/// The API key of the in-process simulator `relcon demo` starts.
pub const DEMO_API_KEY: &str = "demo-key";

/// Scopes requested when a profile sets none: everything relcon's workflows use.
pub const DEFAULT_SCOPES: &[&str] = &[
    "bot:read",
    "bot:write",
    "bot:deploy",
    "bot:manage",
    "deployment:read",
    "deployment:write",
    "environment:read",
    "environment:write",
    "environments:read",
    "metrics:read",
    "nlu:read",
    "flows:read",
    "flows:write",
    "deployments:manage",
    "deployments:write",
    "jobs:read",
    "validations:execute",
    "webhook:manage",
    "audit:write",
    "sessions:read",
];

/// HTTP timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP/TLS connect.
    pub connect: Duration,
    /// Between bytes of a response.
    pub read: Duration,
    /// One attempt, connecting to the end of the body.
    pub total: Duration,
    /// One call, every attempt and retry wait included: a hung server fails a command's
    /// call within it (plus a moment), whatever the retry policy says.
    pub deadline: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_millis(3_000),
            read: Duration::from_millis(10_000),
            total: Duration::from_millis(10_000),
            deadline: Duration::from_millis(10_000),
        }
    }
}

/// Retries of failed requests (429, 5xx, connection errors): the code base's one policy.
pub use crate::retry::RetryPolicy;

/// Canary plan, judgement and health thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct CanarySettings {
    /// Traffic percentages of the successive steps, increasing.
    pub steps: Vec<u8>,
    /// Shortest hold of each step, and the length of each extension (server time).
    pub interval: Duration,
    /// Longest hold of a step before `on_inconclusive` decides.
    pub max_hold: Duration,
    /// Highest traffic percentage the canary may take.
    pub max_traffic: u8,
    /// Guardrail: highest acceptable error rate (0..=1).
    pub error_rate: f64,
    /// Guardrail: lowest acceptable satisfaction score (0..=5).
    pub satisfaction_score: f64,
    /// Guardrail: highest acceptable average latency.
    pub max_latency_ms: u64,
    /// Observations each arm needs before a metric is judged at all.
    pub min_conversations: u32,
    /// False-alarm level of the whole canary.
    pub alpha: f64,
    /// Risk, per metric, of passing it although it is worse than tolerated.
    pub beta: f64,
    /// The metrics the canary is gated on.
    pub gates: Vec<Metric>,
    /// Tolerated degradation per metric (defaults where absent).
    pub tolerances: BTreeMap<Metric, f64>,
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    pub error_limit: u32,
    pub on_inconclusive: OnInconclusive,
}

impl Default for CanarySettings {
    fn default() -> Self {
        let b = Budgets::default();
        CanarySettings {
            steps: vec![5, 10, 25, 50, 100],
            interval: b.interval,
            max_hold: b.max_hold,
            max_traffic: 100,
            error_rate: 0.05,
            satisfaction_score: 3.5,
            max_latency_ms: 1_500,
            min_conversations: 30,
            alpha: 0.01,
            beta: 0.05,
            gates: Metric::ALL.to_vec(),
            tolerances: BTreeMap::new(),
            failure_limit: b.failure_limit,
            inconclusive_limit: b.inconclusive_limit,
            error_limit: b.error_limit,
            on_inconclusive: b.on_inconclusive,
        }
    }
}

impl CanarySettings {
    /// The rollback thresholds in the shape the API and the guardrails use.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            error_rate: self.error_rate,
            satisfaction_score: self.satisfaction_score,
            max_latency_ms: self.max_latency_ms as f64,
        }
    }

    /// The tolerance of a metric: the profile's, else the metric's default.
    pub fn tolerance(&self, m: Metric) -> f64 {
        self.tolerances
            .get(&m)
            .copied()
            .unwrap_or_else(|| m.default_tolerance())
    }

    /// The step budgets.
    pub fn budgets(&self) -> Budgets {
        Budgets {
            interval: self.interval,
            max_hold: self.max_hold,
            failure_limit: self.failure_limit,
            inconclusive_limit: self.inconclusive_limit,
            error_limit: self.error_limit,
            on_inconclusive: self.on_inconclusive,
        }
    }
}

/// Rollback safety checks.
///
/// A rollback is conversation-aware: at the switch, new conversations go to the target at
/// once while sessions already live finish on the version they started on (they drain) for
/// at most `wait_drain`; the sessions still there at that deadline are cut off. The defaults
/// (a 10-minute drain, nobody cut off) let a rollback succeed on any bot whose sessions end
/// within 10 minutes (the demo world's do) without cutting a conversation off.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackSettings {
    /// The most sessions a rollback may cut off: those that could still be open when the
    /// drain deadline passes (every active one when `wait_drain` is zero). Above it the
    /// rollback is refused and nothing changes. Default 0: never cut a conversation off.
    pub max_active_sessions: u32,
    /// How long sessions on the replaced version may finish after the switch. Default 10
    /// minutes; zero switches them over at once (so every active session counts against
    /// `max_active_sessions`).
    pub wait_drain: Duration,
    /// Version to fall back to when the rollback itself fails.
    pub fallback_version: Option<String>,
    /// Synthetic conversation sent after the rollback; empty (the default): the bot's own
    /// test conversation. Set it to override the bot's message.
    pub test_message: String,
    /// ...must match this intent; empty (the default): the bot's own expected intent. With
    /// neither a message nor an intent (the profile's or the bot's), the check is skipped
    /// and the report says so.
    pub expected_intent: String,
    /// ...with at least this confidence (0..=1).
    pub min_confidence: f64,
    /// The environment (stage) rollbacks target.
    pub environment: String,
}

impl Default for RollbackSettings {
    fn default() -> Self {
        RollbackSettings {
            max_active_sessions: 0,
            wait_drain: Duration::from_secs(600),
            fallback_version: None,
            test_message: String::new(),
            expected_intent: String::new(),
            min_confidence: 0.85,
            environment: "PRODUCTION".to_owned(),
        }
    }
}

/// An outbound webhook as configured (the secret is still a variable name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    pub events: Vec<String>,
    /// Environment variable holding the signing secret; unsigned when `None`.
    pub secret_env: Option<String>,
}

/// An outbound webhook with its signing secret.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub events: Vec<String>,
    pub secret: Option<SecretString>,
}

/// How client credentials are exchanged for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStyle {
    /// `Authorization: Basic base64(id:secret)`, form `grant_type` and `scope`.
    Basic,
    /// Form body `grant_type, client_id, client_secret, scope`.
    Form,
}

/// What the HTTP client authenticates with. `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// `Authorization: Bearer <key>`.
    ApiKey(SecretString),
    /// OAuth2 client credentials.
    ClientCredentials {
        client_id: String,
        client_secret: SecretString,
        style: TokenStyle,
        token_url: String,
        scopes: Vec<String>,
    },
}

/// A profile from the file with every default filled in; secrets not yet read.
/// The platform allows a caller about 1,000 requests per 5 minutes; a profile spends 80% of
/// that unless it says otherwise, leaving room for other tools on the same key.
pub const DEFAULT_REQUEST_BUDGET: u32 = 800;

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    /// The config file the profile comes from.
    pub source: PathBuf,
    pub backend: BackendKind,
    pub odata_url: Option<String>,
    pub endpoint_url: Option<String>,
    pub project: Option<String>,
    pub api_key_env: Option<String>,
    /// `None` when the file sets none (then `COGNIGY_API_URL` must).
    pub api_url: Option<String>,
    pub auth: AuthKind,
    /// `None`: derived from the API URL by [`Profile::resolve_secrets`].
    pub token_url: Option<String>,
    pub scopes: Vec<String>,
    pub production: bool,
    pub read_only: bool,
    pub request_budget: u32,
    pub clock_speed: f64,
    /// `None`: `$USER` at resolution.
    pub operator: Option<String>,
    pub audit_log: PathBuf,
    pub blue_green: Option<BlueGreen>,
    pub region_sync: Vec<String>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub canary: CanarySettings,
    pub rollback: RollbackSettings,
    pub webhooks: Vec<WebhookConfig>,
}

/// A profile ready to use: API URL final, credentials read from the environment.
/// `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub struct ResolvedProfile {
    pub name: String,
    /// The config file the profile comes from; `None` for the built-in demo profile.
    pub source: Option<PathBuf>,
    /// Base URL, no trailing slash (`COGNIGY_API_URL` applied).
    pub api_url: String,
    /// The API behind `api_url`.
    pub backend: Backend,
    pub credentials: Credentials,
    /// Red status bar, typed confirmations.
    pub production: bool,
    /// Refuse every mutating action.
    pub read_only: bool,
    /// Requests per 5 minutes (server time) the process may send on this profile; the
    /// console's reads spend what its workflows leave of it.
    pub request_budget: u32,
    /// The simulator's `--speed` (1 for a real server).
    pub clock_speed: f64,
    /// Who the audit trail names.
    pub operator: String,
    pub audit_log: PathBuf,
    pub blue_green: Option<BlueGreen>,
    pub region_sync: Vec<String>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub canary: CanarySettings,
    pub rollback: RollbackSettings,
    pub webhooks: Vec<Webhook>,
}

impl ResolvedProfile {
    /// The clock for this profile's server.
    pub fn clock(&self) -> Clock {
        Clock::scaled(self.clock_speed)
    }
}

/// Default audit log of a profile: `<data dir>/audit/<profile>.jsonl`.
pub fn default_audit_log(profile: &str) -> Option<PathBuf> {
    super::data_dir().map(|d| d.join("audit").join(format!("{profile}.jsonl")))
}

/// `~/x` expanded; relative paths taken relative to the config file's directory.
fn resolve_path(config: &Path, path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(base) = directories::BaseDirs::new()
    {
        return base.home_dir().join(rest);
    }
    if path.is_relative()
        && let Some(dir) = config.parent()
    {
        return dir.join(path);
    }
    path.to_path_buf()
}

impl Profile {
    /// Fills in the defaults of a profile read from `source`.
    pub(crate) fn from_raw(
        name: &str,
        source: &Path,
        raw: &RawProfile,
    ) -> Result<Profile, ConfigError> {
        let audit_log = match &raw.audit_log {
            Some(path) => resolve_path(source, path),
            None => default_audit_log(name).ok_or_else(|| ConfigError::Invalid {
                path: source.to_path_buf(),
                line: None,
                column: None,
                key: Some(format!("profiles.{name}.audit_log")),
                message: "there is no data directory for the default audit log (no home \
                          directory); set audit_log to a file path"
                    .to_owned(),
            })?,
        };
        let t = &raw.timeouts;
        let td = Timeouts::default();
        let ms = |v: Option<u64>, d: Duration| v.map_or(d, Duration::from_millis);
        let r = &raw.retry;
        let rd = RetryPolicy::default();
        let c = &raw.canary;
        let cd = CanarySettings::default();
        let b = &raw.rollback;
        let bd = RollbackSettings::default();
        Ok(Profile {
            name: name.to_owned(),
            source: source.to_path_buf(),
            backend: raw.backend.unwrap_or_default(),
            odata_url: raw.odata_url.clone(),
            endpoint_url: raw.endpoint_url.clone(),
            project: raw.project.clone(),
            api_key_env: raw.api_key_env.clone(),
            api_url: raw.api_url.clone(),
            auth: raw.auth.unwrap_or_default(),
            token_url: raw.token_url.clone(),
            scopes: raw
                .scopes
                .clone()
                .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()),
            production: raw.production.unwrap_or(false),
            read_only: raw.read_only.unwrap_or(false),
            request_budget: raw.request_budget.unwrap_or(DEFAULT_REQUEST_BUDGET),
            clock_speed: raw.clock_speed.unwrap_or(1.0),
            operator: raw.operator.clone(),
            audit_log,
            blue_green: raw.blue_green.clone(),
            region_sync: raw.region_sync.clone().unwrap_or_default(),
            timeouts: Timeouts {
                connect: ms(t.connect_ms, td.connect),
                read: ms(t.read_ms, td.read),
                total: ms(t.total_ms, td.total),
                deadline: ms(t.deadline_ms, td.deadline),
            },
            retry: RetryPolicy {
                attempts: r.attempts.unwrap_or(rd.attempts),
                base_delay: ms(
                    r.base_delay_ms.as_ref().map(|s| *s.get_ref()),
                    rd.base_delay,
                ),
                max_delay: ms(r.max_delay_ms.as_ref().map(|s| *s.get_ref()), rd.max_delay),
            },
            canary: CanarySettings {
                steps: c.steps.as_ref().map_or(cd.steps, |s| s.get_ref().clone()),
                interval: c.interval.unwrap_or(cd.interval),
                max_traffic: c.max_traffic.unwrap_or(cd.max_traffic),
                error_rate: c.error_rate.unwrap_or(cd.error_rate),
                satisfaction_score: c.satisfaction_score.unwrap_or(cd.satisfaction_score),
                max_latency_ms: c.max_latency_ms.unwrap_or(cd.max_latency_ms),
                min_conversations: c.min_conversations.unwrap_or(cd.min_conversations),
                alpha: c.alpha.unwrap_or(cd.alpha),
                beta: c.beta.unwrap_or(cd.beta),
                gates: c.gates.clone().unwrap_or(cd.gates),
                tolerances: Metric::ALL
                    .iter()
                    .filter_map(|m| c.tolerance.get(*m).map(|t| (*m, t)))
                    .collect(),
                max_hold: c.max_hold.unwrap_or(cd.max_hold),
                failure_limit: c.failure_limit.unwrap_or(cd.failure_limit),
                inconclusive_limit: c.inconclusive_limit.unwrap_or(cd.inconclusive_limit),
                error_limit: c.error_limit.unwrap_or(cd.error_limit),
                on_inconclusive: c.on_inconclusive.unwrap_or(cd.on_inconclusive),
            },
            rollback: RollbackSettings {
                max_active_sessions: b.max_active_sessions.unwrap_or(bd.max_active_sessions),
                wait_drain: b.wait_drain.unwrap_or(bd.wait_drain),
                fallback_version: b.fallback_version.clone(),
                test_message: b.test_message.clone().unwrap_or(bd.test_message),
                expected_intent: b.expected_intent.clone().unwrap_or(bd.expected_intent),
                min_confidence: b.min_confidence.unwrap_or(bd.min_confidence),
                environment: b.environment.clone().unwrap_or(bd.environment),
            },
            webhooks: raw.webhooks.iter().map(WebhookConfig::from).collect(),
        })
    }

    /// Reads the secrets (and the `COGNIGY_API_URL` override) from `env` and returns the
    /// profile ready to use. `env` is injectable for tests; pass
    /// `&|k| std::env::var(k).ok()` for the real environment. Empty variables count as unset.
    pub fn resolve_secrets(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ResolvedProfile, ConfigError> {
        let get = |var: &str| env(var).filter(|v| !v.trim().is_empty());
        let missing = |var: &str, purpose: String| ConfigError::MissingEnv {
            path: self.source.clone(),
            profile: self.name.clone(),
            var: var.to_owned(),
            purpose,
        };
        let api_url = match get(ENV_API_URL) {
            Some(url) => check::http_url(&url).map_err(|why| ConfigError::BadEnv {
                path: self.source.clone(),
                profile: self.name.clone(),
                var: ENV_API_URL.to_owned(),
                message: format!("{why}; fix or unset it"),
            })?,
            None => self.api_url.clone().ok_or_else(|| ConfigError::Invalid {
                path: self.source.clone(),
                line: None,
                column: None,
                key: Some(format!("profiles.{}.api_url", self.name)),
                message: format!(
                    "profile '{}' has no api_url; set api_url in [profiles.{}] or export \
                     {ENV_API_URL}",
                    self.name, self.name
                ),
            })?,
        };
        let credentials = match self.auth {
            AuthKind::ApiKey
                if self.backend == BackendKind::Cognigy && self.api_key_env.is_some() =>
            {
                let var = self.api_key_env.as_deref().unwrap_or(ENV_CAI_APIKEY);
                let key = get(var).ok_or_else(|| {
                    missing(
                        var,
                        format!(
                            "the Cognigy.AI API key of profile {} (its api_key_env)",
                            self.name
                        ),
                    )
                })?;
                Credentials::ApiKey(SecretString::from(key))
            }
            AuthKind::ApiKey if self.backend == BackendKind::Cognigy => {
                let key = get(ENV_CAI_APIKEY)
                    .or_else(|| get(ENV_API_KEY))
                    .ok_or_else(|| {
                        missing(
                            ENV_CAI_APIKEY,
                            format!(
                                "the Cognigy.AI API key, backend = \"cognigy\" (or export \
                             {ENV_API_KEY}); create one under My Profile > API Keys"
                            ),
                        )
                    })?;
                Credentials::ApiKey(SecretString::from(key))
            }
            _ if self.backend == BackendKind::Cognigy => {
                return Err(ConfigError::Invalid {
                    path: self.source.clone(),
                    line: None,
                    column: None,
                    key: Some(format!("profiles.{}.auth", self.name)),
                    message: format!(
                        "backend = \"cognigy\" authenticates with an API key (X-API-Key), \
                         not {}; remove auth from [profiles.{}] and export {ENV_CAI_APIKEY}",
                        self.auth.as_str(),
                        self.name
                    ),
                });
            }
            AuthKind::ApiKey => {
                let key = get(ENV_API_KEY).ok_or_else(|| {
                    missing(ENV_API_KEY, "the API key, auth = \"api_key\"".to_owned())
                })?;
                Credentials::ApiKey(SecretString::from(key))
            }
            AuthKind::ClientCredentialsBasic | AuthKind::ClientCredentialsForm => {
                let auth = self.auth.as_str();
                let client_id = get(ENV_CLIENT_ID).ok_or_else(|| {
                    missing(
                        ENV_CLIENT_ID,
                        format!("the OAuth client id, auth = \"{auth}\""),
                    )
                })?;
                let client_secret = get(ENV_CLIENT_SECRET).ok_or_else(|| {
                    missing(
                        ENV_CLIENT_SECRET,
                        format!("the OAuth client secret, auth = \"{auth}\""),
                    )
                })?;
                let (style, path) = if self.auth == AuthKind::ClientCredentialsBasic {
                    (TokenStyle::Basic, "/v1/auth/token")
                } else {
                    (TokenStyle::Form, "/oauth/token")
                };
                Credentials::ClientCredentials {
                    client_id,
                    client_secret: SecretString::from(client_secret),
                    style,
                    token_url: self
                        .token_url
                        .clone()
                        .unwrap_or_else(|| format!("{api_url}{path}")),
                    scopes: self.scopes.clone(),
                }
            }
        };
        let mut webhooks = Vec::with_capacity(self.webhooks.len());
        for (i, hook) in self.webhooks.iter().enumerate() {
            let secret = match &hook.secret_env {
                Some(var) => Some(SecretString::from(get(var).ok_or_else(|| {
                    missing(
                        var,
                        format!(
                            "the signing secret of webhook #{} (secret_env of \
                             [[profiles.{}.webhooks]])",
                            i + 1,
                            self.name
                        ),
                    )
                })?)),
                None => None,
            };
            webhooks.push(Webhook {
                url: hook.url.clone(),
                events: hook.events.clone(),
                secret,
            });
        }
        let operator = self
            .operator
            .clone()
            .or_else(|| get("USER"))
            .or_else(|| get("USERNAME"))
            .unwrap_or_else(|| "unknown".to_owned());
        let backend = match self.backend {
            BackendKind::ReleaseApi => Backend::ReleaseApi,
            BackendKind::Cognigy => {
                let d = CognigyTarget::derived(&api_url, self.project.clone());
                let trim = |u: &String| u.trim_end_matches('/').to_owned();
                Backend::Cognigy(CognigyTarget {
                    odata_url: self.odata_url.as_ref().map_or(d.odata_url, trim),
                    endpoint_url: self.endpoint_url.as_ref().map_or(d.endpoint_url, trim),
                    project: d.project,
                })
            }
        };
        Ok(ResolvedProfile {
            name: self.name.clone(),
            source: Some(self.source.clone()),
            backend,
            api_url,
            credentials,
            production: self.production,
            read_only: self.read_only,
            request_budget: self.request_budget,
            clock_speed: self.clock_speed,
            operator,
            audit_log: self.audit_log.clone(),
            blue_green: self.blue_green.clone(),
            region_sync: self.region_sync.clone(),
            timeouts: self.timeouts,
            retry: self.retry,
            canary: self.canary.clone(),
            rollback: self.rollback.clone(),
            webhooks,
        })
    }

    /// The profile `relcon demo` uses against its in-process simulator: API key
    /// [`DEMO_API_KEY`], not production, every other setting at its default. The audit log
    /// goes to the data directory (the temp directory when there is none).
    pub fn demo(api_url: impl Into<String>, clock_speed: f64) -> ResolvedProfile {
        let api_url: String = api_url.into();
        let operator = ["USER", "USERNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
            .unwrap_or_else(|| "demo".to_owned());
        ResolvedProfile {
            name: "demo".to_owned(),
            source: None,
            api_url: api_url.trim_end_matches('/').to_owned(),
            backend: Backend::ReleaseApi,
            credentials: Credentials::ApiKey(SecretString::from(DEMO_API_KEY)),
            production: false,
            read_only: false,
            request_budget: DEFAULT_REQUEST_BUDGET,
            clock_speed: Clock::scaled(clock_speed).speed(),
            operator,
            audit_log: default_audit_log("demo").unwrap_or_else(|| {
                std::env::temp_dir()
                    .join("relcon")
                    .join("audit")
                    .join("demo.jsonl")
            }),
            blue_green: None,
            region_sync: Vec::new(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            canary: CanarySettings::default(),
            rollback: RollbackSettings::default(),
            webhooks: Vec::new(),
        }
    }
}

impl From<&RawWebhook> for WebhookConfig {
    fn from(raw: &RawWebhook) -> Self {
        WebhookConfig {
            url: raw.url.clone(),
            events: raw.events.clone(),
            secret_env: raw.secret_env.clone(),
        }
    }
}
