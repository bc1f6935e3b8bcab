//! The canary workflow against the simulator: promotion, an automatic rollback on a
//! regressing version, plan validation, and the operator's commands.

mod engine_common;

use std::time::Duration;

use engine_common::{Harness, Setup};
use relcon::domain::Thresholds;
use relcon::engine::canary::{self, CanaryPlan};
use relcon::engine::events::{EventKind, OpCommand, Outcome, Verdict};

fn plan(bot: &str, version: &str, steps: &[f64]) -> CanaryPlan {
    CanaryPlan {
        bot: bot.into(),
        version: version.into(),
        environment: None,
        steps: steps.to_vec(),
        interval: Duration::from_secs(60),
        thresholds: Thresholds::default(),
        min_conversations: 20,
        max_traffic: 100.0,
        max_extensions: 2,
    }
}

fn orders_plan() -> CanaryPlan {
    plan("bot_abc123", "2.1.0-canary", &[10.0, 50.0, 100.0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_is_promoted() {
    let h = Harness::start(Setup::default()).await;
    let p = orders_plan();
    let done = h.run(move |ctx| canary::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    done.assert_finished_event();
    assert_eq!(r.details["environment"], "env_prod_456");
    assert_eq!(r.details["previousVersion"], "2.0.4");
    for s in ["hold 10%", "hold 50%", "hold 100%", "promote"] {
        assert!(done.steps_finished().contains(&s.to_string()), "{s}");
    }
    // Every step was judged on data, and passed.
    let samples: Vec<_> = done
        .kinds()
        .filter_map(|k| match k {
            EventKind::Canary(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert!(samples.len() >= 3, "{}", samples.len());
    assert!(
        samples
            .iter()
            .all(|s| s.verdicts.iter().all(|v| v.verdict != Verdict::Fail))
    );

    let w = h.world().await;
    let canaries = w.canaries("bot_abc123");
    assert_eq!(canaries.len(), 1, "{canaries:?}");
    assert_eq!(canaries[0]["phase"], "Promoted");
    assert_eq!(
        w.live("bot_abc123", "env_prod_456").as_deref(),
        Some("2.1.0-canary")
    );
    let events = h.audit_events("canary");
    assert_eq!(events.first().map(String::as_str), Some("started"));
    assert_eq!(events.last().map(String::as_str), Some("completed"));
    assert_eq!(
        events.iter().filter(|e| *e == "decision").count(),
        3,
        "one decision per step: {events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regressing_canary_is_rolled_back_on_its_error_rate() {
    let h = Harness::start(Setup::default()).await;
    let p = plan("bot-travel-assistant", "v3.5.0", &[10.0, 25.0, 50.0, 100.0]);
    let done = h.run(move |ctx| canary::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    done.assert_finished_event();
    assert!(r.summary.contains("error_rate"), "{}", r.summary);
    assert!(r.summary.contains("above threshold 5.0%"), "{}", r.summary);
    assert_eq!(r.details["stableVersion"], "v3.4.2");
    assert!(!done.steps_started().contains(&"promote".to_string()));
    assert!(done.steps_finished().contains(&"roll back".to_string()));
    // The breach came after the regression set in (two minutes after first traffic), not
    // in the first step.
    assert!(done.steps_finished().contains(&"hold 10%".to_string()));

    let w = h.world().await;
    let canaries = w.canaries("bot-travel-assistant");
    assert_eq!(canaries.len(), 1, "{canaries:?}");
    assert_eq!(canaries[0]["phase"], "RolledBack");
    assert_eq!(canaries[0]["weight"], 0.0);
    assert_eq!(
        w.live("bot-travel-assistant", "env-prod-blue").as_deref(),
        Some("v3.4.2")
    );
    // The audit trail has the decision with its figures, then the rollback.
    let records = h.audit_records();
    let decision = records
        .iter()
        .rev()
        .find(|r| r.event == "decision")
        .unwrap();
    assert!(decision.detail.as_deref().unwrap().ends_with("roll back"));
    let metrics = decision.metrics.as_ref().unwrap();
    assert_eq!(metrics["verdict"], "fail");
    assert!(
        metrics["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["metric"] == "error_rate" && v["verdict"] == "fail"),
        "{metrics}"
    );
    assert!(
        records
            .iter()
            .any(|r| r.event == "rolled_back" && r.outcome.as_deref() == Some("rolled_back"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_plans_are_refused_before_anything_starts() {
    let h = Harness::start(Setup::default()).await;
    let descending = plan("bot_abc123", "2.1.0-canary", &[50.0, 10.0]);
    let done = h.run(move |ctx| canary::run(ctx, descending)).await;
    assert_eq!(done.report.outcome, Outcome::Refused);
    assert!(
        done.report
            .summary
            .contains("steps must rise: 10% follows 50%"),
        "{}",
        done.report.summary
    );
    let above = CanaryPlan {
        max_traffic: 25.0,
        ..plan("bot_abc123", "2.1.0-canary", &[10.0, 50.0])
    };
    let done = h.run(move |ctx| canary::run(ctx, above)).await;
    assert_eq!(done.report.outcome, Outcome::Refused);
    assert!(
        done.report
            .summary
            .contains("step 50% is above max traffic 25%"),
        "{}",
        done.report.summary
    );
    assert!(h.world().await.canaries("bot_abc123").is_empty());
    assert_eq!(h.audit_events("canary"), vec!["refused", "refused"]);
}

/// Start the orders canary with long holds and wait for its first sample.
async fn started(h: &Harness, interval: Duration) -> engine_common::Running {
    let p = CanaryPlan {
        interval,
        ..orders_plan()
    };
    let mut running = h.start_op(move |ctx| canary::run(ctx, p));
    running
        .wait_for("canary sample", |k| matches!(k, EventKind::Canary(_)))
        .await;
    running
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_rolls_the_canary_back_on_the_server() {
    let h = Harness::start(Setup::default()).await;
    let running = started(&h, Duration::from_secs(600)).await;
    running.send(OpCommand::Abort);
    let done = h.finish(running).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Cancelled, "{}", r.summary);
    done.assert_finished_event();
    assert!(
        r.summary.contains("cancelled by the operator"),
        "{}",
        r.summary
    );
    let w = h.world().await;
    let canaries = w.canaries("bot_abc123");
    assert_eq!(canaries.len(), 1);
    assert_eq!(canaries[0]["phase"], "RolledBack");
    assert_eq!(
        w.live("bot_abc123", "env_prod_456").as_deref(),
        Some("2.0.4")
    );
    assert!(
        h.audit_events("canary")
            .contains(&"rolled_back".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_full_finishes_early() {
    let h = Harness::start(Setup::default()).await;
    // Ten minutes per step: the command ends the first hold early.
    let running = started(&h, Duration::from_secs(600)).await;
    running.send(OpCommand::PromoteFull);
    let done = h.finish(running).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    done.assert_finished_event();
    let started = done.steps_started();
    assert!(started.contains(&"promote".to_string()));
    assert!(!started.contains(&"hold 50%".to_string()), "{started:?}");
    assert!(done.kinds().any(|k| matches!(k,
        EventKind::StepFinished { step, detail: Some(d) }
            if step == "hold 10%" && d == "operator promoted fully")));
    let w = h.world().await;
    assert_eq!(w.canaries("bot_abc123")[0]["phase"], "Promoted");
    assert_eq!(
        w.live("bot_abc123", "env_prod_456").as_deref(),
        Some("2.1.0-canary")
    );
    let records = h.audit_records();
    assert!(records.iter().any(|r| {
        r.event == "decision"
            && r.detail
                .as_deref()
                .is_some_and(|d| d.contains("operator promoted fully at step 1"))
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_the_run_until_resume() {
    let h = Harness::start(Setup::default()).await;
    let mut running = started(&h, Duration::from_secs(60)).await;
    running.send(OpCommand::Pause);
    running
        .wait_for("paused", |k| matches!(k, EventKind::Paused))
        .await;
    let at_pause = running.events.len();
    running.send(OpCommand::Resume);
    let done = h.finish(running).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    // While paused nothing happened: the next event is the resumption.
    assert!(matches!(done.events[at_pause].kind, EventKind::Resumed));
    assert!(
        done.kinds()
            .take(at_pause)
            .all(|k| !matches!(k, EventKind::Resumed))
    );
    for s in ["hold 10%", "hold 50%", "hold 100%", "promote"] {
        assert!(done.steps_finished().contains(&s.to_string()), "{s}");
    }
    assert_eq!(
        h.world().await.canaries("bot_abc123")[0]["phase"],
        "Promoted"
    );
}
