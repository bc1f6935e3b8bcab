//! Rollback to a chosen version (seed 004), conversation-aware: validate the target
//! (PUBLISHED, same environment); check how many sessions the cut-over could cut off; trigger
//! the rollback job with a drain, so new conversations go to the target at once while
//! sessions already live finish on the version they started on; poll until the switch, fall
//! back to a fallback version if the job fails; verify with the bot's own test conversation
//! (or the profile's); follow the drain until the old version is unmounted; webhook and
//! audit.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::backend::{RollbackRequest, SessionQuery};
use crate::domain::{
    BotDetail, BotSummary, Drain, DrainState, JobState, RollbackJob, Stage, Version, VersionStatus,
};
use crate::engine::events::{EventKind, Outcome, WorkflowKind};
use crate::engine::{Ctx, Engine, Report, Stop, details, poll_until};

const KIND: WorkflowKind = WorkflowKind::Rollback;
pub const STEPS: &[&str] = &[
    "validate target",
    "check sessions",
    "trigger rollback",
    "wait for job",
    "verify",
    "drain sessions",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackPlan {
    pub bot: String,
    /// Default: the last known-good version (see [`last_known_good`]).
    pub target: Option<String>,
    pub environment: Stage,
    /// The most sessions the rollback may cut off: those that could still be open on the
    /// replaced version when the drain deadline passes (every active one without a drain).
    /// More, and the rollback is refused before anything changes.
    pub max_active_sessions: u32,
    /// How long sessions on the replaced version may finish after the switch; the ones
    /// still there then are cut off. Zero: the switch cuts every session over at once.
    pub wait_drain: Duration,
    pub fallback: Option<String>,
    /// The verification's message; empty: the bot's own test conversation.
    pub test_message: String,
    /// The intent it must get; empty: the bot's own expected intent.
    pub expected_intent: String,
    pub min_confidence: f64,
    pub timeout: Duration,
}

/// The version live now in the bot's busiest environment of `stage`.
pub fn live_version(bot: &BotSummary, stage: Stage) -> Option<String> {
    bot.environments
        .iter()
        .filter(|e| e.stage == stage)
        .max_by(|a, b| a.traffic_weight.total_cmp(&b.traffic_weight))
        .and_then(|e| e.live_version.clone())
}

/// The last version that was live and healthy before the current one: the newest
/// PUBLISHED version of the stage, older than the live one, that was promoted (its canary
/// or deploy passed). Versions never proven in production do not count. `versions` is
/// newest first.
pub fn last_known_good<'a>(
    versions: &'a [Version],
    live: Option<&str>,
    stage: Stage,
) -> Option<&'a Version> {
    let start = live
        .and_then(|l| versions.iter().position(|v| v.id == l))
        .map(|i| i + 1)
        .unwrap_or(0);
    versions[start.min(versions.len())..].iter().find(|v| {
        v.status == VersionStatus::Published
            && v.environment == stage
            && v.last_canary_verdict.as_deref() == Some("promoted")
    })
}

/// Versions a rollback may target: PUBLISHED, same stage, not the live one.
pub fn eligible<'a>(versions: &'a [Version], live: Option<&str>, stage: Stage) -> Vec<&'a Version> {
    versions
        .iter()
        .filter(|v| v.status == VersionStatus::Published && v.environment == stage)
        .filter(|v| Some(v.id.as_str()) != live)
        .collect()
}

struct Target {
    version: Version,
    live: Option<String>,
    /// The environment the rollback switches: the bot's busiest of the stage.
    env: Option<String>,
    bot: BotDetail,
}

/// The environment of `stage` that carries the most traffic (the one a rollback switches).
fn busiest_env(bot: &BotSummary, stage: Stage) -> Option<String> {
    bot.environments
        .iter()
        .filter(|e| e.stage == stage)
        .max_by(|a, b| a.traffic_weight.total_cmp(&b.traffic_weight))
        .map(|e| e.environment_id.clone())
}

