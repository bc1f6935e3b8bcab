//! The canary workflow against the simulator: promotion, an automatic rollback on a
//! regressing version with the numbers behind it, plan validation, pauses for a person when
//! the evidence does not settle (never a rollback), metric reads that fail (never a
//! verdict), and the operator's commands.

mod engine_common;

use std::time::Duration;

use engine_common::{Harness, Setup, canary_plan};
use relcon::engine::canary::{self, CanaryPlan};
use relcon::engine::events::{EventKind, OpCommand, Outcome, Verdict};
use relcon::engine::judge::policy::OnInconclusive;

fn orders_plan() -> CanaryPlan {
    canary_plan("bot_abc123", "2.1.0-canary", &[10.0, 50.0, 100.0])
}

fn decisions(done: &engine_common::Finished) -> Vec<relcon::engine::events::CanaryDecision> {
    done.kinds()
        .filter_map(|k| match k {
            EventKind::CanaryDecision(d) => Some((**d).clone()),
            _ => None,
        })
        .collect()
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
    // Judged on data at every look, never failed; the counts cover the canary's run.
    let samples: Vec<_> = done
        .kinds()
        .filter_map(|k| match k {
            EventKind::Canary(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert!(samples.len() >= 6, "{}", samples.len());
    assert!(samples.iter().all(|s| s.verdict != Verdict::Fail));
    let last = samples.last().unwrap();
    assert!(last.window_start.is_some() && last.window_end.is_some());
    assert!(last.canary.conversation_count > 0 && last.baseline.conversation_count > 0);
    assert_eq!(last.verdicts.len(), 6, "every metric is gated by default");
    // Every decision is kept with the run, the last one promotes, and each is audited.
    let ds = decisions(&done);
    assert_eq!(ds.last().map(|d| d.action.as_str()), Some("promote"));
    assert_eq!(
        ds.iter().filter(|d| d.action == "advance").count(),
        2,
        "{ds:?}"
    );
    assert_eq!(
        r.details["decisions"].as_array().map(Vec::len),
        Some(ds.len())
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
        ds.len(),
        "every decision audited: {events:?}"
    );
    h.assert_audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regressing_canary_is_rolled_back_with_the_numbers_behind_it() {
    let h = Harness::start(Setup::default()).await;
    let p = canary_plan("bot-travel-assistant", "v3.5.0", &[10.0, 25.0, 50.0, 100.0]);
    let done = h.run(move |ctx| canary::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    done.assert_finished_event();
    // v3.5.0 gets worse in errors, latency and CSAT two minutes in: the reason names one of
    // them with both arms' figures, the interval and the tolerance.
    assert!(
        ["error rate ", "latency ", "CSAT "]
            .iter()
            .any(|m| r.summary.contains(m)),
        "{}",
        r.summary
    );
    assert!(r.summary.contains(" baseline"), "{}", r.summary);
    assert!(r.summary.contains(", tolerance "), "{}", r.summary);
    assert!(r.summary.contains("→ fail"), "{}", r.summary);
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
    assert!(
        decision
            .detail
            .as_deref()
            .unwrap()
            .contains(": roll back: "),
        "{:?}",
        decision.detail
    );
    let metrics = decision.metrics.as_ref().unwrap();
    assert_eq!(metrics["verdict"], "fail");
    let failed: Vec<&serde_json::Value> = metrics["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["verdict"] == "fail")
        .collect();
    assert!(!failed.is_empty(), "{metrics}");
    for v in failed {
        assert!(v["n_canary"].as_u64().unwrap() > 0, "{v}");
        assert!(v["interval"].is_array(), "{v}");
        assert!(v["tolerance"].is_number(), "{v}");
    }
    assert!(
        records
            .iter()
            .any(|r| r.event == "rolled_back" && r.outcome.as_deref() == Some("rolled_back"))
    );
    h.assert_audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_plans_are_refused_before_anything_starts() {
    let h = Harness::start(Setup::default()).await;
    let descending = CanaryPlan {
        steps: vec![50.0, 10.0],
        ..orders_plan()
    };
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
        steps: vec![10.0, 50.0],
        ..orders_plan()
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

/// A plan whose evidence cannot settle: a 1% first step of the quiet HR bot, judged on a
/// tolerance far tighter than its traffic can show, with a short longest hold.
fn unsettled_plan() -> CanaryPlan {
    let mut p = canary_plan("bot-hr-helpdesk", "v1.10.0", &[1.0, 100.0]);
    for g in &mut p.judge.gates {
        g.tolerance /= 50.0;
    }
    p.budgets.max_hold = Duration::from_secs(180);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_that_does_not_settle_pauses_for_a_person_and_never_rolls_back() {
    let h = Harness::start(Setup::default()).await;
    let p = unsettled_plan();
    let done = h.run(move |ctx| canary::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Paused, "{}", r.summary);
    assert!(
        r.summary.contains("paused at 1% for a decision"),
        "{}",
        r.summary
    );
    assert!(
        r.summary.contains("inconclusive after 3:00"),
        "{}",
        r.summary
    );
    let ds = decisions(&done);
    assert!(ds.iter().any(|d| d.action == "extend"), "{ds:?}");
    assert_eq!(ds.last().map(|d| d.action.as_str()), Some("pause"));
    assert!(ds.iter().all(|d| d.action != "roll back"));
    // Inconclusive looks say how much more data they need.
    let needs = done.kinds().any(|k| {
        matches!(k, EventKind::Canary(s) if s.verdicts.iter().any(|v| v.reason.contains("need ~")))
    });
    assert!(needs);
    // The canary is left paused at its weight, not rolled back.
    let w = h.world().await;
    let c = &w.canaries("bot-hr-helpdesk")[0];
    assert_eq!(c["phase"], "Paused", "{c}");
    assert_eq!(c["weight"], 1.0);
    assert!(h.audit_events("canary").contains(&"paused".to_string()));
    h.assert_audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_answers_a_pause_by_extending_or_promoting() {
    let h = Harness::start(Setup::default()).await;
    let p = CanaryPlan {
        interactive: true,
        ..unsettled_plan()
    };
    let mut running = h.start_op(move |ctx| canary::run(ctx, p));
    running
        .wait_for(
            "a pause",
            |k| matches!(k, EventKind::CanaryDecision(d) if d.action == "pause"),
        )
        .await;
    running
        .wait_for("paused", |k| matches!(k, EventKind::Paused))
        .await;
    // Resume extends the hold with a fresh budget; the next pause is answered by promoting.
    running.send(OpCommand::Resume);
    running
        .wait_for(
            "extended",
            |k| matches!(k, EventKind::CanaryDecision(d) if d.action == "extend (operator)"),
        )
        .await;
    running
        .wait_for(
            "the second pause",
            |k| matches!(k, EventKind::CanaryDecision(d) if d.action == "pause"),
        )
        .await;
    running.send(OpCommand::PromoteFull);
    let done = h.finish(running).await;
    assert_eq!(
        done.report.outcome,
        Outcome::Succeeded,
        "{}",
        done.report.summary
    );
    let ds = decisions(&done);
    assert!(
        ds.iter().any(|d| d.action == "promote (operator)"),
        "{ds:?}"
    );
    assert_eq!(
        h.world().await.canaries("bot-hr-helpdesk")[0]["phase"],
        "Promoted"
    );
    h.assert_audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_reads_that_fail_pause_the_canary_and_are_no_verdict() {
    let h = Harness::start(Setup {
        retry_attempts: 1,
        ..Setup::default()
    })
    .await;
    let p = CanaryPlan {
        // Long enough that only the failing reads can end it.
        budgets: relcon::engine::judge::policy::Budgets {
            interval: Duration::from_secs(3600),
            max_hold: Duration::from_secs(3600),
            ..orders_plan().budgets
        },
        ..orders_plan()
    };
    let mut running = h.start_op(move |ctx| canary::run(ctx, p));
    running
        .wait_for("a look", |k| matches!(k, EventKind::Canary(_)))
        .await;
    h.sim.app.lock().faults.set("errorRate=1").unwrap();
    let done = h.finish(running).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Paused, "{}", r.summary);
    assert!(
        r.summary.contains("could not be read 3 times in a row"),
        "{}",
        r.summary
    );
    assert!(r.summary.contains("not a metric failure"), "{}", r.summary);
    assert!(!done.steps_started().contains(&"roll back".to_string()));
    assert!(
        done.details()
            .iter()
            .any(|d| d.contains("an API error is not a metric failure")),
        "{:?}",
        done.details()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_inconclusive_rollback_rolls_back_when_the_budget_is_spent() {
    let h = Harness::start(Setup::default()).await;
    let mut p = unsettled_plan();
    p.budgets.on_inconclusive = OnInconclusive::Rollback;
    let done = h.run(move |ctx| canary::run(ctx, p)).await;
    assert_eq!(
        done.report.outcome,
        Outcome::RolledBack,
        "{}",
        done.report.summary
    );
    assert!(
        done.report.summary.contains("inconclusive on"),
        "{}",
        done.report.summary
    );
    assert_eq!(
        h.world().await.canaries("bot-hr-helpdesk")[0]["phase"],
        "RolledBack"
    );
}

/// Start the orders canary with long holds and wait for its first sample.
async fn started(h: &Harness, interval: Duration) -> engine_common::Running {
    let mut p = orders_plan();
    p.budgets.interval = interval;
    p.budgets.max_hold = p.budgets.max_hold.max(interval);
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
                .is_some_and(|d| d.contains("step 1 at 10%: promote (operator)"))
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
