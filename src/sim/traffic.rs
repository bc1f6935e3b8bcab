//! The traffic model: conversations per minute per (bot, environment, version), split by
//! routing weight and canary share, with each version's error rate, latency and
//! satisfaction — worse once a regressing version has had traffic long enough.
//!
//! Every minute's figures are drawn from a generator seeded by (seed, bot, environment,
//! version, minute, arm), and the state they depend on is read from the world's histories
//! at the minute's start. The same seed and the same actions give the same series, however
//! often and in whatever order anyone asks.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::domain::{MetricPoint, MetricSummary, Stage};
use crate::sim::scenario::Profile;
use crate::sim::world::{Bot, CanaryRec, World};

/// Which slice of an environment's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    /// All of it.
    Total,
    /// The stable (live) version's share while a canary runs.
    Baseline,
    /// The canary version's share.
    Canary,
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Standard normal draws (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The version's behaviour at second `t`, regression included.
pub fn profile_at(bot: &Bot, version: &str, t: f64) -> Profile {
    let Some(v) = bot.version(version) else {
        return Profile::default();
    };
    let mut p = v.profile.clone();
    if let (Some(r), Some(since)) = (&v.regression, bot.traffic_since.get(&v.id))
        && t - since >= r.after_minutes * 60.0
    {
        p.error_rate = (p.error_rate * r.error_factor).min(1.0);
        p.latency_ms *= r.latency_factor;
        p.satisfaction = (p.satisfaction + r.satisfaction_delta).clamp(1.0, 5.0);
    }
    p
}

/// One minute of one version's traffic in one environment.
#[allow(clippy::too_many_arguments)]
fn draw(
    seed: u64,
    bot: &Bot,
    env: &str,
    version: &str,
    minute: i64,
    expected: f64,
    fraction: f64,
    at: String,
) -> MetricPoint {
    let mut rng = ChaCha8Rng::seed_from_u64(fnv1a(&[
        &seed.to_le_bytes(),
        bot.id.as_bytes(),
        env.as_bytes(),
        version.as_bytes(),
        &minute.to_le_bytes(),
    ]));
    let p = profile_at(bot, version, minute as f64 * 60.0 + 30.0);
    let z: Vec<f64> = (0..5).map(|_| normal(&mut rng)).collect();
    let n = (expected * (1.0 + 0.08 * z[0])).max(0.0) * fraction;
    let n = n.round() as u64;
    if n == 0 {
        return MetricPoint {
            minute,
            at,
            conversations: 0,
            errors: 0,
            error_rate: None,
            avg_latency_ms: None,
            p95_latency_ms: None,
            satisfaction_score: None,
        };
    }
    let rate = (p.error_rate * (1.0 + 0.25 * z[1])).clamp(0.0, 1.0);
    let errors = ((n as f64) * rate).round() as u64;
    let avg = (p.latency_ms * (1.0 + 0.06 * z[2])).max(1.0);
    let p95 = avg * 1.9 * (1.0 + 0.05 * z[3]).max(0.5);
    let sat = (p.satisfaction + 0.08 * z[4]).clamp(1.0, 5.0);
    MetricPoint {
        minute,
        at,
        conversations: n,
        errors,
        error_rate: Some(errors as f64 / n as f64),
        avg_latency_ms: Some(round2(avg)),
        p95_latency_ms: Some(round2(p95)),
        satisfaction_score: Some(round2(sat)),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Merge points of the same minute (different environments or versions).
fn merge(minute: i64, at: String, points: &[MetricPoint]) -> MetricPoint {
    let s = MetricSummary::from_points(points);
    MetricPoint {
        minute,
        at,
        conversations: s.conversation_count,
        errors: s.error_count,
        error_rate: s.error_rate,
        avg_latency_ms: s.avg_latency_ms.map(round2),
        p95_latency_ms: s.p95_latency_ms.map(round2),
        satisfaction_score: s.satisfaction_score.map(round2),
    }
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

/// Per-minute points of a bot for minutes `from..=to` (the last one may be partial).
pub struct Query<'a> {
    pub bot: &'a str,
    pub env: Option<&'a str>,
    pub version: Option<&'a str>,
    pub arm: Arm,
}

pub fn series(
    world: &World,
    q: &Query<'_>,
    from: i64,
    now: f64,
    stamp: &dyn Fn(f64) -> String,
) -> Vec<MetricPoint> {
    let Some(bot) = world.bots.get(q.bot) else {
        return Vec::new();
    };
    let to = (now / 60.0).floor() as i64;
    let canary = canary_for(world, q.bot, q.env);
    let mut out = Vec::new();
    for minute in from..=to {
        let start = minute as f64 * 60.0;
        let fraction = if minute == to {
            ((now - start) / 60.0).clamp(0.0, 1.0)
        } else {
            1.0
        };
        // The state of a minute is read at its middle (or now, for the minute in progress),
        // so a canary started mid-minute gets its share of that minute.
        let t = (start + 30.0).min(now);
        let at = stamp(start);
        let mut points = Vec::new();
        for b in &bot.bindings {
            let Some(env) = world.envs.get(&b.env) else {
                continue;
            };
            match q.env {
                Some(e) if e != b.env => continue,
                None if env.stage != Stage::Production => continue,
                _ => {}
            }
            let Some(live) = b.live.at(t).clone() else {
                continue;
            };
            let base = if env.stage == Stage::Staging {
                bot.staging_cpm
            } else {
                bot.cpm * bot.share(&world.envs, &b.env, t)
            };
            let diurnal = 1.0 + 0.15 * (2.0 * std::f64::consts::PI * minute as f64 / 240.0).sin();
            let expected = base * diurnal;
            let c = canary
                .filter(|c| c.env == b.env)
                .map(|c| (c, c.share_at(t)));
            let canary_share = c.map(|(_, s)| s).unwrap_or(0.0);
            let arms: Vec<(Arm, String, f64)> = match c {
                Some((c, s)) if s > 0.0 => vec![
                    (Arm::Baseline, live.clone(), 1.0 - s),
                    (Arm::Canary, c.version.clone(), s),
                ],
                _ => vec![(Arm::Baseline, live.clone(), 1.0)],
            };
            for (arm, version, share) in arms {
                let wanted = match q.arm {
                    Arm::Total => true,
                    Arm::Baseline => arm == Arm::Baseline && c.is_some(),
                    Arm::Canary => arm == Arm::Canary,
                };
                if !wanted || q.version.is_some_and(|v| v != version) {
                    continue;
                }
                if q.arm == Arm::Baseline && canary_share <= 0.0 && c.is_none() {
                    continue;
                }
                points.push(draw(
                    world.seed,
                    bot,
                    &b.env,
                    &version,
                    minute,
                    expected * share,
                    fraction,
                    at.clone(),
                ));
            }
        }
        if points.is_empty() {
            if q.arm == Arm::Total {
                out.push(merge(minute, at, &[]));
            }
            continue;
        }
        out.push(merge(minute, at, &points));
    }
    out
}

/// Summary of the last `window` seconds. The minute the window starts in is counted for
/// the part of it inside the window.
pub fn summary(world: &World, q: &Query<'_>, window: f64, now: f64) -> MetricSummary {
    let start = now - window.max(0.0);
    let from = (start / 60.0).floor() as i64;
    let mut pts = series(world, q, from, now, &|_| String::new());
    if let Some(first) = pts.first_mut().filter(|p| p.minute == from) {
        let from_s = from as f64 * 60.0;
        // The minute in progress is already cut at `now`.
        let covered = ((from_s + 60.0).min(now) - from_s).max(0.0);
        let inside = ((from_s + 60.0).min(now) - start).max(0.0);
        if covered > 0.0 && inside < covered {
            let f = inside / covered;
            first.conversations = (first.conversations as f64 * f).round() as u64;
            first.errors = (first.errors as f64 * f).round() as u64;
        }
    }
    MetricSummary::from_points(&pts)
}

/// Error rate and p95 latency of an environment over the last five minutes.
pub fn env_error_rate(world: &World, env: &str, now: f64) -> (f64, Option<f64>) {
    let mut pts = Vec::new();
    for bot in world.bots.values() {
        if bot.binding(env).is_none() {
            continue;
        }
        let q = Query {
            bot: &bot.id,
            env: Some(env),
            version: None,
            arm: Arm::Total,
        };
        pts.extend(series(
            world,
            &q,
            ((now - 300.0) / 60.0).floor() as i64,
            now,
            &|_| String::new(),
        ));
    }
    let s = MetricSummary::from_points(&pts);
    (s.error_rate.unwrap_or(0.0), s.p95_latency_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::Scenario;

    fn world(seed: u64) -> World {
        World::from_scenario(&Scenario::demo().unwrap(), seed)
    }

    fn q(bot: &str) -> Query<'_> {
        Query {
            bot,
            env: None,
            version: None,
            arm: Arm::Total,
        }
    }

    #[test]
    fn same_seed_same_series_other_seed_other_series() {
        let a = series(&world(1), &q("bot-travel-assistant"), 0, 600.0, &|_| {
            String::new()
        });
        let b = series(&world(1), &q("bot-travel-assistant"), 0, 600.0, &|_| {
            String::new()
        });
        let c = series(&world(2), &q("bot-travel-assistant"), 0, 600.0, &|_| {
            String::new()
        });
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 11);
        assert!(a.iter().take(10).all(|p| p.conversations > 200), "{a:?}");
    }

    #[test]
    fn traffic_follows_routing_weight() {
        let w = world(3);
        let blue = Query {
            env: Some("env-prod-blue"),
            ..q("bot-customer-service-v2")
        };
        let green = Query {
            env: Some("env-prod-green"),
            ..q("bot-customer-service-v2")
        };
        let sb = summary(&w, &blue, 600.0, 600.0);
        let sg = summary(&w, &green, 600.0, 600.0);
        assert!(sb.conversation_count > 1000);
        assert_eq!(sg.conversation_count, 0);
    }

    #[test]
    fn a_window_covers_its_length_whatever_the_phase() {
        let w = world(5);
        let blue = Query {
            env: Some("env-prod-blue"),
            ..q("bot-customer-service-v2")
        };
        // 180 conversations a minute: a 60 s window holds about that many, wherever it
        // starts in the minute.
        for now in [600.0, 605.0, 630.0, 659.0] {
            let s = summary(&w, &blue, 60.0, now);
            assert!(
                (140..=230).contains(&s.conversation_count),
                "{now}: {}",
                s.conversation_count
            );
        }
    }

    #[test]
    fn regression_kicks_in_after_its_minutes() {
        let mut w = world(4);
        let bot = w.bots.get_mut("bot-travel-assistant").unwrap();
        bot.traffic_since.insert("v3.5.0".into(), 0.0);
        let before = profile_at(bot, "v3.5.0", 60.0);
        let after = profile_at(bot, "v3.5.0", 180.0);
        assert!((after.error_rate / before.error_rate - 3.0).abs() < 1e-9);
        assert!((after.latency_ms / before.latency_ms - 1.4).abs() < 1e-9);
    }
}
