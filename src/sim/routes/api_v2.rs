//! `/api/v2`: flow export/import/status/rollback (seed 002) and environment deployment with
//! validation, synthetic trace, jobs, health and rollback (seed 003).

use std::collections::VecDeque;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::{EnvJobState, FieldError, Health};
use crate::sim::problem::{ApiError, ApiResult};
use crate::sim::routes::{JsonBody, reply, status_read};
use crate::sim::scenario::Timing;
use crate::sim::traffic;
use crate::sim::views::env_job_view;
use crate::sim::world::{EnvJobRec, FlowDeployment, FlowPush, FlowVersion, Schedule, World};
use crate::sim::{App, Shared};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v2/flows", get(list_flows))
        .route("/api/v2/flows/import", post(import_flow))
        .route("/api/v2/flows/{id}", get(get_flow))
        .route("/api/v2/flows/{id}/status", get(flow_status))
        .route("/api/v2/flows/{id}/rollback", post(rollback_flow))
        .route("/api/v2/intents", get(intents))
        .route("/api/v2/entities", get(entities))
        .route("/api/v2/environments/{env}/validate", post(validate_env))
        .route("/api/v2/validations/synthetic-trace", post(synthetic_trace))
        .route("/api/v2/deployments", post(create_env_job))
        .route("/api/v2/jobs/{id}", get(env_job))
        .route("/api/v2/environments/{env}/health", get(env_health))
        .route("/api/v2/deployments/{id}/rollback", post(rollback_env_job))
        .route("/api/v2/audit/logs", post(post_audit))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowList {
    limit: Option<usize>,
    offset: Option<usize>,
    bot_id: Option<String>,
}

async fn list_flows(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<FlowList>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["flows:read"])?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let offset = q.offset.unwrap_or(0);
    let (g, _) = app.world();
    let all: Vec<&Value> = g
        .world
        .flows
        .values()
        .filter(|f| q.bot_id.as_ref().is_none_or(|b| f.bot.as_ref() == Some(b)))
        .filter_map(|f| f.current().map(|v| &v.definition))
        .collect();
    let total = all.len();
    let items: Vec<&Value> = all.into_iter().skip(offset).take(limit).collect();
    Ok(reply(
        StatusCode::OK,
        json!({"items": items, "total": total, "limit": limit, "offset": offset}),
    ))
}

async fn get_flow(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["flows:read"])?;
    let (g, _) = app.world();
    let f = g
        .world
        .flows
        .get(&id)
        .and_then(|f| f.current())
        .ok_or_else(|| ApiError::not_found("flow", &id))?;
    Ok(reply(StatusCode::OK, f.definition.clone()))
}

/// Structural checks the server applies to an imported flow (400 on failure).
fn flow_shape_errors(flow: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |f: &str, m: &str| {
        errors.push(FieldError {
            field: f.into(),
            message: m.into(),
        })
    };
    let Some(obj) = flow.as_object() else {
        err("flow", "must be a JSON object");
        return errors;
    };
    for key in ["id", "name", "version"] {
        if obj
            .get(key)
            .is_none_or(|v| v.as_str().is_none_or(|s| s.is_empty()))
        {
            err(
                &format!("flow.{key}"),
                "is required and must be a non-empty string",
            );
        }
    }
    match obj.get("nodes").and_then(Value::as_array) {
        None => err("flow.nodes", "is required and must be an array"),
        Some(nodes) => {
            for (i, n) in nodes.iter().enumerate() {
                let t = n.get("type").and_then(Value::as_str).unwrap_or("");
                if !["start", "intent", "action", "end", "external"].contains(&t) {
                    err(
                        &format!("flow.nodes[{i}].type"),
                        "must be one of start, intent, action, end, external",
                    );
                }
                if n.get("id").and_then(Value::as_str).is_none() {
                    err(&format!("flow.nodes[{i}].id"), "is required");
                }
            }
        }
    }
    if obj.get("edges").and_then(Value::as_array).is_none() {
        err("flow.edges", "is required and must be an array");
    }
    if let Some(v) = obj.get("version").and_then(Value::as_str) {
        let parts: Vec<&str> = v.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.parse::<u32>().is_err()) {
            err("flow.version", "must be semantic MAJOR.MINOR.PATCH");
        }
    }
    errors
}