async fn validate(engine: &Engine, plan: &RollbackPlan) -> Result<Target, Stop> {
    let b = engine.backend.as_ref();
    let detail = b.get_bot_detail(&plan.bot).await?;
    let bot = &detail.summary;
    if let Some(op) = &bot.active_operation {
        return Err(super::control::busy(b, &bot.id, op.kind.as_str(), &op.id).await);
    }
    let versions = b.list_versions(&plan.bot).await?;
    let live = live_version(bot, plan.environment);
    let version = match &plan.target {
        Some(t) => versions
            .iter()
            .find(|v| &v.id == t || &v.label == t)
            .cloned()
            .ok_or_else(|| Stop::Refused(format!("{} has no version {t}", plan.bot)))?,
        None => last_known_good(&versions, live.as_deref(), plan.environment)
            .cloned()
            .ok_or_else(|| {
                Stop::Refused(format!(
                    "no earlier PUBLISHED {} version of {} to roll back to; name one with --to",
                    plan.environment.as_str(),
                    plan.bot
                ))
            })?,
    };
    if version.status != VersionStatus::Published {
        return Err(Stop::Refused(format!(
            "target {} is {}; only a PUBLISHED version can be rolled back to",
            version.id,
            version.status.as_str()
        )));
    }
    if version.environment != plan.environment {
        return Err(Stop::Refused(format!(
            "target {} belongs to {}, not {}",
            version.id,
            version.environment.as_str(),
            plan.environment.as_str()
        )));
    }
    if live.as_deref() == Some(version.id.as_str()) {
        return Err(Stop::Refused(format!("{} is already live", version.id)));
    }
    let env = busiest_env(bot, plan.environment);
    Ok(Target {
        version,
        live,
        env,
        bot: detail,
    })
}

/// The target a re-attached run takes over from the journal: the version resolved at the
/// start (never resolved again), what was live then, the environment switched.
async fn rejoin(
    engine: &Engine,
    plan: &RollbackPlan,
    resolved: &serde_json::Value,
) -> Result<Target, Stop> {
    let b = engine.backend.as_ref();
    let id = resolved["target"]
        .as_str()
        .ok_or_else(|| Stop::Failed("the journaled rollback has no target".into()))?;
    let detail = b.get_bot_detail(&plan.bot).await?;
    let versions = b.list_versions(&plan.bot).await?;
    let version = versions
        .iter()
        .find(|v| v.id == id)
        .cloned()
        .ok_or_else(|| Stop::NotFound(format!("{} has no version {id} any more", plan.bot)))?;
    Ok(Target {
        version,
        live: resolved["live"].as_str().map(str::to_string),
        env: resolved["environment"].as_str().map(str::to_string),
        bot: detail,
    })
}

pub async fn run(mut ctx: Ctx, plan: RollbackPlan) -> Report {
    // A re-attached run carries on with the plan its predecessor journaled.
    let plan = ctx.resumed_plan().unwrap_or(plan);
    ctx.started(
        KIND,
        format!(
            "rollback {} to {}",
            plan.bot,
            plan.target.as_deref().unwrap_or("last known good")
        ),
        Some(plan.bot.clone()),
        STEPS,
    );
    match run_inner(&mut ctx, &plan).await {
        Ok(r) => r,
        Err(stop) => {
            let d = details(&ctx, json!({"bot": plan.bot, "target": plan.target}));
            ctx.finish_stopped(KIND, stop, d).await
        }
    }
}

/// `90s`, `10m`, `1h30m`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// Sessions before the switch: how many are on the replaced version, and how many of them
/// the cut-over could cut off.
#[derive(Debug, Clone, Copy)]
struct SessionCheck {
    active: u64,
    /// Sessions that can still be open when the drain deadline passes (all of them without
    /// a drain): at most this many will be cut off.
    at_risk: u64,
}

