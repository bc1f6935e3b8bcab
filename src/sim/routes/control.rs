//! `/_sim`: clock, faults, statistics, world inspection and reset. No auth: these drive the
//! simulator, not the Release API.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::sim::App;
use crate::sim::faults::Faults;
use crate::sim::problem::{ApiError, ApiResult};
use crate::sim::routes::{JsonBody, reply};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/_sim/clock", get(get_clock).post(set_clock))
        .route("/_sim/faults", get(get_faults).put(put_faults))
        .route("/_sim/faults/expire-tokens", post(expire_tokens))
        .route("/_sim/stats", get(stats))
        .route("/_sim/world", get(world))
        .route("/_sim/reset", post(reset))
        .route("/_sim/hooks", get(hooks).delete(clear_hooks))
}

fn clock_view(app: &App) -> serde_json::Value {
    let t = app.clock.now();
    json!({"simSeconds": t, "speed": app.clock.speed(), "now": app.stamp(t), "seed": app.seed})
}

async fn get_clock(State(app): State<App>) -> Response {
    reply(StatusCode::OK, clock_view(&app))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockBody {
    advance_seconds: Option<f64>,
    speed: Option<f64>,
}

async fn set_clock(
    State(app): State<App>,
    JsonBody(body): JsonBody<ClockBody>,
) -> ApiResult<Response> {
    if let Some(s) = body.speed {
        if !(0.0..=10_000.0).contains(&s) {
            return Err(ApiError::invalid_one(
                "speed",
                "must be between 0 (paused) and 10000",
            ));
        }
        app.clock.set_speed(s);
    }
    if let Some(a) = body.advance_seconds {
        if !(0.0..=30.0 * 86400.0).contains(&a) {
            return Err(ApiError::invalid_one(
                "advanceSeconds",
                "must be between 0 and 30 days",
            ));
        }
        app.clock.advance(a);
    }
    // Apply whatever became due.
    drop(app.world());
    Ok(reply(StatusCode::OK, clock_view(&app)))
}

async fn get_faults(State(app): State<App>) -> Response {
    let f = app.lock().faults.clone();
    reply(StatusCode::OK, serde_json::to_value(f).unwrap_or_default())
}

async fn put_faults(State(app): State<App>, JsonBody(f): JsonBody<Faults>) -> ApiResult<Response> {
    f.check().map_err(|e| ApiError::invalid_one("faults", e))?;
    app.lock().faults = f.clone();
    tracing::info!(?f, "faults changed");
    Ok(reply(
        StatusCode::OK,
        serde_json::to_value(f).unwrap_or_default(),
    ))
}

async fn expire_tokens(State(app): State<App>) -> Response {
    let mut g = app.lock();
    let n = g.auth.tokens.len();
    g.auth.expire_all();
    reply(StatusCode::OK, json!({"expired": n}))
}

async fn stats(State(app): State<App>) -> Response {
    let g = app.lock();
    let total: u64 = g.stats.values().flat_map(|m| m.values()).sum();
    let routes: serde_json::Map<String, serde_json::Value> = g
        .stats
        .iter()
        .map(|(k, m)| {
            let by: serde_json::Map<String, serde_json::Value> =
                m.iter().map(|(s, n)| (s.to_string(), json!(n))).collect();
            (k.clone(), serde_json::Value::Object(by))
        })
        .collect();
    reply(StatusCode::OK, json!({"total": total, "routes": routes}))
}

async fn world(State(app): State<App>) -> Response {
    let (g, now) = app.world();
    let w = &g.world;
    let deployments: Vec<_> = w
        .deployments
        .values()
        .map(|d| json!({"id": d.id, "botId": d.bot, "environmentId": d.env, "versionId": d.version, "status": d.schedule.state_at(now).as_str()}))
        .collect();
    let rollback_jobs: Vec<_> = w
        .rollback_jobs
        .values()
        .map(|j| json!({"id": j.id, "botId": j.bot, "targetVersionId": j.target, "state": j.schedule.state_at(now).as_str()}))
        .collect();
    let env_jobs: Vec<_> = w
        .env_jobs
        .values()
        .map(|j| json!({"id": j.id, "environmentId": j.env, "status": j.schedule.state_at(now).as_str()}))
        .collect();
    let canaries: Vec<_> = w
        .canaries
        .values()
        .map(|c| json!({"id": c.id, "botId": c.bot, "version": c.version, "phase": format!("{:?}", c.phase), "weight": c.weight.current()}))
        .collect();
    let live: Vec<_> = w
        .bots
        .values()
        .flat_map(|b| {
            b.bindings
                .iter()
                .map(move |x| json!({"botId": b.id, "environmentId": x.env, "liveVersion": x.live.at(now)}))
        })
        .collect();
    let pushes: Vec<_> = w
        .flow_pushes
        .iter()
        .map(|p| json!({"id": p.id, "flowId": p.flow, "environmentId": p.env, "version": p.version, "state": p.state}))
        .collect();
    reply(
        StatusCode::OK,
        json!({
            "simSeconds": now,
            "deployments": deployments,
            "rollbackJobs": rollback_jobs,
            "environmentJobs": env_jobs,
            "canaries": canaries,
            "syncJobs": w.sync_jobs.len(),
            "flowPushes": pushes,
            "webhooks": w.webhooks.len(),
            "auditRecords": w.audit.len(),
            "live": live,
        }),
    )
}

async fn reset(State(app): State<App>) -> Response {
    app.reset();
    reply(
        StatusCode::OK,
        json!({"reset": true, "clock": clock_view(&app)}),
    )
}

async fn hooks(State(app): State<App>) -> Response {
    let items = app.lock().hooks.clone();
    reply(StatusCode::OK, json!({"items": items}))
}

async fn clear_hooks(State(app): State<App>) -> Response {
    app.lock().hooks.clear();
    reply(StatusCode::OK, json!({"cleared": true}))
}
