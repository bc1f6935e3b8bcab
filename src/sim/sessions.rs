//! Sessions: every conversation the traffic model lets arrive is a session that stays active
//! for a while, on the version (and in the environment) it started on.
//!
//! Lifetimes are lognormal with the bot's mean (`session_minutes`) and a coefficient of
//! variation of one, and end at the latest at the bot's session timeout. Nothing is kept per session: the
//! sessions of one version that arrived in one 10 s bucket of one binding form a *group*
//! that starts at the bucket's middle; its `n` lifetimes are stratified over the
//! distribution (session `j` lives the `(j + u) / n` quantile, `u` drawn once per group from
//! the world's seed), so how many of a group are still active at any age is one formula, and
//! falls monotonically to zero. A cut-off (a drain's deadline) ends a group's sessions early.
//!
//! The groups come from the same arrival counts as the traffic figures, so sessions follow
//! routing, canary splits and cut-overs exactly as the conversations do, and the same seed
//! and actions give the same sessions whenever anyone looks.

use std::f64::consts::SQRT_2;

use statrs::function::erf::{erf, erf_inv};

use crate::domain::{Session, Stage};
use crate::sim::traffic::{BASE_STEP, Lane, session_arrivals};
use crate::sim::world::{Bot, Cutoff, DrainCause, DrainRec, World};

/// The session lifetimes of one bot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lifetimes {
    mu: f64,
    sigma: f64,
    /// The platform ends a session at the latest this many seconds after it started.
    pub timeout: f64,
}

impl Lifetimes {
    /// Lognormal of mean `mean` seconds and coefficient of variation 1, capped at `timeout`.
    pub fn new(mean: f64, timeout: f64) -> Lifetimes {
        let sigma2 = 2f64.ln();
        Lifetimes {
            mu: mean.max(1e-3).ln() - sigma2 / 2.0,
            sigma: sigma2.sqrt(),
            timeout: timeout.max(1.0),
        }
    }

    /// The bot's lifetimes; `None` for a bot whose conversations hold no session.
    pub fn of(bot: &Bot) -> Option<Lifetimes> {
        (bot.session_minutes > 0.0)
            .then(|| Lifetimes::new(bot.session_minutes * 60.0, bot.session_timeout))
    }

    /// P(a lifetime is at most `age`), before the timeout.
    fn cdf(&self, age: f64) -> f64 {
        if age <= 0.0 {
            return 0.0;
        }
        0.5 * (1.0 + erf((age.ln() - self.mu) / (self.sigma * SQRT_2)))
    }

    /// The lifetime at quantile `q`, capped at the timeout.
    fn quantile(&self, q: f64) -> f64 {
        let q = q.clamp(1e-12, 1.0 - 1e-12);
        let z = SQRT_2 * erf_inv(2.0 * q - 1.0);
        (self.mu + self.sigma * z).exp().min(self.timeout)
    }
}

/// Sessions that started together: one version's arrivals in one bucket of one binding (or
/// the scenario's backlog at second 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Group<'a> {
    pub env: &'a str,
    pub version: &'a str,
    /// The bucket index; `None` for the backlog.
    pub bucket: Option<i64>,
    /// Second the group's sessions started.
    pub start: f64,
    pub n: u64,
    /// The stratification offset in [0, 1).
    u: f64,
    /// The backlog's linear drain, sessions per minute (instead of lifetimes).
    linear: Option<f64>,
    /// When a cut-off ends whatever is left of the group.
    pub cut: Option<f64>,
}