/// External references that do not exist where they point.
fn missing_references(w: &World, flow: &Value, env: &str) -> Vec<String> {
    let mut missing = Vec::new();
    for r in flow
        .get("externalReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = r.get("type").and_then(Value::as_str).unwrap_or("");
        let id = r.get("id").and_then(Value::as_str).unwrap_or("");
        let ref_env = r
            .get("environmentId")
            .and_then(Value::as_str)
            .unwrap_or(env);
        let exists = match kind {
            "flow" => w.flows.contains_key(id),
            "intent" => w
                .intents
                .iter()
                .any(|i| i.id == id && i.environments.iter().any(|e| e == ref_env)),
            "entity" => w
                .entities
                .iter()
                .any(|i| i.id == id && i.environments.iter().any(|e| e == ref_env)),
            _ => true,
        };
        if !exists {
            missing.push(format!("{kind}:{id} in {ref_env}"));
        }
    }
    missing
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportBody {
    flow: Value,
    environment_id: String,
}

async fn import_flow(
    State(app): State<App>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ImportBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["flows:write"])?;
    let errors = flow_shape_errors(&body.flow);
    if !errors.is_empty() {
        let mut e = ApiError::invalid(errors);
        e.problem.status = 400;
        e.problem.title = "Bad Request".into();
        e.problem.kind = "https://relcon.dev/problems/schema-violation".into();
        return Err(e);
    }
    let (mut g, now) = app.world();
    let w = &mut g.world;
    if !w.envs.contains_key(&body.environment_id) {
        return Err(ApiError::not_found("environment", &body.environment_id));
    }
    let missing = missing_references(w, &body.flow, &body.environment_id);
    if !missing.is_empty() {
        return Err(ApiError::conflict(
            format!("missing external references: {}", missing.join(", ")),
            None,
        ));
    }
    let id = body.flow["id"].as_str().unwrap_or_default().to_string();
    let version = body.flow["version"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = body.flow["name"].as_str().unwrap_or_default().to_string();
    let push_id = w.next_id("fpush");
    let flow = w
        .flows
        .entry(id.clone())
        .or_insert_with(|| crate::sim::world::Flow {
            id: id.clone(),
            bot: None,
            name,
            versions: Vec::new(),
            deployed: Default::default(),
        });
    if !flow.versions.iter().any(|v| v.version == version) {
        flow.versions.push(FlowVersion {
            version: version.clone(),
            created: now,
            definition: body.flow.clone(),
        });
    }
    let previous = flow
        .deployed
        .get(&body.environment_id)
        .map(|d| d.version.clone());
    let mut history = flow
        .deployed
        .get(&body.environment_id)
        .map(|d| d.previous.clone())
        .unwrap_or_default();
    if let Some(p) = &previous {
        history.push(p.clone());
    }
    flow.deployed.insert(
        body.environment_id.clone(),
        FlowDeployment {
            version: version.clone(),
            status: "deployed".into(),
            previous: history,
        },
    );
    w.flow_pushes.push(FlowPush {
        id: push_id,
        flow: id.clone(),
        env: body.environment_id.clone(),
        version: version.clone(),
        at: now,
        state: "deployed".into(),
    });
    Ok(reply(
        StatusCode::CREATED,
        json!({"flowId": id, "version": version, "environmentId": body.environment_id, "status": "deployed", "previousVersion": previous}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvQuery {
    environment_id: Option<String>,
}

async fn flow_status(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<EnvQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["flows:read"])?;
    let (g, _) = app.world();
    let f = g
        .world
        .flows
        .get(&id)
        .ok_or_else(|| ApiError::not_found("flow", &id))?;
    let env = q.environment_id.ok_or_else(|| {
        ApiError::invalid_one("environmentId", "name the environment: ?environmentId=...")
    })?;
    let (status, version) = match f.deployed.get(&env) {
        Some(d) => (d.status.clone(), Some(d.version.clone())),
        None => ("not_deployed".to_string(), None),
    };
    Ok(reply(
        StatusCode::OK,
        json!({"flowId": id, "environmentId": env, "status": status, "version": version}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowRollbackBody {
    target_version: Option<String>,
    environment_id: Option<String>,
}

async fn rollback_flow(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<FlowRollbackBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["flows:write", "deployments:manage"])?;
    let (mut g, now) = app.world();
    let w = &mut g.world;
    let push_id = w.next_id("fpush");
    let f = w
        .flows
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("flow", &id))?;
    let env = match body.environment_id.clone() {
        Some(e) => e,
        None if f.deployed.len() == 1 => f.deployed.keys().next().cloned().unwrap_or_default(),
        None => {
            return Err(ApiError::invalid_one(
                "environmentId",
                "the flow is deployed in several environments; name one",
            ));
        }
    };
    let dep = f
        .deployed
        .get_mut(&env)
        .ok_or_else(|| ApiError::not_found("flow deployment", &format!("{id} in {env}")))?;
    let target = match body.target_version {
        Some(t) => {
            let t = t.trim_start_matches('v').to_string();
            if !f.versions.iter().any(|v| v.version == t) {
                return Err(ApiError::not_found("flow version", &t));
            }
            t
        }
        None => dep.previous.pop().ok_or_else(|| {
            ApiError::conflict(format!("flow {id} has no earlier version in {env}"), None)
        })?,
    };
    let from = dep.version.clone();
    dep.version = target.clone();
    dep.status = "deployed".into();
    w.flow_pushes.push(FlowPush {
        id: push_id,
        flow: id.clone(),
        env: env.clone(),
        version: target.clone(),
        at: now,
        state: "rolled_back".into(),
    });
    Ok(reply(
        StatusCode::OK,
        json!({"flowId": id, "environmentId": env, "status": "rolled_back", "version": target, "previousVersion": from}),
    ))
}

async fn refs(
    app: &Shared,
    headers: &HeaderMap,
    q: EnvQuery,
    entities: bool,
) -> ApiResult<Response> {
    app.authorize(headers, &["flows:read"])?;
    let (g, _) = app.world();
    let list = if entities {
        &g.world.entities
    } else {
        &g.world.intents
    };
    let mut items = Vec::new();
    for r in list {
        for e in &r.environments {
            if q.environment_id.as_ref().is_none_or(|x| x == e) {
                items.push(json!({"id": r.id, "name": r.name, "environmentId": e}));
            }
        }
    }
    let total = items.len();
    Ok(reply(
        StatusCode::OK,
        json!({"items": items, "total": total}),
    ))
}

async fn intents(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<EnvQuery>,
) -> ApiResult<Response> {
    refs(&app, &headers, q, false).await
}

async fn entities(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<EnvQuery>,
) -> ApiResult<Response> {
    refs(&app, &headers, q, true).await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidateBody {
    #[serde(default)]
    configuration_snapshot: Value,
    #[serde(default)]
    capacity_constraints: Value,
    #[serde(default)]
    isolation_rules: Value,
}

async fn validate_env(
    State(app): State<App>,
    headers: HeaderMap,
    Path(env_id): Path<String>,
    JsonBody(body): JsonBody<ValidateBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["validations:execute"])?;
    let (g, _) = app.world();
    let env = g
        .world
        .envs
        .get(&env_id)
        .ok_or_else(|| ApiError::not_found("environment", &env_id))?;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let sessions = body.capacity_constraints["max_concurrent_sessions"].as_f64();
    let memory = body.capacity_constraints["memory_limit_mb"].as_f64();
    let mut utilization: f64 = 0.0;
    if let Some(s) = sessions {
        utilization = utilization.max(s / env.max_sessions as f64);
        if s > env.max_sessions as f64 {
            errors.push(format!(
                "max_concurrent_sessions {s} exceeds the environment's capacity of {}",
                env.max_sessions
            ));
        }
    }
    if let Some(m) = memory {
        utilization = utilization.max(m / env.memory_mb as f64);
        if m > env.memory_mb as f64 {
            errors.push(format!(
                "memory_limit_mb {m} exceeds the environment's limit of {}",
                env.memory_mb
            ));
        }
    }
    if utilization > 0.8 && errors.is_empty() {
        warnings.push(format!(
            "capacity utilisation would be {:.0}%",
            utilization * 100.0
        ));
    }
    if let Some(seg) = body.isolation_rules["networkSegment"].as_str()
        && !env.network_segment.is_empty()
        && seg != env.network_segment
    {
        errors.push(format!(
            "isolation: network segment '{seg}' does not match the environment's '{}'",
            env.network_segment
        ));
    }
    if let Some(engine) = body.configuration_snapshot["nlpEngine"].as_str()
        && env.deprecated_engines.iter().any(|d| d == engine)
    {
        errors.push(format!("NLP engine {engine} is deprecated in {env_id}"));
    }
    if !body.configuration_snapshot.is_object() {
        errors.push("configurationSnapshot must be an object".into());
    }
    Ok(reply(
        StatusCode::OK,
        json!({
            "environmentId": env_id,
            "valid": errors.is_empty(),
            "warnings": warnings,
            "capacityUtilization": (utilization * 1000.0).round() / 1000.0,
            "validationErrors": errors,
        }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TraceBody {
    environment_id: String,
    #[serde(default)]
    configuration_snapshot: Value,
    #[serde(default)]
    dependency_locks: Vec<Value>,
}

async fn synthetic_trace(
    State(app): State<App>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<TraceBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["validations:execute"])?;
    let (mut g, _) = app.world();
    let w = &mut g.world;
    let env = w
        .envs
        .get(&body.environment_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("environment", &body.environment_id))?;
    let mut conflicts = Vec::new();
    for lock in &body.dependency_locks {
        let name = lock["package_name"]
            .as_str()
            .or_else(|| lock["packageName"].as_str())
            .unwrap_or("");
        let version = lock["version"].as_str().unwrap_or("");
        if let Some(installed) = env.packages.get(name)
            && installed != version
        {
            conflicts.push(format!(
                "{name}: locked {version}, environment runs {installed}"
            ));
        }
    }
    let mut path = vec!["start".to_string()];
    if let Some(df) = body.configuration_snapshot["dialogFlow"].as_str() {
        path.push(format!("dialog:{df}"));
    }
    for i in body.configuration_snapshot["integrations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(s) = i.as_str() {
            path.push(format!("integration:{s}"));
        }
    }
    path.push("end".into());
    let id = w.next_id("tr");
    Ok(reply(
        StatusCode::OK,
        json!({
            "traceId": id,
            "status": if conflicts.is_empty() { "passed" } else { "failed" },
            "dependencyConflicts": conflicts,
            "executionPath": path,
        }),
    ))
}

fn env_schedule(timing: &Timing, now: f64, stalled: bool) -> Schedule<EnvJobState> {
    if stalled {
        return Schedule {
            phases: vec![
                (EnvJobState::Queued, now),
                (EnvJobState::Failed, now + timing.job_timeout),
            ],
        };
    }
    let q = Timing::phase(&timing.environment, "queued");
    let r = Timing::phase(&timing.environment, "running");
    Schedule {
        phases: vec![
            (EnvJobState::Queued, now),
            (EnvJobState::Running, now + q),
            (EnvJobState::Completed, now + q + r),
        ],
    }
}

async fn create_env_job(
    State(app): State<App>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["deployments:write"])?;
    let env_id = body["environment_id"]
        .as_str()
        .or_else(|| body["environmentId"].as_str())
        .ok_or_else(|| ApiError::invalid_one("environment_id", "is required"))?
        .to_string();
    if !body["configuration_snapshot"].is_object() {
        return Err(ApiError::invalid_one(
            "configuration_snapshot",
            "is required and must be an object",
        ));
    }
    let (mut g, now) = app.world();
    let stalled = g.faults.stall_jobs;
    let w = &mut g.world;
    if !w.envs.contains_key(&env_id) {
        return Err(ApiError::not_found("environment", &env_id));
    }
    if let Some(j) = w.env_jobs.values().find(|j| j.env == env_id && !j.applied) {
        return Err(ApiError::conflict(
            format!("environment {env_id} already has job {} in progress", j.id),
            Some(j.id.clone()),
        ));
    }
    let id = w.next_id("job");
    let schedule = env_schedule(&w.timing, now, stalled);
    w.env_jobs.insert(
        id.clone(),
        EnvJobRec {
            id: id.clone(),
            env: env_id.clone(),
            callback: body["webhookCallbackUrl"].as_str().map(str::to_string),
            payload: body,
            created: now,
            schedule,
            error: stalled
                .then(|| format!("rollout did not finish within {}s", w.timing.job_timeout)),
            applied: false,
            status_reads: VecDeque::new(),
        },
    );
    Ok(reply(
        StatusCode::ACCEPTED,
        json!({"jobId": id, "status": "queued", "environmentId": env_id}),
    ))
}

async fn env_job(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["jobs:read", "deployments:write"])?;
    let (mut g, now) = app.world();
    let j = g
        .world
        .env_jobs
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("job", &id))?;
    status_read(&mut j.status_reads, now, &id)?;
    Ok(reply(
        StatusCode::OK,
        serde_json::to_value(env_job_view(&app, j, now)).unwrap_or_default(),
    ))
}

async fn env_health(
    State(app): State<App>,
    headers: HeaderMap,
    Path(env_id): Path<String>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["environments:read", "environment:read"])?;
    let (g, now) = app.world();
    if !g.world.envs.contains_key(&env_id) {
        return Err(ApiError::not_found("environment", &env_id));
    }
    let (rate, p95) = traffic::env_error_rate(&g.world, &env_id, now);
    let forced = g.faults.unhealthy_environments.iter().any(|e| e == &env_id);
    let (status, rate) = if forced {
        (Health::Unhealthy, rate.max(0.12))
    } else if rate > 0.1 {
        (Health::Unhealthy, rate)
    } else if rate > 0.05 {
        (Health::Degraded, rate)
    } else {
        (Health::Healthy, rate)
    };
    Ok(reply(
        StatusCode::OK,
        json!({"environmentId": env_id, "status": status.as_str(), "errorRate": (rate * 10_000.0).round() / 10_000.0, "p95LatencyMs": p95, "checkedAt": app.stamp(now)}),
    ))
}

#[derive(Debug, Default, Deserialize)]
struct ReasonBody {
    #[serde(default)]
    reason: Option<String>,
}

async fn rollback_env_job(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["deployments:write"])?;
    let (mut g, now) = app.world();
    let w = &mut g.world;
    let j = w
        .env_jobs
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("job", &id))?;
    let state = j.schedule.state_at(now);
    let reason = body.reason.unwrap_or_else(|| "rollback requested".into());
    if state != EnvJobState::RolledBack {
        let was_applied = state == EnvJobState::Completed;
        j.schedule.end_at(now, EnvJobState::RolledBack);
        j.applied = true;
        j.error = Some(format!("rolled back: {reason}"));
        let env = j.env.clone();
        if was_applied && let Some(e) = w.envs.get_mut(&env) {
            e.configuration = e.previous_configuration.take();
        }
    }
    let view = w
        .env_jobs
        .get(&id)
        .map(|j| env_job_view(&app, j, now))
        .ok_or_else(|| ApiError::not_found("job", &id))?;
    Ok(reply(
        StatusCode::OK,
        serde_json::to_value(view).unwrap_or_default(),
    ))
}

async fn post_audit(
    State(app): State<App>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["deployments:write", "audit:write"])?;
    if !body.is_object() {
        return Err(ApiError::invalid_one(
            "body",
            "an audit record must be a JSON object",
        ));
    }
    Ok(crate::sim::routes::common::store_audit(
        &app, "api/v2", body,
    ))
}
