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

use crate::backend::ReleaseBackend;
use crate::cli::Output;
use crate::engine::control::{Orphan, Swept, sweep_orphans};
use crate::engine::events::WorkflowKind;
use crate::engine::{Ctx, Report, canary, deploy, rollback};
use crate::journal::{Journal, JournalSink, OpState, hostname, process_alive};
use crate::runtime::Runtime;
use crate::sanitize::clean;

/// A line on stdout; a reader that has gone (`| head`) ends the process quietly.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

/// The journal of a profile: `<state dir>/journal` (none without a state dir).
pub fn sink_for(profile: &str, api_url: &str) -> Option<JournalSink> {
    Some(JournalSink {
        journal: Journal::new(Journal::default_dir()?),
        profile: profile.to_string(),
        api_url: api_url.to_string(),
    })
}

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
        out!("resume one with `relcon recover OPERATION` (or rerun its command)");
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
    let plan = s.plan.get("plan").cloned().unwrap_or_default();
    let bad = |e: serde_json::Error| {
        (
            crate::exit::FAILED,
            format!("the journaled plan of {} cannot be read: {e}", s.op),
        )
    };
    let workflow = s.workflow;
    let botref = Some(bot);
    let report = match workflow {
        WorkflowKind::Deploy => {
            let p: deploy::DeployPlan = serde_json::from_value(plan).map_err(bad)?;
            crate::headless::drive(rt, out, workflow, botref, move |ctx| {
                attach(ctx, Some(s), move |c| deploy::run(c, p))
            })
            .await
        }
        WorkflowKind::Canary => {
            let p: canary::CanaryPlan = serde_json::from_value(plan).map_err(bad)?;
            crate::headless::drive(rt, out, workflow, botref, move |ctx| {
                attach(ctx, Some(s), move |c| canary::run(c, p))
            })
            .await
        }
        WorkflowKind::Rollback => {
            let p: rollback::RollbackPlan = serde_json::from_value(plan).map_err(bad)?;
            crate::headless::drive(rt, out, workflow, botref, move |ctx| {
                attach(ctx, Some(s), move |c| rollback::run(c, p))
            })
            .await
        }
        other => {
            return Err((
                crate::exit::REFUSED,
                format!("a {} operation cannot be resumed", other.as_str()),
            ));
        }
    };
    Ok(crate::headless::print_report(out, &report))
}
