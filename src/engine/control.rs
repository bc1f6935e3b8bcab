//! The driver of an operation on the server's operation control API (a relcon extension,
//! docs/operation-control.md): whoever runs a workflow holds a lease on its server
//! operation, renews it, takes the commands other relcons post, hands them to the workflow
//! as [`OpCommand`]s, acknowledges each once the workflow acted on it (or could not), posts
//! what happens as events, and gives the lease up at the end.
//!
//! [`spawn_driven`] wraps [`Engine::spawn`]: before the workflow runs it refuses a bot whose
//! operation another live lease holds, naming the holder, its host and the lease's age.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::events::{EventKind, OpCommand, OpId, Outcome, ProgressEvent, WorkflowKind};
use super::{Ctx, Engine, OpHandle, Report, Stop};
use crate::audit::AuditEntry;
use crate::backend::{BackendError, LeaseRequest, ReleaseBackend};
use crate::clock::Clock;
use crate::domain::{
    CommandState, ControlCommand, OperationCommand, OperationDetail, OperationEventKind,
    OperationKind,
};

/// The shortest lease, in server time.
pub const MIN_TTL: Duration = Duration::from_secs(30);
/// The longest lease the server grants in one request.
pub const MAX_TTL: Duration = Duration::from_secs(3600);
/// A lease lasts at least this long in wall time, however fast the server's clock runs.
const MIN_TTL_WALL: Duration = Duration::from_secs(6);
/// How often the driver asks the server for new commands (server time): every read is one
/// of the caller's 1,000 per 5 minutes, so a remote pause or abort is taken within 5 s.
const COMMAND_POLL: Duration = Duration::from_secs(5);
/// And never more often than this in wall time, however fast the server's clock runs.
const COMMAND_POLL_WALL: Duration = Duration::from_millis(500);

/// Who drives, from where, and how long a lease lasts.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverSettings {
    /// The operator, as the audit trail names them.
    pub holder: String,
    /// The machine relcon runs on.
    pub host: String,
    /// Server time a lease lasts unless renewed; renewed every third of it.
    pub ttl: Duration,
    /// Server time between two reads of pending commands (at least half a wall second).
    pub command_poll: Duration,
    /// The key of a lease taken before the run started (an adoption): the driver renews it
    /// instead of taking one under the run's id, and the bot is not checked for live leases.
    pub lease_key: Option<String>,
}

impl DriverSettings {
    /// The engine's operator on this host, with a lease of at least [`MIN_TTL`] of server
    /// time and six seconds of wall time.
    pub fn for_engine(engine: &Engine) -> DriverSettings {
        DriverSettings {
            holder: engine.operator.clone(),
            host: hostname(),
            ttl: lease_ttl(engine.clock),
            command_poll: COMMAND_POLL,
            lease_key: None,
        }
    }
}

/// The lease length for a clock: [`MIN_TTL`] of server time, at least six wall seconds,
/// at most [`MAX_TTL`].
pub fn lease_ttl(clock: Clock) -> Duration {
    MIN_TTL.max(clock.to_server(MIN_TTL_WALL)).min(MAX_TTL)
}

/// This machine's name (`HOSTNAME`, else the kernel's), `localhost` when neither is known.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".into())
}

/// Whole seconds from `from` to `to`, two RFC 3339 stamps; `None` if either does not parse.
pub fn seconds_between(from: &str, to: &str) -> Option<i64> {
    let a = DateTime::parse_from_rfc3339(from).ok()?;
    let b = DateTime::parse_from_rfc3339(to).ok()?;
    Some((b.with_timezone(&Utc) - a.with_timezone(&Utc)).num_seconds())
}

