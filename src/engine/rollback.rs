//! Rollback to a chosen version (seed 004): validate the target (PUBLISHED, same
//! environment), check active sessions (optionally waiting for them to drain), trigger the
//! rollback job, poll, fall back to a fallback version if it fails, verify with a synthetic
//! test message, webhook and audit.

use std::time::Duration;

use serde_json::json;

use crate::backend::RollbackRequest;
use crate::domain::{BotSummary, JobState, RollbackJob, Stage, Version, VersionStatus};
use crate::engine::events::{Outcome, WorkflowKind};
use crate::engine::{Ctx, Engine, Report, Stop, Woken, details, poll_until};

const KIND: WorkflowKind = WorkflowKind::Rollback;
pub const STEPS: &[&str] = &[
    "validate target",
    "check sessions",
    "trigger rollback",
    "wait for job",
    "verify",
];

#[derive(Debug, Clone)]
pub struct RollbackPlan {
    pub bot: String,
    /// Default: the last known-good version (see [`last_known_good`]).
    pub target: Option<String>,
    pub environment: Stage,
    pub max_active_sessions: u32,
    /// How long to wait for sessions to drain below the threshold (zero: do not wait).
    pub wait_drain: Duration,
    pub fallback: Option<String>,
    pub test_message: String,
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
}

async fn validate(engine: &Engine, plan: &RollbackPlan) -> Result<Target, Stop> {
    let b = engine.backend.as_ref();
    let bot = b.get_bot(&plan.bot).await?;
    if let Some(op) = &bot.active_operation {
        return Err(Stop::Refused(format!(
            "{} already has a {} in progress ({}); wait for it or abort it first",
            bot.id,
            op.kind.as_str(),
            op.id
        )));
    }
    let versions = b.list_versions(&plan.bot).await?;
    let live = live_version(&bot, plan.environment);
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
    Ok(Target { version, live })
}

