//! The wire shapes of NICE Cognigy.AI's REST API v2.0 and OData v2.4, as relcon reads and
//! writes them (docs/cognigy-api.md has each field with its source). Neither the client nor
//! the simulator owns these types: the simulator's `cognigy` dialect serves them and relcon's
//! own `cognigy` backend (`backend/cognigy_api.rs`) parses them, so the two cannot drift.
//!
//! Parsing is tolerant where the platform's sources disagree: cursors may be `null` or named
//! `next`/`previous`, a problem's `code` may be a number or a string, and fields this module
//! does not name are kept (`extra`) rather than refused.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Cognigy `ErrorCode` values a problem document's `code` carries (not the HTTP status).
pub mod code {
    pub const MISSING_ARGUMENT: i64 = 1000;
    pub const RESOURCE_NOT_FOUND: i64 = 1002;
    pub const CONFLICT: i64 = 1004;
    pub const INVALID_ARGUMENT: i64 = 1005;
    pub const INTERNAL: i64 = 1008;
    pub const UNAUTHORIZED: i64 = 401;
}

/// `TTaskStatus_2_0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Queued,
    Active,
    Done,
    Cancelling,
    Cancelled,
    Error,
}

impl TaskStatus {
    /// `done`, `cancelled` and `error` end a task (`TTerminatedTaskStatus`).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Done | TaskStatus::Cancelled | TaskStatus::Error
        )
    }
}

/// A task as `GET /tasks/{id}` returns it (`ITask_2_0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    #[serde(rename = "_id")]
    pub id: String,
    /// The task type, e.g. `createSnapshot`.
    pub name: String,
    #[serde(default)]
    pub data: Value,
    pub status: TaskStatus,
    #[serde(default)]
    pub current_step: u32,
    #[serde(default)]
    pub total_step: u32,
    #[serde(default)]
    pub fail_reason: String,
    #[serde(default)]
    pub last_run_at: Option<String>,
    #[serde(default)]
    pub last_finished_at: Option<String>,
    pub created_at: i64,
    pub last_changed: i64,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub last_changed_by: Option<String>,
}

/// What a task-creating POST or DELETE returns (`ICreatedTask_2_0`): `type`/`parameters`,
/// not `name`/`data`. Read `id` and poll [`Task`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedTask {
    #[serde(rename = "_id")]
    pub id: String,
    pub status: TaskStatus,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub parameters: Value,
    pub last_changed_at: i64,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// A snapshot (`ISnapshot_2_0`; as a list item `ISnapshotIndexItem_2_0`, which adds
/// `packageExpiresAt`, `null` when not packaged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub hash: String,
    pub created_at: i64,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub is_packaged: bool,
    #[serde(default)]
    pub package_expires_at: Option<i64>,
}

/// The body of `POST /snapshots` (`ICreateSnapshotRestDataBody_2_0`, all three required).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSnapshot {
    pub project_id: String,
    pub name: String,
    pub description: String,
}

/// An endpoint as `GET /endpoints/{id}` returns it (`IEndpoint_2_0`): the fields relcon uses,
/// the rest kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    /// `TChannelType`, e.g. `rest`, `webchat3`.
    pub channel: String,
    #[serde(rename = "URLToken")]
    pub url_token: String,
    /// The flow's `referenceId` (UUID) or `""`.
    #[serde(default)]
    pub flow_id: String,
    /// The locale's `referenceId` (UUID) or `""`.
    #[serde(default)]
    pub locale_id: String,
    /// The snapshot (or project) id the endpoint serves.
    #[serde(default)]
    pub entrypoint: Option<String>,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub override_snapshot_connections: bool,
    #[serde(default)]
    pub use_analytics: bool,
    pub created_at: i64,
    pub last_changed: i64,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub last_changed_by: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An endpoint as a list shows it (`IEndpointIndexItem_2_0`): no `entrypoint`, no `active`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointIndexItem {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub channel: String,
    #[serde(rename = "URLToken")]
    pub url_token: String,
    #[serde(default)]
    pub flow_id: String,
    #[serde(default)]
    pub locale_id: String,
    #[serde(default)]
    pub override_snapshot_connections: bool,
    pub created_at: i64,
    pub last_changed: i64,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub last_changed_by: Option<String>,
}

