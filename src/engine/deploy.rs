//! Versioned blue-green deploy (seed 000): validate the NLU model, flow references and
//! webhook reachability; deploy to the idle colour; poll; switch routing; sync regions;
//! report the old colour's drain; audit. A failed deployment (or a failed switch) is rolled
//! back and recorded.
//!
//! The switch is conversation-aware: new conversations go to the new colour at once, while
//! sessions already live on the old colour finish there (the server never cuts them off for
//! a deploy; its session timeout bounds how long they last). By default the deploy reports
//! the old colour's sessions and succeeds without waiting for them ([`DeployOptions`] can
//! make it wait, showing the count fall).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::backend::{DeploymentRequest, RoutingRequest};
use crate::domain::{
    BotSummary, DeploymentState, DeploymentStatus, DrainState, RouteWeight, Stage, Version,
    VersionStatus,
};
use crate::engine::events::{EventKind, Outcome, WorkflowKind};
use crate::engine::{Ctx, Engine, Report, Stop, Woken, details, poll_after, poll_until};

const KIND: WorkflowKind = WorkflowKind::Deploy;
pub const STEPS: &[&str] = &[
    "validate",
    "create deployment",
    "wait for deployment",
    "switch traffic",
    "sync regions",
    "drain old colour",
];

/// How often the old colour's sessions are read while waiting for them (server time).
const DRAIN_READ: Duration = Duration::from_secs(15);

/// Choices beyond the plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeployOptions {
    /// Wait up to this long (server time) for the sessions left on the old colour to finish
    /// before reporting, showing their number fall. Zero (the default): report how many are
    /// finishing there and end; the deploy's success never depends on them.
    pub wait_drain: Duration,
    /// First take a new version named after the plan's version from the bot's working state
    /// (Cognigy.AI: a snapshot of the project, its task followed step by step), then deploy
    /// it.
    pub take_snapshot: bool,
}

/// The steps of a deploy that takes its snapshot first.
pub const STEPS_WITH_SNAPSHOT: &[&str] = &[
    "take snapshot",
    "validate",
    "create deployment",
    "wait for deployment",
    "switch traffic",
    "sync regions",
    "drain old colour",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployPlan {
    pub bot: String,
    pub version: String,
    /// The environment to deploy to; default: the idle colour of the bot's blue/green pair.
    pub target: Option<String>,
    /// Regions to sync the deployment to afterwards.
    pub regions: Vec<String>,
    /// Give up waiting for the deployment after this long (server time).
    pub timeout: Duration,
}

/// What the switch will do, for a preview before confirming.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwitchPreview {
    pub target: String,
    pub other: String,
    pub target_live: Option<String>,
    pub other_live: Option<String>,
    pub weights_before: Vec<(String, f64)>,
    pub weights_after: Vec<(String, f64)>,
}

