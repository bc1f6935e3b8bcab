//! One contract, two backends: the engine's blue-green deploy and rollback run unchanged
//! against the Release API and against Cognigy.AI (the simulator's two dialects over the
//! same world), and each leaves the world in the state the workflow promised.
//!
//! On the Release API a deploy moves traffic to the idle colour; on Cognigy.AI traffic
//! follows channels, so the production endpoints that carry it are re-pointed instead. The
//! contract both keep: afterwards, the environment that carries the bot's traffic serves
//! the new version, and the audit trail says so.

mod engine_common;

use std::time::Duration;

use engine_common::{Harness, Setup};
use relcon::domain::Stage;
use relcon::engine::deploy::{self, DeployPlan};
use relcon::engine::events::Outcome;
use relcon::engine::rollback::{self, RollbackPlan};
use relcon::sim::Dialect;
use relcon::sim::faults::Faults;

const BOTH: [Dialect; 2] = [Dialect::Release, Dialect::Cognigy];

/// How relcon names the bot on each backend: its id on the Release API, the project's name
/// on Cognigy.AI.
fn bot_ref(dialect: Dialect, world_id: &str, name: &str) -> String {
    match dialect {
        Dialect::Release => world_id.to_string(),
        Dialect::Cognigy => name.to_string(),
    }
}

fn deploy_plan(bot: &str, version: &str) -> DeployPlan {
    DeployPlan {
        bot: bot.into(),
        version: version.into(),
        target: None,
        regions: vec![],
        timeout: Duration::from_secs(3600),
    }
}

fn rollback_plan(bot: &str, target: &str) -> RollbackPlan {
    RollbackPlan {
        bot: bot.into(),
        target: Some(target.into()),
        environment: Stage::Production,
        max_active_sessions: 100,
        wait_drain: Duration::from_secs(600),
        fallback: None,
        test_message: "where is my order".into(),
        expected_intent: "order_support".into(),
        min_confidence: 0.5,
        timeout: Duration::from_secs(3600),
    }
}

async fn start(dialect: Dialect, setup: Setup) -> Harness {
    Harness::start(Setup { dialect, ..setup }).await
}

