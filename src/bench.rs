//! `relcon bench canary`: relcon's canary judge beside seed 001's rule and a Kayenta-style
//! fixed-window Mann–Whitney judge, on many seeded simulator worlds.
//!
//! Every run builds a world from `assets/scenarios/canary-bench.toml` with its own seed and
//! drives the simulator's traffic model in-process (no HTTP, no clock: simulated time
//! advances as fast as the judges can look). Each judge runs its own canary on its own copy
//! of the same world, so all three see the same traffic model, seeds and regressions:
//!
//! - **relcon**: the product's judge and step policy with the default profile (the same
//!   code the engine runs: [`crate::engine::judge`], [`crate::plans::canary`]).
//! - **seed 001**: the seed's own canary — 5% of traffic for its 900 s validation, every
//!   30 s the canary's last 15 minutes against the absolute thresholds (error rate 5%,
//!   CSAT 3.5, latency 1500 ms), promoted when the validation ends without a breach.
//! - **Kayenta-style**: at the end of each step, a two-sided Mann–Whitney U test per metric
//!   on the step's 10-second buckets of canary vs baseline at 98% confidence; error rate is
//!   critical; the step fails when a critical metric fails or fewer than 75% of the judged
//!   metrics pass.
//!
//! The Kayenta-style judge holds each of the plan's steps for its interval and then takes
//! the next (it has no notion of inconclusive).

use std::fmt::Write as _;
use std::time::Duration;

use statrs::distribution::{ContinuousCDF, Normal};

use crate::config::CanarySettings;
use crate::domain::{CanaryMetrics, MetricPoint, Thresholds};
use crate::engine::judge::policy::{Action, Policy};
use crate::engine::judge::{Evidence, Metric, analyze, margin_for};
use crate::plans::{self, CanaryAsk};
use crate::sim::scenario::Scenario;
use crate::sim::traffic::{self, Arm, Query};
use crate::sim::world::{CanaryPhase, CanaryRec, History, World};

/// The bench's world.
pub const SCENARIO: &str = include_str!("../assets/scenarios/canary-bench.toml");

/// Seconds of traffic before the canary starts.
const START: f64 = 600.0;
/// A run that has not ended after this long (server seconds) is cut off.
const HORIZON: f64 = 4.0 * 3600.0;
const BUCKET: i64 = 10;

/// How many runs of what.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seeds per bot for healthy canaries.
    pub healthy_seeds: u64,
    /// Seeds per (bot, regression).
    pub regression_seeds: u64,
    /// The first seed; runs use consecutive seeds from it.
    pub first_seed: u64,
    /// Worker threads.
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            healthy_seeds: 70,
            regression_seeds: 100,
            first_seed: 1,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Judge {
    Relcon,
    Seed001,
    Kayenta,
}

impl Judge {
    pub const ALL: [Judge; 3] = [Judge::Relcon, Judge::Seed001, Judge::Kayenta];

    pub fn name(self) -> &'static str {
        match self {
            Judge::Relcon => "relcon",
            Judge::Seed001 => "seed 001's rule",
            Judge::Kayenta => "Kayenta-style MWU",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Promoted,
    RolledBack,
    /// Stopped for a person (relcon only: the evidence did not settle in the step's budget).
    Paused,
    /// Still running at the horizon.
    Open,
}

/// One canary run.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub judge: Judge,
    pub bot: String,
    pub version: String,
    pub seed: u64,
    pub ending: Ending,
    /// Server seconds from the canary's start to its end.
    pub took: f64,
    /// Server seconds from the start to the regression's onset, for regressing versions.
    pub onset: Option<f64>,
    /// Canary conversations served after the onset.
    pub exposed: u64,
    pub reason: String,
}

/// A world and its canary, driven in-process.
struct Sim {
    world: World,
    bot: String,
    env: String,
    version: String,
    canary: String,
}

fn stamp(t: f64) -> String {
    // Only ordering matters in-process; keep it cheap.
    format!("{t:.0}")
}

