//! `relcon bench console`: the console on a simulated fleet for a few simulated minutes,
//! measured the way its user would judge it.
//!
//! An in-process simulator serves the built-in `fleet` world (200 bots, one with 10,000
//! versions, five operations of another team running) with the platform's rate limit on
//! (1,000 requests per 5 minutes per caller: any overspend shows as 429s). The console's own
//! runtime and `App` run as in `relcon`, drawn into an off-screen terminal at the size
//! asked, with nothing typed but the selection of one bot; this console starts a deploy and
//! a canary of its own. Measured:
//!
//! - requests per 5 minutes (every request of the process: the console's reads and its
//!   workflows'), 429s and 304s;
//! - the age of the selected bot's data (its row and its versions) and of the oldest bot row,
//!   sampled every 100 ms of wall time once the first reads are in;
//! - how long after the selection the selected bot's versions are painted;
//! - frame build and draw times.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::config;
use crate::domain::Stage;
use crate::runtime;
use crate::sim::{self, SimConfig};
use crate::tui::component::Scene;
use crate::tui::layout::PaneId;
use crate::tui::{Action, App, AppConfig, CanaryRequest, Effect, Update};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub scenario: String,
    /// The simulator's clock speed.
    pub speed: f64,
    /// Simulated minutes.
    pub minutes: f64,
    pub width: u16,
    pub height: u16,
    /// The bot to select.
    pub select: String,
    /// The console also runs a deploy and a canary of its own.
    pub workflows: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            scenario: "fleet".into(),
            speed: 4.0,
            minutes: 5.0,
            width: 200,
            height: 50,
            select: "fleet-10k".into(),
            workflows: true,
        }
    }
}

/// What was measured.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub server_seconds: f64,
    pub requests: u64,
    pub requests_per_5min: f64,
    pub peak_in_window: u32,
    pub rate_limited: u64,
    pub not_modified: u64,
    /// Server seconds, over the samples.
    pub selected_age: Quantiles,
    pub oldest_row_age: Quantiles,
    /// Wall milliseconds from the selection to the versions painted.
    pub versions_painted_ms: Option<f64>,
    /// Wall milliseconds per frame (build and draw).
    pub frame_ms: Quantiles,
    pub frames: usize,
    pub workflows: Vec<String>,
    /// The busiest routes: requests each.
    pub routes: Vec<(String, u64)>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Quantiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Quantiles {
    fn of(mut xs: Vec<f64>) -> Quantiles {
        if xs.is_empty() {
            return Quantiles::default();
        }
        xs.sort_by(f64::total_cmp);
        let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
        Quantiles {
            p50: at(0.5),
            p99: at(0.99),
            max: xs[xs.len() - 1],
        }
    }
}

