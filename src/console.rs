//! The console face: the TUI on one side, the engine and backend on the other. The TUI
//! emits `Effect`s; this runtime executes each in its own task (never on the render loop)
//! and answers with `Update`s. Workflows stream their progress events straight through.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

use crate::audit::AuditRecord;
use crate::backend::{Fresh, ReleaseBackend, RequestMeter};
use crate::cli::Global;
use crate::config::{self, Config, ResolvedProfile, UiSettings};
use crate::domain::Stage;
use crate::engine::events::{OpCommand, OpId, ProgressEvent, WorkflowKind};
use crate::engine::{canary, deploy, environment, flows, rollback};
use crate::plans;
use crate::runtime::{self, Runtime};
use crate::schedule::{Read, Scheduler};
use crate::tui::messages::Seen;
use crate::tui::{self, Effect, RefreshWhat, TimelineEntry, TuiContext, Update};

/// Open the console on the configured profile.
pub async fn run_profile(global: &Global) -> anyhow::Result<()> {
    let profile =
        crate::headless::resolve_profile(global).map_err(|e| anyhow::anyhow!(e.message))?;
    let ui = match Config::load(global.config.as_deref())? {
        Some(loaded) => loaded.ui_settings()?,
        None => UiSettings::defaults()?,
    };
    run_console(profile, ui, Duration::from_secs(5), Duration::from_secs(1)).await
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
    // The demo's clock runs fast: reading as often in server time as a real console would
    // costs many more requests a wall second; a demo reads every 5 wall seconds at most.
    run_console(
        profile,
        UiSettings::defaults()?,
        Duration::from_secs(2),
        Duration::from_secs(5),
    )
    .await
}

/// `refresh`: how often the audit trail is read again; `floor`: the shortest wall time
/// between two reads of the same thing from the server.
async fn run_console(
    profile: ResolvedProfile,
    ui: UiSettings,
    refresh: Duration,
    floor: Duration,
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
    ctx.clock_speed = rt.profile.clock_speed;
    ctx.max_fps = u32::from(ui.ui.frame_rate.clamp(5, 120));
    ctx.rollback_max_sessions = rt.profile.rollback.max_active_sessions;
    ctx.repoints = matches!(rt.profile.backend, config::Backend::Cognigy(_));
    // Stale: older than a minute, or than three of the slowest reads at this clock speed.
    ctx.stale_after = (floor.as_secs_f64() * rt.profile.clock_speed * 3.0)
        .max(60.0)
        .round() as i64;
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
    let worker = tokio::spawn(serve(rt, effects_rx, updates_tx, refresh, floor));
    let result = tui::run(ctx).await;
    // Workflows run inside relcon and stop with it; what the server did so far stays, and
    // the journal lets the next relcon on this machine pick them up.
    worker.abort();
    result
}