/// `42s`, `3m05s`, `2h10m`.
pub fn age_text(secs: i64) -> String {
    let s = secs.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// Who drives an operation, as the server's answer says.
#[derive(Debug, Clone, PartialEq)]
pub enum Driver {
    /// A live lease: holder, host, seconds since it was taken, seconds until it expires.
    Live {
        holder: String,
        host: String,
        age: i64,
        expires_in: i64,
    },
    /// The lease expired this many seconds ago.
    Expired {
        holder: String,
        host: String,
        ago: i64,
    },
    /// Nobody ever took a lease on it (or the last holder gave it up).
    None,
}

impl Driver {
    pub fn of(d: &OperationDetail) -> Driver {
        let Some(l) = &d.lease else {
            return Driver::None;
        };
        let now = d.server_time.as_deref().unwrap_or(&l.renewed_at);
        let expires_in = seconds_between(now, &l.expires_at).unwrap_or(0);
        if expires_in > 0 && !d.orphaned {
            Driver::Live {
                holder: l.holder.clone(),
                host: l.host.clone(),
                age: seconds_between(&l.acquired_at, now).unwrap_or(0),
                expires_in,
            }
        } else {
            Driver::Expired {
                holder: l.holder.clone(),
                host: l.host.clone(),
                ago: -expires_in,
            }
        }
    }

    pub fn is_live(&self) -> bool {
        matches!(self, Driver::Live { .. })
    }

    /// `alice on ci-7 (lease 42s old, expires in 20s)`, `nobody (alice on ci-7's lease
    /// expired 3m05s ago)`, `nobody (no lease)`.
    pub fn describe(&self) -> String {
        use crate::sanitize::clean;
        match self {
            Driver::Live {
                holder,
                host,
                age,
                expires_in,
            } => format!(
                "{} on {} (lease {} old, expires in {} unless renewed)",
                clean(holder),
                clean(host),
                age_text(*age),
                age_text(*expires_in)
            ),
            Driver::Expired { holder, host, ago } => format!(
                "nobody ({} on {}'s lease expired {} ago)",
                clean(holder),
                clean(host),
                age_text(*ago)
            ),
            Driver::None => "nobody (no relcon holds a lease on it)".into(),
        }
    }
}

/// How long (server time) a canary may run with nobody driving it before the next relcon
/// that sees it rolls it back: the plan is not on the server, so one default for all.
pub const ORPHAN_LIMIT: Duration = Duration::from_secs(600);
/// Sets [`ORPHAN_LIMIT`]: a duration (`10m`, `90s`) or `off`.
pub const ORPHAN_LIMIT_ENV: &str = "RELCON_ORPHAN_LIMIT";

/// The limit in force: [`ORPHAN_LIMIT_ENV`] if set (`None` for `off`), else [`ORPHAN_LIMIT`].
pub fn orphan_limit() -> Option<Duration> {
    match std::env::var(ORPHAN_LIMIT_ENV) {
        Ok(v) if v.trim().eq_ignore_ascii_case("off") => None,
        Ok(v) if !v.trim().is_empty() => {
            Some(crate::config::parse_duration(v.trim()).unwrap_or(ORPHAN_LIMIT))
        }
        _ => Some(ORPHAN_LIMIT),
    }
}

/// An operation in progress that nobody drives: its lease expired, or no relcon holds one.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Orphan {
    pub operation_id: String,
    pub kind: OperationKind,
    pub bot: Option<String>,
    pub state: String,
    /// The last holder and its host (none: nobody ever held a lease, or it was given up).
    pub holder: Option<String>,
    pub host: Option<String>,
    /// Server seconds since the lease expired (without a lease: since the operation last
    /// changed).
    pub alone_for: i64,
    pub lease_expired: bool,
}

impl Orphan {
    /// The orphan `d` is, if it is one.
    pub fn of(d: &OperationDetail) -> Option<Orphan> {
        if !d.operation.active {
            return None;
        }
        let (holder, host, alone_for, lease_expired) = match Driver::of(d) {
            Driver::Live { .. } => return None,
            Driver::Expired { holder, host, ago } => (Some(holder), Some(host), ago, true),
            Driver::None => {
                let now = d.server_time.as_deref().unwrap_or(&d.operation.updated_at);
                let since = seconds_between(&d.operation.updated_at, now).unwrap_or(0);
                (None, None, since.max(0), false)
            }
        };
        Some(Orphan {
            operation_id: d.operation.id.clone(),
            kind: d.operation.kind,
            bot: d.operation.bot_id.clone(),
            state: d.operation.state.clone(),
            holder,
            host,
            alone_for,
            lease_expired,
        })
    }

