//! Picking up operations whose relcon died: every headless workflow command first looks in
//! the intent journal for an unfinished operation of this machine on the same bot and
//! workflow, and re-attaches to it instead of starting another; `relcon recover` lists
//! them and resumes one by id.
//!
//! Re-attaching means: the journaled plan and resolved intent are used (never resolved
//! again), creates are replayed under their journaled idempotency keys or skipped when the
//! server id is known, the server object is polled or judged to its end, and the audit
//! trail says the operation was interrupted and resumed.

use chrono::Utc;
use serde_json::{Value, json};

use crate::audit::AuditEntry;
use crate::backend::{LeaseRequest, ReleaseBackend};
use crate::cli::Output;
use crate::domain::{OperationDetail, OperationKind};
use crate::engine::control::{Driver, DriverSettings, Orphan, Swept, age_text, sweep_orphans};
use crate::engine::events::WorkflowKind;
use crate::engine::{Ctx, Report, canary, deploy, rollback};
use crate::journal::{OpState, Record, hostname, process_alive};
use crate::runtime::Runtime;
use crate::sanitize::clean;

/// Nobody drives it: its driver was a process of this machine that is gone.
fn abandoned_here(s: &OpState) -> bool {
    s.finished.is_none() && s.driver.host == hostname() && !process_alive(s.driver.pid)
}

/// The unfinished operations in the runtime's journal, oldest first.
pub fn unfinished(rt: &Runtime) -> Vec<OpState> {
    rt.engine
        .journal
        .as_ref()
        .map(|j| j.journal.unfinished())
        .unwrap_or_default()
}

/// The operation a `workflow` command on `bot` re-attaches to: unfinished, of this machine,
/// against the same server, its driver gone. Its stale server lease (taken under the
/// journaled keys) is given up so the re-attached run can take its own.
pub async fn pending(rt: &Runtime, workflow: WorkflowKind, bot: &str) -> Option<OpState> {
    let s = unfinished(rt)
        .into_iter()
        .rev()
        .filter(|s| s.workflow == workflow && s.bot.as_deref() == Some(bot))
        .filter(|s| s.api_url == rt.profile.api_url)
        .find(abandoned_here)?;
    eprintln!(
        "relcon: {} {bot} was interrupted (operation {}, relcon pid {} gone); re-attaching to it with the plan it journaled",
        workflow.as_str(),
        s.op,
        s.driver.pid
    );
    release_dead_leases(rt.backend.as_ref(), bot, &s).await;
    Some(s)
}

/// The environment deploy (`relcon env deploy ENV`) or flows deploy (`relcon flows deploy
/// ENV`) to re-attach to: unfinished, of this machine, against the same server, for the same
/// environment, its driver gone.
pub fn pending_for_environment(rt: &Runtime, workflow: WorkflowKind, env: &str) -> Option<OpState> {
    let s = unfinished(rt)
        .into_iter()
        .rev()
        .filter(|s| s.workflow == workflow)
        .filter(|s| s.plan["plan"]["environment"].as_str() == Some(env))
        .filter(|s| s.api_url == rt.profile.api_url)
        .find(abandoned_here)?;
    let what = match workflow {
        WorkflowKind::Flows => "flows deploy to",
        _ => "environment deploy",
    };
    eprintln!(
        "relcon: {what} {} was interrupted (operation {}, relcon pid {} gone); re-attaching to it with the plan it journaled",
        clean(env),
        s.op,
        s.driver.pid
    );
    Some(s)
}

/// Give up server leases the dead driver of `s` held on `bot`'s operations.
async fn release_dead_leases(backend: &dyn ReleaseBackend, bot: &str, s: &OpState) {
    let Ok(ops) = backend.list_operation_details(Some(bot), true).await else {
        return;
    };
    let keys: Vec<&str> = std::iter::once(s.op.as_str())
        .chain(s.aliases.iter().map(String::as_str))
        .collect();
    // The listing does not show a lease's key: offer each of ours; the server gives up
    // only a lease taken under it.
    for d in ops.iter().filter(|d| d.lease.is_some()) {
        for key in &keys {
            if let Ok(true) = backend.release_lease(&d.operation.id, key).await {
                break;
            }
        }
    }
}

