//! The backend: everything the engine may ask of a release server, behind one object-safe
//! trait. The engine holds an `Arc<dyn ReleaseBackend>` and sees only domain types and
//! [`BackendError`]; HTTP stays in this module.

mod auth;
mod cognigy_api;
mod error;
mod http;
pub mod meter;
mod release_api;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use auth::{Auth, REFRESH_MARGIN, TokenStyle};
pub use cognigy_api::{CognigyApi, CognigyHosts, SHARE_WINDOW, stage_of};
pub use error::BackendError;
pub use http::{HttpSettings, IDEMPOTENCY_KEY, RetryPolicy};
pub use meter::{MeterReading, RequestMeter};
pub use release_api::ReleaseApi;

use crate::domain::{
    BotDetail, BotRouting, BotSummary, Canary, CanaryMetrics, CommandState, ControlCommand,
    DeploymentStatus, EnvHealth, EnvJob, Environment, FlowRef, Lease, MetricSummary, MetricsSeries,
    Operation, OperationCommand, OperationDetail, OperationEvent, OperationEventKind, RollbackJob,
    Session, TestResult, Thresholds, Version, WebhookRegistration,
};

/// The future every backend call returns.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, BackendError>> + Send + 'a>>;

/// A polled status plus how long the server asks the poller to wait before the next read
/// (`Retry-After`, else an `estimatedCompletionSeconds` hint), in server time.
#[derive(Debug, Clone, PartialEq)]
pub struct Polled<T> {
    pub value: T,
    pub retry_after: Option<Duration>,
}

/// A conditional read's answer: what changed, or nothing since the last read of the same
/// thing by this client (the server said 304 Not Modified; nothing was parsed).
#[derive(Debug, Clone, PartialEq)]
pub enum Fresh<T> {
    Changed(T),
    Unchanged,
}

/// One page of a bot's versions, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionsPage {
    /// 1-based.
    pub page: u32,
    pub size: u32,
    pub versions: Vec<Version>,
    /// How many versions the bot has, when the server says.
    pub total: Option<u64>,
}

/// Versions are read this many to a page.
pub const VERSION_PAGE: u32 = 50;

/// Which traffic a metrics summary covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    /// The canary arm of the bot's active (else latest) canary.
    Canary,
    /// The stable arm of that canary.
    Baseline,
    /// All of the bot's traffic.
    All,
}

impl MetricType {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Canary => "canary",
            MetricType::Baseline => "baseline",
            MetricType::All => "all",
        }
    }
}

/// A window summary query (`GET /api/v1/metrics/conversations`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    pub bot: String,
    pub environment: Option<String>,
    pub version: Option<String>,
    pub metric_type: MetricType,
    /// Server time; sent as `90s`, `15m` or `2h`.
    pub window: Duration,
}

/// An NLU model as `/v1/nlu/models/{id}` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NluModel {
    pub id: String,
    #[serde(default)]
    pub bot_id: String,
    #[serde(default)]
    pub version: String,
    /// `published`, `training` or `draft`.
    pub status: String,
}

impl NluModel {
    pub fn is_published(&self) -> bool {
        self.status.eq_ignore_ascii_case("published")
    }
}

/// An intent or entity: what flows refer to by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedRef {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub environment_id: Option<String>,
}

/// A versioned blue-green deployment (`POST /v1/bots/{botId}/deployments`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentRequest {
    pub bot_id: String,
    /// Without it the server deploys the newest `PUBLISHED` version built on the NLU model.
    pub version_id: Option<String>,
    pub target_environment_id: String,
    pub nlu_model_id: String,
    pub flow_references: Vec<FlowRef>,
    pub metadata: Value,
}

/// The server's `202` to a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentAccepted {
    pub deployment_id: String,
    /// The `Location` header: where the status is polled.
    pub status_url: Option<String>,
    pub estimated_completion: Option<Duration>,
}

/// New routing weights (`PUT /v1/environments/routing`).
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingRequest {
    /// Without it the weights apply to every bot bound to all the listed environments.
    pub bot_id: Option<String>,
    /// Relative weights per environment id; the server normalises them to 100.
    pub weights: Vec<(String, f64)>,
    /// e.g. `blue_green`.
    pub strategy: String,
    pub failover_enabled: bool,
    /// How long sessions may finish in an environment whose share falls to 0; `None`: until
    /// they end on their own (the server's session timeout bounds it), zero: cut off at once.
    pub drain: Option<Duration>,
    /// The deployment this switch completes, so its status reports the drain.
    pub deployment_id: Option<String>,
}

