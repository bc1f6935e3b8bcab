//! The world as the Cognigy dialect shows it, in one place: how a bot, its versions and its
//! environments become projects, snapshots and endpoints, and the ids they get.
//!
//! - A **project** is a bot. Its `_id` is derived from the bot id.
//! - A **snapshot** is a PUBLISHED version of the bot (a draft is the working project, an
//!   archived version a deleted snapshot), newest first. Its `_id` is derived from the bot and
//!   version ids; its `name` is the version's label.
//! - An **endpoint** is a bot's environment binding (blue, green, staging, ...), channel
//!   `rest`. Its `entrypoint` is the snapshot the environment serves now, or the project id
//!   when the live version is not a snapshot (a draft), and `active` says whether it serves any.
//!
//! Every derived id is the first 12 bytes of SHA-256 over `kind:key` in hex (a 24-hex
//! ObjectId), so ids are stable across restarts and seeds: `key` is the bot id (project,
//! locale), `bot/version` (snapshot) or `bot/environment` (endpoint). Flow and locale
//! `referenceId`s are v4-shaped UUIDs from the same kind of hash.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::cognigy::{
    CreatedTask, Endpoint, EndpointIndexItem, HandoverConfiguration, Project, Snapshot, Task,
    TaskStatus,
};
use crate::domain::VersionStatus;
use crate::sim::Shared;
use crate::sim::world::{Binding, Bot, SnapshotTask, SnapshotWork, VersionRec, World};

/// The most snapshots a project may have (docs/cognigy-api.md §5).
pub const MAX_SNAPSHOTS: usize = 10;
/// Steps a snapshot task reports (`totalStep`).
pub const TASK_STEPS: u32 = 10;

fn digest(kind: &str, key: &str) -> [u8; 32] {
    Sha256::digest(format!("{kind}:{key}").as_bytes()).into()
}

/// A stable 24-hex ObjectId for (`kind`, `key`).
pub fn object_id(kind: &str, key: &str) -> String {
    hex::encode(&digest(kind, key)[..12])
}

fn reference_id(kind: &str, key: &str) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest(kind, key)[..16]);
    // Version and variant bits set, as a random (v4) UUID has them.
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string()
}

pub fn project_id(bot: &str) -> String {
    object_id("project", bot)
}

pub fn snapshot_id(bot: &str, version: &str) -> String {
    object_id("snapshot", &format!("{bot}/{version}"))
}

pub fn endpoint_id(bot: &str, env: &str) -> String {
    object_id("endpoint", &format!("{bot}/{env}"))
}

/// A new task id (a fresh ObjectId from a world id, so a replay gives the same ids).
pub fn task_id(world_id: &str) -> String {
    object_id("task", world_id)
}

/// The user every change is attributed to: the owner of the demo key.
pub fn user_id() -> String {
    object_id("user", "demo-key")
}

/// The `referenceId` of a bot's one locale.
pub fn locale_reference(bot: &str) -> String {
    reference_id("locale-reference", bot)
}

/// The `referenceId` of a world flow.
pub fn flow_reference(flow: &str) -> String {
    reference_id("flow-reference", flow)
}

fn url_token(bot: &str, env: &str) -> String {
    hex::encode(digest("urltoken", &format!("{bot}/{env}")))
}

fn unix(app: &Shared, t: f64) -> i64 {
    app.clock.date(t).timestamp()
}

fn iso(app: &Shared, t: f64) -> String {
    app.clock
        .date(t)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn is_snapshot(v: &VersionRec) -> bool {
    v.status == VersionStatus::Published
}

/// A bot's snapshots, newest first.
pub fn snapshots_of(bot: &Bot) -> Vec<&VersionRec> {
    let mut out: Vec<&VersionRec> = bot.versions.iter().filter(|v| is_snapshot(v)).collect();
    out.sort_by(|a, b| b.created.total_cmp(&a.created));
    out
}

pub fn find_project<'w>(w: &'w World, id: &str) -> Option<&'w Bot> {
    w.bots.values().find(|b| project_id(&b.id) == id)
}

/// The bots a list is scoped to: the one `projectId` names, or every one.
pub fn projects_in<'w>(
    w: &'w World,
    project: Option<&str>,
) -> Result<Vec<&'w Bot>, super::common::CgError> {
    match project {
        Some(p) => {
            Ok(vec![find_project(w, p).ok_or_else(|| {
                super::common::CgError::not_found("Project", p)
            })?])
        }
        None => Ok(w.bots.values().collect()),
    }
}

/// The snapshot with wire id `id`: its bot and version.
pub fn find_snapshot<'w>(w: &'w World, id: &str) -> Option<(&'w Bot, &'w VersionRec)> {
    w.bots.values().find_map(|b| {
        b.versions
            .iter()
            .find(|v| is_snapshot(v) && snapshot_id(&b.id, &v.id) == id)
            .map(|v| (b, v))
    })
}

