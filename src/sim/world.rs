//! The one world model behind every route family: bots, versions, environments and routing,
//! NLU models, flows, deployments and jobs, canaries, sessions, webhooks, audit records.
//!
//! State that changes over time keeps its history as `(simulator second, value)` pairs so the
//! traffic model can replay any past minute, and jobs carry their schedule, so what the world
//! looks like at second `t` depends only on what was done and when — never on when someone
//! happened to look.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

use crate::domain::{
    Capacity, DeploymentState, EnvJobState, Environment, FieldError, FlowRef, JobState, Stage,
    Step, StepState, Thresholds, VersionStatus,
};
use crate::sim::scenario::{
    OperationKindSpec, OperationSpec, Profile, Regression, Scenario, Timing,
};

/// A value that changes over time.
#[derive(Debug, Clone)]
pub struct History<T> {
    points: Vec<(f64, T)>,
}

impl<T: Clone> History<T> {
    pub fn new(initial: T) -> History<T> {
        History {
            points: vec![(f64::NEG_INFINITY, initial)],
        }
    }

    /// Record `value` from second `t` on (points stay ordered by time).
    pub fn set(&mut self, t: f64, value: T) {
        let idx = self.points.partition_point(|(pt, _)| *pt <= t);
        self.points.insert(idx, (t, value));
    }

    pub fn at(&self, t: f64) -> &T {
        &self.points[self.index_at(t)].1
    }

    /// Which of `values()` holds at `t`.
    pub fn index_at(&self, t: f64) -> usize {
        self.points
            .partition_point(|(pt, _)| *pt <= t)
            .saturating_sub(1)
    }

    /// Every value it has had, oldest first (the initial one first).
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.points.iter().map(|(_, v)| v)
    }

    pub fn current(&self) -> &T {
        &self.points[self.points.len() - 1].1
    }

    pub fn changes(&self) -> impl Iterator<Item = &(f64, T)> {
        self.points.iter().skip(1)
    }
}

#[derive(Debug, Clone)]
pub struct Env {
    pub id: String,
    pub name: String,
    pub stage: Stage,
    pub colour: Option<String>,
    pub region: String,
    pub max_sessions: u32,
    pub memory_mb: u32,
    pub network_segment: String,
    pub packages: BTreeMap<String, String>,
    pub deprecated_engines: Vec<String>,
    pub configuration: Option<Value>,
    pub previous_configuration: Option<Value>,
}

impl Env {
    pub fn to_domain(&self) -> Environment {
        Environment {
            id: self.id.clone(),
            name: self.name.clone(),
            stage: self.stage,
            colour: self.colour.clone(),
            region: self.region.clone(),
            capacity: Capacity {
                max_concurrent_sessions: self.max_sessions,
                memory_limit_mb: self.memory_mb,
            },
            network_segment: self.network_segment.clone(),
            configuration: self.configuration.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct VersionRec {
    pub id: String,
    pub label: String,
    pub status: VersionStatus,
    pub environment: Stage,
    pub created: f64,
    pub nlu: String,
    pub flows: Vec<FlowRef>,
    pub profile: Profile,
    pub regression: Option<Regression>,
    pub fail_deploy: Option<String>,
    pub fail_rollback: Option<String>,
    pub missing_dependencies: Vec<String>,
    pub confidence_penalty: f64,
    pub verdict: Option<String>,
    /// What its author said about it (a Cognigy snapshot's `description`).
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub env: String,
    pub live: History<Option<String>>,
}

#[derive(Debug, Clone)]
pub struct Bot {
    pub id: String,
    pub name: String,
    pub description: String,
    pub cpm: f64,
    pub staging_cpm: f64,
    /// Mean session lifetime in minutes (0: conversations hold no session).
    pub session_minutes: f64,
    /// The session timeout, seconds: no session lasts longer.
    pub session_timeout: f64,
    /// Sessions already open at second 0.
    pub backlog: Option<Backlog>,
    /// The bot's own test conversation: (message, expected intent).
    pub test_conversation: Option<(String, String)>,
    pub intents: Vec<(String, String, f64)>,
    /// Oldest first.
    pub versions: Vec<VersionRec>,
    pub bindings: Vec<Binding>,
    /// Environment id -> relative routing weight.
    pub routing: History<BTreeMap<String, f64>>,
    /// Since when each version has been receiving traffic, over time: `Some(start)` from its
    /// first traffic, `None` again from the rollback of its canary (a regression's clock then
    /// starts over). Kept as a history, so a past bucket replays as it was served.
    pub traffic_since: BTreeMap<String, History<Option<f64>>>,
}

impl Bot {
    /// The intent `live` recognises in `text`, with its confidence (the version's
    /// `confidence_penalty` taken off); `fallback` at 0.31 when no keyword matches.
    pub fn classify(&self, text: &str, live: Option<&str>) -> (String, f64) {
        let penalty = live
            .and_then(|v| self.version(v))
            .map(|v| v.confidence_penalty)
            .unwrap_or(0.0);
        let text = text.to_lowercase();
        let (name, confidence) = self
            .intents
            .iter()
            .find(|(k, _, _)| text.contains(k.as_str()))
            .map(|(_, i, c)| (i.clone(), (c - penalty).max(0.0)))
            .unwrap_or_else(|| ("fallback".into(), 0.31));
        (name, (confidence * 1000.0).round() / 1000.0)
    }

    /// The version with this id, else the first with this label. Ids are unique (the
    /// scenario checks them; new versions get fresh ids), so the id is looked for newest
    /// first, where the versions the traffic model asks about are.
    pub fn version(&self, id: &str) -> Option<&VersionRec> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.id == id)
            .or_else(|| self.versions.iter().find(|v| v.label == id))
    }

    pub fn version_mut(&mut self, id: &str) -> Option<&mut VersionRec> {
        let idx = self
            .versions
            .iter()
            .rposition(|v| v.id == id)
            .or_else(|| self.versions.iter().position(|v| v.label == id))?;
        self.versions.get_mut(idx)
    }

    pub fn binding(&self, env: &str) -> Option<&Binding> {
        self.bindings.iter().find(|b| b.env == env)
    }

    pub fn binding_mut(&mut self, env: &str) -> Option<&mut Binding> {
        self.bindings.iter_mut().find(|b| b.env == env)
    }

    /// Routing weight of `env` at `t`, normalised over the environments of the same stage.
    pub fn share(&self, envs: &BTreeMap<String, Env>, env: &str, t: f64) -> f64 {
        let stage = envs.get(env).map(|e| e.stage);
        let peers = self.peers(envs, stage);
        self.share_among(&peers, env, stage == Some(Stage::Staging), t)
    }

    /// The environments of the bot's bindings whose stage is `stage`, in binding order.
    pub fn peers<'a>(&'a self, envs: &BTreeMap<String, Env>, stage: Option<Stage>) -> Vec<&'a str> {
        self.bindings
            .iter()
            .filter(|b| envs.get(&b.env).map(|e| e.stage) == stage)
            .map(|b| b.env.as_str())
            .collect()
    }

    /// [`Bot::share`] with the environments of `env`'s stage (`peers`) known.
    pub fn share_among(&self, peers: &[&str], env: &str, staging: bool, t: f64) -> f64 {
        share_of(self.routing.at(t), peers, env, staging)
    }

    /// Since when `version` had been receiving traffic, as of second `t`.
    pub fn traffic_since(&self, version: &str, t: f64) -> Option<f64> {
        self.traffic_since.get(version).and_then(|h| *h.at(t))
    }

    /// `version` receives traffic from `t` on (no change if it already does).
    pub fn mark_traffic(&mut self, version: &str, t: f64) {
        let h = self
            .traffic_since
            .entry(version.to_string())
            .or_insert_with(|| History::new(None));
        if h.current().is_none() {
            h.set(t, Some(t));
        }
    }

    /// `version` stops receiving traffic at `t` (its canary was rolled back).
    pub fn clear_traffic(&mut self, version: &str, t: f64) {
        if let Some(h) = self.traffic_since.get_mut(version)
            && h.current().is_some()
        {
            h.set(t, None);
        }
    }
}

