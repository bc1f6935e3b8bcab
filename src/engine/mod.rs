//! The workflows: cancellable step machines that drive a [`ReleaseBackend`], stream
//! [`ProgressEvent`]s and write the audit trail. The TUI and the headless CLI drive the same
//! engine; neither sees HTTP.
//!
//! Every workflow runs in its own task with a [`Ctx`]: it emits events, listens for
//! operator commands, waits on the (possibly scaled) clock, and writes an audit record —
//! fsynced — before each state change takes effect.

pub mod canary;
pub mod control;
pub mod deploy;
pub mod environment;
pub mod events;
pub mod flows;
pub mod judge;
pub mod notify;
mod poll;
mod resume;
pub mod rollback;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::audit::{AuditEntry, AuditLog};
use crate::backend::{BackendError, ReleaseBackend};
use crate::clock::Clock;
use events::{EventKind, OpCommand, OpId, Outcome, ProgressEvent, WorkflowKind};

pub use poll::{poll_after, poll_until};

/// What a finished workflow reports: its outcome, a one-line summary, and the facts a CI
/// job or the console wants (ids, versions, verdicts).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub op: OpId,
    pub workflow: WorkflowKind,
    pub outcome: Outcome,
    pub summary: String,
    pub details: Value,
}

/// Why a workflow stopped early.
#[derive(Debug)]
pub enum Stop {
    /// Validation refused; nothing was changed.
    Refused(String),
    /// The bot, version, environment or operation named does not exist; nothing changed.
    NotFound(String),
    /// The server or the network failed.
    Backend(BackendError),
    /// The operator aborted.
    Cancelled,
    /// Waited longer than the workflow allows.
    TimedOut(String),
    /// The audit trail could not be written: the workflow must not go on.
    Audit(String),
    /// Anything else that went wrong, in words.
    Failed(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Refused(s) | Stop::NotFound(s) => write!(f, "{s}"),
            Stop::Backend(e) => write!(f, "{e}"),
            Stop::Cancelled => write!(f, "cancelled by the operator"),
            Stop::TimedOut(s) => write!(f, "timed out: {s}"),
            Stop::Audit(s) => write!(f, "audit trail not writable: {s}"),
            Stop::Failed(s) => write!(f, "{s}"),
        }
    }
}

impl From<BackendError> for Stop {
    fn from(e: BackendError) -> Stop {
        Stop::Backend(e)
    }
}

impl Stop {
    /// The credentials or their scopes were refused: a configuration problem.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Stop::Backend(
                BackendError::Unauthorized { .. }
                    | BackendError::Forbidden { .. }
                    | BackendError::Config { .. }
            )
        )
    }

    /// Something named does not exist (a bot, version, environment, operation).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Stop::NotFound(_) | Stop::Backend(BackendError::NotFound { .. })
        )
    }

    /// The outcome a workflow reports when it stops this way without restoring anything.
    pub fn outcome(&self) -> Outcome {
        match self {
            Stop::Refused(_) | Stop::NotFound(_) => Outcome::Refused,
            Stop::Backend(BackendError::NotFound { .. }) => Outcome::Refused,
            Stop::Cancelled => Outcome::Cancelled,
            Stop::TimedOut(_) => Outcome::TimedOut,
            Stop::Backend(BackendError::Timeout { .. }) => Outcome::TimedOut,
            // The server refused the request as it stood: nothing was changed.
            Stop::Backend(
                BackendError::Conflict { .. }
                | BackendError::Invalid { .. }
                | BackendError::Unsupported { .. },
            ) => Outcome::Refused,
            _ => Outcome::Failed,
        }
    }
}

/// The shared parts every workflow run needs.
#[derive(Clone)]
pub struct Engine {
    pub backend: Arc<dyn ReleaseBackend>,
    pub audit: AuditLog,
    /// Where events go (signed webhooks in the product).
    pub webhooks: Option<Arc<dyn notify::Notifier>>,
    pub clock: Clock,
    pub operator: String,
    /// The intent journal (none: operations are not journaled, e.g. in unit tests).
    pub journal: Option<crate::journal::JournalSink>,
    next_op: Arc<AtomicU64>,
}

