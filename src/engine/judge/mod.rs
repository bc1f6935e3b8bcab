//! Canary judgement: the canary against its baseline, metric by metric, with tests that stay
//! valid however often they look.
//!
//! - [`stats`] holds the mathematics (sufficient statistics, the anytime-valid t-test).
//! - [`Evidence`] folds the server's per-bucket counts of both arms since the canary started,
//!   keeping one block per canary weight so a step change is never mistaken for a difference.
//! - [`analyze`] judges every gated metric: the anytime-valid interval on canary − baseline
//!   against the metric's tolerance, and the canary's own value against the profile's
//!   absolute guardrail. A metric **fails** when the whole interval is worse than tolerated
//!   (or the canary is credibly past its guardrail), **passes** when the whole interval is
//!   within the step's limit (and, to be promoted, the canary is credibly inside its
//!   guardrail), and is **inconclusive** otherwise — too little data is never a pass and
//!   never a failure. A step leading to w% of the traffic is passed within the tolerance
//!   times 100/w, so the extra harm to all of the bot's conversations stays within one
//!   tolerance while the full proof is gathered before the canary takes all the traffic.
//! - [`policy`] turns looks into step decisions: hold, advance, promote, roll back, pause.
//!
//! One false-alarm level `alpha` covers the whole canary: it is split evenly over the tests
//! (one per gated metric, one per guardrail). Each metric's comparison is made twice — over
//! the whole canary, and over the current step alone, so a regression that starts part-way
//! through is not diluted by the healthy steps before it — with half of the metric's share
//! for the first and the other half divided over the plan's steps for the second. Every
//! confidence sequence is valid over every look, so the chance that a canary no worse than
//! its tolerances is ever rolled back is at most `alpha`.

pub mod metric;
pub mod policy;
pub mod stats;

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

pub use metric::{Kind, Metric};
use stats::{Coefficient, Moments};

use crate::domain::{CanaryMetrics, MetricPoint, MetricSummary, Thresholds};
use crate::engine::events::{MetricVerdict, Need, Verdict};

/// One metric the canary is gated on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub metric: Metric,
    /// The degradation against the baseline that is tolerated, in the metric's units (a
    /// fraction for rates: 0.01 is one percentage point), as a magnitude.
    pub tolerance: f64,
    /// An absolute limit on the canary's own value (the profile's thresholds), if any.
    pub guardrail: Option<f64>,
}

/// What the judge holds a canary to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeConfig {
    /// The chance of ever failing a canary that is within its tolerances, for the whole
    /// canary (all metrics, all steps, all looks).
    pub alpha: f64,
    /// The chance, per metric, of passing it although it is worse than its tolerance. A
    /// pass only lets the canary take its next step, where it is watched again.
    pub beta: f64,
    pub gates: Vec<Gate>,
    /// Observations each arm needs before a metric is judged at all.
    pub min_per_arm: u64,
    /// Steps of the plan: each has a test of its own.
    #[serde(default = "one_step")]
    pub steps: usize,
}

fn one_step() -> usize {
    1
}

impl JudgeConfig {
    /// Every metric gated with its default tolerance; the seeds' three thresholds as
    /// guardrails.
    pub fn standard(alpha: f64, thresholds: &Thresholds) -> JudgeConfig {
        JudgeConfig {
            alpha,
            beta: 0.05,
            gates: Metric::ALL
                .iter()
                .map(|m| Gate {
                    metric: *m,
                    tolerance: m.default_tolerance(),
                    guardrail: guardrail_of(*m, thresholds),
                })
                .collect(),
            min_per_arm: 30,
            steps: 1,
        }
    }

    /// The number of tests the false-alarm level is shared by.
    pub fn tests(&self) -> usize {
        self.gates
            .iter()
            .map(|g| 1 + usize::from(g.guardrail.is_some()))
            .sum()
    }