/// `env`'s part of routing `weights` among the environments of its stage (`peers`).
pub fn share_of(weights: &BTreeMap<String, f64>, peers: &[&str], env: &str, staging: bool) -> f64 {
    if staging {
        // Staging is not blue/green routed: every staging binding gets its own traffic.
        return 1.0;
    }
    let total: f64 = peers
        .iter()
        .map(|e| weights.get(*e).copied().unwrap_or(0.0))
        .sum();
    if total <= 0.0 {
        return 0.0;
    }
    weights.get(env).copied().unwrap_or(0.0) / total
}

/// A scenario's backlog: sessions already open at second 0 on one version.
#[derive(Debug, Clone)]
pub struct Backlog {
    pub env: String,
    pub version: String,
    pub sessions: u64,
    /// The stratification offset of their lifetimes.
    pub u: f64,
    /// Sessions ending per minute instead of with lifetimes.
    pub linear: Option<f64>,
}

/// From `at` on, sessions of (`bot`, `env`, `version`, or every version) that started before
/// `before` are gone: a drain's deadline cut them off.
#[derive(Debug, Clone, PartialEq)]
pub struct Cutoff {
    pub bot: String,
    pub env: String,
    pub version: Option<String>,
    pub before: f64,
    pub at: f64,
    /// The drain that set it.
    pub drain: String,
}

/// What started a drain.
#[derive(Debug, Clone, PartialEq)]
pub enum DrainCause {
    RollbackJob(String),
    Deployment(String),
    /// A routing switch, with the deployment it went with (when the client said so).
    Routing(Option<String>),
    /// An endpoint re-pointed at another snapshot (the Cognigy dialect), by endpoint id.
    Endpoint(String),
}

/// A conversation-aware cut-over: new conversations left (`env`, `version`) at `started`;
/// its sessions finish there until `ends` (the last ends on its own, or `deadline` cuts
/// off `cut_off` of them).
#[derive(Debug, Clone)]
pub struct DrainRec {
    pub id: String,
    pub bot: String,
    pub env: String,
    /// `None`: every version in the environment (a routing switch drains a colour).
    pub version: Option<String>,
    pub cause: DrainCause,
    pub started: f64,
    pub deadline: Option<f64>,
    pub at_start: u64,
    pub ends: f64,
    pub cut_off: u64,
    /// When traffic came back to the environment before the drain ended.
    pub superseded: Option<f64>,
}