impl Sim {
    fn new(scenario: &Scenario, seed: u64, bot: &str, version: &str, weight: f64) -> Sim {
        let mut world = World::from_scenario(scenario, seed);
        let env = world
            .bots
            .get(bot)
            .and_then(|b| b.bindings.first())
            .map(|b| b.env.clone())
            .unwrap_or_default();
        let stable = world.live_at(bot, &env, START).unwrap_or_default();
        let id = world.next_id("cnry");
        let mut weights = History::new(0.0);
        weights.set(START, weight);
        world.canaries.insert(
            id.clone(),
            CanaryRec {
                id: id.clone(),
                bot: bot.to_string(),
                env: env.clone(),
                version: version.to_string(),
                stable,
                phase: CanaryPhase::Running,
                weight: weights,
                max_traffic: 100.0,
                thresholds: Thresholds::default(),
                started: START,
                updated: START,
                ended: None,
            },
        );
        if let Some(b) = world.bots.get_mut(bot) {
            b.mark_traffic(version, START);
        }
        Sim {
            world,
            bot: bot.to_string(),
            env,
            version: version.to_string(),
            canary: id,
        }
    }

    fn rec(&self) -> &CanaryRec {
        &self.world.canaries[&self.canary]
    }

    fn set_weight(&mut self, weight: f64, t: f64) {
        if let Some(c) = self.world.canaries.get_mut(&self.canary) {
            c.weight.set(t, weight);
        }
    }

    fn end(&mut self, t: f64) {
        if let Some(c) = self.world.canaries.get_mut(&self.canary) {
            c.ended = Some(t);
            c.phase = CanaryPhase::RolledBack;
        }
    }

    /// Both arms' 10 s buckets from `since` to `now`.
    fn read(&self, since: Option<f64>, now: f64) -> CanaryMetrics {
        traffic::canary_metrics(&self.world, self.rec(), since, BUCKET, now, &stamp)
            .unwrap_or_default()
    }

    /// The canary arm's last `window` seconds, as seed 001 reads it.
    fn canary_window(&self, window: f64, now: f64) -> crate::domain::MetricSummary {
        traffic::summary(
            &self.world,
            &Query {
                bot: &self.bot,
                env: Some(&self.env),
                version: None,
                arm: Arm::Canary,
            },
            window,
            now,
            &stamp,
        )
    }

    /// The regression's onset (server seconds from the canary's start), if the version
    /// regresses.
    fn onset(&self) -> Option<f64> {
        let bot = self.world.bots.get(&self.bot)?;
        let v = bot.version(&self.version)?;
        v.regression.as_ref().map(|r| r.after_minutes * 60.0)
    }

    /// Canary conversations from `from` to `to` (server seconds).
    fn canary_conversations(&self, from: f64, to: f64) -> u64 {
        if to <= from {
            return 0;
        }
        self.read(Some(from), to)
            .canary
            .iter()
            .filter(|p| (p.t as f64) >= from - BUCKET as f64)
            .map(|p| p.conversations)
            .sum()
    }
}

fn plan_for(bot: &str, version: &str) -> crate::engine::canary::CanaryPlan {
    let ask = CanaryAsk {
        bot: bot.into(),
        version: version.into(),
        ..CanaryAsk::default()
    };
    // The defaults are valid by construction; a failure here is a bug in them.
    plans::canary(&CanarySettings::default(), &ask).unwrap_or_else(|e| panic!("{e}"))
}

/// One canary run of one judge.
pub fn run(scenario: &Scenario, judge: Judge, bot: &str, version: &str, seed: u64) -> RunResult {
    let plan = plan_for(bot, version);
    let mut sim = Sim::new(scenario, seed, bot, version, plan.steps[0]);
    let (ending, end, reason) = match judge {
        Judge::Relcon => drive_relcon(&mut sim, &plan),
        Judge::Seed001 => drive_seed001(&mut sim),
        Judge::Kayenta => drive_kayenta(&mut sim, &plan),
    };
    let onset = sim.onset();
    let exposed = onset
        .map(|o| sim.canary_conversations(START + o, end))
        .unwrap_or(0);
    sim.end(end);
    RunResult {
        judge,
        bot: bot.into(),
        version: version.into(),
        seed,
        ending,
        took: end - START,
        onset,
        exposed,
        reason,
    }
}