impl Group<'_> {
    /// Sessions of the group still active at `t`.
    pub fn alive(&self, life: Option<&Lifetimes>, t: f64) -> u64 {
        if t < self.start || self.cut.is_some_and(|c| t >= c) || self.n == 0 {
            return 0;
        }
        let age = t - self.start;
        if let Some(rate) = self.linear {
            let left = self.n as f64 - rate * age / 60.0;
            return left.round().clamp(0.0, self.n as f64) as u64;
        }
        let Some(life) = life else { return 0 };
        if age >= life.timeout {
            return 0;
        }
        // Session j lives quantile (j + u) / n: it has ended when that is at most F(age).
        let x = self.n as f64 * life.cdf(age) - self.u;
        let ended = if x < 0.0 {
            0
        } else {
            ((x.floor() as u64) + 1).min(self.n)
        };
        self.n - ended
    }

    /// When the group's last session ends.
    pub fn last_end(&self, life: Option<&Lifetimes>) -> f64 {
        let natural = match (self.linear, life) {
            _ if self.n == 0 => self.start,
            (Some(rate), _) => self.start + (self.n as f64 - 0.5).max(0.0) * 60.0 / rate.max(1e-9),
            (None, Some(l)) => {
                self.start + l.quantile((self.n as f64 - 1.0 + self.u) / self.n as f64)
            }
            (None, None) => self.start,
        };
        self.cut.map_or(natural, |c| natural.min(c))
    }

    /// The latest any of its sessions can end: the timeout after the start, or the cut-off.
    pub fn expires(&self, life: Option<&Lifetimes>) -> f64 {
        let bound = match (self.linear, life) {
            (Some(_), _) => self.last_end(None),
            (None, Some(l)) => self.start + l.timeout,
            (None, None) => self.start,
        };
        self.cut.map_or(bound, |c| bound.min(c))
    }
}

fn cut_for(cutoffs: &[Cutoff], bot: &str, env: &str, version: &str, start: f64) -> Option<f64> {
    cutoffs
        .iter()
        .filter(|c| {
            c.bot == bot
                && c.env == env
                && c.version.as_deref().is_none_or(|v| v == version)
                && start < c.before
        })
        .map(|c| c.at)
        .min_by(f64::total_cmp)
}

/// Every group of `bot` that started by `until` and may still have sessions then.
pub fn groups<'a>(world: &'a World, bot: &'a Bot, until: f64) -> Vec<Group<'a>> {
    let life = Lifetimes::of(bot);
    let mut out = Vec::new();
    if let Some(b) = &bot.backlog
        && until >= 0.0
        && (b.linear.is_some() || life.is_some())
    {
        out.push(Group {
            env: b.env.as_str(),
            version: b.version.as_str(),
            bucket: None,
            start: 0.0,
            n: b.sessions,
            u: b.u,
            linear: b.linear,
            cut: cut_for(&world.cutoffs, &bot.id, &b.env, &b.version, 0.0),
        });
    }
    let Some(life) = life else { return out };
    let step = BASE_STEP as f64;
    let first = ((until - life.timeout - step / 2.0) / step).floor() as i64;
    let last = ((until - step / 2.0) / step).floor() as i64;
    // About one group per bucket of each binding that has traffic.
    out.reserve(bot.bindings.len() * usize::try_from(last - first + 1).unwrap_or(0));
    for binding in &bot.bindings {
        let Some(env) = world.envs.get(&binding.env) else {
            continue;
        };
        let lane = Lane::new(world, bot, binding, env);
        for b in first..=last {
            // A group starts at its bucket's middle with every arrival of the bucket.
            let end = (b + 1) as f64 * step;
            for (version, n, u) in session_arrivals(bot, &lane, b, end).into_iter().flatten() {
                let start = b as f64 * step + step / 2.0;
                out.push(Group {
                    env: binding.env.as_str(),
                    version,
                    bucket: Some(b),
                    start,
                    n,
                    u,
                    linear: None,
                    cut: cut_for(&world.cutoffs, &bot.id, &binding.env, version, start),
                });
            }
        }
    }
    out
}

/// Active sessions of `bot` at `t` per (environment, version), in binding order.
pub fn counts<'a>(world: &'a World, bot: &'a Bot, t: f64) -> Vec<(&'a str, &'a str, u64)> {
    let life = Lifetimes::of(bot);
    let mut out: Vec<(&str, &str, u64)> = Vec::new();
    for g in groups(world, bot, t) {
        let n = g.alive(life.as_ref(), t);
        if n == 0 {
            continue;
        }
        match out
            .iter_mut()
            .find(|(e, v, _)| *e == g.env && *v == g.version)
        {
            Some(slot) => slot.2 += n,
            None => out.push((g.env, g.version, n)),
        }
    }
    out
}

/// All active sessions of `bot` at `t`.
pub fn total(world: &World, bot: &Bot, t: f64) -> u64 {
    counts(world, bot, t).iter().map(|(_, _, n)| n).sum()
}

