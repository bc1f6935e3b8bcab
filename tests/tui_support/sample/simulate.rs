//! How the sample canary of care-bot v8 (`canary.json`) is made: the real judge and step
//! policy on seeded synthetic traffic, exactly as `engine::canary` runs them — a look every
//! 20 s at the 10 s buckets since the canary started, the policy's extensions, an
//! operator's early promotion — and, after the sample's "now", two futures: v8's payment
//! flow fails and the judge rolls it back, or v8's CSAT sits at its tolerance and the canary
//! pauses for a person.
//!
//! The result is frozen so that tuning the judge does not rewrite the console's snapshots.
//! When the judge's output should show in them, regenerate it:
//! `cargo test --test tui_sample regenerate_the_sample_canary -- --ignored`.

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::CanarySettings;
use crate::domain::{CanaryMetrics, MetricPoint};
use crate::engine::canary::{CanaryPlan, step_names};
use crate::engine::events::{CanaryDecision, CanarySample, EventKind, Outcome, Verdict};
use crate::engine::judge::policy::{Action, PauseWhy, Policy};
use crate::engine::judge::{Analysis, Evidence, analyze, margin_for};
use crate::plans::{CanaryAsk, canary};

use super::story::{EPOCH_OFFSET, Frozen, Part, Story, merge_points};
use super::ts;

/// The canary started 20 minutes before the sample's now, at 10:10:00.
pub const START: i64 = -1200;
/// Baseline-only history shown before that.
const HISTORY: i64 = -2400;
/// Bucket length (server seconds), as the engine reads them.
const BUCKET: i64 = 10;
/// Conversations per bucket across both arms (480 a minute).
const PER_BUCKET: u64 = 80;
/// The operator promotes step 1 early, 2:10 into it (if it is still held).
const OPERATOR_PROMOTES: i64 = START + 130;
/// The sample's "now"; after it v8's new payment flow starts failing (in [`story`]).
const REGRESSION: i64 = 0;

/// How one arm behaves.
#[derive(Clone, Copy)]
struct Truth {
    error: f64,
    fallback: f64,
    handoff: f64,
    latency: f64,
    csat: f64,
    intent: f64,
}

/// v7, the stable version.
const STABLE: Truth = Truth {
    error: 0.011,
    fallback: 0.06,
    handoff: 0.04,
    latency: 820.0,
    csat: 4.2,
    intent: 0.86,
};

/// v8 as it ships: a better NLU model, a little slower, rated a little lower.
const CANARY: Truth = Truth {
    error: 0.012,
    fallback: 0.052,
    handoff: 0.041,
    latency: 865.0,
    csat: 4.07,
    intent: 0.88,
};

/// v8 once its payment flow times out.
const BROKEN: Truth = Truth {
    error: 0.14,
    latency: 990.0,
    ..CANARY
};

/// v8 once its new survey prompt puts people off: CSAT right at the tolerance, which no
/// amount of data settles.
const BORDERLINE: Truth = Truth {
    csat: 3.99,
    error: 0.0125,
    ..CANARY
};

/// The sample canary up to its now and both futures, as they are frozen.
pub fn generate() -> Frozen {
    let (a, b) = (build(BROKEN), build(BORDERLINE));
    let now = |s: &Story| Part {
        events: s.events[..s.until_now].to_vec(),
        canary: s
            .canary
            .iter()
            .filter(|p| p.t < EPOCH_OFFSET)
            .cloned()
            .collect(),
        baseline: s
            .baseline
            .iter()
            .filter(|p| p.t < EPOCH_OFFSET)
            .cloned()
            .collect(),
    };
    let future = |s: &Story| Part {
        events: s.events[s.until_now..].to_vec(),
        canary: s
            .canary
            .iter()
            .filter(|p| p.t >= EPOCH_OFFSET)
            .cloned()
            .collect(),
        baseline: s
            .baseline
            .iter()
            .filter(|p| p.t >= EPOCH_OFFSET)
            .cloned()
            .collect(),
    };
    assert_eq!(now(&a), now(&b), "both futures share the canary up to now");
    Frozen {
        now: now(&a),
        rolled_back: future(&a),
        paused: future(&b),
    }
}