impl DrainRec {
    pub fn state_at(&self, t: f64) -> crate::domain::DrainState {
        use crate::domain::DrainState;
        match self.superseded {
            Some(s) if t >= s => DrainState::Superseded,
            _ if t < self.ends => DrainState::Draining,
            _ if self.cut_off > 0 => DrainState::CutOff,
            _ => DrainState::Drained,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NluModel {
    pub id: String,
    pub bot: String,
    pub version: String,
    pub status: String,
}

#[derive(Debug, Clone)]
pub struct FlowVersion {
    pub version: String,
    pub created: f64,
    pub definition: Value,
}

#[derive(Debug, Clone)]
pub struct FlowDeployment {
    pub version: String,
    pub status: String,
    pub previous: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub id: String,
    pub bot: Option<String>,
    pub name: String,
    /// Oldest first; the last is the current definition.
    pub versions: Vec<FlowVersion>,
    pub deployed: BTreeMap<String, FlowDeployment>,
}

impl Flow {
    pub fn current(&self) -> Option<&FlowVersion> {
        self.versions.last()
    }

    pub fn has_version(&self, v: &str) -> bool {
        let v = v.trim_start_matches('v');
        self.versions.iter().any(|fv| fv.version == v)
    }
}

#[derive(Debug, Clone)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
    pub environments: Vec<String>,
}

/// A scheduled state machine: each phase starts at a simulator second.
#[derive(Debug, Clone)]
pub struct Schedule<S> {
    pub phases: Vec<(S, f64)>,
}

impl<S: Copy + PartialEq> Schedule<S> {
    pub fn state_at(&self, t: f64) -> S {
        let mut s = self.phases[0].0;
        for (p, start) in &self.phases {
            if *start <= t {
                s = *p;
            }
        }
        s
    }

    pub fn start_of(&self, s: S) -> Option<f64> {
        self.phases.iter().find(|(p, _)| *p == s).map(|(_, t)| *t)
    }

    pub fn end(&self) -> f64 {
        self.phases.last().map(|(_, t)| *t).unwrap_or(0.0)
    }

    /// Cut the schedule at `t` and end it in `s`.
    pub fn end_at(&mut self, t: f64, s: S) {
        self.phases.retain(|(_, start)| *start < t);
        self.phases.push((s, t));
    }
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: String,
    pub bot: String,
    pub env: String,
    pub version: String,
    pub nlu: String,
    pub flows: Vec<FlowRef>,
    pub created: f64,
    pub schedule: Schedule<DeploymentState>,
    pub error: Option<String>,
    pub applied: bool,
    pub previous_live: Option<String>,
    pub previous_routing: BTreeMap<String, f64>,
    /// The drain of the version it replaced, or of the colour the routing switch that went
    /// with it left.
    pub drain: Option<String>,
    pub status_reads: VecDeque<f64>,
}

#[derive(Debug, Clone)]
pub struct RollbackJobRec {
    pub id: String,
    pub bot: String,
    pub target: String,
    pub environment: Stage,
    pub created: f64,
    pub schedule: Schedule<JobState>,
    pub error: Option<String>,
    /// The switch (or the failure) has been applied.
    pub applied: bool,
    /// The job has ended (after its drain).
    pub finished: bool,
    pub env_applied: Option<String>,
    /// How long sessions on the previous version may finish after the switch (`None`: until
    /// they end on their own, `0`: cut off at once).
    pub drain_seconds: Option<f64>,
    pub drain: Option<String>,
    pub status_reads: VecDeque<f64>,
}

#[derive(Debug, Clone)]
pub struct EnvJobRec {
    pub id: String,
    pub env: String,
    pub payload: Value,
    pub callback: Option<String>,
    pub created: f64,
    pub schedule: Schedule<EnvJobState>,
    pub error: Option<String>,
    pub applied: bool,
    pub status_reads: VecDeque<f64>,
}

#[derive(Debug, Clone)]
pub struct SyncJob {
    pub id: String,
    pub source: String,
    pub region: String,
    pub created: f64,
    pub done_at: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CanaryPhase {
    Running,
    Paused,
    Promoted,
    RolledBack,
}

#[derive(Debug, Clone)]
pub struct CanaryRec {
    pub id: String,
    pub bot: String,
    pub env: String,
    pub version: String,
    pub stable: String,
    pub phase: CanaryPhase,
    pub weight: History<f64>,
    pub max_traffic: f64,
    pub thresholds: Thresholds,
    pub started: f64,
    pub updated: f64,
    pub ended: Option<f64>,
}

impl CanaryRec {
    pub fn active(&self) -> bool {
        matches!(self.phase, CanaryPhase::Running | CanaryPhase::Paused)
    }

    /// Canary share (0..=1) at `t`.
    pub fn share_at(&self, t: f64) -> f64 {
        if t < self.started || self.ended.is_some_and(|e| t >= e) {
            0.0
        } else {
            *self.weight.at(t) / 100.0
        }
    }
}

#[derive(Debug, Clone)]
pub struct FlowPush {
    pub id: String,
    pub flow: String,
    pub env: String,
    pub version: String,
    pub at: f64,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct WebhookRec {
    pub id: String,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub active: bool,
    pub created: f64,
}

#[derive(Debug, Clone)]
pub struct AuditRec {
    pub id: String,
    pub family: String,
    pub at: f64,
    pub body: Value,
}

/// How long a snapshot task waits in the queue, then runs, in simulator seconds.
pub const SNAPSHOT_TASK_QUEUED: f64 = 2.0;
pub const SNAPSHOT_TASK_ACTIVE: f64 = 10.0;

/// What a snapshot task does when it ends (the Cognigy dialect's `createSnapshot` and
/// `deleteSnapshot` tasks).
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotWork {
    /// A new version of the bot, a copy of its newest, named `name`.
    Create { name: String, description: String },
    /// The version leaves the bot's snapshots (it is archived).
    Delete { version: String },
    /// The version is packaged for download (its package expires after a day).
    Package { version: String },
    /// A package from another installation becomes a new version of the bot.
    Upload { name: String, description: String },
    /// The bot's working state becomes a copy of the version.
    Restore { version: String },
}

/// A scheduled snapshot task: queued from `created`, running from `started`, over at `ends`.
#[derive(Debug, Clone)]
pub struct SnapshotTask {
    pub id: String,
    pub bot: String,
    pub work: SnapshotWork,
    pub created: f64,
    pub started: f64,
    pub ends: f64,
    pub applied: bool,
    /// Why it failed (set when it ended without doing its work).
    pub error: Option<String>,
    /// The version it created.
    pub version: Option<String>,
    /// Set when it was started: it will end in error for this reason (an injected fault).
    pub doomed: Option<String>,
}

/// An HTTP delivery the world wants made (webhook events, job callbacks).
#[derive(Debug, Clone)]
pub struct Outbound {
    pub url: String,
    pub secret: Option<String>,
    pub event: String,
    pub body: Value,
}

#[derive(Debug, Clone)]
pub struct World {
    pub seed: u64,
    pub timing: Timing,
    pub envs: BTreeMap<String, Env>,
    pub bots: BTreeMap<String, Bot>,
    pub nlu: BTreeMap<String, NluModel>,
    pub flows: BTreeMap<String, Flow>,
    pub intents: Vec<NamedRef>,
    pub entities: Vec<NamedRef>,
    pub deployments: BTreeMap<String, Deployment>,
    pub rollback_jobs: BTreeMap<String, RollbackJobRec>,
    pub env_jobs: BTreeMap<String, EnvJobRec>,
    pub sync_jobs: BTreeMap<String, SyncJob>,
    pub canaries: BTreeMap<String, CanaryRec>,
    pub flow_pushes: Vec<FlowPush>,
    pub webhooks: Vec<WebhookRec>,
    pub audit: Vec<AuditRec>,
    pub outbox: Vec<Outbound>,
    pub drains: Vec<DrainRec>,
    pub cutoffs: Vec<Cutoff>,
    /// Operation control: leases, commands and events per operation id.
    pub controls: BTreeMap<String, crate::sim::control::Control>,
    /// Snapshot tasks (the Cognigy dialect), by task id.
    pub snapshot_tasks: BTreeMap<String, SnapshotTask>,
    /// Packaged snapshots (bot, version), with when their package expires.
    pub packages: BTreeMap<(String, String), f64>,
    /// What each bot's working state was last restored from.
    pub restored: BTreeMap<String, String>,
    /// The traffic model's draws, kept (a pure memo: it changes no figure).
    pub memo: crate::sim::traffic::DrawMemo,
    counter: u64,
}

const DAY: f64 = 86_400.0;

/// A uniform draw in [0, 1) for a bot's backlog, from the seed.
fn backlog_offset(seed: u64, bot: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in bot.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A flow definition in the shape seed 002 exports and validates.
fn flow_definition(
    spec_id: &str,
    name: &str,
    version: &str,
    refs: &[Value],
    extra: &[String],
) -> Value {
    let mut nodes = vec![
        json!({"id": "n1", "type": "start", "configuration": {}}),
        json!({"id": "n2", "type": "intent", "configuration": {"threshold": 0.7}}),
        json!({"id": "n3", "type": "action", "configuration": {"say": format!("{name} handled")}}),
        json!({"id": "n4", "type": "end", "configuration": {}}),
    ];
    for (i, t) in extra.iter().enumerate() {
        nodes.push(json!({"id": format!("x{i}"), "type": t, "configuration": {}}));
    }
    json!({
        "id": spec_id,
        "name": name,
        "version": version,
        "nodes": nodes,
        "edges": [
            {"from": "n1", "to": "n2", "condition": null},
            {"from": "n2", "to": "n3", "condition": "matched"},
            {"from": "n3", "to": "n4", "condition": null},
        ],
        "externalReferences": refs,
    })
}

/// Why the world refuses to start or change an operation; a route answers it as a problem
/// document, a scenario's operation as its error.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// `what` `id` does not exist.
    NotFound { what: &'static str, id: String },
    /// Fields of the request are wrong.
    Invalid(Vec<FieldError>),
    /// The world's state forbids it, e.g. another operation in progress on the bot (`with`).
    Conflict {
        message: String,
        with: Option<String>,
    },
}

impl Refusal {
    fn invalid(field: &str, message: impl Into<String>) -> Refusal {
        Refusal::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    fn conflict(message: impl Into<String>, with: Option<String>) -> Refusal {
        Refusal::Conflict {
            message: message.into(),
            with,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotFound { what, id } => write!(f, "{what} '{id}' does not exist"),
            Refusal::Invalid(errors) => {
                let parts: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect();
                write!(f, "{}", parts.join("; "))
            }
            Refusal::Conflict { message, .. } => write!(f, "{message}"),
        }
    }
}

/// A versioned deployment to start (`POST /v1/bots/{bot}/deployments`).
#[derive(Debug, Clone)]
pub struct DeployRequest<'a> {
    pub bot: &'a str,
    pub env: &'a str,
    pub nlu_model: &'a str,
    /// Default: the newest PUBLISHED version built on `nlu_model`.
    pub version: Option<&'a str>,
    pub flows: &'a [FlowRef],
    /// The deployment engine is stalled (a fault): the job ends in `timeout`.
    pub stalled: bool,
}

/// A canary to start (`POST /api/v1/bots/{bot}/deploy`).
#[derive(Debug, Clone)]
pub struct CanaryRequest<'a> {
    pub bot: &'a str,
    pub env: &'a str,
    pub version: &'a str,
    /// Canary share in percent from the start.
    pub weight: f64,
    pub max_traffic: f64,
    pub thresholds: Thresholds,
}

/// The schedule of a new deployment (or a stalled one that ends in `timeout`).
pub fn deployment_schedule(
    timing: &Timing,
    now: f64,
    stalled: bool,
    fails: bool,
) -> Schedule<DeploymentState> {
    if stalled {
        return Schedule {
            phases: vec![
                (DeploymentState::Queued, now),
                (DeploymentState::Timeout, now + timing.job_timeout),
            ],
        };
    }
    let mut t = now;
    let mut phases = Vec::new();
    for (s, name) in [
        (DeploymentState::Queued, "queued"),
        (DeploymentState::Compiling, "compiling"),
        (DeploymentState::Deploying, "deploying"),
        (DeploymentState::Validating, "validating"),
    ] {
        phases.push((s, t));
        t += Timing::phase(&timing.deploy, name);
    }
    phases.push((
        if fails {
            DeploymentState::Failed
        } else {
            DeploymentState::Completed
        },
        t,
    ));
    Schedule { phases }
}

impl World {
    /// The scenario's world with its operations started (one the world refuses is left
    /// out with a warning; `Scenario::parse` has refused such scenarios already).
    pub fn from_scenario(s: &Scenario, seed: u64) -> World {
        let mut w = World::build(s, seed);
        for (i, op) in s.operations.iter().enumerate() {
            if let Err(e) = w.start_scenario_operation(op) {
                tracing::warn!("scenario {}: {}: {e}; not started", s.name, op.what(i));
            }
        }
        w
    }

    /// The scenario's world, or why one of its operations cannot start.
    pub fn try_from_scenario(s: &Scenario, seed: u64) -> Result<World, String> {
        let mut w = World::build(s, seed);
        for (i, op) in s.operations.iter().enumerate() {
            w.start_scenario_operation(op)
                .map_err(|e| format!("{}: {e}", op.what(i)))?;
        }
        Ok(w)
    }

    fn build(s: &Scenario, seed: u64) -> World {
        let envs: BTreeMap<String, Env> = s
            .environments
            .iter()
            .map(|e| {
                (
                    e.id.clone(),
                    Env {
                        id: e.id.clone(),
                        name: e.name.clone(),
                        stage: e.stage,
                        colour: e.colour.clone(),
                        region: e.region.clone(),
                        max_sessions: e.max_concurrent_sessions,
                        memory_mb: e.memory_limit_mb,
                        network_segment: e.network_segment.clone(),
                        packages: e.packages.clone(),
                        deprecated_engines: e.deprecated_engines.clone(),
                        configuration: None,
                        previous_configuration: None,
                    },
                )
            })
            .collect();
        let mut bots = BTreeMap::new();
        for b in &s.bots {
            let mut versions = Vec::new();
            if let Some(h) = &b.history {
                versions.reserve(h.count as usize + b.versions.len());
                for i in 0..h.count {
                    let age = h.age_days(i);
                    let status = if i < h.count / 3 {
                        VersionStatus::Archived
                    } else if i % 4 == 3 {
                        VersionStatus::Draft
                    } else {
                        VersionStatus::Published
                    };
                    versions.push(VersionRec {
                        id: h.id(i),
                        label: h.label(i),
                        status,
                        environment: Stage::Production,
                        created: -age * DAY,
                        nlu: b.nlu_model.clone(),
                        flows: Vec::new(),
                        profile: b.profile,
                        regression: None,
                        fail_deploy: None,
                        fail_rollback: None,
                        missing_dependencies: Vec::new(),
                        confidence_penalty: 0.0,
                        verdict: (status == VersionStatus::Published).then(|| "promoted".into()),
                        description: String::new(),
                    });
                }
            }
            for v in &b.versions {
                versions.push(VersionRec {
                    id: v.id.clone(),
                    label: v
                        .label
                        .clone()
                        .unwrap_or_else(|| v.id.trim_start_matches('v').to_string()),
                    status: v.status,
                    environment: v.environment,
                    created: -v.age_days * DAY,
                    nlu: v.nlu.clone().unwrap_or_else(|| b.nlu_model.clone()),
                    flows: v.flows.clone(),
                    profile: v.profile.unwrap_or(b.profile),
                    regression: v.regression.clone(),
                    fail_deploy: v.fail_deploy.clone(),
                    fail_rollback: v.fail_rollback.clone(),
                    missing_dependencies: v.missing_dependencies.clone(),
                    confidence_penalty: v.confidence_penalty,
                    verdict: v.verdict.clone(),
                    description: String::new(),
                });
            }
            versions.sort_by(|a, b| a.created.total_cmp(&b.created));
            let mut weights = BTreeMap::new();
            let mut bindings = Vec::new();
            let mut traffic_since = BTreeMap::new();
            for bind in &b.environments {
                weights.insert(bind.env.clone(), bind.weight);
                // A regression's clock starts with production traffic: a candidate that is
                // only live in staging has not had any yet.
                let production = s
                    .environments
                    .iter()
                    .any(|e| e.id == bind.env && e.stage == Stage::Production);
                if let (Some(live), true) = (&bind.live, production) {
                    traffic_since.insert(live.clone(), History::new(Some(f64::NEG_INFINITY)));
                }
                bindings.push(Binding {
                    env: bind.env.clone(),
                    live: History::new(bind.live.clone()),
                });
            }
            let backlog = (b.active_sessions > 0)
                .then(|| {
                    let env =
                        b.environments
                            .iter()
                            .filter(|bind| {
                                s.environments
                                    .iter()
                                    .any(|e| e.id == bind.env && e.stage == Stage::Production)
                            })
                            .fold(None::<&crate::sim::scenario::BindingSpec>, |best, bind| {
                                match best {
                                    Some(x) if x.weight >= bind.weight => Some(x),
                                    _ => Some(bind),
                                }
                            })?;
                    Some(Backlog {
                        env: env.env.clone(),
                        version: env.live.clone()?,
                        sessions: u64::from(b.active_sessions),
                        u: backlog_offset(seed, &b.id),
                        linear: (b.drain_per_minute > 0.0).then_some(b.drain_per_minute),
                    })
                })
                .flatten();
            bots.insert(
                b.id.clone(),
                Bot {
                    id: b.id.clone(),
                    name: b.name.clone(),
                    description: b.description.clone(),
                    cpm: b.cpm,
                    staging_cpm: b.staging_cpm,
                    session_minutes: b.session_minutes,
                    session_timeout: b.session_timeout_minutes * 60.0,
                    backlog,
                    test_conversation: b.test_message.clone().zip(b.expected_intent.clone()),
                    intents: b
                        .intents
                        .iter()
                        .map(|r| (r.keyword.to_lowercase(), r.intent.clone(), r.confidence))
                        .collect(),
                    versions,
                    bindings,
                    routing: History::new(weights),
                    traffic_since,
                },
            );
        }
        let nlu = s
            .nlu_models
            .iter()
            .map(|n| {
                (
                    n.id.clone(),
                    NluModel {
                        id: n.id.clone(),
                        bot: n.bot.clone(),
                        version: n.version.clone(),
                        status: n.status.clone(),
                    },
                )
            })
            .collect();
        let flows = s
            .flows
            .iter()
            .map(|f| {
                let refs: Vec<Value> = f
                    .references
                    .iter()
                    .map(|r| json!({"type": r.kind, "id": r.id, "environmentId": r.environment_id}))
                    .collect();
                let n = f.versions.len();
                let versions = f
                    .versions
                    .iter()
                    .enumerate()
                    .map(|(i, v)| FlowVersion {
                        version: v.clone(),
                        created: -((n - i) as f64) * 5.0 * DAY,
                        definition: flow_definition(&f.id, &f.name, v, &refs, &f.extra_nodes),
                    })
                    .collect();
                let deployed = f
                    .deployed
                    .iter()
                    .map(|(env, v)| {
                        (
                            env.clone(),
                            FlowDeployment {
                                version: v.clone(),
                                status: "deployed".into(),
                                previous: Vec::new(),
                            },
                        )
                    })
                    .collect();
                (
                    f.id.clone(),
                    Flow {
                        id: f.id.clone(),
                        bot: f.bot.clone(),
                        name: f.name.clone(),
                        versions,
                        deployed,
                    },
                )
            })
            .collect();
        let named = |v: &Vec<crate::sim::scenario::RefSpec>| {
            v.iter()
                .map(|r| NamedRef {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    environments: r.environments.clone(),
                })
                .collect()
        };
        World {
            seed,
            timing: s.timing.clone(),
            envs,
            bots,
            nlu,
            flows,
            intents: named(&s.intents),
            entities: named(&s.entities),
            deployments: BTreeMap::new(),
            rollback_jobs: BTreeMap::new(),
            env_jobs: BTreeMap::new(),
            sync_jobs: BTreeMap::new(),
            canaries: BTreeMap::new(),
            flow_pushes: Vec::new(),
            webhooks: Vec::new(),
            audit: Vec::new(),
            outbox: Vec::new(),
            drains: Vec::new(),
            cutoffs: Vec::new(),
            controls: BTreeMap::new(),
            snapshot_tasks: BTreeMap::new(),
            packages: BTreeMap::new(),
            restored: BTreeMap::new(),
            memo: Default::default(),
            counter: 0,
        }
    }

    /// A new id with a family prefix; ids are sequential so a replay gives the same ids.
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{:06}", self.counter)
    }

    /// The operation in progress on `bot`, if any: (kind, id).
    pub fn busy(&self, bot: &str) -> Option<(String, String)> {
        if let Some(d) = self
            .deployments
            .values()
            .find(|d| d.bot == bot && !d.applied)
        {
            return Some(("deployment".into(), d.id.clone()));
        }
        if let Some(j) = self
            .rollback_jobs
            .values()
            .find(|j| j.bot == bot && !j.finished)
        {
            return Some(("rollback job".into(), j.id.clone()));
        }
        if let Some(c) = self.canaries.values().find(|c| c.bot == bot && c.active()) {
            return Some(("canary".into(), c.id.clone()));
        }
        None
    }

    /// The version a deployment of `req` deploys, its references checked.
    fn deploy_version(&self, req: &DeployRequest<'_>) -> Result<String, Refusal> {
        let bot_id = req.bot;
        let bot = self.bots.get(bot_id).ok_or_else(|| Refusal::NotFound {
            what: "bot",
            id: bot_id.to_string(),
        })?;
        let model = self.nlu.get(req.nlu_model).ok_or_else(|| {
            Refusal::conflict(
                format!("NLU model '{}' does not exist", req.nlu_model),
                None,
            )
        })?;
        if model.bot != bot_id {
            return Err(Refusal::conflict(
                format!(
                    "NLU model '{}' belongs to bot '{}', not '{bot_id}'",
                    model.id, model.bot
                ),
                None,
            ));
        }
        let version = match req.version {
            Some(v) => {
                let ver = bot.version(v).ok_or_else(|| Refusal::NotFound {
                    what: "version",
                    id: v.to_string(),
                })?;
                if ver.status != VersionStatus::Published {
                    return Err(Refusal::invalid(
                        "versionId",
                        format!(
                            "version {} is {}; only PUBLISHED versions can be deployed",
                            ver.id,
                            ver.status.as_str()
                        ),
                    ));
                }
                if ver.nlu != req.nlu_model {
                    return Err(Refusal::conflict(
                        format!(
                            "NLU mismatch: version {} is built on '{}', the request names '{}'",
                            ver.id, ver.nlu, req.nlu_model
                        ),
                        None,
                    ));
                }
                ver
            }
            None => bot
                .versions
                .iter()
                .rev()
                .find(|v| v.status == VersionStatus::Published && v.nlu == req.nlu_model)
                .ok_or_else(|| {
                    Refusal::conflict(
                        format!(
                            "NLU mismatch: no PUBLISHED version of bot '{bot_id}' is built on '{}'",
                            req.nlu_model
                        ),
                        None,
                    )
                })?,
        };
        for r in req.flows {
            let flow = self.flows.get(&r.flow_id).ok_or_else(|| {
                Refusal::conflict(format!("flow '{}' does not exist", r.flow_id), None)
            })?;
            if !flow.has_version(&r.version) {
                let known: Vec<&str> = flow.versions.iter().map(|v| v.version.as_str()).collect();
                return Err(Refusal::conflict(
                    format!(
                        "flow '{}' has no version '{}' (known: {}); check GET /v1/bots/{bot_id}/flows/{}/versions",
                        r.flow_id,
                        r.version,
                        known.join(", "),
                        r.flow_id
                    ),
                    None,
                ));
            }
        }
        Ok(version.id.clone())
    }

    /// Start a versioned deployment at `now`, on the world's timing; returns its id. It
    /// completes (or fails, or times out) when `advance` reaches the end of its schedule.
    pub fn start_deployment(
        &mut self,
        req: &DeployRequest<'_>,
        now: f64,
    ) -> Result<String, Refusal> {
        let version = self.deploy_version(req)?;
        let bot_id = req.bot;
        let bot = self.bots.get(bot_id).ok_or_else(|| Refusal::NotFound {
            what: "bot",
            id: bot_id.to_string(),
        })?;
        let binding = bot.binding(req.env).ok_or_else(|| {
            if self.envs.contains_key(req.env) {
                Refusal::invalid(
                    "targetEnvironmentId",
                    format!("bot '{bot_id}' is not bound to environment '{}'", req.env),
                )
            } else {
                Refusal::NotFound {
                    what: "environment",
                    id: req.env.to_string(),
                }
            }
        })?;
        if let Some((kind, id)) = self.busy(bot_id) {
            return Err(Refusal::conflict(
                format!(
                    "bot '{bot_id}' already has a {kind} in progress ({id}); wait for it or roll it back"
                ),
                Some(id),
            ));
        }
        let previous_live = binding.live.current().clone();
        let previous_routing = bot.routing.current().clone();
        let fails = bot.version(&version).and_then(|v| v.fail_deploy.clone());
        let schedule = deployment_schedule(&self.timing, now, req.stalled, fails.is_some());
        let id = self.next_id("dep");
        let error = if req.stalled {
            Some(format!(
                "deployment did not finish within {}s (the deployment engine stalled)",
                self.timing.job_timeout
            ))
        } else {
            fails
        };
        self.deployments.insert(
            id.clone(),
            Deployment {
                id: id.clone(),
                bot: bot_id.to_string(),
                env: req.env.to_string(),
                version,
                nlu: req.nlu_model.to_string(),
                flows: req.flows.to_vec(),
                created: now,
                schedule,
                error,
                applied: false,
                previous_live,
                previous_routing,
                drain: None,
                status_reads: VecDeque::new(),
            },
        );
        Ok(id)
    }

    /// What a canary of `version` in `env` would compare: (the version's id, the stable
    /// version live there). Changes nothing. Field errors come first, then a conflict
    /// with an operation in progress.
    pub fn canary_plan(
        &self,
        bot_id: &str,
        env: &str,
        version: &str,
    ) -> Result<(String, String), Refusal> {
        let bot = self.bots.get(bot_id).ok_or_else(|| Refusal::NotFound {
            what: "bot",
            id: bot_id.to_string(),
        })?;
        let mut errors = Vec::new();
        let version = match bot.version(version) {
            Some(v) if v.status == VersionStatus::Published => Some(v.id.clone()),
            Some(v) => {
                errors.push(FieldError {
                    field: "version".into(),
                    message: format!(
                        "version {} is {}; only PUBLISHED versions can be canaried",
                        v.id,
                        v.status.as_str()
                    ),
                });
                None
            }
            None => {
                errors.push(FieldError {
                    field: "version".into(),
                    message: format!("bot '{bot_id}' has no version '{version}'"),
                });
                None
            }
        };
        let stable = match bot.binding(env) {
            None => {
                errors.push(FieldError {
                    field: "environment_id".into(),
                    message: format!("bot '{bot_id}' is not deployed to '{env}'"),
                });
                None
            }
            Some(b) => b.live.current().clone(),
        };
        if let (Some(v), Some(s)) = (&version, &stable)
            && v == s
        {
            errors.push(FieldError {
                field: "version".into(),
                message: format!("{v} is already live in {env}"),
            });
        }
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors));
        }
        if let Some((kind, id)) = self.busy(bot_id) {
            return Err(Refusal::conflict(
                format!("bot '{bot_id}' already has a {kind} in progress ({id})"),
                Some(id),
            ));
        }
        match (version, stable) {
            (Some(v), Some(s)) => Ok((v, s)),
            _ => Err(Refusal::invalid(
                "version",
                "no stable version to compare against",
            )),
        }
    }

