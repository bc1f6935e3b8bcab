//! The operator verbs (`relcon get|promote|pause|resume|abort|retry`) against operations a
//! relcon drives on the simulator: a lease taken once the server operation exists, commands
//! from another relcon applied and acknowledged, pause and resume audited, a second driver
//! refused with the holder's name, and an operation nobody drives said to be so.

mod engine_common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use engine_common::{API_KEY, Harness, JOIN_TIMEOUT, Setup, canary_plan, http_settings};
use relcon::backend::{Auth, LeaseRequest, ReleaseApi, ReleaseBackend};
use relcon::cli::Output;
use relcon::domain::{CommandState, OperationEventKind};
use relcon::engine::OpHandle;
use relcon::engine::canary::{self, CanaryPlan};
use relcon::engine::control::{self, Driver, DriverSettings};
use relcon::engine::events::{EventKind, Outcome, ProgressEvent, WorkflowKind};
use relcon::exit;
use relcon::headless::exit_code;
use relcon::operator::{self, Verb};
use secrecy::SecretString;
use tokio::sync::mpsc;

const BOT: &str = "bot_abc123";

/// A canary that holds each step far longer than any test lasts: only commands move it.
fn long_plan() -> CanaryPlan {
    let mut p = canary_plan(BOT, "2.1.0-canary", &[10.0, 50.0, 100.0]);
    p.look_every = Duration::from_secs(36_000);
    p
}

fn settings(h: &Harness, holder: &str, host: &str) -> DriverSettings {
    DriverSettings {
        holder: holder.into(),
        host: host.into(),
        ..DriverSettings::for_engine(&h.engine)
    }
}

/// Another relcon: its own client of the same simulator.
fn other_relcon(h: &Harness) -> Arc<dyn ReleaseBackend> {
    let api = ReleaseApi::new(
        http_settings(&h.sim.url(), h.speed, 6),
        Auth::ApiKey(SecretString::from(API_KEY)),
    )
    .expect("the client builds");
    Arc::new(api)
}

struct Driven {
    handle: OpHandle,
    rx: mpsc::UnboundedReceiver<ProgressEvent>,
}

impl Driven {
    fn start(h: &Harness, holder: &str, host: &str, plan: CanaryPlan) -> Driven {
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = control::spawn_driven(
            &h.engine,
            settings(h, holder, host),
            WorkflowKind::Canary,
            Some(plan.bot.clone()),
            tx,
            move |ctx| canary::run(ctx, plan),
        );
        Driven { handle, rx }
    }

    /// Read events until one matches.
    async fn wait_for(&mut self, what: &str, pred: impl Fn(&EventKind) -> bool) -> EventKind {
        tokio::time::timeout(JOIN_TIMEOUT, async {
            while let Some(e) = self.rx.recv().await {
                if pred(&e.kind) {
                    return Some(e.kind);
                }
            }
            None
        })
        .await
        .unwrap_or_else(|_| panic!("no {what} event within the time limit"))
        .unwrap_or_else(|| panic!("the run ended without a {what} event"))
    }

    /// Until the driver says it holds the lease.
    async fn driving(&mut self) {
        self.wait_for(
            "lease taken",
            |k| matches!(k, EventKind::Detail { message } if message.starts_with("driving ")),
        )
        .await;
    }

    async fn report(self) -> relcon::engine::Report {
        tokio::time::timeout(JOIN_TIMEOUT, self.handle.join)
            .await
            .expect("the run reports within the time limit")
            .expect("the run does not panic")
    }
}