/// Work out the blue-green switch for `bot` (the idle production colour unless `target`).
pub fn preview(bot: &BotSummary, target: Option<&str>) -> Result<SwitchPreview, String> {
    let prod: Vec<_> = bot
        .environments
        .iter()
        .filter(|e| e.stage == Stage::Production)
        .collect();
    if prod.len() < 2 {
        return Err(format!(
            "bot {} has {} production environment(s); a blue-green deploy needs two (use a canary instead)",
            bot.id,
            prod.len()
        ));
    }
    let target_env = match target {
        Some(t) => prod
            .iter()
            .find(|e| e.environment_id == t)
            .copied()
            .ok_or_else(|| {
                format!(
                    "{t} is not a production environment of {} (it has: {})",
                    bot.id,
                    prod.iter()
                        .map(|e| e.environment_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
        None => prod
            .iter()
            .min_by(|a, b| a.traffic_weight.total_cmp(&b.traffic_weight))
            .copied()
            .ok_or_else(|| "no production environment".to_string())?,
    };
    let other = prod
        .iter()
        .filter(|e| e.environment_id != target_env.environment_id)
        .max_by(|a, b| a.traffic_weight.total_cmp(&b.traffic_weight))
        .copied()
        .ok_or_else(|| "no second production environment".to_string())?;
    Ok(SwitchPreview {
        target: target_env.environment_id.clone(),
        other: other.environment_id.clone(),
        target_live: target_env.live_version.clone(),
        other_live: other.live_version.clone(),
        weights_before: prod
            .iter()
            .map(|e| (e.environment_id.clone(), e.traffic_weight))
            .collect(),
        weights_after: vec![
            (target_env.environment_id.clone(), 100.0),
            (other.environment_id.clone(), 0.0),
        ],
    })
}

pub async fn run(ctx: Ctx, plan: DeployPlan) -> Report {
    run_with(ctx, plan, DeployOptions::default()).await
}

/// [`run`] with [`DeployOptions`].
pub async fn run_with(mut ctx: Ctx, plan: DeployPlan, options: DeployOptions) -> Report {
    // A re-attached run carries on with the plan its predecessor journaled.
    let plan = ctx.resumed_plan().unwrap_or(plan);
    ctx.started(
        KIND,
        format!("deploy {} {}", plan.bot, plan.version),
        Some(plan.bot.clone()),
        if options.take_snapshot {
            STEPS_WITH_SNAPSHOT
        } else {
            STEPS
        },
    );
    let mut deployment: Option<String> = None;
    match run_inner(&mut ctx, &plan, &options, &mut deployment).await {
        Ok(report) => report,
        Err(stop) => {
            // Anything that stops after the deployment exists is rolled back.
            if let Some(id) = deployment
                && !matches!(stop, Stop::Audit(_))
            {
                return roll_back(&mut ctx, &plan, &id, stop).await;
            }
            ctx.finish_stopped(
                KIND,
                stop,
                details(&ctx, json!({"bot": plan.bot, "version": plan.version})),
            )
            .await
        }
    }
}

/// Take the snapshot the plan names from the bot's working state, following its task; a
/// rerun after a crash follows the journaled task instead of taking another.
async fn take_snapshot(ctx: &mut Ctx, plan: &DeployPlan) -> Result<(), Stop> {
    let step = "take snapshot";
    let b = ctx.engine.backend.clone();
    let job = match ctx.journaled_id(step) {
        Some(job) => {
            ctx.emit(EventKind::StepStarted { step: step.into() });
            ctx.detail(format!("task {job}, started before the interruption"));
            job
        }
        None => {
            ctx.emit(EventKind::StepStarted { step: step.into() });
            // What would refuse the deploy refuses it before a snapshot is taken for it.
            let bot = b.get_bot(&plan.bot).await?;
            preview(&bot, plan.target.as_deref()).map_err(Stop::Refused)?;
            let versions = b.list_versions(&plan.bot).await?;
            if versions
                .iter()
                .any(|v| v.label == plan.version || v.id == plan.version)
            {
                return Err(Stop::Refused(format!(
                    "{} already has a snapshot named {}: deploy it without --snapshot, or name the new one differently",
                    plan.bot, plan.version
                )));
            }
            if let Some(limit) = b.version_limit()
                && versions.len() >= limit
            {
                return Err(Stop::Refused(format!(
                    "{} has {} snapshots, the platform's limit of {limit}: remove one nothing serves with `relcon prune {}` first",
                    plan.bot,
                    versions.len(),
                    plan.bot
                )));
            }
            let description = format!("taken by relcon for {}", ctx.engine.operator);
            let job = ctx
                .journaled_create(
                    step,
                    b.create_version(&plan.bot, &plan.version, &description),
                    |id: &String| id.clone(),
                )
                .await?;
            ctx.audit(KIND, "snapshot_started", |e| {
                e.bot = Some(plan.bot.clone());
                e.to_version = Some(plan.version.clone());
                e.detail = Some(format!("snapshot task {job}"));
            })
            .await?;
            job
        }
    };
    let b2 = b.clone();
    let j2 = job.clone();
    let mut last = None;
    let end = poll_until(
        ctx,
        "snapshot task",
        plan.timeout,
        move || {
            let b = b2.clone();
            let id = j2.clone();
            async move { b.version_job(&id).await }
        },
        |j: &crate::backend::VersionJob| j.state.is_terminal(),
        |c, j| {
            if last != Some((j.state, j.step)) {
                last = Some((j.state, j.step));
                c.detail(if j.total > 0 {
                    format!("task {}: step {} of {}", j.job_id, j.step, j.total)
                } else {
                    format!(
                        "task {}: {}",
                        j.job_id,
                        serde_json::json!(j.state).as_str().unwrap_or("?")
                    )
                });
            }
        },
    )
    .await
    .inspect_err(|e| {
        ctx.emit(EventKind::StepFailed {
            step: step.into(),
            reason: e.to_string(),
        })
    })?;
    if end.state != crate::backend::VersionJobState::Done {
        let how = match end.state {
            crate::backend::VersionJobState::Cancelled => "was cancelled",
            _ => "ended in error",
        };
        let reason = format!(
            "snapshot task {job} {how}: {}",
            end.fail_reason.as_deref().unwrap_or("no reason given")
        );
        ctx.emit(EventKind::StepFailed {
            step: step.into(),
            reason: reason.clone(),
        });
        return Err(Stop::Failed(reason));
    }
    ctx.emit(EventKind::StepFinished {
        step: step.into(),
        detail: Some(format!("{} taken (task {job})", plan.version)),
    });
    ctx.audit(KIND, "snapshot_taken", |e| {
        e.bot = Some(plan.bot.clone());
        e.to_version = Some(plan.version.clone());
        e.detail = Some(format!("snapshot task {job} done"));
    })
    .await?;
    Ok(())
}

async fn validate(engine: &Engine, plan: &DeployPlan) -> Result<(Version, SwitchPreview), Stop> {
    let b = engine.backend.as_ref();
    let bot = b.get_bot(&plan.bot).await?;
    if let Some(op) = &bot.active_operation {
        return Err(super::control::busy(b, &bot.id, op.kind.as_str(), &op.id).await);
    }
    let versions = b.list_versions(&plan.bot).await?;
    let version = versions
        .iter()
        .find(|v| v.id == plan.version || v.label == plan.version)
        .cloned()
        .ok_or_else(|| Stop::Refused(format!("{} has no version {}", plan.bot, plan.version)))?;
    if version.status != VersionStatus::Published {
        return Err(Stop::Refused(format!(
            "version {} is {}; only PUBLISHED versions can be deployed",
            version.id,
            version.status.as_str()
        )));
    }
    let preview = preview(&bot, plan.target.as_deref()).map_err(Stop::Refused)?;
    if preview.other_live.as_deref() == Some(version.id.as_str()) {
        return Err(Stop::Refused(format!(
            "{} is already live in {}, which takes the traffic",
            version.id, preview.other
        )));
    }
    let model = b.nlu_model(&version.nlu_model_id).await?;
    if !model.is_published() {
        return Err(Stop::Refused(format!(
            "NLU model {} is {}, not published; publish it before deploying {}",
            model.id, model.status, version.id
        )));
    }
    for r in &version.flow_references {
        let known = b.flow_versions(&plan.bot, &r.flow_id).await?;
        let want = r.version.trim_start_matches('v');
        if !known.iter().any(|k| k.trim_start_matches('v') == want) {
            return Err(Stop::Refused(format!(
                "flow {} has no version {} (known: {})",
                r.flow_id,
                r.version,
                known.join(", ")
            )));
        }
    }
    if let Some(sender) = &engine.webhooks {
        for url in sender.target_urls() {
            match b.check_webhook(&url).await {
                Ok(200) => {}
                Ok(code) => {
                    return Err(Stop::Refused(format!(
                        "webhook {} answered {code} to HEAD, not 200; fix the receiver or remove it from the profile",
                        crate::webhook::redacted_url(&url)
                    )));
                }
                Err(e) => {
                    return Err(Stop::Refused(format!(
                        "webhook {} is unreachable: {e}",
                        crate::webhook::redacted_url(&url)
                    )));
                }
            }
        }
    }
    Ok((version, preview))
}

async fn run_inner(
    ctx: &mut Ctx,
    plan: &DeployPlan,
    options: &DeployOptions,
    deployment: &mut Option<String>,
) -> Result<Report, Stop> {
    let engine = ctx.engine.clone();
    let journaled: Option<(Version, SwitchPreview)> = ctx.resumed_intent().and_then(|r| {
        Some((
            serde_json::from_value(r.get("version")?.clone()).ok()?,
            serde_json::from_value(r.get("preview")?.clone()).ok()?,
        ))
    });
    if options.take_snapshot && journaled.is_none() {
        take_snapshot(ctx, plan).await?;
    }
    let (version, preview) = match journaled {
        Some((v, p)) => {
            ctx.emit(EventKind::StepFinished {
                step: "validate".into(),
                detail: Some(format!(
                    "{} → {}, as the interrupted run resolved it",
                    v.id, p.target
                )),
            });
            ctx.audit_resumed(KIND, Some(&plan.bot)).await?;
            (v, p)
        }
        None => {
            let (version, preview) = ctx
                .step("validate", async {
                    let (v, p) = validate(&engine, plan).await?;
                    let d = format!(
                        "{} → {} (idle, live {}); NLU {} published",
                        v.id,
                        p.target,
                        p.target_live.as_deref().unwrap_or("nothing"),
                        v.nlu_model_id
                    );
                    Ok(((v, p), Some(d)))
                })
                .await?;
            ctx.journal_intent(
                KIND,
                Some(&plan.bot),
                json!(plan),
                json!({"version": version, "preview": preview}),
            )?;
            ctx.audit(KIND, "started", |e| {
                e.bot = Some(plan.bot.clone());
                e.environment = Some(preview.target.clone());
                e.from_version = preview.other_live.clone();
                e.to_version = Some(version.id.clone());
                e.detail = Some(format!("deploy to idle environment {}", preview.target));
            })
            .await?;
            (version, preview)
        }
    };
    let request = DeploymentRequest {
        bot_id: plan.bot.clone(),
        version_id: Some(version.id.clone()),
        target_environment_id: preview.target.clone(),
        nlu_model_id: version.nlu_model_id.clone(),
        flow_references: version.flow_references.clone(),
        metadata: json!({"requestedBy": ctx.engine.operator, "operationId": ctx.op_key}),
    };
    let backend = ctx.engine.backend.clone();
    let step = "create deployment";
    let (id, expected) = match ctx.journaled_id(step) {
        Some(id) => {
            ctx.emit(EventKind::StepFinished {
                step: step.into(),
                detail: Some(format!("{id}, created before the interruption")),
            });
            (id, None)
        }
        None => {
            ctx.emit(EventKind::StepStarted { step: step.into() });
            let a = ctx
                .journaled_create(step, backend.create_deployment(&request), |a| {
                    a.deployment_id.clone()
                })
                .await
                .inspect_err(|e| {
                    ctx.emit(EventKind::StepFailed {
                        step: step.into(),
                        reason: e.to_string(),
                    })
                })?;
            ctx.emit(EventKind::StepFinished {
                step: step.into(),
                detail: Some(format!("{} accepted", a.deployment_id)),
            });
            ctx.audit(KIND, "deployment_created", |e| {
                e.bot = Some(plan.bot.clone());
                e.environment = Some(preview.target.clone());
                e.to_version = Some(version.id.clone());
                e.detail = Some(format!("deployment {}", a.deployment_id));
            })
            .await?;
            (a.deployment_id, a.estimated_completion)
        }
    };
    *deployment = Some(id.clone());
    ctx.emit(EventKind::Linked {
        server_id: id.clone(),
    });
    ctx.emit(crate::engine::events::EventKind::StepStarted {
        step: "wait for deployment".into(),
    });
    let b2 = backend.clone();
    let id2 = id.clone();
    let mut last = None;
    // The server said when it expects the deployment done: the first read waits for it.
    let status: DeploymentStatus = poll_after(
        ctx,
        "deployment status",
        plan.timeout,
        expected,
        move || {
            let b = b2.clone();
            let id = id2.clone();
            async move { b.deployment_status(&id).await }
        },
        |s: &DeploymentStatus| s.status.is_terminal(),
        |c, s| {
            if last != Some(s.status) {
                last = Some(s.status);
                c.detail(format!("{}: {}", s.deployment_id, s.status.as_str()));
            }
        },
    )
    .await
    .inspect_err(|e| {
        ctx.emit(crate::engine::events::EventKind::StepFailed {
            step: "wait for deployment".into(),
            reason: e.to_string(),
        })
    })?;
    if status.status != DeploymentState::Completed {
        let reason = format!(
            "deployment {} ended {}: {}",
            id,
            status.status.as_str(),
            status
                .error_message
                .clone()
                .unwrap_or_else(|| "no reason given".into())
        );
        ctx.emit(crate::engine::events::EventKind::StepFailed {
            step: "wait for deployment".into(),
            reason: reason.clone(),
        });
        return Err(Stop::Failed(reason));
    }
    ctx.emit(crate::engine::events::EventKind::StepFinished {
        step: "wait for deployment".into(),
        detail: Some(format!("{id} completed")),
    });
    ctx.audit(KIND, "deployment_completed", |e| {
        e.bot = Some(plan.bot.clone());
        e.environment = Some(preview.target.clone());
        e.to_version = Some(version.id.clone());
        e.detail = Some(format!("deployment {id} completed"));
    })
    .await?;
    // The switch is a decision: record it before making it.
    ctx.audit(KIND, "decision", |e| {
        e.bot = Some(plan.bot.clone());
        e.environment = Some(preview.target.clone());
        e.from_version = preview.other_live.clone();
        e.to_version = Some(version.id.clone());
        e.detail = Some(format!("switch traffic to {}", preview.target));
        e.metrics = Some(
            json!({"weightsBefore": preview.weights_before, "weightsAfter": preview.weights_after}),
        );
    })
    .await?;
    let routing = RoutingRequest {
        bot_id: Some(plan.bot.clone()),
        weights: preview.weights_after.clone(),
        strategy: "blue_green".into(),
        failover_enabled: true,
        // The old colour's sessions finish there: a deploy never cuts them off.
        drain: None,
        deployment_id: Some(id.clone()),
    };
    // Where the version took the traffic: the target colour, or (on a platform whose traffic
    // follows channels, not weights) the endpoints that carry it and now serve the version.
    let mut carried: Vec<(String, f64)> = vec![(preview.target.clone(), 100.0)];
    if ctx.passed("switch traffic") {
        ctx.emit(EventKind::StepFinished {
            step: "switch traffic".into(),
            detail: Some("switched before the interruption".into()),
        });
    } else {
        let after = ctx
            .step("switch traffic", async {
                let after = backend.set_routing(&routing).await?;
                let c = carriers(&after, &plan.bot, &version.id);
                let d = match c.as_slice() {
                    [(env, w)] if *env == preview.target && *w >= 99.5 => {
                        format!("{} 100% · {} 0%", preview.target, preview.other)
                    }
                    [] => format!("{} 100% · {} 0%", preview.target, preview.other),
                    many => format!(
                        "traffic stays on its channels; now serving {}: {}",
                        version.id,
                        many.iter()
                            .map(|(e, w)| format!("{e} {w}%"))
                            .collect::<Vec<_>>()
                            .join(" · ")
                    ),
                };
                Ok((c, Some(d)))
            })
            .await?;
        if !after.is_empty() {
            carried = after;
        }
        ctx.journal_step("switch traffic")?;
    }
    let mut synced = Vec::new();
    let regions = plan.regions.clone();
    ctx.emit(EventKind::StepStarted {
        step: "sync regions".into(),
    });
    let mut problems = Vec::new();
    for r in &regions {
        let step = format!("sync {r}");
        let job = match ctx.journaled_id(&step) {
            Some(job) => Ok(job),
            None => {
                ctx.journaled_create(&step, backend.create_sync_job(&id, r), |j: &String| {
                    j.clone()
                })
                .await
            }
        };
        match job {
            Ok(job) => synced.push(json!({"region": r, "syncJobId": job})),
            // The release stands; a failed sync is reported, not rolled back.
            Err(Stop::Backend(e)) => problems.push(format!("{r}: {e}")),
            Err(stop) => return Err(stop),
        }
    }
    let detail = if regions.is_empty() {
        "no regions configured".to_string()
    } else {
        format!("{} of {} regions", synced.len(), regions.len())
    };
    ctx.emit(EventKind::StepFinished {
        step: "sync regions".into(),
        detail: Some(if problems.is_empty() {
            detail
        } else {
            format!("{detail}; failed: {}", problems.join("; "))
        }),
    });
    let drain = watch_drain(ctx, plan, &preview.other, options.wait_drain).await?;
    let share: f64 = carried.iter().map(|(_, w)| w).sum();
    let summary = format!(
        "{} {} live in {} with {}% of traffic (was {} in {}){}",
        plan.bot,
        version.id,
        carried
            .iter()
            .map(|(e, _)| e.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        (share * 10.0).round() / 10.0,
        preview.other_live.as_deref().unwrap_or("nothing"),
        preview.other,
        drain
            .as_deref()
            .map(|d| format!("; {d}"))
            .unwrap_or_default()
    );
    ctx.audit(KIND, "completed", |e| {
        e.bot = Some(plan.bot.clone());
        e.environment = Some(preview.target.clone());
        e.from_version = preview.other_live.clone();
        e.to_version = Some(version.id.clone());
        e.outcome = Some(Outcome::Succeeded.as_str().into());
        e.detail = Some(summary.clone());
    })
    .await?;
    ctx.notify(
        KIND,
        "deployment.completed",
        json!({"bot": plan.bot, "version": version.id, "environment": preview.target, "deploymentId": id}),
    )
    .await;
    let details = details(
        ctx,
        json!({"bot": plan.bot, "version": version.id, "deploymentId": id, "environment": preview.target, "previousVersion": preview.other_live, "syncJobs": synced}),
    );
    Ok(ctx.finish(KIND, Outcome::Succeeded, summary, details))
}

/// The environments of `bot` that carry traffic and serve `version`, per a switch's answer.
fn carriers(after: &[crate::domain::BotRouting], bot: &str, version: &str) -> Vec<(String, f64)> {
    after
        .iter()
        .filter(|r| r.bot_id == bot || after.len() == 1)
        .flat_map(|r| &r.environments)
        .filter(|e| e.traffic_weight > 0.0 && e.live_version.as_deref() == Some(version))
        .map(|e| (e.environment_id.clone(), e.traffic_weight))
        .collect()
}

/// One line for the old colour's sessions.
fn drain_text(env: &str, r: &RouteWeight) -> (String, bool) {
    let on = r
        .live_version
        .as_deref()
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    match &r.drain {
        Some(d) if d.state == DrainState::Draining => {
            let by = d
                .ends_by
                .as_deref()
                .map(|t| format!(", all gone by {t}"))
                .unwrap_or_default();
            (
                format!(
                    "{} of {} sessions still finishing on {env}{on}{by}",
                    d.active_sessions, d.sessions_at_start
                ),
                false,
            )
        }
        Some(d) if d.state == DrainState::Superseded => (
            format!("{env} takes traffic again; its sessions carry on"),
            true,
        ),
        Some(d) => (
            format!(
                "{env}{on} drained: its {} sessions finished there",
                d.sessions_at_start
            ),
            true,
        ),
        None => match r.active_sessions {
            Some(n) if n > 0 => (format!("{n} sessions still on {env}{on}"), false),
            _ => (format!("no sessions on {env}{on}"), true),
        },
    }
}

/// Report the sessions finishing on the old colour; with `wait`, follow them until they are
/// gone or `wait` has passed. Never fails the deploy: nothing is cut off either way.
async fn watch_drain(
    ctx: &mut Ctx,
    plan: &DeployPlan,
    env: &str,
    wait: Duration,
) -> Result<Option<String>, Stop> {
    let step = "drain old colour";
    ctx.emit(crate::engine::events::EventKind::StepStarted { step: step.into() });
    let backend = ctx.engine.backend.clone();
    let clock = ctx.clock();
    let started = tokio::time::Instant::now();
    let mut last: Option<String> = None;
    loop {
        let read = backend
            .get_routing(&plan.bot)
            .await
            .map(|r| r.environments.into_iter().find(|e| e.environment_id == env));
        let (line, done) = match read {
            Ok(Some(r)) => drain_text(env, &r),
            Ok(None) => (format!("{env} is not in the bot's routing"), true),
            Err(e) => {
                let line = format!("the sessions on {env} could not be read: {e}");
                ctx.emit(crate::engine::events::EventKind::StepFinished {
                    step: step.into(),
                    detail: Some(line),
                });
                return Ok(None);
            }
        };
        if last.as_deref() != Some(line.as_str()) {
            ctx.detail(line.clone());
            last = Some(line.clone());
        }
        let waited = clock.to_server(started.elapsed());
        if done || waited >= wait {
            let detail = if done || wait.is_zero() {
                line.clone()
            } else {
                format!(
                    "{line} after waiting {}s; nothing was cut off",
                    wait.as_secs()
                )
            };
            ctx.emit(crate::engine::events::EventKind::StepFinished {
                step: step.into(),
                detail: Some(detail),
            });
            return Ok(Some(line));
        }
        let left = wait.saturating_sub(waited).min(DRAIN_READ);
        if let Woken::Command(c) = ctx.wait("the old colour to drain", left).await? {
            ctx.detail(format!(
                "{c:?} does not apply while the old colour drains; ignored"
            ));
        }
    }
}

/// Roll a deployment back after `cause` and report it.
async fn roll_back(ctx: &mut Ctx, plan: &DeployPlan, id: &str, cause: Stop) -> Report {
    let reason = cause.to_string();
    let backend = ctx.engine.backend.clone();
    let result = ctx
        .step("roll back", async {
            backend.rollback_deployment(id).await?;
            Ok((
                (),
                Some(format!(
                    "{id} rolled back: previous version and routing restored"
                )),
            ))
        })
        .await;
    let (outcome, summary) = match result {
        Ok(()) => (
            Outcome::RolledBack,
            format!("rolled back {} {}: {reason}", plan.bot, plan.version),
        ),
        Err(e) => (
            Outcome::Failed,
            format!("{reason}; and the rollback of {id} failed too: {e}"),
        ),
    };
    let d = details(
        ctx,
        json!({"bot": plan.bot, "version": plan.version, "deploymentId": id, "reason": reason}),
    );
    ctx.conclude_restore(KIND, "deployment.rolled_back", outcome, summary, d, |e| {
        e.bot = Some(plan.bot.clone());
        e.to_version = Some(plan.version.clone());
    })
    .await
}
