//! The console at fleet scale (`tests/tui_support/sample/fleet.rs`): 200 bots, the selected
//! bot's 10,000 versions read as 200 pages of 50, 100 live operations, the Versions pane
//! focused in the middle of the list, drawn at 200×50 on a `TestBackend`.
//!
//! 1. One frame (`terminal.draw(|f| draw(f, &app))`): p50 and p99 (goal p99 ≤ 2 ms), then
//!    where it goes: each pane drawn alone, and the `Scene` questions the panes ask.
//! 2. Key to frame under a storm of 1,000 events a second (keys, mouse moves, progress
//!    events, the scheduler's reads): the event loop's policy (`tui::event_loop`: one
//!    event a turn, then every queued update drained, then one draw if dirty and the last
//!    frame ended at least a frame gap ago) simulated on a clock that moves on by the
//!    measured cost of every real `App::update` and draw. A key's latency runs from its
//!    arrival to the end of the first frame drawn after it was applied: the queue ahead
//!    of it, its update, the wait for the frame slot, the draw (goal p99 ≤ 16 ms). Also
//!    on fixed frame slots, at 60 fps, with keys ahead of the frame cap (at once, or
//!    within 1/120 s), and with keys alone.
//! 3. CPU per key: the mean `App::update(key)` + draw on the fleet against the sample
//!    world (`sample::loaded`) at the same size, as a ratio (goal ≤ 2×).
//!
//! `cargo bench --bench fleet` runs criterion's measurements of 1 and 3, then prints the
//! report (p50/p99 lines; docs/bench-render.md keeps the figures). `FLEET_ONLY=report`
//! skips criterion, `FLEET_ONLY=criterion` the report; `FLEET_BOTS`, `FLEET_VERSIONS`,
//! `FLEET_CANARIES`, `FLEET_DEPLOYS`, `FLEET_FINISHED`, `FLEET_AUDIT` change the fleet.
//! Under `cargo test --benches` (no `--bench`, or `--test`) everything runs once, small.

// The sample is written against the crate's own paths; these bring them into scope here.
use relcon::{config, domain, engine, plans, tui};

#[path = "../tests/tui_support/sample/mod.rs"]
mod sample;

use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use relcon::tui::component::{Component, Scene};
use relcon::tui::layout::PaneId;
use relcon::tui::{Action, App, Update, draw, panes};
use sample::fleet::{self, Arrival, Fleet, Mix, Source};

const W: u16 = 200;
const H: u16 = 50;
/// The console's default frame cap (`[ui] frame_rate`).
const DEFAULT_FPS: f64 = 30.0;
/// The loop's tick (`tui::event_loop`).
const TICK: f64 = 0.25;

fn terminal() -> Terminal<TestBackend> {
    match Terminal::new(TestBackend::new(W, H)) {
        Ok(t) => t,
        Err(e) => panic!("a TestBackend cannot fail: {e}"),
    }
}

fn frame(terminal: &mut Terminal<TestBackend>, app: &App) {
    let _ = terminal.draw(|f| draw(f, black_box(app)));
}

/// The fleet, its sizes overridable for trying what costs what: `FLEET_BOTS`,
/// `FLEET_VERSIONS`, `FLEET_CANARIES`, `FLEET_DEPLOYS`, `FLEET_FINISHED`, `FLEET_AUDIT`.
fn fleet_spec() -> Fleet {
    let mut f = Fleet::default();
    for (name, field) in [
        ("FLEET_BOTS", &mut f.bots),
        ("FLEET_VERSIONS", &mut f.versions),
        ("FLEET_CANARIES", &mut f.canaries),
        ("FLEET_DEPLOYS", &mut f.deploys),
        ("FLEET_FINISHED", &mut f.finished),
        ("FLEET_AUDIT", &mut f.audit),
    ] {
        if let Some(n) = std::env::var(name).ok().and_then(|v| v.parse().ok()) {
            *field = n;
        }
    }
    f.bots = f.bots.max(1);
    f.versions = f.versions.max(1);
    f
}

/// The fleet console with the Versions pane in the middle of its 10,000 versions.
fn fleet_app(f: &Fleet) -> App {
    fleet::versions_in_the_middle(sample::config(), W, H, f)
}

