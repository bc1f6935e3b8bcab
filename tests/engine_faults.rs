//! Every workflow under the simulator's injected faults: 503s, a 429 storm, truncated
//! bodies, responses lost after the server acted, and access tokens that die mid-run.
//!
//! Whatever the outcome, a run must end with a report (no panic, no hang), leave an audit
//! log that verifies, and never perform its change twice: the idempotency keys of the
//! client's writes must hold when a response is lost and the write is sent again. Fault
//! draws come from the simulator's seeded generator, so each case is run for a few fixed
//! seeds and is reproducible.

mod engine_common;

use std::collections::BTreeMap;
use std::time::Duration;

use engine_common::{Finished, Harness, Setup, World};
use relcon::backend::{Auth, TokenStyle};
use relcon::domain::Stage;
use relcon::engine::canary;
use relcon::engine::deploy::{self, DeployPlan};
use relcon::engine::environment::{self, DependencyLock, EnvPlan, RollbackPolicy, Snapshot};
use relcon::engine::events::Outcome;
use relcon::engine::flows::{self, FlowsPlan};
use relcon::engine::rollback::{self, RollbackPlan};
use relcon::sim::faults::Faults;
use secrecy::SecretString;
use serde_json::json;

fn fault(spec: &str) -> Faults {
    let mut f = Faults::default();
    f.set(spec).unwrap();
    f
}

/// A run ended with a report whose last event agrees with it.
fn definite(label: &str, done: &Finished) -> Outcome {
    done.assert_finished_event();
    eprintln!(
        "{label}: {} — {}",
        done.report.outcome.as_str(),
        done.report.summary
    );
    done.report.outcome
}

// --- one run of each workflow, with its "done once" checks ----------------------------------

async fn deploy_once(h: &Harness, label: &str) -> Outcome {
    let p = DeployPlan {
        bot: "bot-customer-service-v2".into(),
        version: "v2.4.0".into(),
        target: None,
        regions: vec!["eu-west-1".into()],
        timeout: Duration::from_secs(3600),
    };
    let done = h.run(move |ctx| deploy::run(ctx, p)).await;
    let outcome = definite(label, &done);
    let w = h.world().await;
    let deps = w.deployments("bot-customer-service-v2");
    assert!(deps.len() <= 1, "{label}: deployed twice: {deps:?}");
    if matches!(outcome, Outcome::Succeeded | Outcome::RolledBack) {
        assert_eq!(deps.len(), 1, "{label}");
        assert_eq!(
            deps[0]["id"], done.report.details["deploymentId"],
            "{label}"
        );
    }
    assert!(w.sync_jobs() <= 1, "{label}: synced twice");
    if outcome == Outcome::Succeeded {
        assert_eq!(
            w.live("bot-customer-service-v2", "env-prod-green")
                .as_deref(),
            Some("v2.4.0"),
            "{label}"
        );
    }
    outcome
}

async fn canary_once(h: &Harness, label: &str) -> Outcome {
    let p = engine_common::canary_plan("bot_abc123", "2.1.0-canary", &[10.0, 50.0, 100.0]);
    let done = h.run(move |ctx| canary::run(ctx, p)).await;
    let outcome = definite(label, &done);
    let w = h.world().await;
    let canaries = w.canaries("bot_abc123");
    assert!(canaries.len() <= 1, "{label}: two canaries: {canaries:?}");
    if let Some(c) = canaries.first() {
        // Whatever happened, the canary did not outlive the run.
        assert_ne!(c["phase"], "Running", "{label}: canary left running");
        if outcome == Outcome::Succeeded {
            assert_eq!(c["phase"], "Promoted", "{label}");
        }
    }
    outcome
}