/// A started workflow: send it commands, await its report.
pub struct OpHandle {
    pub id: OpId,
    pub commands: mpsc::UnboundedSender<OpCommand>,
    pub cancel: CancellationToken,
    pub join: tokio::task::JoinHandle<Report>,
}

impl Engine {
    pub fn new(
        backend: Arc<dyn ReleaseBackend>,
        audit: AuditLog,
        webhooks: Option<Arc<dyn notify::Notifier>>,
        clock: Clock,
        operator: impl Into<String>,
    ) -> Engine {
        Engine {
            backend,
            audit,
            webhooks,
            clock,
            operator: operator.into(),
            journal: None,
            next_op: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Journal every operation's intent and progress (see [`crate::journal`]).
    pub fn with_journal(mut self, sink: crate::journal::JournalSink) -> Engine {
        self.journal = Some(sink);
        self
    }

    /// Start a workflow in its own task. `run` gets the context and returns the report.
    pub fn spawn<F, Fut>(&self, events: mpsc::UnboundedSender<ProgressEvent>, run: F) -> OpHandle
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Report> + Send + 'static,
    {
        self.spawn_op(events, None, run)
    }

    /// [`Engine::spawn`], re-attached to the journaled operation `resumed` when given: the
    /// run keeps its operation id and goes on writing its journal.
    pub fn spawn_op<F, Fut>(
        &self,
        events: mpsc::UnboundedSender<ProgressEvent>,
        resumed: Option<crate::journal::OpState>,
        run: F,
    ) -> OpHandle
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Report> + Send + 'static,
    {
        let id = self.next_op.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let ctx = Ctx {
            engine: self.clone(),
            op: id,
            // Unique across processes and machines (UUIDv7: time-ordered, random tail).
            op_key: resumed
                .as_ref()
                .map(|s| s.op.clone())
                .unwrap_or_else(|| format!("op-{}", uuid::Uuid::now_v7())),
            events,
            commands: rx,
            cancel: cancel.clone(),
            paused: false,
            pause_hook: None,
            journal: resume::Journaling::new(self, resumed),
        };
        let join = tokio::spawn(run(ctx));
        OpHandle {
            id,
            commands: tx,
            cancel,
            join,
        }
    }
}

/// Called with `true` when the operator pauses a wait and `false` when it resumes, so a
/// workflow can tell the server (a canary marks itself paused).
pub type PauseHook = Arc<
    dyn Fn(bool) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync,
>;

/// What a workflow run holds.
pub struct Ctx {
    pub engine: Engine,
    pub op: OpId,
    /// Ties the run's audit records together.
    pub op_key: String,
    events: mpsc::UnboundedSender<ProgressEvent>,
    commands: mpsc::UnboundedReceiver<OpCommand>,
    cancel: CancellationToken,
    paused: bool,
    pause_hook: Option<PauseHook>,
    journal: resume::Journaling,
}

/// What happened while a workflow waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// The wait ran its course.
    Elapsed,
    /// An operator command ended the wait early.
    Command(OpCommand),
}

impl Ctx {
    pub fn backend(&self) -> &dyn ReleaseBackend {
        self.engine.backend.as_ref()
    }

    pub fn clock(&self) -> Clock {
        self.engine.clock
    }

    pub fn emit(&self, kind: EventKind) {
        let _ = self.events.send(ProgressEvent {
            op: self.op,
            at: Utc::now(),
            kind,
        });
    }

    pub fn detail(&self, message: impl Into<String>) {
        self.emit(EventKind::Detail {
            message: message.into(),
        });
    }

    pub fn started(
        &self,
        workflow: WorkflowKind,
        title: String,
        bot: Option<String>,
        steps: &[&str],
    ) {
        self.emit(EventKind::Started {
            workflow,
            title,
            bot,
            steps: steps.iter().map(|s| s.to_string()).collect(),
            operation: Some(self.op_key.clone()),
        });
    }

    /// Tell the server when the operator pauses and resumes.
    pub fn set_pause_hook(&mut self, hook: PauseHook) {
        self.pause_hook = Some(hook);
    }