fn drive_relcon(sim: &mut Sim, plan: &crate::engine::canary::CanaryPlan) -> (Ending, f64, String) {
    let look = plan.look_every.as_secs_f64();
    let mut policy = Policy::new(plan.budgets, plan.steps.len());
    let mut evidence = Evidence::default();
    let mut t = START;
    let mut held = Duration::ZERO;
    let mut i = 0;
    while t - START < HORIZON {
        t += look;
        held += plan.look_every;
        let read = sim.read(evidence.next_t().map(|x| x as f64), t);
        evidence.add_read(&read);
        let next = plan.steps.get(i + 1).copied().unwrap_or(100.0);
        evidence.set_step_weight(plan.steps[i]);
        let a = analyze(&plan.judge, &mut evidence, margin_for(next));
        match policy.look(held, a.verdict) {
            Action::Hold | Action::Extend { .. } => {}
            Action::Advance | Action::AdvanceInconclusive => {
                i += 1;
                sim.set_weight(plan.steps[i], t);
                policy.next_step();
                held = Duration::ZERO;
            }
            Action::Promote => return (Ending::Promoted, t, a.summary()),
            Action::RollBack => return (Ending::RolledBack, t, a.summary()),
            Action::Pause(_) => return (Ending::Paused, t, a.summary()),
        }
    }
    (Ending::Open, t, "still running".into())
}

/// Seed 001's canary: 5% for 900 s, a poll every 30 s of the last 15 minutes.
fn drive_seed001(sim: &mut Sim) -> (Ending, f64, String) {
    // Seed 001's example splits 95/5; the simulator's canary was started at the plan's
    // first step, which is also 5%.
    sim.set_weight(5.0, START);
    let t0 = Thresholds::default();
    let mut poll = START;
    while poll + 30.0 <= START + 900.0 + 1e-9 {
        poll += 30.0;
        let s = sim.canary_window(900.0, poll);
        let error = s.error_rate.unwrap_or(0.0);
        let csat = s.satisfaction_score.unwrap_or(5.0);
        let latency = s.avg_latency_ms.unwrap_or(0.0);
        if error > t0.error_rate || csat < t0.satisfaction_score || latency > t0.max_latency_ms {
            return (
                Ending::RolledBack,
                poll,
                format!(
                    "error {:.1}%, CSAT {csat:.2}, latency {latency:.0} ms over the last 15 minutes",
                    error * 100.0
                ),
            );
        }
    }
    (Ending::Promoted, poll, "no breach in 900 s".into())
}

/// Kayenta-style: each step held for the plan's interval, judged on its own window.
fn drive_kayenta(sim: &mut Sim, plan: &crate::engine::canary::CanaryPlan) -> (Ending, f64, String) {
    let interval = plan.budgets.interval.as_secs_f64();
    let mut t = START;
    for (i, w) in plan.steps.iter().enumerate() {
        if i > 0 {
            sim.set_weight(*w, t);
        }
        let step_end = t + interval;
        let read = sim.read(Some(t), step_end);
        if let Some(why) = kayenta_fails(&read) {
            return (Ending::RolledBack, step_end, why);
        }
        t = step_end;
    }
    (Ending::Promoted, t, "every step passed".into())
}

/// The bucket values of one metric in one arm (buckets without conversations left out).
fn values(points: &[MetricPoint], m: Metric) -> Vec<f64> {
    points
        .iter()
        .filter(|p| !p.partial)
        .filter_map(|p| m.moments(p).and_then(|x| x.mean()))
        .collect()
}

/// Two-sided Mann–Whitney U test (normal approximation with tie correction): the p-value
/// and whether `x` tends to be larger than `y`.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<(f64, bool)> {
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|v| (*v, true))
        .chain(y.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len();
    let mut ranks = vec![0.0; n];
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for rank in ranks.iter_mut().take(j + 1).skip(i) {
            *rank = r;
        }
        let k = (j - i + 1) as f64;
        ties += k * k * k - k;
        i = j + 1;
    }
    let r1: f64 = all
        .iter()
        .zip(&ranks)
        .filter(|(a, _)| a.1)
        .map(|(_, r)| r)
        .sum();
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let nt = n1 + n2;
    let var = n1 * n2 / 12.0 * ((nt + 1.0) - ties / (nt * (nt - 1.0)));
    if var <= 0.0 {
        return Some((1.0, false));
    }
    let z = (u1 - mean) / var.sqrt();
    let normal = Normal::standard();
    let p = 2.0 * (1.0 - normal.cdf(z.abs()));
    Some((p.min(1.0), u1 > mean))
}