/// Which active sessions to count (`GET /api/v1/sessions?status=active`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionQuery {
    pub bot: String,
    pub environment: Option<String>,
    pub version: Option<String>,
    /// Only sessions that can still be active this long from now (server time): those a
    /// drain of this length could have to cut off.
    pub expires_after: Option<Duration>,
}

/// Taking or renewing an operation's lease (`PUT /api/v1/operations/{id}/lease`).
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRequest {
    /// Who drives the operation (the operator).
    pub holder: String,
    /// Where relcon runs.
    pub host: String,
    /// The driving run's key: the same key renews, another one conflicts while the lease is
    /// live.
    pub operation_key: String,
    /// Server time until the lease expires unless renewed.
    pub ttl: Duration,
}

/// A canary start (`POST /api/v1/bots/{botId}/deploy`).
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryRequest {
    pub bot_id: String,
    pub environment_id: String,
    /// The version under test.
    pub version: String,
    /// Traffic matrix: both shares in percent, summing to 100.
    pub stable_pct: f64,
    pub canary_pct: f64,
    pub thresholds: Thresholds,
    /// The highest canary share the server may be asked for later.
    pub max_traffic_percentage: f64,
}

/// A rollback job (`POST /api/v1/deployments`, `action: ROLLBACK`).
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackRequest {
    pub bot_id: String,
    pub target_version_id: String,
    /// The version's environment tag: `PRODUCTION` or `STAGING`.
    pub environment: String,
    pub validate_dependencies: bool,
    pub force: bool,
}

/// The answer to a flow import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowImport {
    pub flow_id: String,
    pub version: String,
    pub status: String,
    #[serde(default)]
    pub previous_version: Option<String>,
}

/// Where a flow stands in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowStatus {
    /// `deployed`, `not_deployed` or `rolled_back`.
    pub status: String,
    #[serde(default)]
    pub version: Option<String>,
}

/// The answer to an environment validation. Warnings and errors the server sends as
/// objects arrive here as one line of text each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvValidation {
    pub valid: bool,
    pub warnings: Vec<String>,
    pub capacity_utilization: Option<f64>,
    pub validation_errors: Vec<String>,
}

/// The answer to a synthetic trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceResult {
    pub trace_id: String,
    pub status: String,
    pub dependency_conflicts: Vec<String>,
    pub execution_path: Vec<String>,
}

/// Where a job that takes or removes a version stands (Cognigy.AI: a snapshot task).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionJobState {
    Queued,
    Active,
    Done,
    Failed,
    Cancelled,
}

impl VersionJobState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            VersionJobState::Done | VersionJobState::Failed | VersionJobState::Cancelled
        )
    }
}

/// A job that takes or removes a version, with its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionJob {
    pub job_id: String,
    pub state: VersionJobState,
    /// Steps done of `total` (0 of 0 when the platform reports none).
    pub step: u32,
    pub total: u32,
    /// Why it failed, in the platform's words.
    pub fail_reason: Option<String>,
}

fn not_on_release_api<T: Send + 'static>(what: &str) -> BoxFut<'static, T> {
    let e = BackendError::Unsupported {
        what: what.into(),
        platform: "the Release API",
        detail: "versions are published and removed outside relcon there".into(),
    };
    Box::pin(async move { Err(e) })
}

