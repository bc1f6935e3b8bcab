//! `/api/v1`: canary (seed 001) and rollback to a chosen version (seed 004), with metrics,
//! webhooks and audit logs.

use std::collections::VecDeque;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::{
    Canary, FieldError, JobState, MetricSummary, Stage, Thresholds, VersionStatus, parse_window,
};
use crate::sim::problem::{ApiError, ApiResult};
use crate::sim::routes::common::store_audit;
use crate::sim::routes::{JsonBody, reply, reply_typed, status_read};
use crate::sim::scenario::Timing;
use crate::sim::sessions;
use crate::sim::traffic::{self, Arm};
use crate::sim::views::{canary_view, rollback_job_view};
use crate::sim::world::{
    CanaryPhase, CanaryRequest, Refusal, RollbackJobRec, Schedule, WebhookRec,
};
use crate::sim::{App, Shared};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/bots/{bot}/deploy", post(start_canary))
        .route("/api/v1/canaries", get(list_canaries))
        .route("/api/v1/canaries/{id}", get(get_canary))
        .route("/api/v1/canaries/{id}/traffic", put(set_traffic))
        .route("/api/v1/canaries/{id}/metrics", get(canary_metrics))
        .route("/api/v1/canaries/{id}/{action}", post(canary_action))
        .route("/api/v1/metrics/conversations", get(conversations))
        .route(
            "/api/v1/webhooks",
            post(register_webhook).get(list_webhooks),
        )
        .route("/api/v1/audit/logs", post(post_audit).get(list_audit))
        .route("/api/v1/bots/{bot}/versions", get(versions))
        .route("/api/v1/sessions", get(sessions))
        .route("/api/v1/deployments", post(create_rollback_job))
        .route("/api/v1/deployments/{id}/status", get(rollback_job_status))
        .route("/api/v1/bots/{bot}/test", post(test_message))
}

#[derive(Debug, Deserialize)]
struct CanaryPayload {
    #[serde(default)]
    bot_id: Option<String>,
    environment_id: String,
    version: String,
    traffic_matrix: serde_json::Map<String, Value>,
    rollback_thresholds: serde_json::Map<String, Value>,
    max_traffic_percentage: f64,
    #[serde(default)]
    enable_metric_aggregation: Option<bool>,
}

fn num(m: &serde_json::Map<String, Value>, k: &str) -> Option<f64> {
    m.get(k).and_then(Value::as_f64)
}

/// Every violation of a canary payload, as field errors.
fn validate_canary(p: &CanaryPayload) -> (Vec<FieldError>, f64, Thresholds) {
    let mut errors = Vec::new();
    let mut err = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        })
    };
    let canary = num(&p.traffic_matrix, "canary");
    let stable = num(&p.traffic_matrix, "stable");
    match (stable, canary) {
        (Some(s), Some(c)) => {
            let sum: f64 = p.traffic_matrix.values().filter_map(Value::as_f64).sum();
            if !(99.9..=100.1).contains(&sum) {
                err(
                    "traffic_matrix",
                    format!(
                        "percentages must sum to 100, got {sum} (stable {s} + canary {c}); use percentages, not fractions"
                    ),
                );
            }
            if !(0.0..=100.0).contains(&c) {
                err("traffic_matrix.canary", format!("{c} is outside 0..=100"));
            }
        }
        _ => err(
            "traffic_matrix",
            "needs numeric 'stable' and 'canary' percentages".into(),
        ),
    }
    if !(1.0..=100.0).contains(&p.max_traffic_percentage) {
        err(
            "max_traffic_percentage",
            format!("{} is outside 1..=100", p.max_traffic_percentage),
        );
    }
    if let Some(c) = canary
        && c > p.max_traffic_percentage
    {
        err(
            "traffic_matrix.canary",
            format!(
                "canary share {c} is above max_traffic_percentage {}",
                p.max_traffic_percentage
            ),
        );
    }
    let d = Thresholds::default();
    let mut t = d.clone();
    for (k, v) in &p.rollback_thresholds {
        let Some(x) = v.as_f64() else {
            err(
                &format!("rollback_thresholds.{k}"),
                "must be a number".into(),
            );
            continue;
        };
        match k.as_str() {
            "error_rate" if !(0.0..=1.0).contains(&x) => err(
                "rollback_thresholds.error_rate",
                format!("{x} is outside 0.0..=1.0"),
            ),
            "error_rate" => t.error_rate = x,
            "satisfaction_score" if !(0.0..=5.0).contains(&x) => err(
                "rollback_thresholds.satisfaction_score",
                format!("{x} is outside 0.0..=5.0"),
            ),
            "satisfaction_score" => t.satisfaction_score = x,
            "max_latency_ms" if x <= 0.0 => err(
                "rollback_thresholds.max_latency_ms",
                format!("{x} must be above 0"),
            ),
            "max_latency_ms" => t.max_latency_ms = x,
            other => err(
                &format!("rollback_thresholds.{other}"),
                "unknown threshold; use error_rate, satisfaction_score, max_latency_ms".into(),
            ),
        }
    }
    (errors, canary.unwrap_or(0.0), t)
}

