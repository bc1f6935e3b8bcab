//! `relcon ship`: promotion between installations (dev → staging → prod) as one audited
//! operation. The snapshot is packaged in the source profile's installation, downloaded,
//! uploaded into the same-named project of the target profile's installation and (unless
//! asked not to) restored there, so the target project's working state is the snapshot.
//! Every step is written to both profiles' audit logs; a step that fails stops the operation
//! and says which steps had been done. Going live in the target is a deploy there (re-point).

use std::time::Duration;

use serde_json::json;

use crate::audit::AuditEntry;
use crate::backend::{VersionJob, VersionJobState};
use crate::cli::Output;
use crate::drive::{CliError, backend_error};
use crate::exit;
use crate::runtime::Runtime;

/// How often a snapshot task is read (server time).
const TASK_READ: Duration = Duration::from_secs(2);
/// The longest a snapshot task is waited for (server time).
const TASK_LIMIT: Duration = Duration::from_secs(1800);

/// Follow a snapshot task to its end; `on_step` hears each new step.
pub async fn wait_job(
    rt: &Runtime,
    job: &str,
    mut on_step: impl FnMut(&VersionJob),
) -> Result<VersionJob, CliError> {
    let clock = rt.profile.clock();
    let mut waited = Duration::ZERO;
    let mut last = None;
    loop {
        let j = rt
            .backend
            .version_job(job)
            .await
            .map_err(backend_error)?
            .value;
        if last != Some((j.state, j.step)) {
            last = Some((j.state, j.step));
            on_step(&j);
        }
        if j.state.is_terminal() {
            return Ok(j);
        }
        if waited >= TASK_LIMIT {
            return Err(CliError {
                code: exit::TIMED_OUT,
                message: format!(
                    "task {job} did not end within {} min",
                    TASK_LIMIT.as_secs() / 60
                ),
            });
        }
        clock.sleep(TASK_READ).await;
        waited += TASK_READ;
    }
}

fn step_line(what: &str, j: &VersionJob) -> String {
    let state = serde_json::to_value(j.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    format!("  {what}: {state}, step {} of {}", j.step, j.total)
}

/// A task that did not end `done`, as an error naming the platform's reason.
fn failed(what: &str, j: &VersionJob) -> CliError {
    CliError {
        code: exit::FAILED,
        message: format!(
            "{what}: task {} {}: {}",
            j.job_id,
            if j.state == VersionJobState::Cancelled {
                "was cancelled"
            } else {
                "ended in error"
            },
            j.fail_reason.as_deref().unwrap_or("no reason given")
        ),
    }
}

pub struct ShipPlan<'a> {
    pub bot: &'a str,
    pub version: &'a str,
    pub restore: bool,
}

struct Trail<'a> {
    src: &'a Runtime,
    dst: &'a Runtime,
    bot: &'a str,
    version: String,
    done: Vec<String>,
    human: bool,
}

impl Trail<'_> {
    async fn record(
        &self,
        event: &str,
        detail: String,
        outcome: Option<&str>,
    ) -> Result<(), CliError> {
        for (rt, other) in [
            (self.src, &self.dst.profile.name),
            (self.dst, &self.src.profile.name),
        ] {
            let mut e = AuditEntry::new(rt.engine.operator.clone(), "ship", event);
            e.bot = Some(self.bot.to_string());
            e.to_version = Some(self.version.clone());
            e.environment = Some(format!(
                "{} → {}",
                self.src.profile.name, self.dst.profile.name
            ));
            e.outcome = outcome.map(str::to_string);
            e.detail = Some(format!("{detail} (with profile {other})"));
            rt.engine
                .audit
                .append(e)
                .await
                .map_err(|e| CliError::config(format!("cannot write the audit log: {e}")))?;
        }
        Ok(())
    }

    fn say(&self, line: String) {
        if self.human {
            out!("{line}");
        }
    }

    /// Stop: audit the failure with what had been done, and return it.
    async fn stop(&self, e: CliError) -> CliError {
        let done = if self.done.is_empty() {
            "nothing was done".to_string()
        } else {
            format!("done before it: {}", self.done.join(", "))
        };
        let _ = self
            .record("failed", format!("{}; {done}", e.message), Some("failed"))
            .await;
        CliError {
            code: e.code,
            message: format!("{}; {done}", e.message),
        }
    }
}