    /// Start a canary at `now`; returns its id. It holds its weight until someone changes
    /// it, promotes or rolls it back.
    pub fn start_canary(&mut self, req: &CanaryRequest<'_>, now: f64) -> Result<String, Refusal> {
        let (version, stable) = self.canary_plan(req.bot, req.env, req.version)?;
        let id = self.next_id("cnry");
        let mut weight = History::new(0.0);
        weight.set(now, req.weight);
        let rec = CanaryRec {
            id: id.clone(),
            bot: req.bot.to_string(),
            env: req.env.to_string(),
            version: version.clone(),
            stable,
            phase: CanaryPhase::Running,
            weight,
            max_traffic: req.max_traffic,
            thresholds: req.thresholds.clone(),
            started: now,
            updated: now,
            ended: None,
        };
        if let Some(b) = self.bots.get_mut(req.bot)
            && req.weight > 0.0
        {
            b.mark_traffic(&version, now);
        }
        self.canaries.insert(id.clone(), rec);
        Ok(id)
    }

    /// Set a running canary's traffic share (percent) from `now` on.
    pub fn set_canary_weight(&mut self, id: &str, weight: f64, now: f64) -> Result<(), Refusal> {
        let c = self.canaries.get_mut(id).ok_or_else(|| Refusal::NotFound {
            what: "canary",
            id: id.to_string(),
        })?;
        if !c.active() {
            return Err(Refusal::conflict(
                format!("canary {id} has ended ({:?}); start a new one", c.phase),
                Some(id.to_string()),
            ));
        }
        if !(0.0..=100.0).contains(&weight) || weight > c.max_traffic {
            return Err(Refusal::invalid(
                "canary",
                format!(
                    "{weight} is outside 0..={} (max_traffic_percentage)",
                    c.max_traffic
                ),
            ));
        }
        c.weight.set(now, weight);
        c.updated = now;
        let (bot, version) = (c.bot.clone(), c.version.clone());
        if weight > 0.0
            && let Some(b) = self.bots.get_mut(&bot)
        {
            b.mark_traffic(&version, now);
        }
        Ok(())
    }

