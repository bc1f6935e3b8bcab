//! The console at fleet scale: 200 bots, the selected bot's 10,000 versions read as 200
//! pages of 50 (newest first, `total` said), 100 live operations — workflows of this
//! console, each linked to the server operation it drives — with their progress, the
//! server's operations and canaries, an audit trail; and a storm of what such a console
//! sees every second (keys, mouse moves, progress events, the scheduler's reads).
//!
//! Everything reaches the App the way the runtime's answers do, through `App::update`;
//! this module plays the runtime and ignores the effects (the reads are answered here,
//! in the order a runtime would). Deterministic: the same `Fleet` gives the same screens.
//! Used by the fleet benchmark (`benches/fleet.rs`) and free for tests.

// Each test crate uses a different part of it.
#![allow(dead_code)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use crate::domain::*;
use crate::engine::events::*;
use crate::tui::layout::{self, PaneId};
use crate::tui::{Action, App, AppConfig, TimelineEntry, Update};

use super::{at, env, next_req, step, t0, ts};

/// How big the fleet is.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    pub bots: usize,
    /// Versions of the selected bot (the first one).
    pub versions: usize,
    /// Versions per page, as the runtime reads them.
    pub page: u32,
    /// Live canaries and deployments driven by this console (the first canary on the
    /// selected bot).
    pub canaries: usize,
    pub deploys: usize,
    /// Finished server operations listed beside the live ones.
    pub finished: usize,
    /// Rows of the audit trail.
    pub audit: usize,
}

impl Default for Fleet {
    /// 200 bots, 10,000 versions in pages of 50, 100 live operations (40 canaries, 60
    /// deployments), 100 finished ones, 500 audit rows.
    fn default() -> Self {
        Fleet {
            bots: 200,
            versions: 10_000,
            page: 50,
            canaries: 40,
            deploys: 60,
            finished: 100,
            audit: 500,
        }
    }
}

const KINDS: [&str; 8] = [
    "orders", "billing", "care", "faq", "travel", "claims", "returns", "loyalty",
];

/// Bot `n`'s id: `fleet-007`.
pub fn bot_id(n: usize) -> String {
    format!("fleet-{n:03}")
}

fn bot_name(n: usize) -> String {
    format!("{}-bot-{n:03}", KINDS[n % KINDS.len()])
}

/// The bot whose versions are read: the first one, selected when the list arrives.
pub fn selected_bot() -> String {
    bot_id(0)
}

/// Version `i` (0 = oldest) of a bot: `v3.{i}.0`.
pub fn version_id(i: usize) -> String {
    format!("v3.{i}.0")
}

/// Run ids of the live operations: canaries first, then deployments.
pub fn run_id(i: usize) -> OpId {
    100 + i as OpId
}

fn canary_server_id(i: usize) -> String {
    format!("can-f{i:03}")
}

fn deploy_server_id(i: usize) -> String {
    format!("dep-f{i:03}")
}

/// The bot operation `i` (of canaries then deployments) runs on: canary 0 on the
/// selected bot, the others spread over the fleet.
fn op_bot(f: &Fleet, i: usize) -> usize {
    (i * 2) % f.bots.max(1)
}

/// The newest versions of a bot with `n` versions: the candidate (staging), the stable
/// one (blue) and the previous one (green).
fn live_versions(n: usize) -> [String; 3] {
    [
        version_id(n.saturating_sub(1)),
        version_id(n.saturating_sub(2)),
        version_id(n.saturating_sub(3)),
    ]
}

/// How many versions bot `n` has: the selected bot `f.versions`, the others 40 to 60.
fn versions_of(f: &Fleet, n: usize) -> usize {
    if n == 0 { f.versions } else { 40 + n % 21 }
}