/// JSON with one event or point a line, so a regenerated file diffs readably.
pub fn frozen_text(f: &Frozen) -> String {
    fn list<T: serde::Serialize>(items: &[T]) -> String {
        let lines: Vec<String> = items
            .iter()
            .map(|i| serde_json::to_string(i).expect("serialisable"))
            .collect();
        format!("[\n{}\n  ]", lines.join(",\n"))
    }
    let part = |p: &Part| {
        format!(
            "{{\n  \"events\": {},\n  \"canary\": {},\n  \"baseline\": {}\n}}",
            list(&p.events),
            list(&p.canary),
            list(&p.baseline)
        )
    };
    format!(
        "{{\n\"now\": {},\n\"rolled_back\": {},\n\"paused\": {}\n}}\n",
        part(&f.now),
        part(&f.rolled_back),
        part(&f.paused)
    )
}

pub fn plan() -> CanaryPlan {
    let ask = CanaryAsk {
        bot: "bot-care".into(),
        version: "v8".into(),
        environment: Some("env-prod-blue".into()),
        steps: Some(vec![5.0, 25.0, 50.0, 100.0]),
        interval: Some(Duration::from_secs(120)),
        interactive: true,
        ..CanaryAsk::default()
    };
    match canary(&CanarySettings::default(), &ask) {
        Ok(p) => p,
        Err(e) => panic!("the sample plan is valid: {e}"),
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// One arm of one bucket starting at `rel` (seconds from now), drawn per conversation.
fn bucket(rng: &mut ChaCha8Rng, rel: i64, n: u64, weight: f64, truth: Truth) -> MetricPoint {
    let t = rel + EPOCH_OFFSET;
    let mut p = MetricPoint {
        minute: t.div_euclid(60),
        t,
        at: ts(rel),
        conversations: n,
        weight: Some(weight),
        ..MetricPoint::default()
    };
    let (mut lat, mut lat2, mut sat, mut sat2, mut int, mut int2) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let mut lats = Vec::with_capacity(n as usize);
    for _ in 0..n {
        p.errors += u64::from(rng.random::<f64>() < truth.error);
        p.fallbacks += u64::from(rng.random::<f64>() < truth.fallback);
        p.handoffs += u64::from(rng.random::<f64>() < truth.handoff);
        let s = 0.34;
        let l = truth.latency * (s * normal(rng) - s * s / 2.0).exp();
        lat += l;
        lat2 += l * l;
        lats.push(l);
        let i = (truth.intent + 0.08 * normal(rng)).clamp(0.0, 1.0);
        int += i;
        int2 += i * i;
        if rng.random::<f64>() < 0.25 {
            let r = (truth.csat + 0.9 * normal(rng)).round().clamp(1.0, 5.0);
            p.rated += 1;
            sat += r;
            sat2 += r * r;
        }
    }
    let sd = |s: f64, s2: f64, k: u64| {
        if k > 1 {
            ((s2 - s * s / k as f64) / (k as f64 - 1.0)).max(0.0).sqrt()
        } else {
            0.0
        }
    };
    if n > 0 {
        let nf = n as f64;
        p.error_rate = Some(p.errors as f64 / nf);
        p.avg_latency_ms = Some(lat / nf);
        p.latency_sd_ms = Some(sd(lat, lat2, n));
        lats.sort_by(f64::total_cmp);
        p.p95_latency_ms = lats.get((nf * 0.95) as usize).or(lats.last()).copied();
        p.intent_score = Some(int / nf);
        p.intent_score_sd = Some(sd(int, int2, n));
    }
    if p.rated > 0 {
        p.satisfaction_score = Some(sat / p.rated as f64);
        p.satisfaction_sd = Some(sd(sat, sat2, p.rated));
    }
    p
}

/// The engine's run state, mirrored.
struct Sim {
    plan: CanaryPlan,
    policy: Policy,
    evidence: Evidence,
    last: Option<Analysis>,
    events: Vec<(i64, EventKind)>,
    step: usize,
    weight: f64,
    /// How v8 behaves after the sample's now.
    future: Truth,
}

impl Sim {
    fn emit(&mut self, at: i64, kind: EventKind) {
        self.events.push((at, kind));
    }

    /// `engine::canary::decide`.
    fn decide(&mut self, at: i64, action: &str, reason: &str) {
        let a = self.last.as_ref();
        let d = CanaryDecision {
            at: ts(at),
            step: self.step,
            weight: self.weight,
            verdict: a.map(|a| a.verdict).unwrap_or(Verdict::Inconclusive),
            action: action.to_string(),
            reason: reason.to_string(),
            n_canary: a.map(|a| a.n_canary).unwrap_or_default(),
            n_baseline: a.map(|a| a.n_baseline).unwrap_or_default(),
            metrics: a.map(|a| a.metrics.clone()).unwrap_or_default(),
        };
        self.emit(at, EventKind::CanaryDecision(Box::new(d)));
    }

    /// Buckets of both arms up to `until` (seconds from now) at the current weight.
    fn generate(
        &self,
        rng: &mut ChaCha8Rng,
        rel: &mut i64,
        until: i64,
        canary: &mut Vec<MetricPoint>,
        baseline: &mut Vec<MetricPoint>,
    ) {
        while *rel < until {
            let truth = if *rel >= REGRESSION {
                self.future
            } else {
                CANARY
            };
            let nc = (PER_BUCKET as f64 * self.weight / 100.0).round() as u64;
            canary.push(bucket(rng, *rel, nc, self.weight, truth));
            baseline.push(bucket(rng, *rel, PER_BUCKET - nc, self.weight, STABLE));
            *rel += BUCKET;
        }
    }

    fn next_step(&mut self, at: i64, names: &[String]) {
        self.policy.next_step();
        self.step += 1;
        self.weight = self.plan.steps[self.step - 1];
        self.emit(
            at,
            EventKind::StepStarted {
                step: names[self.step + 1].clone(),
            },
        );
    }

    /// `Ctx::wait` announcing the next look.
    fn waiting(&mut self, at: i64) {
        let kind = EventKind::Waiting {
            what: format!("canary step {} look", self.step),
            wait: self.plan.look_every,
        };
        self.emit(at, kind);
    }

    fn verdict_line(&self) -> String {
        self.last
            .as_ref()
            .map(|a| a.summary())
            .unwrap_or_else(|| "no metrics read yet".into())
    }

    /// `engine::canary::look`: fold in the new bucket, judge, report, ask the policy.
    fn look(&mut self, at: i64, held: Duration, c: &[MetricPoint], b: &[MetricPoint]) -> Action {
        let read = CanaryMetrics {
            canary_id: "can-31".into(),
            step_seconds: BUCKET as u64,
            window_start: c.first().map(|p| p.at.clone()).unwrap_or_default(),
            window_end: ts(at),
            baseline: b.to_vec(),
            canary: c.to_vec(),
        };
        self.evidence.add_read(&read);
        // The exposure the next step leads to (all of it after the last).
        let next = self.plan.steps.get(self.step).copied().unwrap_or(100.0);
        let a = analyze(&self.plan.judge, &mut self.evidence, margin_for(next));
        let (canary, baseline) = self.evidence.summaries();
        let (window_start, window_end) = self.evidence.window();
        let (step_canary, step_baseline) = self.evidence.at_weight(self.weight);
        let sample = CanarySample {
            step: self.step,
            steps_total: self.plan.steps.len(),
            weight_set: self.weight,
            weight_actual: c.iter().rev().find_map(|p| p.weight),
            baseline,
            canary,
            step_canary,
            step_baseline,
            window_start,
            window_end,
            verdict: a.verdict,
            verdicts: a.metrics.clone(),
            held_seconds: held.as_secs_f64(),
            min_hold_seconds: self.plan.budgets.interval.as_secs_f64(),
            max_hold_seconds: self.policy.hold_limit().as_secs_f64(),
        };
        self.emit(at, EventKind::Canary(Box::new(sample)));
        let action = self.policy.look(held, a.verdict);
        self.last = Some(a);
        action
    }
}

fn build(future: Truth) -> Story {
    let plan = plan();
    let look_every = plan.look_every.as_secs() as i64;
    let names = step_names(&plan);
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let (mut canary, mut baseline) = (Vec::new(), Vec::new());
    let mut rel = HISTORY;
    while rel < START {
        baseline.push(bucket(&mut rng, rel, PER_BUCKET, 0.0, STABLE));
        rel += BUCKET;
    }
    let mut sim = Sim {
        policy: Policy::new(plan.budgets, plan.steps.len()),
        evidence: Evidence::default(),
        last: None,
        events: Vec::new(),
        step: 1,
        weight: plan.steps[0],
        plan,
        future,
    };
    sim.emit(
        START - 10,
        EventKind::Started {
            workflow: crate::engine::events::WorkflowKind::Canary,
            title: "canary care-bot v8".into(),
            bot: Some("bot-care".into()),
            steps: names.clone(),
            operation: None,
        },
    );
    sim.emit(
        START - 10,
        EventKind::StepStarted {
            step: names[0].clone(),
        },
    );
    sim.emit(
        START - 8,
        EventKind::StepFinished {
            step: names[0].clone(),
            detail: Some("v8 in env-prod-blue; steps [5.0, 25.0, 50.0, 100.0]".into()),
        },
    );
    sim.emit(
        START - 8,
        EventKind::StepStarted {
            step: names[1].clone(),
        },
    );
    sim.emit(
        START,
        EventKind::StepFinished {
            step: names[1].clone(),
            detail: Some("can-31 serving 5% (v7 stable)".into()),
        },
    );
    sim.emit(
        START,
        EventKind::Linked {
            server_id: "can-31".into(),
        },
    );
    sim.emit(
        START,
        EventKind::StepStarted {
            step: names[2].clone(),
        },
    );
    sim.waiting(START);
    let mut held = Duration::ZERO;
    let mut operator = Some(OPERATOR_PROMOTES);
    let mut look_at = START + look_every;
    let (mut read_c, mut read_b) = (canary.len(), baseline.len());
    let ended;
    loop {
        if let Some(x) = operator
            && x < look_at
            && sim.step == 1
        {
            // The operator pressed p during this wait: the engine wakes, decides, moves on.
            operator = None;
            sim.generate(&mut rng, &mut rel, x, &mut canary, &mut baseline);
            let step = sim.step;
            sim.decide(
                x,
                "advance (operator)",
                "the operator promoted the step without waiting",
            );
            sim.emit(
                x,
                EventKind::StepFinished {
                    step: names[step + 1].clone(),
                    detail: Some("promoted early by the operator".into()),
                },
            );
            sim.next_step(x, &names);
            held = Duration::ZERO;
            look_at = x + look_every;
            sim.waiting(x);
            continue;
        }
        sim.generate(&mut rng, &mut rel, look_at, &mut canary, &mut baseline);
        held += Duration::from_secs(look_every as u64);
        let action = sim.look(look_at, held, &canary[read_c..], &baseline[read_b..]);
        (read_c, read_b) = (canary.len(), baseline.len());
        let (at, step, weight) = (look_at, sim.step, sim.weight);
        look_at += look_every;
        match action {
            Action::Hold => {}
            Action::Extend { extension } => {
                let why = sim.verdict_line();
                sim.emit(
                    at,
                    EventKind::Detail {
                        message: format!(
                            "step {step} held at {weight}% again (extension {extension}): {why}"
                        ),
                    },
                );
                sim.decide(at, "extend", &why);
            }
            Action::Promote => {
                let why = sim.verdict_line();
                sim.decide(at, "promote", &why);
                sim.emit(
                    at,
                    EventKind::StepFinished {
                        step: names[step + 1].clone(),
                        detail: Some(why),
                    },
                );
                let promote = names[names.len() - 1].clone();
                sim.emit(
                    at,
                    EventKind::StepStarted {
                        step: promote.clone(),
                    },
                );
                sim.emit(
                    at + 2,
                    EventKind::StepFinished {
                        step: promote,
                        detail: Some("v8 now live in env-prod-blue".into()),
                    },
                );
                sim.emit(
                    at + 2,
                    EventKind::Finished {
                        outcome: Outcome::Succeeded,
                        summary: format!(
                            "bot-care v8 promoted in env-prod-blue at step {step} of {} (was v7)",
                            sim.plan.steps.len()
                        ),
                    },
                );
                ended = at + 2;
                break;
            }
            Action::Advance | Action::AdvanceInconclusive => {
                let why = sim.verdict_line();
                sim.decide(at, "advance", &why);
                sim.emit(
                    at,
                    EventKind::StepFinished {
                        step: names[step + 1].clone(),
                        detail: Some(why),
                    },
                );
                sim.next_step(at, &names);
                held = Duration::ZERO;
            }
            Action::RollBack => {
                let why = sim.verdict_line();
                sim.decide(at, "roll back", &why);
                let reason = format!("step {step} ({weight}%): {why}");
                sim.emit(
                    at,
                    EventKind::StepFailed {
                        step: names[step + 1].clone(),
                        reason: reason.clone(),
                    },
                );
                sim.emit(
                    at,
                    EventKind::StepStarted {
                        step: "roll back".into(),
                    },
                );
                sim.emit(
                    at + 2,
                    EventKind::StepFinished {
                        step: "roll back".into(),
                        detail: Some("v8 back to 0%, v7 keeps all traffic".into()),
                    },
                );
                sim.emit(
                    at + 2,
                    EventKind::Finished {
                        outcome: Outcome::RolledBack,
                        summary: format!("canary bot-care v8 rolled back: {reason}"),
                    },
                );
                ended = at + 2;
                break;
            }
            Action::Pause(why) => {
                let reason = match why {
                    PauseWhy::Inconclusive => {
                        let h = held.as_secs();
                        format!(
                            "inconclusive after {}:{:02} at {weight}%: {}",
                            h / 60,
                            h % 60,
                            sim.verdict_line()
                        )
                    }
                    PauseWhy::ReadErrors => "the canary's metrics could not be read".into(),
                };
                sim.decide(at, "pause", &reason);
                sim.emit(
                    at,
                    EventKind::Detail {
                        message: format!(
                            "paused: {reason} — promote, resume to extend, or abort to roll back"
                        ),
                    },
                );
                sim.emit(at, EventKind::Paused);
                ended = at;
                break;
            }
        }
        sim.waiting(at);
        assert!(at < 3600, "the sample canary never ended");
    }
    let split = sim.events.partition_point(|(t, _)| *t <= 0);
    let (before, after) = sim.events.split_at(split);
    let mut events = latest_only(before);
    let until_now = events.len();
    events.extend(latest_only(after));
    Story {
        events,
        until_now,
        ended,
        canary: per_minute(&canary),
        baseline: per_minute(&baseline),
    }
}

/// `events` without the looks and waits a later one replaces: the console shows the
/// latest of each.
fn latest_only(events: &[(i64, EventKind)]) -> Vec<(i64, EventKind)> {
    let superseded = |i: usize| {
        let same = |a: &EventKind, b: &EventKind| {
            matches!(
                (a, b),
                (EventKind::Canary(_), EventKind::Canary(_))
                    | (EventKind::Waiting { .. }, EventKind::Waiting { .. })
            )
        };
        events[i + 1..]
            .iter()
            .any(|(_, later)| same(&events[i].1, later))
    };
    (0..events.len())
        .filter(|&i| !superseded(i))
        .map(|i| events[i].clone())
        .collect()
}

/// Per-minute points of 10 s buckets, the chart's fields only.
fn per_minute(buckets: &[MetricPoint]) -> Vec<MetricPoint> {
    let mut out: Vec<MetricPoint> = Vec::new();
    let mut group: Vec<&MetricPoint> = Vec::new();
    let flush = |group: &mut Vec<&MetricPoint>, out: &mut Vec<MetricPoint>| {
        if let Some(first) = group.first() {
            out.push(merge(first.minute, group));
        }
        group.clear();
    };
    for b in buckets {
        if group.first().is_some_and(|g| g.minute != b.minute) {
            flush(&mut group, &mut out);
        }
        group.push(b);
    }
    flush(&mut group, &mut out);
    out
}

fn merge(minute: i64, group: &[&MetricPoint]) -> MetricPoint {
    MetricPoint {
        minute,
        t: minute * 60,
        at: group.first().map(|p| p.at.clone()).unwrap_or_default(),
        ..merge_points(group)
    }
}