/// The sample world at the same size, the Versions pane focused.
fn sample_app() -> App {
    let mut app = sample::loaded(sample::config(), W, H);
    fleet::focus_versions_at(&mut app, W, H, 0);
    app
}

/// The screen is the one meant: the middle version selected, the live operations listed.
fn check_screen(terminal: &mut Terminal<TestBackend>, app: &App, f: &Fleet) {
    frame(terminal, app);
    let buf = terminal.backend().buffer();
    let text: String = buf.content().iter().map(|c| c.symbol()).collect();
    let middle = fleet::version_id(f.versions - 1 - f.versions / 2);
    let live = format!("{} active", f.canaries + f.deploys);
    for want in [middle.as_str(), live.as_str(), "Versions", "Timeline"] {
        assert!(
            text.contains(want),
            "the fleet screen does not show {want:?}"
        );
    }
}

// ---- figures ----

fn ms(secs: f64) -> f64 {
    secs * 1000.0
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    n: usize,
    p50: f64,
    p99: f64,
    mean: f64,
    max: f64,
}

fn stats(values: &[f64]) -> Stats {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    Stats {
        n: v.len(),
        p50: pct(&v, 50.0),
        p99: pct(&v, 99.0),
        mean: v.iter().sum::<f64>() / v.len().max(1) as f64,
        max: v.last().copied().unwrap_or(f64::NAN),
    }
}

fn verdict(value: f64, goal: f64) -> &'static str {
    if value <= goal { "met" } else { "MISSED" }
}

/// `label  p50 x ms  p99 y ms  (mean, max, n)  goal`.
fn line(label: &str, s: Stats, goal: Option<(f64, &str)>) {
    let goal = goal
        .map(|(g, what)| format!("  goal {what} ≤ {g} ms: {}", verdict(ms(s.p99), g)))
        .unwrap_or_default();
    println!(
        "{label:<58} p50 {:>7.3} ms  p99 {:>7.3} ms  (mean {:.3}, max {:.3}, n {}){goal}",
        ms(s.p50),
        ms(s.p99),
        ms(s.mean),
        ms(s.max),
        s.n
    );
}

// ---- 1. one frame ----

fn frame_times(app: &App, n: usize) -> Vec<f64> {
    let mut t = terminal();
    for _ in 0..n / 10 + 1 {
        frame(&mut t, app);
    }
    (0..n)
        .map(|_| {
            let start = Instant::now();
            frame(&mut t, app);
            start.elapsed().as_secs_f64()
        })
        .collect()
}

// ---- where a frame goes ----

/// Mean seconds per call of `f` over `n` calls (after a few to warm up).
fn mean_of(n: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..n / 10 + 1 {
        f();
    }
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64() / n.max(1) as f64
}

