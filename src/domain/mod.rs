//! Plain types of the release world: what the Release API sends and what the engine and
//! the console reason about. Serde only, no I/O. The simulator serialises these same types,
//! so the client and the server cannot drift apart.

mod control;
mod metrics;

pub use control::{
    CommandState, ControlCommand, Lease, LeaseConflict, OperationCommand, OperationDetail,
    OperationEvent, OperationEventKind, PreviousHolder,
};
pub use metrics::{CanaryMetrics, MetricPoint, MetricSummary, MetricsSeries, Thresholds};

use serde::{Deserialize, Serialize};

/// Lifecycle status of a bot version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VersionStatus {
    Published,
    Draft,
    Archived,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Published => "PUBLISHED",
            VersionStatus::Draft => "DRAFT",
            VersionStatus::Archived => "ARCHIVED",
        }
    }
}

/// The stage an environment (and a version's environment tag) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Stage {
    Production,
    Staging,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Production => "PRODUCTION",
            Stage::Staging => "STAGING",
        }
    }
}

/// A reference from a deployment or version to one flow version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRef {
    pub flow_id: String,
    pub version: String,
}

/// One step of an operation, as the API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub name: String,
    pub state: StepState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Running,
    Done,
    Failed,
    Skipped,
}

/// A bot's binding to one environment: the version live there and its routing weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotEnvironment {
    pub environment_id: String,
    pub name: String,
    pub stage: Stage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    #[serde(default)]
    pub live_version: Option<String>,
    pub traffic_weight: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// A bot as the console lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotSummary {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub environments: Vec<BotEnvironment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_operation: Option<Operation>,
    pub active_sessions: u32,
    pub health: Health,
    #[serde(default)]
    pub error_rate: Option<f64>,
}

/// The conversation a bot is verified with after a rollback: a message and the intent its
/// live version must recognise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestConversation {
    pub message: String,
    pub expected_intent: String,
}

/// Active sessions of one version in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionSessions {
    pub environment_id: String,
    pub version_id: String,
    pub active_sessions: u64,
    /// The sessions are finishing on a version that no longer takes new conversations there.
    #[serde(default)]
    pub draining: bool,
}

/// `GET /api/v1/bots/{id}`: the summary plus what a rollback needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotDetail {
    #[serde(flatten)]
    pub summary: BotSummary,
    /// The bot's own test conversation, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_conversation: Option<TestConversation>,
    /// Active sessions per (environment, version); `summary.active_sessions` is their sum.
    #[serde(default)]
    pub sessions: Vec<VersionSessions>,
    /// A session ends at the latest this long (server seconds) after it started; unknown
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout_seconds: Option<u64>,
}

impl BotDetail {
    /// Active sessions of `version` in `environment`.
    pub fn sessions_on(&self, environment: &str, version: &str) -> u64 {
        self.sessions
            .iter()
            .filter(|s| s.environment_id == environment && s.version_id == version)
            .map(|s| s.active_sessions)
            .sum()
    }
}

/// Where a cut-over's drain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainState {
    /// Sessions are still finishing on the old version (or colour).
    Draining,
    /// Every session ended on its own; the old version was unmounted.
    Drained,
    /// The deadline passed: the sessions still there were cut off.
    CutOff,
    /// Traffic came back to the colour before it drained (routing drains only).
    Superseded,
}

impl DrainState {
    pub fn as_str(self) -> &'static str {
        match self {
            DrainState::Draining => "draining",
            DrainState::Drained => "drained",
            DrainState::CutOff => "cut_off",
            DrainState::Superseded => "superseded",
        }
    }
}

/// A conversation-aware cut-over: new conversations go to the new version (or colour) at
/// `started_at`; sessions already live finish where they started until none is left or
/// `drain_until` passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Drain {
    pub state: DrainState,
    pub environment_id: String,
    /// The version being drained; absent when a routing switch drains a whole colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Sessions still on the old version (colour) now.
    pub active_sessions: u64,
    /// Sessions it had at the switch.
    #[serde(default)]
    pub sessions_at_start: u64,
    pub started_at: String,
    /// The deadline; absent: no deadline (sessions end on their own, by the session timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_until: Option<String>,
    /// The latest the drain can end: the deadline or the session timeout, whichever is first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Sessions cut off at the deadline.
    #[serde(default)]
    pub cut_off_sessions: u64,
}

/// One version of a bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub id: String,
    pub label: String,
    pub status: VersionStatus,
    pub environment: Stage,
    pub created_at: String,
    pub nlu_model_id: String,
    #[serde(default)]
    pub flow_references: Vec<FlowRef>,
    #[serde(default)]
    pub live_in: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_canary_verdict: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    pub max_concurrent_sessions: u32,
    pub memory_limit_mb: u32,
}

/// An environment bots are deployed to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub id: String,
    pub name: String,
    pub stage: Stage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    pub region: String,
    pub capacity: Capacity,
    pub network_segment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    Deployment,
    Rollback,
    Canary,
    FlowPush,
    EnvironmentJob,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Deployment => "deployment",
            OperationKind::Rollback => "rollback",
            OperationKind::Canary => "canary",
            OperationKind::FlowPush => "flow push",
            OperationKind::EnvironmentJob => "environment job",
        }
    }
}

/// Any long-running thing the server does: deployments, rollback jobs, canaries, flow
/// pushes, environment jobs. `state` is the family's own state word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub id: String,
    pub kind: OperationKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub state: String,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryState {
    Running,
    Paused,
    Promoted,
    RolledBack,
}

