use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};

use super::*;
use crate::domain::Thresholds;

/// One arm of one bucket with the given rates and means, drawn per conversation.
#[derive(Clone, Copy)]
struct Truth {
    error: f64,
    fallback: f64,
    handoff: f64,
    latency: f64,
    csat: f64,
    intent: f64,
}

const HEALTHY: Truth = Truth {
    error: 0.02,
    fallback: 0.06,
    handoff: 0.04,
    latency: 450.0,
    csat: 4.2,
    intent: 0.86,
};

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// One arm of one bucket: counts drawn binomially, means as a sample of `n` conversations
/// would give them (per-conversation latency lognormal with cv 0.35, ratings of 1-5).
fn bucket(rng: &mut ChaCha8Rng, t: i64, n: u64, weight: f64, truth: Truth) -> MetricPoint {
    let binomial = |rng: &mut ChaCha8Rng, n: u64, p: f64| -> u64 {
        if n == 0 {
            0
        } else {
            Binomial::new(n, p).map(|d| d.sample(rng)).unwrap_or(0)
        }
    };
    let mut p = MetricPoint {
        t,
        minute: t / 60,
        at: format!("t{t}"),
        conversations: n,
        weight: Some(weight),
        ..MetricPoint::default()
    };
    p.errors = binomial(rng, n, truth.error);
    p.fallbacks = binomial(rng, n, truth.fallback);
    p.handoffs = binomial(rng, n, truth.handoff);
    p.rated = binomial(rng, n, 0.25);
    let mean_of =
        |rng: &mut ChaCha8Rng, k: u64, mu: f64, sd: f64| mu + sd / (k as f64).sqrt() * normal(rng);
    if n > 0 {
        let lat_sd = 0.35 * truth.latency;
        p.avg_latency_ms = Some(mean_of(rng, n, truth.latency, lat_sd).max(1.0));
        p.latency_sd_ms = Some(lat_sd);
        p.intent_score = Some(mean_of(rng, n, truth.intent, 0.08).clamp(0.0, 1.0));
        p.intent_score_sd = Some(0.08);
        p.error_rate = Some(p.errors as f64 / n as f64);
    }
    if p.rated > 0 {
        // Whole ratings: the mean of `rated` of them, each 1-5.
        let mut sum = 0.0;
        let mut sumsq = 0.0;
        for _ in 0..p.rated.min(50) {
            let r = (truth.csat + 0.9 * normal(rng)).round().clamp(1.0, 5.0);
            sum += r;
            sumsq += r * r;
        }
        let k = p.rated.min(50) as f64;
        let mean = sum / k;
        let var = if k > 1.0 {
            ((sumsq - sum * sum / k) / (k - 1.0)).max(0.0)
        } else {
            0.81
        };
        // Ratings beyond the first 50 move the mean as their average would.
        let rest = p.rated.saturating_sub(50);
        let mean = if rest > 0 {
            (mean * k + rest as f64 * mean_of(rng, rest, truth.csat, 0.9)) / p.rated as f64
        } else {
            mean
        };
        p.satisfaction_score = Some(mean);
        p.satisfaction_sd = Some(var.sqrt());
    }
    p
}

fn cfg() -> JudgeConfig {
    JudgeConfig::standard(0.01, &Thresholds::default())
}

/// Feed `minutes` of traffic at `per_minute` conversations with the canary at `weight`%.
fn feed(
    ev: &mut Evidence,
    rng: &mut ChaCha8Rng,
    from_minute: i64,
    minutes: i64,
    per_minute: u64,
    weight: f64,
    canary: Truth,
) {
    for m in from_minute..from_minute + minutes {
        let nc = (per_minute as f64 * weight / 100.0).round() as u64;
        let c = bucket(rng, m * 60, nc, weight, canary);
        let b = bucket(rng, m * 60, per_minute - nc, weight, HEALTHY);
        ev.add_bucket(&c, &b, 60);
    }
}

