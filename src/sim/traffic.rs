//! The traffic model: conversations per (bot, environment binding) in 10-second buckets,
//! split by routing weight and canary share, with each version's error, fallback, handoff
//! and rating rates, latency, CSAT and intent score, worse once a regressing version has had
//! traffic long enough.
//!
//! Counts are drawn, not scaled: per 10 s bucket, conversations N ~ Poisson(cpm × share ×
//! diurnal × 10/60); the canary's conversations ~ Binomial(N, canary share); per arm, errors,
//! fallbacks, handoffs and rated conversations ~ Binomial(arm's N, the version's rate). Ratings
//! (1..=5) are multinomial over a normal (sd 0.9) discretised to the five stars and centred so
//! that its mean is the version's `satisfaction`. Latency per conversation is lognormal with
//! the version's mean and `latency_cv`: a bucket reports the sample mean ~ Normal(mean,
//! sd/√N), a sample sd (sd × (1 + Normal/√(2N))) and the lognormal's 95th percentile with its
//! sampling noise. Intent scores have the version's mean and sd 0.08, reported the same way.
//!
//! Every bucket's draws come from a generator seeded by (seed, bot, environment, version,
//! bucket, stream), and the state they depend on is read from the world's histories at the
//! bucket's middle (or now, for the bucket in progress). The same seed and the same actions
//! give the same numbers, however often and in whatever order anyone asks. Coarser buckets
//! are exact merges of their 10 s buckets: counts add up, means and standard deviations are
//! pooled from the same sufficient statistics, and p95 is the conversation-weighted mean of
//! theirs (an estimate of the merged percentile, as unbiased for a small arm as for a big
//! one; the largest of them would favour big arms).

use std::cell::RefCell;
use std::collections::HashMap;
use std::f64::consts::{PI, SQRT_2};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Binomial, Distribution, Poisson, StandardNormal};
use statrs::function::erf::erf;

use crate::domain::{CanaryMetrics, MetricPoint, MetricSummary, Stage};
use crate::sim::scenario::Profile;
use crate::sim::world::{Binding, Bot, CanaryRec, Env, World, share_of};

/// The base resolution: every figure is drawn per bucket of this many simulator seconds.
pub const BASE_STEP: i64 = 10;
/// The most buckets one series answer may hold.
pub const MAX_BUCKETS: i64 = 1440;
/// Standard deviation of the per-conversation intent score.
const INTENT_SD: f64 = 0.08;
/// Standard deviation of the normal that ratings are discretised from.
const RATING_SD: f64 = 0.9;
/// The standard normal's 95th percentile.
const Z95: f64 = 1.644_853_626_951_472_2;

/// Which slice of an environment's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    /// All of it.
    Total,
    /// The live (stable) version's share, in environments that have (had) a canary.
    Baseline,
    /// The share of the canary running in the environment at the time.
    Canary,
}

// --- seeding ----------------------------------------------------------------------------

/// FNV-1a over parts, each closed by a separator byte, so a prefix can be reused.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn part(mut self, bytes: &[u8]) -> Fnv {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        self
    }

    /// The generator of one stream of one bucket: `self` holds (seed, bot, environment).
    fn rng(self, version: &str, bucket: i64, stream: &[u8]) -> ChaCha8Rng {
        let h = self
            .part(version.as_bytes())
            .part(&bucket.to_le_bytes())
            .part(stream);
        ChaCha8Rng::seed_from_u64(h.0)
    }
}

fn binomial(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    if n == 0 || p.is_nan() {
        return 0;
    }
    Binomial::new(n, p.clamp(0.0, 1.0)).map_or(0, |b| b.sample(rng))
}

fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 0;
    }
    Poisson::new(lambda).map_or(0, |d| d.sample(rng) as u64)
}

fn z(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

// --- a memo of the draws ------------------------------------------------------------------

/// Hashes a key that is already a hash (a stream prefix).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 ^= x;
    }
}

/// An arm's errors as drawn: (version, canary arm, n, error rate's bits, errors).
type ArmErrors = (u32, u8, u64, u64, u64);

/// Figures of one base bucket a stream has drawn, each with the inputs it was drawn from.
/// Versions are indices into the stream's `versions`.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Poisson arrivals: (conversations per minute's bits, n).
    arrivals: Option<(u64, u64)>,
    /// The canary split: (canary version, n, share's bits, the canary's part).
    split: Option<(u32, u64, u64, u64)>,
    /// Session stratification offsets: (version, u).
    offsets: [Option<(u32, f64)>; 2],
    /// Arms' errors.
    errors: [Option<ArmErrors>; 2],
}

/// Put `x` in the first free place of `places`, else in the first (a memo may forget).
fn keep<T: Copy>(places: &mut [Option<T>; 2], x: T) {
    let i = places.iter().position(Option::is_none).unwrap_or(0);
    places[i] = Some(x);
}

/// The slots of one stream prefix (seed, bot, environment), bucket by bucket.
#[derive(Debug, Default)]
struct Lanes {
    versions: Vec<String>,
    first: i64,
    slots: std::collections::VecDeque<Slot>,
}

/// The buckets a stream keeps: 32 minutes of 10 s buckets (a bot's sessions look 10 back).
const LANE_BUCKETS: usize = 192;
/// The streams a memo keeps before it starts over (at most about 80 MB).
const MEMO_STREAMS: usize = 2048;

impl Lanes {
    fn version(&mut self, v: &str) -> u32 {
        match self.versions.iter().position(|x| x == v) {
            Some(i) => i as u32,
            None => {
                self.versions.push(v.to_string());
                (self.versions.len() - 1) as u32
            }
        }
    }

    fn slot(&mut self, b: i64) -> &mut Slot {
        let (keep, len) = (LANE_BUCKETS as i64, self.slots.len() as i64);
        // A bucket far from the ones kept starts the stream over.
        if len == 0 || b < self.first - keep || b >= self.first + len + keep {
            self.slots.clear();
            self.first = b;
        }
        while b < self.first {
            self.slots.push_front(Slot::default());
            self.first -= 1;
        }
        while b >= self.first + self.slots.len() as i64 {
            self.slots.push_back(Slot::default());
        }
        // Keep at most LANE_BUCKETS, dropping those on the far side of `b`.
        while self.slots.len() > LANE_BUCKETS {
            if b - self.first >= (self.slots.len() / 2) as i64 {
                self.slots.pop_front();
                self.first += 1;
            } else {
                self.slots.pop_back();
            }
        }
        let i = (b - self.first) as usize;
        &mut self.slots[i]
    }
}

/// A memo of the traffic model's draws. Every figure in it is a pure function of its
/// stream, bucket and the inputs stored with it, which every read compares, so a read
/// gives exactly what drawing again would give, whatever happened to the world in between:
/// it only spares the generators (a console's bot list reads the last ten minutes of every
/// bot's buckets on each refresh). Bounded: it forgets.
#[derive(Default)]
pub struct DrawMemo {
    map: Mutex<HashMap<u64, Lanes, BuildHasherDefault<KeyHasher>>>,
}

impl Clone for DrawMemo {
    /// A copy of the world starts with an empty memo.
    fn clone(&self) -> DrawMemo {
        DrawMemo::default()
    }
}

impl std::fmt::Debug for DrawMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.map.lock().map_or(0, |m| m.len());
        write!(f, "DrawMemo({n} streams)")
    }
}

impl DrawMemo {
    /// The draws kept for a stream, taken out while a lane reads it.
    fn take(&self, prefix: Fnv) -> Lanes {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&prefix.0).unwrap_or_default()
    }

    /// Keep a stream's draws again.
    fn put(&self, prefix: Fnv, lanes: Lanes) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MEMO_STREAMS {
            map.clear();
        }
        map.insert(prefix.0, lanes);
    }
}