/// The part of `PATCH /endpoints/{id}` a release sends; answered with `{}`. Unknown fields are
/// refused, as the platform's schema (`additionalProperties: false`) does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// `handoverConfiguration` of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandoverConfiguration {
    pub setup_live_agent_inbox: bool,
    pub whisper_assist_configuration: String,
}

/// A project (`IProject_2_0`; the list item `IProjectIndexItem_2_0` has the same fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub color: String,
    #[serde(default)]
    pub primary_locale_reference: String,
    #[serde(default)]
    pub live_agent_default_inbox: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover_configuration: Option<HandoverConfiguration>,
    pub created_at: i64,
    pub last_changed: i64,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub last_changed_by: Option<String>,
}

/// Every index call's envelope (`ICursorBasedPaginationReturnValue<T>`). A missing or `null`
/// cursor means no more pages; the `@openapi` names `next`/`previous` are read too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    pub items: Vec<T>,
    pub total: u64,
    #[serde(default, alias = "next")]
    pub next_cursor: Option<String>,
    #[serde(default, alias = "previous")]
    pub previous_cursor: Option<String>,
}

/// A problem document's `code`: a Cognigy `ErrorCode`, a number on the wire, a string in the
/// `@openapi` examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ErrorCode {
    Number(i64),
    Text(String),
}

impl ErrorCode {
    pub fn as_number(&self) -> Option<i64> {
        match self {
            ErrorCode::Number(n) => Some(*n),
            ErrorCode::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// An RFC 7807 problem document as `BaseError.toRFC7807Response` builds it (`IErrorResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type", default = "about_blank")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(default)]
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
    #[serde(default)]
    pub details: Value,
}

fn about_blank() -> String {
    "about:blank".to_string()
}

/// An OData 4 JSON page (`@odata.count` only with `$count=true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ODataPage<T> {
    #[serde(
        rename = "@odata.context",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub context: Option<String>,
    #[serde(
        rename = "@odata.count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<u64>,
    pub value: Vec<T>,
}

/// One record of the v2.4 `Analytics` collection (one per user input): the fields relcon's
/// canary judge uses, the rest kept in `extra`. `entrypoint` is the snapshot (or project) the
/// endpoint served: the join key to a release (there is no `snapshotId` column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsRecord {
    pub id: String,
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub entrypoint: String,
    #[serde(default)]
    pub snapshot_name: String,
    #[serde(default)]
    pub endpoint_name: String,
    #[serde(default)]
    pub endpoint_url_token: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub input_id: String,
    #[serde(default)]
    pub input_text: String,
    /// ISO UTC.
    pub timestamp: String,
    /// Milliseconds.
    #[serde(default)]
    pub execution_time: f64,
    #[serde(default)]
    pub execution: i64,
    /// Deprecated since 4.91.
    #[serde(default)]
    pub understood: Option<bool>,
    #[serde(default)]
    pub intent: String,
    #[serde(default)]
    pub intent_score: Option<f64>,
    /// `-1` or `1`, `null` when not rated.
    #[serde(default)]
    pub rating: Option<i64>,
    #[serde(default)]
    pub rating_comment: Option<String>,
    #[serde(default)]
    pub flow_reference_id: String,
    #[serde(default)]
    pub locale_reference_id: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK_ACTIVE: &str = include_str!("../tests/data/cognigy/task_active.json");
    const TASK_DONE: &str = include_str!("../tests/data/cognigy/task_done.json");
    const TASK_ERROR: &str = include_str!("../tests/data/cognigy/task_error.json");
    const CREATED: &str = include_str!("../tests/data/cognigy/snapshot_create_task.json");
    const SNAPSHOT: &str = include_str!("../tests/data/cognigy/snapshot.json");
    const SNAPSHOT_LIST: &str = include_str!("../tests/data/cognigy/snapshot_list.json");
    const ENDPOINT: &str = include_str!("../tests/data/cognigy/endpoint.json");
    const ENDPOINT_LIST: &str = include_str!("../tests/data/cognigy/endpoint_list.json");
    const PROJECT_LIST: &str = include_str!("../tests/data/cognigy/project_list.json");
    const PROBLEM_404: &str = include_str!("../tests/data/cognigy/problem_404.json");
    const PROBLEM_429: &str = include_str!("../tests/data/cognigy/problem_429.json");
    const ODATA: &str = include_str!("../tests/data/cognigy/odata_analytics_page.json");