    /// The level of each test.
    pub fn alpha_per_test(&self) -> f64 {
        self.alpha / self.tests().max(1) as f64
    }

    /// Every problem with the configuration, in words.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(self.alpha > 0.0 && self.alpha < 0.5) {
            p.push(format!("alpha {} must be in (0, 0.5)", self.alpha));
        }
        if !(self.beta > 0.0 && self.beta < 0.5) {
            p.push(format!("beta {} must be in (0, 0.5)", self.beta));
        }
        if self.gates.is_empty() {
            p.push("the canary gates on no metric".into());
        }
        for g in &self.gates {
            if !(g.tolerance.is_finite() && g.tolerance >= 0.0) {
                p.push(format!(
                    "tolerance of {} must be a number >= 0",
                    g.metric.key()
                ));
            }
        }
        p
    }
}

/// The profile's absolute thresholds as guardrails.
pub fn guardrail_of(metric: Metric, t: &Thresholds) -> Option<f64> {
    match metric {
        Metric::ErrorRate => Some(t.error_rate),
        Metric::LatencyMs => Some(t.max_latency_ms),
        Metric::SatisfactionScore => Some(t.satisfaction_score),
        _ => None,
    }
}

/// Both arms of one block (one canary weight): the moments of every metric.
#[derive(Debug, Clone, Default)]
struct Block {
    canary: BTreeMap<Metric, Moments>,
    baseline: BTreeMap<Metric, Moments>,
    canary_conversations: u64,
    baseline_conversations: u64,
}

/// Everything seen of a canary's arms since it started: complete buckets only (a bucket
/// still filling would be revised, and a sequential test must only ever see new data).
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Keyed by canary weight in tenths of a percent.
    blocks: BTreeMap<i64, Block>,
    canary: Vec<MetricPoint>,
    baseline: Vec<MetricPoint>,
    /// Start of the last bucket folded in (server seconds), and the bucket length.
    last_t: Option<i64>,
    /// The block of the last bucket folded in: the current step.
    current: Option<i64>,
    step_seconds: u64,
    window_start: Option<String>,
    window_end: Option<String>,
    /// (bucket start, canary conversations, canary rated) of recent buckets.
    recent: VecDeque<(i64, u64, u64)>,
    /// Per metric, the comparison's verdict at the last look whose step had a baseline arm:
    /// a step served to the canary alone (100%) adds nothing to the comparison, so it keeps
    /// the verdict it was given rather than wavering as late buckets of the step before
    /// arrive.
    carried: BTreeMap<Metric, Verdict>,
    /// The weight the canary is set to now, when the caller says so: a step set to 100%
    /// has no baseline arm whatever its straddling buckets hold.
    set_weight: Option<f64>,
}

fn weight_key(w: Option<f64>) -> i64 {
    (w.unwrap_or(-1.0) * 10.0).round() as i64
}

impl Evidence {
    /// Fold in a read of the canary's metrics: every complete bucket newer than those seen.
    /// Returns how many buckets were added.
    pub fn add_read(&mut self, m: &CanaryMetrics) -> usize {
        let step = m.step_seconds.max(1);
        let baseline: BTreeMap<i64, &MetricPoint> = m.baseline.iter().map(|p| (p.t, p)).collect();
        let empty = MetricPoint::default();
        let mut added = 0;
        for c in &m.canary {
            if c.partial || self.last_t.is_some_and(|t| c.t <= t) {
                continue;
            }
            let b = baseline.get(&c.t).copied().unwrap_or(&empty);
            if b.partial {
                continue;
            }
            if self.window_start.is_none() {
                self.window_start = Some(c.at.clone());
            }
            self.add_bucket(c, b, step);
            self.window_end = Some(bucket_end(&c.at, step));
            added += 1;
        }
        added
    }

