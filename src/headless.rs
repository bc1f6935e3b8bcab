//! The headless face, for CI: `deploy`, `canary`, `rollback`, `flows deploy`, `env deploy`,
//! `status`, `versions`, `audit verify|show`. Progress goes to stderr (a spinner when it is
//! a terminal), the result to stdout (one JSON document with `--output json`), and the exit
//! code says how it ended.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::backend::{Fresh, VERSION_PAGE};
use crate::cli::{
    AuditCommand, CanaryArgs, Command, DeployArgs, EnvCommand, FlowsCommand, Global, Output,
    OutputFormat, VersionsArgs,
};
use crate::config::{self, Config, LoadedConfig, ResolvedProfile};
use crate::domain::Stage;
pub use crate::drive::{CliError, exit_code};
use crate::drive::{backend_error, drive, parse_duration, print_report, rollback_plan};
use crate::engine::events::WorkflowKind;
use crate::engine::judge::policy::OnInconclusive;
use crate::engine::{canary, deploy, environment, flows, rollback};
use crate::plans;
use crate::runtime::{self, Runtime};
use crate::sanitize::clean;

pub use crate::exit;

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The profile to use: from the config file, or, without one, from `--api-url` /
/// `COGNIGY_API_URL` and the secret variables.
pub fn resolve_profile(global: &Global) -> Result<ResolvedProfile, CliError> {
    let loaded =
        Config::load(global.config.as_deref()).map_err(|e| CliError::config(e.to_string()))?;
    let api_url = global
        .api_url
        .clone()
        .or_else(|| env_var(config::ENV_API_URL));
    let loaded = match loaded {
        Some(l) => l,
        None => {
            let Some(url) = api_url.clone() else {
                return Err(CliError::config(config::no_config_help()));
            };
            // The documented default is an API key; client credentials only when they are
            // what the environment holds.
            let auth = if env_var(config::ENV_API_KEY).is_none()
                && env_var(config::ENV_CLIENT_ID).is_some()
            {
                "client_credentials_form"
            } else {
                "api_key"
            };
            let text = format!("[profiles.environment]\napi_url = {url:?}\nauth = {auth:?}\n");
            LoadedConfig::parse("<environment>", &text)
                .map_err(|e| CliError::config(e.to_string()))?
        }
    };
    let profile = loaded
        .profile(global.profile.as_deref())
        .map_err(|e| CliError::config(e.to_string()))?;
    let mut resolved = profile
        .resolve_secrets(&env_var)
        .map_err(|e| CliError::config(e.to_string()))?;
    if let Some(url) = &global.api_url {
        resolved.api_url = url.trim_end_matches('/').to_string();
    }
    if global.read_only {
        resolved.read_only = true;
    }
    if let Some(speed) = global.clock_speed {
        if !(speed > 0.0 && speed.is_finite()) {
            return Err(CliError::config(format!(
                "--clock-speed must be above 0, got {speed}"
            )));
        }
        resolved.clock_speed = speed;
    }
    Ok(resolved)
}

/// Another profile of the same config file, resolved on its own: `COGNIGY_API_URL` and
/// `--api-url` (which point the current profile) do not apply to it.
fn resolve_named(global: &Global, name: &str) -> Result<ResolvedProfile, CliError> {
    let loaded = Config::load(global.config.as_deref())
        .map_err(|e| CliError::config(e.to_string()))?
        .ok_or_else(|| {
            CliError::config(format!(
                "profile {name} must come from a config file; relcon found none (--config FILE or RELCON_CONFIG)"
            ))
        })?;
    let profile = loaded
        .profile(Some(name))
        .map_err(|e| CliError::config(e.to_string()))?;
    profile
        .resolve_secrets(&|k: &str| {
            if k == config::ENV_API_URL {
                None
            } else {
                env_var(k)
            }
        })
        .map_err(|e| CliError::config(e.to_string()))
}

fn build(global: &Global) -> Result<Runtime, CliError> {
    let profile = resolve_profile(global)?;
    runtime::build(profile).map_err(|e| CliError::config(format!("{e:#}")))
}

/// Refuse mutating commands in read-only mode; ask before touching a production profile.
fn guard(global: &Global, rt: &Runtime, what: &str, bot: &str) -> Result<(), CliError> {
    let p = &rt.profile;
    if p.read_only {
        return Err(CliError::refused(format!(
            "profile {} is read-only: refusing to {what}",
            p.name
        )));
    }
    if !p.production || global.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::refused(format!(
            "profile {} is a production profile: pass --yes to {what} without a prompt",
            p.name
        )));
    }
    eprint!(
        "PRODUCTION profile {}: {what}. Type the name '{bot}' to confirm: ",
        p.name
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if line.trim() == bot {
        Ok(())
    } else {
        Err(CliError::refused("not confirmed; nothing was changed"))
    }
}