impl Lanes {
    /// The arrivals of bucket `b` at `per_minute` conversations a minute (before the
    /// time of day): Poisson of the bucket's expected number.
    fn arrivals(&mut self, prefix: Fnv, b: i64, per_minute: f64) -> u64 {
        let slot = self.slot(b);
        match slot.arrivals {
            Some((x, n)) if x == per_minute.to_bits() => n,
            _ => {
                let len = BASE_STEP as f64;
                let mid = (b * BASE_STEP) as f64 + len / 2.0;
                let diurnal = 1.0 + 0.15 * (2.0 * PI * mid / 60.0 / 240.0).sin();
                let expected = per_minute * diurnal * len / 60.0;
                let n = poisson(&mut prefix.rng("", b, b"arrivals"), expected);
                slot.arrivals = Some((per_minute.to_bits(), n));
                n
            }
        }
    }

    /// The canary's part of `n` conversations at `share`.
    fn split(&mut self, prefix: Fnv, b: i64, version: &str, n: u64, share: f64) -> u64 {
        let v = self.version(version);
        let key = (v, n, share.to_bits());
        let slot = self.slot(b);
        match slot.split {
            Some((sv, sn, ss, k)) if (sv, sn, ss) == key => k,
            _ => {
                let k = binomial(&mut prefix.rng(version, b, b"split"), n, share);
                slot.split = Some((key.0, key.1, key.2, k));
                k
            }
        }
    }

    /// The stratification offset of `version`'s sessions of bucket `b`.
    fn offset(&mut self, prefix: Fnv, b: i64, version: &str) -> f64 {
        let v = self.version(version);
        let slot = self.slot(b);
        if let Some((_, u)) = slot.offsets.iter().flatten().find(|(x, _)| *x == v) {
            return *u;
        }
        use rand::RngExt as _;
        let u = prefix.rng(version, b, b"sessions").random::<f64>();
        keep(&mut slot.offsets, (v, u));
        u
    }

    /// The errors of an arm of `n` conversations at `rate` (`canary`: the canary's arm):
    /// the first draw of the arm's generator, as [`draw_arm`] makes it.
    fn errors(
        &mut self,
        prefix: Fnv,
        b: i64,
        version: &str,
        canary: bool,
        n: u64,
        rate: f64,
    ) -> u64 {
        let v = self.version(version);
        let key = (v, u8::from(canary), n, rate.to_bits());
        let slot = self.slot(b);
        if let Some(e) = slot
            .errors
            .iter()
            .flatten()
            .find(|(a, c, m, r, _)| (*a, *c, *m, *r) == key)
        {
            return e.4;
        }
        let stream: &[u8] = if canary { b"canary" } else { b"baseline" };
        let e = binomial(&mut prefix.rng(version, b, stream), n, rate);
        keep(&mut slot.errors, (key.0, key.1, key.2, key.3, e));
        e
    }
}

// --- the versions' behaviour -------------------------------------------------------------

/// The version's behaviour at second `t`, regression included.
pub fn profile_at(bot: &Bot, version: &str, t: f64) -> Profile {
    let Some(v) = bot.version(version) else {
        return Profile::default();
    };
    match (&v.regression, bot.traffic_since(&v.id, t)) {
        (Some(r), Some(since)) if t - since >= r.after_minutes * 60.0 => r.apply(&v.profile),
        _ => v.profile,
    }
}

fn phi(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / SQRT_2))
}

/// Probabilities of the ratings 1..=5: a normal with sd [`RATING_SD`] around `centre`,
/// discretised to the nearest star (the tails go to 1 and 5).
fn star_probs(centre: f64) -> [f64; 5] {
    let mut p = [0.0; 5];
    let mut below = 0.0;
    for (i, slot) in p.iter_mut().enumerate() {
        let upper = if i == 4 {
            1.0
        } else {
            phi((i as f64 + 1.5 - centre) / RATING_SD)
        };
        *slot = (upper - below).max(0.0);
        below = upper;
    }
    p
}

fn star_mean(p: &[f64; 5]) -> f64 {
    p.iter().enumerate().map(|(i, q)| (i + 1) as f64 * q).sum()
}

/// The star probabilities whose mean is `mean` (bisection on the centre; the mean grows
/// with it). A few recent answers are kept, since arms alternate between two profiles.
#[derive(Debug, Default)]
struct Ratings {
    recent: Vec<(f64, [f64; 5])>,
}

impl Ratings {
    fn probs(&mut self, mean: f64) -> [f64; 5] {
        if let Some((_, p)) = self.recent.iter().find(|(m, _)| *m == mean) {
            return *p;
        }
        let target = mean.clamp(1.01, 4.99);
        let (mut lo, mut hi) = (-3.0, 9.0);
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if star_mean(&star_probs(mid)) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let p = star_probs(0.5 * (lo + hi));
        if self.recent.len() >= 4 {
            self.recent.remove(0);
        }
        self.recent.push((mean, p));
        p
    }
}

// --- sufficient statistics ---------------------------------------------------------------

/// Count, sum and sum of squares of a measurement: what means and sds pool from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Stat {
    n: u64,
    sum: f64,
    sumsq: f64,
}

impl Stat {
    /// `n` values with this sample mean and sample sd.
    fn of(n: u64, mean: f64, sd: f64) -> Stat {
        let nf = n as f64;
        Stat {
            n,
            sum: mean * nf,
            sumsq: nf * mean * mean + (nf - 1.0).max(0.0) * sd * sd,
        }
    }

    fn add(&mut self, o: &Stat) {
        self.n += o.n;
        self.sum += o.sum;
        self.sumsq += o.sumsq;
    }

    fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    fn sd(&self) -> Option<f64> {
        (self.n > 1).then(|| {
            let n = self.n as f64;
            ((self.sumsq - self.sum * self.sum / n) / (n - 1.0))
                .max(0.0)
                .sqrt()
        })
    }

    /// The same mean and sd over `n` values.
    fn rescaled(&self, n: u64) -> Stat {
        match self.mean() {
            Some(m) if n > 0 => Stat::of(n, m, self.sd().unwrap_or(0.0)),
            _ => Stat::default(),
        }
    }
}

/// One slice of traffic over some time: counts and the statistics of the measurements.
#[derive(Debug, Clone, Default, PartialEq)]
struct Bucket {
    conversations: u64,
    errors: u64,
    fallbacks: u64,
    handoffs: u64,
    rated: u64,
    latency: Stat,
    satisfaction: Stat,
    intent: Stat,
    /// Σ p95 × conversations over the 10 s buckets merged in.
    p95_sum: f64,
}

impl Bucket {
    fn p95(&self) -> Option<f64> {
        (self.conversations > 0).then(|| self.p95_sum / self.conversations as f64)
    }

    fn add(&mut self, o: &Bucket) {
        self.conversations += o.conversations;
        self.errors += o.errors;
        self.fallbacks += o.fallbacks;
        self.handoffs += o.handoffs;
        self.rated += o.rated;
        self.latency.add(&o.latency);
        self.satisfaction.add(&o.satisfaction);
        self.intent.add(&o.intent);
        self.p95_sum += o.p95_sum;
    }

    /// The part `f` (0..=1) of the bucket: counts scaled and rounded, measurements keep
    /// their means and sds (for the bucket in progress, which is approximate).
    fn scaled(&self, f: f64) -> Bucket {
        let s = |x: u64| (x as f64 * f).round() as u64;
        let n = s(self.conversations);
        let rated = s(self.rated);
        Bucket {
            conversations: n,
            errors: s(self.errors),
            fallbacks: s(self.fallbacks),
            handoffs: s(self.handoffs),
            rated,
            latency: self.latency.rescaled(n),
            satisfaction: self.satisfaction.rescaled(rated),
            intent: self.intent.rescaled(n),
            p95_sum: self.p95().map_or(0.0, |p| p * n as f64),
        }
    }
}