fn live_op(f: &Fleet, i: usize) -> Operation {
    let canary = i < f.canaries;
    let bot = op_bot(f, i);
    let [candidate, _, _] = live_versions(versions_of(f, bot));
    let started = -1200 - 7 * i as i64;
    Operation {
        id: if canary {
            canary_server_id(i)
        } else {
            deploy_server_id(i)
        },
        kind: if canary {
            OperationKind::Canary
        } else {
            OperationKind::Deployment
        },
        bot_id: Some(bot_id(bot)),
        environment_id: Some(
            if canary {
                "env-prod-blue"
            } else {
                "env-prod-green"
            }
            .into(),
        ),
        version_id: Some(candidate),
        state: if canary { "running" } else { "deploying" }.into(),
        active: true,
        created_at: ts(started),
        updated_at: ts(-5),
        steps: if canary {
            vec![]
        } else {
            vec![
                step("queued", StepState::Done),
                step("compiling", StepState::Done),
                step("deploying", StepState::Running),
                step("validating", StepState::Pending),
            ]
        },
        error_message: None,
    }
}

/// The fleet's bots; a bot with a live operation carries it.
pub fn bots(f: &Fleet) -> Vec<BotSummary> {
    let p = Stage::Production;
    let live = f.canaries + f.deploys;
    (0..f.bots)
        .map(|n| {
            let [candidate, stable, previous] = live_versions(versions_of(f, n));
            // About half the bots are live on green.
            let (blue, green, wb, wg) = if n % 2 == 0 {
                (stable, previous, 100.0, 0.0)
            } else {
                (previous, stable, 0.0, 100.0)
            };
            let active_operation = (0..live)
                .find(|&i| op_bot(f, i) == n)
                .map(|i| live_op(f, i));
            BotSummary {
                id: bot_id(n),
                name: bot_name(n),
                description: format!("{} bot {n} of the fleet", KINDS[n % KINDS.len()]),
                environments: vec![
                    env(
                        "env-prod-blue",
                        "Production (blue)",
                        p,
                        Some("blue"),
                        Some(&blue),
                        wb,
                    ),
                    env(
                        "env-prod-green",
                        "Production (green)",
                        p,
                        Some("green"),
                        Some(&green),
                        wg,
                    ),
                    env(
                        "env-staging",
                        "Staging",
                        Stage::Staging,
                        None,
                        Some(&candidate),
                        100.0,
                    ),
                ],
                active_operation,
                active_sessions: (n as u32 * 37) % 1500,
                health: match n % 23 {
                    0 => Health::Unhealthy,
                    5 | 11 => Health::Degraded,
                    _ => Health::Healthy,
                },
                error_rate: Some(0.002 + (n % 17) as f64 * 0.003),
            }
        })
        .collect()
}

/// Version `i` (0 = the oldest) of the selected bot's `f.versions`.
pub fn version(f: &Fleet, i: usize) -> Version {
    let n = f.versions;
    let [candidate, stable, previous] = live_versions(n);
    let id = version_id(i);
    let live_in = if id == candidate {
        vec!["env-staging".to_string()]
    } else if id == stable {
        vec!["env-prod-blue".to_string()]
    } else if id == previous {
        vec!["env-prod-green".to_string()]
    } else {
        vec![]
    };
    Version {
        label: format!("release 3.{i} ({})", KINDS[i % KINDS.len()]),
        // The newest 500 published, the older ones archived.
        status: if i + 500 < n {
            VersionStatus::Archived
        } else {
            VersionStatus::Published
        },
        environment: Stage::Production,
        // One every two hours, the newest an hour ago.
        created_at: ts(-3600 - 7200 * (n - 1 - i) as i64),
        nlu_model_id: format!("nlu-orders-{}", i / 100),
        flow_references: vec![
            FlowRef {
                flow_id: "flow-main".into(),
                version: format!("{i}.1"),
            },
            FlowRef {
                flow_id: "flow-pay".into(),
                version: format!("{}", i / 10),
            },
        ],
        live_in,
        last_canary_verdict: match i % 9 {
            0 => Some("rolled_back".into()),
            3 | 6 => Some("promoted".into()),
            _ => None,
        },
        id,
    }
}

/// The selected bot's versions, newest first.
pub fn versions(f: &Fleet) -> Vec<Version> {
    (0..f.versions).rev().map(|i| version(f, i)).collect()
}

/// The selected bot's versions as the runtime reads them: page after page of `f.page`,
/// newest first, each saying how many there are.
pub fn version_pages(f: &Fleet) -> Vec<Update> {
    let all = versions(f);
    let size = f.page.max(1);
    all.chunks(size as usize)
        .enumerate()
        .map(|(i, chunk)| Update::Versions {
            req: next_req(),
            bot: selected_bot(),
            page: i as u32 + 1,
            size,
            total: Some(f.versions as u64),
            versions: chunk.to_vec(),
        })
        .collect()
}

