//! The one retry policy of the code base: how often and how patiently every client
//! (the Release API client, the token fetch, webhook deliveries) retries a transient
//! failure. Exponential backoff from `backon` with full jitter, a server's `Retry-After`
//! honoured (capped), and every wait kept inside the call's deadline.

use std::time::{Duration, Instant, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Retries of failed requests (429, 5xx, connection errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (0 and 1 both mean no retries).
    pub attempts: u32,
    /// The first backoff ceiling; it doubles per retry and each wait is uniformly random
    /// below it ("full jitter").
    pub base_delay: Duration,
    /// The longest single wait, a server's `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Tries in all, at least one.
    pub fn tries(&self) -> u32 {
        self.attempts.max(1)
    }

    /// The waits before the second, third, ... try: full jitter below a doubling ceiling.
    pub fn waits(&self) -> impl Iterator<Item = Duration> + Send + Sync + Unpin + use<> {
        let max = self.max_delay;
        ExponentialBuilder::new()
            .with_min_delay(self.base_delay.min(max))
            .with_max_delay(max)
            .with_factor(2.0)
            .without_max_times()
            .build()
            .map(full_jitter as fn(Duration) -> Duration)
    }

    /// The wait before the next try: the server's hint when it gave one (capped at
    /// `max_delay`), else the next backoff wait.
    pub fn wait(
        &self,
        hint: Option<Duration>,
        backoff: &mut impl Iterator<Item = Duration>,
    ) -> Duration {
        match hint {
            Some(h) => h.min(self.max_delay),
            None => backoff.next().unwrap_or(self.max_delay),
        }
    }
}

/// A uniformly random wait below `ceiling`.
pub fn full_jitter(ceiling: Duration) -> Duration {
    ceiling.mul_f64(rand::random::<f64>())
}

/// `Retry-After` as integer (or decimal) seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = raw.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(raw).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The wall-clock end of one call, retries and waits included.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    started: Instant,
    limit: Duration,
}

impl Deadline {
    pub fn after(limit: Duration) -> Deadline {
        Deadline {
            started: Instant::now(),
            limit,
        }
    }

    /// The limit it was set with.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Wall time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.limit.saturating_sub(self.started.elapsed())
    }

    /// Whether a wait of `wall` still leaves time for another try.
    pub fn allows(&self, wall: Duration) -> bool {
        wall < self.remaining()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("1.5"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn waits_stay_below_a_doubling_ceiling_and_hints_are_capped() {
        let p = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        let waits: Vec<_> = p.waits().take(4).collect();
        for (w, ceiling) in waits.iter().zip([100, 200, 350, 350]) {
            assert!(*w <= Duration::from_millis(ceiling), "{w:?} > {ceiling} ms");
        }
        let mut none = std::iter::empty();
        assert_eq!(
            p.wait(Some(Duration::from_secs(60)), &mut none),
            Duration::from_millis(350)
        );
        assert_eq!(p.tries(), 5);
        assert_eq!(RetryPolicy { attempts: 0, ..p }.tries(), 1);
    }

    #[test]
    fn a_deadline_refuses_waits_past_its_end() {
        let d = Deadline::after(Duration::from_secs(10));
        assert!(d.allows(Duration::from_secs(1)));
        assert!(!d.allows(Duration::from_secs(11)));
        assert!(!Deadline::after(Duration::ZERO).allows(Duration::ZERO));
    }
}