    /// Start one of the scenario's operations at its second, through the functions the
    /// routes use; returns its id.
    fn start_scenario_operation(&mut self, op: &OperationSpec) -> Result<String, Refusal> {
        let bot = self.bots.get(&op.bot).ok_or_else(|| Refusal::NotFound {
            what: "bot",
            id: op.bot.clone(),
        })?;
        let production =
            |b: &&Binding| self.envs.get(&b.env).map(|e| e.stage) == Some(Stage::Production);
        let env = match (&op.env, op.kind) {
            (Some(e), _) => Some(e.clone()),
            (None, OperationKindSpec::Canary) => self.active_env(bot, Stage::Production, op.at),
            (None, OperationKindSpec::Deploy) => {
                let weights = bot.routing.at(op.at);
                let weight = |b: &Binding| weights.get(&b.env).copied().unwrap_or(0.0);
                bot.bindings
                    .iter()
                    .filter(production)
                    .min_by(|a, b| weight(a).total_cmp(&weight(b)))
                    .map(|b| b.env.clone())
            }
        }
        .ok_or_else(|| {
            Refusal::invalid(
                "env",
                format!(
                    "bot '{}' has no production environment; name one with env = \"...\"",
                    op.bot
                ),
            )
        })?;
        let version = match &op.version {
            Some(v) => v.clone(),
            None => {
                let live = bot.binding(&env).and_then(|b| b.live.at(op.at).clone());
                bot.versions
                    .iter()
                    .rev()
                    .find(|v| v.status == VersionStatus::Published && Some(&v.id) != live.as_ref())
                    .map(|v| v.id.clone())
                    .ok_or_else(|| {
                        Refusal::invalid(
                            "version",
                            format!(
                                "bot '{}' has no PUBLISHED version that is not live in {env}",
                                op.bot
                            ),
                        )
                    })?
            }
        };
        match op.kind {
            OperationKindSpec::Deploy => {
                let nlu = bot
                    .version(&version)
                    .map(|v| v.nlu.clone())
                    .ok_or_else(|| Refusal::NotFound {
                        what: "version",
                        id: version.clone(),
                    })?;
                let req = DeployRequest {
                    bot: &op.bot,
                    env: &env,
                    nlu_model: &nlu,
                    version: Some(&version),
                    flows: &[],
                    stalled: false,
                };
                self.start_deployment(&req, op.at)
            }
            OperationKindSpec::Canary => {
                let req = CanaryRequest {
                    bot: &op.bot,
                    env: &env,
                    version: &version,
                    weight: op.weights.first().copied().unwrap_or(0.0),
                    max_traffic: op.max_traffic,
                    thresholds: Thresholds::default(),
                };
                let id = self.start_canary(&req, op.at)?;
                for (k, w) in op.weights.iter().enumerate().skip(1) {
                    self.set_canary_weight(&id, *w, op.at + op.step_seconds * k as f64)?;
                }
                Ok(id)
            }
        }
    }