pub async fn run(
    src: &Runtime,
    dst: &Runtime,
    out: Output,
    plan: &ShipPlan<'_>,
) -> Result<u8, CliError> {
    let human = out != Output::Json;
    // The snapshot in the source, and room for it in the target: checked before any task.
    let versions = src
        .backend
        .list_versions(plan.bot)
        .await
        .map_err(backend_error)?;
    let v = versions
        .iter()
        .find(|v| v.id == plan.version || v.label == plan.version)
        .cloned()
        .ok_or_else(|| CliError {
            code: exit::NOT_FOUND,
            message: format!(
                "{} in profile {} has no snapshot {}",
                plan.bot, src.profile.name, plan.version
            ),
        })?;
    let theirs = dst
        .backend
        .list_versions(plan.bot)
        .await
        .map_err(backend_error)?;
    if theirs.iter().any(|t| t.label == v.label) {
        return Err(CliError::refused(format!(
            "{} in profile {} already has a snapshot named {}; nothing was done",
            plan.bot, dst.profile.name, v.label
        )));
    }
    if let Some(limit) = dst.backend.version_limit()
        && theirs.len() >= limit
    {
        return Err(CliError::refused(format!(
            "{} in profile {} has {} snapshots, the platform's limit: make room with `relcon --profile {} prune {}` first; nothing was done",
            plan.bot,
            dst.profile.name,
            theirs.len(),
            dst.profile.name,
            plan.bot
        )));
    }
    let mut t = Trail {
        src,
        dst,
        bot: plan.bot,
        version: v.label.clone(),
        done: Vec::new(),
        human,
    };
    t.record(
        "started",
        format!(
            "ship snapshot {} ({}) from {} to {}",
            v.label, v.id, src.profile.name, dst.profile.name
        ),
        None,
    )
    .await?;
    t.say(format!(
        "ship {} {} ({}) from {} to {}",
        plan.bot, v.label, v.id, src.profile.name, dst.profile.name
    ));

    // 1. Package in the source.
    let job = match src.backend.package_version(plan.bot, &v.id).await {
        Ok(j) => j,
        Err(e) => return Err(t.stop(backend_error(e)).await),
    };
    let end = match wait_job(src, &job, |j| t.say(step_line("package", j))).await {
        Ok(j) => j,
        Err(e) => return Err(t.stop(e).await),
    };
    if end.state != VersionJobState::Done {
        return Err(t.stop(failed("packaging", &end)).await);
    }
    t.done.push(format!("packaged in {}", src.profile.name));
    t.record("packaged", format!("task {job}"), None).await?;

    // 2. Download it.
    let bytes = match src.backend.download_version(plan.bot, &v.id).await {
        Ok(b) => b,
        Err(e) => return Err(t.stop(backend_error(e)).await),
    };
    t.say(format!("  downloaded {} bytes", bytes.len()));
    t.done.push("downloaded".into());

    // 3. Upload it into the target.
    let job = match dst.backend.upload_version(plan.bot, &bytes).await {
        Ok(j) => j,
        Err(e) => return Err(t.stop(backend_error(e)).await),
    };
    let end = match wait_job(dst, &job, |j| t.say(step_line("upload", j))).await {
        Ok(j) => j,
        Err(e) => return Err(t.stop(e).await),
    };
    if end.state != VersionJobState::Done {
        return Err(t.stop(failed("uploading", &end)).await);
    }
    let arrived = match dst.backend.list_versions(plan.bot).await {
        Ok(vs) => vs.into_iter().find(|x| x.label == v.label),
        Err(e) => return Err(t.stop(backend_error(e)).await),
    };
    let Some(arrived) = arrived else {
        return Err(t
            .stop(CliError {
                code: exit::FAILED,
                message: format!(
                    "the upload task {job} ended done but {} has no snapshot named {}",
                    dst.profile.name, v.label
                ),
            })
            .await);
    };
    t.done.push(format!(
        "uploaded to {} as {}",
        dst.profile.name, arrived.id
    ));
    t.record(
        "uploaded",
        format!("task {job}: snapshot {}", arrived.id),
        None,
    )
    .await?;

    // 4. Restore the target project from it.
    if plan.restore {
        let job = match dst.backend.restore_version(plan.bot, &arrived.id).await {
            Ok(j) => j,
            Err(e) => return Err(t.stop(backend_error(e)).await),
        };
        let end = match wait_job(dst, &job, |j| t.say(step_line("restore", j))).await {
            Ok(j) => j,
            Err(e) => return Err(t.stop(e).await),
        };
        if end.state != VersionJobState::Done {
            return Err(t.stop(failed("restoring", &end)).await);
        }
        t.done.push(format!("restored in {}", dst.profile.name));
        t.record("restored", format!("task {job}"), None).await?;
    }
    let summary = format!(
        "{} {} shipped from {} to {} as snapshot {}{}; deploy it there with `relcon --profile {} deploy {} {}`",
        plan.bot,
        v.label,
        src.profile.name,
        dst.profile.name,
        arrived.id,
        if plan.restore {
            ", the project restored from it"
        } else {
            ""
        },
        dst.profile.name,
        plan.bot,
        v.label
    );
    t.record("completed", summary.clone(), Some("succeeded"))
        .await?;
    if human {
        out!("✔ {summary}");
    } else {
        out!(
            "{}",
            crate::sanitize::json_pretty(&json!({
                "outcome": "succeeded",
                "bot": plan.bot,
                "version": v.label,
                "from": src.profile.name,
                "to": dst.profile.name,
                "source": v.id,
                "snapshot": arrived.id,
                "restored": plan.restore,
            }))
            .unwrap_or_default()
        );
    }
    Ok(exit::OK)
}