pub async fn run(mut ctx: Ctx, plan: RollbackPlan) -> Report {
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

async fn check_sessions(ctx: &mut Ctx, plan: &RollbackPlan) -> Result<usize, Stop> {
    let backend = ctx.engine.backend.clone();
    let clock = ctx.clock();
    let started = tokio::time::Instant::now();
    loop {
        let n = backend.active_sessions(&plan.bot).await?.len();
        if n <= plan.max_active_sessions as usize {
            return Ok(n);
        }
        let waited = clock.to_server(started.elapsed());
        if waited >= plan.wait_drain {
            let hint = if plan.wait_drain.is_zero() {
                " (wait for them with --wait-drain, or raise --max-active-sessions)".to_string()
            } else {
                format!(
                    " after waiting {}s for them to drain",
                    plan.wait_drain.as_secs()
                )
            };
            return Err(Stop::Refused(format!(
                "{n} active sessions exceed the threshold of {}{hint}",
                plan.max_active_sessions
            )));
        }
        ctx.detail(format!(
            "{n} active sessions, threshold {}; waiting for them to drain",
            plan.max_active_sessions
        ));
        let left = plan.wait_drain.saturating_sub(waited);
        if let Woken::Command(c) = ctx
            .wait("sessions to drain", left.min(Duration::from_secs(15)))
            .await?
        {
            ctx.detail(format!("{c:?} does not apply while draining; ignored"));
        }
    }
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
    let job = ctx
        .step("trigger rollback", async {
            let id = backend.create_rollback_job(&request).await?;
            Ok((id.clone(), Some(format!("job {id} for {version}"))))
        })
        .await?;
    ctx.emit(crate::engine::events::EventKind::Linked {
        server_id: job.clone(),
    });
    ctx.audit(KIND, "job_created", |e| {
        e.bot = Some(plan.bot.clone());
        e.to_version = Some(version.to_string());
        e.detail = Some(format!("rollback job {job}"));
    })
    .await?;
    ctx.emit(crate::engine::events::EventKind::StepStarted {
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
        |s: &RollbackJob| s.state.is_terminal(),
        |c, s| {
            if last != Some(s.state) {
                last = Some(s.state);
                c.detail(format!("{}: {}", s.job_id, s.state.as_str()));
            }
        },
    )
    .await;
    match &result {
        Ok(s) if s.state == JobState::Completed => {
            ctx.emit(crate::engine::events::EventKind::StepFinished {
                step: "wait for job".into(),
                detail: Some(format!("{} COMPLETED", s.job_id)),
            })
        }
        Ok(s) => ctx.emit(crate::engine::events::EventKind::StepFailed {
            step: "wait for job".into(),
            reason: format!(
                "{} FAILED: {}",
                s.job_id,
                s.error_message.clone().unwrap_or_default()
            ),
        }),
        Err(e) => ctx.emit(crate::engine::events::EventKind::StepFailed {
            step: "wait for job".into(),
            reason: e.to_string(),
        }),
    }
    result
}

async fn run_inner(ctx: &mut Ctx, plan: &RollbackPlan) -> Result<Report, Stop> {
    let engine = ctx.engine.clone();
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
    let version = target.version.id.clone();
    ctx.emit(crate::engine::events::EventKind::StepStarted {
        step: "check sessions".into(),
    });
    let sessions = match check_sessions(ctx, plan).await {
        Ok(n) => {
            ctx.emit(crate::engine::events::EventKind::StepFinished {
                step: "check sessions".into(),
                detail: Some(format!(
                    "{n} active (threshold {})",
                    plan.max_active_sessions
                )),
            });
            n
        }
        Err(e) => {
            ctx.emit(crate::engine::events::EventKind::StepFailed {
                step: "check sessions".into(),
                reason: e.to_string(),
            });
            return Err(e);
        }
    };
    ctx.audit(KIND, "decision", |e| {
        e.bot = Some(plan.bot.clone());
        e.from_version = target.live.clone();
        e.to_version = Some(version.clone());
        e.detail = Some(format!("roll back {} to {version}", plan.bot));
        e.metrics = Some(
            json!({"activeSessions": sessions, "maxActiveSessions": plan.max_active_sessions}),
        );
    })
    .await?;
    let mut applied = version.clone();
    let mut fallback_used = false;
    let job = match run_job(ctx, plan, &version).await {
        Ok(j) if j.state == JobState::Completed => j,
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
            if j.state != JobState::Completed {
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
    let backend = engine.backend.clone();
    let message = plan.test_message.clone();
    let verification = ctx
        .step("verify", async {
            let r = backend.send_test_message(&plan.bot, &message).await?;
            let passed =
                r.intent.name == plan.expected_intent && r.intent.confidence >= plan.min_confidence;
            let d = format!(
                "'{}' → {} ({:.2}); expected {} ≥ {:.2}: {}",
                message,
                r.intent.name,
                r.intent.confidence,
                plan.expected_intent,
                plan.min_confidence,
                if passed { "passed" } else { "FAILED" }
            );
            Ok(((r, passed), Some(d)))
        })
        .await?;
    let (result, passed) = verification;
    let metrics = json!({"detectedIntent": result.intent.name, "confidence": result.intent.confidence, "expectedIntent": plan.expected_intent, "minConfidence": plan.min_confidence, "verificationPassed": passed, "activeSessions": sessions});
    let (outcome, summary) = if passed {
        (
            Outcome::Succeeded,
            format!(
                "{} rolled back to {applied}{} (was {}); verification passed",
                plan.bot,
                if fallback_used { " (fallback)" } else { "" },
                target.live.as_deref().unwrap_or("nothing")
            ),
        )
    } else {
        (
            Outcome::Failed,
            format!(
                "{} rolled back to {applied} but verification failed: {} at {:.2}, expected {} ≥ {:.2}",
                plan.bot,
                result.intent.name,
                result.intent.confidence,
                plan.expected_intent,
                plan.min_confidence
            ),
        )
    };
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
        json!({"bot": plan.bot, "version": applied, "previousVersion": target.live, "jobId": job.job_id, "fallbackUsed": fallback_used, "verification": metrics}),
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
