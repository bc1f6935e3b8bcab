//! The world as the wire shows it: every view of a simulated object (a deployment, canary,
//! rollback or environment job, a bot with its environments, an operation with its steps
//! and lease) in one place, shared by the route modules of every dialect. Views read the
//! world; they change nothing and answer no request.

use serde_json::{Value, json};

use crate::domain::{
    BotDetail, BotEnvironment, BotSummary, Canary, CanaryState, DeploymentState, DeploymentStatus,
    EnvJob, EnvJobState, Health, JobState, Lease, Operation, OperationDetail, OperationEvent,
    OperationKind, PreviousHolder, Stage, Step, StepState, TestConversation, Version,
    VersionSessions, WeightChange,
};
use crate::sim::Shared;
use crate::sim::control::{Control, EventRec, LeaseRec};
use crate::sim::sessions;
use crate::sim::traffic::{self, Arm};
use crate::sim::world::{
    Bot, CanaryPhase, CanaryRec, Deployment, EnvJobRec, RollbackJobRec, World, schedule_steps,
};

/// A page of the bot's versions as the API lists them, newest first: `take` of them after
/// skipping the `skip` newest. Builds the views of that page only.
pub fn version_views(app: &Shared, bot: &Bot, now: f64, skip: usize, take: usize) -> Vec<Version> {
    let live: Vec<(&str, &str)> = bot
        .bindings
        .iter()
        .filter_map(|b| Some((b.live.at(now).as_deref()?, b.env.as_str())))
        .collect();
    bot.versions
        .iter()
        .rev()
        .skip(skip)
        .take(take)
        .map(|v| Version {
            id: v.id.clone(),
            label: v.label.clone(),
            status: v.status,
            environment: v.environment,
            created_at: app.stamp(v.created),
            nlu_model_id: v.nlu.clone(),
            flow_references: v.flows.clone(),
            live_in: live
                .iter()
                .filter(|(version, _)| *version == v.id)
                .map(|(_, env)| env.to_string())
                .collect(),
            last_canary_verdict: v.verdict.clone(),
        })
        .collect()
}

