//! Environment deploy (seed 003): a configuration snapshot, dependency locks and a rollback
//! policy from a file; capacity/isolation validation; a synthetic trace with conflict
//! detection; the rollout job; health checks with automatic rollback after N failures;
//! audit and CI webhook.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::{EnvJob, EnvJobState, Health};
use crate::engine::events::{Outcome, WorkflowKind};
use crate::engine::{Ctx, Report, Stop, Woken, details, poll_until};

const KIND: WorkflowKind = WorkflowKind::Environment;
pub const STEPS: &[&str] = &["validate", "synthetic trace", "rollout", "health checks"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependencyLock {
    pub package_name: String,
    pub version: String,
    #[serde(default = "yes")]
    pub pinned: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RollbackPolicy {
    pub auto_trigger: bool,
    /// Failed health checks before an automatic rollback.
    pub health_threshold: u32,
    /// How long the rollout may take (server seconds).
    pub timeout_seconds: u64,
    pub revert_snapshot_id: Option<String>,
}

impl Default for RollbackPolicy {
    fn default() -> Self {
        RollbackPolicy {
            auto_trigger: true,
            health_threshold: 3,
            timeout_seconds: 300,
            revert_snapshot_id: None,
        }
    }
}

/// The snapshot file `relcon env deploy ENV --snapshot FILE` reads (TOML or JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub configuration_snapshot: Value,
    #[serde(default)]
    pub dependency_locks: Vec<DependencyLock>,
    #[serde(default)]
    pub rollback_policy: RollbackPolicy,
    #[serde(default = "default_capacity")]
    pub capacity_constraints: Value,
    #[serde(default)]
    pub isolation_rules: Option<Value>,
    /// Where the server posts the job's completion (seed 003's webhookCallbackUrl).
    #[serde(default)]
    pub callback_url: Option<String>,
}

fn default_capacity() -> Value {
    json!({"max_concurrent_sessions": 500, "memory_limit_mb": 4096})
}

impl Snapshot {
    /// Read a snapshot file; errors name the file and, for TOML, the line.
    pub fn load(path: &Path) -> Result<Snapshot, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read snapshot {}: {e}", path.display()))?;
        let is_json =
            path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
        if is_json {
            serde_json::from_str(&text)
                .map_err(|e| format!("snapshot {}, line {}: {e}", path.display(), e.line()))
        } else {
            toml::from_str(&text).map_err(|e| {
                let line = e
                    .span()
                    .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                    .unwrap_or(0);
                format!("snapshot {}, line {line}: {}", path.display(), e.message())
            })
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvPlan {
    pub environment: String,
    pub snapshot: Snapshot,
    /// Time between health checks (server time).
    pub health_interval: Duration,
}

pub async fn run(mut ctx: Ctx, plan: EnvPlan) -> Report {
    ctx.started(
        KIND,
        format!("environment deploy {}", plan.environment),
        None,
        STEPS,
    );
    let mut job: Option<String> = None;
    match run_inner(&mut ctx, &plan, &mut job).await {
        Ok(r) => r,
        Err(stop) => match job {
            Some(id) if !matches!(stop, Stop::Audit(_)) => {
                roll_back(&mut ctx, &plan, &id, stop.to_string()).await
            }
            _ => {
                let d = details(&ctx, json!({"environment": plan.environment}));
                ctx.finish_stopped(KIND, stop, d).await
            }
        },
    }
}

async fn run_inner(
    ctx: &mut Ctx,
    plan: &EnvPlan,
    job_slot: &mut Option<String>,
) -> Result<Report, Stop> {
    let backend = ctx.engine.backend.clone();
    let s = &plan.snapshot;
    let env = plan.environment.clone();
    ctx.audit_resumed(KIND, None).await?;
    let validation_body = json!({
        "environmentId": env,
        "configurationSnapshot": s.configuration_snapshot,
        "capacityConstraints": s.capacity_constraints,
        "isolationRules": s.isolation_rules.clone().unwrap_or_else(|| json!({"tenantBoundary": "strict", "resourceQuotaCheck": true})),
    });
    let job = match ctx.journaled_id("rollout") {
        // Re-attached: validated and created before the interruption; polled from here.
        Some(job) => {
            for step in ["validate", "synthetic trace"] {
                ctx.emit(crate::engine::events::EventKind::StepFinished {
                    step: step.into(),
                    detail: Some("done before the interruption".into()),
                });
            }
            ctx.emit(crate::engine::events::EventKind::StepStarted {
                step: "rollout".into(),
            });
            job
        }
        None => {
            let validation = ctx
                .step("validate", async {
                    let v = backend.validate_environment(&env, &validation_body).await?;
                    if !v.valid {
                        return Err(Stop::Refused(format!(
                            "{env} refused the snapshot: {}",
                            v.validation_errors.join("; ")
                        )));
                    }
                    let d = format!(
                        "valid; capacity {}{}",
                        v.capacity_utilization
                            .map(|c| format!("{:.0}%", c * 100.0))
                            .unwrap_or_else(|| "n/a".into()),
                        if v.warnings.is_empty() {
                            String::new()
                        } else {
                            format!("; warnings: {}", v.warnings.join("; "))
                        }
                    );
                    Ok((v, Some(d)))
                })
                .await?;
            let trace_body = json!({
                "environmentId": env,
                "configurationSnapshot": s.configuration_snapshot,
                "traceOptions": {"simulationDepth": 5, "includeDependencyGraph": true, "detectVersionConflicts": true},
                "dependencyLocks": s.dependency_locks,
            });
            let trace = ctx
                .step("synthetic trace", async {
                    let t = backend.synthetic_trace(&trace_body).await?;
                    if !t.dependency_conflicts.is_empty() {
                        return Err(Stop::Refused(format!(
                            "dependency conflicts: {}",
                            t.dependency_conflicts.join("; ")
                        )));
                    }
                    let d = format!(
                        "{} {} ({} steps)",
                        t.trace_id,
                        t.status,
                        t.execution_path.len()
                    );
                    Ok((t, Some(d)))
                })
                .await?;
            ctx.audit(KIND, "started", |e| {
            e.environment = Some(env.clone());
            e.detail = Some("environment deploy validated".into());
            e.metrics = Some(json!({"capacityUtilization": validation.capacity_utilization, "warnings": validation.warnings, "traceId": trace.trace_id, "locks": s.dependency_locks}));
        })
        .await?;
            let deploy_body = json!({
                "environment_id": env,
                "configuration_snapshot": s.configuration_snapshot,
                "dependency_locks": s.dependency_locks,
                "rollback_policy": s.rollback_policy,
                "capacity_constraints": s.capacity_constraints,
                "webhookCallbackUrl": s.callback_url,
            });
            ctx.emit(crate::engine::events::EventKind::StepStarted {
                step: "rollout".into(),
            });
            // Journaled first: a relcon killed from here on re-attaches to this one rollout.
            ctx.journal_intent(KIND, None, json!(plan), json!({"environment": env}))?;
            match ctx
                .journaled_create(
                    "rollout",
                    backend.create_env_deployment(&deploy_body),
                    |j| j.clone(),
                )
                .await
            {
                Ok(j) => j,
                Err(e) => {
                    ctx.emit(crate::engine::events::EventKind::StepFailed {
                        step: "rollout".into(),
                        reason: e.to_string(),
                    });
                    return Err(e);
                }
            }
        }
    };
    *job_slot = Some(job.clone());
    ctx.emit(crate::engine::events::EventKind::Linked {
        server_id: job.clone(),
    });
    ctx.audit(KIND, "job_created", |e| {
        e.environment = Some(env.clone());
        e.detail = Some(format!("rollout job {job}"));
    })
    .await?;
    let b = backend.clone();
    let j2 = job.clone();
    let mut last = None;
    let status = poll_until(
        ctx,
        "rollout job",
        Duration::from_secs(plan.snapshot.rollback_policy.timeout_seconds.max(10)),
        move || {
            let b = b.clone();
            let id = j2.clone();
            async move { b.env_job(&id).await }
        },
        |j: &EnvJob| j.status.is_terminal(),
        |c, j| {
            if last != Some(j.status) {
                last = Some(j.status);
                c.detail(format!("{}: {}", j.job_id, j.status.as_str()));
            }
        },
    )
    .await
    .inspect_err(|e| {
        ctx.emit(crate::engine::events::EventKind::StepFailed {
            step: "rollout".into(),
            reason: e.to_string(),
        })
    })?;
    if status.status != EnvJobState::Completed {
        let reason = format!(
            "rollout {job} ended {}: {}",
            status.status.as_str(),
            status.error_message.clone().unwrap_or_default()
        );
        ctx.emit(crate::engine::events::EventKind::StepFailed {
            step: "rollout".into(),
            reason: reason.clone(),
        });
        return Err(Stop::Failed(reason));
    }
    ctx.emit(crate::engine::events::EventKind::StepFinished {
        step: "rollout".into(),
        detail: Some(format!("{job} completed")),
    });
    // Health checks: healthy (and error rate under 5%) once ends it; N failures roll back.
    ctx.emit(crate::engine::events::EventKind::StepStarted {
        step: "health checks".into(),
    });
    let threshold = plan.snapshot.rollback_policy.health_threshold.max(1);
    let mut failures = 0u32;
    let mut checks = Vec::new();
    loop {
        let h = backend.env_health(&env).await?;
        let ok = h.status == Health::Healthy && h.error_rate < 0.05;
        checks.push(json!({"status": h.status.as_str(), "errorRate": h.error_rate, "checkedAt": h.checked_at}));
        if ok {
            ctx.emit(crate::engine::events::EventKind::StepFinished {
                step: "health checks".into(),
                detail: Some(format!("healthy, error rate {:.1}%", h.error_rate * 100.0)),
            });
            break;
        }
        failures += 1;
        ctx.detail(format!(
            "health check {failures}/{threshold} failed: {} (error rate {:.1}%)",
            h.status.as_str(),
            h.error_rate * 100.0
        ));
        if failures >= threshold {
            let reason = format!(
                "{failures} failed health checks: {} at {:.1}% errors",
                h.status.as_str(),
                h.error_rate * 100.0
            );
            ctx.emit(crate::engine::events::EventKind::StepFailed {
                step: "health checks".into(),
                reason: reason.clone(),
            });
            ctx.audit(KIND, "decision", |e| {
                e.environment = Some(env.clone());
                e.detail = Some(format!("roll back: {reason}"));
                e.metrics = Some(json!({"checks": checks, "threshold": threshold}));
            })
            .await?;
            if plan.snapshot.rollback_policy.auto_trigger {
                return Err(Stop::Failed(reason));
            }
            let summary = format!(
                "{env} unhealthy after rollout {job} ({reason}); automatic rollback is off"
            );
            let d = details(
                ctx,
                json!({"environment": env, "jobId": job, "checks": checks}),
            );
            return Ok(ctx.finish(KIND, Outcome::Failed, summary, d));
        }
        if let Woken::Command(c) = ctx.wait("next health check", plan.health_interval).await? {
            ctx.detail(format!(
                "{c:?} does not apply during health checks; ignored"
            ));
        }
    }
    let summary = format!("{env} running the new snapshot (job {job}), healthy");
    ctx.audit(KIND, "completed", |e| {
        e.environment = Some(env.clone());
        e.outcome = Some(Outcome::Succeeded.as_str().into());
        e.detail = Some(summary.clone());
        e.metrics = Some(json!({"checks": checks}));
    })
    .await?;
    let d = details(
        ctx,
        json!({"environment": env, "jobId": job, "checks": checks}),
    );
    ctx.notify(KIND, "environment.deployed", d.clone()).await;
    Ok(ctx.finish(KIND, Outcome::Succeeded, summary, d))
}

async fn roll_back(ctx: &mut Ctx, plan: &EnvPlan, job: &str, reason: String) -> Report {
    let backend = ctx.engine.backend.clone();
    let r = ctx
        .step("roll back", async {
            backend.rollback_env_job(job, &reason).await?;
            Ok((
                (),
                Some(format!(
                    "{job} rolled back: previous configuration restored"
                )),
            ))
        })
        .await;
    let (outcome, summary) = match r {
        Ok(()) => (
            Outcome::RolledBack,
            format!(
                "environment deploy {} rolled back: {reason}",
                plan.environment
            ),
        ),
        Err(e) => (
            Outcome::Failed,
            format!("{reason}; and the rollback of {job} failed: {e}"),
        ),
    };
    let d = details(
        ctx,
        json!({"environment": plan.environment, "jobId": job, "reason": reason}),
    );
    ctx.conclude_restore(KIND, "environment.rolled_back", outcome, summary, d, |e| {
        e.environment = Some(plan.environment.clone());
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_files_parse_and_name_their_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("snap.toml");
        std::fs::write(
            &p,
            "[configuration_snapshot]\nbotVersion = \"2.4.1\"\n\n[[dependency_locks]]\npackage_name = \"cognigy-nlp-core\"\nversion = \"3.2.0\"\n",
        )
        .unwrap();
        let s = Snapshot::load(&p).unwrap();
        assert_eq!(s.dependency_locks.len(), 1);
        assert_eq!(s.rollback_policy.health_threshold, 3);
        std::fs::write(
            &p,
            "[configuration_snapshot]\nx = 1\n[rollback_policy]\nhealth_treshold = 2\n",
        )
        .unwrap();
        let e = Snapshot::load(&p).unwrap_err();
        assert!(e.contains("line 4") && e.contains("health_treshold"), "{e}");
    }
}