/// Run `run` re-attached to `resumed` (when given).
pub async fn attach<F, Fut>(mut ctx: Ctx, resumed: Option<OpState>, run: F) -> Report
where
    F: FnOnce(Ctx) -> Fut,
    Fut: std::future::Future<Output = Report>,
{
    if let Some(s) = resumed {
        ctx.adopt(s);
    }
    run(ctx).await
}

/// What a listing command (`status`) sees of orphans: canaries alone longer than the limit
/// are rolled back first ([`crate::engine::control::sweep_orphans`], not in a read-only
/// profile), then the orphans still there are returned with what was rolled back.
pub async fn orphans_seen(
    rt: &Runtime,
    bot: Option<&str>,
    seen_by: &str,
) -> (Vec<Orphan>, Vec<Swept>) {
    let swept = if rt.profile.read_only {
        Vec::new()
    } else {
        sweep_orphans(&rt.engine, bot, seen_by).await
    };
    let orphans = rt
        .backend
        .list_operation_details(bot, true)
        .await
        .map(|ops| ops.iter().filter_map(Orphan::of).collect())
        .unwrap_or_default();
    (orphans, swept)
}

/// One unfinished operation, for the list.
fn describe(s: &OpState) -> Value {
    let alive = s.driver.host != hostname() || process_alive(s.driver.pid);
    json!({
        "operationId": s.op,
        "workflow": s.workflow,
        "bot": s.bot,
        "profile": s.profile,
        "apiUrl": s.api_url,
        "startedAt": s.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "driver": {"operator": s.driver.operator, "host": s.driver.host, "pid": s.driver.pid, "running": alive},
        "claimExpiresAt": s.expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "orphaned": s.orphaned(Utc::now()),
        "stepsPassed": s.steps,
        "serverObjects": s.created.iter().map(|(step, id)| json!({"step": step, "id": id})).collect::<Vec<_>>(),
        "resumes": s.resumes,
        "resolved": s.plan.get("resolved"),
    })
}

/// `relcon recover`: list the unfinished operations; `relcon recover OP`: resume one.
pub async fn run(rt: &Runtime, out: Output, op: Option<String>) -> Result<u8, (u8, String)> {
    let Some(op) = op else {
        let list = unfinished(rt);
        if out == Output::Json {
            let items: Vec<Value> = list.iter().map(describe).collect();
            out!(
                "{}",
                crate::sanitize::json_pretty(&json!({"unfinished": items})).unwrap_or_default()
            );
            return Ok(crate::exit::OK);
        }
        if list.is_empty() {
            out!("no unfinished operations in the journal");
            return Ok(crate::exit::OK);
        }
        out!(
            "{:<42} {:<9} {:<24} {:<20} {:<22} LAST STEP",
            "OPERATION",
            "WORKFLOW",
            "BOT",
            "STARTED",
            "DRIVER"
        );
        for s in &list {
            let d = describe(s);
            let driver = format!(
                "pid {} {}",
                s.driver.pid,
                if d["driver"]["running"].as_bool() == Some(true) {
                    "running"
                } else {
                    "gone"
                }
            );
            out!(
                "{:<42} {:<9} {:<24} {:<20} {:<22} {}",
                s.op,
                s.workflow.as_str(),
                clean(s.bot.as_deref().unwrap_or("-")),
                s.started_at.format("%Y-%m-%d %H:%M:%S"),
                driver,
                clean(s.steps.last().map(String::as_str).unwrap_or("-")),
            );
        }
        out!("resume one with `relcon resume OPERATION` (or rerun its command)");
        return Ok(crate::exit::OK);
    };
    let journal = rt.engine.journal.as_ref().ok_or((
        crate::exit::CONFIG,
        "no state directory for the journal".to_string(),
    ))?;
    let s = journal.journal.find(&op).ok_or((
        crate::exit::NOT_FOUND,
        format!("no journaled operation {}", clean(&op)),
    ))?;
    if let Some((outcome, summary)) = &s.finished {
        return Err((
            crate::exit::REFUSED,
            format!(
                "operation {} has already ended ({}): {}",
                s.op,
                outcome.as_str(),
                clean(summary)
            ),
        ));
    }
    if !abandoned_here(&s) {
        return Err((
            crate::exit::REFUSED,
            format!(
                "operation {} is driven by relcon pid {} on {}; it is not abandoned",
                s.op,
                s.driver.pid,
                clean(&s.driver.host)
            ),
        ));
    }
    if s.api_url != rt.profile.api_url {
        return Err((
            crate::exit::REFUSED,
            format!(
                "operation {} runs against {}, not this profile's {}; use --api-url or --profile",
                s.op,
                clean(&s.api_url),
                clean(&rt.profile.api_url)
            ),
        ));
    }
    let bot = s.bot.clone().unwrap_or_default();
    release_dead_leases(rt.backend.as_ref(), &bot, &s).await;
    let settings = DriverSettings::for_engine(&rt.engine);
    let report = drive_resumed(rt, out, s, settings, None).await?;
    Ok(crate::drive::print_report(out, &report))
}

