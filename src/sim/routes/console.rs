//! What a console needs beyond the seeds: bots with their environments and health,
//! environments, every operation with its steps, per-minute metric series.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use crate::domain::{
    BotDetail, BotEnvironment, BotSummary, CanaryState, EnvJobState, Health, Lease, MetricsSeries,
    Operation, OperationDetail, OperationEvent, OperationKind, PreviousHolder, Stage, Step,
    StepState, TestConversation, Version, VersionSessions, parse_window,
};
use crate::sim::control::{Control, EventRec, LeaseRec};
use crate::sim::problem::{ApiError, ApiResult};
use crate::sim::routes::api_v1::canary_view;
use crate::sim::routes::v1::deployment_view;
use crate::sim::routes::{reply, reply_typed};
use crate::sim::sessions;
use crate::sim::traffic::{self, Arm};
use crate::sim::world::{Bot, World};
use crate::sim::{App, Shared};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/bots", get(list_bots))
        .route("/api/v1/bots/{bot}", get(get_bot))
        .route("/api/v1/environments", get(environments))
        .route("/api/v1/operations", get(operations))
        .route("/api/v1/metrics/timeseries", get(timeseries))
}

pub fn version_views(app: &Shared, w: &World, bot: &Bot, now: f64) -> Vec<Version> {
    let mut out: Vec<Version> = bot
        .versions
        .iter()
        .map(|v| Version {
            id: v.id.clone(),
            label: v.label.clone(),
            status: v.status,
            environment: v.environment,
            created_at: app.stamp(v.created),
            nlu_model_id: v.nlu.clone(),
            flow_references: v.flows.clone(),
            live_in: bot
                .bindings
                .iter()
                .filter(|b| b.live.at(now).as_deref() == Some(v.id.as_str()))
                .map(|b| b.env.clone())
                .collect(),
            last_canary_verdict: v.verdict.clone(),
        })
        .collect();
    let _ = w;
    out.reverse();
    out
}

fn health_of(error_rate: Option<f64>) -> Health {
    match error_rate {
        Some(r) if r > 0.1 => Health::Unhealthy,
        Some(r) if r > 0.05 => Health::Degraded,
        _ => Health::Healthy,
    }
}

/// The step an operation shows for its drain.
pub fn drain_step(app: &Shared, d: &crate::domain::Drain, now: f64) -> Step {
    use crate::domain::DrainState;
    let what = d.version_id.as_deref().unwrap_or("the colour");
    let (state, detail) = match d.state {
        DrainState::Draining => (
            StepState::Running,
            format!(
                "{} of {} sessions left on {what} in {}",
                d.active_sessions, d.sessions_at_start, d.environment_id
            ),
        ),
        DrainState::Drained => (
            StepState::Done,
            format!("{} sessions finished on {what}", d.sessions_at_start),
        ),
        DrainState::CutOff => (
            StepState::Done,
            format!(
                "{} sessions cut off on {what} at the deadline",
                d.cut_off_sessions
            ),
        ),
        DrainState::Superseded => (
            StepState::Skipped,
            "traffic came back before it drained".to_string(),
        ),
    };
    let _ = (app, now);
    Step {
        name: "drain".into(),
        state,
        started_at: Some(d.started_at.clone()),
        finished_at: d.ended_at.clone(),
        detail: Some(detail),
    }
}

fn step(name: &str, state: StepState, started: Option<String>, detail: Option<String>) -> Step {
    Step {
        name: name.into(),
        state,
        started_at: started,
        finished_at: None,
        detail,
    }
}