/// The newest page read again (the scheduler keeps it fresh).
pub fn newest_page(f: &Fleet) -> Update {
    let newest = f.versions.saturating_sub(f.page as usize);
    let all = (newest..f.versions).rev().map(|i| version(f, i)).collect();
    Update::Versions {
        req: next_req(),
        bot: selected_bot(),
        page: 1,
        size: f.page.max(1),
        total: Some(f.versions as u64),
        versions: all,
    }
}

/// The bots list read again.
pub fn bots_read(f: &Fleet) -> Update {
    Update::Bots {
        req: next_req(),
        bots: bots(f),
    }
}

/// The server's operations: every live one, then finished ones started elsewhere.
pub fn operations(f: &Fleet) -> Vec<Operation> {
    let mut ops: Vec<Operation> = (0..f.canaries + f.deploys).map(|i| live_op(f, i)).collect();
    for k in 0..f.finished {
        let bot = (k * 7 + 1) % f.bots.max(1);
        let failed = k % 11 == 0;
        ops.push(Operation {
            id: format!("dep-h{k:04}"),
            kind: if k % 3 == 0 {
                OperationKind::Rollback
            } else {
                OperationKind::Deployment
            },
            bot_id: Some(bot_id(bot)),
            environment_id: Some("env-prod-green".into()),
            version_id: Some(version_id(versions_of(f, bot).saturating_sub(2))),
            state: if failed { "failed" } else { "completed" }.into(),
            active: false,
            created_at: ts(-7200 - 300 * k as i64),
            updated_at: ts(-7000 - 300 * k as i64),
            steps: vec![
                step("queued", StepState::Done),
                step("deploying", StepState::Done),
                step(
                    "validating",
                    if failed {
                        StepState::Failed
                    } else {
                        StepState::Done
                    },
                ),
            ],
            error_message: failed.then(|| "validation failed: 2 of 12 checks".to_string()),
        });
    }
    ops
}

/// The server's canaries: the live ones.
pub fn canaries(f: &Fleet) -> Vec<Canary> {
    (0..f.canaries)
        .map(|i| {
            let bot = op_bot(f, i);
            let [candidate, stable, _] = live_versions(versions_of(f, bot));
            Canary {
                id: canary_server_id(i),
                bot_id: bot_id(bot),
                environment_id: "env-prod-blue".into(),
                version: candidate,
                stable_version: stable,
                state: CanaryState::Running,
                canary_weight: [5.0, 25.0, 50.0][i % 3],
                max_traffic_percentage: 100.0,
                rollback_thresholds: Thresholds::default(),
                started_at: ts(-1200 - 7 * i as i64),
                updated_at: ts(-10),
                weight_history: vec![],
            }
        })
        .collect()
}

/// The audit trail, oldest first: deployments of the fleet before the console opened.
pub fn timeline(f: &Fleet) -> Vec<TimelineEntry> {
    let mut rows: Vec<TimelineEntry> = (0..f.audit)
        .map(|k| {
            let bot = (k * 13) % f.bots.max(1);
            let op = format!("dep-a{:04}", k / 2);
            let secs = -90_000 + 170 * k as i64;
            let v = version_id(versions_of(f, bot).saturating_sub(2));
            if k % 2 == 0 {
                TimelineEntry {
                    at: at(secs),
                    op: Some(op),
                    bot: Some(bot_id(bot)),
                    text: format!("deployment started: {v} → prod-green"),
                    figures: vec![],
                }
            } else {
                TimelineEntry {
                    at: at(secs),
                    op: Some(op),
                    bot: Some(bot_id(bot)),
                    text: format!("succeeded: {v} live in prod-green"),
                    figures: vec![("validate".into(), "12/12 checks".into())],
                }
            }
        })
        .collect();
    rows.sort_by_key(|e| e.at);
    rows
}

const DEPLOY_STEPS: [&str; 4] = [
    "validate payload",
    "deploy to prod-green",
    "validate prod-green",
    "switch traffic",
];

fn progress(op: OpId, secs: i64, kind: EventKind) -> ProgressEvent {
    ProgressEvent {
        op,
        at: at(secs),
        kind,
    }
}