/// The version the environment carrying most of the bot's traffic serves, per the world.
async fn serving(h: &Harness, bot: &str) -> Option<String> {
    let routing = h.routing(bot);
    let (env, _) = routing
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("the bot has a routing");
    h.world().await.live(bot, env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_puts_the_version_where_the_traffic_is_on_both_backends() {
    for dialect in BOTH {
        let h = start(dialect, Setup::default()).await;
        let bot = bot_ref(dialect, "bot-customer-service-v2", "Customer Service");
        assert_eq!(
            serving(&h, "bot-customer-service-v2").await.as_deref(),
            Some("v2.3.0")
        );
        let p = deploy_plan(&bot, "2.4.0");
        let done = h.run(move |ctx| deploy::run(ctx, p)).await;
        let r = &done.report;
        assert_eq!(r.outcome, Outcome::Succeeded, "{dialect:?}: {}", r.summary);
        assert_eq!(
            serving(&h, "bot-customer-service-v2").await.as_deref(),
            Some("v2.4.0"),
            "{dialect:?}: {}",
            r.summary
        );
        let events = h.audit_events("deploy");
        for e in ["started", "deployment_created", "decision", "completed"] {
            assert!(
                events.contains(&e.to_string()),
                "{dialect:?}: {e} missing in {events:?}"
            );
        }
        // The version is already where the traffic is: a second deploy is refused.
        let p = deploy_plan(&bot, "2.4.0");
        let again = h.run(move |ctx| deploy::run(ctx, p)).await;
        assert_eq!(again.report.outcome, Outcome::Refused, "{dialect:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_re_points_the_traffic_to_the_chosen_version_and_verifies_it_on_both_backends() {
    for dialect in BOTH {
        let h = start(dialect, Setup::default()).await;
        let bot = bot_ref(dialect, "bot-customer-service-v2", "Customer Service");
        let p = rollback_plan(&bot, "2.2.0");
        let done = h.run(move |ctx| rollback::run(ctx, p)).await;
        let r = &done.report;
        assert_eq!(r.outcome, Outcome::Succeeded, "{dialect:?}: {}", r.summary);
        assert_eq!(
            serving(&h, "bot-customer-service-v2").await.as_deref(),
            Some("v2.2.0"),
            "{dialect:?}"
        );
        assert!(
            !r.summary.contains("verification skipped"),
            "{dialect:?}: the test conversation ran: {}",
            r.summary
        );
        let events = h.audit_events("rollback");
        assert!(
            events.contains(&"completed".to_string()),
            "{dialect:?}: {events:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_version_is_refused_and_nothing_changes_on_both_backends() {
    for dialect in BOTH {
        let h = start(dialect, Setup::default()).await;
        let bot = bot_ref(dialect, "bot-customer-service-v2", "Customer Service");
        let p = deploy_plan(&bot, "9.9.9");
        let done = h.run(move |ctx| deploy::run(ctx, p)).await;
        assert_eq!(done.report.outcome, Outcome::Refused, "{dialect:?}");
        assert!(
            done.report.summary.contains("9.9.9"),
            "{}",
            done.report.summary
        );
        assert_eq!(
            serving(&h, "bot-customer-service-v2").await.as_deref(),
            Some("v2.3.0")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_bot_is_not_found_on_both_backends() {
    for dialect in BOTH {
        let h = start(dialect, Setup::default()).await;
        let p = rollback_plan("no-such-bot", "1.0.0");
        let done = h.run(move |ctx| rollback::run(ctx, p)).await;
        assert_eq!(done.report.outcome, Outcome::Refused, "{dialect:?}");
        assert!(
            done.report.summary.contains("no-such-bot"),
            "{dialect:?}: {}",
            done.report.summary
        );
    }
}

/// Cognigy.AI has no atomic switch: a rollback re-points each endpoint that carries traffic
/// in turn. When one refuses, the ones already re-pointed go back, and the report names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_point_that_fails_part_way_puts_every_endpoint_back() {
    let h = start(
        Dialect::Cognigy,
        Setup {
            faults: Faults {
                stuck_endpoints: vec!["env-app".into()],
                ..Faults::default()
            },
            ..Setup::scenario("channels.toml")
        },
    )
    .await;
    let p = RollbackPlan {
        test_message: String::new(),
        expected_intent: String::new(),
        ..rollback_plan("Channels", "0.9.0")
    };
    let done = h.run(move |ctx| rollback::run(ctx, p)).await;
    let r = &done.report;
    assert_ne!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    let w = h.world().await;
    for env in ["env-web", "env-app"] {
        assert_eq!(
            w.live("bot-channels", env).as_deref(),
            Some("v1.0.0"),
            "{env} is back on what it served: {}",
            r.summary
        );
    }
    assert!(
        r.summary.contains("put back where they were"),
        "{}",
        r.summary
    );
    let text = h.audit_text();
    assert!(
        text.contains("put back where they were"),
        "the audit says which endpoints were touched"
    );
}

/// A deploy of `bot` that first takes the snapshot `name`; its report.
async fn deploy_new_snapshot(h: &Harness, bot: &str, name: &str) -> engine_common::Finished {
    let p = deploy_plan(bot, name);
    let options = deploy::DeployOptions {
        take_snapshot: true,
        ..deploy::DeployOptions::default()
    };
    h.run(move |ctx| deploy::run_with(ctx, p, options)).await
}

/// A blue-green deploy on Cognigy.AI that first takes its snapshot: the task is followed
/// step by step, and the new snapshot ends up where the traffic is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_takes_its_snapshot_following_the_task_then_deploys_it() {
    let h = start(Dialect::Cognigy, Setup::default()).await;
    let done = deploy_new_snapshot(&h, "HR Helpdesk", "2.0.0-rc").await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    assert_eq!(
        done.steps_finished(),
        deploy::STEPS_WITH_SNAPSHOT
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    let steps: Vec<String> = done
        .details()
        .into_iter()
        .filter(|d| d.contains(" of 10"))
        .collect();
    // The poller reads when the task is expected to be done, so a short task may show only
    // one of its steps; how many depends on how the reads fall.
    assert!(!steps.is_empty(), "the task's steps are shown: {steps:?}");
    let live = serving(&h, "bot-hr-helpdesk")
        .await
        .expect("a live version");
    let label = h.sim.app.lock().world.bots["bot-hr-helpdesk"]
        .version(&live)
        .map(|v| v.label.clone());
    assert_eq!(
        label.as_deref(),
        Some("2.0.0-rc"),
        "the new snapshot takes the traffic"
    );
    let events = h.audit_events("deploy");
    for e in ["snapshot_started", "snapshot_taken", "completed"] {
        assert!(events.contains(&e.to_string()), "{e} missing in {events:?}");
    }
    // Its name is taken now: a second one is refused before anything is sent.
    let again = deploy_new_snapshot(&h, "HR Helpdesk", "2.0.0-rc").await;
    assert_eq!(
        again.report.outcome,
        Outcome::Refused,
        "{}",
        again.report.summary
    );
    assert!(
        again
            .report
            .summary
            .contains("already has a snapshot named"),
        "{}",
        again.report.summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_task_that_ends_in_error_fails_the_deploy_with_the_platforms_reason() {
    let h = start(
        Dialect::Cognigy,
        Setup {
            faults: Faults {
                failing_snapshots: true,
                ..Faults::default()
            },
            ..Setup::default()
        },
    )
    .await;
    let before = serving(&h, "bot-hr-helpdesk").await;
    let done = deploy_new_snapshot(&h, "HR Helpdesk", "2.0.0-rc").await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Failed, "{}", r.summary);
    assert!(
        r.summary.contains("could not be exported"),
        "the failReason: {}",
        r.summary
    );
    assert_eq!(
        serving(&h, "bot-hr-helpdesk").await,
        before,
        "nothing was switched"
    );
}

/// The 10-snapshot limit refuses a deploy that would need an eleventh before any task
/// starts, and says how to make room; the Release API has no snapshots to take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_snapshot_limit_a_deploy_is_refused_and_says_how_to_make_room() {
    let h = start(Dialect::Cognigy, Setup::default()).await;
    // Travel Assistant has 9 snapshots: the first deploy takes the tenth.
    let first = deploy_new_snapshot(&h, "Travel Assistant", "3.6.0").await;
    assert_eq!(
        first.report.outcome,
        Outcome::Succeeded,
        "{}",
        first.report.summary
    );
    let done = deploy_new_snapshot(&h, "Travel Assistant", "3.7.0").await;
    assert_eq!(
        done.report.outcome,
        Outcome::Refused,
        "{}",
        done.report.summary
    );
    assert!(
        done.report.summary.contains("relcon prune"),
        "{}",
        done.report.summary
    );
    assert!(
        !h.sim.app.lock().world.bots["bot-travel-assistant"]
            .versions
            .iter()
            .any(|v| v.label == "3.7.0"),
        "no snapshot was taken"
    );

    let h = start(Dialect::Release, Setup::default()).await;
    let done = deploy_new_snapshot(&h, "bot-hr-helpdesk", "9.0.0").await;
    assert_eq!(
        done.report.outcome,
        Outcome::Refused,
        "{}",
        done.report.summary
    );
    assert!(
        done.report.summary.contains("Release API"),
        "{}",
        done.report.summary
    );
}

/// The Cognigy demo world, on a clock slow enough that the OData reads a canary makes keep
/// up with the simulated minutes.
fn cognigy_world() -> Setup {
    Setup {
        dialect: Dialect::Cognigy,
        speed: 240.0,
        ..Setup::scenario("../../assets/scenarios/cognigy.toml")
    }
}

/// The environments (channels) of a bot in the world and what each serves now.
async fn served(h: &Harness, bot: &str) -> std::collections::BTreeMap<String, Option<String>> {
    let w = h.world().await;
    h.routing(bot)
        .into_iter()
        .filter(|(_, weight)| *weight > 0.0)
        .map(|(env, _)| {
            let v = w.live(bot, &env);
            (env, v)
        })
        .collect()
}

/// A canary on Cognigy.AI re-points a growing set of the project's channels to the
/// candidate and judges both arms on OData `Analytics` by `entrypoint`: a healthy candidate
/// ends on every channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_re_points_channel_by_channel_and_is_promoted_on_cognigy() {
    let h = Harness::start(cognigy_world()).await;
    let p = engine_common::canary_plan("Customer Service", "2.4.0", &[10.0, 50.0, 100.0]);
    let done = h.run(move |ctx| relcon::engine::canary::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.summary);
    for s in ["hold 10%", "hold 50%", "hold 100%", "promote"] {
        assert!(
            done.steps_finished().contains(&s.to_string()),
            "{s}: {:?}",
            done.steps_finished()
        );
    }
    let samples: Vec<_> = done
        .kinds()
        .filter_map(|k| match k {
            relcon::engine::events::EventKind::Canary(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let last = samples.last().expect("the judge looked");
    assert!(
        last.canary.conversation_count > 0 && last.baseline.conversation_count > 0,
        "both arms measured from OData"
    );
    let now = served(&h, "bot-customer-service").await;
    assert!(
        now.values().all(|v| v.as_deref() == Some("v2.4.0")),
        "every channel serves the candidate: {now:?}"
    );
}

/// A regressing candidate is rolled back: every channel is back on the stable snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regressing_canary_is_rolled_back_and_every_channel_is_back_on_cognigy() {
    let h = Harness::start(cognigy_world()).await;
    let p = engine_common::canary_plan("Travel Assistant", "3.5.0", &[15.0, 50.0, 100.0]);
    let done = h.run(move |ctx| relcon::engine::canary::run(ctx, p)).await;
    let r = &done.report;
    assert_eq!(r.outcome, Outcome::RolledBack, "{}", r.summary);
    let now = served(&h, "bot-travel-assistant").await;
    assert!(
        now.values().all(|v| v.as_deref() == Some("v3.4.2")),
        "every channel is back on the stable snapshot: {now:?}"
    );
    let events = h.audit_events("canary");
    assert!(events.contains(&"decision".to_string()), "{events:?}");
}

/// A project with one channel carrying its traffic cannot run a canary: it is refused, and
/// nothing is re-pointed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_on_a_single_channel_project_is_refused_on_cognigy() {
    let h = start(Dialect::Cognigy, Setup::default()).await;
    let p = engine_common::canary_plan("HR Helpdesk", "1.10.0", &[10.0, 100.0]);
    let before = served(&h, "bot-hr-helpdesk").await;
    let done = h.run(move |ctx| relcon::engine::canary::run(ctx, p)).await;
    assert_eq!(
        done.report.outcome,
        Outcome::Refused,
        "{}",
        done.report.summary
    );
    assert!(
        done.report.summary.contains("two or more"),
        "{}",
        done.report.summary
    );
    assert_eq!(served(&h, "bot-hr-helpdesk").await, before);
}