/// Kayenta-style classification of one step's window; the reason when the step fails.
fn kayenta_fails(read: &CanaryMetrics) -> Option<String> {
    let mut judged = 0;
    let mut passed = 0;
    let mut failed = Vec::new();
    for m in Metric::ALL {
        let x = values(&read.canary, m);
        let y = values(&read.baseline, m);
        if x.len() < 3 || y.len() < 3 {
            continue; // NoData
        }
        judged += 1;
        let Some((p, higher)) = mann_whitney(&x, &y) else {
            continue;
        };
        let worse = higher == m.higher_is_worse();
        if p < 0.02 && worse {
            failed.push(m);
        } else {
            passed += 1;
        }
    }
    if failed.contains(&Metric::ErrorRate) {
        return Some("error rate significantly higher (critical metric)".into());
    }
    if judged > 0 && (passed as f64) < 0.75 * judged as f64 {
        return Some(format!(
            "score {:.0} below 75: {}",
            100.0 * passed as f64 / judged as f64,
            failed
                .iter()
                .map(|m| m.key())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    None
}

/// What the bench runs.
pub struct Plan {
    pub healthy: Vec<(String, String)>,
    pub regressions: Vec<(String, String)>,
}

/// The bots and versions of the bench scenario.
pub fn plan(scenario: &Scenario) -> Plan {
    let mut healthy = Vec::new();
    let mut regressions = Vec::new();
    for b in &scenario.bots {
        let live: Vec<&str> = b
            .environments
            .iter()
            .filter_map(|e| e.live.as_deref())
            .collect();
        for v in b.versions.iter().filter(|v| !live.contains(&v.id.as_str())) {
            if v.regression.is_some() {
                regressions.push((b.id.clone(), v.id.clone()));
            } else {
                healthy.push((b.id.clone(), v.id.clone()));
            }
        }
    }
    Plan {
        healthy,
        regressions,
    }
}

/// Run everything; results in no particular order.
pub fn run_all(opts: &Options) -> Result<Vec<RunResult>, String> {
    let scenario = Scenario::parse(SCENARIO, "assets/scenarios/canary-bench.toml")?;
    let p = plan(&scenario);
    let mut work: Vec<(Judge, String, String, u64)> = Vec::new();
    for judge in Judge::ALL {
        for (bot, v) in &p.healthy {
            for s in 0..opts.healthy_seeds {
                work.push((judge, bot.clone(), v.clone(), opts.first_seed + s));
            }
        }
        for (bot, v) in &p.regressions {
            for s in 0..opts.regression_seeds {
                work.push((judge, bot.clone(), v.clone(), opts.first_seed + s));
            }
        }
    }
    let threads = opts.threads.max(1);
    let chunks: Vec<Vec<(Judge, String, String, u64)>> = (0..threads)
        .map(|k| work.iter().skip(k).step_by(threads).cloned().collect())
        .collect();
    let scenario = &scenario;
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(j, b, v, seed)| run(scenario, j, &b, &v, seed))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect::<Vec<_>>()
    });
    Ok(results)
}

fn median_p90(mut xs: Vec<f64>) -> (Option<f64>, Option<f64>) {
    if xs.is_empty() {
        return (None, None);
    }
    xs.sort_by(f64::total_cmp);
    let at = |q: f64| xs[((xs.len() as f64 - 1.0) * q).round() as usize];
    (Some(at(0.5)), Some(at(0.9)))
}

fn secs(x: Option<f64>) -> String {
    x.map(|s| format!("{s:.0} s")).unwrap_or_else(|| "—".into())
}

fn pct(n: usize, of: usize) -> String {
    if of == 0 {
        "—".into()
    } else {
        format!("{} ({:.1}%)", n, 100.0 * n as f64 / of as f64)
    }
}