async fn check_sessions(
    engine: &Engine,
    plan: &RollbackPlan,
    target: &Target,
) -> Result<(SessionCheck, String), Stop> {
    let (Some(env), Some(live)) = (&target.env, &target.live) else {
        return Ok((
            SessionCheck {
                active: 0,
                at_risk: 0,
            },
            "nothing live to drain".into(),
        ));
    };
    let backend = engine.backend.clone();
    let mut q = SessionQuery {
        bot: plan.bot.clone(),
        environment: Some(env.clone()),
        version: Some(live.clone()),
        expires_after: None,
    };
    let active = backend.count_sessions(&q).await?;
    let at_risk = if plan.wait_drain.is_zero() || active == 0 {
        active
    } else {
        q.expires_after = Some(plan.wait_drain);
        backend.count_sessions(&q).await?
    };
    let check = SessionCheck { active, at_risk };
    let limit = u64::from(plan.max_active_sessions);
    let timeout = target
        .bot
        .session_timeout_seconds
        .map(|s| human(Duration::from_secs(s)));
    if at_risk > limit {
        let ends = timeout
            .as_deref()
            .map(|t| format!(" (sessions end at most {t} after they start)"))
            .unwrap_or_default();
        let longer = timeout
            .as_deref()
            .map(|t| format!("--wait-drain {t}"))
            .unwrap_or_else(|| "a longer --wait-drain".into());
        let reason = if plan.wait_drain.is_zero() {
            format!(
                "{active} active sessions on {live} in {env} would be cut off at once, above the threshold of {limit}; let them finish with {longer}{ends}, or raise --max-active-sessions"
            )
        } else {
            format!(
                "up to {at_risk} of the {active} sessions on {live} in {env} could still be open when the {} drain ends and would be cut off, above the threshold of {limit}{ends}; allow {longer}, or raise --max-active-sessions",
                human(plan.wait_drain)
            )
        };
        return Err(Stop::Refused(reason));
    }
    let detail = match (active, plan.wait_drain.is_zero()) {
        (0, _) => format!("no active sessions on {live} in {env}"),
        (n, true) => {
            format!("{n} active sessions on {live} will be cut off at once (threshold {limit})")
        }
        (n, false) if at_risk == 0 => format!(
            "{n} active sessions on {live} in {env}; they finish there within the {} drain: none will be cut off",
            human(plan.wait_drain)
        ),
        (n, false) => format!(
            "{n} active sessions on {live} in {env}; at most {at_risk} could still be open when the {} drain ends (threshold {limit})",
            human(plan.wait_drain)
        ),
    };
    Ok((check, detail))
}

/// One line for a drain in progress.
fn drain_line(d: &Drain) -> String {
    let what = d.version_id.as_deref().unwrap_or("the old colour");
    let until = d
        .drain_until
        .as_deref()
        .or(d.ends_by.as_deref())
        .map(|t| format!(", by {t} at the latest"))
        .unwrap_or_default();
    format!(
        "{} of {} sessions left on {what} in {}{until}",
        d.active_sessions, d.sessions_at_start, d.environment_id
    )
}