/// Drive `s` to its end under `settings`: re-attached from the journal, or (with `adopted`,
/// whom from) from the server's state.
async fn drive_resumed(
    rt: &Runtime,
    out: Output,
    s: OpState,
    settings: DriverSettings,
    adopted: Option<String>,
) -> Result<crate::engine::Report, (u8, String)> {
    let bad = |e: serde_json::Error| {
        (
            crate::exit::FAILED,
            format!("the journaled plan of {} cannot be read: {e}", s.op),
        )
    };
    let workflow = s.workflow;
    let botref = s.bot.clone();
    let reattach = move |mut ctx: Ctx, s: OpState| {
        match adopted {
            Some(note) => ctx.adopt_orphan(s, note),
            None => ctx.adopt(s),
        }
        ctx
    };
    let run = journaled_run(&s, false).map_err(bad)?;
    let report = crate::drive::drive_with(rt, out, workflow, botref, settings, move |ctx| {
        run(reattach(ctx, s))
    })
    .await;
    Ok(report)
}

/// The console's start: every unfinished operation of this machine against this server
/// whose relcon is gone is re-attached and driven by the console, its progress sent to
/// `events` (each appears in the Deployments pane as it would had the console started it).
/// A canary re-attached here waits for a person when its evidence does not settle, as the
/// console's own canaries do. The demo starts a fresh world each time: nothing of an earlier
/// demo is re-attached. Returns the handles and, for what could not be re-attached, why.
pub async fn reattach_for_console(
    rt: &Runtime,
    events: tokio::sync::mpsc::UnboundedSender<crate::engine::events::ProgressEvent>,
) -> (Vec<crate::engine::OpHandle>, Vec<String>) {
    let (mut handles, mut problems) = (Vec::new(), Vec::new());
    if rt.profile.name == "demo" {
        return (handles, problems);
    }
    let pending: Vec<OpState> = unfinished(rt)
        .into_iter()
        .filter(|s| s.api_url == rt.profile.api_url && abandoned_here(s))
        .collect();
    for s in pending {
        if let Some(bot) = s.bot.clone() {
            release_dead_leases(rt.backend.as_ref(), &bot, &s).await;
        }
        let op = s.op.clone();
        match spawn_resumed(rt, s, events.clone()) {
            Ok(h) => handles.push(h),
            Err(e) => problems.push(format!("{op}: {e}")),
        }
    }
    (handles, problems)
}

/// Spawn `s` re-attached from the journal, driven on the server, progress to `events`.
fn spawn_resumed(
    rt: &Runtime,
    s: OpState,
    events: tokio::sync::mpsc::UnboundedSender<crate::engine::events::ProgressEvent>,
) -> Result<crate::engine::OpHandle, String> {
    let bad = |e: serde_json::Error| format!("its journaled plan cannot be read: {e}");
    let workflow = s.workflow;
    let bot = s.bot.clone();
    let settings = DriverSettings::for_engine(&rt.engine);
    let spawn = |run| {
        crate::engine::control::spawn_driven(&rt.engine, settings, workflow, bot, events, run)
    };
    let run = journaled_run(&s, true).map_err(bad)?;
    Ok(spawn(
        Box::new(move |ctx| Box::pin(attach(ctx, Some(s), run)) as ReportFuture) as Runner,
    ))
}