async fn start_canary(
    State(app): State<App>,
    headers: HeaderMap,
    Path(bot_id): Path<String>,
    JsonBody(p): JsonBody<CanaryPayload>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:deploy"])?;
    let kind = headers
        .get("x-deployment-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !kind.eq_ignore_ascii_case("canary") {
        return Err(ApiError::invalid_one(
            "X-Deployment-Type",
            format!(
                "'{kind}' is not supported; send X-Deployment-Type: canary (versioned deploys go to POST /v1/bots/{{botId}}/deployments)"
            ),
        ));
    }
    let (mut errors, weight, thresholds) = validate_canary(&p);
    if let Some(b) = &p.bot_id
        && b != &bot_id
    {
        errors.push(FieldError {
            field: "bot_id".into(),
            message: format!("body names bot '{b}' but the path names '{bot_id}'"),
        });
    }
    let _ = p.enable_metric_aggregation;
    let (mut g, now) = app.world();
    let w = &mut g.world;
    // Field errors of the payload and of the world answer together; a conflict only when
    // the request is otherwise valid.
    match w.canary_plan(&bot_id, &p.environment_id, &p.version) {
        Err(Refusal::Invalid(more)) => {
            errors.extend(more);
            return Err(ApiError::invalid(errors));
        }
        Err(r @ Refusal::NotFound { .. }) => return Err(r.into()),
        _ if !errors.is_empty() => return Err(ApiError::invalid(errors)),
        Err(r) => return Err(r.into()),
        Ok(_) => {}
    }
    let id = w.start_canary(
        &CanaryRequest {
            bot: &bot_id,
            env: &p.environment_id,
            version: &p.version,
            weight,
            max_traffic: p.max_traffic_percentage,
            thresholds,
        },
        now,
    )?;
    let view = canary_view(&app, &w.canaries[&id]);
    let mut body = serde_json::to_value(&view).unwrap_or_default();
    body["deploymentId"] = json!(id);
    body["canaryId"] = json!(id);
    body["status"] = json!("running");
    Ok(reply(StatusCode::CREATED, body))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CanaryQuery {
    bot_id: Option<String>,
    active: Option<bool>,
}

async fn list_canaries(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CanaryQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:read", "metrics:read"])?;
    let (g, _) = app.world();
    let mut items: Vec<Canary> = g
        .world
        .canaries
        .values()
        .filter(|c| q.bot_id.as_ref().is_none_or(|b| &c.bot == b))
        .filter(|c| !q.active.unwrap_or(false) || c.active())
        .map(|c| canary_view(&app, c))
        .collect();
    items.reverse();
    Ok(reply(StatusCode::OK, json!({ "items": items })))
}

async fn get_canary(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:read", "metrics:read"])?;
    let (g, _) = app.world();
    let c = g
        .world
        .canaries
        .get(&id)
        .ok_or_else(|| ApiError::not_found("canary", &id))?;
    Ok(reply(
        StatusCode::OK,
        serde_json::to_value(canary_view(&app, c)).unwrap_or_default(),
    ))
}

#[derive(Debug, Deserialize)]
struct CanaryMetricsQuery {
    since: Option<String>,
    step: Option<String>,
}

/// Both arms of one canary, bucket by bucket, from max(`since`, its start) to now (or its
/// end).
async fn canary_metrics(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<CanaryMetricsQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:read", "metrics:read"])?;
    let step = crate::sim::routes::common::parse_step(q.step.as_deref().unwrap_or("10s"))?;
    let since = match q.since.as_deref() {
        None => None,
        Some(text) => {
            let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
                ApiError::invalid_one(
                    "since",
                    format!("'{text}' is not an RFC 3339 time like 2025-01-31T12:00:00Z: {e}"),
                )
            })?;
            let since = at.with_timezone(&chrono::Utc) - app.clock.epoch();
            Some(since.num_milliseconds() as f64 / 1000.0)
        }
    };
    let (g, now) = app.world();
    let c = g
        .world
        .canaries
        .get(&id)
        .ok_or_else(|| ApiError::not_found("canary", &id))?;
    let body = traffic::canary_metrics(&g.world, c, since, step, now, &|t| app.stamp(t))
        .map_err(|traffic::TooManyBuckets(n)| {
            ApiError::invalid_one(
                "step",
                format!(
                    "{n} buckets of {step}s from since to now; at most {} (use a coarser step or a later since)",
                    traffic::MAX_BUCKETS
                ),
            )
        })?;
    drop(g);
    Ok(reply_typed(StatusCode::OK, &body))
}