/// The results as markdown tables.
pub fn report(results: &[RunResult], opts: &Options) -> String {
    let scenario = Scenario::parse(SCENARIO, "bench").ok();
    let cpm = |bot: &str| {
        scenario
            .as_ref()
            .and_then(|s| s.bots.iter().find(|b| b.id == bot))
            .map(|b| b.cpm)
            .unwrap_or_default()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Healthy canaries: {} seeds per bot; regressions: {} seeds per bot and regression; \
         seeds from {}. relcon and the Kayenta-style judge follow the default profile's plan \
         (steps 5, 10, 25, 50, 100 %, 60 s interval; relcon at α = 0.01 for the whole \
         canary); seed 001's rule runs the seed's own canary (5% for 900 s).\n",
        opts.healthy_seeds, opts.regression_seeds, opts.first_seed
    );
    let _ = writeln!(out, "### Healthy canaries\n");
    let _ = writeln!(
        out,
        "| judge | bot (conversations/min) | runs | false rollbacks | paused for a person | promoted | median time to promote |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    let healthy: Vec<&RunResult> = results.iter().filter(|r| r.onset.is_none()).collect();
    let mut bots: Vec<&str> = healthy.iter().map(|r| r.bot.as_str()).collect();
    bots.sort();
    bots.dedup();
    for judge in Judge::ALL {
        let mut all = (0, 0, 0, 0);
        for bot in &bots {
            let rs: Vec<&&RunResult> = healthy
                .iter()
                .filter(|r| r.judge == judge && r.bot == *bot)
                .collect();
            let rb = rs.iter().filter(|r| r.ending == Ending::RolledBack).count();
            let pa = rs
                .iter()
                .filter(|r| matches!(r.ending, Ending::Paused | Ending::Open))
                .count();
            let pr = rs.iter().filter(|r| r.ending == Ending::Promoted).count();
            let (med, _) = median_p90(
                rs.iter()
                    .filter(|r| r.ending == Ending::Promoted)
                    .map(|r| r.took)
                    .collect(),
            );
            all = (all.0 + rs.len(), all.1 + rb, all.2 + pa, all.3 + pr);
            let _ = writeln!(
                out,
                "| {} | {bot} ({:.0}) | {} | {} | {} | {} | {} |",
                judge.name(),
                cpm(bot),
                rs.len(),
                pct(rb, rs.len()),
                pct(pa, rs.len()),
                pct(pr, rs.len()),
                secs(med)
            );
        }
        let _ = writeln!(
            out,
            "| **{}** | **all** | **{}** | **{}** | {} | {} | |",
            judge.name(),
            all.0,
            pct(all.1, all.0),
            pct(all.2, all.0),
            pct(all.3, all.0)
        );
    }
    let _ = writeln!(out, "\n### Targets\n");
    for (ok, line) in targets(results) {
        let _ = writeln!(out, "- {} {line}", if ok { "✔" } else { "✖" });
    }
    let _ = writeln!(out, "\n### Regressions (onset 2 minutes into the canary)\n");
    let _ = writeln!(
        out,
        "| regression | bot (conversations/min) | judge | runs | caught | rolled back before the onset | paused for a person | missed (promoted) | median detection after onset | p90 | median canary conversations after onset |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    let mut keys: Vec<(String, String)> = results
        .iter()
        .filter(|r| r.onset.is_some())
        .map(|r| (r.version.clone(), r.bot.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    for (version, bot) in &keys {
        for judge in Judge::ALL {
            let rs: Vec<&RunResult> = results
                .iter()
                .filter(|r| r.judge == judge && &r.bot == bot && &r.version == version)
                .collect();
            let onset = |r: &RunResult| r.onset.unwrap_or_default();
            let caught: Vec<&&RunResult> = rs
                .iter()
                .filter(|r| r.ending == Ending::RolledBack && r.took >= onset(r))
                .collect();
            let early = rs
                .iter()
                .filter(|r| r.ending == Ending::RolledBack && r.took < onset(r))
                .count();
            let missed = rs.iter().filter(|r| r.ending == Ending::Promoted).count();
            let paused = rs
                .iter()
                .filter(|r| matches!(r.ending, Ending::Paused | Ending::Open))
                .count();
            let (med, p90) = median_p90(caught.iter().map(|r| r.took - onset(r)).collect());
            let (exp, _) = median_p90(caught.iter().map(|r| r.exposed as f64).collect());
            let _ = writeln!(
                out,
                "| {} | {bot} ({:.0}) | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                describe(version),
                cpm(bot),
                judge.name(),
                rs.len(),
                pct(caught.len(), rs.len()),
                pct(early, rs.len()),
                pct(paused, rs.len()),
                pct(missed, rs.len()),
                secs(med),
                secs(p90),
                exp.map(|e| format!("{e:.0}")).unwrap_or_else(|| "—".into())
            );
        }
    }
    out
}

/// The targets, checked on these results: one line each, ✔ or ✖.
pub fn targets(results: &[RunResult]) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let relcon: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.judge == Judge::Relcon)
        .collect();
    // No rollback for lack of data: every relcon rollback rests on a failing metric.
    let no_data = relcon
        .iter()
        .filter(|r| r.ending == Ending::RolledBack && !r.reason.contains("→ fail"))
        .count();
    out.push((
        no_data == 0,
        format!(
            "no rollback for lack of data: {no_data} of relcon's rollbacks without a failing metric"
        ),
    ));
    let healthy: Vec<&&RunResult> = relcon.iter().filter(|r| r.onset.is_none()).collect();
    let false_rb = healthy
        .iter()
        .filter(|r| r.ending == Ending::RolledBack)
        .count();
    let share = false_rb as f64 / healthy.len().max(1) as f64;
    out.push((
        share <= 0.01,
        format!(
            "false rollbacks ≤ 1% of healthy runs: {false_rb} of {} ({:.1}%)",
            healthy.len(),
            share * 100.0
        ),
    ));
    let mut bots: Vec<&str> = results
        .iter()
        .filter(|r| r.version == "v-err3x")
        .map(|r| r.bot.as_str())
        .collect();
    bots.sort();
    bots.dedup();
    for bot in bots {
        let runs = |j: Judge| -> Vec<&RunResult> {
            results
                .iter()
                .filter(|r| r.judge == j && r.bot == bot && r.version == "v-err3x")
                .collect()
        };
        let caught = |rs: &[&RunResult]| -> Vec<f64> {
            rs.iter()
                .filter(|r| r.ending == Ending::RolledBack && r.took >= r.onset.unwrap_or(0.0))
                .map(|r| r.took - r.onset.unwrap_or(0.0))
                .collect()
        };
        let ours = runs(Judge::Relcon);
        let theirs = runs(Judge::Seed001);
        let c = caught(&ours);
        let share = c.len() as f64 / ours.len().max(1) as f64;
        out.push((
            share >= 0.99,
            format!(
                "errors 2% → 6% on {bot} caught in ≥ 99% of runs: {} of {} ({:.0}%)",
                c.len(),
                ours.len(),
                share * 100.0
            ),
        ));
        let (m_ours, _) = median_p90(c);
        let (m_theirs, _) = median_p90(caught(&theirs));
        if let (Some(a), Some(b)) = (m_ours, m_theirs) {
            out.push((
                a * 3.0 <= b,
                format!(
                    "errors 2% → 6% on {bot}: median detection {a:.0} s vs seed 001's {b:.0} s ({:.1}× sooner; target 3×)",
                    b / a.max(1.0)
                ),
            ));
        }
    }
    out
}

fn describe(version: &str) -> &str {
    match version {
        "v-err2x" => "errors 2% → 4%",
        "v-err3x" => "errors 2% → 6%",
        "v-lat300" => "latency +300 ms",
        "v-fb5" => "fallback +5 pp",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mann_whitney_matches_a_hand_computed_case() {
        // x ranks 4,5,6 of 6: U1 = 15 - 6 = 9, mean 4.5, var 5.25, z = 1.964 → p ≈ 0.0495.
        let (p, higher) = mann_whitney(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!(higher);
        assert!((p - 0.0495).abs() < 0.001, "{p}");
        let (p, _) = mann_whitney(&[1.0, 1.0], &[1.0, 1.0]).unwrap();
        assert_eq!(p, 1.0);
    }

    #[test]
    fn the_bench_world_has_its_bots_and_runs_each_judge() {
        let s = Scenario::parse(SCENARIO, "bench").unwrap();
        let p = plan(&s);
        assert_eq!(p.healthy.len(), 3, "three bots with a healthy candidate");
        assert!(p.regressions.len() >= 8);
        for judge in Judge::ALL {
            let r = run(&s, judge, "bench-busy", "v-err3x", 1);
            assert_eq!(r.ending, Ending::RolledBack, "{judge:?}: {}", r.reason);
            assert_eq!(r.onset, Some(120.0));
        }
    }
}