    /// Parse, serialise, parse again: the same value; and what was written is what was read
    /// (as JSON, for the types that keep every field).
    fn round_trip<T>(text: &str) -> T
    where
        T: serde::de::DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
    {
        let a: T = serde_json::from_str(text).expect("the fixture parses");
        let again: T = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(a, again);
        a
    }

    fn same_json<T: Serialize>(value: &T, text: &str) {
        let written = serde_json::to_value(value).unwrap();
        let read: Value = serde_json::from_str(text).unwrap();
        assert_eq!(written, read);
    }

    #[test]
    fn tasks_parse_in_every_status() {
        let t: Task = round_trip(TASK_ACTIVE);
        assert_eq!(t.status, TaskStatus::Active);
        assert_eq!((t.current_step, t.total_step), (3, 10));
        assert_eq!(t.name, "createSnapshot");
        assert_eq!(t.data["projectId"], "65f2a1b3c4d5e6f708192a3b");
        assert_eq!(t.last_finished_at, None);
        assert!(!t.status.is_terminal());
        same_json(&t, TASK_ACTIVE);

        let t: Task = round_trip(TASK_DONE);
        assert_eq!(t.status, TaskStatus::Done);
        assert!(t.status.is_terminal());
        assert_eq!(
            t.last_finished_at.as_deref(),
            Some("2024-06-10T08:14:02.871Z")
        );
        assert_eq!(t.last_changed, 1718007242);

        let t: Task = round_trip(TASK_ERROR);
        assert_eq!(t.status, TaskStatus::Error);
        assert!(t.fail_reason.contains("maximum amount of Snapshots (10)"));
    }

    #[test]
    fn a_created_task_has_type_and_parameters() {
        let t: CreatedTask = round_trip(CREATED);
        assert_eq!(t.id, "6666e6f0a1b2c3d4e5f60718");
        assert_eq!(t.status, TaskStatus::Queued);
        assert_eq!(t.kind, "createSnapshot");
        assert_eq!(t.parameters["name"], "release-2024.06.1");
        assert_eq!(
            t.trace_id.as_deref(),
            Some("api--3e9b7f24-5c1a-4d8e-b6f0-2a7c9d1e4f83")
        );
        same_json(&t, CREATED);
        // A created task is not a task: it has no `name`.
        assert!(serde_json::from_str::<Task>(CREATED).is_err());
    }

    #[test]
    fn snapshots_parse_alone_and_in_a_list() {
        let s: Snapshot = round_trip(SNAPSHOT);
        assert_eq!(s.id, "6666e7a9b1c2d3e4f5a6b7c8");
        assert_eq!(s.hash.len(), 40);
        assert_eq!(s.package_expires_at, None);
        assert!(!s.is_packaged);

        let l: List<Snapshot> = round_trip(SNAPSHOT_LIST);
        assert_eq!(l.total, 2);
        assert_eq!(l.next_cursor, None);
        assert_eq!(l.items[0].name, "release-2024.06.1");
        assert_eq!(l.items[1].package_expires_at, Some(1716541500));
        assert!(l.items[1].is_packaged);
        same_json(&l, SNAPSHOT_LIST);
    }