#[derive(Debug, Deserialize)]
struct TrafficBody {
    canary: f64,
}

async fn set_traffic(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TrafficBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:deploy"])?;
    let (mut g, now) = app.world();
    let w = &mut g.world;
    w.set_canary_weight(&id, body.canary, now)?;
    let view = canary_view(&app, &w.canaries[&id]);
    Ok(reply(
        StatusCode::OK,
        serde_json::to_value(view).unwrap_or_default(),
    ))
}

#[derive(Debug, Default, Deserialize)]
struct ActionBody {
    #[serde(default)]
    reason: Option<String>,
}

async fn canary_action(
    State(app): State<App>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    JsonBody(body): JsonBody<ActionBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:deploy"])?;
    let (mut g, now) = app.world();
    let w = &mut g.world;
    let c = w
        .canaries
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("canary", &id))?;
    if !c.active() {
        // Repeating the final action is harmless; anything else conflicts.
        let same = matches!(
            (action.as_str(), c.phase),
            ("promote", CanaryPhase::Promoted) | ("rollback", CanaryPhase::RolledBack)
        );
        if same {
            return Ok(reply(
                StatusCode::OK,
                serde_json::to_value(canary_view(&app, &c)).unwrap_or_default(),
            ));
        }
        return Err(ApiError::conflict(
            format!("canary {id} has already ended ({:?})", c.phase),
            Some(id),
        ));
    }
    let event = match action.as_str() {
        "pause" => {
            set_phase(w, &id, CanaryPhase::Paused, now);
            None
        }
        "resume" => {
            set_phase(w, &id, CanaryPhase::Running, now);
            None
        }
        "promote" => {
            if let Some(b) = w.bots.get_mut(&c.bot) {
                if let Some(binding) = b.binding_mut(&c.env) {
                    binding.live.set(now, Some(c.version.clone()));
                }
                if let Some(v) = b.version_mut(&c.version) {
                    v.verdict = Some("promoted".into());
                }
            }
            end_canary(w, &id, CanaryPhase::Promoted, now);
            Some("deployment.canary.completed")
        }
        "rollback" => {
            if let Some(b) = w.bots.get_mut(&c.bot) {
                b.clear_traffic(&c.version, now);
                if let Some(v) = b.version_mut(&c.version) {
                    v.verdict = Some("rolled_back".into());
                }
            }
            end_canary(w, &id, CanaryPhase::RolledBack, now);
            Some("deployment.canary.rolled_back")
        }
        other => {
            return Err(ApiError::not_found("canary action", other));
        }
    };
    let view = w
        .canaries
        .get(&id)
        .map(|c| canary_view(&app, c))
        .ok_or_else(|| ApiError::not_found("canary", &id))?;
    if let Some(event) = event {
        w.emit(
            event,
            json!({"canaryId": id, "botId": c.bot, "environmentId": c.env, "version": c.version, "reason": body.reason}),
        );
    }
    Ok(reply(
        StatusCode::OK,
        serde_json::to_value(view).unwrap_or_default(),
    ))
}

fn set_phase(w: &mut crate::sim::world::World, id: &str, phase: CanaryPhase, now: f64) {
    if let Some(c) = w.canaries.get_mut(id) {
        c.phase = phase;
        c.updated = now;
    }
}