pub fn health_of(error_rate: Option<f64>) -> Health {
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

pub fn step(name: &str, state: StepState, started: Option<String>, detail: Option<String>) -> Step {
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
        let v = rollback_job_view(app, w, j, now);
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
        let v = env_job_view(app, j, now);
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

pub fn bot_summary(
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
    let error_rate = traffic::error_rate(w, &q, 300.0, now);
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
    let _ = app;
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
            health: health_of(error_rate),
            error_rate: error_rate.map(|r| (r * 10_000.0).round() / 10_000.0),
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

pub fn canary_view(app: &Shared, c: &CanaryRec) -> Canary {
    Canary {
        id: c.id.clone(),
        bot_id: c.bot.clone(),
        environment_id: c.env.clone(),
        version: c.version.clone(),
        stable_version: c.stable.clone(),
        state: match c.phase {
            CanaryPhase::Running => CanaryState::Running,
            CanaryPhase::Paused => CanaryState::Paused,
            CanaryPhase::Promoted => CanaryState::Promoted,
            CanaryPhase::RolledBack => CanaryState::RolledBack,
        },
        canary_weight: *c.weight.current(),
        max_traffic_percentage: c.max_traffic,
        rollback_thresholds: c.thresholds.clone(),
        started_at: app.stamp(c.started),
        updated_at: app.stamp(c.updated),
        weight_history: c
            .weight
            .changes()
            .map(|(t, w)| WeightChange {
                at: app.stamp(*t),
                weight: *w,
            })
            .collect(),
    }
}

pub fn rollback_job_view(app: &Shared, w: &World, j: &RollbackJobRec, now: f64) -> Value {
    let state = j.schedule.state_at(now);
    let stamp = |t: f64| app.stamp(t);
    let mut names = vec![(JobState::Queued, "queued"), (JobState::Running, "running")];
    if j.schedule.start_of(JobState::Draining).is_some() {
        names.push((JobState::Draining, "draining"));
    }
    let drain = j
        .drain
        .as_deref()
        .and_then(|id| drain_view(app, w, id, now));
    let mut steps = schedule_steps(
        &j.schedule,
        &names,
        now,
        &stamp,
        (state == JobState::Failed)
            .then(|| (JobState::Failed, j.error.as_deref().unwrap_or("failed"))),
    );
    if let (Some(d), Some(step)) = (&drain, steps.iter_mut().find(|s| s.name == "draining")) {
        step.detail = Some(match d.state {
            crate::domain::DrainState::Draining => format!(
                "{} of {} sessions left on {}",
                d.active_sessions,
                d.sessions_at_start,
                d.version_id.as_deref().unwrap_or("the old version")
            ),
            crate::domain::DrainState::CutOff => {
                format!("{} sessions cut off at the deadline", d.cut_off_sessions)
            }
            _ => format!("{} sessions finished", d.sessions_at_start),
        });
    }
    let mut v = json!({
        "jobId": j.id,
        "botId": j.bot,
        "targetVersionId": j.target,
        "environment": j.environment.as_str(),
        "state": state.as_str(),
        "createdAt": app.stamp(j.created),
        "steps": steps,
    });
    if state == JobState::Failed {
        v["errorMessage"] = json!(j.error.clone().unwrap_or_else(|| "rollback failed".into()));
    }
    if let Some(e) = &j.env_applied {
        v["environmentId"] = json!(e);
    }
    if let Some(secs) = j.drain_seconds {
        v["drainSeconds"] = json!(secs);
    }
    if let Some(d) = drain {
        v["drain"] = serde_json::to_value(d).unwrap_or_default();
    }
    v
}

pub fn env_job_view(app: &Shared, j: &EnvJobRec, now: f64) -> EnvJob {
    let state = j.schedule.state_at(now);
    let stamp = |t: f64| app.stamp(t);
    let steps = schedule_steps(
        &j.schedule,
        &[
            (EnvJobState::Queued, "queued"),
            (EnvJobState::Running, "rolling out"),
        ],
        now,
        &stamp,
        (state == EnvJobState::Failed)
            .then(|| (EnvJobState::Failed, j.error.as_deref().unwrap_or("failed"))),
    );
    EnvJob {
        job_id: j.id.clone(),
        environment_id: j.env.clone(),
        status: state,
        error_message: match state {
            EnvJobState::Failed | EnvJobState::RolledBack => j.error.clone(),
            _ => None,
        },
        steps,
    }
}

pub fn deployment_view(app: &Shared, w: &World, d: &Deployment, now: f64) -> DeploymentStatus {
    let state = d.schedule.state_at(now);
    let stamp = |t: f64| app.stamp(t);
    let steps = schedule_steps(
        &d.schedule,
        &[
            (DeploymentState::Queued, "queued"),
            (DeploymentState::Compiling, "compiling"),
            (DeploymentState::Deploying, "deploying"),
            (DeploymentState::Validating, "validating"),
        ],
        now,
        &stamp,
        match state {
            DeploymentState::Failed | DeploymentState::Timeout => {
                Some((state, d.error.as_deref().unwrap_or("failed")))
            }
            _ => None,
        },
    );
    let remaining = if state.is_terminal() {
        0
    } else {
        (d.schedule.end() - now).max(0.0).ceil() as u64
    };
    DeploymentStatus {
        deployment_id: d.id.clone(),
        bot_id: d.bot.clone(),
        version_id: d.version.clone(),
        target_environment_id: d.env.clone(),
        status: state,
        created_at: app.stamp(d.created),
        updated_at: app.stamp(
            d.schedule
                .phases
                .iter()
                .filter(|(_, t)| *t <= now)
                .map(|(_, t)| *t)
                .fold(d.created, f64::max),
        ),
        estimated_completion_seconds: remaining,
        steps,
        error_message: match state {
            DeploymentState::Failed | DeploymentState::Timeout | DeploymentState::RolledBack => {
                d.error.clone()
            }
            _ => None,
        },
        drain: d
            .drain
            .as_deref()
            .and_then(|id| drain_view(app, w, id, now)),
    }
}

/// A drain as the API reports it, at `now`.
pub fn drain_view(
    app: &crate::sim::Shared,
    w: &crate::sim::world::World,
    id: &str,
    now: f64,
) -> Option<crate::domain::Drain> {
    use crate::domain::DrainState;
    let d = w.drain(id)?;
    let bot = w.bots.get(&d.bot)?;
    let state = d.state_at(now);
    let active = if state == DrainState::Draining {
        crate::sim::sessions::alive_before(w, bot, &d.env, d.version.as_deref(), d.started, now)
    } else {
        0
    };
    let bound = crate::sim::sessions::Lifetimes::of(bot).map(|l| d.started + l.timeout);
    let ends_by = match (d.deadline, bound) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
    .or(Some(d.ends));
    Some(crate::domain::Drain {
        state,
        environment_id: d.env.clone(),
        version_id: d.version.clone(),
        active_sessions: active,
        sessions_at_start: d.at_start,
        started_at: app.stamp(d.started),
        drain_until: d.deadline.map(|t| app.stamp(t)),
        ends_by: ends_by.map(|t| app.stamp(t)),
        ended_at: (state != DrainState::Draining).then(|| app.stamp(d.ends)),
        cut_off_sessions: if state == DrainState::CutOff {
            d.cut_off
        } else {
            0
        },
    })
}