/// What a drain of (`env`, `version`, or every version when `None`) starting at `switch`
/// finds: the sessions then, and when the last of them ends on its own.
pub fn drain_outlook(
    world: &World,
    bot: &Bot,
    env: &str,
    version: Option<&str>,
    switch: f64,
) -> (u64, f64) {
    let life = Lifetimes::of(bot);
    let mut at_start = 0;
    let mut end = switch;
    for g in groups(world, bot, switch)
        .iter()
        .filter(|g| g.env == env && version.is_none_or(|v| v == g.version) && g.start < switch)
    {
        let n = g.alive(life.as_ref(), switch);
        if n > 0 {
            at_start += n;
            end = end.max(g.last_end(life.as_ref()));
        }
    }
    (at_start, end)
}

/// Sessions of (`env`, `version`) that started before `before` and are active at `t`.
pub fn alive_before(
    world: &World,
    bot: &Bot,
    env: &str,
    version: Option<&str>,
    before: f64,
    t: f64,
) -> u64 {
    let life = Lifetimes::of(bot);
    groups(world, bot, before)
        .iter()
        .filter(|g| g.env == env && version.is_none_or(|v| v == g.version) && g.start < before)
        .map(|g| g.alive(life.as_ref(), t))
        .sum()
}

/// Which sessions to list.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    pub env: Option<&'a str>,
    pub version: Option<&'a str>,
    /// Only sessions that can still be active this many seconds from now.
    pub expires_after: Option<f64>,
}

/// The active sessions of `bot` at `now` that pass `filter`: their number, and the first
/// `limit` of them.
pub fn list(
    world: &World,
    bot: &Bot,
    now: f64,
    filter: &Filter<'_>,
    limit: usize,
    stamp: &dyn Fn(f64) -> String,
) -> (u64, Vec<Session>) {
    const CHANNELS: [&str; 4] = ["webchat", "voice", "whatsapp", "teams"];
    let life = Lifetimes::of(bot);
    let mut total = 0;
    let mut out = Vec::new();
    for g in groups(world, bot, now) {
        if filter.env.is_some_and(|e| e != g.env) || filter.version.is_some_and(|v| v != g.version)
        {
            continue;
        }
        let expires = g.expires(life.as_ref());
        if filter.expires_after.is_some_and(|d| expires <= now + d) {
            continue;
        }
        let alive = g.alive(life.as_ref(), now);
        total += alive;
        let env_index = bot
            .bindings
            .iter()
            .position(|b| b.env == g.env)
            .unwrap_or(0);
        for j in (g.n - alive)..g.n {
            if out.len() >= limit {
                break;
            }
            let (id, k) = match g.bucket {
                Some(b) => (format!("sess_{}_{env_index}_{b}_{j}", bot.id), b + j as i64),
                None => (format!("sess_{}_backlog_{j}", bot.id), j as i64),
            };
            out.push(Session {
                id,
                bot_id: bot.id.clone(),
                environment_id: g.env.to_string(),
                version_id: g.version.to_string(),
                started_at: stamp(g.start.min(now)),
                channel: CHANNELS[k.rem_euclid(CHANNELS.len() as i64) as usize].to_string(),
                status: "active".into(),
                expires_at: Some(stamp(expires)),
            });
        }
    }
    (total, out)
}

/// The production environment that takes most of a bot's traffic at `t` (first on ties).
pub fn busiest_env<'a>(world: &World, bot: &'a Bot, t: f64) -> Option<&'a str> {
    let weights = bot.routing.at(t);
    bot.bindings
        .iter()
        .filter(|b| world.envs.get(&b.env).map(|e| e.stage) == Some(Stage::Production))
        .max_by(|a, b| {
            let wa = weights.get(&a.env).copied().unwrap_or(0.0);
            let wb = weights.get(&b.env).copied().unwrap_or(0.0);
            wa.total_cmp(&wb).then(std::cmp::Ordering::Greater)
        })
        .map(|b| b.env.as_str())
}