/// Each pane drawn alone into its rectangle (from panes in the App's positions: the
/// Versions pane mid-list, the others at their top), and the `Scene` questions the panes
/// ask, each timed alone: which part of the frame costs what.
fn anatomy(app: &App, selected_version: usize, n: usize) {
    let screen = relcon::tui::layout::compute(Rect::new(0, 0, W, H), app.focus());
    let mut versions = panes::versions::VersionsPane::default();
    versions.list.pos.selected = selected_version;
    versions.list.pos.ensure_visible(fleet::versions_rows(W, H));
    let bots = panes::bots::BotsPane::default();
    let deployments = panes::deployments::DeploymentsPane::default();
    let canary = panes::canary::CanaryPane::default();
    let timeline = panes::timeline::TimelinePane::default();
    let mut t = terminal();
    let mut parts = Vec::new();
    let mut whole = 0.0;
    for (id, rect) in screen.panes(app.focus()) {
        let pane: &dyn Component = match id {
            PaneId::Bots => &bots,
            PaneId::Versions => &versions,
            PaneId::Deployments => &deployments,
            PaneId::Canary => &canary,
            PaneId::Timeline => &timeline,
        };
        let focused = id == app.focus();
        let cost = mean_of(n, || {
            let mut frame = t.get_frame();
            pane.render(&mut frame, rect, app, focused);
        });
        whole += cost;
        parts.push(format!("{} {:.3}", id.title(), ms(cost)));
    }
    println!(
        "{:<58} {} (ms; panes {:.3})",
        "  each pane drawn alone",
        parts.join(", "),
        ms(whole)
    );
    let inner = screen
        .pane_area(PaneId::Bots, app.focus())
        .map_or(W, |r| r.width.saturating_sub(2));
    let queries: [(&str, &dyn Fn()); 8] = [
        ("visible_timeline", &|| {
            black_box(Scene::visible_timeline(app).len());
        }),
        ("timeline_rows().count()", &|| {
            black_box(Scene::timeline_rows(app).count());
        }),
        ("visible_bots", &|| {
            black_box(Scene::visible_bots(app).len());
        }),
        ("bots::table_layout", &|| {
            black_box(panes::bots::table_layout(app, inner).row_height);
        }),
        ("deploy_items", &|| {
            black_box(Scene::deploy_items(app).len());
        }),
        ("deploy_items_all", &|| {
            black_box(Scene::deploy_items_all(app).len());
        }),
        ("visible_versions", &|| {
            black_box(Scene::visible_versions(app).len());
        }),
        ("canary_view", &|| {
            black_box(Scene::canary_view(app).is_some());
        }),
    ];
    let parts: Vec<String> = queries
        .iter()
        .map(|(name, q)| format!("{name} {:.3}", ms(mean_of(n, q))))
        .collect();
    println!("{:<58} {} (ms)", "  one call each", parts.join(", "));
    println!(
        "{:<58} {} timeline rows, {} bots, {} deployments rows, {} versions",
        "  rows behind them",
        Scene::visible_timeline(app).len(),
        Scene::visible_bots(app).len(),
        Scene::deploy_items(app).len(),
        Scene::visible_versions(app).len()
    );
}

// ---- 3. CPU per key ----

/// `update(key)` + draw for each of `n` keys of the storm's cycle.
fn key_costs(app: &mut App, n: usize) -> Vec<f64> {
    let mut t = terminal();
    frame(&mut t, app);
    let keys = fleet::storm_keys();
    (0..n + keys.len())
        .map(|i| {
            let key = keys[i % keys.len()].clone();
            let start = Instant::now();
            let _ = black_box(app.update(key));
            frame(&mut t, app);
            app.mark_drawn();
            start.elapsed().as_secs_f64()
        })
        // The first round warms up.
        .skip(keys.len())
        .collect()
}

// ---- 2. the loop under a storm ----

/// When the loop may draw.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Policy {
    /// `tui::event_loop` as written: dirty and the last frame ended a gap ago.
    Loop,
    /// Frames only at fixed slots (multiples of the gap), at most one per slot.
    Grid,
    /// As written, but once a key is applied a frame may follow the last one after this
    /// many seconds instead of the gap (0: at once): keys ahead of the frame cap.
    KeysFirst(f64),
}

#[derive(Debug, Default)]
struct Run {
    /// Per key: arrival → end of the frame that shows it.
    latency: Vec<f64>,
    /// Per key: arrival → applied (the queue ahead of it and its own update).
    queued: Vec<f64>,
    /// Per key: applied → the frame's start (the frame slot, and what was handled meanwhile).
    waited: Vec<f64>,
    /// Keys applied when the last frame had ended a gap ago or more (no frame-cap wait).
    at_once: Vec<f64>,
    updates: Vec<f64>,
    /// Update costs by what was applied.
    by_kind: BTreeMap<&'static str, Vec<f64>>,
    draws: Vec<f64>,
    frames: usize,
    events: usize,
    busy: f64,
    span: f64,
    /// Frames drawn while the storm lasted, and how long it lasted.
    storm_frames: usize,
    storm_secs: f64,
}

fn kind_of(action: &Action) -> &'static str {
    match action {
        Action::Key(_) => "key",
        Action::Mouse(_) => "mouse move",
        Action::Tick(_) => "tick",
        Action::Update(Update::Progress(_)) => "progress",
        Action::Update(Update::Operations { .. }) => "operations read",
        Action::Update(Update::Canaries { .. }) => "canaries read",
        Action::Update(Update::Versions { .. }) => "newest versions page",
        Action::Update(Update::Bots { .. }) => "bots read",
        _ => "other",
    }
}