/// The workflow of `s`, to run with the plan it journaled. In the console (`console`), a
/// canary whose evidence does not settle waits for a person, as the console's own do.
fn journaled_run(s: &OpState, console: bool) -> Result<Runner, serde_json::Error> {
    let plan = s.plan.get("plan").cloned().unwrap_or_default();
    Ok(match s.workflow {
        WorkflowKind::Deploy => {
            let p: deploy::DeployPlan = serde_json::from_value(plan)?;
            Box::new(move |c| Box::pin(deploy::run(c, p)) as ReportFuture)
        }
        WorkflowKind::Canary => {
            let mut p: canary::CanaryPlan = serde_json::from_value(plan)?;
            p.interactive |= console;
            Box::new(move |c| Box::pin(canary::run(c, p)) as ReportFuture)
        }
        WorkflowKind::Rollback => {
            let p: rollback::RollbackPlan = serde_json::from_value(plan)?;
            Box::new(move |c| Box::pin(rollback::run(c, p)) as ReportFuture)
        }
        WorkflowKind::Environment => {
            let p: crate::engine::environment::EnvPlan = serde_json::from_value(plan)?;
            Box::new(move |c| Box::pin(crate::engine::environment::run(c, p)) as ReportFuture)
        }
        WorkflowKind::Flows => {
            let p: crate::engine::flows::FlowsPlan = serde_json::from_value(plan)?;
            Box::new(move |c| Box::pin(crate::engine::flows::run(c, p)) as ReportFuture)
        }
    })
}

type ReportFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Report> + Send>>;
type Runner = Box<dyn FnOnce(Ctx) -> ReportFuture + Send>;

fn refused(message: String) -> (u8, String) {
    (crate::exit::REFUSED, message)
}

fn backend_failed(e: crate::backend::BackendError) -> (u8, String) {
    let code = match e {
        crate::backend::BackendError::NotFound { .. } => crate::exit::NOT_FOUND,
        crate::backend::BackendError::Unauthorized { .. }
        | crate::backend::BackendError::Forbidden { .. } => crate::exit::CONFIG,
        _ => crate::exit::FAILED,
    };
    (code, clean(&e.to_string()))
}

/// `BOT` (its operation in progress, else its last) or a server operation id.
async fn target_op(rt: &Runtime, target: &str) -> Result<OperationDetail, (u8, String)> {
    if let Ok(d) = rt.backend.get_operation(target).await {
        return Ok(d);
    }
    match crate::operator::current(rt.backend.as_ref(), target).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err((
            crate::exit::NOT_FOUND,
            format!("bot {} has no operations", clean(target)),
        )),
        Err(e) => Err((e.code, clean(&e.message))),
    }
}

/// The orphan `d` is, or the refusal that says why it is not one.
fn orphan_or_refuse(d: &OperationDetail, verb: &str) -> Result<Orphan, (u8, String)> {
    let op = &d.operation;
    if let Some(o) = Orphan::of(d) {
        return Ok(o);
    }
    if !op.active {
        return Err(refused(format!(
            "{} {} has ended ({}): nothing to {verb}",
            op.kind.as_str(),
            clean(&op.id),
            clean(&op.state).replace('_', " ")
        )));
    }
    let bot = op.bot_id.as_deref().map(clean).unwrap_or_default();
    Err(refused(format!(
        "{} {} is not orphaned: it is driven by {}; act on it with `relcon pause|resume|promote|abort {bot}`, or wait for its lease to expire",
        op.kind.as_str(),
        clean(&op.id),
        Driver::of(d).describe()
    )))
}

/// Take the lease of an orphan under a new key: of two relcons, one gets it.
async fn take_orphan(
    rt: &Runtime,
    o: &Orphan,
    settings: &DriverSettings,
    key: &str,
) -> Result<(), (u8, String)> {
    let req = LeaseRequest {
        holder: settings.holder.clone(),
        host: settings.host.clone(),
        operation_key: key.to_string(),
        ttl: settings.ttl,
    };
    rt.backend
        .acquire_lease(&o.operation_id, &req)
        .await
        .map(|_| ())
        .map_err(|e| {
            refused(format!(
                "cannot take the lease on {}: {}",
                clean(&o.operation_id),
                clean(&e.to_string())
            ))
        })
}