/// The sample canary's story, told of bot `bot`'s candidate: the same steps, looks and
/// decisions, under this fleet's names.
fn canary_story(f: &Fleet, i: usize) -> Vec<ProgressEvent> {
    let s = super::story::story();
    let bot = op_bot(f, i);
    let [candidate, _, _] = live_versions(versions_of(f, bot));
    let shift = -7 * i as i64;
    s.events[..s.until_now]
        .iter()
        .map(|(secs, kind)| {
            let kind = match kind.clone() {
                EventKind::Started {
                    workflow, steps, ..
                } => EventKind::Started {
                    workflow,
                    title: format!("canary {} {candidate}", bot_name(bot)),
                    bot: Some(bot_id(bot)),
                    steps,
                    operation: Some(format!("op-can-f{i:03}")),
                },
                EventKind::Linked { .. } => EventKind::Linked {
                    server_id: canary_server_id(i),
                },
                other => other,
            };
            progress(run_id(i), secs + shift, kind)
        })
        .collect()
}

fn deploy_story(f: &Fleet, i: usize) -> Vec<ProgressEvent> {
    let bot = op_bot(f, i);
    let [candidate, _, _] = live_versions(versions_of(f, bot));
    let id = run_id(i);
    let t = -600 - 5 * i as i64;
    vec![
        progress(
            id,
            t,
            EventKind::Started {
                workflow: WorkflowKind::Deploy,
                title: format!("deploy {} {candidate}", bot_name(bot)),
                bot: Some(bot_id(bot)),
                steps: DEPLOY_STEPS.iter().map(|s| s.to_string()).collect(),
                operation: Some(format!("op-dep-f{i:03}")),
            },
        ),
        progress(
            id,
            t,
            EventKind::StepStarted {
                step: DEPLOY_STEPS[0].into(),
            },
        ),
        progress(
            id,
            t + 2,
            EventKind::StepFinished {
                step: DEPLOY_STEPS[0].into(),
                detail: None,
            },
        ),
        progress(
            id,
            t + 2,
            EventKind::StepStarted {
                step: DEPLOY_STEPS[1].into(),
            },
        ),
        progress(
            id,
            t + 3,
            EventKind::Linked {
                server_id: deploy_server_id(i),
            },
        ),
        progress(
            id,
            t + 60,
            EventKind::Detail {
                message: format!("{} deploying", deploy_server_id(i)),
            },
        ),
        progress(
            id,
            t + 60,
            EventKind::Waiting {
                what: "next poll".into(),
                wait: Duration::from_secs(5),
            },
        ),
    ]
}

/// Every live operation's progress up to the sample's now, in time order.
pub fn run_events(f: &Fleet) -> Vec<ProgressEvent> {
    let mut evs: Vec<ProgressEvent> = (0..f.canaries + f.deploys)
        .flat_map(|i| {
            if i < f.canaries {
                canary_story(f, i)
            } else {
                deploy_story(f, i)
            }
        })
        .collect();
    // A stable sort: each run's own events stay in their order.
    evs.sort_by_key(|e| e.at);
    evs
}

/// The canary's series for the Canary pane's charts (the sample canary's minutes).
pub fn series() -> MetricsSeries {
    super::series(&selected_bot())
}

/// Apply an action as the loop does; this module answers the reads itself, so the
/// effects are dropped.
pub fn feed(app: &mut App, action: Action) {
    let _ = app.update(action);
}

fn update(app: &mut App, u: Update) {
    feed(app, Action::Update(u));
}

/// A console at `w`×`h` that has read the whole fleet through `App::update`: the bots
/// (the first one selected), every page of its versions, the operations, the canaries,
/// the audit trail, the live operations' progress and the canary's chart.
pub fn loaded(config: AppConfig, w: u16, h: u16, f: &Fleet) -> App {
    let mut app = App::new(config);
    feed(
        &mut app,
        Action::Resize {
            width: w,
            height: h,
        },
    );
    feed(&mut app, Action::Tick(t0()));
    update(
        &mut app,
        Update::Connection {
            ok: true,
            detail: "fleet".into(),
        },
    );
    update(
        &mut app,
        Update::Bots {
            req: next_req(),
            bots: bots(f),
        },
    );
    for page in version_pages(f) {
        update(&mut app, page);
    }
    let req = next_req();
    update(
        &mut app,
        Update::Operations {
            req,
            operations: operations(f),
        },
    );
    update(
        &mut app,
        Update::Canaries {
            req,
            canaries: canaries(f),
        },
    );
    update(
        &mut app,
        Update::Timeline {
            req,
            entries: timeline(f),
        },
    );
    for ev in run_events(f) {
        update(&mut app, Update::Progress(ev));
    }
    if f.canaries > 0 {
        update(
            &mut app,
            Update::Series {
                req: next_req(),
                bot: selected_bot(),
                series: Box::new(series()),
            },
        );
    }
    feed(&mut app, Action::Tick(at(1)));
    app
}