/// One arm's figures for `n` conversations of a version behaving like `p`.
fn draw_arm(rng: &mut ChaCha8Rng, n: u64, p: &Profile, ratings: &mut Ratings) -> Bucket {
    if n == 0 {
        return Bucket::default();
    }
    let nf = n as f64;
    let errors = binomial(rng, n, p.error_rate);
    let fallbacks = binomial(rng, n, p.fallback_rate);
    let handoffs = binomial(rng, n, p.handoff_rate);
    let rated = binomial(rng, n, p.rated_rate);
    // Ratings: a multinomial over the stars, drawn as a chain of binomials.
    let probs = ratings.probs(p.satisfaction);
    let (mut left, mut mass) = (rated, 1.0);
    let mut satisfaction = Stat::default();
    for (i, q) in probs.iter().enumerate() {
        let k = if i == 4 {
            left
        } else {
            binomial(rng, left, if mass > 0.0 { q / mass } else { 0.0 })
        };
        left -= k;
        mass -= q;
        let star = (i + 1) as f64;
        satisfaction.n += k;
        satisfaction.sum += star * k as f64;
        satisfaction.sumsq += star * star * k as f64;
    }
    // Latency: lognormal per conversation with this mean and coefficient of variation.
    let mean = p.latency_ms.max(1.0);
    let cv = p.latency_cv.max(0.0);
    let sd = mean * cv;
    let lat_mean = (mean + sd / nf.sqrt() * z(rng)).max(1.0);
    let lat_sd = sd * (1.0 + z(rng) / (2.0 * nf).sqrt()).max(0.0);
    let sigma = (1.0 + cv * cv).ln().sqrt();
    let q95 = (mean.ln() - sigma * sigma / 2.0 + Z95 * sigma).exp();
    // Standard error of a sample quantile: sqrt(p(1-p)/N) / density at the quantile.
    let density = (-Z95 * Z95 / 2.0).exp() / (2.0 * PI).sqrt();
    let rel = (0.05 * 0.95 / nf).sqrt() * sigma / density;
    let p95 = (q95 * (1.0 + rel * z(rng)).max(0.3)).max(1.0);
    let intent_mean = (p.intent_score + INTENT_SD / nf.sqrt() * z(rng)).clamp(0.0, 1.0);
    let intent_sd = INTENT_SD * (1.0 + z(rng) / (2.0 * nf).sqrt()).max(0.0);
    Bucket {
        conversations: n,
        errors,
        fallbacks,
        handoffs,
        rated,
        latency: Stat::of(n, lat_mean, lat_sd),
        satisfaction,
        intent: Stat::of(n, intent_mean, intent_sd),
        p95_sum: p95 * nf,
    }
}

// --- one 10 s bucket of one environment ----------------------------------------------------

/// Which canary splits an environment's traffic.
#[derive(Debug, Clone, Copy)]
enum Pick<'a> {
    /// Whichever of the bot's canaries runs in the environment at the time.
    Running,
    /// This one (outside its run, none).
    This(&'a CanaryRec),
}

fn running(c: &CanaryRec, t: f64) -> bool {
    c.started <= t && c.ended.is_none_or(|e| t < e)
}

/// One base bucket of one binding: the live version's arm and, while a canary runs there,
/// the canary's arm.
#[derive(Debug, Default)]
struct EnvDraw<'a> {
    baseline: Option<(&'a str, Bucket)>,
    canary: Option<(&'a str, Bucket)>,
    /// Canary share in percent (0 without a running canary).
    weight: f64,
}

/// What a request needs drawn of each arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Figures {
    /// Everything a metric point reports.
    All,
    /// Conversations and errors only (the rest of the bucket stays empty): an error rate.
    Errors,
}

/// Draws the buckets of one bot for one request.
struct Drawer<'a> {
    bot: &'a Bot,
    now: f64,
    ratings: Ratings,
    figures: Figures,
}

impl<'a> Drawer<'a> {
    fn new(bot: &'a Bot, now: f64) -> Drawer<'a> {
        Drawer {
            bot,
            now,
            ratings: Ratings::default(),
            figures: Figures::All,
        }
    }

    /// Base bucket `b` of `lane`; `None` before it begins. `arms` says which arms to draw
    /// (baseline, canary); the draws do not depend on it.
    fn env(
        &mut self,
        lane: &Lane<'a>,
        pick: Pick<'a>,
        b: i64,
        arms: (bool, bool),
    ) -> Option<EnvDraw<'a>> {
        let a = bucket_arrivals(self.bot, lane, pick, b, self.now)?;
        let mut out = EnvDraw {
            weight: a.weight,
            ..EnvDraw::default()
        };
        let Some(live) = a.live else {
            return Some(out);
        };
        let (bot, t, prefix) = (self.bot, a.t, a.prefix);
        let figures = self.figures;
        let mut draw = |version: &str, n: u64, stream: &'static [u8]| {
            if n == 0 {
                return Bucket::default();
            }
            let p = profile_at(bot, version, t);
            match figures {
                Figures::All => draw_arm(
                    &mut prefix.rng(version, b, stream),
                    n,
                    &p,
                    &mut self.ratings,
                ),
                Figures::Errors => Bucket {
                    conversations: n,
                    errors: lane.drawn.borrow_mut().errors(
                        prefix,
                        b,
                        version,
                        stream == b"canary",
                        n,
                        p.error_rate,
                    ),
                    ..Bucket::default()
                },
            }
        };
        if arms.0 {
            out.baseline = Some((live, draw(live, a.n - a.n_canary, b"baseline")));
        }
        if let (true, Some(c)) = (arms.1, a.canary) {
            let arm = draw(&c.version, a.n_canary, b"canary");
            out.canary = Some((c.version.as_str(), arm));
        }
        if a.fraction < 1.0 {
            for (_, arm) in out.baseline.iter_mut().chain(out.canary.iter_mut()) {
                *arm = arm.scaled(a.fraction);
            }
        }
        Some(out)
    }
}

/// One binding of one bot as the model draws it bucket after bucket: what its buckets
/// share, found once, and the memo's draws of its stream while it reads them.
pub(crate) struct Lane<'a> {
    binding: &'a Binding,
    env: &'a Env,
    prefix: Fnv,
    /// The bot's canaries in this environment, in the world's order.
    canaries: Vec<&'a CanaryRec>,
    /// Its share of the bot's production traffic under each routing the bot has had.
    shares: Vec<f64>,
    memo: &'a DrawMemo,
    drawn: RefCell<Lanes>,
}

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        self.memo
            .put(self.prefix, std::mem::take(self.drawn.get_mut()));
    }
}

impl<'a> Lane<'a> {
    pub(crate) fn new(
        world: &'a World,
        bot: &'a Bot,
        binding: &'a Binding,
        env: &'a Env,
    ) -> Lane<'a> {
        let prefix = Fnv::new()
            .part(&world.seed.to_le_bytes())
            .part(bot.id.as_bytes())
            .part(binding.env.as_bytes());
        Lane {
            binding,
            env,
            prefix,
            memo: &world.memo,
            drawn: RefCell::new(world.memo.take(prefix)),
            canaries: world
                .canaries
                .values()
                .filter(|c| c.bot == bot.id && c.env == binding.env)
                .collect(),
            shares: {
                let peers = bot.peers(&world.envs, Some(env.stage));
                bot.routing
                    .values()
                    .map(|w| share_of(w, &peers, &binding.env, false))
                    .collect()
            },
        }
    }
}

/// Who arrived in one base bucket of one binding: the conversations and how the running
/// canary split them. The traffic figures and the sessions are drawn from the same counts.
#[derive(Debug, Clone, Copy)]
struct BucketArrivals<'a> {
    /// Where the bucket's state is read: its middle, or now for the bucket in progress.
    t: f64,
    /// The part of the bucket elapsed (1 for a complete bucket).
    fraction: f64,
    canary: Option<&'a CanaryRec>,
    /// Canary share in percent (0 without a running canary).
    weight: f64,
    /// The version live in the binding at `t` (none: no traffic).
    live: Option<&'a str>,
    /// Conversations of the whole bucket, and the canary's part of them.
    n: u64,
    n_canary: u64,
    prefix: Fnv,
}

