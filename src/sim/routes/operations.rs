//! Operation control (a relcon extension of the Release API): one operation with its control
//! state, leases (who drives it), commands (what others ask of the driver) and events (what
//! the driver reports). See docs/api.md, "Operation control (relcon extension)".

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::json;

use crate::domain::{
    CommandState, ControlCommand, FieldError, Lease, LeaseConflict, Operation, OperationCommand,
    OperationEventKind,
};
use crate::sim::control::{CommandRec, LeaseRec};
use crate::sim::problem::{ApiError, ApiResult};
use crate::sim::routes::{JsonBody, reply};
use crate::sim::views::{event_view, lease_view, operation_detail, operation_views};
use crate::sim::world::World;
use crate::sim::{App, Shared};

/// Reading an operation's control state.
const READ: &[&str] = &["bot:read", "deployment:read"];
/// Changing it.
const WRITE: &[&str] = &["bot:deploy", "deployment:write"];
/// The longest lease one request may take.
const MAX_TTL: f64 = 3600.0;
/// The longest event message kept.
const MAX_MESSAGE: usize = 2000;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/operations/{id}", get(get_operation))
        .route(
            "/api/v1/operations/{id}/lease",
            put(acquire_lease).delete(release_lease),
        )
        .route(
            "/api/v1/operations/{id}/commands",
            post(post_command).get(list_commands),
        )
        .route(
            "/api/v1/operations/{id}/commands/{cmd}/ack",
            post(ack_command),
        )
        .route(
            "/api/v1/operations/{id}/events",
            post(post_event).get(list_events),
        )
}

fn find(app: &Shared, w: &World, id: &str, now: f64) -> ApiResult<Operation> {
    operation_views(app, w, now)
        .into_iter()
        .map(|(_, o)| o)
        .find(|o| o.id == id)
        .ok_or_else(|| ApiError::not_found("operation", id))
}

fn required(errors: &mut Vec<FieldError>, field: &str, value: &str) {
    if value.trim().is_empty() {
        errors.push(FieldError {
            field: field.into(),
            message: "must not be empty".into(),
        });
    }
}