async fn the_canary(b: &dyn ReleaseBackend) -> String {
    let ops = b.list_operation_details(Some(BOT), true).await.unwrap();
    ops.first()
        .expect("an operation in progress")
        .operation
        .id
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_relcon_promotes_a_driven_canary_and_get_reports_its_end() {
    let h = Harness::start(Setup::default()).await;
    let mut run = Driven::start(&h, "alice", "ci-a", long_plan());
    run.driving().await;
    let bob = other_relcon(&h);
    let id = the_canary(bob.as_ref()).await;

    // The tree names the driver while it runs; nothing has ended yet.
    let v = operator::look(bob.as_ref(), BOT, None, None).await.unwrap();
    assert_eq!(v.operation.operation.id, id);
    assert!(v.driven, "{}", v.driver);
    assert!(
        v.driver.starts_with("alice on ci-a (lease "),
        "{}",
        v.driver
    );
    assert_eq!(v.exit_code, None);
    let tree = operator::render(&v).join("\n");
    assert!(tree.contains("├─ driver    alice on ci-a"), "{tree}");
    assert!(tree.contains("weight"), "{tree}");

    let sent = operator::send(
        bob.as_ref(),
        BOT,
        Verb::PromoteFull,
        "bob",
        Some("ship it"),
        JOIN_TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(sent.command.state, CommandState::Applied, "{sent:?}");
    assert_eq!(sent.exit_code, exit::OK);
    assert!(
        sent.command
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("promote (operator)"),
        "{sent:?}"
    );
    let report = run.report().await;
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.summary);

    // The lease is given up, the outcome posted, and `get --watch` ends with its code.
    let d = bob.get_operation(&id).await.unwrap();
    assert!(!d.operation.active);
    assert_eq!(Driver::of(&d), Driver::None, "{d:?}");
    let events = bob.operation_events(&id, None).await.unwrap();
    let outcome = events
        .iter()
        .rfind(|e| e.kind == OperationEventKind::Outcome)
        .expect("an outcome event");
    assert!(outcome.message.starts_with("succeeded: "), "{outcome:?}");
    assert!(
        events
            .iter()
            .any(|e| e.kind == OperationEventKind::Decision && e.message.contains("operator")),
        "{events:?}"
    );
    let code = operator::get(bob.as_ref(), BOT, true, Output::Json)
        .await
        .unwrap();
    assert_eq!(code, exit::OK);
    h.assert_audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_from_another_relcon_are_applied_refused_when_moot_and_audited() {
    let h = Harness::start(Setup::default()).await;
    let mut run = Driven::start(&h, "alice", "ci-a", long_plan());
    run.driving().await;
    let bob = other_relcon(&h);
    let b = bob.as_ref();

    let resume_first = operator::send(b, BOT, Verb::Resume, "bob", None, JOIN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(resume_first.command.state, CommandState::Refused);
    assert_eq!(resume_first.exit_code, exit::REFUSED);
    assert!(
        resume_first
            .command
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("not paused"),
        "{resume_first:?}"
    );

    let paused = operator::send(
        b,
        BOT,
        Verb::Pause,
        "bob",
        Some("look at the logs"),
        JOIN_TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(paused.command.state, CommandState::Applied, "{paused:?}");
    let again = operator::send(b, BOT, Verb::Pause, "bob", None, JOIN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(again.command.state, CommandState::Refused, "{again:?}");
    assert!(
        again
            .command
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("already paused")
    );
    let resumed = operator::send(b, BOT, Verb::Resume, "bob", None, JOIN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(resumed.command.state, CommandState::Applied, "{resumed:?}");

    // Watch the run from another relcon until the abort ends it.
    let watcher = {
        let bob = bob.clone();
        tokio::spawn(async move { operator::get(bob.as_ref(), BOT, true, Output::Json).await })
    };
    let aborted = operator::send(b, BOT, Verb::Abort, "bob", None, JOIN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(aborted.command.state, CommandState::Applied, "{aborted:?}");
    let report = run.report().await;
    assert_ne!(report.outcome, Outcome::Succeeded, "{}", report.summary);
    let watched = tokio::time::timeout(JOIN_TIMEOUT, watcher)
        .await
        .expect("get --watch ends with the operation")
        .unwrap()
        .unwrap();
    assert_eq!(watched, exit_code(report.outcome));

    // Pause and resume are audited, with who asked for them.
    let records = h.audit_records();
    for event in ["paused", "resumed"] {
        let r = records
            .iter()
            .find(|r| r.event == event && r.operator == "bob")
            .unwrap_or_else(|| panic!("no {event} record by bob"));
        assert_eq!(r.bot.as_deref(), Some(BOT));
        assert!(
            r.detail
                .as_deref()
                .unwrap_or_default()
                .contains("alice on ci-a"),
            "{r:?}"
        );
    }
    h.assert_audit_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_driver_is_refused_naming_the_holder_its_host_and_the_lease_age() {
    let h = Harness::start(Setup::default()).await;
    let mut first = Driven::start(&h, "alice", "ci-a", long_plan());
    first.driving().await;

    let second = Driven::start(&h, "bob", "ci-b", long_plan());
    let r = second.report().await;
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.summary);
    assert_eq!(exit_code(r.outcome), exit::REFUSED);
    assert!(
        r.summary.contains("driven by alice on ci-a"),
        "{}",
        r.summary
    );
    assert!(
        r.summary.contains("lease ") && r.summary.contains(" old"),
        "{}",
        r.summary
    );
    // Only the first canary exists.
    let w = h.world().await;
    assert_eq!(w.canaries(BOT).len(), 1);

    first
        .handle
        .commands
        .send(relcon::engine::events::OpCommand::Abort)
        .unwrap();
    first.report().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verb_to_an_operation_nobody_drives_says_so_and_sends_nothing() {
    let h = Harness::start(Setup::default()).await;
    // A relcon without leases (an old one, or the engine alone).
    let (tx, mut rx) = mpsc::unbounded_channel();
    let plan = long_plan();
    let handle = h.engine.spawn(tx, move |ctx| canary::run(ctx, plan));
    tokio::time::timeout(JOIN_TIMEOUT, async {
        while let Some(e) = rx.recv().await {
            if matches!(e.kind, EventKind::Linked { .. }) {
                break;
            }
        }
    })
    .await
    .expect("the canary starts");
    let bob = other_relcon(&h);
    let b = bob.as_ref();
    let id = the_canary(b).await;

    let e = operator::send(b, BOT, Verb::Pause, "bob", None, JOIN_TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e.code, exit::REFUSED);
    assert!(
        e.message.starts_with("nobody drives canary "),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("no relcon holds a lease"),
        "{}",
        e.message
    );
    assert!(e.message.contains("Nothing was sent"), "{}", e.message);
    assert!(b.list_commands(&id).await.unwrap().is_empty());

    // A lease that lapsed: its holder, host and how long ago it expired.
    let lease = LeaseRequest {
        holder: "carol".into(),
        host: "ci-c".into(),
        operation_key: "op-carol".into(),
        ttl: Duration::from_secs(1),
    };
    b.acquire_lease(&id, &lease).await.unwrap();
    tokio::time::timeout(JOIN_TIMEOUT, async {
        loop {
            let d = b.get_operation(&id).await.unwrap();
            if d.orphaned {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the lease lapses");
    let e = operator::send(b, BOT, Verb::Abort, "bob", None, JOIN_TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e.code, exit::REFUSED);
    assert!(
        e.message.contains("the lease of carol on ci-c expired "),
        "{}",
        e.message
    );
    assert!(b.list_commands(&id).await.unwrap().is_empty());

    // The same through the command line.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_relcon"))
        .args(["pause", BOT, "--output", "json", "--api-url"])
        .arg(h.sim.url())
        .args(["--clock-speed", &h.speed.to_string()])
        .env("COGNIGY_API_KEY", API_KEY)
        .env_remove("RELCON_CONFIG")
        .env_remove("RELCON_PROFILE")
        .env_remove("COGNIGY_API_URL")
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .env("HOME", dir.path())
        .output()
        .expect("relcon runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::REFUSED)),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("nobody drives canary"), "{stdout}");
    assert!(!stdout.contains(API_KEY), "{stdout}");

    handle
        .commands
        .send(relcon::engine::events::OpCommand::Abort)
        .unwrap();
    tokio::time::timeout(JOIN_TIMEOUT, handle.join)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbs_on_a_bot_without_an_operation_in_progress_say_what_ended() {
    let h = Harness::start(Setup::default()).await;
    let b = h.engine.backend.as_ref();
    let e = operator::send(b, "bot_nope", Verb::Pause, "bob", None, JOIN_TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e.code, exit::NOT_FOUND, "{}", e.message);

    let mut run = Driven::start(&h, "alice", "ci-a", long_plan());
    run.driving().await;
    let promoted = operator::send(b, BOT, Verb::PromoteFull, "bob", None, JOIN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(promoted.command.state, CommandState::Applied);
    run.report().await;
    let e = operator::send(b, BOT, Verb::Retry, "bob", None, JOIN_TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e.code, exit::REFUSED);
    assert!(
        e.message.contains("has no operation in progress"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("relcon canary bot_abc123 2.1.0-canary"),
        "{}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_renews_its_lease_past_its_first_expiry() {
    let h = Harness::start(Setup::default()).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let plan = long_plan();
    let bot = Some(plan.bot.clone());
    // Ten minutes of server time: a second of wall time at the tests' speed.
    let s = DriverSettings {
        ttl: Duration::from_secs(600),
        ..settings(&h, "alice", "ci-a")
    };
    let handle = control::spawn_driven(&h.engine, s, WorkflowKind::Canary, bot, tx, move |ctx| {
        canary::run(ctx, plan)
    });
    tokio::time::timeout(JOIN_TIMEOUT, async {
        while let Some(e) = rx.recv().await {
            if matches!(&e.kind, EventKind::Detail { message } if message.starts_with("driving ")) {
                break;
            }
        }
    })
    .await
    .expect("the lease is taken");
    let b = h.engine.backend.as_ref();
    let id = the_canary(b).await;
    let first = b.get_operation(&id).await.unwrap();
    let first_expiry = first.lease.clone().expect("a lease").expires_at;
    // Until the server's clock is past the first lease's expiry.
    let later = tokio::time::timeout(JOIN_TIMEOUT, async {
        loop {
            let d = b.get_operation(&id).await.unwrap();
            let now = d.server_time.clone().unwrap_or_default();
            if control::seconds_between(&first_expiry, &now).unwrap_or(0) > 0 {
                return d;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the server's clock runs");
    let lease = later.lease.clone().expect("still a lease");
    assert!(!later.orphaned, "{later:?}");
    assert!(Driver::of(&later).is_live(), "{later:?}");
    assert_eq!(lease.acquired_at, first.lease.unwrap().acquired_at);
    assert_ne!(lease.expires_at, first_expiry);

    handle
        .commands
        .send(relcon::engine::events::OpCommand::Abort)
        .unwrap();
    tokio::time::timeout(JOIN_TIMEOUT, handle.join)
        .await
        .unwrap()
        .unwrap();
}
