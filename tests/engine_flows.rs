//! The flows workflow against the simulator: a full deploy with its manifest, the two
//! refusals, and a push that fails half-way and is rolled back.

mod engine_common;

use std::collections::BTreeMap;

use engine_common::{Harness, Setup};
use relcon::engine::events::Outcome;
use relcon::engine::flows::{self, FlowsPlan};
use serde_json::Value;

fn plan(h: &Harness, environment: &str, bot: Option<&str>) -> FlowsPlan {
    FlowsPlan {
        environment: environment.into(),
        bot: bot.map(str::to_string),
        manifest_path: h.dir.path().join("manifests/flows.json"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_is_deployed_with_a_manifest_of_its_hashes() {
    let h = Harness::start(Setup::default()).await;
    // What the workflow will export, read beforehand through the same client.
    let exported = h.engine.backend.list_flows(None).await.unwrap();
    let hashes: BTreeMap<String, String> = exported
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                flows::content_hash(f),
            )
        })
        .collect();
    assert_eq!(hashes.len(), 6);

    let p = plan(&h, "env_prod", None);
    let manifest_path = p.manifest_path.clone();
    let done = h.run(move |ctx| flows::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    done.assert_finished_event();

    // The manifest: every flow, deployed, with the hash of its exported definition, in an
    // order where each flow comes after the flows it references.
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["targetEnvironment"], "env_prod");
    assert_eq!(manifest["operationId"], r.details["operationId"]);
    let entries = manifest["flows"].as_array().unwrap();
    assert_eq!(entries.len(), hashes.len());
    for e in entries {
        let id = e["id"].as_str().unwrap();
        assert_eq!(e["contentHash"].as_str(), Some(hashes[id].as_str()), "{id}");
        assert_eq!(e["status"], "deployed", "{id}");
    }
    let order: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let pos = |id: &str| order.iter().position(|x| *x == id).unwrap();
    assert!(pos("flow_orderStatus") < pos("flow_greeting"), "{order:?}");
    assert!(pos("flow_greeting") < pos("flow_handover"), "{order:?}");

    // The world: each flow pushed once, and each runs its current version in env_prod.
    let pushes = h.world().await.flow_pushes();
    assert_eq!(pushes.len(), hashes.len(), "{pushes:?}");
    for f in &exported {
        let id = f["id"].as_str().unwrap();
        let status = h.engine.backend.flow_status(id, "env_prod").await.unwrap();
        assert_eq!(status.status, "deployed", "{id}");
        assert_eq!(status.version.as_deref(), f["version"].as_str(), "{id}");
    }
    let events = h.audit_events("flows");
    assert_eq!(events, vec!["started", "completed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_invalid_flow_is_refused_before_anything_is_pushed() {
    let h = Harness::start(Setup::scenario("engine_lab.toml")).await;
    let p = plan(&h, "env_flows", Some("bot-flows-schema"));
    let manifest_path = p.manifest_path.clone();
    let done = h.run(move |ctx| flows::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.summary);
    done.assert_finished_event();
    assert!(r.summary.contains("schema violation"), "{}", r.summary);
    assert!(
        r.summary.contains("flow_teleport at /nodes/4/type"),
        "{}",
        r.summary
    );
    assert!(done.step_failed("validate").is_some());
    assert!(h.world().await.flow_pushes().is_empty());
    assert!(!manifest_path.exists(), "no manifest for a refused deploy");
    assert_eq!(h.audit_events("flows"), vec!["refused"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_dependency_is_refused() {
    let h = Harness::start(Setup::scenario("engine_lab.toml")).await;
    let p = plan(&h, "env_flows", Some("bot-flows-missing"));
    let done = h.run(move |ctx| flows::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.summary);
    assert!(
        r.summary.contains("flow_needs_ghost → flow flow_ghost"),
        "{}",
        r.summary
    );
    assert!(
        r.summary
            .contains("intent intent_ghost does not exist in env_flows"),
        "{}",
        r.summary
    );
    assert!(done.step_failed("dependencies").is_some());
    assert!(h.world().await.flow_pushes().is_empty());
}

/// `flow_base` and `flow_fresh` are pushed first; `flow_overflow` (which depends on
/// `flow_base`) has a version the client's schema accepts and the server refuses, so its
/// import fails after the other two went out. `flow_base` must be put back to the version
/// it replaced; `flow_fresh` had none, stays, and the report must say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_that_fails_half_way_rolls_back_the_flows_already_pushed() {
    let h = Harness::start(Setup::scenario("engine_lab.toml")).await;
    let p = plan(&h, "env_flows", Some("bot-flows-pushfail"));
    let manifest_path = p.manifest_path.clone();
    let done = h.run(move |ctx| flows::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    done.assert_finished_event();
    assert!(r.summary.contains("pushing flow_overflow"), "{}", r.summary);
    assert!(
        r.summary.contains("must be semantic MAJOR.MINOR.PATCH"),
        "{}",
        r.summary
    );
    assert!(
        done.details()
            .iter()
            .any(|d| d.contains("flow_base 1.1.0 deployed (was 1.0.0)")),
        "{:?}",
        done.details()
    );
    assert!(
        r.summary
            .contains("left deployed, new in env_flows with no earlier version: flow_fresh"),
        "{}",
        r.summary
    );
    assert!(done.steps_finished().contains(&"roll back".to_string()));

    // The world: flow_base went out and came back, flow_fresh went out, flow_overflow
    // never landed.
    let pushes = h.world().await.flow_pushes();
    let seen: Vec<(String, String, String)> = pushes
        .iter()
        .map(|p| {
            (
                p["flowId"].as_str().unwrap().into(),
                p["version"].as_str().unwrap().into(),
                p["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("flow_base".into(), "1.1.0".into(), "deployed".into()),
            ("flow_fresh".into(), "1.0.0".into(), "deployed".into()),
            ("flow_base".into(), "1.0.0".into(), "rolled_back".into()),
        ]
    );
    let base = h
        .engine
        .backend
        .flow_status("flow_base", "env_flows")
        .await
        .unwrap();
    assert_eq!(base.version.as_deref(), Some("1.0.0"));
    let overflow = h
        .engine
        .backend
        .flow_status("flow_overflow", "env_flows")
        .await
        .unwrap();
    assert_eq!(overflow.status, "not_deployed");
    let fresh = h
        .engine
        .backend
        .flow_status("flow_fresh", "env_flows")
        .await
        .unwrap();
    assert_eq!(
        fresh.version.as_deref(),
        Some("1.0.0"),
        "it stays, as reported"
    );

    // The manifest was written before the push and records how far it got.
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let status: Vec<(&str, &str)> = manifest["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap(), f["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        status,
        vec![
            ("flow_base", "deployed"),
            ("flow_fresh", "deployed"),
            ("flow_overflow", "pending")
        ]
    );
    let rolled_back = h
        .audit_records()
        .into_iter()
        .find(|r| r.event == "rolled_back")
        .unwrap();
    assert!(rolled_back.detail.unwrap().contains("flow_fresh"));
    let events = h.audit_events("flows");
    assert_eq!(events, vec!["started", "rolled_back"]);
}