/// Every operation in the world, newest first.
pub fn operation_views(app: &Shared, w: &World, now: f64) -> Vec<(f64, Operation)> {
    let mut ops = Vec::new();
    for d in w.deployments.values() {
        let mut v = deployment_view(app, w, d, now);
        if let Some(dr) = &v.drain {
            v.steps.push(drain_step(app, dr, now));
        }
        ops.push((
            d.created,
            Operation {
                id: d.id.clone(),
                kind: OperationKind::Deployment,
                bot_id: Some(d.bot.clone()),
                environment_id: Some(d.env.clone()),
                version_id: Some(d.version.clone()),
                state: v.status.as_str().into(),
                active: !v.status.is_terminal(),
                created_at: v.created_at,
                updated_at: v.updated_at,
                steps: v.steps,
                error_message: v.error_message,
            },
        ));
    }
    for j in w.rollback_jobs.values() {
        let v = crate::sim::routes::api_v1::rollback_job_view(app, w, j, now);
        let state = j.schedule.state_at(now);
        ops.push((
            j.created,
            Operation {
                id: j.id.clone(),
                kind: OperationKind::Rollback,
                bot_id: Some(j.bot.clone()),
                environment_id: j.env_applied.clone(),
                version_id: Some(j.target.clone()),
                state: state.as_str().into(),
                active: !state.is_terminal(),
                created_at: app.stamp(j.created),
                updated_at: app.stamp(
                    j.schedule
                        .phases
                        .iter()
                        .map(|(_, t)| *t)
                        .filter(|t| *t <= now)
                        .fold(j.created, f64::max),
                ),
                steps: serde_json::from_value(v["steps"].clone()).unwrap_or_default(),
                error_message: v["errorMessage"].as_str().map(str::to_string),
            },
        ));
    }
    for c in w.canaries.values() {
        let view = canary_view(app, c);
        let mut steps = vec![step(
            "canary started",
            StepState::Done,
            Some(app.stamp(c.started)),
            Some(format!("{} vs {}", c.version, c.stable)),
        )];
        for (t, wgt) in c.weight.changes().skip(1) {
            steps.push(step(
                &format!("traffic {wgt}%"),
                StepState::Done,
                Some(app.stamp(*t)),
                None,
            ));
        }
        let last = match view.state {
            CanaryState::Running => step(
                &format!("serving {}%", view.canary_weight),
                StepState::Running,
                Some(app.stamp(c.updated)),
                None,
            ),
            CanaryState::Paused => step(
                "paused",
                StepState::Running,
                Some(app.stamp(c.updated)),
                None,
            ),
            CanaryState::Promoted => step(
                "promoted",
                StepState::Done,
                Some(app.stamp(c.updated)),
                None,
            ),
            CanaryState::RolledBack => step(
                "rolled back",
                StepState::Failed,
                Some(app.stamp(c.updated)),
                None,
            ),
        };
        steps.push(last);
        ops.push((
            c.started,
            Operation {
                id: c.id.clone(),
                kind: OperationKind::Canary,
                bot_id: Some(c.bot.clone()),
                environment_id: Some(c.env.clone()),
                version_id: Some(c.version.clone()),
                state: view.state.as_str().into(),
                active: view.state.is_active(),
                created_at: view.started_at,
                updated_at: view.updated_at,
                steps,
                error_message: None,
            },
        ));
    }
    for j in w.env_jobs.values() {
        let v = crate::sim::routes::api_v2::env_job_view(app, j, now);
        let state = j.schedule.state_at(now);
        ops.push((
            j.created,
            Operation {
                id: j.id.clone(),
                kind: OperationKind::EnvironmentJob,
                bot_id: None,
                environment_id: Some(j.env.clone()),
                version_id: None,
                state: state.as_str().into(),
                active: !state.is_terminal() && state != EnvJobState::RolledBack,
                created_at: app.stamp(j.created),
                updated_at: app.stamp(now.min(j.schedule.end())),
                steps: v.steps,
                error_message: v.error_message,
            },
        ));
    }
    for p in &w.flow_pushes {
        let bot = w.flows.get(&p.flow).and_then(|f| f.bot.clone());
        ops.push((
            p.at,
            Operation {
                id: p.id.clone(),
                kind: OperationKind::FlowPush,
                bot_id: bot,
                environment_id: Some(p.env.clone()),
                version_id: Some(format!("{}@{}", p.flow, p.version)),
                state: p.state.clone(),
                active: false,
                created_at: app.stamp(p.at),
                updated_at: app.stamp(p.at),
                steps: vec![step(&p.state, StepState::Done, Some(app.stamp(p.at)), None)],
                error_message: None,
            },
        ));
    }
    ops.sort_by(|a, b| b.0.total_cmp(&a.0));
    ops
}