async fn rollback_once(h: &Harness, label: &str) -> Outcome {
    let p = RollbackPlan {
        bot: "bot_12345".into(),
        target: Some("v_67890".into()),
        environment: Stage::Production,
        max_active_sessions: 10,
        wait_drain: Duration::ZERO,
        fallback: Some("v_stable_fallback".into()),
        test_message: "where is my order".into(),
        expected_intent: "order_support".into(),
        min_confidence: 0.85,
        timeout: Duration::from_secs(3600),
    };
    let done = h.run(move |ctx| rollback::run(ctx, p)).await;
    let outcome = definite(label, &done);
    let w = h.world().await;
    let jobs = w.rollback_jobs("bot_12345");
    let to = |v: &str| jobs.iter().filter(|j| j["targetVersionId"] == v).count();
    assert!(
        to("v_67890") <= 1,
        "{label}: target rolled back twice: {jobs:?}"
    );
    assert!(
        to("v_stable_fallback") <= 1,
        "{label}: fallback twice: {jobs:?}"
    );
    if outcome == Outcome::Succeeded {
        let applied = done.report.details["version"].as_str().unwrap().to_string();
        assert_eq!(to(&applied), 1, "{label}");
        assert_eq!(w.live("bot_12345", "env_prod"), Some(applied), "{label}");
    }
    outcome
}

async fn flows_once(h: &Harness, label: &str) -> Outcome {
    let p = FlowsPlan {
        environment: "env_prod".into(),
        bot: None,
        manifest_path: h.dir.path().join("flows-manifest.json"),
    };
    let done = h.run(move |ctx| flows::run(ctx, p)).await;
    let outcome = definite(label, &done);
    let pushes = h.world().await.flow_pushes();
    for p in &pushes {
        let same = pushes
            .iter()
            .filter(|q| q["flowId"] == p["flowId"] && q["state"] == p["state"])
            .count();
        assert_eq!(same, 1, "{label}: {} pushed twice: {pushes:?}", p["flowId"]);
    }
    if outcome == Outcome::Succeeded {
        assert_eq!(pushes.len(), 6, "{label}");
    }
    outcome
}