#[test]
fn identical_arms_with_plenty_of_data_pass() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut ev = Evidence::default();
    feed(&mut ev, &mut rng, 0, 30, 4000, 50.0, HEALTHY);
    let a = analyze(&cfg(), &mut ev, 1.0);
    assert_eq!(a.verdict, Verdict::Pass, "{}", a.summary());
    let e = &a.metrics[0];
    assert_eq!(e.metric, "error_rate");
    let [lo, hi] = e.interval.expect("bounded");
    assert!(lo < 0.0 && hi > 0.0 && hi <= 0.01, "[{lo}, {hi}]");
    assert!(
        e.reason.contains("error rate") && e.reason.ends_with("→ pass"),
        "{}",
        e.reason
    );
}

#[test]
fn a_tripled_error_rate_fails_with_its_numbers() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut ev = Evidence::default();
    let bad = Truth {
        error: 0.06,
        ..HEALTHY
    };
    feed(&mut ev, &mut rng, 0, 10, 2000, 25.0, bad);
    let a = analyze(&cfg(), &mut ev, 1.0);
    assert_eq!(a.verdict, Verdict::Fail);
    let e = a.metrics.iter().find(|m| m.metric == "error_rate").unwrap();
    assert_eq!(e.verdict, Verdict::Fail);
    // "error rate 6.1% vs 2.0% baseline: +4.1 pp [+2.3, +5.9], tolerance +1.0 pp → fail"
    assert!(e.reason.starts_with("error rate "), "{}", e.reason);
    let d = e.difference.unwrap();
    assert!((0.03..0.05).contains(&d), "{}", e.reason);
    assert!(
        e.reason
            .contains(&format!("baseline: {}", Metric::ErrorRate.delta(d))),
        "{}",
        e.reason
    );
    assert!(
        e.reason.contains("tolerance +1.0 pp → fail"),
        "{}",
        e.reason
    );
    assert!(e.interval.unwrap()[0] > 0.01);
    // Metrics that did not regress are not blamed.
    let lat = a.metrics.iter().find(|m| m.metric == "latency_ms").unwrap();
    assert_ne!(lat.verdict, Verdict::Fail, "{}", lat.reason);
}

#[test]
fn lower_is_worse_metrics_fail_downwards() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut ev = Evidence::default();
    let sad = Truth {
        csat: 3.6,
        intent: 0.78,
        ..HEALTHY
    };
    feed(&mut ev, &mut rng, 0, 20, 3000, 50.0, sad);
    let a = analyze(&cfg(), &mut ev, 1.0);
    for key in ["satisfaction_score", "intent_score"] {
        let v = a.metrics.iter().find(|m| m.metric == key).unwrap();
        assert_eq!(v.verdict, Verdict::Fail, "{}", v.reason);
        assert!(v.tolerance < 0.0);
        assert!(v.difference.unwrap() < 0.0);
    }
}

#[test]
fn too_little_data_is_inconclusive_and_says_how_much_more() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut ev = Evidence::default();
    feed(&mut ev, &mut rng, 0, 3, 300, 5.0, HEALTHY);
    let a = analyze(&cfg(), &mut ev, 1.0);
    assert_eq!(a.verdict, Verdict::Inconclusive);
    let need = a.need.clone().expect("a need estimate");
    assert!(need.more > 0);
    let rate = need.per_minute.unwrap();
    assert!((10.0..=20.0).contains(&rate), "{rate}");
    let s = need.describe();
    assert!(s.starts_with("need ~") && s.contains("/min ≈ "), "{s}");
    // Feeding what it asked for (and a little more) settles more metrics.
    let open_before = a
        .metrics
        .iter()
        .filter(|m| m.verdict == Verdict::Inconclusive)
        .count();
    let minutes = (need.more as f64 / 15.0 * 1.2).ceil() as i64;
    feed(&mut ev, &mut rng, 3, minutes, 300, 5.0, HEALTHY);
    let b = analyze(&cfg(), &mut ev, 1.0);
    let open_after = b
        .metrics
        .iter()
        .filter(|m| m.verdict == Verdict::Inconclusive)
        .count();
    assert!(open_after < open_before || b.verdict == Verdict::Pass);
    assert_ne!(b.verdict, Verdict::Fail);
}