/// Drains are the world's, but how many sessions a drain holds and when the last ends is
/// this module's model.
impl World {
    /// Start draining (`env`, `version`, or every version) of `bot` at `switch`: the
    /// sessions there finish until the last ends on its own or `deadline` cuts off the rest.
    /// `None` when there is nothing to drain.
    pub fn start_drain(
        &mut self,
        bot: &str,
        env: &str,
        version: Option<&str>,
        cause: DrainCause,
        switch: f64,
        deadline: Option<f64>,
    ) -> Option<String> {
        let b = self.bots.get(bot)?;
        let (at_start, natural) = drain_outlook(self, b, env, version, switch);
        if at_start == 0 {
            return None;
        }
        let (ends, cut_off) = match deadline {
            Some(d) if d < natural => (d, alive_before(self, b, env, version, switch, d)),
            _ => (natural, 0),
        };
        let id = self.next_id("drain");
        if cut_off > 0 {
            self.cutoffs.push(Cutoff {
                bot: bot.to_string(),
                env: env.to_string(),
                version: version.map(str::to_string),
                before: switch,
                at: ends,
                drain: id.clone(),
            });
        }
        self.drains.push(DrainRec {
            id: id.clone(),
            bot: bot.to_string(),
            env: env.to_string(),
            version: version.map(str::to_string),
            cause,
            started: switch,
            deadline,
            at_start,
            ends,
            cut_off,
            superseded: None,
        });
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::Scenario;

    fn world() -> World {
        World::from_scenario(&Scenario::demo().unwrap(), 7)
    }

    #[test]
    fn a_group_falls_monotonically_to_zero_by_the_timeout() {
        let life = Lifetimes::new(240.0, 600.0);
        let g = Group {
            env: "e",
            version: "v",
            bucket: Some(0),
            start: 5.0,
            n: 250,
            u: 0.37,
            linear: None,
            cut: None,
        };
        assert_eq!(g.alive(Some(&life), 4.9), 0, "not started");
        assert_eq!(g.alive(Some(&life), 5.0), 250);
        let mut last = 250;
        for s in 1..=600 {
            let n = g.alive(Some(&life), 5.0 + s as f64);
            assert!(n <= last, "{s}: {n} > {last}");
            last = n;
        }
        assert_eq!(last, 0, "all gone at the timeout");
        // About half are gone after the median (240 / √2 s).
        let half = g.alive(Some(&life), 5.0 + 240.0 / 2f64.sqrt());
        assert!((115..=135).contains(&half), "{half}");
        let end = g.last_end(Some(&life));
        assert!(g.alive(Some(&life), end - 0.01) >= 1 && g.alive(Some(&life), end) == 0);
        let cut = Group {
            cut: Some(65.0),
            ..g.clone()
        };
        assert!(cut.alive(Some(&life), 64.0) > 100);
        assert_eq!(cut.alive(Some(&life), 65.0), 0);
        assert_eq!(cut.last_end(Some(&life)), 65.0);
    }

    #[test]
    fn the_mean_lifetime_is_the_bots() {
        // n sessions of one group: the area under alive(t) is n × the mean lifetime (less
        // what the timeout cuts off).
        let life = Lifetimes::new(240.0, 7200.0);
        let g = Group {
            env: "e",
            version: "v",
            bucket: Some(0),
            start: 0.0,
            n: 2000,
            u: 0.5,
            linear: None,
            cut: None,
        };
        let area: f64 = (0..7200)
            .map(|s| g.alive(Some(&life), s as f64) as f64)
            .sum();
        let mean = area / 2000.0;
        assert!((mean - 240.0).abs() < 8.0, "{mean}");
    }

    #[test]
    fn busy_bots_hold_sessions_in_steady_state_and_stateless_ones_none() {
        let w = world();
        let cs = &w.bots["bot-customer-service-v2"];
        let c = counts(&w, cs, 600.0);
        let blue: u64 = c
            .iter()
            .filter(|(e, v, _)| *e == "env-prod-blue" && *v == "v2.3.0")
            .map(|x| x.2)
            .sum();
        // 1500 a minute for about 3.8 minutes (the mean less the timeout's cut).
        assert!((4800..=6600).contains(&blue), "{c:?}");
        assert!(c.iter().all(|(e, _, _)| *e != "env-prod-green"), "{c:?}");
        assert_eq!(total(&w, &w.bots["bot_12345"], 600.0), 0);
        // The same seed and time give the same sessions.
        assert_eq!(counts(&w, cs, 600.0), counts(&world(), cs, 600.0));
    }
}