impl CanaryState {
    pub fn is_active(self) -> bool {
        matches!(self, CanaryState::Running | CanaryState::Paused)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CanaryState::Running => "running",
            CanaryState::Paused => "paused",
            CanaryState::Promoted => "promoted",
            CanaryState::RolledBack => "rolled_back",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightChange {
    pub at: String,
    pub weight: f64,
}

/// A canary as the server keeps it: which version gets what share of one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Canary {
    pub id: String,
    pub bot_id: String,
    pub environment_id: String,
    pub version: String,
    pub stable_version: String,
    pub state: CanaryState,
    pub canary_weight: f64,
    pub max_traffic_percentage: f64,
    pub rollback_thresholds: Thresholds,
    pub started_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub weight_history: Vec<WeightChange>,
}

/// An active conversation session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: String,
    pub bot_id: String,
    pub environment_id: String,
    pub version_id: String,
    pub started_at: String,
    pub channel: String,
    pub status: String,
    /// The latest the session can end (the platform's session timeout after its start, or an
    /// earlier cut-off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// Deployment states of the `/v1` family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    Queued,
    Compiling,
    Deploying,
    Validating,
    Completed,
    Failed,
    RolledBack,
    Timeout,
}

impl DeploymentState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            DeploymentState::Completed
                | DeploymentState::Failed
                | DeploymentState::RolledBack
                | DeploymentState::Timeout
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::Queued => "queued",
            DeploymentState::Compiling => "compiling",
            DeploymentState::Deploying => "deploying",
            DeploymentState::Validating => "validating",
            DeploymentState::Completed => "completed",
            DeploymentState::Failed => "failed",
            DeploymentState::RolledBack => "rolled_back",
            DeploymentState::Timeout => "timeout",
        }
    }
}

/// The `/v1` deployment status document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    pub deployment_id: String,
    pub bot_id: String,
    pub version_id: String,
    pub target_environment_id: String,
    pub status: DeploymentState,
    pub created_at: String,
    pub updated_at: String,
    pub estimated_completion_seconds: u64,
    #[serde(default)]
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The old version's sessions finishing in the target environment after the deployment
    /// (or the routing switch that went with it) moved new conversations away from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<Drain>,
}

/// Job states of the `/api/v1` rollback family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JobState {
    Queued,
    Running,
    /// The target takes every new conversation; sessions on the previous version finish
    /// there until none is left or the drain deadline passes.
    Draining,
    Completed,
    Failed,
}

impl JobState {
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Completed | JobState::Failed)
    }
    /// The target is live for new conversations (draining or done).
    pub fn is_switched(self) -> bool {
        matches!(self, JobState::Draining | JobState::Completed)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "QUEUED",
            JobState::Running => "RUNNING",
            JobState::Draining => "DRAINING",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackJob {
    pub job_id: String,
    pub bot_id: String,
    pub target_version_id: String,
    pub state: JobState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// The environment the rollback switched (once it has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    /// The previous version's sessions finishing after the switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<Drain>,
}

/// Job states of the `/api/v2` environment family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvJobState {
    Queued,
    Running,
    Completed,
    Failed,
    RolledBack,
}

impl EnvJobState {
    pub fn is_terminal(self) -> bool {
        !matches!(self, EnvJobState::Queued | EnvJobState::Running)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            EnvJobState::Queued => "queued",
            EnvJobState::Running => "running",
            EnvJobState::Completed => "completed",
            EnvJobState::Failed => "failed",
            EnvJobState::RolledBack => "rolled_back",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvJob {
    pub job_id: String,
    pub environment_id: String,
    pub status: EnvJobState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvHealth {
    pub environment_id: String,
    pub status: Health,
    pub error_rate: f64,
    #[serde(default)]
    pub p95_latency_ms: Option<f64>,
    pub checked_at: String,
}

/// Routing of one bot across its environments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotRouting {
    pub bot_id: String,
    pub environments: Vec<RouteWeight>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteWeight {
    pub environment_id: String,
    pub traffic_weight: f64,
    #[serde(default)]
    pub live_version: Option<String>,
    /// Sessions active in the environment now (any version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_sessions: Option<u64>,
    /// The sessions finishing here since a switch took new conversations away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<Drain>,
}

/// A webhook registration as the server reports it (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRegistration {
    pub id: String,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: String,
}

/// The result of a synthetic test message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub intent: IntentMatch,
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub environment_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentMatch {
    pub name: String,
    pub confidence: f64,
}

/// An RFC 7807 problem document (what every error response carries).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_scope: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts_with: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// A lease conflict (`409` on `PUT /api/v1/operations/{id}/lease`): who holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseConflict>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Parse a window such as `15m`, `90s`, `2h` into seconds.
pub fn parse_window(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return None,
    };
    Some(n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_with_units() {
        assert_eq!(parse_window("15m"), Some(900));
        assert_eq!(parse_window("90s"), Some(90));
        assert_eq!(parse_window("2h"), Some(7200));
        assert_eq!(parse_window("30"), Some(30));
        assert_eq!(parse_window("m"), None);
        assert_eq!(parse_window("5d"), None);
    }

    #[test]
    fn wire_words_match_the_seeds() {
        assert_eq!(
            serde_json::to_string(&VersionStatus::Published).unwrap(),
            "\"PUBLISHED\""
        );
        assert_eq!(
            serde_json::to_string(&DeploymentState::RolledBack).unwrap(),
            "\"rolled_back\""
        );
        assert_eq!(
            serde_json::to_string(&JobState::Completed).unwrap(),
            "\"COMPLETED\""
        );
    }
}