    /// Fire the webhook registrations subscribed to `event`.
    pub fn emit(&mut self, event: &str, body: Value) {
        let hooks: Vec<Outbound> = self
            .webhooks
            .iter()
            .filter(|w| w.active && w.events.iter().any(|e| e == event || e == "*"))
            .map(|w| Outbound {
                url: w.url.clone(),
                secret: Some(w.secret.clone()),
                event: event.to_string(),
                body: body.clone(),
            })
            .collect();
        self.outbox.extend(hooks);
    }

    /// The live version of `bot` in `env` at `t`.
    pub fn live_at(&self, bot: &str, env: &str, t: f64) -> Option<String> {
        self.bots
            .get(bot)?
            .binding(env)
            .and_then(|b| b.live.at(t).clone())
    }

    /// The bot's binding of `stage` that carries the most traffic now.
    pub fn active_env(&self, bot: &Bot, stage: Stage, t: f64) -> Option<String> {
        let weights = bot.routing.at(t);
        bot.bindings
            .iter()
            .filter(|b| self.envs.get(&b.env).map(|e| e.stage) == Some(stage))
            .max_by(|a, b| {
                let wa = weights.get(&a.env).copied().unwrap_or(0.0);
                let wb = weights.get(&b.env).copied().unwrap_or(0.0);
                // Prefer the first binding on ties.
                wa.total_cmp(&wb).then(std::cmp::Ordering::Greater)
            })
            .map(|b| b.env.clone())
    }