/// The endpoint with wire id `id`: its bot and environment binding.
pub fn find_endpoint<'w>(w: &'w World, id: &str) -> Option<(&'w Bot, &'w Binding)> {
    w.bots.values().find_map(|b| {
        b.bindings
            .iter()
            .find(|x| endpoint_id(&b.id, &x.env) == id)
            .map(|x| (b, x))
    })
}

/// Snapshot tasks of `bot` that will add a snapshot and have not yet.
pub fn pending_creates(w: &World, bot: &str) -> usize {
    w.snapshot_tasks
        .values()
        .filter(|t| {
            t.bot == bot
                && !t.applied
                && matches!(
                    t.work,
                    SnapshotWork::Create { .. } | SnapshotWork::Upload { .. }
                )
        })
        .count()
}

const COLOURS: &[&str] = &["cognigyBlue", "teal", "orange", "purple", "green", "red"];

pub fn project_view(app: &Shared, w: &World, bot: &Bot) -> Project {
    let idx = w.bots.keys().position(|k| *k == bot.id).unwrap_or(0);
    let created = bot.versions.first().map_or(0.0, |v| v.created);
    let changed = bot.versions.last().map_or(created, |v| v.created);
    Project {
        id: project_id(&bot.id),
        name: bot.name.clone(),
        color: COLOURS[idx % COLOURS.len()].into(),
        primary_locale_reference: object_id("locale", &bot.id),
        live_agent_default_inbox: 0,
        handover_configuration: Some(HandoverConfiguration {
            setup_live_agent_inbox: false,
            whisper_assist_configuration: "none".into(),
        }),
        created_at: unix(app, created),
        last_changed: unix(app, changed),
        created_by: Some(user_id()),
        last_changed_by: Some(user_id()),
    }
}

pub fn snapshot_view(app: &Shared, bot: &Bot, v: &VersionRec) -> Snapshot {
    let hash = digest("hash", &format!("{}/{}", bot.id, v.id));
    Snapshot {
        id: snapshot_id(&bot.id, &v.id),
        name: v.label.clone(),
        description: v.description.clone(),
        hash: hex::encode(&hash[..20]),
        created_at: unix(app, v.created),
        created_by: Some(user_id()),
        is_packaged: false,
        package_expires_at: None,
    }
}

/// What the endpoint serves now: the snapshot of its live version, the project when that
/// version is not a snapshot, nothing when the environment serves no version.
pub fn entrypoint_of(bot: &Bot, binding: &Binding) -> Option<String> {
    let live = binding.live.current().as_deref()?;
    match bot.version(live) {
        Some(v) if is_snapshot(v) => Some(snapshot_id(&bot.id, &v.id)),
        _ => Some(project_id(&bot.id)),
    }
}

/// The flow an endpoint of `bot` starts: the first world flow of the bot, or `""`.
pub fn flow_of(w: &World, bot: &Bot) -> String {
    w.flows
        .values()
        .find(|f| f.bot.as_deref() == Some(bot.id.as_str()))
        .map(|f| flow_reference(&f.id))
        .unwrap_or_default()
}

fn endpoint_name(w: &World, bot: &Bot, binding: &Binding) -> String {
    let env = w
        .envs
        .get(&binding.env)
        .map_or(binding.env.as_str(), |e| e.name.as_str());
    format!("{} REST – {env}", bot.name)
}

fn endpoint_times(app: &Shared, bot: &Bot, binding: &Binding) -> (i64, i64) {
    let created = bot.versions.first().map_or(0.0, |v| v.created);
    let changed = binding
        .live
        .changes()
        .last()
        .map_or(created, |(t, _)| *t)
        .max(created);
    (unix(app, created), unix(app, changed))
}

/// An endpoint's name and `URLToken`.
pub fn endpoint_item_name(w: &World, bot: &Bot, binding: &Binding) -> (String, String) {
    (
        endpoint_name(w, bot, binding),
        url_token(&bot.id, &binding.env),
    )
}

/// The endpoint whose `URLToken` is `token`: its bot and environment binding.
pub fn find_by_token<'w>(w: &'w World, token: &str) -> Option<(&'w Bot, &'w Binding)> {
    w.bots.values().find_map(|b| {
        b.bindings
            .iter()
            .find(|x| url_token(&b.id, &x.env) == token)
            .map(|x| (b, x))
    })
}