/// Rows of the Versions pane's body at `w`×`h` (border and header off), as the App's
/// page keys count them.
pub fn versions_rows(w: u16, h: u16) -> usize {
    layout::compute(Rect::new(0, 0, w, h), PaneId::Versions)
        .pane_area(PaneId::Versions, PaneId::Versions)
        .map_or(1, |a| a.height.saturating_sub(3).max(1) as usize)
}

pub fn press(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Focus the Versions pane (tab from Bots) and select row `row` with the page and row
/// keys, as an operator would.
pub fn focus_versions_at(app: &mut App, w: u16, h: u16, row: usize) {
    feed(app, press(KeyCode::Tab));
    let page = versions_rows(w, h);
    for _ in 0..row / page {
        feed(app, press(KeyCode::PageDown));
    }
    for _ in 0..row % page {
        feed(app, press(KeyCode::Char('j')));
    }
}

/// The fleet console at `w`×`h` with the Versions pane focused in the middle of the
/// 10,000 versions: the screen the fleet benchmark draws.
pub fn versions_in_the_middle(config: AppConfig, w: u16, h: u16, f: &Fleet) -> App {
    let mut app = loaded(config, w, h, f);
    focus_versions_at(&mut app, w, h, f.versions / 2);
    app
}

/// The keys of the storm, over and over: down, up and page keys in the Versions pane, and
/// a full round of tab (back to the Versions pane).
pub fn storm_keys() -> Vec<Action> {
    let j = press(KeyCode::Char('j'));
    let k = press(KeyCode::Char('k'));
    let mut keys = vec![
        j.clone(),
        j.clone(),
        k.clone(),
        press(KeyCode::PageDown),
        j.clone(),
        k,
        press(KeyCode::PageUp),
        j,
    ];
    keys.extend(std::iter::repeat_n(press(KeyCode::Tab), PaneId::ALL.len()));
    keys
}

/// The `seq`-th progress event of the storm, at `at`: a poll's detail, a wait, a canary's
/// look, or a deployment moving on a step, of the live operations in turn.
pub fn live_progress(f: &Fleet, seq: u64, now: DateTime<Utc>) -> Update {
    let live = (f.canaries + f.deploys).max(1) as u64;
    // Runs in a scattered order, so the same run rarely speaks twice in a row.
    let i = ((seq * 37) % live) as usize;
    let turn = seq / live;
    let op = run_id(i);
    let canary = i < f.canaries;
    let kind = match (turn % 10, canary) {
        (0..=3, _) => EventKind::Detail {
            message: format!("poll {turn}: {} in progress", op),
        },
        (4..=6, _) => EventKind::Waiting {
            what: "next poll".into(),
            wait: Duration::from_secs(5),
        },
        (7 | 8, true) => {
            let (mut sample, _) = super::canary_now();
            sample.held_seconds += turn as f64;
            EventKind::Canary(Box::new(sample))
        }
        (7, false) => EventKind::Detail {
            message: format!("deploying ({}%)", turn % 100),
        },
        _ => {
            // A step done and the next begun: one row more in the timeline.
            let s = if canary { "hold 50%" } else { DEPLOY_STEPS[1] };
            if turn % 20 == 9 {
                EventKind::StepFinished {
                    step: s.into(),
                    detail: Some(format!("look {turn}")),
                }
            } else {
                EventKind::StepStarted { step: s.into() }
            }
        }
    };
    Update::Progress(ProgressEvent { op, at: now, kind })
}

/// Where an event of the storm comes from: the terminal, or the runtime's channel (the
/// loop drains the channel before it draws).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Terminal,
    Runtime,
}