/// What the server says about an orphan, put as a journal of this machine would hold it:
/// the plan (the profile's, for what the server does not keep), the intent resolved from
/// the server's objects, and the object created. Journaled here when there is a journal,
/// so that if this relcon dies too, the next one on this machine re-attaches.
async fn from_server(
    rt: &Runtime,
    d: &OperationDetail,
    key: &str,
) -> Result<OpState, (u8, String)> {
    let op = &d.operation;
    let b = rt.backend.as_ref();
    let bot = op
        .bot_id
        .clone()
        .ok_or_else(|| refused(format!("{} belongs to no bot", clean(&op.id))))?;
    let version = op.version_id.clone().unwrap_or_default();
    let env = op.environment_id.clone();
    let (workflow, plan, resolved, step) = match op.kind {
        OperationKind::Canary => {
            let c = b.get_canary(&op.id).await.map_err(backend_failed)?;
            let ask = crate::plans::CanaryAsk {
                bot: bot.clone(),
                version: c.version.clone(),
                environment: Some(c.environment_id.clone()),
                max_traffic: Some(c.max_traffic_percentage),
                interactive: false,
                ..Default::default()
            };
            let plan = crate::plans::canary(&rt.profile.canary, &ask).map_err(refused)?;
            (
                WorkflowKind::Canary,
                json!(plan),
                json!({"environment": c.environment_id, "version": c.version}),
                "start canary".to_string(),
            )
        }
        OperationKind::Deployment => {
            let summary = b.get_bot(&bot).await.map_err(backend_failed)?;
            let versions = b.list_versions(&bot).await.map_err(backend_failed)?;
            let v = versions
                .into_iter()
                .find(|v| v.id == version)
                .ok_or_else(|| refused(format!("{bot} has no version {version} any more")))?;
            let preview = deploy::preview(&summary, env.as_deref()).map_err(refused)?;
            let plan = deploy::DeployPlan {
                bot: bot.clone(),
                version: version.clone(),
                target: env.clone(),
                regions: rt.profile.region_sync.clone(),
                timeout: std::time::Duration::from_secs(900),
            };
            (
                WorkflowKind::Deploy,
                json!(plan),
                json!({"version": v, "preview": preview}),
                "create deployment".to_string(),
            )
        }
        OperationKind::Rollback => {
            let summary = b.get_bot(&bot).await.map_err(backend_failed)?;
            let args = crate::cli::RollbackArgs {
                bot: bot.clone(),
                to: Some(version.clone()),
                max_active_sessions: None,
                wait_drain: None,
                fallback: None,
            };
            let plan = crate::drive::rollback_plan(rt, &args).map_err(|e| (e.code, e.message))?;
            let live = rollback::live_version(&summary, plan.environment);
            (
                WorkflowKind::Rollback,
                json!(plan),
                json!({"target": version, "live": live, "environment": env, "activeSessions": 0, "sessionsAtRisk": 0}),
                format!("trigger rollback {version}"),
            )
        }
        other => {
            return Err(refused(format!(
                "a {} cannot be adopted; end it on the server",
                other.as_str()
            )));
        }
    };
    let now = Utc::now();
    let driver = crate::journal::Driver::this_process(&rt.engine.operator);
    let plan = json!({"plan": plan, "resolved": resolved});
    if let Some(sink) = &rt.engine.journal {
        let intent = Record::Intent {
            op: key.to_string(),
            workflow,
            bot: Some(bot.clone()),
            plan: plan.clone(),
            driver: driver.clone(),
            profile: sink.profile.clone(),
            api_url: sink.api_url.clone(),
            at: now,
        };
        let written = sink.journal.begin(intent).and_then(|j| {
            j.append(&Record::Created {
                step: step.clone(),
                server_id: op.id.clone(),
                at: now,
            })
        });
        if written.is_ok()
            && let Some(s) = sink.journal.find(key)
        {
            return Ok(s);
        }
    }
    Ok(OpState {
        path: Default::default(),
        op: key.to_string(),
        workflow,
        bot: Some(bot),
        plan,
        profile: rt.profile.name.clone(),
        api_url: rt.profile.api_url.clone(),
        started_at: now,
        driver,
        expires_at: None,
        creates: Vec::new(),
        created: vec![(step, op.id.clone())],
        steps: Vec::new(),
        finished: None,
        aliases: Vec::new(),
        resumes: 0,
    })
}