fn bot_summary(
    app: &Shared,
    w: &World,
    bot: &Bot,
    ops: &[(f64, Operation)],
    now: f64,
) -> BotDetail {
    let weights = bot.routing.at(now);
    let environments = bot
        .bindings
        .iter()
        .filter_map(|b| {
            let env = w.envs.get(&b.env)?;
            let share = bot.share(&w.envs, &b.env, now);
            Some(BotEnvironment {
                environment_id: env.id.clone(),
                name: env.name.clone(),
                stage: env.stage,
                colour: env.colour.clone(),
                live_version: b.live.at(now).clone(),
                traffic_weight: if env.stage == Stage::Staging {
                    weights.get(&b.env).copied().unwrap_or(0.0)
                } else {
                    (share * 1000.0).round() / 10.0
                },
            })
        })
        .collect();
    let q = traffic::Query {
        bot: &bot.id,
        env: None,
        version: None,
        arm: Arm::Total,
    };
    let s = traffic::summary(w, &q, 300.0, now, &|t| app.stamp(t));
    let sessions: Vec<VersionSessions> = sessions::counts(w, bot, now)
        .into_iter()
        .map(|(env, version, n)| {
            let live = bot.binding(env).and_then(|b| b.live.at(now).as_deref()) == Some(version);
            let production = w.envs.get(env).map(|e| e.stage) == Some(Stage::Production);
            let idle = production && bot.share(&w.envs, env, now) <= 0.0;
            VersionSessions {
                environment_id: env.to_string(),
                version_id: version.to_string(),
                active_sessions: n,
                draining: !live || idle,
            }
        })
        .collect();
    let total: u64 = sessions.iter().map(|s| s.active_sessions).sum();
    BotDetail {
        summary: BotSummary {
            id: bot.id.clone(),
            name: bot.name.clone(),
            description: bot.description.clone(),
            environments,
            active_operation: ops
                .iter()
                .find(|(_, o)| o.active && o.bot_id.as_deref() == Some(bot.id.as_str()))
                .map(|(_, o)| o.clone()),
            active_sessions: u32::try_from(total).unwrap_or(u32::MAX),
            health: health_of(s.error_rate),
            error_rate: s.error_rate.map(|r| (r * 10_000.0).round() / 10_000.0),
        },
        test_conversation: bot.test_conversation.as_ref().map(|(message, intent)| {
            TestConversation {
                message: message.clone(),
                expected_intent: intent.clone(),
            }
        }),
        sessions,
        session_timeout_seconds: sessions::Lifetimes::of(bot).map(|l| l.timeout.round() as u64),
    }
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

/// A lease as others see it (never with its key).
pub fn lease_view(app: &Shared, l: &LeaseRec) -> Lease {
    Lease {
        holder: l.holder.clone(),
        host: l.host.clone(),
        operation_key: None,
        acquired_at: app.stamp(l.acquired),
        renewed_at: app.stamp(l.renewed),
        expires_at: app.stamp(l.expires),
        previous_holder: l
            .previous
            .as_ref()
            .map(|(holder, host, at)| PreviousHolder {
                holder: holder.clone(),
                host: host.clone(),
                expired_at: app.stamp(*at),
            }),
    }
}

pub fn event_view(app: &Shared, e: &EventRec) -> OperationEvent {
    OperationEvent {
        seq: e.seq,
        kind: e.kind,
        message: e.message.clone(),
        at: app.stamp(e.at),
        by: e.by.clone(),
    }
}

/// An operation with its control state: lease, pending commands, last event, orphaned.
pub fn operation_detail(app: &Shared, w: &World, op: Operation, now: f64) -> OperationDetail {
    let empty = Control::default();
    let c = w.controls.get(&op.id).unwrap_or(&empty);
    let orphaned = op.active && c.lease.as_ref().is_some_and(|l| !l.live(now));
    OperationDetail {
        lease: c.lease.as_ref().map(|l| lease_view(app, l)),
        orphaned,
        pending_commands: u32::try_from(c.pending()).unwrap_or(u32::MAX),
        last_event: c.events.back().map(|e| event_view(app, e)),
        server_time: Some(app.stamp(now)),
        operation: op,
    }
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

/// A bucket size: a multiple of 10 s, at most a day (`10s`, `60s`, `1m`, `5m`, ...).
pub fn parse_step(text: &str) -> Result<i64, ApiError> {
    parse_window(text)
        .filter(|s| *s > 0 && *s <= 24 * 3600 && s.is_multiple_of(traffic::BASE_STEP as u64))
        .map(|s| s as i64)
        .ok_or_else(|| {
            ApiError::invalid_one(
                "step",
                format!("'{text}' is not a step of a multiple of 10s up to 24h like 10s, 1m or 5m"),
            )
        })
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