    /// Fold in one complete bucket of both arms.
    pub fn add_bucket(&mut self, canary: &MetricPoint, baseline: &MetricPoint, step_seconds: u64) {
        self.step_seconds = step_seconds;
        self.last_t = Some(canary.t);
        let key = weight_key(canary.weight.or(baseline.weight));
        self.current = Some(key);
        let block = self.blocks.entry(key).or_default();
        for m in Metric::ALL {
            if let Some(x) = m.moments(canary) {
                block.canary.entry(m).or_default().add(&x);
            }
            if let Some(x) = m.moments(baseline) {
                block.baseline.entry(m).or_default().add(&x);
            }
        }
        block.canary_conversations += canary.conversations;
        block.baseline_conversations += baseline.conversations;
        self.canary.push(canary.clone());
        self.baseline.push(baseline.clone());
        self.recent
            .push_back((canary.t, canary.conversations, canary.rated));
        let horizon = 120.max(step_seconds as i64 * 2);
        while self
            .recent
            .front()
            .is_some_and(|(t, _, _)| *t <= canary.t - horizon)
        {
            self.recent.pop_front();
        }
    }

    /// The server time of the next bucket to ask for (its start, server seconds).
    pub fn next_t(&self) -> Option<i64> {
        self.last_t.map(|t| t + self.step_seconds as i64)
    }

    /// RFC 3339 start of the next bucket to ask for.
    pub fn next_since(&self) -> Option<String> {
        self.window_end.clone()
    }

    pub fn is_empty(&self) -> bool {
        self.canary.is_empty()
    }

    /// Conversations of each arm at one canary weight.
    pub fn at_weight(&self, weight: f64) -> (u64, u64) {
        self.blocks
            .get(&weight_key(Some(weight)))
            .map(|b| (b.canary_conversations, b.baseline_conversations))
            .unwrap_or((0, 0))
    }

    /// Each arm since the canary started.
    pub fn summaries(&self) -> (MetricSummary, MetricSummary) {
        let mut c = MetricSummary::from_points(&self.canary);
        let mut b = MetricSummary::from_points(&self.baseline);
        for s in [&mut c, &mut b] {
            s.window_start = self.window_start.clone();
            s.window_end = self.window_end.clone();
        }
        (c, b)
    }

    /// The window the evidence covers (RFC 3339 start and end).
    pub fn window(&self) -> (Option<String>, Option<String>) {
        (self.window_start.clone(), self.window_end.clone())
    }

    /// Recent canary conversations and rated conversations per minute.
    pub fn canary_rates(&self) -> (f64, f64) {
        let (Some(first), Some(last)) = (self.recent.front(), self.recent.back()) else {
            return (0.0, 0.0);
        };
        let span = (last.0 - first.0) as f64 + self.step_seconds as f64;
        if span <= 0.0 {
            return (0.0, 0.0);
        }
        let n: u64 = self.recent.iter().map(|r| r.1).sum();
        let rated: u64 = self.recent.iter().map(|r| r.2).sum();
        (n as f64 * 60.0 / span, rated as f64 * 60.0 / span)
    }

    /// Each arm's moments of a metric over every block.
    fn totals(&self, metric: Metric) -> (Moments, Moments) {
        let (mut c, mut b) = (Moments::default(), Moments::default());
        for blk in self.blocks.values() {
            if let Some(x) = blk.canary.get(&metric) {
                c.add(x);
            }
            if let Some(x) = blk.baseline.get(&metric) {
                b.add(x);
            }
        }
        (c, b)
    }

    /// The current step's cell, when the canary has had more than one step.
    fn current_cell(&self, metric: Metric) -> Option<(Moments, Moments)> {
        if self.blocks.len() < 2 {
            return None;
        }
        let b = self.blocks.get(&self.current?)?;
        Some((
            b.canary.get(&metric).copied().unwrap_or_default(),
            b.baseline.get(&metric).copied().unwrap_or_default(),
        ))
    }

