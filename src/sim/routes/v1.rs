//! `/v1`: the versioned blue-green deploy of seed 000.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::{DeploymentState, DeploymentStatus, FieldError, FlowRef};
use crate::sim::problem::{ApiError, ApiResult};
use crate::sim::routes::{JsonBody, reply, status_read};
use crate::sim::views::deployment_view;
use crate::sim::world::{DeployRequest, DrainCause, World};
use crate::sim::{App, Shared};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/v1/nlu/models/{id}", get(nlu_model))
        .route("/v1/bots/{bot}/deployments", post(create_deployment))
        .route("/v1/deployments", get(list_deployments))
        .route("/v1/deployments/{id}/status", get(deployment_status))
        .route("/v1/deployments/{id}/rollback", post(rollback_deployment))
        .route(
            "/v1/environments/routing",
            get(get_routing).put(put_routing),
        )
        .route("/v1/sync/jobs", post(create_sync_job))
        .route("/v1/sync/jobs/{id}", get(sync_job))
        .route("/v1/bots/{bot}/flows/{flow}/versions", get(flow_versions))
}

async fn nlu_model(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["nlu:read"])?;
    let (g, _) = app.world();
    let m = g
        .world
        .nlu
        .get(&id)
        .ok_or_else(|| ApiError::not_found("NLU model", &id))?;
    Ok(reply(
        StatusCode::OK,
        json!({"id": m.id, "botId": m.bot, "version": m.version, "status": m.status, "createdAt": app.stamp(-30.0 * 86400.0)}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDeployment {
    #[serde(default)]
    bot_id: Option<String>,
    target_environment_id: String,
    nlu_model_id: String,
    #[serde(default)]
    flow_references: Vec<FlowRef>,
    #[serde(default)]
    deployment_type: Option<String>,
    #[serde(default)]
    version_id: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
}

async fn create_deployment(
    State(app): State<App>,
    headers: HeaderMap,
    Path(bot_id): Path<String>,
    JsonBody(body): JsonBody<CreateDeployment>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["deployment:write"])?;
    if let Some(b) = &body.bot_id
        && b != &bot_id
    {
        return Err(ApiError::invalid_one(
            "botId",
            format!("body names bot '{b}' but the path names '{bot_id}'"),
        ));
    }
    if let Some(t) = &body.deployment_type
        && t != "versioned"
        && t != "blue_green"
    {
        return Err(ApiError::invalid_one(
            "deploymentType",
            format!(
                "'{t}' is not supported here; use 'versioned' (canaries go to POST /api/v1/bots/{{botId}}/deploy)"
            ),
        ));
    }
    let _ = &body.metadata;
    let (mut g, now) = app.world();
    let stalled = g.faults.stall_jobs;
    let w = &mut g.world;
    let id = w.start_deployment(
        &DeployRequest {
            bot: &bot_id,
            env: &body.target_environment_id,
            nlu_model: &body.nlu_model_id,
            version: body.version_id.as_deref(),
            flows: &body.flow_references,
            stalled,
        },
        now,
    )?;
    let d = &w.deployments[&id];
    let version = d.version.clone();
    let eta = (d.schedule.end() - now).ceil() as u64;
    let location = format!("/v1/deployments/{id}/status");
    let mut resp = reply(
        StatusCode::ACCEPTED,
        json!({
            "deploymentId": id,
            "status": "queued",
            "botId": bot_id,
            "versionId": version,
            "targetEnvironmentId": body.target_environment_id,
            "createdAt": app.stamp(now),
            "estimatedCompletionSeconds": eta,
        }),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn deployment_status(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["deployment:read"])?;
    let (mut g, now) = app.world();
    let d = g
        .world
        .deployments
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("deployment", &id))?;
    status_read(&mut d.status_reads, now, &id)?;
    let d = &g.world.deployments[&id];
    let view = deployment_view(&app, &g.world, d, now);
    let mut resp = (StatusCode::OK, axum::Json(&view)).into_response();
    if !view.status.is_terminal() {
        // Tell pollers when the next state change is due.
        let next = d
            .schedule
            .phases
            .iter()
            .map(|(_, t)| *t)
            .find(|t| *t > now)
            .map(|t| (t - now).ceil().max(1.0) as u64)
            .unwrap_or(1);
        if let Ok(v) = HeaderValue::from_str(&next.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    bot_id: Option<String>,
    #[serde(default)]
    active: Option<bool>,
}

async fn list_deployments(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["deployment:read"])?;
    let (g, now) = app.world();
    let mut items: Vec<DeploymentStatus> = g
        .world
        .deployments
        .values()
        .filter(|d| q.bot_id.as_ref().is_none_or(|b| &d.bot == b))
        .map(|d| deployment_view(&app, &g.world, d, now))
        .filter(|v| !q.active.unwrap_or(false) || !v.status.is_terminal())
        .collect();
    items.reverse();
    Ok(reply(StatusCode::OK, json!({ "items": items })))
}

async fn rollback_deployment(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["deployment:write"])?;
    let (mut g, now) = app.world();
    let w = &mut g.world;
    let d = w
        .deployments
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("deployment", &id))?;
    let state = d.schedule.state_at(now);
    if state == DeploymentState::RolledBack {
        let view = deployment_view(&app, w, &d, now);
        return Ok((StatusCode::OK, axum::Json(view)).into_response());
    }
    let mut drain = None;
    if state == DeploymentState::Completed
        && let Some(binding) = w.bots.get_mut(&d.bot).and_then(|b| b.binding_mut(&d.env))
    {
        binding.live.set(now, d.previous_live.clone());
        // The deployed version's sessions finish on it.
        drain = w.start_drain(
            &d.bot,
            &d.env,
            Some(&d.version),
            DrainCause::Deployment(d.id.clone()),
            now,
            None,
        );
    }
    if w.bots
        .get(&d.bot)
        .is_some_and(|b| b.routing.current() != &d.previous_routing)
    {
        w.route(&d.bot, d.previous_routing.clone(), now, None, Some(&d.id));
    }
    let reason = match state {
        DeploymentState::Completed => {
            "rolled back after completion: previous version and routing restored".to_string()
        }
        s if s.is_terminal() => format!(
            "rolled back after {}: previous routing restored",
            s.as_str()
        ),
        s => format!("cancelled while {} and rolled back", s.as_str()),
    };
    let entry = w
        .deployments
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("deployment", &id))?;
    entry.schedule.end_at(now, DeploymentState::RolledBack);
    entry.applied = true;
    if drain.is_some() {
        entry.drain = drain;
    }
    entry.error = Some(
        entry
            .error
            .clone()
            .map_or(reason.clone(), |e| format!("{e}; {reason}")),
    );
    let entry = entry.clone();
    let view = deployment_view(&app, w, &entry, now);
    w.emit(
        "deployment.rolled_back",
        json!({"deploymentId": id, "botId": d.bot, "environmentId": d.env}),
    );
    Ok((StatusCode::OK, axum::Json(view)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouteEntry {
    environment_id: String,
    traffic_weight: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutRouting {
    environments: Vec<RouteEntry>,
    #[serde(default)]
    strategy: Option<String>,
    #[serde(default)]
    failover_enabled: Option<bool>,
    #[serde(default)]
    bot_id: Option<String>,
    /// How long sessions may finish in an environment whose share falls to 0 (default: until
    /// they end on their own; 0: cut off at once).
    #[serde(default)]
    drain_seconds: Option<f64>,
    /// The deployment this switch completes: its status then reports the drain.
    #[serde(default)]
    deployment_id: Option<String>,
}

/// The routing document for some bots.
pub fn routing_view(app: &Shared, w: &World, bots: &[String], now: f64) -> Value {
    let mut list = Vec::new();
    for id in bots {
        let Some(b) = w.bots.get(id) else { continue };
        let weights = b.routing.at(now);
        let counts = crate::sim::sessions::counts(w, b, now);
        let total: f64 = b
            .bindings
            .iter()
            .filter(|x| {
                w.envs.get(&x.env).map(|e| e.stage) == Some(crate::domain::Stage::Production)
            })
            .map(|x| weights.get(&x.env).copied().unwrap_or(0.0))
            .sum();
        let envs: Vec<Value> = b
            .bindings
            .iter()
            .filter(|x| w.envs.get(&x.env).map(|e| e.stage) == Some(crate::domain::Stage::Production))
            .map(|x| {
                let wgt = weights.get(&x.env).copied().unwrap_or(0.0);
                let active: u64 = counts
                    .iter()
                    .filter(|(e, _, _)| *e == x.env)
                    .map(|(_, _, n)| n)
                    .sum();
                let drain = w
                    .drains
                    .iter()
                    .rev()
                    .find(|d| d.bot == *id && d.env == x.env && d.version.is_none())
                    .and_then(|d| crate::sim::views::drain_view(app, w, &d.id, now));
                let mut v = json!({
                    "environmentId": x.env,
                    "trafficWeight": if total > 0.0 { (wgt / total * 1000.0).round() / 10.0 } else { 0.0 },
                    "liveVersion": x.live.at(now),
                    "activeSessions": active,
                });
                if let Some(d) = drain {
                    v["drain"] = serde_json::to_value(d).unwrap_or_default();
                }
                v
            })
            .collect();
        list.push(json!({"botId": id, "environments": envs}));
    }
    let first = list
        .first()
        .and_then(|b| b.get("environments").cloned())
        .unwrap_or(Value::Array(vec![]));
    let updated = bots
        .iter()
        .filter_map(|id| w.bots.get(id))
        .filter_map(|b| b.routing.changes().last().map(|(t, _)| *t))
        .fold(0.0, f64::max);
    json!({
        "strategy": "blue_green",
        "failoverEnabled": true,
        "updatedAt": app.stamp(updated),
        "bots": list,
        "environments": first,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoutingQuery {
    bot_id: Option<String>,
}

async fn get_routing(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<RoutingQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["environment:read", "environment:write"])?;
    let (g, now) = app.world();
    let bots: Vec<String> = match q.bot_id {
        Some(b) => {
            if !g.world.bots.contains_key(&b) {
                return Err(ApiError::not_found("bot", &b));
            }
            vec![b]
        }
        None => g.world.bots.keys().cloned().collect(),
    };
    Ok(reply(
        StatusCode::OK,
        routing_view(&app, &g.world, &bots, now),
    ))
}

async fn put_routing(
    State(app): State<App>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PutRouting>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["environment:write"])?;
    let mut errors = Vec::new();
    if body.environments.is_empty() {
        errors.push(FieldError {
            field: "environments".into(),
            message: "list at least one environment".into(),
        });
    }
    for (i, e) in body.environments.iter().enumerate() {
        if !(0.0..=100.0).contains(&e.traffic_weight) || !e.traffic_weight.is_finite() {
            errors.push(FieldError {
                field: format!("environments[{i}].trafficWeight"),
                message: format!("{} is outside 0..=100", e.traffic_weight),
            });
        }
    }
    let total: f64 = body.environments.iter().map(|e| e.traffic_weight).sum();
    if errors.is_empty() && total <= 0.0 {
        errors.push(FieldError {
            field: "environments".into(),
            message: "at least one environment needs a weight above 0".into(),
        });
    }
    if let Some(s) = &body.strategy
        && s != "blue_green"
        && s != "weighted"
    {
        errors.push(FieldError {
            field: "strategy".into(),
            message: format!("'{s}' is not supported; use blue_green or weighted"),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let _ = body.failover_enabled;
    let (mut g, now) = app.world();
    let w = &mut g.world;
    for e in &body.environments {
        if !w.envs.contains_key(&e.environment_id) {
            return Err(ApiError::not_found("environment", &e.environment_id));
        }
    }
    let targets: Vec<String> = match &body.bot_id {
        Some(b) => {
            let bot = w.bots.get(b).ok_or_else(|| ApiError::not_found("bot", b))?;
            for e in &body.environments {
                if bot.binding(&e.environment_id).is_none() {
                    return Err(ApiError::invalid_one(
                        "environments",
                        format!("bot '{b}' is not bound to '{}'", e.environment_id),
                    ));
                }
            }
            vec![b.clone()]
        }
        None => w
            .bots
            .values()
            .filter(|b| {
                body.environments
                    .iter()
                    .all(|e| b.binding(&e.environment_id).is_some())
            })
            .map(|b| b.id.clone())
            .collect(),
    };
    if targets.is_empty() {
        return Err(ApiError::invalid_one(
            "environments",
            "no bot is bound to all of these environments",
        ));
    }
    if let Some(d) = body.drain_seconds
        && !(d.is_finite() && (0.0..=86_400.0).contains(&d))
    {
        return Err(ApiError::invalid_one(
            "drainSeconds",
            format!("{d} is outside 0..=86400"),
        ));
    }
    if let Some(dep) = &body.deployment_id
        && !w.deployments.contains_key(dep)
    {
        return Err(ApiError::not_found("deployment", dep));
    }
    for id in &targets {
        let Some(current) = w.bots.get(id).map(|b| b.routing.current().clone()) else {
            continue;
        };
        let mut weights: BTreeMap<String, f64> = current;
        for e in &body.environments {
            weights.insert(e.environment_id.clone(), e.traffic_weight);
        }
        let drains = w.route(
            id,
            weights,
            now,
            body.drain_seconds,
            body.deployment_id.as_deref(),
        );
        if let (Some(dep), Some(first)) = (&body.deployment_id, drains.first())
            && let Some(d) = w.deployments.get_mut(dep)
            && d.bot == *id
        {
            d.drain = Some(first.clone());
        }
        if let Some(bot) = w.bots.get_mut(id) {
            for e in &body.environments {
                if e.traffic_weight > 0.0
                    && let Some(v) = bot
                        .binding(&e.environment_id)
                        .and_then(|b| b.live.current().clone())
                {
                    bot.mark_traffic(&v, now);
                }
            }
        }
    }
    let mut view = routing_view(&app, w, &targets, now);
    let mut warnings = Vec::new();
    if (total - 100.0).abs() > 0.1 {
        warnings.push(format!(
            "weights sum to {total}; they were normalised to shares of 100"
        ));
    }
    view["warnings"] = json!(warnings);
    view["strategy"] = json!(body.strategy.unwrap_or_else(|| "blue_green".into()));
    Ok(reply(StatusCode::OK, view))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSync {
    source_deployment_id: String,
    target_region: String,
    #[serde(default)]
    sync_type: Option<String>,
}

async fn create_sync_job(
    State(app): State<App>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateSync>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["deployment:write", "environment:write"])?;
    let (mut g, now) = app.world();
    let w = &mut g.world;
    let d = w
        .deployments
        .get(&body.source_deployment_id)
        .ok_or_else(|| ApiError::not_found("deployment", &body.source_deployment_id))?;
    let state = d.schedule.state_at(now);
    if state != DeploymentState::Completed {
        return Err(ApiError::conflict(
            format!(
                "deployment {} is {}; only a completed deployment can be synced",
                d.id,
                state.as_str()
            ),
            Some(d.id.clone()),
        ));
    }
    let id = w.next_id("sync");
    let done_at = now + w.timing.sync;
    w.sync_jobs.insert(
        id.clone(),
        crate::sim::world::SyncJob {
            id: id.clone(),
            source: body.source_deployment_id.clone(),
            region: body.target_region.clone(),
            created: now,
            done_at,
        },
    );
    Ok(reply(
        StatusCode::ACCEPTED,
        json!({"syncJobId": id, "status": "queued", "targetRegion": body.target_region, "syncType": body.sync_type.unwrap_or_else(|| "full_configuration".into())}),
    ))
}

async fn sync_job(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["deployment:read"])?;
    let (g, now) = app.world();
    let j = g
        .world
        .sync_jobs
        .get(&id)
        .ok_or_else(|| ApiError::not_found("sync job", &id))?;
    let status = if now >= j.done_at {
        "completed"
    } else if now >= j.created + 1.0 {
        "running"
    } else {
        "queued"
    };
    Ok(reply(
        StatusCode::OK,
        json!({"syncJobId": j.id, "sourceDeploymentId": j.source, "targetRegion": j.region, "status": status, "createdAt": app.stamp(j.created)}),
    ))
}

async fn flow_versions(
    State(app): State<App>,
    headers: HeaderMap,
    Path((bot, flow)): Path<(String, String)>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:read", "flows:read"])?;
    let (g, _) = app.world();
    if !g.world.bots.contains_key(&bot) {
        return Err(ApiError::not_found("bot", &bot));
    }
    let f = g
        .world
        .flows
        .get(&flow)
        .filter(|f| f.bot.as_deref().is_none_or(|b| b == bot))
        .ok_or_else(|| ApiError::not_found("flow", &flow))?;
    let versions: Vec<Value> = f
        .versions
        .iter()
        .map(|v| json!({"version": v.version, "createdAt": app.stamp(v.created)}))
        .collect();
    Ok(reply(
        StatusCode::OK,
        json!({"flowId": f.id, "botId": bot, "versions": versions}),
    ))
}