/// Everything the engine may ask of a release server. Object-safe: hold it as
/// `Arc<dyn ReleaseBackend>`. Every string in a returned value has been sanitised, except
/// flow definitions, which are data to re-import and come back verbatim.
pub trait ReleaseBackend: Send + Sync {
    // --- reads -------------------------------------------------------------------------
    fn list_bots(&self) -> BoxFut<'_, Vec<BotSummary>>;
    fn get_bot<'a>(&'a self, bot: &'a str) -> BoxFut<'a, BotSummary>;
    /// All versions of a bot, newest first (every page).
    fn list_versions<'a>(&'a self, bot: &'a str) -> BoxFut<'a, Vec<Version>>;
    /// One page of a bot's versions, newest first. The default reads every version and
    /// cuts the page out (for platforms whose lists are short).
    /// `conditional`: `Unchanged` may come back when the page is as this client last read
    /// it (ask so only when the caller still holds that reading).
    fn versions_page<'a>(
        &'a self,
        bot: &'a str,
        page: u32,
        size: u32,
        conditional: bool,
    ) -> BoxFut<'a, Fresh<VersionsPage>> {
        let _ = conditional;
        Box::pin(async move {
            let all = self.list_versions(bot).await?;
            let total = all.len() as u64;
            let size = size.max(1);
            let versions = all
                .into_iter()
                .skip((page.max(1) as usize - 1) * size as usize)
                .take(size as usize)
                .collect();
            Ok(Fresh::Changed(VersionsPage {
                page: page.max(1),
                size,
                versions,
                total: Some(total),
            }))
        })
    }
    /// The bots; with `conditional`, `Unchanged` when they are as this client last read
    /// them (ask so only when the caller still holds that reading).
    fn poll_bots(&self, conditional: bool) -> BoxFut<'_, Fresh<Vec<BotSummary>>> {
        let _ = conditional;
        Box::pin(async move { self.list_bots().await.map(Fresh::Changed) })
    }
    /// Every operation, or `Unchanged` (see [`ReleaseBackend::poll_bots`]).
    fn poll_operations(&self, conditional: bool) -> BoxFut<'_, Fresh<Vec<Operation>>> {
        let _ = conditional;
        Box::pin(async move { self.list_operations(None, false).await.map(Fresh::Changed) })
    }
    /// Every canary, or `Unchanged` (see [`ReleaseBackend::poll_bots`]).
    fn poll_canaries(&self, conditional: bool) -> BoxFut<'_, Fresh<Vec<Canary>>> {
        let _ = conditional;
        Box::pin(async move { self.list_canaries(None, false).await.map(Fresh::Changed) })
    }
    fn list_environments(&self) -> BoxFut<'_, Vec<Environment>>;
    /// Operations, newest first.
    fn list_operations<'a>(
        &'a self,
        bot: Option<&'a str>,
        active_only: bool,
    ) -> BoxFut<'a, Vec<Operation>>;
    fn get_routing<'a>(&'a self, bot: &'a str) -> BoxFut<'a, BotRouting>;
    fn list_canaries<'a>(
        &'a self,
        bot: Option<&'a str>,
        active_only: bool,
    ) -> BoxFut<'a, Vec<Canary>>;
    fn get_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary>;
    fn metrics_summary<'a>(&'a self, query: &'a MetricsQuery) -> BoxFut<'a, MetricSummary>;
    fn metrics_series<'a>(
        &'a self,
        bot: &'a str,
        environment: Option<&'a str>,
        window: Duration,
    ) -> BoxFut<'a, MetricsSeries>;
    /// Both arms of one canary, bucket by bucket (`GET /api/v1/canaries/{id}/metrics`): its
    /// environment's stable version as `baseline`, its version as `canary`, aligned on the
    /// same bucket starts, from max(`since`, the canary's start) to now (or the canary's
    /// end). `since` is RFC 3339 (without it, from the start); `step` is the bucket size in
    /// server time, a multiple of 10 s. Each point carries its sufficient statistics (counts,
    /// means and sds) and the canary share it was served at; the last bucket may be
    /// `partial`. The server refuses (`422`) more than 1440 buckets.
    fn canary_metrics<'a>(
        &'a self,
        canary: &'a str,
        since: Option<&'a str>,
        step: Duration,
    ) -> BoxFut<'a, CanaryMetrics>;
    fn active_sessions<'a>(&'a self, bot: &'a str) -> BoxFut<'a, Vec<Session>>;
    /// The bot with its own test conversation and its active sessions per (environment,
    /// version) (`GET /api/v1/bots/{id}`).
    fn get_bot_detail<'a>(&'a self, bot: &'a str) -> BoxFut<'a, BotDetail>;
    /// How many active sessions match, without listing them.
    fn count_sessions<'a>(&'a self, query: &'a SessionQuery) -> BoxFut<'a, u64>;
    fn nlu_model<'a>(&'a self, model: &'a str) -> BoxFut<'a, NluModel>;
    /// The versions of one flow of a bot, as the server lists them.
    fn flow_versions<'a>(&'a self, bot: &'a str, flow: &'a str) -> BoxFut<'a, Vec<String>>;
    fn env_health<'a>(&'a self, environment: &'a str) -> BoxFut<'a, EnvHealth>;
    /// Every flow definition (all pages), verbatim: these are re-imported, so their text is
    /// not altered; sanitise before display.
    fn list_flows<'a>(&'a self, bot: Option<&'a str>) -> BoxFut<'a, Vec<Value>>;
    fn list_intents<'a>(&'a self, environment: &'a str) -> BoxFut<'a, Vec<NamedRef>>;
    fn list_entities<'a>(&'a self, environment: &'a str) -> BoxFut<'a, Vec<NamedRef>>;
    /// `HEAD url` without credentials: the status code the webhook endpoint answers.
    fn check_webhook<'a>(&'a self, url: &'a str) -> BoxFut<'a, u16>;

    // --- versioned deploy (/v1) ---------------------------------------------------------
    fn create_deployment<'a>(
        &'a self,
        request: &'a DeploymentRequest,
    ) -> BoxFut<'a, DeploymentAccepted>;
    fn deployment_status<'a>(&'a self, deployment: &'a str)
    -> BoxFut<'a, Polled<DeploymentStatus>>;
    /// Restore the environment's previous version and routing; the server's answer.
    fn rollback_deployment<'a>(&'a self, deployment: &'a str) -> BoxFut<'a, Value>;
    /// The routing of every affected bot after the change.
    fn set_routing<'a>(&'a self, request: &'a RoutingRequest) -> BoxFut<'a, Vec<BotRouting>>;
    /// Start a cross-region sync of a completed deployment; the sync job id.
    fn create_sync_job<'a>(&'a self, deployment: &'a str, region: &'a str) -> BoxFut<'a, String>;

    // --- canary (/api/v1) ---------------------------------------------------------------
    fn start_canary<'a>(&'a self, request: &'a CanaryRequest) -> BoxFut<'a, Canary>;
    fn set_canary_weight<'a>(&'a self, canary: &'a str, canary_pct: f64) -> BoxFut<'a, Canary>;
    fn pause_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary>;
    fn resume_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary>;
    fn promote_canary<'a>(&'a self, canary: &'a str) -> BoxFut<'a, Canary>;
    fn rollback_canary<'a>(&'a self, canary: &'a str, reason: &'a str) -> BoxFut<'a, Canary>;

    // --- rollback (/api/v1) -------------------------------------------------------------
    /// Start a rollback job; its job id. Sessions on the previous version drain as the
    /// server decides (until they end on their own).
    fn create_rollback_job<'a>(&'a self, request: &'a RollbackRequest) -> BoxFut<'a, String>;
    /// Start a rollback job whose previous version's sessions may finish for `drain` after
    /// the switch (`drainSeconds`; zero cuts them off at once); the job id.
    fn create_rollback_job_drained<'a>(
        &'a self,
        request: &'a RollbackRequest,
        drain: Option<Duration>,
    ) -> BoxFut<'a, String>;
    fn rollback_job_status<'a>(&'a self, job: &'a str) -> BoxFut<'a, Polled<RollbackJob>>;
    fn send_test_message<'a>(&'a self, bot: &'a str, message: &'a str) -> BoxFut<'a, TestResult>;

    // --- flows (/api/v2) ----------------------------------------------------------------
    fn import_flow<'a>(&'a self, flow: &'a Value, environment: &'a str) -> BoxFut<'a, FlowImport>;
    fn flow_status<'a>(&'a self, flow: &'a str, environment: &'a str) -> BoxFut<'a, FlowStatus>;
    /// Roll a flow back to `target_version` (without one, its previous version).
    fn rollback_flow<'a>(
        &'a self,
        flow: &'a str,
        target_version: Option<&'a str>,
        environment: Option<&'a str>,
    ) -> BoxFut<'a, Value>;

    // --- environment deploy (/api/v2) ---------------------------------------------------
    fn validate_environment<'a>(
        &'a self,
        environment: &'a str,
        body: &'a Value,
    ) -> BoxFut<'a, EnvValidation>;
    fn synthetic_trace<'a>(&'a self, body: &'a Value) -> BoxFut<'a, TraceResult>;
    /// Start an environment deployment job; its job id.
    fn create_env_deployment<'a>(&'a self, body: &'a Value) -> BoxFut<'a, String>;
    fn env_job<'a>(&'a self, job: &'a str) -> BoxFut<'a, Polled<EnvJob>>;
    fn rollback_env_job<'a>(&'a self, job: &'a str, reason: &'a str) -> BoxFut<'a, Value>;

    // --- operation control (relcon extension) --------------------------------------------
    /// One operation with its lease, pending commands and last event.
    fn get_operation<'a>(&'a self, operation: &'a str) -> BoxFut<'a, OperationDetail>;
    /// Operations with their control state, newest first.
    fn list_operation_details<'a>(
        &'a self,
        bot: Option<&'a str>,
        active_only: bool,
    ) -> BoxFut<'a, Vec<OperationDetail>>;
    /// Take or renew the operation's lease. Someone else's live lease is a
    /// [`BackendError::Conflict`] naming its holder, host, age and expiry.
    fn acquire_lease<'a>(
        &'a self,
        operation: &'a str,
        request: &'a LeaseRequest,
    ) -> BoxFut<'a, Lease>;
    /// Give the lease up; `false` when there was none.
    fn release_lease<'a>(&'a self, operation: &'a str, operation_key: &'a str) -> BoxFut<'a, bool>;
    /// Ask the operation's driver to do something.
    fn post_command<'a>(
        &'a self,
        operation: &'a str,
        command: ControlCommand,
        operator: &'a str,
        reason: Option<&'a str>,
    ) -> BoxFut<'a, OperationCommand>;
    /// Every command sent to the operation, acknowledged or not, oldest first.
    fn list_commands<'a>(&'a self, operation: &'a str) -> BoxFut<'a, Vec<OperationCommand>>;
    /// Commands not acknowledged yet, oldest first.
    fn pending_commands<'a>(&'a self, operation: &'a str) -> BoxFut<'a, Vec<OperationCommand>>;
    /// The driver's answer to a command (`Applied` or `Refused`).
    fn ack_command<'a>(
        &'a self,
        operation: &'a str,
        command: &'a str,
        state: CommandState,
        detail: &'a str,
    ) -> BoxFut<'a, OperationCommand>;
    /// Report what the driver is doing.
    fn post_event<'a>(
        &'a self,
        operation: &'a str,
        kind: OperationEventKind,
        message: &'a str,
    ) -> BoxFut<'a, OperationEvent>;
    /// The operation's events after sequence number `after` (all kept ones without it).
    fn operation_events<'a>(
        &'a self,
        operation: &'a str,
        after: Option<u64>,
    ) -> BoxFut<'a, Vec<OperationEvent>>;

    // --- taking and removing versions (Cognigy.AI snapshots) ----------------------------
    /// The most versions the platform keeps per bot (Cognigy.AI: 10 snapshots per project);
    /// `None` when there is no limit.
    fn version_limit(&self) -> Option<usize> {
        None
    }
    /// Take a new version of the bot's working state named `name`; the job id.
    fn create_version<'a>(
        &'a self,
        _bot: &'a str,
        _name: &'a str,
        _description: &'a str,
    ) -> BoxFut<'a, String> {
        not_on_release_api("taking a version")
    }
    /// Remove a version nothing serves; the job id.
    fn delete_version<'a>(&'a self, _bot: &'a str, _version: &'a str) -> BoxFut<'a, String> {
        not_on_release_api("removing a version")
    }
    fn version_job<'a>(&'a self, _job: &'a str) -> BoxFut<'a, Polled<VersionJob>> {
        not_on_release_api("a version job")
    }
    /// Package a version for download (to another installation); the job id.
    fn package_version<'a>(&'a self, _bot: &'a str, _version: &'a str) -> BoxFut<'a, String> {
        not_on_release_api("packaging a version")
    }
    /// The package of a packaged version, as bytes.
    fn download_version<'a>(&'a self, _bot: &'a str, _version: &'a str) -> BoxFut<'a, Vec<u8>> {
        not_on_release_api("downloading a version")
    }
    /// Make a package from another installation a new version of `bot`; the job id.
    fn upload_version<'a>(&'a self, _bot: &'a str, _package: &'a [u8]) -> BoxFut<'a, String> {
        not_on_release_api("uploading a version")
    }
    /// Make `version` the bot's working state (Cognigy.AI: restore the project); the job id.
    fn restore_version<'a>(&'a self, _bot: &'a str, _version: &'a str) -> BoxFut<'a, String> {
        not_on_release_api("restoring a version")
    }

    // --- misc ---------------------------------------------------------------------------
    fn register_webhook<'a>(
        &'a self,
        name: &'a str,
        url: &'a str,
        events: &'a [String],
        secret: &'a secrecy::SecretString,
    ) -> BoxFut<'a, WebhookRegistration>;
    /// Keep a server-side copy of an audit record (callers ignore failures).
    fn post_audit_log<'a>(&'a self, record: &'a Value) -> BoxFut<'a, ()>;
}

/// `90s`, `15m`, `2h`: the largest unit that divides the window (at least one second).
pub fn format_window(window: Duration) -> String {
    let secs = window.as_secs().max(1);
    if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse_window;

    #[test]
    fn windows_round_trip() {
        for secs in [1, 59, 60, 90, 900, 3600, 5400, 7200] {
            let w = format_window(Duration::from_secs(secs));
            assert_eq!(parse_window(&w), Some(secs), "{w}");
        }
        assert_eq!(format_window(Duration::from_secs(900)), "15m");
        assert_eq!(format_window(Duration::ZERO), "1s");
    }

    #[test]
    fn the_trait_is_object_safe() {
        fn takes(_: Option<std::sync::Arc<dyn ReleaseBackend>>) {}
        takes(None);
    }
}