fn end_canary(w: &mut crate::sim::world::World, id: &str, phase: CanaryPhase, now: f64) {
    if let Some(c) = w.canaries.get_mut(id) {
        c.phase = phase;
        c.updated = now;
        c.ended = Some(now);
        c.weight.set(now, 0.0);
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricsQuery {
    bot_id: String,
    window: Option<String>,
    metric_type: Option<String>,
    environment_id: Option<String>,
    version: Option<String>,
}

async fn conversations(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<MetricsQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["metrics:read"])?;
    let window_text = q.window.clone().unwrap_or_else(|| "15m".into());
    let window = parse_window(&window_text).ok_or_else(|| {
        ApiError::invalid_one(
            "window",
            format!("'{window_text}' is not a window like 15m, 90s or 1h"),
        )
    })?;
    let arm = match q.metric_type.as_deref().unwrap_or("all") {
        "canary" => Arm::Canary,
        "baseline" | "stable" => Arm::Baseline,
        "all" | "total" => Arm::Total,
        other => {
            return Err(ApiError::invalid_one(
                "metricType",
                format!("'{other}' is not one of canary, baseline, all"),
            ));
        }
    };
    let (g, now) = app.world();
    if !g.world.bots.contains_key(&q.bot_id) {
        return Err(ApiError::not_found("bot", &q.bot_id));
    }
    // Canary arms live in the canary's environment unless one is named.
    let env = match (&q.environment_id, arm) {
        (Some(e), _) => Some(e.clone()),
        (None, Arm::Total) => None,
        (None, _) => traffic::canary_for(&g.world, &q.bot_id, None).map(|c| c.env.clone()),
    };
    let query = traffic::Query {
        bot: &q.bot_id,
        env: env.as_deref(),
        version: q.version.as_deref(),
        arm,
    };
    let s: MetricSummary =
        traffic::summary(&g.world, &query, window as f64, now, &|t| app.stamp(t));
    let mut body = serde_json::to_value(&s).unwrap_or_default();
    body["botId"] = json!(q.bot_id);
    body["window"] = json!(window_text);
    body["metricType"] = json!(q.metric_type.unwrap_or_else(|| "all".into()));
    if let Some(e) = env {
        body["environmentId"] = json!(e);
    }
    Ok(reply(StatusCode::OK, body))
}

#[derive(Debug, Deserialize)]
struct WebhookBody {
    name: String,
    url: String,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

fn webhook_view(app: &Shared, w: &WebhookRec) -> Value {
    json!({"id": w.id, "name": w.name, "url": w.url, "events": w.events, "active": w.active, "createdAt": app.stamp(w.created)})
}

async fn register_webhook(
    State(app): State<App>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<WebhookBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["webhook:manage", "webhooks:write"])?;
    if !(body.url.starts_with("http://") || body.url.starts_with("https://")) {
        return Err(ApiError::invalid_one(
            "url",
            format!("'{}' is not an http(s) URL", body.url),
        ));
    }
    let (mut g, now) = app.world();
    let w = &mut g.world;
    let id = w.next_id("wh");
    let rec = WebhookRec {
        id,
        name: body.name,
        url: body.url,
        events: body.events,
        secret: body.secret.unwrap_or_default(),
        active: body.active,
        created: now,
    };
    let view = webhook_view(&app, &rec);
    w.webhooks.push(rec);
    Ok(reply(StatusCode::CREATED, view))
}

async fn list_webhooks(State(app): State<App>, headers: HeaderMap) -> ApiResult<Response> {
    app.authorize(&headers, &["webhook:manage", "webhook:read"])?;
    let (g, _) = app.world();
    let items: Vec<Value> = g
        .world
        .webhooks
        .iter()
        .map(|w| webhook_view(&app, w))
        .collect();
    Ok(reply(StatusCode::OK, json!({ "items": items })))
}

async fn post_audit(
    State(app): State<App>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["audit:write"])?;
    if !body.is_object() {
        return Err(ApiError::invalid_one(
            "body",
            "an audit record must be a JSON object",
        ));
    }
    Ok(store_audit(&app, "api/v1", body))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditQuery {
    bot_id: Option<String>,
}

async fn list_audit(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["audit:write", "audit:read"])?;
    let (g, _) = app.world();
    let items: Vec<Value> = g
        .world
        .audit
        .iter()
        .filter(|a| {
            q.bot_id.as_ref().is_none_or(|b| {
                a.body.get("bot_id").or_else(|| a.body.get("botId")).and_then(Value::as_str) == Some(b)
            })
        })
        .map(|a| json!({"id": a.id, "family": a.family, "receivedAt": app.stamp(a.at), "record": a.body}))
        .collect();
    Ok(reply(StatusCode::OK, json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<usize>,
    size: Option<usize>,
}

async fn versions(
    State(app): State<App>,
    headers: HeaderMap,
    Path(bot_id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:read"])?;
    let page = q.page.unwrap_or(1).max(1);
    let size = q.size.unwrap_or(50).clamp(1, 200);
    let (g, now) = app.world();
    let bot = g
        .world
        .bots
        .get(&bot_id)
        .ok_or_else(|| ApiError::not_found("bot", &bot_id))?;
    let total = bot.versions.len();
    let skip = (page - 1).saturating_mul(size);
    let data = crate::sim::views::version_views(&app, bot, now, skip, size);
    Ok(reply(
        StatusCode::OK,
        json!({"success": true, "data": data, "page": page, "size": size, "total": total}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionQuery {
    status: Option<String>,
    bot_id: Option<String>,
    environment_id: Option<String>,
    version_id: Option<String>,
    /// Only sessions that can still be active this many seconds from now.
    expires_after_seconds: Option<f64>,
    /// At most this many sessions in `data` (default 1000; `total` counts them all).
    limit: Option<usize>,
}

/// Sessions listed by default; `total` always counts every match.
const SESSION_LIMIT: usize = 1000;

async fn sessions(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<SessionQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:read", "sessions:read", "bot:manage"])?;
    if let Some(s) = &q.status
        && s != "active"
    {
        return Err(ApiError::invalid_one(
            "status",
            format!("'{s}' is not supported; only active sessions are listed"),
        ));
    }
    if let Some(d) = q.expires_after_seconds
        && !(d.is_finite() && d >= 0.0)
    {
        return Err(ApiError::invalid_one(
            "expiresAfterSeconds",
            format!("{d} must be 0 or more"),
        ));
    }
    let (g, now) = app.world();
    if let Some(b) = &q.bot_id
        && !g.world.bots.contains_key(b)
    {
        return Err(ApiError::not_found("bot", b));
    }
    let filter = sessions::Filter {
        env: q.environment_id.as_deref(),
        version: q.version_id.as_deref(),
        expires_after: q.expires_after_seconds,
    };
    let limit = q.limit.unwrap_or(SESSION_LIMIT).min(100_000);
    let mut data = Vec::new();
    let mut total = 0;
    for bot in g.world.bots.values() {
        if q.bot_id.as_ref().is_some_and(|b| b != &bot.id) {
            continue;
        }
        let left = limit - data.len();
        let (n, listed) = sessions::list(&g.world, bot, now, &filter, left, &|t| app.stamp(t));
        total += n;
        data.extend(listed);
    }
    Ok(reply(
        StatusCode::OK,
        json!({"success": true, "data": data, "total": total}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RollbackBody {
    bot_id: String,
    target_version_id: String,
    environment: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    validate_dependencies: Option<bool>,
    #[serde(default)]
    force: Option<bool>,
    /// How long sessions on the previous version may finish after the switch (default:
    /// until they end on their own; 0: cut them off at the switch).
    #[serde(default)]
    drain_seconds: Option<f64>,
}

fn rollback_schedule(timing: &Timing, now: f64, stalled: bool, fails: bool) -> Schedule<JobState> {
    if stalled {
        return Schedule {
            phases: vec![
                (JobState::Queued, now),
                (JobState::Failed, now + timing.job_timeout),
            ],
        };
    }
    let q = Timing::phase(&timing.rollback, "queued");
    let r = Timing::phase(&timing.rollback, "running");
    Schedule {
        phases: vec![
            (JobState::Queued, now),
            (JobState::Running, now + q),
            (
                if fails {
                    JobState::Failed
                } else {
                    JobState::Completed
                },
                now + q + r,
            ),
        ],
    }
}

async fn create_rollback_job(
    State(app): State<App>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RollbackBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["deployment:write", "bot:manage"])?;
    let action = body.action.clone().unwrap_or_else(|| "ROLLBACK".into());
    if action != "ROLLBACK" {
        return Err(ApiError::invalid_one(
            "action",
            format!("'{action}' is not supported here; use ROLLBACK"),
        ));
    }
    let stage = match body.environment.to_uppercase().as_str() {
        "PRODUCTION" => Stage::Production,
        "STAGING" => Stage::Staging,
        other => {
            return Err(ApiError::invalid_one(
                "environment",
                format!("'{other}' is not PRODUCTION or STAGING"),
            ));
        }
    };
    let (mut g, now) = app.world();
    let stalled = g.faults.stall_jobs;
    let w = &mut g.world;
    let bot = w
        .bots
        .get(&body.bot_id)
        .ok_or_else(|| ApiError::not_found("bot", &body.bot_id))?;
    let v = bot
        .version(&body.target_version_id)
        .ok_or_else(|| ApiError::not_found("version", &body.target_version_id))?;
    let force = body.force.unwrap_or(false);
    let mut errors = Vec::new();
    if v.status != VersionStatus::Published {
        errors.push(FieldError {
            field: "targetVersionId".into(),
            message: format!(
                "version {} is {}; only a PUBLISHED version can be rolled back to",
                v.id,
                v.status.as_str()
            ),
        });
    }
    if v.environment != stage {
        errors.push(FieldError {
            field: "environment".into(),
            message: format!(
                "version {} belongs to {}, not {}",
                v.id,
                v.environment.as_str(),
                stage.as_str()
            ),
        });
    }
    if let Some(d) = body.drain_seconds
        && !(d.is_finite() && (0.0..=86_400.0).contains(&d))
    {
        errors.push(FieldError {
            field: "drainSeconds".into(),
            message: format!("{d} is outside 0..=86400"),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    if body.validate_dependencies.unwrap_or(true) && !force && !v.missing_dependencies.is_empty() {
        return Err(ApiError::conflict(
            format!(
                "version {} references missing components: {}",
                v.id,
                v.missing_dependencies.join(", ")
            ),
            None,
        ));
    }
    let fails = v.fail_rollback.clone();
    let target = v.id.clone();
    if let Some((kind, id)) = w.busy(&body.bot_id) {
        return Err(ApiError::conflict(
            format!(
                "bot '{}' already has a {kind} in progress ({id})",
                body.bot_id
            ),
            Some(id),
        ));
    }
    let id = w.next_id("job");
    let schedule = rollback_schedule(&w.timing, now, stalled, fails.is_some());
    let error = if stalled {
        Some(format!(
            "rollback job timed out after {}s",
            w.timing.job_timeout
        ))
    } else {
        fails
    };
    w.rollback_jobs.insert(
        id.clone(),
        RollbackJobRec {
            id: id.clone(),
            bot: body.bot_id.clone(),
            target,
            environment: stage,
            created: now,
            schedule,
            error,
            applied: false,
            finished: false,
            env_applied: None,
            drain_seconds: body.drain_seconds,
            drain: None,
            status_reads: VecDeque::new(),
        },
    );
    let mut resp = reply(
        StatusCode::ACCEPTED,
        json!({"success": true, "data": {"jobId": id, "state": "QUEUED"}}),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/deployments/{id}/status")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn rollback_job_status(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["deployment:read", "bot:manage"])?;
    let (mut g, now) = app.world();
    let j = g
        .world
        .rollback_jobs
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("deployment job", &id))?;
    status_read(&mut j.status_reads, now, &id)?;
    let j = &g.world.rollback_jobs[&id];
    let view = rollback_job_view(&app, &g.world, j, now);
    let mut resp = reply(StatusCode::OK, json!({"success": true, "data": view}));
    if !j.schedule.state_at(now).is_terminal() {
        // When the next state change is due; while draining, soon enough to see the count fall.
        let next = j
            .schedule
            .phases
            .iter()
            .map(|(_, t)| *t)
            .find(|t| *t > now)
            .map(|t| (t - now).ceil().max(1.0))
            .unwrap_or(1.0);
        let next = if j.schedule.state_at(now) == JobState::Draining {
            next.min(15.0)
        } else {
            next
        };
        if let Ok(v) = HeaderValue::from_str(&(next as u64).to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
struct TestBody {
    message: String,
}

async fn test_message(
    State(app): State<App>,
    headers: HeaderMap,
    Path(bot_id): Path<String>,
    JsonBody(body): JsonBody<TestBody>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:read", "bot:manage"])?;
    let (g, now) = app.world();
    let w = &g.world;
    let bot = w
        .bots
        .get(&bot_id)
        .ok_or_else(|| ApiError::not_found("bot", &bot_id))?;
    let env = w.active_env(bot, Stage::Production, now);
    let live = env.as_deref().and_then(|e| w.live_at(&bot_id, e, now));
    let (name, confidence) = bot.classify(&body.message, live.as_deref());
    Ok(reply(
        StatusCode::OK,
        json!({"success": true, "data": {
            "intent": {"name": name, "confidence": confidence},
            "versionId": live,
            "environmentId": env,
            "entities": [],
        }}),
    ))
}