pub fn endpoint_item(app: &Shared, w: &World, bot: &Bot, binding: &Binding) -> EndpointIndexItem {
    let (created, changed) = endpoint_times(app, bot, binding);
    EndpointIndexItem {
        id: endpoint_id(&bot.id, &binding.env),
        name: endpoint_name(w, bot, binding),
        channel: "rest".into(),
        url_token: url_token(&bot.id, &binding.env),
        flow_id: flow_of(w, bot),
        locale_id: locale_reference(&bot.id),
        override_snapshot_connections: false,
        created_at: created,
        last_changed: changed,
        created_by: Some(user_id()),
        last_changed_by: Some(user_id()),
    }
}

pub fn endpoint_view(app: &Shared, w: &World, bot: &Bot, binding: &Binding) -> Endpoint {
    let (created, changed) = endpoint_times(app, bot, binding);
    let entrypoint = entrypoint_of(bot, binding);
    let mut extra = Map::new();
    for (k, v) in [
        ("nluConnectorId", json!("")),
        ("useConversations", json!(true)),
        ("maskIPAddress", json!(false)),
        ("maskAnalytics", json!(false)),
        ("maskLogging", json!(false)),
        ("useContactProfiles", json!(true)),
        ("useDashbotAnalytics", json!(false)),
        ("dashbotApikey", json!("")),
        ("dashbotPlatform", json!("universal")),
        ("disableInputSanitization", json!(false)),
        ("settings", json!({})),
        ("handoverSettings", json!({"provider": "none"})),
        ("foreignId", json!("")),
    ] {
        extra.insert(k.to_string(), v);
    }
    Endpoint {
        id: endpoint_id(&bot.id, &binding.env),
        name: endpoint_name(w, bot, binding),
        channel: "rest".into(),
        url_token: url_token(&bot.id, &binding.env),
        flow_id: flow_of(w, bot),
        locale_id: locale_reference(&bot.id),
        active: entrypoint.is_some(),
        entrypoint,
        override_snapshot_connections: false,
        use_analytics: true,
        created_at: created,
        last_changed: changed,
        created_by: Some(user_id()),
        last_changed_by: Some(user_id()),
        extra,
    }
}

/// The task's type: `createSnapshot` (an inference: the platform's action type) or
/// `deleteSnapshot`.
fn task_name(t: &SnapshotTask) -> &'static str {
    match t.work {
        SnapshotWork::Create { .. } => "createSnapshot",
        SnapshotWork::Delete { .. } => "deleteSnapshot",
        SnapshotWork::Package { .. } => "packageSnapshot",
        SnapshotWork::Upload { .. } => "uploadSnapshotPackage",
        SnapshotWork::Restore { .. } => "restoreSnapshot",
    }
}

fn task_data(t: &SnapshotTask) -> Value {
    match &t.work {
        SnapshotWork::Create { name, description } | SnapshotWork::Upload { name, description } => {
            json!({"projectId": project_id(&t.bot), "name": name, "description": description})
        }
        SnapshotWork::Delete { version }
        | SnapshotWork::Package { version }
        | SnapshotWork::Restore { version } => {
            json!({"projectId": project_id(&t.bot), "snapshotId": snapshot_id(&t.bot, version)})
        }
    }
}

/// A task at `now`: queued, then active with `currentStep` advancing with the clock, then
/// done (or error, with its `failReason`).
pub fn task_view(app: &Shared, t: &SnapshotTask, now: f64) -> Task {
    let (status, step, changed) = if now < t.started {
        (TaskStatus::Queued, 0, t.created)
    } else if now < t.ends || !t.applied {
        let span = (t.ends - t.started).max(f64::EPSILON);
        let step = (((now - t.started) / span) * f64::from(TASK_STEPS)).floor() as u32;
        (TaskStatus::Active, step.min(TASK_STEPS - 1), now)
    } else if t.error.is_some() {
        (TaskStatus::Error, 1, t.ends)
    } else {
        (TaskStatus::Done, TASK_STEPS, t.ends)
    };
    Task {
        id: t.id.clone(),
        name: task_name(t).into(),
        data: task_data(t),
        status,
        current_step: step,
        total_step: TASK_STEPS,
        fail_reason: t.error.clone().unwrap_or_default(),
        last_run_at: (now >= t.started).then(|| iso(app, t.started)),
        last_finished_at: status.is_terminal().then(|| iso(app, t.ends)),
        created_at: unix(app, t.created),
        last_changed: unix(app, changed),
        created_by: Some(user_id()),
        last_changed_by: Some(user_id()),
    }
}

/// The answer of a task-creating request (`ICreatedTask_2_0`).
pub fn created_task_view(app: &Shared, t: &SnapshotTask, trace_id: String) -> CreatedTask {
    CreatedTask {
        id: t.id.clone(),
        status: TaskStatus::Queued,
        kind: task_name(t).into(),
        parameters: task_data(t),
        last_changed_at: unix(app, t.created),
        created_at: unix(app, t.created),
        trace_id: Some(trace_id),
    }
}
