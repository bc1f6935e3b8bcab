//! Every request this process sends, counted in the platform's rate-limit window.
//!
//! The platform allows a caller about 1,000 requests per 5 minutes. Workflows send what
//! they must; the console's reads (see `crate::schedule`) spend what is left. Both go
//! through one `HttpClient`, which records each attempt here, so the scheduler knows what
//! the whole process has spent, not just its own reads.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::Clock;

/// The platform's published limit: requests per window per caller.
pub const PLATFORM_LIMIT: u32 = 1000;
/// The platform's window, server time.
pub const WINDOW: Duration = Duration::from_secs(300);

#[derive(Debug, Default)]
struct Inner {
    /// When each request of the current window was sent (wall time).
    sent: VecDeque<Instant>,
    total: u64,
    rate_limited: u64,
    not_modified: u64,
}

/// Shared by every client of one process (clone it freely).
#[derive(Debug, Clone)]
pub struct RequestMeter {
    inner: Arc<Mutex<Inner>>,
    /// The window in wall time (the server's window at the server's clock speed).
    window: Duration,
}

impl PartialEq for RequestMeter {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Default for RequestMeter {
    fn default() -> Self {
        RequestMeter::new(Clock::real())
    }
}

/// What the meter has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeterReading {
    /// Requests sent in the last window.
    pub in_window: u32,
    pub total: u64,
    /// Answers that were 429.
    pub rate_limited: u64,
    /// Answers that were 304 (a conditional read of something unchanged).
    pub not_modified: u64,
}

impl RequestMeter {
    /// A meter whose window is the platform's five minutes on `clock`.
    pub fn new(clock: Clock) -> RequestMeter {
        RequestMeter {
            inner: Arc::default(),
            window: clock.to_wall(WINDOW),
        }
    }

    /// The window in wall time.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expire(&self, g: &mut Inner, now: Instant) {
        while g
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            g.sent.pop_front();
        }
    }

    /// One request is about to be sent.
    pub fn sent(&self) {
        self.sent_at(Instant::now());
    }

    fn sent_at(&self, now: Instant) {
        let mut g = self.lock();
        self.expire(&mut g, now);
        g.sent.push_back(now);
        g.total += 1;
    }

    /// Its answer's status.
    pub fn answered(&self, status: u16) {
        let mut g = self.lock();
        match status {
            429 => g.rate_limited += 1,
            304 => g.not_modified += 1,
            _ => {}
        }
    }

    pub fn reading(&self) -> MeterReading {
        self.reading_at(Instant::now())
    }

    fn reading_at(&self, now: Instant) -> MeterReading {
        let mut g = self.lock();
        self.expire(&mut g, now);
        MeterReading {
            in_window: u32::try_from(g.sent.len()).unwrap_or(u32::MAX),
            total: g.total,
            rate_limited: g.rate_limited,
            not_modified: g.not_modified,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_leave_the_window_after_five_server_minutes() {
        let meter = RequestMeter::new(Clock::scaled(10.0));
        assert_eq!(meter.window(), Duration::from_secs(30));
        let t0 = Instant::now();
        meter.sent_at(t0);
        meter.answered(200);
        let t1 = t0 + Duration::from_secs(20);
        meter.sent_at(t1);
        meter.answered(429);
        meter.sent_at(t1);
        meter.answered(304);
        assert_eq!(meter.reading_at(t1).in_window, 3);
        let r = meter.reading_at(t0 + Duration::from_secs(31));
        assert_eq!(
            (r.in_window, r.total, r.rate_limited, r.not_modified),
            (2, 3, 1, 1)
        );
        assert_eq!(meter.reading_at(t1 + Duration::from_secs(30)).in_window, 0);
    }
}