#[test]
fn a_weight_step_is_not_a_difference() {
    // Both arms get worse together in the second block (a busier hour): no difference.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut ev = Evidence::default();
    feed(&mut ev, &mut rng, 0, 10, 3000, 5.0, HEALTHY);
    let busy = Truth {
        latency: 700.0,
        ..HEALTHY
    };
    for m in 10..20 {
        let c = bucket(&mut rng, m * 60, 1500, 50.0, busy);
        let b = bucket(&mut rng, m * 60, 1500, 50.0, busy);
        ev.add_bucket(&c, &b, 60);
    }
    let a = analyze(&cfg(), &mut ev, 1.0);
    let lat = a.metrics.iter().find(|m| m.metric == "latency_ms").unwrap();
    assert_ne!(lat.verdict, Verdict::Fail, "{}", lat.reason);
    assert!(lat.difference.unwrap().abs() < 30.0, "{}", lat.reason);
}

#[test]
fn the_guardrail_fails_a_canary_that_is_bad_on_its_own() {
    // Both arms at 8% errors: no difference, but past the 5% guardrail.
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut ev = Evidence::default();
    let bad = Truth {
        error: 0.08,
        ..HEALTHY
    };
    for m in 0..15 {
        let c = bucket(&mut rng, m * 60, 1000, 50.0, bad);
        let b = bucket(&mut rng, m * 60, 1000, 50.0, bad);
        ev.add_bucket(&c, &b, 60);
    }
    let a = analyze(&cfg(), &mut ev, 1.0);
    let e = &a.metrics[0];
    assert_eq!(e.verdict, Verdict::Fail, "{}", e.reason);
    assert!(
        e.reason.contains("above the 5.0% guardrail"),
        "{}",
        e.reason
    );
}

#[test]
fn partial_and_repeated_buckets_are_not_counted() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let c = bucket(&mut rng, 0, 100, 10.0, HEALTHY);
    let b = bucket(&mut rng, 0, 900, 10.0, HEALTHY);
    let mut partial_c = bucket(&mut rng, 10, 40, 10.0, HEALTHY);
    partial_c.partial = true;
    let read = CanaryMetrics {
        canary_id: "c".into(),
        step_seconds: 10,
        window_start: "a".into(),
        window_end: "b".into(),
        baseline: vec![b.clone(), MetricPoint { t: 10, ..b.clone() }],
        canary: vec![c.clone(), partial_c],
    };
    let mut ev = Evidence::default();
    assert_eq!(ev.add_read(&read), 1);
    assert_eq!(ev.add_read(&read), 0, "a bucket is folded in once");
    assert_eq!(ev.at_weight(10.0), (100, 900));
}

/// The property the whole design rests on: with identical arms, looking every minute for an
/// hour through a stepped canary, the chance of ever failing stays within alpha.
#[test]
fn false_alarms_stay_within_alpha_however_often_one_looks() {
    let paths = 1000;
    let cfg = cfg();
    let mut alarms = 0;
    for path in 0..paths {
        let mut rng = ChaCha8Rng::seed_from_u64(10_000 + path);
        let mut ev = Evidence::default();
        // A mid-traffic bot through the default steps, a minute each, then held at 50%.
        let plan = [5.0, 10.0, 25.0, 50.0];
        let mut alarmed = false;
        for minute in 0..60 {
            let w = plan[(minute as usize).min(plan.len() - 1)];
            feed(&mut ev, &mut rng, minute, 1, 120, w, HEALTHY);
            if analyze(&cfg, &mut ev, 1.0).verdict == Verdict::Fail {
                alarmed = true;
                break;
            }
        }
        alarms += u32::from(alarmed);
    }
    let alpha = cfg.alpha;
    let se = (alpha * (1.0 - alpha) / paths as f64).sqrt();
    let rate = alarms as f64 / paths as f64;
    assert!(
        rate <= alpha + 3.0 * se,
        "{alarms} false alarms in {paths} paths ({rate:.4} > {alpha} + 3·{se:.4})"
    );
}