/// The console's runtime without a terminal: effects in, updates out (the console
/// benchmark drives an `App` through it).
pub(crate) fn spawn_runtime(
    rt: Runtime,
    timeline_every: Duration,
    floor: Duration,
) -> (
    UnboundedSender<Effect>,
    UnboundedReceiver<Update>,
    tokio::task::JoinHandle<()>,
) {
    let (effects_tx, effects_rx) = mpsc::unbounded_channel();
    let (updates_tx, updates_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(serve(rt, effects_rx, updates_tx, timeline_every, floor));
    (effects_tx, updates_rx, task)
}

/// Execute the console's effects until it quits.
async fn serve(
    rt: Runtime,
    mut effects: UnboundedReceiver<Effect>,
    updates: UnboundedSender<Update>,
    timeline_every: Duration,
    floor: Duration,
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
    let p = &rt.profile;
    let mut reader = Reader {
        schedule: Scheduler::new(
            p.request_budget,
            rt.meter.window(),
            p.clock_speed,
            crate::backend::VERSION_PAGE,
        )
        .with_floor(floor),
        backend: rt.backend.clone(),
        updates: updates.clone(),
        done: mpsc::unbounded_channel(),
        seq: 0,
        told: None,
    };
    let mut timeline_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            effect = effects.recv() => {
                let Some(effect) = effect else { break };
                let tx = updates.clone();
                match effect {
                    Effect::Quit => break,
                    Effect::Refresh { what, req } => {
                        match what {
                            RefreshWhat::All => reader.schedule.refresh_all(),
                            RefreshWhat::Bots => reader.schedule.refresh(Read::Bots),
                            RefreshWhat::Operations => reader.schedule.refresh(Read::Operations),
                            RefreshWhat::Canaries => reader.schedule.refresh(Read::Canaries),
                            RefreshWhat::Timeline => {}
                        }
                        if matches!(what, RefreshWhat::All | RefreshWhat::Timeline) {
                            timeline_at = Some(tokio::time::Instant::now());
                            tokio::spawn(read_timeline(rt.profile.audit_log.clone(), req, tx));
                        }
                    }
                    Effect::Interest(interest) => reader
                        .schedule
                        .set_interest(interest, tokio::time::Instant::now()),
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
            Some(read) = reader.done.1.recv() => {
                reader.schedule.finished(&read, tokio::time::Instant::now());
            }
            // Soon after a new selection (so it is read as it settles), else four times a
            // second.
            _ = tokio::time::sleep(if reader.schedule.settling(tokio::time::Instant::now()) {
                Duration::from_millis(10)
            } else {
                Duration::from_millis(250)
            }) => {}
        }
        // The audit trail is a local file: read on its own period, free of budget.
        let now = tokio::time::Instant::now();
        if timeline_at.is_none_or(|t| now.duration_since(t) >= timeline_every) {
            timeline_at = Some(now);
            reader.seq += 1;
            tokio::spawn(read_timeline(
                rt.profile.audit_log.clone(),
                reader.seq,
                updates.clone(),
            ));
        }
        reader.send_due(&rt.meter);
    }
}

/// The console's reads: the scheduler picks them, each runs in its own task and answers
/// with an `Update`, then tells the scheduler it is done.
struct Reader {
    schedule: Scheduler,
    backend: Arc<dyn ReleaseBackend>,
    updates: UnboundedSender<Update>,
    done: (UnboundedSender<Read>, UnboundedReceiver<Read>),
    /// Every read's request id: newer reads answer with larger ones.
    seq: u64,
    /// The budget figures last sent.
    told: Option<(u32, u64)>,
}

impl Reader {
    fn send_due(&mut self, meter: &RequestMeter) {
        let reading = meter.reading();
        for (read, conditional) in self.schedule.next(tokio::time::Instant::now(), reading) {
            self.seq += 1;
            let req = self.seq;
            let backend = self.backend.clone();
            let tx = self.updates.clone();
            let done = self.done.0.clone();
            tokio::spawn(async move {
                let answer = read_one(backend.as_ref(), &read, conditional, req).await;
                match answer {
                    Ok(update) => {
                        send(&tx, update);
                        send(
                            &tx,
                            Update::Connection {
                                ok: true,
                                detail: "connected".into(),
                            },
                        );
                    }
                    Err(e) => send(
                        &tx,
                        Update::Connection {
                            ok: false,
                            detail: e.to_string(),
                        },
                    ),
                }
                let _ = done.send(read);
            });
        }
        let now = (reading.in_window, reading.rate_limited);
        if self.told != Some(now) {
            self.told = Some(now);
            send(
                &self.updates,
                Update::Budget {
                    in_window: reading.in_window,
                    budget: self.schedule.budget(),
                    rate_limited: reading.rate_limited,
                },
            );
        }
    }
}

/// One read, as the update that carries its answer.
async fn read_one(
    backend: &dyn ReleaseBackend,
    read: &Read,
    conditional: bool,
    req: u64,
) -> Result<Update, crate::backend::BackendError> {
    let unchanged = |what| Update::Unchanged { what };
    Ok(match read {
        Read::Bots => match backend.poll_bots(conditional).await? {
            Fresh::Changed(bots) => Update::Bots { req, bots },
            Fresh::Unchanged => unchanged(Seen::Bots),
        },
        Read::Operations => match backend.poll_operations(conditional).await? {
            Fresh::Changed(operations) => Update::Operations { req, operations },
            Fresh::Unchanged => unchanged(Seen::Operations),
        },
        Read::Canaries => match backend.poll_canaries(conditional).await? {
            Fresh::Changed(canaries) => Update::Canaries { req, canaries },
            Fresh::Unchanged => unchanged(Seen::Canaries),
        },
        Read::Bot(bot) => Update::Bot {
            req,
            bot: Box::new(backend.get_bot(bot).await?),
        },
        Read::Versions { bot, page } => {
            let size = crate::backend::VERSION_PAGE;
            match backend.versions_page(bot, *page, size, conditional).await? {
                Fresh::Changed(p) => Update::Versions {
                    req,
                    bot: bot.clone(),
                    page: p.page,
                    size: p.size,
                    total: p.total,
                    versions: p.versions,
                },
                Fresh::Unchanged => unchanged(Seen::Versions(bot.clone())),
            }
        }
        Read::Series { bot, env } => Update::Series {
            req,
            bot: bot.clone(),
            series: Box::new(
                backend
                    .metrics_series(bot, env.as_deref(), Duration::from_secs(30 * 60))
                    .await?,
            ),
        },
    })
}

async fn read_timeline(audit: PathBuf, req: u64, tx: UnboundedSender<Update>) {
    let entries = tokio::task::spawn_blocking(move || timeline(&audit))
        .await
        .unwrap_or_default();
    send(&tx, Update::Timeline { req, entries });
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