    /// `HOLDER@HOST`, or `nobody`.
    pub fn holder_at(&self) -> String {
        use crate::sanitize::clean;
        match (&self.holder, &self.host) {
            (Some(h), Some(x)) => format!("{}@{}", clean(h), clean(x)),
            _ => "nobody".into(),
        }
    }

    /// `lease of alice on ci-7 expired 3m05s ago`, `no relcon holds a lease (unchanged for 42s)`.
    pub fn why(&self) -> String {
        use crate::sanitize::clean;
        match (&self.holder, &self.host, self.lease_expired) {
            (Some(h), Some(x), true) => format!(
                "the lease of {} on {} expired {} ago",
                clean(h),
                clean(x),
                age_text(self.alone_for)
            ),
            _ => format!(
                "no relcon holds a lease on it (unchanged for {})",
                age_text(self.alone_for)
            ),
        }
    }

    /// One line: `orphaned canary cnry_000001 (running): the lease of … expired 3m05s ago`.
    pub fn describe(&self) -> String {
        format!(
            "orphaned {} {} ({}): {}",
            self.kind.as_str(),
            crate::sanitize::clean(&self.operation_id),
            crate::sanitize::clean(&self.state).replace('_', " "),
            self.why()
        )
    }

    /// Left alone longer than `limit`: a canary whose lease expired that long ago. A canary
    /// that never had a lease is another tool's (a script on the Release API drives it
    /// without one): it is shown as orphaned, and can be adopted or ended by a person, but
    /// is never rolled back behind its owner's back.
    pub fn overdue(&self, limit: Duration) -> bool {
        self.kind == OperationKind::Canary
            && self.lease_expired
            && self.alone_for.max(0) as u64 > limit.as_secs()
    }
}

/// A canary [`sweep_orphans`] rolled back.
#[derive(Debug, Clone, PartialEq)]
pub struct Swept {
    pub operation_id: String,
    pub bot: Option<String>,
    /// Why, as the audit record says it.
    pub reason: String,
}

/// The one place that rolls back canaries left alone too long: every orphaned canary of
/// `bot` (all bots without one) alone longer than [`orphan_limit`] is rolled back to its
/// baseline, with an audit record saying why. The relcon takes the expired lease first, so
/// of two that see the same orphan only one acts. `seen_by` names the command, for the
/// record. Best effort: a failure leaves the canary for the next relcon.
pub async fn sweep_orphans(engine: &Engine, bot: Option<&str>, seen_by: &str) -> Vec<Swept> {
    let Some(limit) = orphan_limit() else {
        return Vec::new();
    };
    let backend = engine.backend.as_ref();
    let Ok(ops) = backend.list_operation_details(bot, true).await else {
        return Vec::new();
    };
    let mut swept = Vec::new();
    for d in &ops {
        let Some(o) = Orphan::of(d).filter(|o| o.overdue(limit)) else {
            continue;
        };
        let id = o.operation_id.clone();
        let key = format!("op-{}", uuid::Uuid::now_v7());
        let req = LeaseRequest {
            holder: engine.operator.clone(),
            host: hostname(),
            operation_key: key.clone(),
            ttl: lease_ttl(engine.clock),
        };
        if backend.acquire_lease(&id, &req).await.is_err() {
            // Another relcon took it first (or the server refuses): not ours to act on.
            continue;
        }
        let reason = format!(
            "orphaned: {}, longer than the {} a canary may run with nobody driving it ({ORPHAN_LIMIT_ENV}); rolled back to its baseline by {seen_by} ({} on {})",
            o.why(),
            age_text(limit.as_secs() as i64),
            req.holder,
            req.host
        );
        let mut entry = AuditEntry::new(engine.operator.clone(), "canary", "orphan_rolled_back");
        entry.operation_id = Some(key.clone());
        entry.bot = o.bot.clone();
        entry.environment = d.operation.environment_id.clone();
        entry.from_version = d.operation.version_id.clone();
        entry.outcome = Some(Outcome::RolledBack.as_str().into());
        entry.detail = Some(format!("{reason}; canary {id}"));
        // The decision is recorded before it is carried out.
        if engine.audit.append(entry).await.is_ok() {
            match backend.rollback_canary(&id, &reason).await {
                Ok(_) => {
                    let text = format!("rolled_back: {reason}");
                    let _ = backend
                        .post_event(&id, OperationEventKind::Outcome, &text)
                        .await;
                    swept.push(Swept {
                        operation_id: id.clone(),
                        bot: o.bot.clone(),
                        reason,
                    });
                }
                Err(e) => {
                    let mut entry = AuditEntry::new(
                        engine.operator.clone(),
                        "canary",
                        "orphan_rollback_failed",
                    );
                    entry.operation_id = Some(key.clone());
                    entry.bot = o.bot.clone();
                    entry.detail = Some(format!("canary {id}: {e}"));
                    let _ = engine.audit.append(entry).await;
                }
            }
        }
        let _ = backend.release_lease(&id, &key).await;
    }
    swept
}