/// Feed one bucket that straddles a switch: `canary` and `baseline` conversations, both
/// labelled with the new weight.
fn straddle(
    ev: &mut Evidence,
    rng: &mut ChaCha8Rng,
    minute: i64,
    nc: u64,
    nb: u64,
    w: f64,
    c: Truth,
) {
    let cb = bucket(rng, minute * 60, nc, w, c);
    let bb = bucket(rng, minute * 60, nb, w, HEALTHY);
    ev.add_bucket(&cb, &bb, 60);
}

#[test]
fn a_step_at_full_weight_keeps_the_verdict_it_advanced_on() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut ev = Evidence::default();
    ev.set_step_weight(50.0);
    // Held at 50% until the comparison first passes: a pass with little to spare.
    let mut minute = 0;
    while analyze(&cfg(), &mut ev, margin_for(100.0)).verdict != Verdict::Pass {
        feed(&mut ev, &mut rng, minute, 1, 200, 50.0, HEALTHY);
        minute += 1;
        assert!(minute < 600, "never passed");
    }
    // The switch to 100%: one bucket still holds baseline conversations, and its canary
    // half looks worse by chance.
    ev.set_step_weight(100.0);
    let noisy = Truth {
        fallback: 0.14,
        handoff: 0.10,
        ..HEALTHY
    };
    straddle(&mut ev, &mut rng, minute, 1500, 1500, 100.0, noisy);
    for m in minute + 1..minute + 30 {
        straddle(&mut ev, &mut rng, m, 4000, 0, 100.0, HEALTHY);
        let a = analyze(&cfg(), &mut ev, 1.0);
        assert_eq!(a.verdict, Verdict::Pass, "minute {m}: {}", a.summary());
    }
}

#[test]
fn late_evidence_of_harm_still_fails_a_step_at_full_weight() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut ev = Evidence::default();
    ev.set_step_weight(50.0);
    feed(&mut ev, &mut rng, 0, 30, 4000, 50.0, HEALTHY);
    assert_eq!(analyze(&cfg(), &mut ev, 1.0).verdict, Verdict::Pass);
    ev.set_step_weight(100.0);
    let broken = Truth {
        error: 0.40,
        ..HEALTHY
    };
    // The straddling bucket shows the canary failing beside its baseline.
    straddle(&mut ev, &mut rng, 30, 2000, 2000, 100.0, broken);
    let a = analyze(&cfg(), &mut ev, 1.0);
    assert_eq!(a.verdict, Verdict::Fail, "{}", a.summary());
}

#[test]
fn an_open_comparison_carried_to_full_weight_promises_no_eta() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut ev = Evidence::default();
    ev.set_step_weight(50.0);
    feed(&mut ev, &mut rng, 0, 3, 400, 50.0, HEALTHY);
    assert_eq!(analyze(&cfg(), &mut ev, 1.0).verdict, Verdict::Inconclusive);
    // Advanced anyway (an operator's promote): canary traffic alone can't settle it.
    ev.set_step_weight(100.0);
    feed(&mut ev, &mut rng, 2, 10, 4000, 100.0, HEALTHY);
    let a = analyze(&cfg(), &mut ev, 1.0);
    assert_eq!(a.verdict, Verdict::Inconclusive, "{}", a.summary());
    assert!(
        a.need.is_none(),
        "{:?} {:?}",
        a.need,
        a.metrics
            .iter()
            .map(|m| (&m.metric, m.verdict, &m.reason))
            .collect::<Vec<_>>()
    );
}