/// Run the benchmark.
pub async fn run(o: &Options) -> anyhow::Result<Figures> {
    let sim = sim::start(SimConfig {
        port: 0,
        speed: o.speed,
        scenario: Some(o.scenario.clone().into()),
        release_rate_limit: Some(sim::DEFAULT_RATE_LIMIT),
        ..SimConfig::default()
    })
    .await?;
    let mut profile = config::Profile::demo(sim.url(), o.speed);
    let dir = std::env::temp_dir().join(format!("relcon-bench-{}", std::process::id()));
    profile.audit_log = dir.join("audit.jsonl");
    let rt = runtime::build(profile)?;
    let meter = rt.meter.clone();
    let backend = rt.backend.clone();
    let speed = rt.profile.clock_speed;
    let (effects, mut updates, task) =
        crate::console::spawn_runtime(rt, Duration::from_secs(2), Duration::from_secs(1));

    let mut app = App::new(AppConfig {
        profile: "bench".into(),
        clock_speed: speed,
        ..AppConfig::default()
    });
    let mut terminal = Terminal::new(TestBackend::new(o.width, o.height))?;
    let send = |out: Vec<Effect>| {
        for e in out {
            let _ = effects.send(e);
        }
    };
    send(app.update(Action::Resize {
        width: o.width,
        height: o.height,
    }));

    let started = Instant::now();
    let wall = Duration::from_secs_f64(o.minutes * 60.0 / speed);
    let mut next_tick = started;
    let mut next_sample = started;
    let mut frames = Vec::new();
    let mut selected_ages = Vec::new();
    let mut oldest_ages = Vec::new();
    let mut selected_at: Option<Instant> = None;
    let mut painted_ms = None;
    let mut started_workflows = !o.workflows;
    let mut workflows = Vec::new();
    while started.elapsed() < wall {
        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + Duration::from_millis(250);
            send(app.update(Action::Tick(chrono::Utc::now())));
        }
        while let Ok(u) = updates.try_recv() {
            if let Update::Progress(ev) = &u
                && let crate::engine::events::EventKind::Finished { outcome, .. } = &ev.kind
            {
                workflows.push(format!("#{} {}", ev.op, outcome.as_str()));
            }
            send(app.update(Action::Update(u)));
        }
        // Select the bot once the list has it (the keys a person would press).
        if selected_at.is_none()
            && let Some(i) = app.visible_bots().iter().position(|b| b.id == o.select)
        {
            let from = app.panes.bots.list.pos.selected;
            selected_at = Some(Instant::now());
            for _ in from..i {
                send(app.update(Action::Key(KeyEvent::new(
                    KeyCode::Char('j'),
                    KeyModifiers::NONE,
                ))));
            }
        }
        if !started_workflows && selected_at.is_some() {
            started_workflows = true;
            send(start_workflows(backend.as_ref(), &app).await);
        }
        if app.is_dirty() {
            let t = Instant::now();
            terminal.draw(|f| crate::tui::draw(f, &app))?;
            app.mark_drawn();
            frames.push(t.elapsed().as_secs_f64() * 1000.0);
            if painted_ms.is_none()
                && let Some(at) = selected_at
                && app.selected_bot.as_deref() == Some(o.select.as_str())
                && !app.current_versions().is_empty()
            {
                painted_ms = Some(at.elapsed().as_secs_f64() * 1000.0);
            }
        }
        if now >= next_sample && painted_ms.is_some() {
            next_sample = now + Duration::from_millis(100);
            if let Some(bot) = app.selected_bot.clone() {
                let versions = app.freshness(PaneId::Versions).map(|f| f.age);
                let row = Scene::bot_age(&app, &bot);
                if let (Some(v), Some(r)) = (versions, row) {
                    selected_ages.push(v.max(r) as f64);
                }
            }
            let oldest = app
                .bots
                .iter()
                .filter_map(|b| Scene::bot_age(&app, &b.id))
                .max();
            if let Some(a) = oldest {
                oldest_ages.push(a as f64);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let reading = meter.reading();
    let mut routes: Vec<(String, u64)> = sim
        .app
        .lock()
        .stats
        .iter()
        .filter(|(r, _)| !r.contains("/_sim"))
        .map(|(r, by)| (r.clone(), by.values().sum()))
        .collect();
    routes.sort_by_key(|r| std::cmp::Reverse(r.1));
    routes.truncate(12);
    let _ = effects.send(Effect::Quit);
    let _ = task.await;
    sim.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let server_seconds = elapsed.as_secs_f64() * speed;
    Ok(Figures {
        server_seconds,
        requests: reading.total,
        requests_per_5min: reading.total as f64 * 300.0 / server_seconds,
        peak_in_window: reading.in_window,
        rate_limited: reading.rate_limited,
        not_modified: reading.not_modified,
        selected_age: Quantiles::of(selected_ages),
        oldest_row_age: Quantiles::of(oldest_ages),
        versions_painted_ms: painted_ms,
        frame_ms: Quantiles::of(frames.clone()),
        frames: frames.len(),
        workflows,
        routes,
    })
}

/// A deploy and a canary of this console's own, on two bots of the world other than the
/// selected one: their candidate (newest published version live nowhere) to the idle
/// production colour, and as a canary in the busiest.
async fn start_workflows(backend: &dyn crate::backend::ReleaseBackend, app: &App) -> Vec<Effect> {
    let mut out = Vec::new();
    let picks: Vec<String> = app
        .bots
        .iter()
        .filter(|b| b.active_operation.is_none() && Some(&b.id) != app.selected_bot.as_ref())
        .map(|b| b.id.clone())
        .take(2)
        .collect();
    for (i, bot) in picks.iter().enumerate() {
        let Some(summary) = app.bots.iter().find(|b| &b.id == bot) else {
            continue;
        };
        let Ok(crate::backend::Fresh::Changed(page)) =
            backend.versions_page(bot, 1, 10, false).await
        else {
            continue;
        };
        let Some(candidate) = page
            .versions
            .iter()
            .find(|v| v.status == crate::domain::VersionStatus::Published && v.live_in.is_empty())
        else {
            continue;
        };
        let prod = summary
            .environments
            .iter()
            .filter(|e| e.stage == Stage::Production);
        if i == 0 {
            if let Some(idle) = prod.clone().find(|e| e.traffic_weight <= 0.0) {
                out.push(Effect::StartDeploy {
                    bot: bot.clone(),
                    version: candidate.id.clone(),
                    env: idle.environment_id.clone(),
                });
            }
        } else if let Some(busy) = prod.max_by(|a, b| a.traffic_weight.total_cmp(&b.traffic_weight))
        {
            let c = config::CanarySettings::default();
            out.push(Effect::StartCanary(CanaryRequest {
                bot: bot.clone(),
                version: candidate.id.clone(),
                env: busy.environment_id.clone(),
                steps: c.steps.iter().map(|s| f64::from(*s)).collect(),
                interval: c.interval,
                max_hold: c.max_hold,
                thresholds: c.thresholds(),
                min_conversations: u64::from(c.min_conversations),
            }));
        }
    }
    out
}

/// The figures as the markdown docs/bench-console.md keeps.
pub fn report(o: &Options, f: &Figures) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "world `{}` at speed {} for {:.0} simulated s, {}×{}, selected `{}`{}",
        o.scenario,
        o.speed,
        f.server_seconds,
        o.width,
        o.height,
        o.select,
        if o.workflows {
            ", with a deploy and a canary of its own"
        } else {
            ""
        }
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "| figure | value | goal |");
    let _ = writeln!(s, "| --- | --- | --- |");
    let _ = writeln!(
        s,
        "| requests per 5 min (all of the process) | {:.0} ({} in {:.0} s; {} 304) | ≤ 1,000 |",
        f.requests_per_5min, f.requests, f.server_seconds, f.not_modified
    );
    let _ = writeln!(s, "| 429s | {} | 0 |", f.rate_limited);
    let _ = writeln!(
        s,
        "| selected bot's data age, p50 / p99 / max | {:.0} / {:.0} / {:.0} s | ≤ 10 s |",
        f.selected_age.p50, f.selected_age.p99, f.selected_age.max
    );
    let _ = writeln!(
        s,
        "| oldest bot row's age, p50 / p99 / max | {:.0} / {:.0} / {:.0} s | ≤ 60 s |",
        f.oldest_row_age.p50, f.oldest_row_age.p99, f.oldest_row_age.max
    );
    let _ = writeln!(
        s,
        "| versions painted after selection | {} | ≤ 150 ms |",
        f.versions_painted_ms
            .map_or("never".to_string(), |ms| format!("{ms:.0} ms"))
    );
    let _ = writeln!(
        s,
        "| frame build + draw, p50 / p99 ({} frames) | {:.2} / {:.2} ms | p99 ≤ 2 ms |",
        f.frames, f.frame_ms.p50, f.frame_ms.p99
    );
    let _ = writeln!(s, "\nrequests by route (the busiest):\n");
    for (r, n) in &f.routes {
        let _ = writeln!(s, "- `{r}`: {n}");
    }
    if !f.workflows.is_empty() {
        let _ = writeln!(s, "\nworkflows that ended: {}", f.workflows.join(", "));
    }
    s
}