    /// Move every job whose schedule has passed `now` into its new state, applying effects
    /// at the scheduled second.
    pub fn advance(&mut self, now: f64) {
        self.advance_deployments(now);
        self.advance_rollback_jobs(now);
        self.advance_env_jobs(now);
        self.advance_snapshot_tasks(now);
    }

    /// From `now` on, new conversations of `bot` in `env` go to `version`; the sessions on the
    /// version it replaces finish there (a drain, as a rollback job's switch does). Returns the
    /// drain, if there was anything to drain.
    pub fn switch_live(
        &mut self,
        bot: &str,
        env: &str,
        version: &str,
        now: f64,
        cause: DrainCause,
    ) -> Option<String> {
        let previous = self.live_at(bot, env, now);
        let b = self.bots.get_mut(bot)?;
        b.binding_mut(env)?.live.set(now, Some(version.to_string()));
        b.mark_traffic(version, now);
        let prev = previous.filter(|p| p != version)?;
        self.start_drain(bot, env, Some(&prev), cause, now, None)
    }

    fn advance_snapshot_tasks(&mut self, now: f64) {
        let ids: Vec<String> = self
            .snapshot_tasks
            .values()
            .filter(|t| !t.applied && t.ends <= now)
            .map(|t| t.id.clone())
            .collect();
        for id in ids {
            let Some(t) = self.snapshot_tasks.get(&id).cloned() else {
                continue;
            };
            let mut error = t.doomed.clone();
            let mut created = None;
            match &t.work {
                _ if error.is_some() => {}
                SnapshotWork::Package { version } => {
                    self.packages
                        .insert((t.bot.clone(), version.clone()), t.ends + 86_400.0);
                }
                SnapshotWork::Restore { version } => {
                    self.restored.insert(t.bot.clone(), version.clone());
                }
                SnapshotWork::Create { name, description }
                | SnapshotWork::Upload { name, description } => {
                    let version_id = self.next_id("snap");
                    match self.bots.get_mut(&t.bot) {
                        Some(b) => match b.versions.last().cloned() {
                            Some(newest) => {
                                b.versions.push(VersionRec {
                                    id: version_id.clone(),
                                    label: name.clone(),
                                    status: VersionStatus::Published,
                                    environment: Stage::Production,
                                    created: t.ends,
                                    verdict: None,
                                    description: description.clone(),
                                    ..newest
                                });
                                created = Some(version_id);
                            }
                            None => error = Some("the project has nothing to snapshot".into()),
                        },
                        None => error = Some("the project no longer exists".into()),
                    }
                }
                SnapshotWork::Delete { version } => {
                    let in_use = self.bots.get(&t.bot).and_then(|b| {
                        b.bindings
                            .iter()
                            .find(|x| x.live.at(t.ends).as_deref() == Some(version.as_str()))
                            .map(|x| x.env.clone())
                    });
                    match in_use {
                        Some(env) => {
                            error = Some(format!(
                                "the snapshot is in use by the endpoint of environment '{env}'"
                            ))
                        }
                        None => {
                            if let Some(v) = self
                                .bots
                                .get_mut(&t.bot)
                                .and_then(|b| b.version_mut(version))
                            {
                                v.status = VersionStatus::Archived;
                            }
                        }
                    }
                }
            }
            if let Some(t) = self.snapshot_tasks.get_mut(&id) {
                t.applied = true;
                t.error = error;
                t.version = created;
            }
        }
    }

    fn advance_deployments(&mut self, now: f64) {
        let ids: Vec<String> = self
            .deployments
            .values()
            .filter(|d| !d.applied && d.schedule.end() <= now)
            .map(|d| d.id.clone())
            .collect();
        for id in ids {
            let Some(d) = self.deployments.get_mut(&id) else {
                continue;
            };
            d.applied = true;
            let end = d.schedule.end();
            let state = d.schedule.state_at(end);
            if state != DeploymentState::Completed {
                continue;
            }
            let (bot, env, version) = (d.bot.clone(), d.env.clone(), d.version.clone());
            let previous = self.live_at(&bot, &env, end);
            if let Some(b) = self.bots.get_mut(&bot) {
                if let Some(binding) = b.binding_mut(&env) {
                    binding.live.set(end, Some(version.clone()));
                }
                b.mark_traffic(&version, end);
            }
            // Sessions on the version it replaced finish there.
            if let Some(prev) = previous.filter(|p| *p != version) {
                let drain = self.start_drain(
                    &bot,
                    &env,
                    Some(&prev),
                    DrainCause::Deployment(id.clone()),
                    end,
                    None,
                );
                if let (Some(dr), Some(d)) = (drain, self.deployments.get_mut(&id)) {
                    d.drain = Some(dr);
                }
            }
            self.emit(
                "deployment.completed",
                json!({"deploymentId": id, "botId": bot, "environmentId": env, "versionId": version}),
            );
        }
    }

    fn advance_rollback_jobs(&mut self, now: f64) {
        let ids: Vec<String> = self
            .rollback_jobs
            .values()
            .filter(|j| !j.applied && j.schedule.end() <= now)
            .map(|j| j.id.clone())
            .collect();
        for id in ids {
            let Some(j) = self.rollback_jobs.get(&id).cloned() else {
                continue;
            };
            let end = j.schedule.end();
            let mut env_applied = None;
            let mut drain = None;
            if j.schedule.state_at(end) == JobState::Completed {
                let env = self
                    .bots
                    .get(&j.bot)
                    .and_then(|b| self.active_env(b, j.environment, end));
                if let Some(env) = env {
                    let previous = self.live_at(&j.bot, &env, end);
                    if let Some(b) = self.bots.get_mut(&j.bot) {
                        if let Some(binding) = b.binding_mut(&env) {
                            binding.live.set(end, Some(j.target.clone()));
                        }
                        b.mark_traffic(&j.target, end);
                    }
                    // New conversations go to the target from here; the previous version's
                    // sessions finish on it until none is left or the deadline passes.
                    if let Some(prev) = previous.filter(|p| *p != j.target) {
                        drain = self.start_drain(
                            &j.bot,
                            &env,
                            Some(&prev),
                            DrainCause::RollbackJob(id.clone()),
                            end,
                            j.drain_seconds.map(|d| end + d.max(0.0)),
                        );
                    }
                    env_applied = Some(env);
                }
            }
            let ends = drain
                .as_ref()
                .and_then(|d| self.drains.iter().find(|x| &x.id == d))
                .map(|d| d.ends);
            if let Some(j) = self.rollback_jobs.get_mut(&id) {
                j.applied = true;
                j.env_applied = env_applied;
                if let Some(ends) = ends.filter(|e| *e > end) {
                    j.schedule.phases.pop();
                    j.schedule.phases.push((JobState::Draining, end));
                    j.schedule.phases.push((JobState::Completed, ends));
                }
                j.drain = drain;
            }
        }
        // Jobs whose schedule (drain included) has run out are over.
        let done: Vec<String> = self
            .rollback_jobs
            .values()
            .filter(|j| j.applied && !j.finished && j.schedule.end() <= now)
            .map(|j| j.id.clone())
            .collect();
        for id in done {
            let Some(j) = self.rollback_jobs.get_mut(&id) else {
                continue;
            };
            j.finished = true;
            if j.schedule.state_at(j.schedule.end()) == JobState::Completed {
                let body = json!({"jobId": id, "botId": j.bot, "targetVersionId": j.target});
                self.emit("deployment.rollback.completed", body);
            }
        }
    }

