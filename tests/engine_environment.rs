//! The environment workflow against the simulator's env_prod_us_01: success with seed 003's
//! snapshot, validation and dependency refusals, and an automatic rollback after failed
//! health checks.

mod engine_common;

use std::time::Duration;

use engine_common::{Harness, Setup};
use relcon::engine::environment::{self, DependencyLock, EnvPlan, RollbackPolicy, Snapshot};
use relcon::engine::events::Outcome;
use serde_json::json;

const ENV: &str = "env_prod_us_01";

fn lock(name: &str, version: &str) -> DependencyLock {
    DependencyLock {
        package_name: name.into(),
        version: version.into(),
        pinned: true,
    }
}

/// Seed 003's snapshot.
fn snapshot() -> Snapshot {
    Snapshot {
        configuration_snapshot: json!({
            "botVersion": "2.4.1",
            "nlpEngine": "v3.2",
            "dialogFlow": "production_v8",
            "integrations": ["salesforce_crm", "zendesk_support"],
        }),
        dependency_locks: vec![
            lock("cognigy-nlp-core", "3.2.0"),
            lock("dialog-runtime", "2.1.4"),
        ],
        // Seed 003's policy, with an hour for the rollout: at 600x the default five
        // minutes are half a second of wall time.
        rollback_policy: RollbackPolicy {
            timeout_seconds: 3600,
            ..RollbackPolicy::default()
        },
        capacity_constraints: json!({"max_concurrent_sessions": 500, "memory_limit_mb": 4096}),
        isolation_rules: None,
        callback_url: None,
    }
}

fn plan(snapshot: Snapshot) -> EnvPlan {
    EnvPlan {
        environment: ENV.into(),
        snapshot,
        health_interval: Duration::from_secs(30),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_is_rolled_out_and_healthy() {
    let h = Harness::start(Setup::default()).await;
    let p = plan(snapshot());
    let done = h.run(move |ctx| environment::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    done.assert_finished_event();
    assert_eq!(
        done.steps_finished(),
        environment::STEPS
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(r.details["checks"][0]["status"], "healthy");

    let w = h.world().await;
    let jobs = w.environment_jobs(ENV);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["status"], "completed");
    assert_eq!(jobs[0]["id"], r.details["jobId"]);
    let config = h.sim.app.lock().world.envs[ENV].configuration.clone();
    assert_eq!(config, Some(snapshot().configuration_snapshot));
    let events = h.audit_events("environment");
    assert_eq!(events, vec!["started", "job_created", "completed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deprecated_engine_or_too_much_capacity_is_refused() {
    let h = Harness::start(Setup::default()).await;
    let mut deprecated = snapshot();
    deprecated.configuration_snapshot["nlpEngine"] = json!("v3.0");
    let done = h
        .run(move |ctx| environment::run(ctx, plan(deprecated)))
        .await;
    assert_eq!(done.report.outcome, Outcome::Refused);
    assert!(
        done.report
            .summary
            .contains("NLP engine v3.0 is deprecated in env_prod_us_01"),
        "{}",
        done.report.summary
    );
    assert!(done.step_failed("validate").is_some());

    let mut big = snapshot();
    big.capacity_constraints = json!({"max_concurrent_sessions": 5000, "memory_limit_mb": 4096});
    let done = h.run(move |ctx| environment::run(ctx, plan(big))).await;
    assert_eq!(done.report.outcome, Outcome::Refused);
    assert!(
        done.report
            .summary
            .contains("max_concurrent_sessions 5000 exceeds the environment's capacity of 2000"),
        "{}",
        done.report.summary
    );
    assert!(h.world().await.environment_jobs(ENV).is_empty());
    assert_eq!(h.audit_events("environment"), vec!["refused", "refused"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_conflict_is_refused() {
    let h = Harness::start(Setup::default()).await;
    let mut s = snapshot();
    s.dependency_locks[0] = lock("cognigy-nlp-core", "3.1.0");
    let done = h.run(move |ctx| environment::run(ctx, plan(s))).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.summary);
    done.assert_finished_event();
    assert!(
        r.summary
            .contains("cognigy-nlp-core: locked 3.1.0, environment runs 3.2.0"),
        "{}",
        r.summary
    );
    assert!(done.step_failed("synthetic trace").is_some());
    assert!(h.world().await.environment_jobs(ENV).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_health_checks_roll_the_environment_back() {
    let h = Harness::start(Setup::default()).await;
    h.sim
        .app
        .lock()
        .faults
        .unhealthy_environments
        .push(ENV.into());
    let p = plan(snapshot());
    let threshold = p.snapshot.rollback_policy.health_threshold;
    let done = h.run(move |ctx| environment::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    done.assert_finished_event();
    assert!(
        r.summary
            .contains(&format!("{threshold} failed health checks")),
        "{}",
        r.summary
    );
    let failed_checks = done
        .details()
        .into_iter()
        .filter(|d| d.starts_with("health check ") && d.contains("failed"))
        .count();
    assert_eq!(failed_checks, threshold as usize);
    assert!(done.steps_finished().contains(&"roll back".to_string()));

    let w = h.world().await;
    let jobs = w.environment_jobs(ENV);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["status"], "rolled_back");
    assert_eq!(h.sim.app.lock().world.envs[ENV].configuration, None);
    let events = h.audit_events("environment");
    assert_eq!(
        events,
        vec!["started", "job_created", "decision", "rolled_back"]
    );
}
