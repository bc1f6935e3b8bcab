//! The simulator's clock: simulator seconds since the world started, running `speed` times
//! faster than wall time. Tests can pause it (`speed = 0`) and jump it forward, so a
//! 15-minute canary plays in a minute or in no time at all.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, SubsecRound, Utc};

#[derive(Debug)]
struct Inner {
    /// Wall instant at which `base_sim` was true.
    base_real: Instant,
    base_sim: f64,
    speed: f64,
}

#[derive(Debug)]
pub struct SimClock {
    inner: Mutex<Inner>,
    /// Wall-clock date of simulator second 0, in whole seconds: the stamp of a whole
    /// simulator second is exact, so a client's `since` taken from a stamp parses back to it.
    epoch: DateTime<Utc>,
}

impl SimClock {
    pub fn new(speed: f64, epoch: DateTime<Utc>) -> SimClock {
        SimClock {
            inner: Mutex::new(Inner {
                base_real: Instant::now(),
                base_sim: 0.0,
                speed: speed.max(0.0),
            }),
            epoch: epoch.trunc_subsecs(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Simulator seconds since the world started.
    pub fn now(&self) -> f64 {
        let g = self.lock();
        g.base_sim + g.base_real.elapsed().as_secs_f64() * g.speed
    }

    pub fn speed(&self) -> f64 {
        self.lock().speed
    }

    /// Change the speed from now on (0 pauses).
    pub fn set_speed(&self, speed: f64) {
        let mut g = self.lock();
        let now = g.base_sim + g.base_real.elapsed().as_secs_f64() * g.speed;
        g.base_sim = now;
        g.base_real = Instant::now();
        g.speed = speed.max(0.0);
    }

    /// Jump forward by `secs` simulator seconds.
    pub fn advance(&self, secs: f64) {
        let mut g = self.lock();
        g.base_sim += secs.max(0.0);
    }

    /// Back to second 0 (used by `/_sim/reset`).
    pub fn reset(&self) {
        let mut g = self.lock();
        g.base_sim = 0.0;
        g.base_real = Instant::now();
    }

    pub fn epoch(&self) -> DateTime<Utc> {
        self.epoch
    }

    /// The calendar time of simulator second `t`.
    pub fn date(&self, t: f64) -> DateTime<Utc> {
        self.epoch + ChronoDuration::milliseconds((t * 1000.0).round() as i64)
    }

    /// RFC 3339 text of simulator second `t`.
    pub fn stamp(&self, t: f64) -> String {
        self.date(t).to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_clock_moves_only_when_advanced() {
        let c = SimClock::new(0.0, Utc::now());
        assert_eq!(c.now(), 0.0);
        c.advance(90.0);
        assert_eq!(c.now(), 90.0);
        c.set_speed(0.0);
        assert_eq!(c.now(), 90.0);
        c.reset();
        assert_eq!(c.now(), 0.0);
    }
}