    async fn run_pause_hook(&self, paused: bool) {
        if let Some(h) = &self.pause_hook {
            h(paused).await;
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Run one step: emits started, then finished (with the detail the step returns) or
    /// failed (with the reason).
    pub async fn step<T, F>(&mut self, name: &str, fut: F) -> Result<T, Stop>
    where
        F: std::future::Future<Output = Result<(T, Option<String>), Stop>>,
    {
        if self.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        self.emit(EventKind::StepStarted { step: name.into() });
        match fut.await {
            Ok((v, detail)) => {
                self.emit(EventKind::StepFinished {
                    step: name.into(),
                    detail,
                });
                Ok(v)
            }
            Err(e) => {
                self.emit(EventKind::StepFailed {
                    step: name.into(),
                    reason: e.to_string(),
                });
                Err(e)
            }
        }
    }

    /// Write an audit record (fsynced) before the workflow moves on.
    pub async fn audit(
        &self,
        operation: WorkflowKind,
        event: &str,
        fill: impl FnOnce(&mut AuditEntry),
    ) -> Result<(), Stop> {
        let mut entry = AuditEntry::new(self.engine.operator.clone(), operation.as_str(), event);
        entry.operation_id = Some(self.op_key.clone());
        fill(&mut entry);
        self.engine
            .audit
            .append(entry)
            .await
            .map(|_| ())
            .map_err(|e| Stop::Audit(e.to_string()))
    }

    /// Send an event to the configured webhooks; deliveries are audited, failures never
    /// fail the release.
    pub async fn notify(&self, operation: WorkflowKind, event_type: &str, data: Value) {
        let Some(sender) = self.engine.webhooks.clone() else {
            return;
        };
        // Each delivery carries the audit chain's head, so a receiver holds a copy of it that
        // truncating the local log cannot reach.
        let mut data = data;
        if let (Some((seq, hash)), Some(obj)) = (self.engine.audit.head(), data.as_object_mut()) {
            obj.insert("auditHead".into(), json!({"seq": seq, "hash": hash}));
        }
        let records = sender.deliver(event_type, data).await;
        for r in records {
            if !r.delivered {
                self.detail(format!(
                    "webhook {} not delivered after {} attempts: {}",
                    crate::webhook::redacted_url(&r.url),
                    r.attempts,
                    r.error.clone().unwrap_or_default()
                ));
            }
            let mut entry = r.audit_entry(&self.engine.operator, operation.as_str());
            entry.operation_id = Some(self.op_key.clone());
            if let Err(e) = self.engine.audit.append(entry).await {
                self.detail(format!("cannot audit a webhook delivery: {e}"));
            }
        }
    }

    /// Wait `d` of server time, answering operator commands. Pause holds the wait until
    /// resume; abort (or cancellation) ends it with `Stop::Cancelled`; other commands end
    /// the wait early and are returned to the caller.
    pub async fn wait(&mut self, what: &str, d: Duration) -> Result<Woken, Stop> {
        let clock = self.clock();
        let mut remaining = d;
        self.heartbeat();
        loop {
            if self.paused {
                self.emit(EventKind::Paused);
                self.run_pause_hook(true).await;
                let mut resumed = false;
                loop {
                    tokio::select! {
                        _ = self.cancel.cancelled() => return Err(Stop::Cancelled),
                        cmd = self.commands.recv() => match cmd {
                            Some(OpCommand::Resume) => { resumed = true; break; }
                            Some(OpCommand::Abort) => return Err(Stop::Cancelled),
                            Some(OpCommand::Pause) => {}
                            Some(other) => {
                                self.paused = false;
                                self.run_pause_hook(false).await;
                                self.emit(EventKind::Resumed);
                                return Ok(Woken::Command(other));
                            }
                            None => break,
                        }
                    }
                }
                self.paused = false;
                self.run_pause_hook(false).await;
                if resumed {
                    self.emit(EventKind::Resumed);
                }
            }
            self.emit(EventKind::Waiting {
                what: what.into(),
                wait: remaining,
            });
            let started = tokio::time::Instant::now();
            tokio::select! {
                _ = self.cancel.cancelled() => return Err(Stop::Cancelled),
                _ = clock.sleep(remaining) => return Ok(Woken::Elapsed),
                cmd = self.commands.recv() => {
                    let spent = clock.to_server(started.elapsed());
                    remaining = remaining.saturating_sub(spent);
                    match cmd {
                        Some(OpCommand::Abort) => return Err(Stop::Cancelled),
                        Some(OpCommand::Pause) => { self.paused = true; }
                        Some(OpCommand::Resume) => {}
                        Some(other) => return Ok(Woken::Command(other)),
                        // No one can send commands any more: just finish the wait.
                        None => { clock.sleep(remaining).await; return Ok(Woken::Elapsed); }
                    }
                }
            }
        }
    }

    /// Stop for a person: mark the run paused (and tell the server through the pause hook),
    /// then wait for the next command other than a repeated pause. Abort ends with
    /// `Stop::Cancelled`; resume, promote and the rest are returned.
    pub async fn await_person(&mut self) -> Result<OpCommand, Stop> {
        self.emit(EventKind::Paused);
        self.run_pause_hook(true).await;
        let cmd = loop {
            tokio::select! {
                _ = self.cancel.cancelled() => return Err(Stop::Cancelled),
                cmd = self.commands.recv() => match cmd {
                    Some(OpCommand::Abort) | None => return Err(Stop::Cancelled),
                    Some(OpCommand::Pause) => {}
                    Some(other) => break other,
                }
            }
        };
        self.paused = false;
        self.run_pause_hook(false).await;
        self.emit(EventKind::Resumed);
        Ok(cmd)
    }

    /// True once a pause was requested and not yet resumed.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Take a command that arrived while the workflow was busy (not waiting).
    pub fn take_command(&mut self) -> Option<OpCommand> {
        match self.commands.try_recv() {
            Ok(OpCommand::Pause) => {
                self.paused = true;
                None
            }
            Ok(c) => Some(c),
            Err(_) => None,
        }
    }

    /// Finish: emit the final event and build the report.
    pub fn finish(
        &self,
        workflow: WorkflowKind,
        outcome: Outcome,
        summary: String,
        details: Value,
    ) -> Report {
        self.journal_finished(outcome, &summary);
        self.emit(EventKind::Finished {
            outcome,
            summary: summary.clone(),
        });
        Report {
            op: self.op,
            workflow,
            outcome,
            summary,
            details,
        }
    }

    /// End a run that restored (or tried to restore) what it changed: audit the outcome
    /// (best effort: the run is over either way), tell the webhooks, report.
    #[allow(clippy::too_many_arguments)]
    pub async fn conclude_restore(
        &self,
        workflow: WorkflowKind,
        webhook_event: &str,
        outcome: Outcome,
        summary: String,
        details: Value,
        fill: impl FnOnce(&mut AuditEntry),
    ) -> Report {
        let s = summary.clone();
        let _ = self
            .audit(workflow, "rolled_back", |e| {
                e.outcome = Some(outcome.as_str().into());
                e.detail = Some(s);
                fill(e);
            })
            .await;
        self.notify(workflow, webhook_event, details.clone()).await;
        self.finish(workflow, outcome, summary, details)
    }

    /// Finish after an early stop: audit it (best effort, the stop may be the audit itself).
    pub async fn finish_stopped(
        &self,
        workflow: WorkflowKind,
        stop: Stop,
        mut details: Value,
    ) -> Report {
        let outcome = stop.outcome();
        if stop.is_auth() {
            details["errorKind"] = json!("auth");
        } else if stop.is_not_found() {
            details["errorKind"] = json!("not_found");
        }
        let summary = stop.to_string();
        if !matches!(stop, Stop::Audit(_)) {
            let s = summary.clone();
            let _ = self
                .audit(workflow, outcome.as_str(), |e| {
                    e.outcome = Some(outcome.as_str().into());
                    e.detail = Some(s);
                })
                .await;
        }
        self.finish(workflow, outcome, summary, details)
    }
}

/// Details JSON with the operation key.
pub fn details(ctx: &Ctx, extra: Value) -> Value {
    let mut v = json!({"operationId": ctx.op_key});
    if let (Some(obj), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in extra {
            obj.insert(k.clone(), val.clone());
        }
    }
    v
}