    /// Say which weight the canary is set to now (before each look). A step set to 100%
    /// keeps the comparison as it stood when the canary left its last step with a
    /// baseline arm: the buckets that straddle the switch carry a few baseline
    /// conversations, and they must not re-open a comparison no later data can settle.
    pub fn set_step_weight(&mut self, weight: f64) {
        self.set_weight = Some(weight);
    }

    /// The current step has a baseline arm (it is not served to the canary alone).
    fn current_has_baseline(&self) -> bool {
        if let Some(w) = self.set_weight {
            return w < 100.0 - 1e-9;
        }
        self.current
            .and_then(|k| self.blocks.get(&k))
            .is_none_or(|b| b.baseline_conversations > 0)
    }

    /// The current step's canary weight, in percent.
    pub fn current_weight(&self) -> Option<f64> {
        self.current.map(|k| k as f64 / 10.0)
    }

    /// Each block's `(canary, baseline)` moments of a metric. Blocks served to one arm only
    /// (a step at 100%) say nothing about the difference and are left out.
    fn cells(&self, metric: Metric) -> Vec<(Moments, Moments)> {
        self.blocks
            .values()
            .filter(|b| b.canary_conversations > 0 && b.baseline_conversations > 0)
            .map(|b| {
                (
                    b.canary.get(&metric).copied().unwrap_or_default(),
                    b.baseline.get(&metric).copied().unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn bucket_end(at: &str, step: u64) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| {
            (t + chrono::Duration::seconds(step as i64))
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|_| at.to_string())
}

/// The judgement of one look.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub verdict: Verdict,
    pub metrics: Vec<MetricVerdict>,
    /// Canary and baseline conversations behind it.
    pub n_canary: u64,
    pub n_baseline: u64,
    /// For an inconclusive look: the most any metric still needs, in canary conversations.
    pub need: Option<Need>,
}

impl Analysis {
    /// The reasons of the metrics with this verdict, joined.
    pub fn reasons(&self, verdict: Verdict) -> String {
        self.metrics
            .iter()
            .filter(|v| v.verdict == verdict)
            .map(|v| v.reason.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// One line for the whole look.
    pub fn summary(&self) -> String {
        match self.verdict {
            Verdict::Fail => self.reasons(Verdict::Fail),
            Verdict::Pass => format!(
                "every metric within tolerance ({} canary vs {} baseline conversations)",
                self.n_canary, self.n_baseline
            ),
            Verdict::Inconclusive => {
                let open: Vec<&str> = self
                    .metrics
                    .iter()
                    .filter(|v| v.verdict == Verdict::Inconclusive)
                    .map(|v| v.metric.as_str())
                    .collect();
                let mut s = format!("inconclusive on {}", open.join(", "));
                if let Some(n) = &self.need {
                    s.push_str(": ");
                    s.push_str(&n.describe());
                }
                s
            }
        }
    }
}

/// Judge every gated metric on the evidence so far. `margin` (at least 1) widens the
/// tolerance a metric must be shown within to pass — not the one a failure is held to: a
/// step that leads to `w`% of traffic passes within `tolerance × 100 / w`, so the harm a
/// canary may do to all of the bot's conversations never exceeds one tolerance, and the full
/// proof is asked for before the canary takes all of them.
pub fn analyze(cfg: &JudgeConfig, ev: &mut Evidence, margin: f64) -> Analysis {
    let alpha = cfg.alpha_per_test();
    let margin = if margin.is_finite() {
        margin.max(1.0)
    } else {
        1.0
    };
    let (rate, rated_rate) = ev.canary_rates();
    let mut metrics = Vec::with_capacity(cfg.gates.len());
    let mut need_conversations: Option<f64> = None;
    let mut unsettled = false;
    for g in &cfg.gates {
        let v = judge_metric(cfg, g, ev, alpha, margin, rate, rated_rate);
        if v.verdict == Verdict::Inconclusive {
            match &v.need {
                Some(n) => {
                    // In canary conversations, whatever the metric counts.
                    let conv = if g.metric == Metric::SatisfactionScore && rated_rate > 0.0 {
                        n.more as f64 * rate / rated_rate
                    } else {
                        n.more as f64
                    };
                    need_conversations = Some(need_conversations.map_or(conv, |m| m.max(conv)));
                }
                None => unsettled = true,
            }
        }
        metrics.push(v);
    }
    let verdict = if metrics.iter().any(|v| v.verdict == Verdict::Fail) {
        Verdict::Fail
    } else if metrics.iter().all(|v| v.verdict == Verdict::Pass) {
        Verdict::Pass
    } else {
        Verdict::Inconclusive
    };
    let need = match (verdict, need_conversations) {
        (Verdict::Inconclusive, Some(more)) if !unsettled => {
            Some(need(more, rate, "conversations"))
        }
        _ => None,
    };
    let (c, b) = ev.blocks.values().fold((0, 0), |(c, b), blk| {
        (c + blk.canary_conversations, b + blk.baseline_conversations)
    });
    Analysis {
        verdict,
        metrics,
        n_canary: c,
        n_baseline: b,
        need,
    }
}

/// The pass margin of a step leading to `next_weight`% of traffic: `100 / next_weight`.
pub fn margin_for(next_weight: f64) -> f64 {
    if next_weight > 0.0 {
        (100.0 / next_weight).max(1.0)
    } else {
        1.0
    }
}

fn need(more: f64, per_minute: f64, unit: &str) -> Need {
    let more = more.ceil().max(1.0);
    Need {
        more: more as u64,
        unit: unit.to_string(),
        per_minute: (per_minute > 0.0).then_some(per_minute),
        eta_seconds: (per_minute > 0.0).then(|| more / per_minute * 60.0),
    }
}

/// `φ` centred on effects the size of the tolerance.
fn phi(metric: Metric, scale: f64) -> f64 {
    let tau = scale.max(metric.typical_sd() * 0.01);
    (metric.typical_sd() / tau).powi(2)
}

/// Rates of zero events would claim certainty: the residual sd is at least that of a
/// smoothed rate.
fn floored(metric: Metric, c: Coefficient, hits: f64, n: f64) -> Coefficient {
    match metric.kind() {
        Kind::Rate => {
            let p = (hits + 1.0) / (n + 2.0);
            c.with_sigma_floor((p * (1.0 - p)).sqrt())
        }
        Kind::Mean => c,
    }
}

/// `a` is worse than `b` in the metric's direction.
fn worse(a: f64, b: f64, higher_is_worse: bool) -> bool {
    if higher_is_worse { a > b } else { a < b }
}

/// One test of an estimate against limits: the rollback interval wholly worse than
/// `fail_at` is a failure, the promotion interval wholly within `pass_at` a pass.
struct Test {
    coef: Coefficient,
    fail: (f64, f64),
    pass: (f64, f64),
    fail_at: f64,
    pass_at: f64,
}

impl Test {
    fn new(coef: Coefficient, alpha: f64, beta: f64, phi: f64, fail_at: f64, pass_at: f64) -> Test {
        Test {
            fail: coef.interval(alpha, phi),
            pass: coef.interval(beta, phi),
            coef,
            fail_at,
            pass_at,
        }
    }

    fn verdict(&self, up: bool) -> Verdict {
        let (lo, hi) = self.fail;
        let (plo, phi) = self.pass;
        if worse(if up { lo } else { hi }, self.fail_at, up) {
            Verdict::Fail
        } else if !worse(if up { phi } else { plo }, self.pass_at, up) {
            Verdict::Pass
        } else {
            Verdict::Inconclusive
        }
    }

    /// Canary observations (in all) that would settle it, at the current split: the nearer
    /// of the pass (when the estimate is within its limit) and the failure (when beyond).
    fn need(&self, up: bool, n_canary: f64, alpha: f64, beta: f64, phi: f64) -> Option<f64> {
        let e = self.coef.estimate;
        let mut best: Option<f64> = None;
        if !worse(e, self.pass_at, up) {
            best = needed(&self.coef, n_canary, (self.pass_at - e).abs(), beta, phi);
        }
        if worse(e, self.fail_at, up)
            && let Some(n) = needed(&self.coef, n_canary, (e - self.fail_at).abs(), alpha, phi)
        {
            best = Some(best.map_or(n, |b| b.min(n)));
        }
        best
    }
}

fn bounded((lo, hi): (f64, f64)) -> Option<[f64; 2]> {
    (lo.is_finite() && hi.is_finite()).then_some([lo, hi])
}

/// Canary observations (in total) for the interval's radius to shrink to `gap`, at the
/// current split; `None` when that is out of reach.
fn needed(c: &Coefficient, n_canary: f64, gap: f64, level: f64, phi: f64) -> Option<f64> {
    if gap.is_nan() || gap <= 0.0 || n_canary <= 0.0 || !c.sigma.is_finite() {
        return None;
    }
    let at = |m: f64| {
        let s = m / n_canary;
        Coefficient {
            z2: c.z2 * s,
            n: c.n * s,
            nu: (c.n * s - (c.n - c.nu)).max(0.0),
            ..*c
        }
        .radius(level, phi)
    };
    if at(n_canary) <= gap {
        return Some(n_canary);
    }
    let cap = n_canary * 1e7;
    if at(cap) > gap {
        return None;
    }
    let (mut lo, mut hi) = (n_canary, cap);
    // Geometric bisection to within 1%.
    while hi > lo * 1.01 && hi - lo > 1.0 {
        let mid = (lo * hi).sqrt();
        if at(mid) <= gap {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

fn judge_metric(
    cfg: &JudgeConfig,
    g: &Gate,
    ev: &mut Evidence,
    alpha: f64,
    margin: f64,
    rate: f64,
    rated_rate: f64,
) -> MetricVerdict {
    let m = g.metric;
    let up = m.higher_is_worse();
    let tol = if up { g.tolerance } else { -g.tolerance };
    let cells = ev.cells(m);
    // Each arm's own figures, from every block (a step at 100% has no baseline, but its
    // canary counts towards the guardrail).
    let (c, b) = ev.totals(m);
    let unit_rate = if m == Metric::SatisfactionScore {
        rated_rate
    } else {
        rate
    };
    let mut v = MetricVerdict {
        metric: m.key().into(),
        verdict: Verdict::Inconclusive,
        n_canary: c.n as u64,
        n_baseline: b.n as u64,
        canary: c.mean(),
        baseline: b.mean(),
        difference: None,
        interval: None,
        pass_interval: None,
        tolerance: tol,
        margin: tol * margin,
        scope: "since the canary started".into(),
        guardrail: g.guardrail,
        guardrail_interval: None,
        p_value: None,
        need: None,
        reason: String::new(),
    };
    let min = cfg.min_per_arm as f64;
    if c.n < min || b.n < min {
        v.reason = format!(
            "{}: {} canary and {} baseline {} so far, {} each needed before judging → inconclusive",
            m.label(),
            c.n as u64,
            b.n as u64,
            m.unit(),
            cfg.min_per_arm
        );
        let short = (min - c.n).max(0.0);
        if short > 0.0 {
            v.need = Some(need(short, unit_rate, m.unit()));
        }
        return v;
    }
    let (beta, phi) = (cfg.beta, phi(m, g.tolerance));
    // Canary against baseline, over the whole canary and over this step alone; the
    // canary's own value against the guardrail.
    let whole = alpha / 2.0;
    let per_step = alpha / 2.0 / cfg.steps.max(1) as f64;
    let comparison = stats::difference(&cells)
        .map(|d| floored(m, d, c.sum + b.sum, c.n + b.n))
        .map(|d| Test::new(d, whole, beta, phi, tol, tol * margin));
    let step = ev
        .current_cell(m)
        .filter(|(sc, sb)| sc.n >= min && sb.n >= min)
        .and_then(|(sc, sb)| {
            let d = stats::difference(&[(sc, sb)])?;
            Some((floored(m, d, sc.sum + sb.sum, sc.n + sb.n), sc, sb))
        })
        .map(|(d, sc, sb)| (Test::new(d, per_step, beta, phi, tol, tol * margin), sc, sb));
    let step_failed = step
        .as_ref()
        .is_some_and(|(t, _, _)| t.verdict(up) == Verdict::Fail);
    // A guardrail fails a canary credibly past it at any step; only promotion (margin 1)
    // also asks the canary to be credibly within it.
    let guard = g.guardrail.and_then(|limit| {
        let mc = floored(m, stats::mean(&c)?, c.sum, c.n);
        let pass_at = match (margin > 1.0 + 1e-9, up) {
            (false, _) => limit,
            (true, true) => f64::INFINITY,
            (true, false) => f64::NEG_INFINITY,
        };
        Some(Test::new(mc, alpha, beta, phi, limit, pass_at))
    });
    // In a step without a baseline arm the comparison stands as it was.
    let carried = if ev.current_has_baseline() {
        if let Some(t) = &comparison {
            ev.carried.insert(m, t.verdict(up));
        }
        None
    } else {
        ev.carried.get(&m).copied()
    };
    let mut verdicts = Vec::new();
    let mut needs = Vec::new();
    if let (Some(t), Some(kept)) = (&comparison, carried) {
        // Late evidence of harm still counts; anything short of it leaves the verdict
        // the canary advanced on.
        if t.verdict(up) == Verdict::Fail {
            verdicts.push(Verdict::Fail);
        } else {
            // An open comparison carried into a step without a baseline can gain no more
            // data: no estimate of how much more is needed.
            if kept == Verdict::Inconclusive {
                needs.push(None);
            }
            verdicts.push(kept);
        }
    }
    let live = if carried.is_some() {
        None
    } else {
        comparison.as_ref()
    };
    for t in live.into_iter().chain(guard.iter()) {
        let verdict = t.verdict(up);
        if verdict == Verdict::Inconclusive {
            needs.push(t.need(up, c.n, whole.min(alpha), beta, phi));
        }
        verdicts.push(verdict);
    }
    if step_failed {
        verdicts.push(Verdict::Fail);
    }
    match (&step, &comparison) {
        // A failure within the step is reported with the step's own numbers.
        (Some((t, sc, sb)), Some(whole_test))
            if step_failed && whole_test.verdict(up) != Verdict::Fail =>
        {
            v.scope = format!(
                "in the current step ({}%)",
                ev.current_weight().unwrap_or_default()
            );
            v.n_canary = sc.n as u64;
            v.n_baseline = sb.n as u64;
            v.canary = sc.mean();
            v.baseline = sb.mean();
            v.difference = Some(t.coef.estimate);
            v.interval = bounded(t.fail);
            v.pass_interval = bounded(t.pass);
            v.p_value = Some(t.coef.p_value(phi, 0.0));
        }
        (_, Some(t)) => {
            // The arms' figures over the buckets the comparison rests on (a step served to
            // the canary alone is the guardrail's, not the comparison's).
            let (mut cc, mut bb) = (Moments::default(), Moments::default());
            for (x, y) in &cells {
                cc.add(x);
                bb.add(y);
            }
            v.n_canary = cc.n as u64;
            v.n_baseline = bb.n as u64;
            v.canary = cc.mean();
            v.baseline = bb.mean();
            v.difference = Some(t.coef.estimate);
            v.interval = bounded(t.fail);
            v.pass_interval = bounded(t.pass);
            v.p_value = Some(t.coef.p_value(phi, 0.0));
        }
        (_, None) => {
            verdicts.push(Verdict::Inconclusive);
            needs.push(None);
        }
    }
    if let Some(t) = &guard {
        v.guardrail_interval = bounded(t.fail);
    }
    v.verdict = if verdicts.contains(&Verdict::Fail) {
        Verdict::Fail
    } else if verdicts.iter().all(|x| *x == Verdict::Pass) {
        Verdict::Pass
    } else {
        Verdict::Inconclusive
    };
    if v.verdict == Verdict::Inconclusive && needs.iter().all(Option::is_some) {
        let total = needs.iter().flatten().fold(0.0f64, |a, b| a.max(*b));
        v.need = Some(need((total - c.n).max(1.0), unit_rate, m.unit()));
    }
    let comparison_verdict = comparison.as_ref().map(|t| {
        if step_failed {
            Verdict::Fail
        } else {
            t.verdict(up)
        }
    });
    let guard_verdict = guard.as_ref().map(|t| t.verdict(up));
    v.reason = reason(m, &v, margin, comparison_verdict, guard_verdict);
    v
}

fn reason(
    m: Metric,
    v: &MetricVerdict,
    margin: f64,
    comparison: Option<Verdict>,
    guard: Option<Verdict>,
) -> String {
    let up = m.higher_is_worse();
    let word = match v.verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Inconclusive => "inconclusive",
    };
    let value = |x: Option<f64>| x.map(|x| m.value(x)).unwrap_or_else(|| "—".into());
    let interval = |i: Option<[f64; 2]>, f: &dyn Fn(f64) -> String| match i {
        Some([lo, hi]) => format!("[{}, {}]", f(lo), f(hi)),
        None => "[unbounded]".into(),
    };
    // A guardrail breach is the headline when the comparison itself did not fail.
    if guard == Some(Verdict::Fail) && comparison != Some(Verdict::Fail) {
        return format!(
            "{} {} {} is {} the {} guardrail → fail",
            m.label(),
            value(v.canary),
            interval(v.guardrail_interval, &|x| m.value(x)),
            if up { "above" } else { "below" },
            m.value(v.guardrail.unwrap_or_default()),
        );
    }
    let Some(d) = v.difference else {
        return format!(
            "{} {}: no baseline in the same buckets to compare with → {word}",
            m.label(),
            value(v.canary)
        );
    };
    // The interval the verdict rests on: the rollback one for a failure or an estimate past
    // the tolerance, the promotion one otherwise.
    let shown = if comparison == Some(Verdict::Fail) || worse(d, v.tolerance, up) {
        v.interval
    } else {
        v.pass_interval
    };
    let scope = if v.scope.starts_with("in the current step") {
        format!(" {}", v.scope)
    } else {
        String::new()
    };
    let mut s = format!(
        "{} {} vs {} baseline{scope}: {} {}, tolerance {}",
        m.label(),
        value(v.canary),
        value(v.baseline),
        m.delta(d),
        interval(shown, &|x| m.bound(x)),
        m.delta(v.tolerance),
    );
    if margin > 1.0 + 1e-9 && v.verdict != Verdict::Fail {
        s.push_str(&format!(" ({} to take the next step)", m.delta(v.margin)));
    }
    if guard == Some(Verdict::Inconclusive) && v.verdict == Verdict::Inconclusive {
        s.push_str(&format!(
            ", guardrail {} unsettled",
            m.value(v.guardrail.unwrap_or_default())
        ));
    }
    s.push_str(" → ");
    s.push_str(word);
    if v.verdict == Verdict::Inconclusive {
        match &v.need {
            Some(n) => {
                s.push_str(": ");
                s.push_str(&n.describe());
            }
            None => s.push_str(": the canary sits at its limit; more data may not settle it"),
        }
    }
    s
}

#[cfg(test)]
mod tests;