/// `relcon adopt BOT|OP`: take over driving an orphan, from the server's state.
pub async fn adopt(rt: &Runtime, out: Output, target: &str) -> Result<u8, (u8, String)> {
    let d = target_op(rt, target).await?;
    let o = orphan_or_refuse(&d, "adopt")?;
    let key = format!("op-{}", uuid::Uuid::now_v7());
    let settings = DriverSettings {
        lease_key: Some(key.clone()),
        ..DriverSettings::for_engine(&rt.engine)
    };
    take_orphan(rt, &o, &settings, &key).await?;
    let state = match from_server(rt, &d, &key).await {
        Ok(s) => s,
        Err(e) => {
            let _ = rt.backend.release_lease(&o.operation_id, &key).await;
            return Err(e);
        }
    };
    let note = match o.lease_expired {
        true => format!(
            "adopted from {}, lease expired {} ago",
            o.holder_at(),
            age_text(o.alone_for)
        ),
        false => format!(
            "adopted: no relcon held a lease on it (unchanged for {})",
            age_text(o.alone_for)
        ),
    };
    eprintln!(
        "relcon: {} {}: {note}; driving it as {} on {}",
        o.kind.as_str(),
        clean(&o.operation_id),
        clean(&settings.holder),
        clean(&settings.host)
    );
    let report = drive_resumed(rt, out, state, settings, Some(note)).await?;
    Ok(crate::drive::print_report(out, &report))
}

/// `relcon end BOT|OP`: end an orphan safely — a canary rolled back to its baseline, a
/// deployment cancelled before its switch. Audited; the lease is taken while it acts.
pub async fn end(
    rt: &Runtime,
    out: Output,
    target: &str,
    reason: Option<&str>,
) -> Result<u8, (u8, String)> {
    let d = target_op(rt, target).await?;
    let o = orphan_or_refuse(&d, "end")?;
    let op = &d.operation;
    let workflow = match op.kind {
        OperationKind::Canary => WorkflowKind::Canary,
        OperationKind::Deployment => WorkflowKind::Deploy,
        OperationKind::Rollback => {
            return Err(refused(format!(
                "rollback job {} cannot be stopped half-way (it is the way back); `relcon adopt {}` drives it to its end and verifies it",
                clean(&op.id),
                clean(target)
            )));
        }
        other => {
            return Err(refused(format!(
                "a {} cannot be ended here",
                other.as_str()
            )));
        }
    };
    let key = format!("op-{}", uuid::Uuid::now_v7());
    let settings = DriverSettings::for_engine(&rt.engine);
    take_orphan(rt, &o, &settings, &key).await?;
    let what = match workflow {
        WorkflowKind::Canary => "rolled back to its baseline",
        _ => "deployment cancelled; traffic stays where it is",
    };
    let detail = format!(
        "ended {}: {}; {what} by {} on {}{}",
        o.describe(),
        o.why(),
        clean(&settings.holder),
        clean(&settings.host),
        reason
            .map(|r| format!(" ({})", clean(r)))
            .unwrap_or_default()
    );
    let mut entry = AuditEntry::new(rt.engine.operator.clone(), workflow.as_str(), "ended");
    entry.operation_id = Some(key.clone());
    entry.bot = op.bot_id.clone();
    entry.environment = op.environment_id.clone();
    entry.from_version = op.version_id.clone();
    entry.detail = Some(detail.clone());
    let result = match rt.engine.audit.append(entry).await {
        Err(e) => Err((
            crate::exit::FAILED,
            format!("the audit trail is not writable ({e}); nothing was changed"),
        )),
        Ok(_) => match workflow {
            WorkflowKind::Canary => rt
                .backend
                .rollback_canary(&op.id, &detail)
                .await
                .map(|_| ())
                .map_err(backend_failed),
            _ => rt
                .backend
                .rollback_deployment(&op.id)
                .await
                .map(|_| ())
                .map_err(backend_failed),
        },
    };
    if result.is_ok() {
        let text = format!("cancelled: {detail}");
        let _ = rt
            .backend
            .post_event(&op.id, crate::domain::OperationEventKind::Outcome, &text)
            .await;
    }
    let _ = rt.backend.release_lease(&op.id, &key).await;
    result?;
    if out == Output::Json {
        out!(
            "{}",
            crate::sanitize::json_pretty(
                &json!({"outcome": "ended", "exitCode": 0, "operationId": op.id, "summary": detail})
            )
            .unwrap_or_default()
        );
    } else {
        out!("✔ ended: {detail}");
    }
    Ok(crate::exit::OK)
}