fn bucket_arrivals<'a>(
    bot: &'a Bot,
    lane: &Lane<'a>,
    pick: Pick<'a>,
    b: i64,
    now: f64,
) -> Option<BucketArrivals<'a>> {
    let (binding, env, prefix) = (lane.binding, lane.env, lane.prefix);
    let start = (b * BASE_STEP) as f64;
    if start >= now {
        return None;
    }
    let len = BASE_STEP as f64;
    let fraction = ((now - start) / len).min(1.0);
    let t = (start + len / 2.0).min(now);
    let canary = match pick {
        Pick::This(c) => Some(c),
        Pick::Running => lane.canaries.iter().copied().find(|c| running(c, t)),
    }
    .filter(|c| running(c, t));
    let weight = canary.map_or(0.0, |c| c.share_at(t) * 100.0);
    let mut out = BucketArrivals {
        t,
        fraction,
        canary,
        weight,
        live: None,
        n: 0,
        n_canary: 0,
        prefix,
    };
    let Some(live) = binding.live.at(t).as_deref() else {
        return Some(out);
    };
    out.live = Some(live);
    let per_minute = if env.stage == Stage::Staging {
        bot.staging_cpm
    } else {
        bot.cpm * lane.shares[bot.routing.index_at(t)]
    };
    // Arrivals do not depend on the version that serves them.
    out.n = if per_minute > 0.0 {
        lane.drawn.borrow_mut().arrivals(prefix, b, per_minute)
    } else {
        0
    };
    let share = canary.map_or(0.0, |c| c.share_at(t));
    out.n_canary = match canary {
        Some(c) if share > 0.0 => lane
            .drawn
            .borrow_mut()
            .split(prefix, b, &c.version, out.n, share),
        _ => 0,
    };
    Some(out)
}

/// The sessions that arrived in one base bucket of one binding, per version: (version,
/// sessions, a uniform draw in [0, 1) the session lifetimes are stratified with). The bucket
/// in progress counts the part elapsed.
pub(crate) fn session_arrivals<'a>(
    bot: &'a Bot,
    lane: &Lane<'a>,
    b: i64,
    now: f64,
) -> [Option<(&'a str, u64, f64)>; 2] {
    let mut out = [None, None];
    let Some(a) = bucket_arrivals(bot, lane, Pick::Running, b, now) else {
        return out;
    };
    let Some(live) = a.live else {
        return out;
    };
    let scale = |n: u64| (n as f64 * a.fraction).round() as u64;
    let offset = |version: &str| lane.drawn.borrow_mut().offset(a.prefix, b, version);
    let stable = scale(a.n - a.n_canary);
    if stable > 0 {
        out[0] = Some((live, stable, offset(live)));
    }
    if let Some(c) = a.canary {
        let n = scale(a.n_canary);
        if n > 0 {
            out[1] = Some((c.version.as_str(), n, offset(&c.version)));
        }
    }
    out
}

// --- buckets of any size ----------------------------------------------------------------

/// A bucket of `step` seconds being filled from its base buckets.
#[derive(Debug, Clone, Default)]
struct Acc {
    bucket: Bucket,
    /// Some base bucket contributed to the arm.
    present: bool,
    /// Canary share (percent) summed over the base buckets drawn, and their number.
    weight_sum: f64,
    weight_n: u32,
    /// It ends after now.
    partial: bool,
}

impl Acc {
    fn weight(&self) -> Option<f64> {
        (self.weight_n > 0).then(|| self.weight_sum / f64::from(self.weight_n))
    }
}

fn round_to(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn to_point(t: i64, acc: &Acc, with_weight: bool, stamp: &dyn Fn(f64) -> String) -> MetricPoint {
    let b = &acc.bucket;
    let n = b.conversations;
    let r2 = |x: f64| round_to(x, 2);
    let r4 = |x: f64| round_to(x, 4);
    MetricPoint {
        minute: t.div_euclid(60),
        t,
        at: stamp(t as f64),
        partial: acc.partial,
        conversations: n,
        errors: b.errors,
        fallbacks: b.fallbacks,
        handoffs: b.handoffs,
        rated: b.rated,
        error_rate: (n > 0).then(|| b.errors as f64 / n as f64),
        avg_latency_ms: b.latency.mean().map(r2),
        latency_sd_ms: b.latency.sd().map(r2),
        p95_latency_ms: b.p95().map(r2),
        satisfaction_score: b.satisfaction.mean().map(r2),
        satisfaction_sd: b.satisfaction.sd().map(r2),
        intent_score: b.intent.mean().map(r4),
        intent_score_sd: b.intent.sd().map(r4),
        weight: if with_weight {
            acc.weight().map(r2)
        } else {
            None
        },
    }
}

/// A slice of one bot's traffic.
pub struct Query<'a> {
    pub bot: &'a str,
    /// One environment (any stage); without it, every production environment.
    pub env: Option<&'a str>,
    /// Only the arms served by this version.
    pub version: Option<&'a str>,
    pub arm: Arm,
}

/// Buckets `first..=last` of `step` seconds (bucket k covers [k·step, (k+1)·step)), each
/// filled from its base buckets that have begun by `now`; `None` where the arm had no
/// traffic slice at all.
fn accumulate(
    world: &World,
    q: &Query<'_>,
    step: i64,
    first: i64,
    last: i64,
    now: f64,
    figures: Figures,
) -> Vec<(i64, Option<Acc>)> {
    let step = (step.max(BASE_STEP) / BASE_STEP) * BASE_STEP;
    let Some(bot) = world.bots.get(q.bot) else {
        return Vec::new();
    };
    let lanes: Vec<Lane<'_>> = bot
        .bindings
        .iter()
        .filter_map(|b| Some((b, world.envs.get(&b.env)?)))
        .filter(|(b, env)| match q.env {
            Some(e) => e == b.env,
            None => env.stage == Stage::Production,
        })
        // The baseline arm exists where a canary runs or ran.
        .filter(|(b, _)| q.arm != Arm::Baseline || canary_for(world, q.bot, Some(&b.env)).is_some())
        .map(|(b, env)| Lane::new(world, bot, b, env))
        .collect();
    let arms = match q.arm {
        Arm::Total => (true, true),
        Arm::Baseline => (true, false),
        Arm::Canary => (false, true),
    };
    let per = step / BASE_STEP;
    let mut drawer = Drawer::new(bot, now);
    drawer.figures = figures;
    let mut out = Vec::new();
    for k in first..=last {
        let t = k * step;
        let mut acc = Acc {
            partial: ((t + step) as f64) > now,
            ..Acc::default()
        };
        let mut any = false;
        for b in k * per..(k + 1) * per {
            for lane in &lanes {
                let Some(d) = drawer.env(lane, Pick::Running, b, arms) else {
                    continue;
                };
                any = true;
                acc.weight_sum += d.weight;
                acc.weight_n += 1;
                let slices = match q.arm {
                    Arm::Total => [d.baseline, d.canary],
                    Arm::Baseline => [d.baseline, None],
                    Arm::Canary => [d.canary, None],
                };
                for (version, arm) in slices.into_iter().flatten() {
                    if q.version.is_some_and(|v| v != version) {
                        continue;
                    }
                    acc.present = true;
                    acc.bucket.add(&arm);
                }
            }
        }
        let keep = match q.arm {
            Arm::Total => true,
            _ => any && acc.present,
        };
        out.push((t, keep.then_some(acc)));
    }
    out
}

/// Points of `step` seconds (a multiple of 10) for buckets `first..=last` of a bot's
/// traffic. The total has a point for every bucket; an arm only for buckets it served in.
/// The bucket in progress is flagged `partial` and counted up to now.
pub fn series(
    world: &World,
    q: &Query<'_>,
    step: i64,
    first: i64,
    last: i64,
    now: f64,
    stamp: &dyn Fn(f64) -> String,
) -> Vec<MetricPoint> {
    accumulate(world, q, step, first, last, now, Figures::All)
        .into_iter()
        .filter_map(|(t, acc)| acc.map(|a| to_point(t, &a, q.arm != Arm::Total, stamp)))
        .collect()
}

fn summarise(b: &Bucket) -> MetricSummary {
    let n = b.conversations;
    let rate = |x: u64| (n > 0).then(|| x as f64 / n as f64);
    let r2 = |x: f64| round_to(x, 2);
    MetricSummary {
        conversation_count: n,
        error_count: b.errors,
        fallback_count: b.fallbacks,
        handoff_count: b.handoffs,
        rated_count: b.rated,
        error_rate: rate(b.errors),
        fallback_rate: rate(b.fallbacks),
        handoff_rate: rate(b.handoffs),
        satisfaction_score: b.satisfaction.mean().map(r2),
        avg_latency_ms: b.latency.mean().map(r2),
        p95_latency_ms: b.p95().map(r2),
        intent_score: b.intent.mean().map(|x| round_to(x, 4)),
        window_start: None,
        window_end: None,
    }
}

/// Summary of the last `window` seconds: the 10 s buckets that start inside it, the one in
/// progress counted up to now. `windowStart` is the first such bucket's start (at most 10 s
/// after `now - window`), `windowEnd` is now.
pub fn summary(
    world: &World,
    q: &Query<'_>,
    window: f64,
    now: f64,
    stamp: &dyn Fn(f64) -> String,
) -> MetricSummary {
    let step = BASE_STEP as f64;
    let first = ((now - window.max(0.0)) / step).ceil() as i64;
    let last = (now / step).ceil() as i64 - 1;
    let mut total = Bucket::default();
    for acc in accumulate(world, q, BASE_STEP, first, last, now, Figures::All)
        .into_iter()
        .filter_map(|(_, a)| a)
    {
        total.add(&acc.bucket);
    }
    let start = ((first * BASE_STEP) as f64).min(now);
    MetricSummary {
        window_start: Some(stamp(start)),
        window_end: Some(stamp(now)),
        ..summarise(&total)
    }
}

/// The error rate of the last `window` seconds, as [`summary`] reports it (`None` without
/// conversations), drawing only conversations and errors.
pub fn error_rate(world: &World, q: &Query<'_>, window: f64, now: f64) -> Option<f64> {
    let step = BASE_STEP as f64;
    let first = ((now - window.max(0.0)) / step).ceil() as i64;
    let last = (now / step).ceil() as i64 - 1;
    let mut total = Bucket::default();
    for acc in accumulate(world, q, BASE_STEP, first, last, now, Figures::Errors)
        .into_iter()
        .filter_map(|(_, a)| a)
    {
        total.add(&acc.bucket);
    }
    summarise(&total).error_rate
}

/// Error rate and p95 latency of an environment over the last five minutes.
pub fn env_error_rate(world: &World, env: &str, now: f64) -> (f64, Option<f64>) {
    let step = BASE_STEP as f64;
    let (first, last) = (
        ((now - 300.0) / step).ceil() as i64,
        (now / step).ceil() as i64 - 1,
    );
    let mut total = Bucket::default();
    for bot in world.bots.values().filter(|b| b.binding(env).is_some()) {
        let q = Query {
            bot: &bot.id,
            env: Some(env),
            version: None,
            arm: Arm::Total,
        };
        for acc in accumulate(world, &q, BASE_STEP, first, last, now, Figures::All)
            .into_iter()
            .filter_map(|(_, a)| a)
        {
            total.add(&acc.bucket);
        }
    }
    let s = summarise(&total);
    (s.error_rate.unwrap_or(0.0), s.p95_latency_ms)
}

/// The canary that runs (or last ran) for a bot, optionally in one environment.
pub fn canary_for<'a>(world: &'a World, bot: &str, env: Option<&str>) -> Option<&'a CanaryRec> {
    let mut cs: Vec<&CanaryRec> = world
        .canaries
        .values()
        .filter(|c| c.bot == bot && env.is_none_or(|e| c.env == e))
        .collect();
    cs.sort_by(|a, b| a.started.total_cmp(&b.started));
    cs.iter().rev().find(|c| c.active()).or(cs.last()).copied()
}

