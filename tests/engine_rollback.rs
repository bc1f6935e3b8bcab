//! The rollback workflow against the simulator: success with verification, every refusal,
//! waiting for sessions to drain, a server-side conflict, the fallback version, and the
//! default target.

mod engine_common;

use std::time::Duration;

use engine_common::{Harness, Setup};
use relcon::domain::Stage;
use relcon::engine::events::Outcome;
use relcon::engine::rollback::{self, RollbackPlan};

fn plan(bot: &str, target: Option<&str>) -> RollbackPlan {
    RollbackPlan {
        bot: bot.into(),
        target: target.map(str::to_string),
        environment: Stage::Production,
        max_active_sessions: 100,
        wait_drain: Duration::from_secs(600),
        fallback: None,
        test_message: "where is my order".into(),
        expected_intent: "order_support".into(),
        min_confidence: 0.85,
        timeout: Duration::from_secs(3600),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_to_a_chosen_version_is_verified() {
    let h = Harness::start(Setup::default()).await;
    let p = plan("bot_12345", Some("v_67890"));
    let done = h.run(move |ctx| rollback::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    done.assert_finished_event();
    assert_eq!(r.details["version"], "v_67890");
    assert_eq!(r.details["previousVersion"], "v_80112");
    assert_eq!(r.details["fallbackUsed"], false);
    let v = &r.details["verification"];
    assert_eq!(v["detectedIntent"], "order_support");
    assert_eq!(v["verificationPassed"], true);
    assert!(v["confidence"].as_f64().unwrap() >= 0.85, "{v}");
    assert_eq!(
        done.steps_finished(),
        rollback::STEPS
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );

    let w = h.world().await;
    assert_eq!(w.live("bot_12345", "env_prod").as_deref(), Some("v_67890"));
    let jobs = w.rollback_jobs("bot_12345");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["targetVersionId"], "v_67890");
    assert_eq!(jobs[0]["state"], "COMPLETED");
    let events = h.audit_events("rollback");
    assert_eq!(events, vec!["decision", "job_created", "completed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_refuses_a_draft_target() {
    let h = Harness::start(Setup::default()).await;
    let p = plan("bot_12345", Some("v_90000"));
    let done = h.run(move |ctx| rollback::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.summary);
    done.assert_finished_event();
    assert!(
        r.summary
            .contains("target v_90000 is DRAFT; only a PUBLISHED version"),
        "{}",
        r.summary
    );
    assert!(h.world().await.rollback_jobs("bot_12345").is_empty());
    assert_eq!(h.audit_events("rollback"), vec!["refused"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_refuses_a_target_of_another_environment() {
    let h = Harness::start(Setup::default()).await;
    let p = plan("bot-hr-helpdesk", Some("v1.10.0"));
    let done = h.run(move |ctx| rollback::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.summary);
    assert!(
        r.summary
            .contains("target v1.10.0 belongs to STAGING, not PRODUCTION"),
        "{}",
        r.summary
    );
    assert!(h.world().await.rollback_jobs("bot-hr-helpdesk").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_refuses_while_sessions_are_active() {
    // At real speed the twelve sessions do not drain while the check runs (three a minute).
    let h = Harness::start(Setup {
        speed: 1.0,
        ..Setup::default()
    })
    .await;
    let p = RollbackPlan {
        max_active_sessions: 0,
        wait_drain: Duration::ZERO,
        ..plan("bot-hr-helpdesk", Some("v1.8.0"))
    };
    let done = h.run(move |ctx| rollback::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.summary);
    assert!(
        r.summary
            .contains("would be cut off at once, above the threshold of 0"),
        "{}",
        r.summary
    );
    assert!(r.summary.contains("--wait-drain"), "{}", r.summary);
    assert!(done.step_failed("check sessions").is_some());
    assert!(h.world().await.rollback_jobs("bot-hr-helpdesk").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_lets_the_old_versions_sessions_drain() {
    let h = Harness::start(Setup::default()).await;
    // Nobody may be cut off; sessions get ten minutes to finish on v1.9.0. The message and
    // intent are left to the bot's own test conversation.
    let p = RollbackPlan {
        max_active_sessions: 0,
        wait_drain: Duration::from_secs(600),
        test_message: String::new(),
        expected_intent: String::new(),
        ..plan("bot-hr-helpdesk", Some("v1.8.0"))
    };
    let done = h.run(move |ctx| rollback::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    done.assert_finished_event();
    // Busy production: sessions were live, none could outlast the drain, none was cut off.
    assert!(r.details["sessions"]["active"].as_u64().unwrap() > 0);
    assert_eq!(r.details["sessions"]["atRisk"], 0);
    assert_eq!(r.details["drain"]["cutOffSessions"], 0);
    assert!(r.details["drain"]["sessionsAtStart"].as_u64().unwrap() > 0);
    // Verified with the HR bot's own conversation, not an order bot's message.
    let v = &r.details["verification"];
    assert_eq!(v["source"], "bot");
    assert_eq!(v["expectedIntent"], "leave_balance");
    assert_eq!(v["verificationPassed"], true);
    // The drain was followed to its end, each look counting down.
    let left: Vec<u64> = done
        .details()
        .iter()
        .filter(|d| d.contains("sessions left on v1.9.0"))
        .filter_map(|d| d.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(left.len() >= 2, "{:?}", done.details());
    assert!(left.windows(2).all(|w| w[1] <= w[0]), "{left:?}");
    assert!(
        done.steps_finished()
            .contains(&"drain sessions".to_string())
    );
    let w = h.world().await;
    assert_eq!(
        w.live("bot-hr-helpdesk", "env-prod-blue").as_deref(),
        Some("v1.8.0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_with_missing_dependencies_is_refused_with_the_servers_reason() {
    let h = Harness::start(Setup::default()).await;
    let p = plan("bot_12345", Some("v_70001"));
    let done = h.run(move |ctx| rollback::run(ctx, p)).await;
    let r = &done.report;
    // The server refused the job before anything changed: a refusal, not a failure.
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.summary);
    done.assert_finished_event();
    assert!(
        r.summary
            .contains("v_70001 references missing components: skill:refund-calculator@2"),
        "{}",
        r.summary
    );
    assert!(done.step_failed("trigger rollback").is_some());
    let w = h.world().await;
    assert!(w.rollback_jobs("bot_12345").is_empty());
    assert_eq!(w.live("bot_12345", "env_prod").as_deref(), Some("v_80112"));
    let events = h.audit_events("rollback");
    assert_eq!(events, vec!["decision", "refused"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_is_used_when_the_targets_job_fails() {
    let h = Harness::start(Setup::scenario("engine_lab.toml")).await;
    let p = RollbackPlan {
        fallback: Some("v_fallback".into()),
        ..plan("bot-rollback-lab", Some("v_broken"))
    };
    let done = h.run(move |ctx| rollback::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    done.assert_finished_event();
    assert_eq!(r.details["fallbackUsed"], true);
    assert_eq!(r.details["version"], "v_fallback");
    assert!(r.summary.contains("(fallback)"), "{}", r.summary);
    assert!(
        done.details().iter().any(
            |d| d.contains("image for 2.9.0 is missing from the registry")
                && d.contains("falling back to v_fallback")
        ),
        "{:?}",
        done.details()
    );

    let w = h.world().await;
    let jobs = w.rollback_jobs("bot-rollback-lab");
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_eq!(jobs[0]["targetVersionId"], "v_broken");
    assert_eq!(jobs[0]["state"], "FAILED");
    assert_eq!(jobs[1]["targetVersionId"], "v_fallback");
    assert_eq!(jobs[1]["state"], "COMPLETED");
    assert_eq!(
        w.live("bot-rollback-lab", "env-lab-rb").as_deref(),
        Some("v_fallback")
    );
    let events = h.audit_events("rollback");
    assert_eq!(
        events,
        vec![
            "decision",
            "job_created",
            "decision",
            "job_created",
            "completed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_target_the_last_known_good_version_is_used() {
    let h = Harness::start(Setup::default()).await;
    // Travel: v3.4.2 is live; the newest older PUBLISHED production version is v3.4.1.
    let p = RollbackPlan {
        test_message: "I want to book a flight".into(),
        expected_intent: "booking".into(),
        ..plan("bot-travel-assistant", None)
    };
    let done = h.run(move |ctx| rollback::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    assert_eq!(r.details["version"], "v3.4.1");
    assert_eq!(r.details["previousVersion"], "v3.4.2");
    let w = h.world().await;
    assert_eq!(
        w.live("bot-travel-assistant", "env-prod-blue").as_deref(),
        Some("v3.4.1")
    );
    assert_eq!(w.rollback_jobs("bot-travel-assistant").len(), 1);
}