    /// Set `bot`'s routing weights at `now`. A production environment whose share falls to
    /// 0 starts draining its sessions (until `drain_seconds` when given); one that gets
    /// traffic again ends its drain early (nothing cut off). Returns the new drains.
    pub fn route(
        &mut self,
        bot: &str,
        weights: BTreeMap<String, f64>,
        now: f64,
        drain_seconds: Option<f64>,
        deployment: Option<&str>,
    ) -> Vec<String> {
        let Some(b) = self.bots.get(bot) else {
            return Vec::new();
        };
        let before: Vec<(String, f64)> = b
            .bindings
            .iter()
            .filter(|x| self.envs.get(&x.env).map(|e| e.stage) == Some(Stage::Production))
            .map(|x| (x.env.clone(), b.share(&self.envs, &x.env, now)))
            .collect();
        if let Some(b) = self.bots.get_mut(bot) {
            b.routing.set(now, weights);
        }
        let mut started = Vec::new();
        for (env, was) in before {
            let is = self
                .bots
                .get(bot)
                .map_or(0.0, |b| b.share(&self.envs, &env, now));
            if was > 0.0 && is <= 0.0 {
                let cause = DrainCause::Routing(deployment.map(str::to_string));
                let deadline = drain_seconds.map(|d| now + d.max(0.0));
                if let Some(id) = self.start_drain(bot, &env, None, cause, now, deadline) {
                    started.push(id);
                }
            } else if is > 0.0 {
                for d in self.drains.iter_mut().filter(|d| {
                    d.bot == bot
                        && d.env == env
                        && d.version.is_none()
                        && d.superseded.is_none()
                        && d.ends > now
                }) {
                    d.superseded = Some(now);
                    d.ends = now;
                    d.cut_off = 0;
                    let id = d.id.clone();
                    self.cutoffs.retain(|c| c.drain != id);
                }
            }
        }
        started
    }

    pub fn drain(&self, id: &str) -> Option<&DrainRec> {
        self.drains.iter().find(|d| d.id == id)
    }

    fn advance_env_jobs(&mut self, now: f64) {
        let ids: Vec<String> = self
            .env_jobs
            .values()
            .filter(|j| !j.applied && j.schedule.end() <= now)
            .map(|j| j.id.clone())
            .collect();
        for id in ids {
            let Some(j) = self.env_jobs.get_mut(&id) else {
                continue;
            };
            j.applied = true;
            let state = j.schedule.state_at(j.schedule.end());
            let (env, payload, callback) = (j.env.clone(), j.payload.clone(), j.callback.clone());
            if state == EnvJobState::Completed
                && let Some(e) = self.envs.get_mut(&env)
            {
                e.previous_configuration = e.configuration.take();
                e.configuration = Some(
                    payload
                        .get("configuration_snapshot")
                        .cloned()
                        .unwrap_or(Value::Null),
                );
            }
            if let Some(url) = callback {
                self.outbox.push(Outbound {
                    url,
                    secret: None,
                    event: "environment.deployment.completed".into(),
                    body: json!({"event": "environment.deployment.completed", "jobId": id, "environmentId": env, "status": state.as_str()}),
                });
            }
        }
    }
}

/// Steps for a schedule, in the shape the API reports.
pub fn schedule_steps<S: Copy + PartialEq>(
    schedule: &Schedule<S>,
    names: &[(S, &str)],
    now: f64,
    stamp: &dyn Fn(f64) -> String,
    failed: Option<(S, &str)>,
) -> Vec<Step> {
    let current = schedule.state_at(now);
    let mut steps = Vec::new();
    let mut reached_current = false;
    for (i, (state, name)) in names.iter().enumerate() {
        let start = schedule.start_of(*state);
        let next_start = names
            .get(i + 1)
            .and_then(|(s, _)| schedule.start_of(*s))
            .or_else(|| {
                // A phase that was cut short ends where the terminal phase begins.
                (*state != current && start.is_some()).then(|| schedule.end())
            });
        let (st, started_at, finished_at) = match start {
            None => (StepState::Pending, None, None),
            Some(s) if s > now => (StepState::Pending, None, None),
            Some(s) => {
                if *state == current && !reached_current {
                    reached_current = true;
                    (StepState::Running, Some(stamp(s)), None)
                } else {
                    (StepState::Done, Some(stamp(s)), next_start.map(stamp))
                }
            }
        };
        steps.push(Step {
            name: name.to_string(),
            state: st,
            started_at,
            finished_at,
            detail: None,
        });
    }
    if let Some((fstate, reason)) = failed
        && current == fstate
        && let Some(last) = steps
            .iter_mut()
            .rev()
            .find(|s| s.state == StepState::Done || s.state == StepState::Running)
    {
        last.state = StepState::Failed;
        last.detail = Some(reason.to_string());
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_answers_for_any_time() {
        let mut h = History::new(1);
        h.set(10.0, 2);
        h.set(5.0, 3);
        assert_eq!(*h.at(0.0), 1);
        assert_eq!(*h.at(5.0), 3);
        assert_eq!(*h.at(9.9), 3);
        assert_eq!(*h.at(10.0), 2);
        assert_eq!(*h.current(), 2);
    }

    #[test]
    fn schedule_state_follows_time() {
        let s = Schedule {
            phases: vec![
                (DeploymentState::Queued, 0.0),
                (DeploymentState::Compiling, 2.0),
                (DeploymentState::Completed, 5.0),
            ],
        };
        assert_eq!(s.state_at(1.0), DeploymentState::Queued);
        assert_eq!(s.state_at(2.0), DeploymentState::Compiling);
        assert_eq!(s.state_at(99.0), DeploymentState::Completed);
    }

    #[test]
    fn a_version_live_only_in_staging_has_no_production_traffic_yet() {
        let w = World::from_scenario(&Scenario::demo().unwrap(), 1);
        let travel = &w.bots["bot-travel-assistant"];
        assert!(travel.traffic_since("v3.4.2", 0.0).is_some());
        assert!(travel.traffic_since("v3.5.0", 0.0).is_none());
        let p = crate::sim::traffic::profile_at(travel, "v3.5.0", 3600.0);
        assert_eq!(p.error_rate, 0.02, "no regression before its first traffic");
    }

    #[test]
    fn demo_world_has_the_seed_ids() {
        let s = Scenario::demo().unwrap();
        let w = World::from_scenario(&s, 1);
        for bot in ["bot-customer-service-v2", "bot_abc123", "bot_12345"] {
            assert!(w.bots.contains_key(bot), "{bot}");
        }
        for env in [
            "env-prod-blue",
            "env-prod-green",
            "env_prod_456",
            "env_prod",
            "env_prod_us_01",
        ] {
            assert!(w.envs.contains_key(env), "{env}");
        }
        let b = &w.bots["bot_12345"];
        assert_eq!(
            b.version("v_67890").unwrap().status,
            VersionStatus::Published
        );
        assert!(b.version("v_stable_fallback").is_some());
        assert_eq!(crate::sim::sessions::total(&w, b, 0.0), 0);
        assert_eq!(w.nlu["nlu-intent-classifier-v4.1"].status, "published");
        assert!(w.flows["flow-order-lookup"].has_version("v2.0.3"));
        assert!(
            w.bots.values().all(|b| b.versions.len() >= 10),
            "10+ versions each"
        );
    }
}