/// One event of the storm, `at` after it began.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Duration,
    pub source: Source,
    pub action: Action,
    /// A key press (the ones whose latency counts).
    pub key: bool,
}

/// How the storm's events per second are shared out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    pub keys: f64,
    pub mouse_moves: f64,
    pub progress: f64,
    /// The scheduler's reads, every so many seconds: operations and canaries, the newest
    /// page of versions, the bots list.
    pub operations_every: f64,
    pub newest_page_every: f64,
    pub bots_every: f64,
}

impl Default for Mix {
    /// 1,000 events a second: 40 keys (a held key's repeat), 400 mouse moves, 560
    /// progress events of the 100 live operations; the reads on top (operations and
    /// canaries every second, the newest versions every 2 s, the bots every 5 s).
    fn default() -> Self {
        Mix {
            keys: 40.0,
            mouse_moves: 400.0,
            progress: 560.0,
            operations_every: 1.0,
            newest_page_every: 2.0,
            bots_every: 5.0,
        }
    }
}

/// A small deterministic generator (xorshift64*), so the storm is the same every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The wait before the next of `rate` events a second (Poisson arrivals).
    pub fn gap(&mut self, rate: f64) -> f64 {
        -(1.0 - self.unit()).ln() / rate
    }
}

/// One of the scheduler's reads: what it answers with.
type Read = fn(&Fleet) -> Vec<Update>;

/// `secs` seconds of storm on a `w`×`h` screen, in order of arrival. Make it after the
/// console has loaded: its reads carry request ids newer than the ones it applied.
pub fn storm(f: &Fleet, mix: Mix, secs: f64, w: u16, h: u16, seed: u64) -> Vec<Arrival> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let secs_of = |s: f64| Duration::from_secs_f64(s);
    let keys = storm_keys();
    let mut t = rng.gap(mix.keys);
    let mut n = 0;
    while t < secs && mix.keys > 0.0 {
        out.push(Arrival {
            at: secs_of(t),
            source: Source::Terminal,
            action: keys[n % keys.len()].clone(),
            key: true,
        });
        n += 1;
        t += rng.gap(mix.keys);
    }
    let mut t = rng.gap(mix.mouse_moves.max(f64::MIN_POSITIVE));
    while t < secs && mix.mouse_moves > 0.0 {
        let column = (rng.next_u64() % u64::from(w.max(1))) as u16;
        let row = (rng.next_u64() % u64::from(h.max(1))) as u16;
        out.push(Arrival {
            at: secs_of(t),
            source: Source::Terminal,
            action: Action::Mouse(MouseEvent {
                kind: MouseEventKind::Moved,
                column,
                row,
                modifiers: KeyModifiers::NONE,
            }),
            key: false,
        });
        t += rng.gap(mix.mouse_moves);
    }
    let mut t = rng.gap(mix.progress.max(f64::MIN_POSITIVE));
    let mut seq = 0;
    while t < secs && mix.progress > 0.0 {
        let now = at(1) + chrono::Duration::milliseconds((t * 1000.0) as i64);
        out.push(Arrival {
            at: secs_of(t),
            source: Source::Runtime,
            action: Action::Update(live_progress(f, seq, now)),
            key: false,
        });
        seq += 1;
        t += rng.gap(mix.progress);
    }
    let reads: [(f64, Read); 3] = [
        (mix.operations_every, |f| {
            let req = next_req();
            vec![
                Update::Operations {
                    req,
                    operations: operations(f),
                },
                Update::Canaries {
                    req,
                    canaries: canaries(f),
                },
            ]
        }),
        (mix.newest_page_every, |f| vec![newest_page(f)]),
        (mix.bots_every, |f| vec![bots_read(f)]),
    ];
    for (every, read) in reads {
        if every <= 0.0 {
            continue;
        }
        let mut t = every * rng.unit();
        while t < secs {
            for u in read(f) {
                out.push(Arrival {
                    at: secs_of(t),
                    source: Source::Runtime,
                    action: Action::Update(u),
                    key: false,
                });
            }
            t += every;
        }
    }
    // Stable: the updates of one read stay in their order.
    out.sort_by_key(|a| a.at);
    out
}