async fn get_operation(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    app.authorize(&headers, READ)?;
    let (g, now) = app.world();
    let op = find(&app, &g.world, &id, now)?;
    let detail = operation_detail(&app, &g.world, op, now);
    Ok(reply(
        StatusCode::OK,
        serde_json::to_value(detail).unwrap_or_default(),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeaseBody {
    holder: String,
    host: String,
    operation_key: String,
    ttl_seconds: f64,
}

/// The 409 of a live lease held under another key: who, where, since when, until when.
fn lease_conflict(app: &Shared, id: &str, l: &LeaseRec, now: f64) -> ApiError {
    let age = (now - l.acquired).max(0.0).round() as u64;
    let left = (l.expires - now).max(0.0).ceil() as u64;
    let mut e = ApiError::conflict(
        format!(
            "operation {id} is driven by {} on {}: lease taken {age}s ago, renewed {}s ago, expires in {left}s (at {}); wait for it to expire or ask its holder to release it",
            l.holder,
            l.host,
            (now - l.renewed).max(0.0).round() as u64,
            app.stamp(l.expires),
        ),
        Some(format!("{}@{}", l.holder, l.host)),
    );
    e.problem.lease = Some(LeaseConflict {
        holder: l.holder.clone(),
        host: l.host.clone(),
        acquired_at: app.stamp(l.acquired),
        expires_at: app.stamp(l.expires),
        age_seconds: age,
        expires_in_seconds: left,
    });
    e
}

async fn acquire_lease(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<LeaseBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, WRITE)?;
    let mut errors = Vec::new();
    required(&mut errors, "holder", &body.holder);
    required(&mut errors, "host", &body.host);
    required(&mut errors, "operationKey", &body.operation_key);
    if !(body.ttl_seconds.is_finite() && body.ttl_seconds >= 1.0 && body.ttl_seconds <= MAX_TTL) {
        errors.push(FieldError {
            field: "ttlSeconds".into(),
            message: format!("{} is outside 1..={MAX_TTL}", body.ttl_seconds),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let (mut g, now) = app.world();
    find(&app, &g.world, &id, now)?;
    let control = g.world.controls.entry(id.clone()).or_default();
    let lease = match control.lease.take() {
        Some(l) if l.key == body.operation_key => LeaseRec {
            holder: body.holder,
            host: body.host,
            // A renewal keeps the lease's start; a lapsed one starts again.
            acquired: if l.live(now) { l.acquired } else { now },
            renewed: now,
            expires: now + body.ttl_seconds,
            previous: if l.live(now) { l.previous } else { None },
            key: l.key,
        },
        Some(l) if l.live(now) => {
            let e = lease_conflict(&app, &id, &l, now);
            control.lease = Some(l);
            return Err(e);
        }
        previous => LeaseRec {
            holder: body.holder,
            host: body.host,
            key: body.operation_key,
            acquired: now,
            renewed: now,
            expires: now + body.ttl_seconds,
            previous: previous.map(|l| (l.holder, l.host, l.expires)),
        },
    };
    let view = Lease {
        operation_key: Some(lease.key.clone()),
        ..lease_view(&app, &lease)
    };
    control.lease = Some(lease);
    Ok(reply(
        StatusCode::OK,
        serde_json::to_value(view).unwrap_or_default(),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyBody {
    #[serde(default)]
    operation_key: Option<String>,
}

async fn release_lease(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<KeyBody>,
    JsonBody(body): JsonBody<KeyBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, WRITE)?;
    let Some(key) = body.operation_key.or(q.operation_key) else {
        return Err(ApiError::invalid_one(
            "operationKey",
            "name the lease's operationKey in the body or the query",
        ));
    };
    let (mut g, now) = app.world();
    find(&app, &g.world, &id, now)?;
    let control = g.world.controls.entry(id.clone()).or_default();
    let released = match control.lease.take() {
        None => None,
        Some(l) if l.key == key || !l.live(now) => Some(l),
        Some(l) => {
            let e = lease_conflict(&app, &id, &l, now);
            control.lease = Some(l);
            return Err(e);
        }
    };
    let body = match released {
        Some(l) => json!({"released": true, "lease": lease_view(&app, &l)}),
        None => json!({"released": false}),
    };
    Ok(reply(StatusCode::OK, body))
}

fn command_view(app: &Shared, op: &str, c: &CommandRec) -> OperationCommand {
    OperationCommand {
        id: c.id.clone(),
        operation_id: op.to_string(),
        command: c.command,
        operator: c.operator.clone(),
        reason: c.reason.clone(),
        at: app.stamp(c.at),
        state: c.state,
        acked_at: c.acked_at.map(|t| app.stamp(t)),
        detail: c.detail.clone(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommandBody {
    command: String,
    operator: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn post_command(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CommandBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, WRITE)?;
    let (mut g, now) = app.world();
    let op = find(&app, &g.world, &id, now)?;
    let mut errors = Vec::new();
    let command = ControlCommand::parse(&body.command);
    if command.is_none() {
        errors.push(FieldError {
            field: "command".into(),
            message: format!(
                "'{}' is not a command; use one of {}",
                body.command,
                ControlCommand::ALL.map(|c| c.as_str()).join(", ")
            ),
        });
    }
    required(&mut errors, "operator", &body.operator);
    let (Some(command), true) = (command, errors.is_empty()) else {
        return Err(ApiError::invalid(errors));
    };
    if !op.active {
        return Err(ApiError::conflict(
            format!(
                "operation {id} has ended ({}); commands go to operations in progress",
                op.state
            ),
            Some(id),
        ));
    }
    let cmd_id = g.world.next_id("cmd");
    let rec = CommandRec {
        id: cmd_id,
        command,
        operator: body.operator,
        reason: body.reason.filter(|r| !r.trim().is_empty()),
        at: now,
        state: CommandState::Pending,
        acked_at: None,
        detail: None,
    };
    let view = command_view(&app, &id, &rec);
    g.world.controls.entry(id).or_default().commands.push(rec);
    Ok(reply(
        StatusCode::ACCEPTED,
        serde_json::to_value(view).unwrap_or_default(),
    ))
}

#[derive(Debug, Deserialize)]
struct StateQuery {
    state: Option<String>,
}

async fn list_commands(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<StateQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, READ)?;
    let want = match q.state.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(CommandState::parse(s).ok_or_else(|| {
            ApiError::invalid_one(
                "state",
                format!("'{s}' is not one of pending, applied, refused, all"),
            )
        })?),
    };
    let (g, now) = app.world();
    find(&app, &g.world, &id, now)?;
    let items: Vec<OperationCommand> = g
        .world
        .controls
        .get(&id)
        .map(|c| {
            c.commands
                .iter()
                .filter(|c| want.is_none_or(|s| c.state == s))
                .map(|c| command_view(&app, &id, c))
                .collect()
        })
        .unwrap_or_default();
    Ok(reply(StatusCode::OK, json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
struct AckBody {
    state: String,
    #[serde(default)]
    detail: Option<String>,
}

async fn ack_command(
    State(app): State<App>,
    headers: HeaderMap,
    Path((id, cmd)): Path<(String, String)>,
    JsonBody(body): JsonBody<AckBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, WRITE)?;
    let state = match CommandState::parse(&body.state) {
        Some(s @ (CommandState::Applied | CommandState::Refused)) => s,
        _ => {
            return Err(ApiError::invalid_one(
                "state",
                format!("'{}' is not applied or refused", body.state),
            ));
        }
    };
    let (mut g, now) = app.world();
    find(&app, &g.world, &id, now)?;
    let rec = g
        .world
        .controls
        .get_mut(&id)
        .and_then(|c| c.commands.iter_mut().find(|c| c.id == cmd))
        .ok_or_else(|| ApiError::not_found("command", &cmd))?;
    match rec.state {
        CommandState::Pending => {
            rec.state = state;
            rec.acked_at = Some(now);
            rec.detail = body.detail.filter(|d| !d.trim().is_empty());
        }
        // The same answer again (a retried ack) changes nothing.
        s if s == state => {}
        s => {
            return Err(ApiError::conflict(
                format!("command {cmd} was already acknowledged as {}", s.as_str()),
                Some(cmd),
            ));
        }
    }
    let view = command_view(&app, &id, rec);
    Ok(reply(
        StatusCode::OK,
        serde_json::to_value(view).unwrap_or_default(),
    ))
}

#[derive(Debug, Deserialize)]
struct EventBody {
    kind: String,
    message: String,
    /// Who posts it (default: the calling client).
    #[serde(default)]
    by: Option<String>,
}

async fn post_event(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<EventBody>,
) -> ApiResult<Response> {
    let caller = app.authorize(&headers, WRITE)?;
    let mut errors = Vec::new();
    let kind = OperationEventKind::parse(&body.kind);
    if kind.is_none() {
        errors.push(FieldError {
            field: "kind".into(),
            message: format!(
                "'{}' is not one of step, decision, detail, outcome",
                body.kind
            ),
        });
    }
    required(&mut errors, "message", &body.message);
    if body.message.chars().count() > MAX_MESSAGE {
        errors.push(FieldError {
            field: "message".into(),
            message: format!("longer than {MAX_MESSAGE} characters"),
        });
    }
    let (Some(kind), true) = (kind, errors.is_empty()) else {
        return Err(ApiError::invalid(errors));
    };
    let (mut g, now) = app.world();
    find(&app, &g.world, &id, now)?;
    let by = body
        .by
        .filter(|b| !b.trim().is_empty())
        .unwrap_or(caller.client);
    let rec = g
        .world
        .controls
        .entry(id)
        .or_default()
        .push_event(kind, body.message, now, by);
    Ok(reply(
        StatusCode::CREATED,
        serde_json::to_value(event_view(&app, &rec)).unwrap_or_default(),
    ))
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

async fn list_events(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, READ)?;
    let (g, now) = app.world();
    find(&app, &g.world, &id, now)?;
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(crate::sim::control::EVENTS_KEPT).max(1);
    let items: Vec<_> = g
        .world
        .controls
        .get(&id)
        .map(|c| {
            c.events
                .iter()
                .filter(|e| e.seq > after)
                .take(limit)
                .map(|e| event_view(&app, e))
                .collect()
        })
        .unwrap_or_default();
    Ok(reply(StatusCode::OK, json!({ "items": items })))
}