async fn run_job(ctx: &mut Ctx, plan: &RollbackPlan, version: &str) -> Result<RollbackJob, Stop> {
    let backend = ctx.engine.backend.clone();
    let request = RollbackRequest {
        bot_id: plan.bot.clone(),
        target_version_id: version.to_string(),
        environment: plan.environment.as_str().into(),
        validate_dependencies: true,
        force: false,
    };
    let drain = plan.wait_drain;
    let step = "trigger rollback";
    let key = format!("{step} {version}");
    let how = if drain.is_zero() {
        "no drain".to_string()
    } else {
        format!("drain up to {}", human(drain))
    };
    let job = match ctx.journaled_id(&key) {
        Some(job) => {
            ctx.emit(EventKind::StepFinished {
                step: step.into(),
                detail: Some(format!(
                    "job {job} for {version}, created before the interruption"
                )),
            });
            job
        }
        None => {
            ctx.emit(EventKind::StepStarted { step: step.into() });
            let job = ctx
                .journaled_create(
                    &key,
                    backend.create_rollback_job_drained(&request, Some(drain)),
                    |id: &String| id.clone(),
                )
                .await
                .inspect_err(|e| {
                    ctx.emit(EventKind::StepFailed {
                        step: step.into(),
                        reason: e.to_string(),
                    })
                })?;
            ctx.emit(EventKind::StepFinished {
                step: step.into(),
                detail: Some(format!("job {job} for {version}, {how}")),
            });
            ctx.audit(KIND, "job_created", |e| {
                e.bot = Some(plan.bot.clone());
                e.to_version = Some(version.to_string());
                e.detail = Some(format!("rollback job {job}"));
            })
            .await?;
            job
        }
    };
    ctx.emit(EventKind::Linked {
        server_id: job.clone(),
    });
    ctx.emit(EventKind::StepStarted {
        step: "wait for job".into(),
    });
    let b = backend.clone();
    let j2 = job.clone();
    let mut last = None;
    let result = poll_until(
        ctx,
        "rollback job",
        plan.timeout,
        move || {
            let b = b.clone();
            let id = j2.clone();
            async move { b.rollback_job_status(&id).await }
        },
        |s: &RollbackJob| s.state.is_terminal() || s.state.is_switched(),
        |c, s| {
            if last != Some(s.state) {
                last = Some(s.state);
                c.detail(format!("{}: {}", s.job_id, s.state.as_str()));
            }
        },
    )
    .await;
    match &result {
        Ok(s) if s.state.is_switched() => ctx.emit(EventKind::StepFinished {
            step: "wait for job".into(),
            detail: Some(match &s.drain {
                Some(d) if s.state == JobState::Draining => format!(
                    "{} {}: {version} takes every new conversation; {}",
                    s.job_id,
                    s.state.as_str(),
                    drain_line(d)
                ),
                _ => format!("{} {}", s.job_id, s.state.as_str()),
            }),
        }),
        Ok(s) => ctx.emit(EventKind::StepFailed {
            step: "wait for job".into(),
            reason: format!(
                "{} FAILED: {}",
                s.job_id,
                s.error_message.clone().unwrap_or_default()
            ),
        }),
        Err(e) => ctx.emit(EventKind::StepFailed {
            step: "wait for job".into(),
            reason: e.to_string(),
        }),
    }
    result
}

/// How the drain of the replaced version ended.
#[derive(Debug, Clone)]
struct DrainEnd {
    at_start: u64,
    cut_off: u64,
    line: String,
}

/// Follow the job through its drain to `COMPLETED`, reporting the sessions left.
async fn follow_drain(
    ctx: &mut Ctx,
    plan: &RollbackPlan,
    job: &RollbackJob,
) -> Result<DrainEnd, Stop> {
    let step = "drain sessions";
    ctx.emit(EventKind::StepStarted { step: step.into() });
    let live = job
        .drain
        .as_ref()
        .and_then(|d| d.version_id.clone())
        .unwrap_or_else(|| "the previous version".into());
    let final_job = if job.state == JobState::Draining {
        let b = ctx.engine.backend.clone();
        let id = job.job_id.clone();
        let mut last: Option<u64> = None;
        // The drain lasts at most `wait_drain` from the switch; allow the polls beyond it.
        let timeout = plan.timeout.max(plan.wait_drain + Duration::from_secs(120));
        let r = poll_until(
            ctx,
            "drain",
            timeout,
            move || {
                let b = b.clone();
                let id = id.clone();
                async move { b.rollback_job_status(&id).await }
            },
            |s: &RollbackJob| s.state.is_terminal(),
            |c, s| {
                if let Some(d) = s.drain.as_ref().filter(|d| d.state == DrainState::Draining)
                    && last != Some(d.active_sessions)
                {
                    last = Some(d.active_sessions);
                    c.detail(drain_line(d));
                }
            },
        )
        .await;
        match r {
            Ok(j) => j,
            Err(e) => {
                ctx.emit(EventKind::StepFailed {
                    step: step.into(),
                    reason: e.to_string(),
                });
                return Err(e);
            }
        }
    } else {
        job.clone()
    };
    let end = match &final_job.drain {
        None => DrainEnd {
            at_start: 0,
            cut_off: 0,
            line: format!("no sessions on {live} to drain"),
        },
        Some(d) if d.state == DrainState::CutOff => DrainEnd {
            at_start: d.sessions_at_start,
            cut_off: d.cut_off_sessions,
            line: format!(
                "{} of {} sessions on {live} finished there; the deadline cut off {}",
                d.sessions_at_start.saturating_sub(d.cut_off_sessions),
                d.sessions_at_start,
                d.cut_off_sessions
            ),
        },
        Some(d) => DrainEnd {
            at_start: d.sessions_at_start,
            cut_off: 0,
            line: format!(
                "all {} sessions on {live} finished there; none cut off",
                d.sessions_at_start
            ),
        },
    };
    if end.cut_off > u64::from(plan.max_active_sessions) {
        ctx.emit(EventKind::StepFailed {
            step: step.into(),
            reason: format!(
                "{}, above the threshold of {} (sessions that started before the switch outlived the check's estimate)",
                end.line, plan.max_active_sessions
            ),
        });
    } else {
        ctx.emit(EventKind::StepFinished {
            step: step.into(),
            detail: Some(end.line.clone()),
        });
    }
    Ok(end)
}

