//! What a console needs beyond the seeds: bots with their environments and health,
//! environments, every operation with its steps, per-minute metric series.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use crate::domain::{BotDetail, MetricsSeries, OperationDetail, parse_window};
use crate::sim::App;
use crate::sim::problem::{ApiError, ApiResult};
use crate::sim::routes::common::parse_step;
use crate::sim::routes::{reply, reply_typed};
use crate::sim::traffic::{self, Arm};
use crate::sim::views::{bot_summary, operation_detail, operation_views};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/bots", get(list_bots))
        .route("/api/v1/bots/{bot}", get(get_bot))
        .route("/api/v1/environments", get(environments))
        .route("/api/v1/operations", get(operations))
        .route("/api/v1/metrics/timeseries", get(timeseries))
}

async fn list_bots(State(app): State<App>, headers: HeaderMap) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:read"])?;
    let (g, now) = app.world();
    let ops = operation_views(&app, &g.world, now);
    let items: Vec<BotDetail> = g
        .world
        .bots
        .values()
        .map(|b| bot_summary(&app, &g.world, b, &ops, now))
        .collect();
    Ok(reply(StatusCode::OK, json!({ "items": items })))
}

async fn get_bot(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:read"])?;
    let (g, now) = app.world();
    let bot = g
        .world
        .bots
        .get(&id)
        .ok_or_else(|| ApiError::not_found("bot", &id))?;
    let ops = operation_views(&app, &g.world, now);
    Ok(reply(
        StatusCode::OK,
        serde_json::to_value(bot_summary(&app, &g.world, bot, &ops, now)).unwrap_or_default(),
    ))
}

async fn environments(State(app): State<App>, headers: HeaderMap) -> ApiResult<Response> {
    app.authorize(
        &headers,
        &["bot:read", "environment:read", "environments:read"],
    )?;
    let (g, _) = app.world();
    let items: Vec<_> = g.world.envs.values().map(|e| e.to_domain()).collect();
    Ok(reply(StatusCode::OK, json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpsQuery {
    bot_id: Option<String>,
    active: Option<bool>,
    limit: Option<usize>,
}

async fn operations(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<OpsQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["bot:read", "deployment:read"])?;
    let (g, now) = app.world();
    let items: Vec<OperationDetail> = operation_views(&app, &g.world, now)
        .into_iter()
        .map(|(_, o)| operation_detail(&app, &g.world, o, now))
        .filter(|d| {
            let o = &d.operation;
            q.bot_id
                .as_ref()
                .is_none_or(|b| o.bot_id.as_ref() == Some(b))
        })
        .filter(|d| !q.active.unwrap_or(false) || d.operation.active)
        .take(q.limit.unwrap_or(50).clamp(1, 500))
        .collect();
    Ok(reply(StatusCode::OK, json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeriesQuery {
    bot_id: String,
    environment_id: Option<String>,
    window: Option<String>,
    step: Option<String>,
}

async fn timeseries(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<SeriesQuery>,
) -> ApiResult<Response> {
    app.authorize(&headers, &["metrics:read"])?;
    let text = q.window.clone().unwrap_or_else(|| "30m".into());
    let window = parse_window(&text)
        .filter(|w| *w <= 24 * 3600)
        .ok_or_else(|| {
            ApiError::invalid_one(
                "window",
                format!("'{text}' is not a window of at most 24h like 30m"),
            )
        })?;
    let step = parse_step(q.step.as_deref().unwrap_or("60s"))?;
    let buckets = window.div_ceil(step as u64) as i64;
    if buckets > traffic::MAX_BUCKETS {
        return Err(ApiError::invalid_one(
            "step",
            format!(
                "a {text} window in {step}s steps is {buckets} buckets; at most {} (use a coarser step or a shorter window)",
                traffic::MAX_BUCKETS
            ),
        ));
    }
    let (g, now) = app.world();
    let w = &g.world;
    if !w.bots.contains_key(&q.bot_id) {
        return Err(ApiError::not_found("bot", &q.bot_id));
    }
    // The buckets whose end lies inside the window; the last one is in progress.
    let last = (now / step as f64).floor() as i64;
    let first = last - buckets + 1;
    let stamp = |t: f64| app.stamp(t);
    let total = traffic::series(
        w,
        &traffic::Query {
            bot: &q.bot_id,
            env: q.environment_id.as_deref(),
            version: None,
            arm: Arm::Total,
        },
        step,
        first,
        last,
        now,
        &stamp,
    );
    let canary_env = q
        .environment_id
        .clone()
        .or_else(|| traffic::canary_for(w, &q.bot_id, None).map(|c| c.env.clone()));
    let arm = |arm: Arm| {
        canary_env
            .as_deref()
            .map(|env| {
                traffic::series(
                    w,
                    &traffic::Query {
                        bot: &q.bot_id,
                        env: Some(env),
                        version: None,
                        arm,
                    },
                    step,
                    first,
                    last,
                    now,
                    &stamp,
                )
            })
            .unwrap_or_default()
    };
    let series = MetricsSeries {
        bot_id: q.bot_id.clone(),
        environment_id: q.environment_id.clone(),
        step_seconds: step as u64,
        total,
        baseline: arm(Arm::Baseline),
        canary: arm(Arm::Canary),
    };
    drop(g);
    Ok(reply_typed(StatusCode::OK, &series))
}