    #[test]
    fn an_endpoint_keeps_every_field() {
        let e: Endpoint = round_trip(ENDPOINT);
        assert_eq!(e.id, "65f2a2c8d9e0f1a2b3c4d5e6");
        assert_eq!(e.entrypoint.as_deref(), Some("6666e7a9b1c2d3e4f5a6b7c8"));
        assert!(e.active);
        assert_eq!(e.channel, "rest");
        assert_eq!(e.url_token.len(), 64);
        assert_eq!(e.flow_id, "91d15cc6-0fcf-4691-b4c6-cec3dbdf3606");
        assert_eq!(e.extra["transformer"]["abortOnError"], true);
        same_json(&e, ENDPOINT);

        let l: List<EndpointIndexItem> = round_trip(ENDPOINT_LIST);
        assert_eq!(l.items.len(), 2);
        assert_eq!(l.items[1].channel, "webchat3");
        assert_eq!(l.items[1].locale_id, "");
        assert!(l.items[1].override_snapshot_connections);
        let raw: Value = serde_json::from_str(ENDPOINT_LIST).unwrap();
        assert!(
            raw["items"][0].get("entrypoint").is_none(),
            "lists carry no entrypoint"
        );
    }

    #[test]
    fn an_endpoint_patch_refuses_fields_it_does_not_know() {
        let p: EndpointPatch =
            serde_json::from_str(r#"{"entrypoint":"664f1b2c3d4e5f6a7b8c9d0e","active":true}"#)
                .unwrap();
        assert_eq!(p.entrypoint.as_deref(), Some("664f1b2c3d4e5f6a7b8c9d0e"));
        assert_eq!(p.flow_id, None);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"entrypoint": "664f1b2c3d4e5f6a7b8c9d0e", "active": true})
        );
        assert!(serde_json::from_str::<EndpointPatch>(r#"{"URLToken":"x"}"#).is_err());
    }

    #[test]
    fn projects_parse_with_and_without_handover() {
        let l: List<Project> = round_trip(PROJECT_LIST);
        assert_eq!(l.total, 2);
        assert_eq!(l.items[0].name, "Support Bot");
        assert_eq!(l.items[0].color, "cognigyBlue");
        assert!(l.items[0].handover_configuration.is_some());
        assert!(l.items[1].handover_configuration.is_none());
        assert_eq!(l.items[1].live_agent_default_inbox, 3);
        same_json(&l, PROJECT_LIST);
    }

    #[test]
    fn list_cursors_read_both_names() {
        let l: List<Value> =
            serde_json::from_str(r#"{"items":[],"total":0,"next":"abc","previous":null}"#).unwrap();
        assert_eq!(l.next_cursor.as_deref(), Some("abc"));
        assert_eq!(l.previous_cursor, None);
        let l: List<Value> = serde_json::from_str(r#"{"items":[],"total":0}"#).unwrap();
        assert_eq!(l.next_cursor, None);
    }

    #[test]
    fn problems_carry_trace_id_and_code() {
        let p: Problem = round_trip(PROBLEM_404);
        assert_eq!(p.status, 404);
        assert_eq!(p.kind, "about:blank");
        assert_eq!(
            p.code.as_ref().and_then(ErrorCode::as_number),
            Some(code::RESOURCE_NOT_FOUND)
        );
        assert!(p.trace_id.as_deref().unwrap().starts_with("api--"));
        same_json(&p, PROBLEM_404);

        let p: Problem = round_trip(PROBLEM_429);
        assert_eq!(p.title, "Too Many Requests Error");
        assert_eq!(p.code.as_ref().and_then(ErrorCode::as_number), Some(429));

        let p: Problem = serde_json::from_str(
            r#"{"type":"Not Found","title":"Not Found","status":404,"code":"1002"}"#,
        )
        .unwrap();
        assert_eq!(p.code.and_then(|c| c.as_number()), Some(1002));
    }

    #[test]
    fn an_odata_page_holds_analytics_records() {
        let page: ODataPage<AnalyticsRecord> = round_trip(ODATA);
        assert_eq!(page.count, Some(3));
        assert!(page.context.as_deref().unwrap().ends_with("#Analytics"));
        assert_eq!(page.value.len(), 3);
        let r = &page.value[0];
        assert_eq!(r.entrypoint, "6666e7a9b1c2d3e4f5a6b7c8");
        assert_eq!(r.intent_score, Some(0.912734));
        assert_eq!(r.understood, Some(true));
        assert_eq!(r.extra["custom1"], "relcon-canary");
        let r = &page.value[2];
        assert_eq!(r.rating, Some(-1));
        assert_eq!(r.intent_score, None);
        assert_eq!(r.execution_time, 112.0);
        assert_eq!(r.execution, 3);
    }
}