/// [`check_bot_free`], after rolling back the bot's canaries left alone too long
/// ([`sweep_orphans`]): the start of a workflow is one of the relcons that see them.
pub async fn check_bot_free_sweeping(engine: &Engine, bot: &str) -> Result<(), Stop> {
    sweep_orphans(engine, Some(bot), "the start of a workflow").await;
    check_bot_free(engine.backend.as_ref(), bot).await
}

/// Who drives the operation `id`, in words, once its driver has a lease or after
/// [`NAMING_WAIT`] (wall time): of two relcons that raced, the winner takes its lease right
/// after its create answers, so the loser looks a few times. `None` when it cannot be read.
async fn driver_named(backend: &dyn ReleaseBackend, id: &str) -> Option<String> {
    let started = std::time::Instant::now();
    loop {
        let driver = Driver::of(&backend.get_operation(id).await.ok()?);
        if driver.is_live() || started.elapsed() >= NAMING_WAIT {
            return Some(driver.describe());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The refusal to start on `bot` while its `kind` operation `id` is in progress, saying
/// who drives it and what to do: the server's own answer names only the id.
pub async fn busy(backend: &dyn ReleaseBackend, bot: &str, kind: &str, id: &str) -> Stop {
    let by = driver_named(backend, id)
        .await
        .map(|d| format!(", driven by {d}"))
        .unwrap_or_default();
    Stop::Refused(format!(
        "{bot} already has a {kind} in progress ({id}){by}: wait for it to end, or act on it with `relcon get|pause|resume|promote|abort {bot}`",
        bot = crate::sanitize::clean(bot),
        id = crate::sanitize::clean(id),
    ))
}

/// A create the server refused because another operation is in the way, said with who
/// drives that operation.
pub async fn conflict_named(backend: &dyn ReleaseBackend, e: BackendError) -> Stop {
    let BackendError::Conflict {
        conflicts_with: Some(other),
        ..
    } = &e
    else {
        return Stop::Backend(e);
    };
    match driver_named(backend, other).await {
        Some(d) => Stop::Refused(format!(
            "{e}; {} is driven by {d}",
            crate::sanitize::clean(other)
        )),
        None => Stop::Backend(e),
    }
}

/// How long [`conflict_named`] looks for the winner's lease.
pub const NAMING_WAIT: Duration = Duration::from_secs(2);

/// Refuse to start on `bot` while another relcon's live lease holds one of its operations.
pub async fn check_bot_free(backend: &dyn ReleaseBackend, bot: &str) -> Result<(), Stop> {
    let ops = match backend.list_operation_details(Some(bot), true).await {
        Ok(ops) => ops,
        // A server without the extension has no leases to honour.
        Err(BackendError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(Stop::Backend(e)),
    };
    for d in &ops {
        let driver = Driver::of(d);
        if driver.is_live() {
            return Err(Stop::Refused(format!(
                "bot {bot} has a {} in progress ({}) driven by {}: wait for it to end, or act on it with `relcon get|pause|resume|promote|abort {bot}`",
                d.operation.kind.as_str(),
                d.operation.id,
                driver.describe(),
            )));
        }
    }
    Ok(())
}

/// Start `run` as [`Engine::spawn`] does, driven on the server: refused first if another
/// live lease holds an operation of `bot`; then, once the workflow names its server
/// operation, a lease on it is held, commands are taken and events posted until it ends.
/// The handle's `join` resolves after the lease is given up.
pub fn spawn_driven<F, Fut>(
    engine: &Engine,
    settings: DriverSettings,
    workflow: WorkflowKind,
    bot: Option<String>,
    events: mpsc::UnboundedSender<ProgressEvent>,
    run: F,
) -> OpHandle
where
    F: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Report> + Send + 'static,
{
    let (inner_tx, inner_rx) = mpsc::unbounded_channel();
    let (key_tx, key_rx) = oneshot::channel::<String>();
    // An adoption took its lease already: nothing to check, and that lease is the one to renew.
    let check_bot = bot.clone().filter(|_| settings.lease_key.is_none());
    let lease_key = settings.lease_key.clone();
    let handle = engine.spawn(inner_tx, move |ctx: Ctx| async move {
        let _ = key_tx.send(lease_key.unwrap_or_else(|| ctx.op_key.clone()));
        if let Some(bot) = &check_bot
            && let Err(stop) = check_bot_free_sweeping(&ctx.engine, bot).await
        {
            let details = super::details(&ctx, json!({"bot": bot}));
            return ctx.finish_stopped(workflow, stop, details).await;
        }
        run(ctx).await
    });
    let driver = Driving {
        engine: engine.clone(),
        settings,
        op: handle.id,
        workflow,
        bot,
        events,
        commands: handle.commands.clone(),
        op_key: String::new(),
        server_id: None,
        steps: Vec::new(),
        traffic_step: None,
        paused: false,
        waiting: VecDeque::new(),
    };
    let driver_task = tokio::spawn(driver.run(inner_rx, key_rx));
    let wf = handle.join;
    let id = handle.id;
    let join = tokio::spawn(async move {
        let report = wf.await;
        let _ = driver_task.await;
        report.unwrap_or_else(|e| Report {
            op: id,
            workflow,
            outcome: Outcome::Failed,
            summary: format!("the workflow stopped unexpectedly: {e}"),
            details: json!({}),
        })
    });
    OpHandle {
        id: handle.id,
        commands: handle.commands,
        cancel: handle.cancel,
        join,
    }
}

/// A command handed to the workflow, waiting for the event that shows it took effect.
struct Waiting {
    command: OperationCommand,
}

struct Driving {
    engine: Engine,
    settings: DriverSettings,
    op: OpId,
    workflow: WorkflowKind,
    bot: Option<String>,
    events: mpsc::UnboundedSender<ProgressEvent>,
    commands: mpsc::UnboundedSender<OpCommand>,
    op_key: String,
    /// The server operation, once the workflow linked it and the lease was taken.
    server_id: Option<String>,
    steps: Vec<String>,
    /// The canary's traffic step: (step, of, weight).
    traffic_step: Option<(usize, usize, f64)>,
    paused: bool,
    waiting: VecDeque<Waiting>,
}

impl Driving {
    fn backend(&self) -> &dyn ReleaseBackend {
        self.engine.backend.as_ref()
    }

    fn say(&self, message: String) {
        let _ = self.events.send(ProgressEvent {
            op: self.op,
            at: Utc::now(),
            kind: EventKind::Detail { message },
        });
    }

    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<ProgressEvent>,
        key: oneshot::Receiver<String>,
    ) {
        self.op_key = key.await.unwrap_or_default();
        let clock = self.engine.clock;
        let renew_every = self.settings.ttl / 3;
        let floor = Duration::from_millis(10);
        let mut poll = tokio::time::interval(
            clock
                .to_wall(self.settings.command_poll)
                .max(COMMAND_POLL_WALL.min(self.settings.command_poll))
                .max(floor),
        );
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Its own timer, so that events and command reads never put a renewal off.
        let mut renew = tokio::time::interval(clock.to_wall(renew_every).max(floor));
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renew.reset();
        loop {
            tokio::select! {
                e = rx.recv() => match e {
                    Some(e) => {
                        let done = self.observe(&e).await;
                        let _ = self.events.send(e);
                        if done {
                            break;
                        }
                    }
                    None => break,
                },
                _ = poll.tick(), if self.server_id.is_some() => self.take_commands().await,
                _ = renew.tick(), if self.server_id.is_some() => self.renew().await,
            }
        }
        // Whatever the workflow still says after its end reaches the consumer.
        while let Some(e) = rx.recv().await {
            let _ = self.events.send(e);
        }
    }

    /// Act on one workflow event; `true` once the workflow finished and the lease is given up.
    async fn observe(&mut self, e: &ProgressEvent) -> bool {
        match &e.kind {
            EventKind::Started { steps, bot, .. } => {
                self.steps = steps.clone();
                if self.bot.is_none() {
                    self.bot = bot.clone();
                }
            }
            EventKind::Linked { server_id } => self.take_lease(server_id).await,
            EventKind::StepStarted { step } => {
                let k = self.steps.iter().position(|s| s == step).map(|i| i + 1);
                let text = match k {
                    Some(k) => format!("{step} ({k}/{})", self.steps.len()),
                    None => step.clone(),
                };
                self.post(OperationEventKind::Step, &text).await;
            }
            EventKind::Canary(s) => {
                let now = (s.step, s.steps_total, s.weight_set);
                if self.traffic_step != Some(now) {
                    self.traffic_step = Some(now);
                    let text = format!("step {}/{} at {}%", s.step, s.steps_total, s.weight_set);
                    self.post(OperationEventKind::Step, &text).await;
                }
            }
            EventKind::CanaryDecision(d) => {
                let text = format!(
                    "step {} at {}%: {} ({:?}) — {}",
                    d.step, d.weight, d.action, d.verdict, d.reason
                )
                .replace("(Pass)", "(pass)")
                .replace("(Fail)", "(fail)")
                .replace("(Inconclusive)", "(inconclusive)");
                self.post(OperationEventKind::Decision, &text).await;
                if d.action.contains("(operator)") {
                    let detail = format!("{} at step {} ({}%)", d.action, d.step, d.weight);
                    self.settle(
                        |c| {
                            matches!(
                                c,
                                ControlCommand::PromoteStep
                                    | ControlCommand::PromoteFull
                                    | ControlCommand::Resume
                            )
                        },
                        &detail,
                    )
                    .await;
                }
            }
            EventKind::Paused => {
                self.paused = true;
                let by = self.settle(|c| c == ControlCommand::Pause, "paused").await;
                self.audit_pause("paused", by).await;
                self.post(OperationEventKind::Detail, "paused").await;
            }
            EventKind::Resumed => {
                self.paused = false;
                let by = self
                    .settle(|c| c == ControlCommand::Resume, "resumed")
                    .await;
                self.audit_pause("resumed", by).await;
                self.post(OperationEventKind::Detail, "resumed").await;
            }
            EventKind::Finished { outcome, summary } => {
                self.end(*outcome, summary).await;
                return true;
            }
            _ => {}
        }
        false
    }

    async fn post(&self, kind: OperationEventKind, message: &str) {
        if let Some(id) = &self.server_id {
            // Best effort: followers miss a line, the release goes on.
            let _ = self.backend().post_event(id, kind, message).await;
        }
    }

    fn request(&self) -> LeaseRequest {
        LeaseRequest {
            holder: self.settings.holder.clone(),
            host: self.settings.host.clone(),
            operation_key: self.op_key.clone(),
            ttl: self.settings.ttl,
        }
    }

    async fn take_lease(&mut self, server_id: &str) {
        let req = self.request();
        match self.backend().acquire_lease(server_id, &req).await {
            Ok(_) => {
                self.server_id = Some(server_id.to_string());
                self.say(format!(
                    "driving {server_id}: lease held as {} on {} for {}s of server time, renewed every {}s; `relcon get|pause|resume|promote|abort` from any relcon reach it",
                    req.holder,
                    req.host,
                    req.ttl.as_secs(),
                    (req.ttl / 3).as_secs()
                ));
            }
            Err(e @ BackendError::Unsupported { .. }) => {
                self.say(format!("no remote control for this run: {e}"))
            }
            Err(e) => self.say(format!(
                "cannot take the lease on {server_id}: {e}; other relcons cannot send it commands"
            )),
        }
    }

    async fn renew(&mut self) {
        let Some(id) = self.server_id.clone() else {
            return;
        };
        let req = self.request();
        match self.backend().acquire_lease(&id, &req).await {
            Ok(_) => {}
            Err(e @ BackendError::Conflict { .. }) => {
                self.say(format!(
                    "lost the lease on {id} (it expired and another relcon took it over): {e}; this run no longer takes commands from the server"
                ));
                self.server_id = None;
            }
            // A flaky renewal is tried again a third of a lease later.
            Err(e) => self.say(format!("could not renew the lease on {id}: {e}")),
        }
    }

    async fn take_commands(&mut self) {
        let Some(id) = self.server_id.clone() else {
            return;
        };
        let Ok(pending) = self.backend().pending_commands(&id).await else {
            return;
        };
        for c in pending {
            if self.waiting.iter().any(|w| w.command.id == c.id) {
                continue;
            }
            match self.accept(c.command) {
                Ok(cmd) => {
                    self.say(format!(
                        "{} asked to {}{}",
                        crate::sanitize::clean(&c.operator),
                        c.command.as_str().replace('_', " "),
                        c.reason
                            .as_deref()
                            .map(|r| format!(": {}", crate::sanitize::clean(r)))
                            .unwrap_or_default()
                    ));
                    let _ = self.commands.send(cmd);
                    self.waiting.push_back(Waiting { command: c });
                }
                Err(why) => {
                    self.ack(&c, CommandState::Refused, &why).await;
                }
            }
        }
    }

    /// Whether the workflow can take `c` now; the refusal's words when not.
    fn accept(&self, c: ControlCommand) -> Result<OpCommand, String> {
        let what = self.workflow.as_str();
        match c {
            ControlCommand::PromoteStep | ControlCommand::PromoteFull
                if self.workflow != WorkflowKind::Canary =>
            {
                Err(format!(
                    "a {what} has no traffic steps to promote; only a canary can be promoted"
                ))
            }
            ControlCommand::PromoteStep => Ok(OpCommand::PromoteStep),
            ControlCommand::PromoteFull => Ok(OpCommand::PromoteFull),
            ControlCommand::Pause if self.paused => Err(format!("the {what} is already paused")),
            ControlCommand::Pause => Ok(OpCommand::Pause),
            ControlCommand::Resume if !self.paused => Err(format!(
                "the {what} is not paused{}",
                self.traffic_step
                    .map(|(k, n, w)| format!(" (it runs step {k}/{n} at {w}%)"))
                    .unwrap_or_default()
            )),
            ControlCommand::Resume => Ok(OpCommand::Resume),
            ControlCommand::Abort => Ok(OpCommand::Abort),
        }
    }

    async fn ack(&self, c: &OperationCommand, state: CommandState, detail: &str) {
        if let Some(id) = &self.server_id {
            let _ = self.backend().ack_command(id, &c.id, state, detail).await;
        }
    }

    /// Acknowledge, as applied, the oldest forwarded command `matches` accepts; its operator.
    async fn settle(
        &mut self,
        matches: impl Fn(ControlCommand) -> bool,
        detail: &str,
    ) -> Option<String> {
        let i = self
            .waiting
            .iter()
            .position(|w| matches(w.command.command))?;
        let w = self.waiting.remove(i)?;
        self.ack(&w.command, CommandState::Applied, detail).await;
        Some(w.command.operator)
    }

    async fn audit_pause(&self, event: &str, by: Option<String>) {
        let mut entry = AuditEntry::new(
            by.clone().unwrap_or_else(|| self.engine.operator.clone()),
            self.workflow.as_str(),
            event,
        );
        entry.operation_id = Some(self.op_key.clone());
        entry.bot = self.bot.clone();
        entry.detail = Some(match (&by, &self.server_id) {
            (Some(_), Some(id)) => format!(
                "{event} through the server's operation control of {id}, driven by {} on {}",
                self.settings.holder, self.settings.host
            ),
            _ => format!("{event} by the operator of this relcon"),
        });
        if let Err(e) = self.engine.audit.append(entry).await {
            self.say(format!("cannot audit the {event} operation: {e}"));
        }
    }

    /// The workflow finished: answer what is still waiting, post the outcome, give the lease up.
    async fn end(&mut self, outcome: Outcome, summary: &str) {
        while let Some(w) = self.waiting.pop_front() {
            let (state, detail) = if w.command.command == ControlCommand::Abort {
                (
                    CommandState::Applied,
                    format!("aborted: {}", outcome.as_str()),
                )
            } else {
                (
                    CommandState::Refused,
                    format!(
                        "the operation ended ({}) before it acted on the command",
                        outcome.as_str()
                    ),
                )
            };
            self.ack(&w.command, state, &detail).await;
        }
        let Some(id) = self.server_id.take() else {
            return;
        };
        // Commands that arrived too late to forward.
        if let Ok(pending) = self.backend().pending_commands(&id).await {
            for c in pending {
                let _ = self
                    .backend()
                    .ack_command(
                        &id,
                        &c.id,
                        CommandState::Refused,
                        &format!("the operation had ended ({})", outcome.as_str()),
                    )
                    .await;
            }
        }
        let text = format!("{}: {summary}", outcome.as_str());
        let _ = self
            .backend()
            .post_event(&id, OperationEventKind::Outcome, &text)
            .await;
        let _ = self.backend().release_lease(&id, &self.op_key).await;
    }
}

/// The outcome an `outcome` event names (its first word, as the driver writes it).
pub fn outcome_of_event(message: &str) -> Option<Outcome> {
    let word = message.split(':').next()?.trim();
    [
        Outcome::Succeeded,
        Outcome::RolledBack,
        Outcome::Refused,
        Outcome::Failed,
        Outcome::Cancelled,
        Outcome::TimedOut,
        Outcome::Paused,
    ]
    .into_iter()
    .find(|o| o.as_str() == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(age_text(5), "5s");
        assert_eq!(age_text(185), "3m05s");
        assert_eq!(age_text(7800), "2h10m");
        assert_eq!(age_text(-3), "0s");
    }

    #[test]
    fn seconds_between_stamps() {
        assert_eq!(
            seconds_between("2026-11-22T08:00:00Z", "2026-11-22T08:01:05Z"),
            Some(65)
        );
        assert_eq!(seconds_between("soon", "2026-11-22T08:01:05Z"), None);
    }

    #[test]
    fn outcome_events_name_their_outcome() {
        assert_eq!(
            outcome_of_event("rolled_back: error rate over tolerance"),
            Some(Outcome::RolledBack)
        );
        assert_eq!(outcome_of_event("succeeded"), Some(Outcome::Succeeded));
        assert_eq!(outcome_of_event("step 2/5 at 10%"), None);
    }

    #[test]
    fn a_fast_clock_still_gets_a_lease_of_some_wall_seconds() {
        assert_eq!(lease_ttl(Clock::real()), MIN_TTL);
        assert_eq!(lease_ttl(Clock::scaled(600.0)), Duration::from_secs(3600));
        assert_eq!(lease_ttl(Clock::scaled(100.0)), Duration::from_secs(600));
    }
}
