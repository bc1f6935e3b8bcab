//! The console face: the TUI on one side, the engine and backend on the other. The TUI
//! emits `Effect`s; this runtime executes each in its own task (never on the render loop)
//! and answers with `Update`s. Workflows stream their progress events straight through.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

use crate::audit::AuditRecord;
use crate::cli::Global;
use crate::config::{self, Config, ResolvedProfile, UiSettings};
use crate::domain::Stage;
use crate::engine::events::{OpCommand, OpId, ProgressEvent, WorkflowKind};
use crate::engine::{canary, deploy, environment, flows, rollback};
use crate::plans;
use crate::runtime::{self, Runtime};
use crate::tui::{self, Effect, RefreshWhat, TimelineEntry, TuiContext, Update};

/// Open the console on the configured profile.
pub async fn run_profile(global: &Global) -> anyhow::Result<()> {
    let profile =
        crate::headless::resolve_profile(global).map_err(|e| anyhow::anyhow!(e.message))?;
    let ui = match Config::load(global.config.as_deref())? {
        Some(loaded) => loaded.ui_settings()?,
        None => UiSettings::defaults()?,
    };
    run_console(profile, ui, Duration::from_secs(5)).await
}

/// Open the console on an in-process simulator at `url`, running at `speed`.
pub async fn run_demo(url: &str, speed: f64, backend: config::Backend) -> anyhow::Result<()> {
    let mut profile = config::Profile::demo(url, speed);
    profile.backend = backend;
    // Each demo starts a fresh world; its audit trail starts fresh too, so the timeline
    // shows only what happened to this world.
    let name = format!("demo-{}.jsonl", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    if let Some(dir) = profile.audit_log.parent() {
        profile.audit_log = dir.join(name);
    }
    run_console(profile, UiSettings::defaults()?, Duration::from_secs(2)).await
}

async fn run_console(
    profile: ResolvedProfile,
    ui: UiSettings,
    refresh: Duration,
) -> anyhow::Result<()> {
    let rt = runtime::build(profile)?;
    let (effects_tx, effects_rx) = mpsc::unbounded_channel();
    let (updates_tx, updates_rx) = mpsc::unbounded_channel();
    let mut ctx = TuiContext::new(effects_tx, updates_rx);
    ctx.profile = rt.profile.name.clone();
    ctx.production = rt.profile.production;
    ctx.read_only = rt.profile.read_only;
    ctx.theme = format!("{:?}", ui.ui.theme).to_lowercase();
    ctx.keymap = ui.keymap.bindings.clone().into_iter().collect();
    ctx.log_path = Some(PathBuf::from(crate::logging::log_file_hint()));
    ctx.refresh_every = refresh;
    ctx.clock_speed = rt.profile.clock_speed;
    ctx.max_fps = u32::from(ui.ui.frame_rate.clamp(5, 120));
    ctx.rollback_max_sessions = rt.profile.rollback.max_active_sessions;
    ctx.repoints = matches!(rt.profile.backend, config::Backend::Cognigy(_));
    let c = &rt.profile.canary;
    ctx.canary_defaults = tui::plan::CanaryDefaults {
        steps: c.steps.iter().map(|s| f64::from(*s)).collect(),
        interval: c.interval,
        max_hold: c.max_hold,
        thresholds: c.thresholds(),
        min_conversations: u64::from(c.min_conversations),
        judge: format!(
            "judged against the baseline, false-alarm level α = {}\ngates: {}",
            c.alpha,
            c.gates
                .iter()
                .map(|m| m.label())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let worker = tokio::spawn(serve(rt, effects_rx, updates_tx));
    let result = tui::run(ctx).await;
    // Workflows run inside relcon and stop with it; what the server did so far stays, and
    // the journal lets the next relcon on this machine pick them up.
    worker.abort();
    result
}

/// Execute the console's effects until it quits.
async fn serve(
    rt: Runtime,
    mut effects: UnboundedReceiver<Effect>,
    updates: UnboundedSender<Update>,
) {
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel::<ProgressEvent>();
    let forward = updates.clone();
    tokio::spawn(async move {
        while let Some(e) = progress_rx.recv().await {
            if forward.send(Update::Progress(e)).is_err() {
                break;
            }
        }
    });
    let mut ops: HashMap<OpId, UnboundedSender<OpCommand>> = HashMap::new();
    // Operations of this machine whose relcon died are picked up, not left alone.
    let (resumed, problems) = crate::recover::reattach_for_console(&rt, progress_tx.clone()).await;
    for h in resumed {
        ops.insert(h.id, h.commands);
    }
    if !problems.is_empty() {
        error(
            &updates,
            "cannot re-attach an interrupted operation",
            &problems.join("\n"),
        );
    }
    while let Some(effect) = effects.recv().await {
        let tx = updates.clone();
        match effect {
            Effect::Quit => break,
            Effect::Refresh { what, req } => {
                let backend = rt.backend.clone();
                let audit = rt.profile.audit_log.clone();
                tokio::spawn(refresh(backend, audit, what, req, tx));
            }
            Effect::LoadVersions { bot, req } => {
                let backend = rt.backend.clone();
                tokio::spawn(async move {
                    match backend.list_versions(&bot).await {
                        Ok(versions) => send(&tx, Update::Versions { req, bot, versions }),
                        Err(e) => error(&tx, "cannot load versions", &e.to_string()),
                    }
                });
            }
            Effect::LoadSeries { bot, env, req } => {
                let backend = rt.backend.clone();
                tokio::spawn(async move {
                    match backend
                        .metrics_series(&bot, env.as_deref(), Duration::from_secs(30 * 60))
                        .await
                    {
                        Ok(series) => send(
                            &tx,
                            Update::Series {
                                req,
                                bot,
                                series: Box::new(series),
                            },
                        ),
                        Err(e) => send(
                            &tx,
                            Update::Connection {
                                ok: false,
                                detail: format!("metrics: {e}"),
                            },
                        ),
                    }
                });
            }
            Effect::Command { op, cmd } => match ops.get(&op) {
                Some(c) if c.send(cmd).is_ok() => {}
                _ => error(
                    &tx,
                    "that operation has finished",
                    &format!("operation #{op} no longer runs"),
                ),
            },
            start => match start_workflow(&rt, start, progress_tx.clone()) {
                Ok(Some((id, commands))) => {
                    ops.retain(|_, c| !c.is_closed());
                    ops.insert(id, commands);
                }
                Ok(None) => {}
                Err(e) => error(&tx, "cannot start", &e),
            },
        }
    }
}

fn send(tx: &UnboundedSender<Update>, u: Update) {
    let _ = tx.send(u);
}

fn error(tx: &UnboundedSender<Update>, title: &str, detail: &str) {
    let hint = if detail.contains("relcon sim") || detail.contains("cannot reach") {
        "check that the server is running and the profile's api_url is right"
    } else if detail.contains("credentials") || detail.contains("scope") {
        "check the COGNIGY_* variables and the profile's scopes"
    } else {
        "see the log file named in ? help for details"
    };
    send(
        tx,
        Update::Error {
            title: title.into(),
            detail: detail.into(),
            hint: hint.into(),
        },
    );
}

type Started = Option<(OpId, UnboundedSender<OpCommand>)>;

/// Turn a start effect into a running workflow.
fn start_workflow(
    rt: &Runtime,
    effect: Effect,
    events: UnboundedSender<ProgressEvent>,
) -> Result<Started, String> {
    let p = &rt.profile;
    if p.read_only && effect.is_mutating() {
        return Err(format!("profile {} is read-only", p.name));
    }
    let handle = match effect {
        Effect::StartDeploy { bot, version, env } => {
            let plan = deploy::DeployPlan {
                bot,
                version,
                target: Some(env),
                regions: p.region_sync.clone(),
                timeout: Duration::from_secs(900),
            };
            let bot = Some(plan.bot.clone());
            driven(rt, WorkflowKind::Deploy, bot, events, move |ctx| {
                deploy::run(ctx, plan)
            })
        }
        Effect::StartCanary(r) => {
            let ask = plans::CanaryAsk {
                bot: r.bot,
                version: r.version,
                environment: Some(r.env),
                steps: Some(r.steps),
                interval: Some(r.interval),
                max_hold: Some(r.max_hold),
                thresholds: vec![
                    ("error_rate".into(), r.thresholds.error_rate),
                    ("satisfaction_score".into(), r.thresholds.satisfaction_score),
                    ("max_latency_ms".into(), r.thresholds.max_latency_ms),
                ],
                min_conversations: Some(r.min_conversations),
                interactive: true,
                ..plans::CanaryAsk::default()
            };
            let plan = plans::canary(&p.canary, &ask)?;
            let bot = Some(plan.bot.clone());
            driven(rt, WorkflowKind::Canary, bot, events, move |ctx| {
                canary::run(ctx, plan)
            })
        }
        Effect::StartRollback {
            bot,
            version,
            max_active_sessions,
        } => {
            let s = &p.rollback;
            let plan = rollback::RollbackPlan {
                bot,
                target: Some(version),
                environment: if s.environment.eq_ignore_ascii_case("staging") {
                    Stage::Staging
                } else {
                    Stage::Production
                },
                max_active_sessions,
                wait_drain: s.wait_drain,
                fallback: s.fallback_version.clone(),
                test_message: s.test_message.clone(),
                expected_intent: s.expected_intent.clone(),
                min_confidence: s.min_confidence,
                timeout: Duration::from_secs(600),
            };
            let bot = Some(plan.bot.clone());
            driven(rt, WorkflowKind::Rollback, bot, events, move |ctx| {
                rollback::run(ctx, plan)
            })
        }
        Effect::StartFlowsDeploy { env } => {
            let name = format!("{env}-{}.json", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
            let manifest_path = config::data_dir()
                .map(|d| d.join("manifests").join(&name))
                .unwrap_or_else(|| PathBuf::from(name));
            let plan = flows::FlowsPlan {
                environment: env,
                bot: None,
                manifest_path,
            };
            driven(rt, WorkflowKind::Flows, None, events, move |ctx| {
                flows::run(ctx, plan)
            })
        }
        Effect::StartEnvDeploy { env, snapshot_path } => {
            let snapshot = environment::Snapshot::load(&snapshot_path)?;
            let plan = environment::EnvPlan {
                environment: env,
                snapshot,
                health_interval: Duration::from_secs(15),
            };
            driven(rt, WorkflowKind::Environment, None, events, move |ctx| {
                environment::run(ctx, plan)
            })
        }
        _ => return Ok(None),
    };
    Ok(Some((handle.id, handle.commands)))
}

/// Start a workflow driven on the server (a lease, commands from other relcons, events):
/// see [`crate::engine::control`].
fn driven<F, Fut>(
    rt: &Runtime,
    workflow: WorkflowKind,
    bot: Option<String>,
    events: UnboundedSender<ProgressEvent>,
    run: F,
) -> crate::engine::OpHandle
where
    F: FnOnce(crate::engine::Ctx) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = crate::engine::Report> + Send + 'static,
{
    let settings = crate::engine::control::DriverSettings::for_engine(&rt.engine);
    crate::engine::control::spawn_driven(&rt.engine, settings, workflow, bot, events, run)
}

async fn refresh(
    backend: std::sync::Arc<dyn crate::backend::ReleaseBackend>,
    audit: PathBuf,
    what: RefreshWhat,
    req: u64,
    tx: UnboundedSender<Update>,
) {
    let all = what == RefreshWhat::All;
    let mut ok = true;
    let mut problem = String::new();
    if all || what == RefreshWhat::Bots {
        match backend.list_bots().await {
            Ok(bots) => send(&tx, Update::Bots { req, bots }),
            Err(e) => {
                ok = false;
                problem = e.to_string();
            }
        }
    }
    if ok && (all || what == RefreshWhat::Operations) {
        match backend.list_operations(None, false).await {
            Ok(operations) => send(&tx, Update::Operations { req, operations }),
            Err(e) => {
                ok = false;
                problem = e.to_string();
            }
        }
    }
    if ok && (all || what == RefreshWhat::Canaries) {
        match backend.list_canaries(None, false).await {
            Ok(canaries) => send(&tx, Update::Canaries { req, canaries }),
            Err(e) => {
                ok = false;
                problem = e.to_string();
            }
        }
    }
    if all || what == RefreshWhat::Timeline {
        let entries = tokio::task::spawn_blocking(move || timeline(&audit))
            .await
            .unwrap_or_default();
        send(&tx, Update::Timeline { req, entries });
    }
    send(
        &tx,
        Update::Connection {
            ok,
            detail: if ok { "connected".into() } else { problem },
        },
    );
}

/// The last records of the audit trail as timeline entries.
fn timeline(path: &std::path::Path) -> Vec<TimelineEntry> {
    let Ok(records) = crate::audit::read_records(path) else {
        return Vec::new();
    };
    let skip = records.len().saturating_sub(200);
    records.iter().skip(skip).map(entry).collect()
}

fn entry(r: &AuditRecord) -> TimelineEntry {
    let mut text = format!("{} {}", r.operation, r.event.replace('_', " "));
    match (&r.from_version, &r.to_version) {
        (Some(f), Some(t)) => text.push_str(&format!(" {f} → {t}")),
        (None, Some(t)) => text.push_str(&format!(" → {t}")),
        _ => {}
    }
    if let Some(d) = &r.detail {
        text.push_str(": ");
        text.push_str(d);
    }
    let mut figures = Vec::new();
    if let Some(m) = &r.metrics {
        if let Some(vs) = m.get("verdicts").and_then(Value::as_array) {
            for v in vs {
                let metric = v.get("metric").and_then(Value::as_str).unwrap_or("?");
                let fmt = |x: Option<f64>| match (metric, x) {
                    (_, None) => "-".to_string(),
                    ("error_rate", Some(x)) => format!("{:.1}%", x * 100.0),
                    (_, Some(x)) => format!("{x:.1}"),
                };
                figures.push((
                    metric.to_string(),
                    format!(
                        "{} vs {} ({})",
                        fmt(v.get("canary").and_then(Value::as_f64)),
                        fmt(v.get("baseline").and_then(Value::as_f64)),
                        v.get("verdict").and_then(Value::as_str).unwrap_or("")
                    ),
                ));
            }
        } else if let Some(obj) = m.as_object() {
            for (k, v) in obj.iter().take(6) {
                if v.is_number() || v.is_string() || v.is_boolean() {
                    figures.push((k.clone(), v.to_string().trim_matches('"').to_string()));
                }
            }
        }
    }
    TimelineEntry {
        at: r.at,
        op: r.operation_id.clone(),
        bot: r.bot.clone(),
        text,
        figures,
    }
}