fn canary_plan(rt: &Runtime, a: &CanaryArgs) -> Result<canary::CanaryPlan, CliError> {
    let pairs = |flag: &str, specs: &[String]| {
        specs
            .iter()
            .map(|s| plans::parse_pair(flag, s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CliError::refused)
    };
    let ask = plans::CanaryAsk {
        bot: a.bot.clone(),
        version: a.version.clone(),
        environment: a.env.clone(),
        steps: a.steps.clone(),
        interval: a
            .interval
            .as_deref()
            .map(|i| parse_duration("--interval", i))
            .transpose()?,
        max_hold: a
            .max_hold
            .as_deref()
            .map(|i| parse_duration("--max-hold", i))
            .transpose()?,
        max_traffic: a.max_traffic,
        thresholds: pairs("--threshold", &a.thresholds)?,
        tolerances: pairs("--tolerance", &a.tolerances)?,
        gates: a.gates.clone(),
        alpha: a.alpha,
        beta: a.beta,
        min_conversations: a.min_conversations,
        on_inconclusive: a.on_inconclusive.as_deref().and_then(OnInconclusive::parse),
        failure_limit: a.failure_limit,
        inconclusive_limit: a.inconclusive_limit,
        error_limit: a.error_limit,
        interactive: false,
    };
    plans::canary(&rt.profile.canary, &ask).map_err(CliError::refused)
}

fn default_manifest(env: &str) -> PathBuf {
    let name = format!("{env}-{}.json", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    config::data_dir()
        .map(|d| d.join("manifests").join(&name))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Run a headless command; returns the exit code.
pub async fn run(global: &Global, command: Command) -> u8 {
    match run_inner(global, command).await {
        Ok(code) => code,
        Err(e) => {
            // With jsonl, stdout holds only the lines asked for; the error goes to stderr.
            if global.format() == OutputFormat::Json {
                out!(
                    "{}",
                    crate::sanitize::json_pretty(&json!({"outcome": if e.code == exit::CONFIG { "config_error" } else { "refused" }, "exitCode": e.code, "summary": e.message}))
                        .unwrap_or_default()
                );
            } else {
                eprintln!("relcon: {}", e.message);
            }
            e.code
        }
    }
}

async fn run_inner(global: &Global, command: Command) -> Result<u8, CliError> {
    let out = global.output;
    match command {
        Command::Deploy(DeployArgs {
            bot,
            version,
            to,
            snapshot,
        }) => {
            let rt = build(global)?;
            guard(global, &rt, &format!("deploy {bot} {version}"), &bot)?;
            let plan = deploy::DeployPlan {
                bot,
                version,
                target: to,
                regions: rt.profile.region_sync.clone(),
                timeout: Duration::from_secs(900),
            };
            let bot = Some(plan.bot.clone());
            let resumed = crate::recover::pending(&rt, WorkflowKind::Deploy, &plan.bot).await;
            let r = drive(&rt, out, WorkflowKind::Deploy, bot, move |ctx| {
                crate::recover::attach(ctx, resumed, move |c| {
                    let options = deploy::DeployOptions {
                        take_snapshot: snapshot,
                        ..deploy::DeployOptions::default()
                    };
                    deploy::run_with(c, plan, options)
                })
            })
            .await;
            Ok(print_report(out, &r))
        }
        Command::Canary(a) => {
            let rt = build(global)?;
            let plan = canary_plan(&rt, &a)?;
            guard(
                global,
                &rt,
                &format!("canary {} {}", a.bot, a.version),
                &a.bot,
            )?;
            let bot = Some(a.bot.clone());
            let resumed = crate::recover::pending(&rt, WorkflowKind::Canary, &a.bot).await;
            let r = drive(&rt, out, WorkflowKind::Canary, bot, move |ctx| {
                crate::recover::attach(ctx, resumed, move |c| canary::run(c, plan))
            })
            .await;
            Ok(print_report(out, &r))
        }
        Command::Rollback(a) => {
            let rt = build(global)?;
            let plan = rollback_plan(&rt, &a)?;
            guard(global, &rt, &format!("roll back {}", a.bot), &a.bot)?;
            let bot = Some(a.bot.clone());
            let resumed = crate::recover::pending(&rt, WorkflowKind::Rollback, &a.bot).await;
            let r = drive(&rt, out, WorkflowKind::Rollback, bot, move |ctx| {
                crate::recover::attach(ctx, resumed, move |c| rollback::run(c, plan))
            })
            .await;
            Ok(print_report(out, &r))
        }
        Command::Flows {
            command: FlowsCommand::Deploy { env, manifest, bot },
        } => {
            let rt = build(global)?;
            guard(global, &rt, &format!("deploy flows to {env}"), &env)?;
            let plan = flows::FlowsPlan {
                manifest_path: manifest.unwrap_or_else(|| default_manifest(&env)),
                environment: env,
                bot,
            };
            let bot = plan.bot.clone();
            let resumed = crate::recover::pending_for_environment(
                &rt,
                WorkflowKind::Flows,
                &plan.environment,
            );
            let r = drive(&rt, out, WorkflowKind::Flows, bot, move |ctx| {
                crate::recover::attach(ctx, resumed, move |c| flows::run(c, plan))
            })
            .await;
            Ok(print_report(out, &r))
        }
        Command::Env {
            command: EnvCommand::Deploy { env, snapshot },
        } => {
            let snap = environment::Snapshot::load(&snapshot).map_err(CliError::refused)?;
            let rt = build(global)?;
            guard(global, &rt, &format!("deploy a snapshot to {env}"), &env)?;
            let plan = environment::EnvPlan {
                environment: env,
                snapshot: snap,
                health_interval: Duration::from_secs(15),
            };
            let resumed = crate::recover::pending_for_environment(
                &rt,
                WorkflowKind::Environment,
                &plan.environment,
            );
            let r = drive(&rt, out, WorkflowKind::Environment, None, move |ctx| {
                crate::recover::attach(ctx, resumed, move |c| environment::run(c, plan))
            })
            .await;
            Ok(print_report(out, &r))
        }
        Command::Status(a) => {
            let rt = build(global)?;
            status(&rt, out, a.bot.as_deref()).await
        }
        Command::Versions(a) => {
            let rt = build(global)?;
            versions(&rt, VersionsAsk::new(&a, global.format())).await
        }
        Command::Ship(a) => {
            let src = build(global)?;
            let target = resolve_named(global, &a.to)?;
            if target.name == src.profile.name {
                return Err(CliError::refused(format!(
                    "--to {} is the profile shipping; name another installation's profile",
                    a.to
                )));
            }
            let dst = runtime::build(target).map_err(|e| CliError::config(format!("{e:#}")))?;
            guard(
                global,
                &dst,
                &format!("ship {} {} to {}", a.bot, a.version, dst.profile.name),
                &a.bot,
            )?;
            let plan = crate::ship::ShipPlan {
                bot: &a.bot,
                version: &a.version,
                restore: !a.no_restore,
            };
            crate::ship::run(&src, &dst, out, &plan).await
        }
        Command::Prune(a) => {
            let rt = build(global)?;
            if !a.dry_run {
                guard(
                    global,
                    &rt,
                    &format!("remove old versions of {}", a.bot),
                    &a.bot,
                )?;
            }
            prune(&rt, out, &a).await
        }
        Command::Audit { command } => audit(global, command),
        Command::Recover(a) => {
            let rt = build(global)?;
            if a.op.is_some() {
                guard(global, &rt, "resume an interrupted operation", "recover")?;
            }
            crate::recover::run(&rt, out, a.op)
                .await
                .map_err(|(code, message)| CliError { code, message })
        }
        Command::Adopt(a) => {
            let rt = build(global)?;
            guard(global, &rt, &format!("adopt {}", a.target), &a.target)?;
            crate::recover::adopt(&rt, out, &a.target)
                .await
                .map_err(|(code, message)| CliError { code, message })
        }
        Command::End(a) => {
            let rt = build(global)?;
            guard(global, &rt, &format!("end {}", a.target), &a.target)?;
            crate::recover::end(&rt, out, &a.target, a.reason.as_deref())
                .await
                .map_err(|(code, message)| CliError { code, message })
        }
        Command::Resume(a) if a.target.is_none() || journaled(a.target.as_deref()) => {
            let rt = build(global)?;
            if a.target.is_some() {
                guard(global, &rt, "resume an interrupted operation", "resume")?;
            }
            crate::recover::run(&rt, out, a.target)
                .await
                .map_err(|(code, message)| CliError { code, message })
        }
        Command::Get(_)
        | Command::Promote(_)
        | Command::Pause(_)
        | Command::Resume(_)
        | Command::Abort(_)
        | Command::Retry(_) => {
            let rt = build(global)?;
            crate::operator::run(global, &rt, command).await
        }
        Command::Sim(_)
        | Command::Demo(_)
        | Command::Bench { .. }
        | Command::Completions { .. }
        | Command::Man => Err(CliError::config("not a headless command")),
    }
}

/// `target` names an operation of this machine's intent journal (not a bot).
fn journaled(target: Option<&str>) -> bool {
    let Some(t) = target else { return false };
    crate::journal::Journal::default_dir()
        .map(crate::journal::Journal::new)
        .and_then(|j| j.find(t))
        .is_some_and(|s| s.op == t || t.len() >= 8)
}

async fn status(rt: &Runtime, out: Output, bot: Option<&str>) -> Result<u8, CliError> {
    let bots = match bot {
        Some(b) => vec![rt.backend.get_bot(b).await.map_err(backend_error)?],
        None => rt.backend.list_bots().await.map_err(backend_error)?,
    };
    // Orphans: canaries left alone too long are rolled back first, the others shown.
    let (orphans, swept) = crate::recover::orphans_seen(rt, bot, "relcon status").await;
    // Running canaries, for the split between the arms.
    let canaries = rt
        .backend
        .list_canaries(bot, true)
        .await
        .map_err(backend_error)?;
    if out == Output::Json {
        let items: Vec<serde_json::Value> = bots
            .iter()
            .map(|b| {
                let mut v = serde_json::to_value(b).unwrap_or_default();
                let mine: Vec<&crate::domain::Canary> =
                    canaries.iter().filter(|c| c.bot_id == b.id).collect();
                v["canaries"] = json!(mine);
                let alone: Vec<_> = orphans
                    .iter()
                    .filter(|o| o.bot.as_deref() == Some(b.id.as_str()))
                    .collect();
                v["orphans"] = json!(alone);
                let rolled: Vec<_> = swept
                    .iter()
                    .filter(|s| s.bot.as_deref() == Some(b.id.as_str()))
                    .map(|s| json!({"operationId": s.operation_id, "reason": s.reason}))
                    .collect();
                v["orphansRolledBack"] = json!(rolled);
                v
            })
            .collect();
        out!(
            "{}",
            crate::sanitize::json_pretty(&items).unwrap_or_default()
        );
        return Ok(exit::OK);
    }
    out!("profile {} · {}", rt.profile.name, rt.profile.api_url);
    for b in &bots {
        out!(
            "{} {} ({}) · {} · {} active sessions{}",
            match b.health {
                crate::domain::Health::Healthy => "●",
                _ => "▲",
            },
            b.id,
            clean(&b.name),
            b.health.as_str(),
            b.active_sessions,
            b.error_rate
                .map(|r| format!(" · error rate {:.1}%", r * 100.0))
                .unwrap_or_default()
        );
        for e in &b.environments {
            let canary = canaries
                .iter()
                .find(|c| c.bot_id == b.id && c.environment_id == e.environment_id);
            let split = canary
                .map(|c| {
                    format!(
                        "  canary {} {} at {:.1}% · {} at {:.1}% ({})",
                        c.id,
                        c.version,
                        c.canary_weight,
                        c.stable_version,
                        100.0 - c.canary_weight,
                        c.state.as_str().replace('_', " ")
                    )
                })
                .unwrap_or_default();
            out!(
                "    {:<16} {:<10} {:>5.1}%  live {}{split}",
                e.environment_id,
                e.stage.as_str(),
                e.traffic_weight,
                e.live_version.as_deref().unwrap_or("-")
            );
        }
        if let Some(op) = &b.active_operation {
            out!(
                "    ◌ {} {} {} ({})",
                op.kind.as_str(),
                op.id,
                op.state,
                op.version_id.as_deref().unwrap_or("")
            );
        }
        for o in orphans
            .iter()
            .filter(|o| o.bot.as_deref() == Some(b.id.as_str()))
        {
            out!(
                "    ⚠ {} — `relcon adopt {id}` takes it over, `relcon end {id}` ends it safely",
                o.describe(),
                id = b.id
            );
        }
        for s in swept
            .iter()
            .filter(|s| s.bot.as_deref() == Some(b.id.as_str()))
        {
            out!("    ↺ canary {} {}", s.operation_id, clean(&s.reason));
        }
    }
    Ok(exit::OK)
}

/// The versions `prune` removes: the oldest that nothing serves, until `keep` are left.
pub fn prune_plan(versions: &[crate::domain::Version], keep: usize) -> Vec<crate::domain::Version> {
    let excess = versions.len().saturating_sub(keep);
    let mut idle: Vec<&crate::domain::Version> =
        versions.iter().filter(|v| v.live_in.is_empty()).collect();
    idle.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    idle.into_iter().take(excess).cloned().collect()
}

async fn prune(rt: &Runtime, out: Output, a: &crate::cli::PruneArgs) -> Result<u8, CliError> {
    let b = &rt.backend;
    let Some(limit) = b.version_limit() else {
        return Err(CliError::refused(
            "this backend keeps no limit on versions; there is nothing to prune",
        ));
    };
    let keep = a.keep.unwrap_or(limit.saturating_sub(1));
    let vs = b.list_versions(&a.bot).await.map_err(backend_error)?;
    let doomed = prune_plan(&vs, keep);
    let served = vs.iter().filter(|v| !v.live_in.is_empty()).count();
    let left = vs.len() - doomed.len();
    let human = out != Output::Json;
    let summary = |removed: &[String]| {
        crate::sanitize::json_pretty(&json!({
            "bot": a.bot, "limit": limit, "keep": keep, "versions": vs.len(),
            "served": served, "dryRun": a.dry_run,
            "plan": doomed.iter().map(|v| json!({"id": v.id, "label": v.label})).collect::<Vec<_>>(),
            "removed": removed,
        }))
        .unwrap_or_default()
    };
    if doomed.is_empty() {
        if !human {
            out!("{}", summary(&[]));
            return Ok(exit::OK);
        }
        out!(
            "{}: {} of {limit} versions, {served} served; nothing to remove to keep {keep}",
            a.bot,
            vs.len()
        );
        return Ok(exit::OK);
    }
    let verb = if a.dry_run {
        "would remove"
    } else {
        "removing"
    };
    if human {
        out!(
            "{}: {} of {limit} versions ({served} served, never removed); {verb} {} to keep {left}:",
            a.bot,
            vs.len(),
            doomed.len()
        );
        for v in &doomed {
            out!(
                "  {} {} ({})",
                v.id,
                v.label,
                v.created_at.get(..10).unwrap_or(&v.created_at)
            );
        }
    }
    if a.dry_run {
        if !human {
            out!("{}", summary(&[]));
        }
        return Ok(exit::OK);
    }
    let mut removed = Vec::new();
    for v in &doomed {
        let job = b
            .delete_version(&a.bot, &v.id)
            .await
            .map_err(backend_error)?;
        let end = crate::ship::wait_job(rt, &job, |_| {}).await?;
        let mut entry =
            crate::audit::AuditEntry::new(rt.engine.operator.clone(), "prune", "removed");
        entry.bot = Some(a.bot.clone());
        entry.from_version = Some(v.id.clone());
        let ok = end.state == crate::backend::VersionJobState::Done;
        entry.outcome = Some(if ok { "succeeded" } else { "failed" }.into());
        entry.detail = Some(format!(
            "snapshot {} ({}) task {job}: {}",
            v.id,
            v.label,
            end.fail_reason.clone().unwrap_or_else(|| "done".into())
        ));
        rt.engine
            .audit
            .append(entry)
            .await
            .map_err(|e| CliError::config(format!("cannot write the audit log: {e}")))?;
        if !ok {
            return Err(CliError {
                code: exit::FAILED,
                message: format!(
                    "removing {} failed: {}",
                    v.id,
                    end.fail_reason.unwrap_or_else(|| "no reason given".into())
                ),
            });
        }
        removed.push(v.id.clone());
        if human {
            out!("  ✔ removed {} {}", v.id, v.label);
        }
    }
    if !human {
        out!("{}", summary(&removed));
    }
    Ok(exit::OK)
}

/// What `relcon versions` asked for, and how it prints.
struct VersionsAsk<'a> {
    bot: &'a str,
    /// The newest this many; `None`: every version.
    want: Option<u64>,
    format: OutputFormat,
}

impl<'a> VersionsAsk<'a> {
    fn new(a: &'a VersionsArgs, format: OutputFormat) -> VersionsAsk<'a> {
        VersionsAsk {
            bot: &a.bot,
            want: if a.all {
                None
            } else {
                Some(a.limit.unwrap_or(u64::from(VERSION_PAGE)).max(1))
            },
            format,
        }
    }

    /// Versions a page: the platform's page, or fewer when fewer are wanted.
    fn page_size(&self) -> u32 {
        match self.want {
            Some(n) if n < u64::from(VERSION_PAGE) => n as u32,
            _ => VERSION_PAGE,
        }
    }
}

/// The last known-good version, judged over versions met newest first, one at a time, as
/// [`rollback::last_known_good`] judges a whole list: the newest good version older than the
/// live one, or, when the live version is not among them at all, the newest good version.
struct GoodFinder {
    live: Option<String>,
    seen_live: bool,
    /// Found after the live version (or with no live version): the answer.
    found: Option<String>,
    /// The newest good version before the live one: the answer only if the live version
    /// never comes.
    before_live: Option<String>,
}

impl GoodFinder {
    fn new(live: Option<String>) -> GoodFinder {
        GoodFinder {
            seen_live: live.is_none(),
            live,
            found: None,
            before_live: None,
        }
    }

    /// Meet the next version; true when it is the last known good.
    fn see(&mut self, v: &crate::domain::Version) -> bool {
        if self.found.is_some() {
            return false;
        }
        if !self.seen_live && self.live.as_deref() == Some(v.id.as_str()) {
            self.seen_live = true;
            return false;
        }
        // The one rule, asked of this version alone.
        let good =
            rollback::last_known_good(std::slice::from_ref(v), None, Stage::Production).is_some();
        if !good {
            return false;
        }
        if self.seen_live {
            self.found = Some(v.id.clone());
            return true;
        }
        if self.before_live.is_none() {
            self.before_live = Some(v.id.clone());
        }
        false
    }

    /// The answer when reading stops, and whether it is final: `complete` says every version
    /// was read; otherwise an answer not found yet may be on a page not read.
    fn answer(&self, complete: bool) -> (Option<String>, bool) {
        if self.found.is_some() {
            return (self.found.clone(), true);
        }
        if !complete {
            return (None, false);
        }
        if self.seen_live {
            (None, true)
        } else {
            (self.before_live.clone(), true)
        }
    }
}

/// 10000 → "10,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The human table's column widths, from the first page (a later, longer id or label is
/// printed whole and pushes its row's later columns right; nothing is ever cut).
struct Columns {
    id: usize,
    label: usize,
}

impl Columns {
    fn of(first: &[crate::domain::Version]) -> Columns {
        let widest = |f: fn(&crate::domain::Version) -> &str, least: usize| {
            first
                .iter()
                .map(|v| f(v).chars().count())
                .max()
                .unwrap_or(0)
                .max(least)
        };
        Columns {
            id: widest(|v| &v.id, 7),
            label: widest(|v| &v.label, 5),
        }
    }

    fn header(&self) -> String {
        let (id_w, label_w) = (self.id, self.label);
        format!(
            "{:<id_w$} {:<label_w$} {:<10} {:<10} {:<11} {:<24} VERDICT",
            "VERSION", "LABEL", "STATUS", "ENV", "CREATED", "LIVE IN"
        )
    }

    fn row(&self, v: &crate::domain::Version, good: bool) -> String {
        let (id_w, label_w) = (self.id, self.label);
        let mark = if good { " ★ last known good" } else { "" };
        format!(
            "{:<id_w$} {:<label_w$} {:<10} {:<10} {:<11} {:<24} {}{mark}",
            v.id,
            v.label,
            v.status.as_str(),
            v.environment.as_str(),
            v.created_at.get(..10).unwrap_or(&v.created_at),
            v.live_in.join(","),
            v.last_canary_verdict.as_deref().unwrap_or("-"),
        )
    }
}

/// `relcon versions`: the newest versions a page at a time, each page printed as it
/// arrives (human rows or JSON lines; the JSON document keeps what it read until the end).
async fn versions(rt: &Runtime, ask: VersionsAsk<'_>) -> Result<u8, CliError> {
    let bot = ask.bot;
    let size = ask.page_size();
    let b = &rt.backend;
    // Both at once; the bot's error, if both fail, is the one said.
    let (summary, first) = tokio::join!(b.get_bot(bot), b.versions_page(bot, 1, size, false));
    let summary = summary.map_err(backend_error)?;
    let first = first.map_err(backend_error)?;
    let live = rollback::live_version(&summary, Stage::Production);
    let mut finder = GoodFinder::new(live.clone());
    let mut kept: Vec<crate::domain::Version> = Vec::new();
    let mut columns: Option<Columns> = None;
    let mut total: Option<u64> = None;
    let mut shown: u64 = 0;
    // The previous page's ids: a version added while reading pushes the list down, and its
    // last rows come again at the top of the next page.
    let mut previous: Vec<String> = Vec::new();
    let mut changed_said = false;
    let mut page_no: u32 = 1;
    let mut next = Some(first);
    // Whether every version was read and shown.
    let complete = loop {
        let Some(Fresh::Changed(page)) = next.take() else {
            // An unconditional read is never 304; should one come, say less rather than
            // pretend the list ended.
            break false;
        };
        if let (Some(was), Some(now)) = (total, page.total)
            && was != now
            && !changed_said
        {
            changed_said = true;
            eprintln!(
                "relcon: {bot}'s versions changed while they were read ({} → {}): each page is as it was read, and a version may be missing at a page boundary",
                thousands(was),
                thousands(now)
            );
        }
        // The newest count decides where the list ends.
        total = page.total.or(total);
        let n = page.versions.len();
        let ids: Vec<String> = page.versions.iter().map(|v| v.id.clone()).collect();
        let mut lines = String::new();
        if columns.is_none() && ask.format == OutputFormat::Human {
            let c = Columns::of(&page.versions);
            lines.push_str(&c.header());
            lines.push('\n');
            columns = Some(c);
        }
        let mut fresh = 0usize;
        let mut unshown = false;
        for v in page.versions {
            if previous.contains(&v.id) {
                continue;
            }
            fresh += 1;
            if ask.want.is_some_and(|w| shown >= w) {
                unshown = true;
                break;
            }
            shown += 1;
            let good = finder.see(&v);
            match ask.format {
                OutputFormat::Human => {
                    if let Some(c) = &columns {
                        lines.push_str(&c.row(&v, good));
                        lines.push('\n');
                    }
                }
                OutputFormat::Jsonl => {
                    lines.push_str(&crate::sanitize::json_string(&v).unwrap_or_default());
                    lines.push('\n');
                }
                OutputFormat::Json => kept.push(v),
            }
        }
        if !lines.is_empty() {
            out!("{}", lines.trim_end_matches('\n'));
        }
        previous = ids;
        let ended = n == 0
            || n < size as usize
            || total.is_some_and(|t| u64::from(page_no) * u64::from(size) >= t);
        if ended || unshown || ask.want.is_some_and(|w| shown >= w) {
            break ended && !unshown;
        }
        if fresh == 0 {
            eprintln!(
                "relcon: page {page_no} of {bot}'s versions repeats the page before it; stopping there"
            );
            break false;
        }
        page_no += 1;
        next = Some(
            b.versions_page(bot, page_no, size, false)
                .await
                .map_err(backend_error)?,
        );
    };
    let (good, good_known) = finder.answer(complete);
    let total = total.or(complete.then_some(shown));
    let truncated = !complete;
    if ask.format == OutputFormat::Json {
        out!(
            "{}",
            crate::sanitize::json_pretty(&json!({
                "bot": bot,
                "live": live,
                "lastKnownGood": good,
                "lastKnownGoodKnown": good_known,
                "total": total,
                "truncated": truncated,
                "versions": kept,
            }))
            .unwrap_or_default()
        );
        return Ok(exit::OK);
    }
    // Notes: under the table for people; on stderr beside JSON lines, so stdout stays data.
    let note = |text: String| match ask.format {
        OutputFormat::Human => out!("{text}"),
        _ => eprintln!("relcon: {text}"),
    };
    if ask.format == OutputFormat::Human {
        match (&good, good_known) {
            // Known, but met before the live version was known to be absent: not marked.
            (Some(g), true) if finder.found.is_none() => note(format!(
                "★ last known good: {g} (the live version {} is not among the versions)",
                live.as_deref().unwrap_or("-")
            )),
            (None, false) => note(format!(
                "★ last known good: not among the {} newest; it may be older (--all reads every version)",
                thousands(shown)
            )),
            _ => {}
        }
    }
    if truncated {
        note(match total {
            Some(t) => format!(
                "{} of {} shown; --limit N or --all for more",
                thousands(shown),
                thousands(t)
            ),
            None => format!(
                "{} shown, there may be more; --limit N or --all for more",
                thousands(shown)
            ),
        });
    }
    // The platform's limit, said before it bites.
    let count = total.unwrap_or(shown);
    if let Some(limit) = b.version_limit()
        && count + 1 >= limit as u64
    {
        note(format!(
            "{count} of {limit} versions, the platform's limit: {}; `relcon prune {bot}` removes the oldest nothing serves",
            if count >= limit as u64 {
                "no new snapshot can be taken"
            } else {
                "room for one more"
            }
        ));
    }
    Ok(exit::OK)
}

/// `--since`: a duration back from now (`30m`, `2h`) or an RFC 3339 time.
pub fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, CliError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let d = config::parse_duration(text).map_err(|e| {
        CliError::refused(format!(
            "--since {text}: {e}; use a duration such as 30m or 2h, or a time such as 2026-11-22T08:00:00Z"
        ))
    })?;
    let d = chrono::Duration::from_std(d)
        .map_err(|_| CliError::refused(format!("--since {text}: too far back")))?;
    Ok(chrono::Utc::now() - d)
}

fn audit_path(global: &Global, file: Option<PathBuf>) -> Result<PathBuf, CliError> {
    match file {
        Some(f) => Ok(f),
        None => resolve_profile(global).map(|p| p.audit_log),
    }
}

fn audit(global: &Global, command: AuditCommand) -> Result<u8, CliError> {
    match command {
        AuditCommand::Verify { file } => {
            let path = audit_path(global, file)?;
            let report = crate::audit::verify(&path).map_err(|e| CliError {
                code: exit::FAILED,
                message: e.to_string(),
            })?;
            if global.output == Output::Json {
                out!(
                    "{}",
                    crate::sanitize::json_pretty(&json!({"file": path, "ok": report.is_ok(), "records": report.records, "head": report.head, "anchor": report.anchor, "problems": report.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>()})).unwrap_or_default()
                );
            } else {
                out!("{}: {report}", path.display());
            }
            Ok(if report.is_ok() {
                exit::OK
            } else {
                exit::FAILED
            })
        }
        AuditCommand::Show {
            file,
            bot,
            operation,
            since,
            last,
        } => {
            let since = since.as_deref().map(parse_since).transpose()?;
            let path = audit_path(global, file)?;
            let records = crate::audit::read_records(&path).map_err(|e| CliError {
                code: exit::FAILED,
                message: e.to_string(),
            })?;
            let filter = crate::audit::Filter {
                bot,
                operation,
                since,
            };
            let mut shown: Vec<_> = records.iter().filter(|r| filter.matches(r)).collect();
            if let Some(n) = last {
                let skip = shown.len().saturating_sub(n);
                shown.drain(..skip);
            }
            if global.output == Output::Json {
                out!(
                    "{}",
                    crate::sanitize::json_pretty(&shown).unwrap_or_default()
                );
            } else {
                for r in shown {
                    out!("{}", crate::audit::format_human(r));
                }
            }
            Ok(exit::OK)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(i: usize, kind: u64) -> crate::domain::Version {
        use crate::domain::VersionStatus;
        crate::domain::Version {
            id: format!("v{i}"),
            label: format!("{i}"),
            status: if kind.is_multiple_of(3) {
                VersionStatus::Draft
            } else {
                VersionStatus::Published
            },
            environment: if kind.is_multiple_of(5) {
                Stage::Staging
            } else {
                Stage::Production
            },
            created_at: "2026-01-01T00:00:00Z".into(),
            nlu_model_id: "nlu".into(),
            flow_references: vec![],
            live_in: vec![],
            last_canary_verdict: kind.is_multiple_of(2).then(|| "promoted".to_string()),
        }
    }

    #[test]
    fn the_last_known_good_read_page_by_page_is_the_rule_over_the_whole_list() {
        // Lists of many shapes, the live version anywhere in them or absent, read to every
        // depth: a final answer is the rule's over the whole list, and reading all of it
        // always gives one.
        let mut seed = 7u64;
        for round in 0..400 {
            let len = round % 13;
            let vs: Vec<_> = (0..len)
                .map(|i| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    version(len - i, seed >> 33)
                })
                .collect();
            let lives = (0..=len + 1).map(|i| (i < len + 1).then(|| format!("v{i}")));
            for live in lives {
                let whole = rollback::last_known_good(&vs, live.as_deref(), Stage::Production)
                    .map(|v| v.id.clone());
                for read in 0..=len {
                    let mut f = GoodFinder::new(live.clone());
                    let marked: Vec<_> = vs[..read].iter().filter(|v| f.see(v)).collect();
                    let (good, known) = f.answer(read == len);
                    assert!(marked.len() <= 1);
                    if known {
                        assert_eq!(good, whole, "live {live:?}, read {read} of {vs:?}");
                    }
                    if let Some(m) = marked.first() {
                        assert_eq!(Some(&m.id), whole.as_ref());
                    }
                    assert!(read < len || known);
                }
            }
        }
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn since_takes_durations_and_times() {
        let t = parse_since("2026-11-22T08:00:00Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-22T08:00:00+00:00");
        let ago = chrono::Utc::now() - parse_since("2h").unwrap();
        assert!((ago.num_seconds() - 7200).abs() <= 5);
        let e = parse_since("yesterday").unwrap_err();
        assert_eq!(e.code, exit::REFUSED);
        assert!(e.message.contains("--since yesterday"), "{}", e.message);
    }
}