fn snapshot() -> Snapshot {
    let lock = |n: &str, v: &str| DependencyLock {
        package_name: n.into(),
        version: v.into(),
        pinned: true,
    };
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

async fn environment_once(h: &Harness, label: &str) -> Outcome {
    let p = EnvPlan {
        environment: "env_prod_us_01".into(),
        snapshot: snapshot(),
        health_interval: Duration::from_secs(30),
    };
    let done = h.run(move |ctx| environment::run(ctx, p)).await;
    let outcome = definite(label, &done);
    let w: World = h.world().await;
    let jobs = w.environment_jobs("env_prod_us_01");
    assert!(jobs.len() <= 1, "{label}: rolled out twice: {jobs:?}");
    if matches!(outcome, Outcome::Succeeded | Outcome::RolledBack) {
        assert_eq!(jobs.len(), 1, "{label}");
    }
    outcome
}

// --- the fault matrix -----------------------------------------------------------------------

/// Fixed seeds, so the fault draws are reproducible. Under lost responses the requests
/// before a workflow's first write are the same on every run, so whether that write loses
/// its answer is fixed per seed: 1 loses the deploy's and a flow import's, 3 the canary's
/// and the environment rollout's, 18 the rollback job's (none of seeds 1–17 does).
const SEEDS: &[u64] = &[1, 3, 18];

/// The write that starts each workflow's change, as `/_sim/stats` names its route.
const DEPLOY_WRITE: &str = "POST /v1/bots/{bot}/deployments";
const CANARY_WRITE: &str = "POST /api/v1/bots/{bot}/deploy";
const ROLLBACK_WRITE: &str = "POST /api/v1/deployments";
const FLOWS_WRITE: &str = "POST /api/v2/flows/import";
const ENVIRONMENT_WRITE: &str = "POST /api/v2/deployments";

/// `GET /_sim/stats`: answers per route and status, as the client saw them.
async fn stats(h: &Harness) -> BTreeMap<String, BTreeMap<u16, u64>> {
    let v: serde_json::Value = h
        .http
        .get(format!("{}/_sim/stats", h.sim.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["routes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(route, by)| {
            let by = by
                .as_object()
                .unwrap()
                .iter()
                .map(|(s, n)| (s.parse().unwrap(), n.as_u64().unwrap()))
                .collect();
            (route.clone(), by)
        })
        .collect()
}

fn answered(stats: &BTreeMap<String, BTreeMap<u16, u64>>, route: Option<&str>, status: u16) -> u64 {
    stats
        .iter()
        .filter(|(r, _)| route.is_none_or(|x| x == r.as_str()))
        .filter_map(|(_, by)| by.get(&status))
        .sum()
}

/// The canary's holds are the only long waits: they run on a faster clock.
fn speed(workflow: &str) -> f64 {
    if workflow == "canary_once" {
        1500.0
    } else {
        engine_common::SPEED
    }
}

/// Run `$workflow` under `$spec` for every seed. `$status` is the answer the fault shows
/// (checked to have happened over the seeds, so the fault was in play; a truncated body
/// still answers 200, so there is none for it). Under lost responses the workflow's first
/// write must have lost its answer at least once over the seeds, so the "done once" checks
/// saw that write sent again and answered from the server's idempotency record.
macro_rules! under_faults {
    ($($name:ident: $workflow:ident, $write:expr, $spec:expr, $status:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let status: Option<u16> = $status;
            let mut lost_writes = 0;
            let mut injected = 0;
            for &seed in SEEDS {
                let h = Harness::start(Setup {
                    seed: Some(seed),
                    faults: fault($spec),
                    speed: speed(stringify!($workflow)),
                    ..Setup::default()
                })
                .await;
                let label = format!("{} {} seed {seed}", stringify!($workflow), $spec);
                $workflow(&h, &label).await;
                let st = stats(&h).await;
                injected += status.map_or(0, |code| answered(&st, None, code));
                lost_writes += answered(&st, Some($write), 502);
            }
            assert!(status.is_none() || injected > 0, "the fault never showed");
            if $spec.starts_with("lostResponseRate") {
                assert!(lost_writes > 0, "no {} lost its answer", $write);
            }
        }
    )*};
}

under_faults! {
    deploy_with_503s: deploy_once, DEPLOY_WRITE, "errorRate=0.2", Some(503);
    deploy_in_a_429_storm: deploy_once, DEPLOY_WRITE, "rateLimitStorm=0.3", Some(429);
    deploy_with_malformed_bodies: deploy_once, DEPLOY_WRITE, "malformedRate=0.2", None;
    deploy_with_lost_responses: deploy_once, DEPLOY_WRITE, "lostResponseRate=0.2", Some(502);
    canary_with_503s: canary_once, CANARY_WRITE, "errorRate=0.2", Some(503);
    canary_in_a_429_storm: canary_once, CANARY_WRITE, "rateLimitStorm=0.3", Some(429);
    canary_with_malformed_bodies: canary_once, CANARY_WRITE, "malformedRate=0.2", None;
    canary_with_lost_responses: canary_once, CANARY_WRITE, "lostResponseRate=0.2", Some(502);
    rollback_with_503s: rollback_once, ROLLBACK_WRITE, "errorRate=0.2", Some(503);
    rollback_in_a_429_storm: rollback_once, ROLLBACK_WRITE, "rateLimitStorm=0.3", Some(429);
    rollback_with_malformed_bodies: rollback_once, ROLLBACK_WRITE, "malformedRate=0.2", None;
    rollback_with_lost_responses: rollback_once, ROLLBACK_WRITE, "lostResponseRate=0.2", Some(502);
    flows_with_503s: flows_once, FLOWS_WRITE, "errorRate=0.2", Some(503);
    flows_in_a_429_storm: flows_once, FLOWS_WRITE, "rateLimitStorm=0.3", Some(429);
    flows_with_malformed_bodies: flows_once, FLOWS_WRITE, "malformedRate=0.2", None;
    flows_with_lost_responses: flows_once, FLOWS_WRITE, "lostResponseRate=0.2", Some(502);
    environment_with_503s: environment_once, ENVIRONMENT_WRITE, "errorRate=0.2", Some(503);
    environment_in_a_429_storm: environment_once, ENVIRONMENT_WRITE, "rateLimitStorm=0.3", Some(429);
    environment_with_malformed_bodies: environment_once, ENVIRONMENT_WRITE, "malformedRate=0.2", None;
    environment_with_lost_responses: environment_once, ENVIRONMENT_WRITE, "lostResponseRate=0.2", Some(502);
}

// --- tokens that die mid-run ----------------------------------------------------------------

/// Client-credentials auth against a simulator whose tokens die one (real) second after
/// they are issued, though `expires_in` promises an hour: the client only learns from a
/// 401. `speed` and `latency_ms` are chosen so the run lasts well over a second.
async fn with_expiring_tokens(speed: f64, latency_ms: u64) -> Harness {
    let mut faults = fault("tokenTtlSeconds=1");
    faults.latency_ms = latency_ms;
    Harness::start(Setup {
        speed,
        faults,
        auth: Some(Auth::ClientCredentials {
            client_id: "demo-client".into(),
            client_secret: SecretString::from("demo-secret"),
            style: TokenStyle::Form,
            token_url: "/oauth/token".into(),
            scopes: vec![],
        }),
        ..Setup::default()
    })
    .await
}

async fn assert_refreshed(h: &Harness, label: &str, outcome: Outcome) {
    let st = stats(h).await;
    let issued = answered(&st, Some("POST /oauth/token"), 200);
    let refused = answered(&st, None, 401);
    assert!(
        issued >= 2,
        "{label}: the token never expired ({issued} issued)"
    );
    assert!(refused >= 1, "{label}: no request was refused");
    assert_eq!(
        outcome,
        Outcome::Succeeded,
        "{label}: a refreshed token is invisible"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_survives_expiring_tokens() {
    let h = with_expiring_tokens(6.0, 0).await;
    let o = deploy_once(&h, "deploy expiring tokens").await;
    assert_refreshed(&h, "deploy", o).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_survives_expiring_tokens() {
    let h = with_expiring_tokens(90.0, 0).await;
    let o = canary_once(&h, "canary expiring tokens").await;
    assert_refreshed(&h, "canary", o).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_survives_expiring_tokens() {
    let h = with_expiring_tokens(5.0, 0).await;
    let o = rollback_once(&h, "rollback expiring tokens").await;
    assert_refreshed(&h, "rollback", o).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_survive_expiring_tokens() {
    // The flows workflow never waits: slow answers make it last.
    let h = with_expiring_tokens(engine_common::SPEED, 120).await;
    let o = flows_once(&h, "flows expiring tokens").await;
    assert_refreshed(&h, "flows", o).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_survives_expiring_tokens() {
    let h = with_expiring_tokens(10.0, 0).await;
    let o = environment_once(&h, "environment expiring tokens").await;
    assert_refreshed(&h, "environment", o).await;
}

// --- a flaky network does not end a healthy release ------------------------------------------

/// With almost a third of answers lost after the server acted, a healthy canary is never
/// rolled back: a read that fails is no verdict, and writes are replayed under their keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_is_never_rolled_back_for_lost_responses() {
    let mut outcomes = Vec::new();
    for &seed in SEEDS.iter().chain(&[5, 7]) {
        let h = Harness::start(Setup {
            seed: Some(seed),
            faults: fault("lostResponseRate=0.3"),
            speed: speed("canary_once"),
            ..Setup::default()
        })
        .await;
        let label = format!("canary lostResponseRate=0.3 seed {seed}");
        let outcome = canary_once(&h, &label).await;
        assert_ne!(outcome, Outcome::RolledBack, "{label}");
        let st = stats(&h).await;
        assert!(
            answered(&st, None, 502) > 0,
            "{label}: the fault never showed"
        );
        outcomes.push(outcome);
    }
    // Most get all the way: a pause for a person is allowed, a failure to finish is not usual.
    let promoted = outcomes
        .iter()
        .filter(|o| **o == Outcome::Succeeded)
        .count();
    assert!(promoted * 2 > outcomes.len(), "{outcomes:?}");
}
