//! A run's side of the intent journal: the intent once it is resolved, the idempotency key
//! of each create before its request, the server id once it is known, each step passed and
//! the end. A run re-attached to a journaled operation ([`crate::engine::Engine::spawn_op`])
//! reads the same records back: it replays a create under its journaled key (or skips it
//! when the server id is known) and never re-resolves what the intent fixed.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};

use crate::engine::events::{Outcome, WorkflowKind};
use crate::engine::{Ctx, Engine, Stop};
use crate::journal::{Driver, JournalSink, OpJournal, OpState, Record};

/// How long a driver's claim lasts without a renewal.
const CLAIM: Duration = Duration::from_secs(120);
/// Renew the claim at most this often (wall time).
const RENEW: Duration = Duration::from_secs(20);

/// What a run journals to, and what it re-attached to.
pub(crate) struct Journaling {
    sink: Option<JournalSink>,
    open: Option<OpJournal>,
    resumed: Option<OpState>,
    driver: Driver,
    renewed: Option<Instant>,
    /// Set when the run adopted an orphan from the server's state: whom from, in words.
    adopted: Option<String>,
    /// Problems writing it, shown once.
    warned: std::sync::atomic::AtomicBool,
}

impl Journaling {
    pub(crate) fn new(engine: &Engine, resumed: Option<OpState>) -> Journaling {
        let sink = engine.journal.clone();
        let open = match (&sink, &resumed) {
            (Some(s), Some(state)) => s.journal.reopen(state).ok(),
            _ => None,
        };
        Journaling {
            sink,
            open,
            resumed,
            driver: Driver::this_process(&engine.operator),
            renewed: None,
            adopted: None,
            warned: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

fn not_writable(e: std::io::Error) -> Stop {
    Stop::Failed(format!(
        "the intent journal is not writable ({e}); nothing more is changed without it"
    ))
}

impl Ctx {
    /// Re-attach this run to the journaled operation `state`: it takes the operation's id
    /// and goes on writing its journal. Call before the workflow starts.
    pub fn adopt(&mut self, state: OpState) {
        let spawned_as = std::mem::replace(&mut self.op_key, state.op.clone());
        self.journal = Journaling::new(&self.engine, Some(state));
        let _ = self.append(&Record::Alias {
            key: spawned_as,
            at: Utc::now(),
        });
    }

    /// Re-attach this run to an orphan found on the server (`relcon adopt`): `state` is
    /// what the server says, put as a journal would; `note` says whom it was adopted from,
    /// for the progress and the audit trail.
    pub fn adopt_orphan(&mut self, state: OpState, note: String) {
        self.adopt(state);
        self.journal.adopted = Some(note);
    }

    /// The journaled operation this run re-attached to, if any.
    pub fn resumed(&self) -> Option<&OpState> {
        self.journal.resumed.as_ref()
    }

    /// The journaled plan of a re-attached run, decoded.
    pub fn resumed_plan<P: serde::de::DeserializeOwned>(&self) -> Option<P> {
        let s = self.resumed()?;
        serde_json::from_value(s.plan.get("plan")?.clone()).ok()
    }

    /// The resolved intent of a re-attached run (what the first run fixed at its start).
    pub fn resumed_intent(&self) -> Option<&Value> {
        self.resumed().and_then(|s| s.plan.get("resolved"))
    }

    fn append(&self, rec: &Record) -> Result<(), Stop> {
        match &self.journal.open {
            Some(j) => j.append(rec).map_err(not_writable),
            None => Ok(()),
        }
    }

    /// Journal the intent: the plan and what it resolved to (a rollback's target, the
    /// deploy's environment), synced before any mutating request. A re-attached run keeps
    /// the intent it found.
    pub fn journal_intent(
        &mut self,
        workflow: WorkflowKind,
        bot: Option<&str>,
        plan: Value,
        resolved: Value,
    ) -> Result<(), Stop> {
        if self.journal.resumed.is_some() || self.journal.open.is_some() {
            return Ok(());
        }
        let Some(sink) = self.journal.sink.clone() else {
            return Ok(());
        };
        let intent = Record::Intent {
            op: self.op_key.clone(),
            workflow,
            bot: bot.map(str::to_string),
            plan: json!({"plan": plan, "resolved": resolved}),
            driver: self.journal.driver.clone(),
            profile: sink.profile.clone(),
            api_url: sink.api_url.clone(),
            at: Utc::now(),
        };
        let j = sink.journal.begin(intent).map_err(not_writable)?;
        self.journal.open = Some(j);
        self.journal.renewed = None;
        self.heartbeat();
        Ok(())
    }

    /// The idempotency key for `step`'s create: the journaled one of a re-attached run, or a
    /// new one, journaled (and synced) before the request is sent.
    pub fn journal_key(&mut self, step: &str) -> Result<String, Stop> {
        if let Some(k) = self.resumed().and_then(|s| s.key_of(step)) {
            return Ok(k.to_string());
        }
        let key = uuid::Uuid::new_v4().to_string();
        self.append(&Record::Create {
            step: step.into(),
            idempotency_key: key.clone(),
            at: Utc::now(),
        })?;
        Ok(key)
    }

    /// The server id journaled for `step` by the run this one re-attached to.
    pub fn journaled_id(&self, step: &str) -> Option<String> {
        self.resumed()
            .and_then(|s| s.server_id(step))
            .map(str::to_string)
    }

    /// Journal the server object `step` created.
    pub fn journal_created(&mut self, step: &str, server_id: &str) -> Result<(), Stop> {
        if self.journaled_id(step).as_deref() == Some(server_id) {
            return Ok(());
        }
        self.append(&Record::Created {
            step: step.into(),
            server_id: server_id.into(),
            at: Utc::now(),
        })
    }

    /// Journal a step passed.
    pub fn journal_step(&mut self, name: &str) -> Result<(), Stop> {
        self.append(&Record::Step {
            name: name.into(),
            at: Utc::now(),
        })
    }

    /// The re-attached run's predecessor passed `step`.
    pub fn passed(&self, step: &str) -> bool {
        self.resumed().is_some_and(|s| s.passed(step))
    }

    /// Journal the end (best effort: the run is over either way).
    pub(crate) fn journal_finished(&self, outcome: Outcome, summary: &str) {
        // A re-attached run that was refused did nothing: the operation stays unfinished
        // for the next try.
        if outcome == Outcome::Refused && self.journal.resumed.is_some() {
            return;
        }
        let rec = Record::Finished {
            outcome,
            summary: crate::sanitize::clean(summary),
            at: Utc::now(),
        };
        if let Err(e) = self.append(&rec)
            && !self
                .journal
                .warned
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!("cannot journal the end of {}: {e}", self.op_key);
        }
    }

    /// Renew this driver's claim on the operation (at most every [`RENEW`]).
    pub(crate) fn heartbeat(&mut self) {
        if self.journal.open.is_none() || self.journal.renewed.is_some_and(|t| t.elapsed() < RENEW)
        {
            return;
        }
        self.journal.renewed = Some(Instant::now());
        let now = Utc::now();
        let rec = Record::Heartbeat {
            driver: self.journal.driver.clone(),
            at: now,
            expires_at: now + chrono::Duration::from_std(CLAIM).unwrap_or_default(),
        };
        if let Err(e) = self.append(&rec) {
            tracing::warn!("cannot renew the claim on {}: {e}", self.op_key);
        }
    }

    /// Say, in the progress and the audit trail, that this run picks up an operation whose
    /// driver died: who it was, how far it got, what the journal held.
    pub async fn audit_resumed(
        &mut self,
        workflow: WorkflowKind,
        bot: Option<&str>,
    ) -> Result<(), Stop> {
        let Some(s) = self.resumed().cloned() else {
            return Ok(());
        };
        if let Some(note) = self.journal.adopted.clone() {
            let objects: Vec<String> = s.created.iter().map(|(_, id)| id.clone()).collect();
            let detail = format!("{note}; re-attached to {}", objects.join(", "));
            self.detail(detail.clone());
            self.heartbeat();
            return self
                .audit(workflow, "adopted", |e| {
                    e.bot = bot.map(str::to_string);
                    e.detail = Some(detail);
                    e.metrics = Some(json!({"serverObjects": s.created}));
                })
                .await;
        }
        let last = s
            .steps
            .last()
            .cloned()
            .or_else(|| s.creates.last().map(|(step, _)| format!("{step} (sent)")))
            .unwrap_or_else(|| "its intent".into());
        let objects: Vec<String> = s.created.iter().map(|(_, id)| id.clone()).collect();
        let detail = format!(
            "interrupted: relcon pid {} on {} ({}), started {}, stopped after {last}; resumed by pid {} from the intent journal{}",
            s.driver.pid,
            s.driver.host,
            s.driver.operator,
            s.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            std::process::id(),
            if objects.is_empty() {
                String::new()
            } else {
                format!("; re-attached to {}", objects.join(", "))
            }
        );
        self.detail(detail.clone());
        self.heartbeat();
        let steps = s.steps.clone();
        let creates: Vec<&str> = s.creates.iter().map(|(st, _)| st.as_str()).collect();
        let created = s.created.clone();
        self.audit(workflow, "resumed", |e| {
            e.bot = bot.map(str::to_string);
            e.detail = Some(detail);
            e.metrics = Some(json!({
                "interruptedPid": s.driver.pid,
                "interruptedHost": s.driver.host,
                "stepsPassed": steps,
                "createsSent": creates,
                "serverObjects": created,
            }));
        })
        .await
    }
}

impl Ctx {
    /// Send a create under a journaled idempotency key and journal the id it answers with:
    /// the key is synced before the request leaves, so a rerun after a crash anywhere in
    /// between replays the same request and gets the same object.
    pub async fn journaled_create<T, Fut>(
        &mut self,
        step: &str,
        request: Fut,
        id_of: impl FnOnce(&T) -> String,
    ) -> Result<T, Stop>
    where
        Fut: std::future::Future<Output = Result<T, crate::backend::BackendError>>,
    {
        let key = self.journal_key(step)?;
        let v = match crate::journal::with_idempotency_key(key, request).await {
            Ok(v) => v,
            Err(e @ crate::backend::BackendError::Conflict { .. }) => {
                return Err(super::control::conflict_named(self.backend(), e).await);
            }
            Err(e) => return Err(e.into()),
        };
        self.journal_created(step, &id_of(&v))?;
        Ok(v)
    }
}
