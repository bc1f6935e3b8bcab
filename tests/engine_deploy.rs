//! The blue-green deploy workflow against the simulator: success, and each way it stops.

mod engine_common;

use std::time::Duration;

use engine_common::{HOOK_PATH, Harness, Hook, Setup, WEBHOOK_SECRET};
use relcon::engine::deploy::{self, DeployPlan};
use relcon::engine::events::Outcome;
use relcon::webhook::{self, SignedHeaders};

fn plan(bot: &str, version: &str) -> DeployPlan {
    DeployPlan {
        bot: bot.into(),
        version: version.into(),
        target: None,
        regions: vec![],
        timeout: Duration::from_secs(3600),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_switches_traffic_to_the_idle_colour() {
    let h = Harness::start(Setup {
        hook: Hook::Sim,
        ..Setup::default()
    })
    .await;
    let p = DeployPlan {
        regions: vec!["eu-west-1".into()],
        ..plan("bot-customer-service-v2", "v2.4.0")
    };
    let done = h.run(move |ctx| deploy::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    done.assert_finished_event();
    assert_eq!(r.details["environment"], "env-prod-green");
    assert_eq!(r.details["previousVersion"], "v2.3.0");
    assert_eq!(
        done.steps_finished(),
        deploy::STEPS
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );

    // The world: green runs v2.4.0 and takes every conversation; blue still has v2.3.0.
    let routing = h.routing("bot-customer-service-v2");
    assert_eq!(routing["env-prod-green"], 100.0, "{routing:?}");
    assert_eq!(routing["env-prod-blue"], 0.0, "{routing:?}");
    let w = h.world().await;
    assert_eq!(
        w.live("bot-customer-service-v2", "env-prod-green")
            .as_deref(),
        Some("v2.4.0")
    );
    assert_eq!(
        w.live("bot-customer-service-v2", "env-prod-blue")
            .as_deref(),
        Some("v2.3.0")
    );
    let deps = w.deployments("bot-customer-service-v2");
    assert_eq!(deps.len(), 1, "{deps:?}");
    assert_eq!(deps[0]["status"], "completed");
    assert_eq!(deps[0]["id"], r.details["deploymentId"]);
    assert_eq!(w.sync_jobs(), 1);

    // The audit trail: started, the switch decision before completion, completed.
    let events = h.audit_events("deploy");
    for e in ["started", "decision", "completed"] {
        assert!(events.contains(&e.to_string()), "{e} missing in {events:?}");
    }
    let pos = |e: &str| events.iter().position(|x| x == e).unwrap();
    assert!(pos("started") < pos("decision") && pos("decision") < pos("completed"));
    let completed = h
        .audit_records()
        .into_iter()
        .find(|r| r.event == "completed")
        .unwrap();
    assert_eq!(completed.to_version.as_deref(), Some("v2.4.0"));
    assert_eq!(completed.outcome.as_deref(), Some("succeeded"));

    // The completion webhook reached the receiver, signed with the configured secret.
    let hooks = h.received_hooks();
    let hook = hooks
        .iter()
        .find(|x| x.path == HOOK_PATH && x.body["type"] == "deployment.completed")
        .unwrap_or_else(|| panic!("no deployment.completed webhook in {hooks:?}"));
    assert_eq!(hook.body["data"]["version"], "v2.4.0");
    // The receiver keeps the parsed body: rebuild the bytes in the sender's field order.
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        #[serde(rename = "type")]
        kind: &'a serde_json::Value,
        timestamp: &'a serde_json::Value,
        data: &'a serde_json::Value,
    }
    let body = serde_json::to_vec(&Envelope {
        kind: &hook.body["type"],
        timestamp: &hook.body["timestamp"],
        data: &hook.body["data"],
    })
    .unwrap();
    let signed = SignedHeaders {
        id: &hook.headers["webhook-id"],
        timestamp: &hook.headers["webhook-timestamp"],
        signature: &hook.headers["webhook-signature"],
    };
    let now = chrono::Utc::now().timestamp();
    webhook::verify(
        &webhook::secret_bytes(WEBHOOK_SECRET),
        &signed,
        &body,
        now,
        300,
    )
    .expect("the webhook is signed with the configured secret");
    assert!(
        h.audit_records()
            .iter()
            .any(|r| r.event == "webhook_delivery" && r.outcome.as_deref() == Some("delivered"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_refuses_a_version_whose_nlu_model_is_not_published() {
    let h = Harness::start(Setup::scenario("engine_lab.toml")).await;
    let p = plan("bot-deploy-lab", "v1.1.0");
    let done = h.run(move |ctx| deploy::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.summary);
    done.assert_finished_event();
    assert!(
        r.summary.contains("NLU model nlu-lab-training is training"),
        "{}",
        r.summary
    );
    assert!(done.step_failed("validate").is_some());
    let w = h.world().await;
    assert!(w.deployments("bot-deploy-lab").is_empty());
    assert_eq!(h.routing("bot-deploy-lab")["env-lab-blue"], 100.0);
    assert_eq!(h.audit_events("deploy"), vec!["refused"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_refuses_when_the_webhook_is_unreachable() {
    let h = Harness::start(Setup {
        hook: Hook::ClosedPort,
        ..Setup::default()
    })
    .await;
    let p = plan("bot-customer-service-v2", "v2.4.0");
    let done = h.run(move |ctx| deploy::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.summary);
    done.assert_finished_event();
    assert!(r.summary.contains("unreachable"), "{}", r.summary);
    // The URL's path is not shown (webhook URLs can carry credentials), its origin is.
    assert!(!r.summary.contains("/ci/relcon"), "{}", r.summary);
    let w = h.world().await;
    assert!(
        w.deployments("bot-customer-service-v2").is_empty(),
        "no deployment may be created"
    );
    assert_eq!(h.routing("bot-customer-service-v2")["env-prod-blue"], 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deployment_is_rolled_back() {
    let h = Harness::start(Setup::scenario("engine_lab.toml")).await;
    let before = h.routing("bot-deploy-lab");
    let p = plan("bot-deploy-lab", "v1.2.0");
    let done = h.run(move |ctx| deploy::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    done.assert_finished_event();
    assert!(
        r.summary
            .contains("smoke test failed: the greeting flow answered 500"),
        "{}",
        r.summary
    );
    let reason = done.step_failed("wait for deployment").unwrap();
    assert!(reason.contains("ended failed"), "{reason}");
    assert!(done.steps_finished().contains(&"roll back".to_string()));
    assert!(!done.steps_started().contains(&"switch traffic".to_string()));

    let w = h.world().await;
    let deps = w.deployments("bot-deploy-lab");
    assert_eq!(deps.len(), 1, "{deps:?}");
    assert_eq!(deps[0]["status"], "rolled_back");
    assert_eq!(h.routing("bot-deploy-lab"), before, "routing unchanged");
    assert_eq!(
        w.live("bot-deploy-lab", "env-lab-blue").as_deref(),
        Some("v1.0.0")
    );
    assert_eq!(
        w.live("bot-deploy-lab", "env-lab-green").as_deref(),
        Some("v0.9.0")
    );
    let events = h.audit_events("deploy");
    assert_eq!(events.first().map(String::as_str), Some("started"));
    assert_eq!(events.last().map(String::as_str), Some("rolled_back"));
    assert!(!events.contains(&"decision".to_string()), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_refuses_a_draft_version() {
    let h = Harness::start(Setup::default()).await;
    let p = plan("bot-customer-service-v2", "v2.5.0-rc1");
    let done = h.run(move |ctx| deploy::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.summary);
    assert!(
        r.summary
            .contains("v2.5.0-rc1 is DRAFT; only PUBLISHED versions can be deployed"),
        "{}",
        r.summary
    );
    assert!(
        h.world()
            .await
            .deployments("bot-customer-service-v2")
            .is_empty()
    );
    assert_eq!(h.audit_events("deploy"), vec!["refused"]);
}