fn tick_action(now: f64) -> Action {
    Action::Tick(sample::at(1) + chrono::Duration::microseconds((now * 1e6) as i64))
}

/// The loop's policy on a simulated clock: every update and draw is real and timed, and
/// the clock moves on by what it cost.
fn simulate(app: &mut App, arrivals: Vec<Arrival>, fps: f64, policy: Policy) -> Run {
    let gap = 1.0 / fps;
    let mut terminal = terminal();
    frame(&mut terminal, app);
    app.mark_drawn();
    let last = arrivals.last().map_or(0.0, |a| a.at.as_secs_f64());
    let end = last + 0.1;
    let (mut term, mut runtime): (VecDeque<Arrival>, VecDeque<Arrival>) = (
        VecDeque::with_capacity(arrivals.len()),
        VecDeque::with_capacity(arrivals.len()),
    );
    for a in arrivals {
        match a.source {
            Source::Terminal => term.push_back(a),
            Source::Runtime => runtime.push_back(a),
        }
    }
    let mut run = Run::default();
    let mut now = 0.0_f64;
    // As if a frame had just been drawn when the storm begins.
    let mut last_end = 0.0_f64;
    let mut last_start = 0.0_f64;
    let mut next_tick = TICK;
    // Keys applied but not yet drawn: (arrival, applied, found the last frame a gap old).
    let mut pending: Vec<(f64, f64, bool)> = Vec::new();

    let apply = |app: &mut App, action: Action, now: &mut f64, run: &mut Run| {
        let kind = kind_of(&action);
        let start = Instant::now();
        let _ = black_box(app.update(action));
        let cost = start.elapsed().as_secs_f64();
        *now += cost;
        run.busy += cost;
        run.updates.push(cost);
        run.by_kind.entry(kind).or_default().push(cost);
        run.events += 1;
    };
    let next_frame = |last_start: f64, last_end: f64, keys: bool| match policy {
        Policy::Grid => ((last_start / gap).floor() + 1.0) * gap,
        Policy::KeysFirst(input_gap) if keys => last_end + input_gap.min(gap),
        Policy::Loop | Policy::KeysFirst(_) => last_end + gap,
    };
    loop {
        let t_term = term.front().map(|a| a.at.as_secs_f64());
        let t_rt = runtime.front().map(|a| a.at.as_secs_f64());
        if t_term.is_none() && t_rt.is_none() && pending.is_empty() && now > end {
            break;
        }
        let earliest = [t_term, t_rt, Some(next_tick)]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min);
        if earliest > now {
            // Nothing queued: the loop sleeps until the next event, or the next frame if
            // there is something to draw.
            let wake = if app.is_dirty() {
                earliest.min(next_frame(last_start, last_end, !pending.is_empty()))
            } else {
                earliest
            };
            now = now.max(wake);
        }
        // One ready event: the earliest of the terminal's, the channel's and the tick.
        let ready = |t: Option<f64>| t.filter(|t| *t <= now);
        let pick = [
            (ready(t_term), 0),
            (ready(t_rt), 1),
            (ready(Some(next_tick)), 2),
        ]
        .into_iter()
        .filter_map(|(t, k)| t.map(|t| (t, k)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
        match pick {
            Some((_, 0)) => {
                if let Some(a) = term.pop_front() {
                    let key = a.key;
                    apply(app, a.action, &mut now, &mut run);
                    if key {
                        let fresh = now >= last_end + gap;
                        pending.push((a.at.as_secs_f64(), now, fresh));
                    }
                }
            }
            Some((_, 1)) => {
                if let Some(a) = runtime.pop_front() {
                    apply(app, a.action, &mut now, &mut run);
                }
            }
            Some(_) => {
                apply(app, tick_action(now), &mut now, &mut run);
                // MissedTickBehavior::Skip: the next multiple of the period after now.
                next_tick = ((now / TICK).floor() + 1.0) * TICK;
            }
            // The frame's sleep ran out.
            None => {}
        }
        // Take everything already queued on the channel before drawing once.
        while runtime.front().is_some_and(|a| a.at.as_secs_f64() <= now) {
            if let Some(a) = runtime.pop_front() {
                apply(app, a.action, &mut now, &mut run);
            }
        }
        // The same sum as the sleep's deadline, so a wake-up at it is due.
        let due = now >= next_frame(last_start, last_end, !pending.is_empty());
        if app.is_dirty() && due {
            let start = Instant::now();
            frame(&mut terminal, app);
            app.mark_drawn();
            let cost = start.elapsed().as_secs_f64();
            last_start = now;
            now += cost;
            last_end = now;
            run.busy += cost;
            run.draws.push(cost);
            run.frames += 1;
            if now <= last {
                run.storm_frames += 1;
            }
            for (arrived, applied, fresh) in pending.drain(..) {
                run.latency.push(now - arrived);
                run.queued.push(applied - arrived);
                run.waited.push(last_start - applied);
                if fresh {
                    run.at_once.push(now - arrived);
                }
            }
        }
    }
    run.span = now;
    run.storm_secs = last;
    run
}

struct StormSetup {
    label: String,
    mix: Mix,
    fps: f64,
    policy: Policy,
}

fn storm_run(f: &Fleet, setup: &StormSetup, secs: f64) -> Run {
    let mut app = fleet_app(f);
    // After loading: the storm's reads carry newer request ids than the pages read.
    let arrivals = fleet::storm(f, setup.mix, secs, W, H, 7);
    simulate(&mut app, arrivals, setup.fps, setup.policy)
}

fn print_storm(setup: &StormSetup, run: &Run, by_kind: bool) {
    let goal = Some((16.0, "p99"));
    line(
        &format!("key→frame, {}", setup.label),
        stats(&run.latency),
        goal,
    );
    line(
        "  arrival → applied (queue + its update)",
        stats(&run.queued),
        None,
    );
    line(
        "  applied → frame start (frame slot + events meanwhile)",
        stats(&run.waited),
        None,
    );
    if !run.at_once.is_empty() {
        line(
            "  keys that found the last frame a gap old (drawn at once)",
            stats(&run.at_once),
            None,
        );
    }
    line("  update, every event", stats(&run.updates), None);
    if by_kind {
        for (kind, costs) in &run.by_kind {
            line(&format!("    update: {kind}"), stats(costs), None);
        }
    }
    line("  draw, every frame", stats(&run.draws), None);
    println!(
        "  {} events and {} frames in {:.2} s simulated; {:.1} fps during the storm; loop busy {:.0}%",
        run.events,
        run.frames,
        run.span,
        run.storm_frames as f64 / run.storm_secs.max(1e-9),
        100.0 * run.busy / run.span.max(1e-9)
    );
}

fn report(quick: bool) {
    let f = fleet_spec();
    let (frames, keys, secs) = if quick {
        (50, 50, 0.5)
    } else {
        (3000, 2000, 5.0)
    };
    println!();
    println!(
        "== relcon fleet bench: {} bots, {} versions (Versions pane mid-list), {} live operations, {W}x{H} TestBackend ==",
        f.bots,
        f.versions,
        f.canaries + f.deploys
    );
    if f != Fleet::default() {
        println!("(not the default fleet: {f:?})");
    }

    // 1. One frame.
    let built = Instant::now();
    let mut app = fleet_app(&f);
    let build_secs = built.elapsed().as_secs_f64();
    check_screen(&mut terminal(), &app, &f);
    println!(
        "(fleet state built through App::update in {:.0} ms)",
        ms(build_secs)
    );
    let draw = stats(&frame_times(&app, frames));
    line("frame build + draw, fleet 200x50", draw, Some((2.0, "p99")));
    anatomy(&app, f.versions / 2, frames / 5);
    let small_app = sample_app();
    let small = stats(&frame_times(&small_app, frames));
    line(
        "frame build + draw, sample world 200x50 (reference)",
        small,
        None,
    );
    anatomy(&small_app, 0, frames / 5);

    // 3. CPU per key.
    let fleet_keys = stats(&key_costs(&mut app, keys));
    let sample_keys = stats(&key_costs(&mut sample_app(), keys));
    line("update + draw per key, fleet", fleet_keys, None);
    line("update + draw per key, sample world", sample_keys, None);
    let ratio = fleet_keys.mean / sample_keys.mean;
    println!(
        "{:<58} {ratio:.2}x  (p50 {:.2}x)  goal ≤ 2x: {}",
        "CPU per key, fleet / sample (mean)",
        fleet_keys.p50 / sample_keys.p50,
        verdict(ratio, 2.0)
    );

    // 2. Key to frame under the storm.
    let storm = Mix::default();
    let setups = [
        StormSetup {
            label: "storm 1,000/s, the loop as written, 30 fps".into(),
            mix: storm,
            fps: DEFAULT_FPS,
            policy: Policy::Loop,
        },
        StormSetup {
            label: "storm 1,000/s, fixed frame slots, 30 fps".into(),
            mix: storm,
            fps: DEFAULT_FPS,
            policy: Policy::Grid,
        },
        StormSetup {
            label: "storm 1,000/s, a key draws at once (no cap wait)".into(),
            mix: storm,
            fps: DEFAULT_FPS,
            policy: Policy::KeysFirst(0.0),
        },
        StormSetup {
            label: "storm 1,000/s, 30 fps, a key's frame capped at 120 fps".into(),
            mix: storm,
            fps: DEFAULT_FPS,
            policy: Policy::KeysFirst(1.0 / 120.0),
        },
        StormSetup {
            label: "storm 1,000/s, the loop as written, 60 fps".into(),
            mix: storm,
            fps: 60.0,
            policy: Policy::Loop,
        },
        StormSetup {
            label: "keys alone (10/s, ticks only), the loop, 30 fps".into(),
            mix: Mix {
                keys: 10.0,
                mouse_moves: 0.0,
                progress: 0.0,
                operations_every: 0.0,
                newest_page_every: 0.0,
                bots_every: 0.0,
            },
            fps: DEFAULT_FPS,
            policy: Policy::Loop,
        },
    ];
    for (i, setup) in setups.iter().enumerate() {
        let run = storm_run(&f, setup, secs);
        print_storm(setup, &run, i == 0);
    }
    println!("== end of the fleet bench ==");
}

fn criterion_benches(c: &mut Criterion) {
    let f = fleet_spec();
    let mut app = fleet_app(&f);
    let mut t = terminal();
    c.bench_function("fleet: draw 200x50, 10k versions mid, 100 live", |b| {
        b.iter(|| frame(&mut t, &app))
    });
    let keys = fleet::storm_keys();
    let mut i = 0;
    c.bench_function("fleet: key + draw 200x50", |b| {
        b.iter(|| {
            i += 1;
            let _ = black_box(app.update(keys[i % keys.len()].clone()));
            frame(&mut t, &app);
        })
    });
    // The scheduler's reads at fleet scale, each applied alone (made outside the timing).
    c.bench_function("fleet: apply the newest page of versions", |b| {
        b.iter_batched(
            || Action::Update(fleet::newest_page(&f)),
            |u| black_box(app.update(u)),
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("fleet: apply the bots list", |b| {
        b.iter_batched(
            || Action::Update(fleet::bots_read(&f)),
            |u| black_box(app.update(u)),
            criterion::BatchSize::SmallInput,
        )
    });
    let mut small = sample_app();
    c.bench_function("sample: key + draw 200x50", |b| {
        b.iter(|| {
            i += 1;
            let _ = black_box(small.update(keys[i % keys.len()].clone()));
            frame(&mut t, &small);
        })
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let only = std::env::var("FLEET_ONLY").unwrap_or_default();
    if only != "report" {
        let mut c = Criterion::default().configure_from_args();
        criterion_benches(&mut c);
        c.final_summary();
    }
    if only != "criterion" && !has("--list") && !has("--profile-time") {
        // `cargo bench` passes --bench; `cargo test` nothing (or --test): run it small.
        report(has("--test") || !has("--bench"));
    }
}
