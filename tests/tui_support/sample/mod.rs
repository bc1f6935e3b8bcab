//! A small simulated release world — four bots, their versions, a canary in progress with
//! its metrics, a failed deployment — and a fake runtime that answers the console's loads
//! from it. Used by the console's tests, snapshots and render benchmark, and handy for
//! README screenshots. Deterministic: the same calls give the same screens.
//!
//! Test support, never part of the product: the console's unit tests include it with
//! `#[path]`, and so do the integration tests and the render benchmark, whose crate roots
//! bring `relcon`'s modules into scope (`use relcon::{config, domain, ...}`) so the same
//! `crate::` paths resolve in both.

// Each test crate uses a different part of it.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::domain::*;
use crate::engine::events::*;

use crate::tui::{Action, App, AppConfig, Effect, TimelineEntry, Update};

pub mod fleet;
pub mod simulate;
pub mod story;

#[allow(unused_imports)]
pub use story::{Frozen, Story, stories};

/// The sample's "now": 2025-03-14 10:30:00 UTC.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_741_948_200, 0).unwrap_or_default()
}

pub fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

fn ts(secs: i64) -> String {
    at(secs).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn env(
    id: &str,
    name: &str,
    stage: Stage,
    colour: Option<&str>,
    live: Option<&str>,
    w: f64,
) -> BotEnvironment {
    BotEnvironment {
        environment_id: id.into(),
        name: name.into(),
        stage,
        colour: colour.map(String::from),
        live_version: live.map(String::from),
        traffic_weight: w,
    }
}

fn step(name: &str, state: StepState) -> Step {
    Step {
        name: name.into(),
        state,
        started_at: None,
        finished_at: None,
        detail: None,
    }
}

pub fn bots() -> Vec<BotSummary> {
    let p = Stage::Production;
    let s = Stage::Staging;
    vec![
        BotSummary {
            id: "bot-checkout".into(),
            name: "checkout-bot".into(),
            description: "Checkout and payments".into(),
            environments: vec![
                env(
                    "env-prod-blue",
                    "prod-blue",
                    p,
                    Some("blue"),
                    Some("v13"),
                    100.0,
                ),
                env(
                    "env-prod-green",
                    "prod-green",
                    p,
                    Some("green"),
                    Some("v12"),
                    0.0,
                ),
                env("env-staging", "staging", s, None, Some("v14"), 100.0),
            ],
            active_operation: None,
            active_sessions: 37,
            health: Health::Healthy,
            error_rate: Some(0.012),
        },
        BotSummary {
            id: "bot-care".into(),
            name: "care-bot".into(),
            description: "Customer care".into(),
            environments: vec![
                env(
                    "env-prod-blue",
                    "prod-blue",
                    p,
                    Some("blue"),
                    Some("v7"),
                    100.0,
                ),
                env(
                    "env-prod-green",
                    "prod-green",
                    p,
                    Some("green"),
                    Some("v6"),
                    0.0,
                ),
            ],
            active_operation: Some(Operation {
                id: "can-31".into(),
                kind: OperationKind::Canary,
                bot_id: Some("bot-care".into()),
                environment_id: Some("env-prod-blue".into()),
                version_id: Some("v8".into()),
                state: "running".into(),
                active: true,
                created_at: ts(-1200),
                updated_at: ts(-10),
                steps: vec![],
                error_message: None,
            }),
            active_sessions: 112,
            health: Health::Degraded,
            error_rate: Some(0.041),
        },
        BotSummary {
            id: "bot-billing".into(),
            name: "billing-bot".into(),
            description: "Invoices".into(),
            environments: vec![
                env(
                    "env-prod-blue",
                    "prod-blue",
                    p,
                    Some("blue"),
                    Some("v21"),
                    100.0,
                ),
                env(
                    "env-prod-green",
                    "prod-green",
                    p,
                    Some("green"),
                    Some("v20"),
                    0.0,
                ),
            ],
            active_operation: None,
            active_sessions: 4,
            health: Health::Unhealthy,
            error_rate: Some(0.093),
        },
        BotSummary {
            id: "bot-faq".into(),
            name: "faq-bot".into(),
            description: "Frequently asked questions".into(),
            environments: vec![env("env-staging", "staging", s, None, Some("v3"), 100.0)],
            active_operation: None,
            active_sessions: 0,
            health: Health::Healthy,
            error_rate: Some(0.004),
        },
    ]
}

fn version(
    id: &str,
    status: VersionStatus,
    stage: Stage,
    created: i64,
    live: &[&str],
    verdict: Option<&str>,
    nlu: &str,
) -> Version {
    Version {
        id: id.into(),
        label: format!("release {id}"),
        status,
        environment: stage,
        created_at: ts(created),
        nlu_model_id: nlu.into(),
        flow_references: vec![
            FlowRef {
                flow_id: "flow-main".into(),
                version: format!("{id}.1"),
            },
            FlowRef {
                flow_id: "flow-pay".into(),
                version: "3".into(),
            },
        ],
        live_in: live.iter().map(|s| s.to_string()).collect(),
        last_canary_verdict: verdict.map(String::from),
    }
}

/// Bots with the demo's long ids, environment names and version ids (the ones a newcomer
/// sees in `relcon demo`): nothing of them may be cut.
pub fn demo_bots() -> Vec<BotSummary> {
    let p = Stage::Production;
    let s = Stage::Staging;
    let bot = |id: &str, name: &str, envs: Vec<BotEnvironment>, err: f64| BotSummary {
        id: id.into(),
        name: name.into(),
        description: format!("{name} (demo)"),
        environments: envs,
        active_operation: None,
        active_sessions: 37,
        health: Health::Healthy,
        error_rate: Some(err),
    };
    vec![
        bot(
            "bot-customer-service-v2",
            "Customer Service",
            vec![
                env(
                    "env-prod-blue",
                    "Production (blue)",
                    p,
                    Some("blue"),
                    Some("v2.3.0"),
                    100.0,
                ),
                env(
                    "env-prod-green",
                    "Production (green)",
                    p,
                    Some("green"),
                    Some("v2.2.0"),
                    0.0,
                ),
                env("env-staging", "Staging", s, None, Some("v2.4.0"), 0.0),
            ],
            0.011,
        ),
        bot(
            "bot_12345",
            "Order & Billing Support",
            vec![
                env(
                    "env_prod",
                    "Production (billing)",
                    p,
                    None,
                    Some("v_80112"),
                    100.0,
                ),
                env("env-staging", "Staging", s, None, Some("v_80112"), 0.0),
            ],
            0.037,
        ),
        bot(
            "bot_abc123",
            "Order Assistant",
            vec![
                env(
                    "env_prod_456",
                    "Production (orders)",
                    p,
                    None,
                    Some("2.0.4"),
                    100.0,
                ),
                env("env-staging", "Staging", s, None, Some("2.1.0-canary"), 0.0),
            ],
            0.015,
        ),
    ]
}

pub fn versions(bot: &str) -> Vec<Version> {
    use Stage::*;
    use VersionStatus::*;
    let d = 86_400;
    match bot {
        "bot-customer-service-v2" => vec![
            version(
                "v2.5.0-rc1",
                Draft,
                Production,
                -d,
                &[],
                None,
                "nlu-intent-classifier-v4.2",
            ),
            version(
                "v2.4.0",
                Published,
                Production,
                -3 * d,
                &["env-staging"],
                None,
                "nlu-intent-classifier-v4.2",
            ),
            version(
                "v2.3.0",
                Published,
                Production,
                -16 * d,
                &["env-prod-blue"],
                Some("promoted"),
                "nlu-intent-classifier-v4.1",
            ),
            version(
                "v2.2.0",
                Published,
                Production,
                -30 * d,
                &["env-prod-green"],
                Some("promoted"),
                "nlu-intent-classifier-v4.0",
            ),
        ],
        "bot_12345" => vec![
            version(
                "v_80112",
                Published,
                Production,
                -2 * d,
                &["env_prod", "env-staging"],
                Some("promoted"),
                "nlu-billing-v1",
            ),
            version(
                "v_stable_fallback",
                Published,
                Production,
                -20 * d,
                &[],
                Some("promoted"),
                "nlu-billing-v1",
            ),
        ],
        "bot_abc123" => vec![
            version(
                "2.1.0-canary",
                Published,
                Staging,
                -d,
                &["env-staging"],
                None,
                "nlu-orders-v2",
            ),
            version(
                "2.0.4",
                Published,
                Production,
                -5 * d,
                &["env_prod_456"],
                Some("promoted"),
                "nlu-orders-v2",
            ),
        ],
        "bot-checkout" => vec![
            version("v15", Draft, Production, -d / 4, &[], None, "nlu-15"),
            version(
                "v14",
                Published,
                Staging,
                -d,
                &["env-staging"],
                None,
                "nlu-14",
            ),
            version(
                "v13",
                Published,
                Production,
                -3 * d,
                &["env-prod-blue"],
                Some("promoted"),
                "nlu-13",
            ),
            version(
                "v12",
                Published,
                Production,
                -9 * d,
                &["env-prod-green"],
                Some("promoted"),
                "nlu-12",
            ),
            version(
                "v11",
                Published,
                Production,
                -16 * d,
                &[],
                Some("rolled_back"),
                "nlu-12",
            ),
            version(
                "v10",
                Archived,
                Production,
                -30 * d,
                &[],
                Some("promoted"),
                "nlu-10",
            ),
        ],
        "bot-care" => vec![
            version(
                "v8",
                Published,
                Production,
                -d,
                &["env-prod-blue"],
                None,
                "nlu-c8",
            ),
            version(
                "v7",
                Published,
                Production,
                -8 * d,
                &["env-prod-blue"],
                Some("promoted"),
                "nlu-c7",
            ),
            version(
                "v6",
                Published,
                Production,
                -20 * d,
                &["env-prod-green"],
                Some("promoted"),
                "nlu-c6",
            ),
        ],
        "bot-billing" => vec![
            version("v22", Published, Production, -d / 2, &[], None, "nlu-b22"),
            version(
                "v21",
                Published,
                Production,
                -6 * d,
                &["env-prod-blue"],
                Some("promoted"),
                "nlu-b21",
            ),
            version(
                "v20",
                Published,
                Production,
                -12 * d,
                &["env-prod-green"],
                Some("promoted"),
                "nlu-b20",
            ),
        ],
        _ => vec![version(
            "v3",
            Published,
            Staging,
            -2 * d,
            &["env-staging"],
            None,
            "nlu-f3",
        )],
    }
}

pub fn operations() -> Vec<Operation> {
    vec![Operation {
        id: "dep-0917".into(),
        kind: OperationKind::Deployment,
        bot_id: Some("bot-faq".into()),
        environment_id: Some("env-staging".into()),
        version_id: Some("v3".into()),
        state: "completed".into(),
        active: false,
        created_at: ts(-5400),
        updated_at: ts(-5100),
        steps: vec![
            step("compile", StepState::Done),
            step("deploy", StepState::Done),
            step("validate", StepState::Done),
        ],
        error_message: None,
    }]
}

pub fn canaries() -> Vec<Canary> {
    vec![Canary {
        id: "can-31".into(),
        bot_id: "bot-care".into(),
        environment_id: "env-prod-blue".into(),
        version: "v8".into(),
        stable_version: "v7".into(),
        state: CanaryState::Running,
        canary_weight: 25.0,
        max_traffic_percentage: 100.0,
        rollback_thresholds: Thresholds::default(),
        started_at: ts(-1200),
        updated_at: ts(-10),
        weight_history: vec![],
    }]
}

/// Per-minute points of both arms: 20 minutes of v7 alone, then the canary's 20, as the
/// judge of the sample canary saw them (complete minutes up to the sample's now).
pub fn series(bot: &str) -> MetricsSeries {
    series_until(bot, story::story(), 0)
}

fn series_until(bot: &str, s: &story::Story, until: i64) -> MetricsSeries {
    let baseline = story::minutes(&s.baseline, until);
    let canary = story::minutes(&s.canary, until);
    let total = baseline
        .iter()
        .map(|b| {
            let c = canary.iter().find(|c| c.minute == b.minute);
            let both: Vec<&MetricPoint> = std::iter::once(b).chain(c).collect();
            MetricPoint {
                minute: b.minute,
                t: b.t,
                at: b.at.clone(),
                weight: None,
                ..story::merge_points(&both)
            }
        })
        .collect();
    MetricsSeries {
        bot_id: bot.into(),
        environment_id: Some("env-prod-blue".into()),
        step_seconds: 60,
        total,
        baseline,
        canary,
    }
}

pub fn timeline() -> Vec<TimelineEntry> {
    vec![
        TimelineEntry {
            at: at(-5400),
            op: Some("dep-0917".into()),
            bot: Some("bot-faq".into()),
            text: "deployment started: v3 → staging".into(),
            figures: vec![],
        },
        TimelineEntry {
            at: at(-5100),
            op: Some("dep-0917".into()),
            bot: Some("bot-faq".into()),
            text: "succeeded: v3 live in staging".into(),
            figures: vec![("validate".into(), "12/12 checks".into())],
        },
    ]
}

/// What the fake runtime answers with: the sample world, which a test may change (a
/// canary rolled back on the server, new metrics) before the console next fetches.
#[derive(Debug, Clone)]
pub struct World {
    pub bots: Vec<BotSummary>,
    pub operations: Vec<Operation>,
    pub canaries: Vec<Canary>,
    pub timeline: Vec<TimelineEntry>,
    /// The metrics every bot reports; `None`: the sample canary's up to the sample's now.
    pub series: Option<MetricsSeries>,
}

impl World {
    /// The demo's bots, nothing running.
    pub fn demo_like() -> World {
        World {
            bots: demo_bots(),
            operations: Vec::new(),
            canaries: Vec::new(),
            timeline: Vec::new(),
            series: None,
        }
    }

    pub fn sample() -> World {
        World {
            bots: bots(),
            operations: operations(),
            canaries: canaries(),
            timeline: timeline(),
            series: None,
        }
    }
}

thread_local! {
    static WORLD: std::cell::RefCell<World> = std::cell::RefCell::new(World::sample());
}

/// Change the world the fake runtime answers from (this test's thread only).
pub fn change_world(f: impl FnOnce(&mut World)) {
    WORLD.with(|w| f(&mut w.borrow_mut()));
}

thread_local! {
    static READS: std::cell::Cell<u64> = const { std::cell::Cell::new(1_000_000) };
}

/// The fake runtime's request ids, like the real one's: its own, increasing.
fn next_req() -> u64 {
    READS.with(|r| {
        r.set(r.get() + 1);
        r.get()
    })
}

/// A fake runtime: answers loads from the world above.
pub fn answer(effects: &[Effect]) -> Vec<Update> {
    let world = WORLD.with(|w| w.borrow().clone());
    let mut out = Vec::new();
    for e in effects {
        match e {
            Effect::Refresh { req, .. } => {
                out.push(Update::Bots {
                    req: *req,
                    bots: world.bots.clone(),
                });
                out.push(Update::Operations {
                    req: *req,
                    operations: world.operations.clone(),
                });
                out.push(Update::Canaries {
                    req: *req,
                    canaries: world.canaries.clone(),
                });
                out.push(Update::Timeline {
                    req: *req,
                    entries: world.timeline.clone(),
                });
                out.push(Update::Connection {
                    ok: true,
                    detail: "sim".into(),
                });
            }
            // The scheduler's first reads of what came into view.
            Effect::Interest(i) => {
                if let Some(bot) = &i.selected_bot {
                    let versions = versions(bot);
                    out.push(Update::Versions {
                        req: next_req(),
                        bot: bot.clone(),
                        page: 1,
                        size: 50,
                        total: Some(versions.len() as u64),
                        versions,
                    });
                }
                if let Some((bot, _)) = &i.series {
                    out.push(Update::Series {
                        req: next_req(),
                        bot: bot.clone(),
                        series: Box::new(world.series.clone().unwrap_or_else(|| series(bot))),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// Apply an action and let the fake runtime answer until nothing is left to load.
/// Returns the effects that were not loads.
pub fn step_app(app: &mut App, action: Action) -> Vec<Effect> {
    let mut others = Vec::new();
    let mut queue = vec![action];
    while let Some(action) = queue.pop() {
        let effects = app.update(action);
        for u in answer(&effects).into_iter().rev() {
            queue.push(Action::Update(u));
        }
        others.extend(
            effects
                .into_iter()
                .filter(|e| !matches!(e, Effect::Refresh { .. } | Effect::Interest(_))),
        );
    }
    others
}

pub fn key(c: char) -> Action {
    let m = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    Action::Key(KeyEvent::new(KeyCode::Char(c), m))
}

pub fn code(k: KeyCode) -> Action {
    Action::Key(KeyEvent::new(k, KeyModifiers::NONE))
}

pub fn type_text(app: &mut App, s: &str) -> Vec<Effect> {
    let mut out = Vec::new();
    for c in s.chars() {
        out.extend(step_app(app, key(c)));
    }
    out
}

pub fn config() -> AppConfig {
    AppConfig {
        profile: "sim-local".into(),
        ..AppConfig::default()
    }
}

/// A console at `w`×`h` that has loaded the world.
pub fn loaded(config: AppConfig, w: u16, h: u16) -> App {
    loaded_world(config, w, h, World::sample())
}

/// A console at `w`×`h` that has loaded `world`.
pub fn loaded_world(config: AppConfig, w: u16, h: u16, world: World) -> App {
    change_world(|w| *w = world);
    let mut app = App::new(config);
    step_app(
        &mut app,
        Action::Resize {
            width: w,
            height: h,
        },
    );
    step_app(&mut app, Action::Tick(t0()));
    app
}

fn ev(op: OpId, secs: i64, kind: EventKind) -> Action {
    Action::Update(Update::Progress(ProgressEvent {
        op,
        at: at(secs),
        kind,
    }))
}

/// care-bot's canary of v8 up to the sample's now: step 1 (5%) extended three times and
/// promoted early by the operator, step 2 (25%) held and extended while the judge waits for
/// evidence; every verdict is the real judge's on seeded synthetic traffic.
pub fn canary_run(app: &mut App) {
    let s = story::story();
    for (secs, kind) in &s.events[..s.until_now] {
        step_app(app, ev(7, *secs, kind.clone()));
    }
}

/// The sample canary's last look and its decisions up to the sample's now (what
/// [`canary_run`] feeds the console), for tests to check the screen against.
pub fn canary_now() -> (CanarySample, Vec<CanaryDecision>) {
    let s = story::story();
    story::last_look(&s.events[..s.until_now])
}

/// The same after the rollback of [`canary_rolled_back`].
pub fn canary_end() -> (CanarySample, Vec<CanaryDecision>) {
    story::last_look(&story::story().events)
}

/// The same canary carried on past the sample's now: v8's payment flow starts failing, the
/// judge fails the error rate and the canary is rolled back. Leaves the console 9 s after
/// the rollback (its toasts gone), with the server's rolled-back canary and the metrics up to
/// then.
pub fn canary_rolled_back(app: &mut App) {
    canary_run(app);
    let s = story::story();
    let end = s.ended + 9;
    // What the server says once it is over, fetched when the run's end refreshes the console.
    let mut canaries = canaries();
    for c in &mut canaries {
        c.state = CanaryState::RolledBack;
        c.canary_weight = 0.0;
        c.updated_at = ts(s.ended);
    }
    let series = series_until("bot-care", s, end);
    change_world(|w| {
        w.canaries = canaries;
        w.series = Some(series);
    });
    for (secs, kind) in &s.events[s.until_now..] {
        step_app(app, ev(7, *secs, kind.clone()));
    }
    step_app(app, Action::Tick(at(end)));
}

/// Ask the console to fetch everything again now (its refresh key).
pub fn refresh(app: &mut App) {
    step_app(
        app,
        Action::Key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)),
    );
}

/// The same canary if v8 does not regress: step 2 is still inconclusive after its longest
/// hold and the canary pauses for a decision. Leaves the console 9 s later.
pub fn canary_paused(app: &mut App) {
    canary_run(app);
    let s = story::paused_story();
    let end = s.ended + 9;
    let series = series_until("bot-care", s, end);
    change_world(|w| w.series = Some(series));
    for (secs, kind) in &s.events[s.until_now..] {
        step_app(app, ev(7, *secs, kind.clone()));
    }
    // Fetched now, its "Refreshing…" toast gone by the tick.
    refresh(app);
    step_app(app, Action::Tick(at(end)));
}

/// billing-bot's deploy of v22 that failed validation.
pub fn failed_deploy(app: &mut App) {
    let steps = [
        "validate payload",
        "deploy to prod-green",
        "validate prod-green",
        "switch traffic",
    ];
    let mut evs = vec![ev(
        4,
        -300,
        EventKind::Started {
            workflow: WorkflowKind::Deploy,
            title: "deploy billing-bot v22".into(),
            bot: Some("bot-billing".into()),
            steps: steps.iter().map(|s| s.to_string()).collect(),
            operation: None,
        },
    )];
    evs.push(ev(
        4,
        -300,
        EventKind::StepStarted {
            step: steps[0].into(),
        },
    ));
    evs.push(ev(
        4,
        -298,
        EventKind::StepFinished {
            step: steps[0].into(),
            detail: None,
        },
    ));
    evs.push(ev(
        4,
        -298,
        EventKind::StepStarted {
            step: steps[1].into(),
        },
    ));
    evs.push(ev(
        4,
        -160,
        EventKind::StepFinished {
            step: steps[1].into(),
            detail: Some("job completed".into()),
        },
    ));
    evs.push(ev(
        4,
        -160,
        EventKind::StepStarted {
            step: steps[2].into(),
        },
    ));
    evs.push(ev(
        4,
        -95,
        EventKind::StepFailed {
            step: steps[2].into(),
            reason: "intent 'refund_status' missing from NLU model nlu-b22".into(),
        },
    ));
    evs.push(ev(
        4,
        -94,
        EventKind::Finished {
            outcome: Outcome::Failed,
            summary: "traffic stays on prod-blue (v21)".into(),
        },
    ));
    for e in evs {
        step_app(app, e);
    }
}