/// A canary window of more buckets than [`MAX_BUCKETS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyBuckets(pub i64);

/// Both arms of canary `c` in its environment, bucket by bucket: from the `step` bucket
/// holding max(`since`, the canary's start) to the one holding the canary's end (or now).
/// Buckets are aligned to multiples of `step`; base buckets outside the canary's run count
/// as baseline traffic at weight 0. Every bucket has a point in both arms.
pub fn canary_metrics(
    world: &World,
    c: &CanaryRec,
    since: Option<f64>,
    step: i64,
    now: f64,
    stamp: &dyn Fn(f64) -> String,
) -> Result<CanaryMetrics, TooManyBuckets> {
    let step = (step.max(BASE_STEP) / BASE_STEP) * BASE_STEP;
    let from = since.map_or(c.started, |s| s.max(c.started));
    let to = c.ended.unwrap_or(now).min(now);
    let sf = step as f64;
    let (first, last) = if from < to {
        ((from / sf).floor() as i64, (to / sf).ceil() as i64 - 1)
    } else {
        (0, -1)
    };
    let count = last - first + 1;
    if count > MAX_BUCKETS {
        return Err(TooManyBuckets(count));
    }
    let mut out = CanaryMetrics {
        canary_id: c.id.clone(),
        step_seconds: step as u64,
        window_start: stamp(to),
        window_end: stamp(to),
        baseline: Vec::new(),
        canary: Vec::new(),
    };
    if count <= 0 {
        return Ok(out);
    }
    out.window_start = stamp((first * step) as f64);
    out.window_end = stamp((((last + 1) * step) as f64).min(now));
    let bot = world.bots.get(&c.bot);
    let lane = bot.and_then(|b| {
        Some(Lane::new(
            world,
            b,
            b.binding(&c.env)?,
            world.envs.get(&c.env)?,
        ))
    });
    let per = step / BASE_STEP;
    let mut drawer = bot.map(|b| Drawer::new(b, now));
    for k in first..=last {
        let t = k * step;
        let partial = ((t + step) as f64) > now;
        let mut base = Acc {
            partial,
            ..Acc::default()
        };
        let mut can = base.clone();
        if let (Some(d), Some(lane)) = (drawer.as_mut(), &lane) {
            for b in k * per..(k + 1) * per {
                let Some(draw) = d.env(lane, Pick::This(c), b, (true, true)) else {
                    continue;
                };
                for acc in [&mut base, &mut can] {
                    acc.weight_sum += draw.weight;
                    acc.weight_n += 1;
                }
                if let Some((_, arm)) = &draw.baseline {
                    base.bucket.add(arm);
                }
                if let Some((_, arm)) = &draw.canary {
                    can.bucket.add(arm);
                }
            }
        }
        out.baseline.push(to_point(t, &base, true, stamp));
        out.canary.push(to_point(t, &can, true, stamp));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Thresholds;
    use crate::sim::scenario::{Regression, Scenario};
    use crate::sim::world::{CanaryPhase, History};

    const TRAVEL: &str = "bot-travel-assistant";
    const BLUE: &str = "env-prod-blue";

    fn world(seed: u64) -> World {
        World::from_scenario(&Scenario::demo().unwrap(), seed)
    }

    fn no_stamp(_: f64) -> String {
        String::new()
    }

    fn q(bot: &str) -> Query<'_> {
        Query {
            bot,
            env: None,
            version: None,
            arm: Arm::Total,
        }
    }

    fn arm(arm: Arm) -> Query<'static> {
        Query {
            bot: TRAVEL,
            env: Some(BLUE),
            version: None,
            arm,
        }
    }

    /// A canary of the travel bot's v3.5.0 in blue from second `start` at `weight` percent.
    fn add_canary(w: &mut World, start: f64, weight: f64) {
        let mut h = History::new(0.0);
        h.set(start, weight);
        w.canaries.insert(
            "cnry_test".into(),
            CanaryRec {
                id: "cnry_test".into(),
                bot: TRAVEL.into(),
                env: BLUE.into(),
                version: "v3.5.0".into(),
                stable: "v3.4.2".into(),
                phase: CanaryPhase::Running,
                weight: h,
                max_traffic: 100.0,
                thresholds: Thresholds::default(),
                started: start,
                updated: start,
                ended: None,
            },
        );
        if weight > 0.0 {
            w.bots
                .get_mut(TRAVEL)
                .unwrap()
                .mark_traffic("v3.5.0", start);
        }
    }

    fn sum(points: &[MetricPoint], f: impl Fn(&MetricPoint) -> u64) -> u64 {
        points.iter().map(f).sum()
    }

    #[test]
    fn same_seed_same_series_other_seed_other_series() {
        let series_of = |seed| series(&world(seed), &q(TRAVEL), 60, 0, 10, 600.0, &no_stamp);
        let (a, b, c) = (series_of(1), series_of(1), series_of(2));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 11);
        assert!(a.iter().take(10).all(|p| p.conversations > 200), "{a:?}");
        assert_eq!(a[10].conversations, 0, "the bucket starting now is empty");
        assert!(a[10].partial && !a[9].partial);
    }

    #[test]
    fn a_bucket_does_not_depend_on_who_asks_when() {
        let mut w = world(9);
        add_canary(&mut w, 95.0, 20.0);
        for a in [Arm::Total, Arm::Baseline, Arm::Canary] {
            let q = arm(a);
            let all = series(&w, &q, 10, 0, 59, 600.0, &no_stamp);
            assert!(all.len() > 40, "{a:?}");
            // Asked later, for fewer buckets, in another order: the same complete buckets.
            let later = series(&w, &q, 10, 20, 39, 1200.0, &no_stamp);
            let middle: Vec<MetricPoint> = all
                .iter()
                .filter(|p| (200..400).contains(&p.t))
                .cloned()
                .collect();
            assert_eq!(middle, later, "{a:?}");
            let mut backwards: Vec<MetricPoint> = (0..60)
                .rev()
                .flat_map(|k| series(&w, &q, 10, k, k, 600.0, &no_stamp))
                .collect();
            backwards.reverse();
            assert_eq!(all, backwards, "{a:?}");
        }
    }

    #[test]
    fn the_memo_changes_no_figure_even_when_the_past_is_rewritten() {
        // Read with a warm memo, then change the world behind it (a canary from second
        // 95, which changes buckets already read): every figure is what a world with an
        // empty memo draws.
        let mut w = world(5);
        for a in [Arm::Total, Arm::Baseline, Arm::Canary] {
            let _ = series(&w, &arm(a), 10, 0, 119, 1200.0, &no_stamp);
        }
        let before = series(&w, &arm(Arm::Total), 10, 0, 119, 1200.0, &no_stamp);
        add_canary(&mut w, 95.0, 30.0);
        let fresh = w.clone();
        assert!(format!("{:?}", fresh.memo).contains("(0 streams)"));
        for a in [Arm::Total, Arm::Baseline, Arm::Canary] {
            let q = arm(a);
            assert_eq!(
                series(&w, &q, 10, 0, 119, 1200.0, &no_stamp),
                series(&fresh, &q, 10, 0, 119, 1200.0, &no_stamp),
                "{a:?}"
            );
        }
        assert_ne!(
            before,
            series(&w, &arm(Arm::Total), 10, 0, 119, 1200.0, &no_stamp),
            "the canary changed the total's buckets after second 95"
        );
        let bot = &w.bots[TRAVEL];
        for t in [300.0, 605.0, 1200.0] {
            assert_eq!(
                crate::sim::sessions::counts(&w, bot, t),
                crate::sim::sessions::counts(&fresh, &fresh.bots[TRAVEL], t)
            );
        }
    }

    #[test]
    fn the_error_rate_is_the_summarys() {
        let mut w = world(3);
        add_canary(&mut w, 400.0, 40.0);
        for now in [0.0, 4.0, 95.0, 301.5, 655.0, 1800.0] {
            for q in [q(TRAVEL), q("bot_12345"), arm(Arm::Canary)] {
                let full = summary(&w, &q, 300.0, now, &no_stamp).error_rate;
                let fresh = w.clone();
                assert_eq!(error_rate(&w, &q, 300.0, now), full, "{now}");
                assert_eq!(error_rate(&fresh, &q, 300.0, now), full, "{now}");
            }
        }
    }

    #[test]
    fn a_60s_bucket_is_the_merge_of_its_six_10s_buckets() {
        let mut w = world(11);
        // Starts mid-minute, so minute 2 mixes buckets with and without the canary.
        add_canary(&mut w, 145.0, 30.0);
        let now = 455.0; // minute 7 is in progress
        for a in [Arm::Total, Arm::Baseline, Arm::Canary] {
            let q = arm(a);
            let coarse = series(&w, &q, 60, 0, 7, now, &no_stamp);
            let fine = series(&w, &q, 10, 0, 47, now, &no_stamp);
            for c in &coarse {
                let parts: Vec<&MetricPoint> =
                    fine.iter().filter(|p| p.t / 60 == c.t / 60).collect();
                let parts: Vec<MetricPoint> = parts.into_iter().cloned().collect();
                let ctx = format!("{a:?} minute {}", c.minute);
                assert_eq!(c.conversations, sum(&parts, |p| p.conversations), "{ctx}");
                assert_eq!(c.errors, sum(&parts, |p| p.errors), "{ctx}");
                assert_eq!(c.fallbacks, sum(&parts, |p| p.fallbacks), "{ctx}");
                assert_eq!(c.handoffs, sum(&parts, |p| p.handoffs), "{ctx}");
                assert_eq!(c.rated, sum(&parts, |p| p.rated), "{ctx}");
                assert_eq!(c.partial, parts.iter().any(|p| p.partial), "{ctx}");
                let mean = |v: fn(&MetricPoint) -> Option<f64>, w: fn(&MetricPoint) -> u64| {
                    let n: u64 = parts.iter().filter(|p| v(p).is_some()).map(w).sum();
                    let s: f64 = parts
                        .iter()
                        .filter_map(|p| v(p).map(|x| x * w(p) as f64))
                        .sum();
                    (n > 0).then(|| s / n as f64)
                };
                let close = |a: Option<f64>, b: Option<f64>, tol: f64| match (a, b) {
                    (Some(a), Some(b)) => (a - b).abs() <= tol,
                    (None, None) => true,
                    _ => false,
                };
                let lat = mean(|p| p.avg_latency_ms, |p| p.conversations);
                assert!(close(c.avg_latency_ms, lat, 0.01), "{ctx}");
                let sat = mean(|p| p.satisfaction_score, |p| p.rated);
                assert!(close(c.satisfaction_score, sat, 0.01), "{ctx}");
                let intent = mean(|p| p.intent_score, |p| p.conversations);
                assert!(close(c.intent_score, intent, 0.0001), "{ctx}");
                let p95 = mean(|p| p.p95_latency_ms, |p| p.conversations);
                assert!(close(c.p95_latency_ms, p95, 0.01), "{ctx}");
                // The pooled sd is at least the mean within-bucket sd, less rounding.
                if let (Some(sd), Some(part)) = (c.latency_sd_ms, parts[0].latency_sd_ms) {
                    assert!(sd > 0.5 * part, "{ctx}");
                }
            }
        }
        // The canary arm has its first point in minute 2 at 4/6 of the share.
        let canary = series(&w, &arm(Arm::Canary), 60, 0, 7, now, &no_stamp);
        assert_eq!(canary[0].minute, 2);
        assert_eq!(canary[0].weight, Some(20.0));
        assert_eq!(canary[1].weight, Some(30.0));
    }

    /// The canary's share of a busy bot's conversations over 30 minutes of 10 s buckets.
    fn canary_share(weight: f64) -> (u64, u64) {
        let mut w = world(21);
        w.bots.get_mut(TRAVEL).unwrap().cpm = 600.0;
        add_canary(&mut w, 0.0, weight);
        let now = 1800.0;
        let base = series(&w, &arm(Arm::Baseline), 10, 0, 179, now, &no_stamp);
        let can = series(&w, &arm(Arm::Canary), 10, 0, 179, now, &no_stamp);
        assert_eq!(base.len(), 180);
        assert_eq!(can.len(), 180);
        for (b, c) in base.iter().zip(&can) {
            assert_eq!((b.t, b.weight), (c.t, c.weight));
            assert_eq!(c.weight, Some(weight));
        }
        (
            sum(&base, |p| p.conversations),
            sum(&can, |p| p.conversations),
        )
    }

    #[test]
    fn the_split_follows_the_canary_weight() {
        for weight in [5.0, 50.0, 100.0] {
            let (b, c) = canary_share(weight);
            let n = (b + c) as f64;
            let s = weight / 100.0;
            assert!(n > 15_000.0, "{n}");
            let se = (s * (1.0 - s) / n).sqrt();
            let got = c as f64 / n;
            assert!(
                (got - s).abs() <= 3.0 * se + 1e-12,
                "weight {weight}: share {got:.4}, expected {s} ± {:.4}",
                3.0 * se
            );
            if weight == 100.0 {
                assert_eq!(b, 0, "nothing left for the baseline");
            }
        }
    }

    /// v3.5.0 live in blue from second 0 with `regression` after two minutes; the figures of
    /// minutes 0-1 and of minutes 3-22 (a busy bot, so means are sharp).
    fn before_after(regression: Regression) -> (MetricSummary, MetricSummary) {
        let mut w = world(31);
        let bot = w.bots.get_mut(TRAVEL).unwrap();
        bot.cpm = 3000.0;
        bot.binding_mut(BLUE)
            .unwrap()
            .live
            .set(0.0, Some("v3.5.0".into()));
        bot.mark_traffic("v3.5.0", 0.0);
        bot.version_mut("v3.5.0").unwrap().regression = Some(regression);
        let q = arm(Arm::Total);
        let stat = |first: i64, last: i64| {
            let mut b = Bucket::default();
            for (_, a) in accumulate(&w, &q, 10, first, last, 1800.0, Figures::All) {
                b.add(&a.unwrap().bucket);
            }
            summarise(&b)
        };
        (stat(0, 11), stat(18, 131))
    }

    fn no_regression() -> Regression {
        Regression {
            after_minutes: 2.0,
            error_factor: 1.0,
            error_delta: 0.0,
            latency_factor: 1.0,
            latency_delta_ms: 0.0,
            satisfaction_delta: 0.0,
            fallback_delta: 0.0,
            handoff_delta: 0.0,
            intent_score_delta: 0.0,
        }
    }

    /// A regression, what it moves (the figure and the sample size behind it), that
    /// figure's per-unit sd at a value, and the figure before and after.
    struct Case {
        name: &'static str,
        regression: Regression,
        read: fn(&MetricSummary) -> (f64, u64),
        sd: fn(f64) -> f64,
        before: f64,
        after: f64,
    }

    fn rate_of(x: Option<f64>, n: u64) -> (f64, u64) {
        (x.unwrap(), n)
    }

    #[test]
    fn each_regression_field_moves_its_metric_after_its_minutes() {
        // v3.5.0: error 2%, latency 450 ms (cv 0.35), CSAT 4.2; the other figures the
        // defaults. Each case: the regression, what to read, its per-unit sd at the
        // profile, the figure before and after.
        let cases = vec![
            Case {
                name: "error_factor",
                regression: Regression {
                    error_factor: 3.0,
                    ..no_regression()
                },
                read: |s| rate_of(s.error_rate, s.conversation_count),
                sd: |p| (p * (1.0 - p)).sqrt(),
                before: 0.02,
                after: 0.06,
            },
            Case {
                name: "error_delta",
                regression: Regression {
                    error_delta: 0.05,
                    ..no_regression()
                },
                read: |s| rate_of(s.error_rate, s.conversation_count),
                sd: |p| (p * (1.0 - p)).sqrt(),
                before: 0.02,
                after: 0.07,
            },
            Case {
                name: "latency_factor",
                regression: Regression {
                    latency_factor: 1.4,
                    ..no_regression()
                },
                read: |s| rate_of(s.avg_latency_ms, s.conversation_count),
                sd: |m| m * 0.35,
                before: 450.0,
                after: 630.0,
            },
            Case {
                name: "latency_delta_ms",
                regression: Regression {
                    latency_delta_ms: 300.0,
                    ..no_regression()
                },
                read: |s| rate_of(s.avg_latency_ms, s.conversation_count),
                sd: |m| m * 0.35,
                before: 450.0,
                after: 750.0,
            },
            Case {
                name: "satisfaction_delta",
                regression: Regression {
                    satisfaction_delta: -0.6,
                    ..no_regression()
                },
                read: |s| rate_of(s.satisfaction_score, s.rated_count),
                sd: |_| 1.0,
                before: 4.2,
                after: 3.6,
            },
            Case {
                name: "fallback_delta",
                regression: Regression {
                    fallback_delta: 0.1,
                    ..no_regression()
                },
                read: |s| rate_of(s.fallback_rate, s.conversation_count),
                sd: |p| (p * (1.0 - p)).sqrt(),
                before: 0.06,
                after: 0.16,
            },
            Case {
                name: "handoff_delta",
                regression: Regression {
                    handoff_delta: 0.08,
                    ..no_regression()
                },
                read: |s| rate_of(s.handoff_rate, s.conversation_count),
                sd: |p| (p * (1.0 - p)).sqrt(),
                before: 0.04,
                after: 0.12,
            },
            Case {
                name: "intent_score_delta",
                regression: Regression {
                    intent_score_delta: -0.2,
                    ..no_regression()
                },
                read: |s| rate_of(s.intent_score, s.conversation_count),
                sd: |_| INTENT_SD,
                before: 0.86,
                after: 0.66,
            },
        ];
        for Case {
            name,
            regression,
            read,
            sd,
            before,
            after,
        } in cases
        {
            let (b, a) = before_after(regression);
            for (when, s, want) in [("before", &b, before), ("after", &a, after)] {
                let (got, n) = read(s);
                // Within 4.5 standard errors (plus rounding) of the profile's figure.
                let tol = 4.5 * sd(want) / (n as f64).sqrt() + 0.006;
                assert!(
                    (got - want).abs() <= tol,
                    "{name} {when}: {got} vs {want} ± {tol} (n = {n})"
                );
            }
        }
        // And without a regression nothing moves.
        let (b, a) = before_after(no_regression());
        assert!((b.error_rate.unwrap() - a.error_rate.unwrap()).abs() < 0.01);
        assert!((b.avg_latency_ms.unwrap() - a.avg_latency_ms.unwrap()).abs() < 10.0);
    }

    #[test]
    fn errors_are_binomially_dispersed() {
        let w = world(41);
        // Six hours of 10 s buckets of the travel bot's stable version (1.2% errors).
        let pts = series(&w, &arm(Arm::Total), 10, 0, 2159, 21_600.0, &no_stamp);
        let p = 0.012;
        let (mut dev, mut var) = (0.0, 0.0);
        for pt in &pts {
            let n = pt.conversations as f64;
            dev += (pt.errors as f64 - n * p).powi(2);
            var += n * p * (1.0 - p);
        }
        let ratio = dev / var;
        assert!(
            (0.85..=1.15).contains(&ratio),
            "observed / binomial variance of the error counts: {ratio:.3}"
        );
        // Arrivals are Poisson: their variance about the expectation is about the mean.
        let mean_n = sum(&pts, |p| p.conversations) as f64 / pts.len() as f64;
        let expected = w.bots["bot-travel-assistant"].cpm / 6.0;
        assert!(
            (0.8 * expected..=1.2 * expected).contains(&mean_n),
            "{mean_n} vs {expected}"
        );
    }

    #[test]
    fn ratings_have_the_profile_mean() {
        let mut r = Ratings::default();
        for mean in [1.5, 2.5, 3.5, 3.6, 4.2, 4.4, 4.8] {
            let p = r.probs(mean);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            assert!((star_mean(&p) - mean).abs() < 1e-6, "{mean}: {p:?}");
            let var: f64 = p
                .iter()
                .enumerate()
                .map(|(i, q)| q * ((i + 1) as f64 - mean).powi(2))
                .sum();
            assert!(
                (0.3..=1.0).contains(&var.sqrt()),
                "{mean}: sd {}",
                var.sqrt()
            );
        }
    }

    #[test]
    fn measurements_follow_the_profile() {
        let w = world(43);
        let pts = series(&w, &arm(Arm::Total), 60, 0, 59, 3600.0, &no_stamp);
        let s = MetricSummary::from_points(&pts);
        // v3.4.2 has the default profile: 420 ms (cv 0.35), CSAT 4.3, intent 0.86.
        assert!((s.avg_latency_ms.unwrap() - 420.0).abs() < 10.0, "{s:?}");
        assert!((s.satisfaction_score.unwrap() - 4.3).abs() < 0.08, "{s:?}");
        assert!((s.intent_score.unwrap() - 0.86).abs() < 0.01, "{s:?}");
        let rated = s.rated_count as f64 / s.conversation_count as f64;
        assert!((rated - 0.25).abs() < 0.02, "{rated}");
        for p in &pts[..59] {
            let sd = p.latency_sd_ms.unwrap();
            assert!((sd / 420.0 - 0.35).abs() < 0.1, "{p:?}");
            // The lognormal's 95th percentile: 420 × 1.67 ≈ 700 ms.
            let p95 = p.p95_latency_ms.unwrap();
            assert!((550.0..=850.0).contains(&p95), "{p:?}");
            assert!((p.intent_score_sd.unwrap() - 0.08).abs() < 0.03, "{p:?}");
            assert!(p.satisfaction_sd.unwrap() > 0.3, "{p:?}");
        }
    }

    #[test]
    fn empty_buckets_have_no_means() {
        let w = world(5);
        // Green carries no traffic.
        let green = Query {
            env: Some("env-prod-green"),
            ..q(TRAVEL)
        };
        let pts = series(&w, &green, 10, 0, 5, 60.0, &no_stamp);
        assert_eq!(pts.len(), 6);
        for p in pts {
            assert_eq!(p.conversations, 0);
            assert_eq!(p.error_rate, None);
            assert_eq!(p.avg_latency_ms, None);
            assert_eq!(p.satisfaction_score, None);
            assert_eq!(p.intent_score, None);
            assert_eq!(p.p95_latency_ms, None);
        }
    }

    #[test]
    fn the_bucket_in_progress_is_partial_and_counted_so_far() {
        let w = world(6);
        let q = arm(Arm::Total);
        let done = series(&w, &q, 60, 10, 10, 700.0, &no_stamp);
        let half = series(&w, &q, 60, 10, 10, 630.0, &no_stamp);
        assert!(!done[0].partial && half[0].partial);
        let ratio = half[0].conversations as f64 / done[0].conversations as f64;
        assert!((0.35..=0.65).contains(&ratio), "{ratio}");
    }

    #[test]
    fn traffic_follows_routing_weight() {
        let w = world(3);
        let blue = Query {
            env: Some(BLUE),
            ..q("bot-customer-service-v2")
        };
        let green = Query {
            env: Some("env-prod-green"),
            ..q("bot-customer-service-v2")
        };
        let sb = summary(&w, &blue, 600.0, 600.0, &no_stamp);
        let sg = summary(&w, &green, 600.0, 600.0, &no_stamp);
        assert!(sb.conversation_count > 1000);
        assert_eq!(sg.conversation_count, 0);
    }

    #[test]
    fn a_window_covers_its_length_whatever_the_phase() {
        let w = world(5);
        let blue = Query {
            env: Some(BLUE),
            ..q("bot-customer-service-v2")
        };
        // A 60 s window holds about a minute of the bot's conversations, wherever it starts
        // in the minute (the diurnal swing is at most 15%).
        let cpm = w.bots["bot-customer-service-v2"].cpm;
        for now in [600.0, 605.0, 630.0, 659.0] {
            let s = summary(&w, &blue, 60.0, now, &no_stamp);
            let n = s.conversation_count as f64;
            assert!(
                (0.75 * cpm..=1.25 * cpm).contains(&n),
                "{now}: {n} of about {cpm}"
            );
        }
    }

    #[test]
    fn a_summary_says_which_window_it_covers() {
        let w = world(7);
        let stamp = |t: f64| format!("{t}");
        let q = arm(Arm::Total);
        let s = summary(&w, &q, 900.0, 1234.0, &stamp);
        assert_eq!(s.window_start.as_deref(), Some("340"));
        assert_eq!(s.window_end.as_deref(), Some("1234"));
        // The same counts as the 10 s buckets it covers.
        let pts = series(&w, &q, 10, 34, 123, 1234.0, &no_stamp);
        assert_eq!(s.conversation_count, sum(&pts, |p| p.conversations));
        assert_eq!(s.error_count, sum(&pts, |p| p.errors));
        assert_eq!(s.fallback_count, sum(&pts, |p| p.fallbacks));
        assert_eq!(s.handoff_count, sum(&pts, |p| p.handoffs));
        assert_eq!(s.rated_count, sum(&pts, |p| p.rated));
        let n = s.conversation_count as f64;
        assert_eq!(s.fallback_rate, Some(s.fallback_count as f64 / n));
        assert_eq!(s.handoff_rate, Some(s.handoff_count as f64 / n));
        assert!(s.intent_score.is_some() && s.p95_latency_ms.is_some());
    }

    #[test]
    fn canary_metrics_align_both_arms_over_the_canarys_run() {
        let mut w = world(8);
        add_canary(&mut w, 125.0, 10.0);
        let c = w.canaries["cnry_test"].clone();
        let stamp = |t: f64| format!("{t}");
        let m = canary_metrics(&w, &c, None, 10, 1925.0, &stamp).unwrap();
        assert_eq!(m.step_seconds, 10);
        assert_eq!(
            (m.window_start.as_str(), m.window_end.as_str()),
            ("120", "1925")
        );
        assert_eq!(m.baseline.len(), 181);
        assert_eq!(m.canary.len(), 181);
        for (b, k) in m.baseline.iter().zip(&m.canary) {
            assert_eq!((b.t, b.weight, b.partial), (k.t, k.weight, k.partial));
            assert_eq!(b.weight, Some(10.0));
        }
        assert!(m.canary.last().unwrap().partial);
        assert!(!m.canary[179].partial);
        // The arms are the series' arms.
        let base = series(&w, &arm(Arm::Baseline), 10, 12, 192, 1925.0, &stamp);
        let can = series(&w, &arm(Arm::Canary), 10, 12, 192, 1925.0, &stamp);
        assert_eq!(base, m.baseline);
        assert_eq!(can, m.canary);
        // `since` later than the start; a coarser step.
        let m = canary_metrics(&w, &c, Some(600.0), 60, 1925.0, &stamp).unwrap();
        assert_eq!(m.window_start, "600");
        assert_eq!(m.baseline.len(), 23);
        assert_eq!(m.canary[0].t, 600);
        // An ended canary stops at its end.
        let mut ended = c.clone();
        ended.ended = Some(1000.0);
        let m = canary_metrics(&w, &ended, None, 10, 1925.0, &stamp).unwrap();
        assert_eq!(m.window_end, "1000");
        assert_eq!(m.canary.last().unwrap().t, 990);
        assert!(m.canary.iter().all(|p| !p.partial));
        // Too many buckets.
        assert_eq!(
            canary_metrics(&w, &c, None, 10, 125.0 + 1441.0 * 10.0, &stamp),
            Err(TooManyBuckets(1442))
        );
    }
}