/// The test conversation to verify with: the profile's overrides, else the bot's own.
/// `Err` says why there is none.
fn conversation(
    plan: &RollbackPlan,
    bot: &BotDetail,
) -> Result<(String, String, &'static str), String> {
    let own = bot.test_conversation.as_ref();
    let message = (!plan.test_message.trim().is_empty())
        .then(|| (plan.test_message.clone(), "profile"))
        .or_else(|| own.map(|c| (c.message.clone(), "bot")));
    let intent = (!plan.expected_intent.trim().is_empty())
        .then(|| plan.expected_intent.clone())
        .or_else(|| own.map(|c| c.expected_intent.clone()));
    match (message, intent) {
        (Some((m, source)), Some(i)) => Ok((m, i, source)),
        _ => Err(format!(
            "verification skipped: {} has no test conversation and the profile sets no [rollback] test_message and expected_intent",
            bot.summary.id
        )),
    }
}

async fn run_inner(ctx: &mut Ctx, plan: &RollbackPlan) -> Result<Report, Stop> {
    let engine = ctx.engine.clone();
    let (target, sessions) = match ctx.resumed_intent().cloned() {
        Some(r) => {
            let t = rejoin(&engine, plan, &r).await?;
            ctx.emit(EventKind::StepFinished {
                step: "validate target".into(),
                detail: Some(format!(
                    "{} replaces {}, as the interrupted run resolved it",
                    t.version.id,
                    t.live.as_deref().unwrap_or("nothing")
                )),
            });
            let check = SessionCheck {
                active: r["activeSessions"].as_u64().unwrap_or_default(),
                at_risk: r["sessionsAtRisk"].as_u64().unwrap_or_default(),
            };
            ctx.emit(EventKind::StepFinished {
                step: "check sessions".into(),
                detail: Some("checked by the interrupted run".into()),
            });
            ctx.audit_resumed(KIND, Some(&plan.bot)).await?;
            (t, check)
        }
        None => {
            let target = ctx
                .step("validate target", async {
                    let t = validate(&engine, plan).await?;
                    let d = format!(
                        "{} ({}, {}) replaces {}",
                        t.version.id,
                        t.version.status.as_str(),
                        t.version.environment.as_str(),
                        t.live.as_deref().unwrap_or("nothing")
                    );
                    Ok((t, Some(d)))
                })
                .await?;
            let sessions = ctx
                .step("check sessions", async {
                    let (check, detail) = check_sessions(&engine, plan, &target).await?;
                    Ok((check, Some(detail)))
                })
                .await?;
            // The target ("last known good" included) is resolved once, here: a rerun
            // after a crash rolls back to it, not to whatever is last known good then.
            ctx.journal_intent(
                KIND,
                Some(&plan.bot),
                json!(plan),
                json!({
                    "target": target.version.id,
                    "live": target.live,
                    "environment": target.env,
                    "activeSessions": sessions.active,
                    "sessionsAtRisk": sessions.at_risk,
                }),
            )?;
            (target, sessions)
        }
    };
    let version = target.version.id.clone();
    ctx.audit(KIND, "decision", |e| {
        e.bot = Some(plan.bot.clone());
        e.from_version = target.live.clone();
        e.to_version = Some(version.clone());
        e.environment = target.env.clone();
        e.detail = Some(format!("roll back {} to {version}", plan.bot));
        e.metrics = Some(json!({
            "activeSessions": sessions.active,
            "sessionsAtRisk": sessions.at_risk,
            "maxActiveSessions": plan.max_active_sessions,
            "drainSeconds": plan.wait_drain.as_secs(),
        }));
    })
    .await?;
    let mut applied = version.clone();
    let mut fallback_used = false;
    let job = match run_job(ctx, plan, &version).await {
        Ok(j) if j.state.is_switched() => j,
        other => {
            let reason = match &other {
                Ok(j) => format!(
                    "job {} failed: {}",
                    j.job_id,
                    j.error_message.clone().unwrap_or_default()
                ),
                Err(e) => e.to_string(),
            };
            let Some(fb) = plan.fallback.clone().filter(|f| f != &version) else {
                return Err(match other {
                    Err(e) => e,
                    Ok(_) => Stop::Failed(format!("{reason}; no fallback version configured")),
                });
            };
            ctx.detail(format!("{reason}; falling back to {fb}"));
            ctx.audit(KIND, "decision", |e| {
                e.bot = Some(plan.bot.clone());
                e.to_version = Some(fb.clone());
                e.detail = Some(format!("fall back to {fb}: {reason}"));
            })
            .await?;
            let j = run_job(ctx, plan, &fb).await?;
            if !j.state.is_switched() {
                return Err(Stop::Failed(format!(
                    "{reason}; the fallback to {fb} failed too: {}",
                    j.error_message.unwrap_or_default()
                )));
            }
            applied = fb;
            fallback_used = true;
            j
        }
    };
    let was = target.live.as_deref().unwrap_or("nothing");
    let fallback_note = if fallback_used { " (fallback)" } else { "" };

    // Verify the target with a new conversation (it takes them all from the switch on).
    let (verification, passed) = match conversation(plan, &target.bot) {
        Err(why) => {
            ctx.detail(why.clone());
            (json!({"skipped": true, "reason": why}), None)
        }
        Ok((message, expected, source)) => {
            ctx.emit(EventKind::StepStarted {
                step: "verify".into(),
            });
            let r = match engine.backend.send_test_message(&plan.bot, &message).await {
                Ok(r) => r,
                Err(e) => {
                    ctx.emit(EventKind::StepFailed {
                        step: "verify".into(),
                        reason: e.to_string(),
                    });
                    return Err(e.into());
                }
            };
            let passed = r.intent.name == expected && r.intent.confidence >= plan.min_confidence;
            let line = format!(
                "'{message}' → {} ({:.2}); expected {expected} ≥ {:.2}",
                r.intent.name, r.intent.confidence, plan.min_confidence
            );
            if passed {
                ctx.emit(EventKind::StepFinished {
                    step: "verify".into(),
                    detail: Some(format!("{line}: passed")),
                });
            } else {
                ctx.emit(EventKind::StepFailed {
                    step: "verify".into(),
                    reason: format!("{line}: FAILED"),
                });
            }
            (
                json!({
                    "message": message,
                    "source": source,
                    "detectedIntent": r.intent.name,
                    "confidence": r.intent.confidence,
                    "expectedIntent": expected,
                    "minConfidence": plan.min_confidence,
                    "verificationPassed": passed,
                }),
                Some(passed),
            )
        }
    };

    let mut metrics = json!({
        "verification": verification,
        "activeSessions": sessions.active,
        "sessionsAtRisk": sessions.at_risk,
    });
    let (outcome, summary, drain) = if passed == Some(false) {
        let v = &metrics["verification"];
        let still = job
            .drain
            .as_ref()
            .filter(|d| d.state == DrainState::Draining)
            .map(|d| format!("; the server goes on draining ({})", drain_line(d)))
            .unwrap_or_default();
        (
            Outcome::Failed,
            format!(
                "{} rolled back to {applied}{fallback_note} (was {was}) but verification failed: '{}' → {} at {:.2}, expected {} ≥ {:.2}{still}",
                plan.bot,
                v["message"].as_str().unwrap_or_default(),
                v["detectedIntent"].as_str().unwrap_or_default(),
                v["confidence"].as_f64().unwrap_or_default(),
                v["expectedIntent"].as_str().unwrap_or_default(),
                plan.min_confidence
            ),
            None,
        )
    } else {
        let end = follow_drain(ctx, plan, &job).await?;
        let verified = match passed {
            Some(_) => "verification passed",
            None => "verification skipped (no test conversation)",
        };
        let over = end.cut_off > u64::from(plan.max_active_sessions);
        let summary = format!(
            "{} rolled back to {applied}{fallback_note} (was {was}); {verified}; {}{}",
            plan.bot,
            end.line,
            if over {
                format!(", above the threshold of {}", plan.max_active_sessions)
            } else {
                String::new()
            }
        );
        let outcome = if over {
            Outcome::Failed
        } else {
            Outcome::Succeeded
        };
        (outcome, summary, Some(end))
    };
    if let Some(end) = &drain {
        metrics["drain"] = json!({"sessionsAtStart": end.at_start, "cutOffSessions": end.cut_off});
    }
    ctx.audit(KIND, "completed", |e| {
        e.bot = Some(plan.bot.clone());
        e.from_version = target.live.clone();
        e.to_version = Some(applied.clone());
        e.outcome = Some(outcome.as_str().into());
        e.detail = Some(summary.clone());
        e.metrics = Some(metrics.clone());
    })
    .await?;
    let d = details(
        ctx,
        json!({
            "bot": plan.bot,
            "version": applied,
            "previousVersion": target.live,
            "environment": target.env,
            "jobId": job.job_id,
            "fallbackUsed": fallback_used,
            "verification": metrics["verification"],
            "sessions": {"active": sessions.active, "atRisk": sessions.at_risk},
            "drain": metrics.get("drain").cloned(),
        }),
    );
    ctx.notify(KIND, "rollback.completed", d.clone()).await;
    Ok(ctx.finish(KIND, outcome, summary, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str, status: VersionStatus, verdict: Option<&str>) -> Version {
        Version {
            id: id.into(),
            label: id.into(),
            status,
            environment: Stage::Production,
            created_at: String::new(),
            nlu_model_id: String::new(),
            flow_references: vec![],
            live_in: vec![],
            last_canary_verdict: verdict.map(str::to_string),
        }
    }

    #[test]
    fn last_known_good_skips_drafts_and_rolled_back_versions() {
        let versions = vec![
            v("v5", VersionStatus::Draft, None),
            v("v4", VersionStatus::Published, None),
            v("v3", VersionStatus::Published, Some("rolled_back")),
            v("v2b", VersionStatus::Published, None),
            v("v2", VersionStatus::Archived, None),
            v("v1", VersionStatus::Published, Some("promoted")),
        ];
        assert_eq!(
            last_known_good(&versions, Some("v4"), Stage::Production).map(|v| v.id.as_str()),
            Some("v1")
        );
        assert_eq!(
            last_known_good(&versions, Some("v1"), Stage::Production),
            None
        );
        assert_eq!(eligible(&versions, Some("v4"), Stage::Production).len(), 3);
    }
}
