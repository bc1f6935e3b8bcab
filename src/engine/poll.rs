//! Polling a job until it is done, without tripping the server's limit of 12 status reads
//! per minute per id, noticing completion soon after the server finishes with as few reads
//! as it can.
//!
//! The server says when it expects the job to be done (`estimatedCompletionSeconds`, on
//! creation and on every read) and when to look again (`Retry-After`). The poller sleeps
//! until the later of the two plus a small margin, so a job that finishes on time costs one
//! read. A job that runs late is read again when the server says: at least a second apart,
//! never more than 12 times a minute, and at least every `MAX_INTERVAL` so its progress
//! still shows.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use crate::backend::{BackendError, Polled};
use crate::engine::{Ctx, Stop, Woken};

/// Without a hint from the server, look again after this long.
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
/// Even when the server expects a long wait, look again after this long.
pub const MAX_INTERVAL: Duration = Duration::from_secs(30);
/// Never two reads of one id closer than this (server time).
pub const MIN_GAP: Duration = Duration::from_secs(1);
/// Read this long after the moment the server said, so the read lands after it.
pub const MARGIN: Duration = Duration::from_millis(250);
/// The server's limit: reads per id per minute.
const READS_PER_MINUTE: usize = 12;

/// When to read next: `hint` (server time from now) plus the margin, within the limits,
/// given the reads of the last minute (`reads`, server seconds since the poll began, and
/// `now` on the same scale).
fn next_wait(hint: Option<Duration>, reads: &VecDeque<f64>, now: f64) -> Duration {
    let wait = match hint {
        Some(h) => (h + MARGIN).clamp(MIN_GAP, MAX_INTERVAL),
        None => MIN_INTERVAL,
    };
    // The 12-a-minute limit: the read after twelve waits for the oldest to leave the minute.
    let limit = if reads.len() >= READS_PER_MINUTE {
        let oldest = reads[reads.len() - READS_PER_MINUTE];
        Duration::from_secs_f64((oldest + 60.0 - now).max(0.0)) + MARGIN
    } else {
        Duration::ZERO
    };
    wait.max(limit)
}

/// Read with `read` until `done` says so or `timeout` (server time) passes. `seen` is told
/// every value (to report progress). Rate limiting (429) is waited out, not failed.
pub async fn poll_until<T, F, Fut>(
    ctx: &mut Ctx,
    what: &str,
    timeout: Duration,
    read: F,
    done: impl FnMut(&T) -> bool,
    seen: impl FnMut(&Ctx, &T),
) -> Result<T, Stop>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Polled<T>, BackendError>>,
{
    poll_after(ctx, what, timeout, None, read, done, seen).await
}

/// [`poll_until`] for a job the server said it expects to finish in `expected` (server
/// time): the first read waits for it instead of asking at once.
pub async fn poll_after<T, F, Fut>(
    ctx: &mut Ctx,
    what: &str,
    timeout: Duration,
    expected: Option<Duration>,
    mut read: F,
    mut done: impl FnMut(&T) -> bool,
    mut seen: impl FnMut(&Ctx, &T),
) -> Result<T, Stop>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Polled<T>, BackendError>>,
{
    let clock = ctx.clock();
    let started = tokio::time::Instant::now();
    let server_now = || clock.to_server(started.elapsed()).as_secs_f64();
    let mut reads: VecDeque<f64> = VecDeque::new();
    if let Some(e) = expected.filter(|e| !e.is_zero()) {
        let first = (e + MARGIN).min(MAX_INTERVAL);
        if let Woken::Command(c) = ctx.wait(&format!("first {what} read"), first).await? {
            ctx.detail(format!(
                "{c:?} does not apply while waiting for {what}; it is ignored"
            ));
        }
    }
    loop {
        let now = server_now();
        while reads.front().is_some_and(|t| now - t >= 60.0) {
            reads.pop_front();
        }
        reads.push_back(now);
        let hint = match read().await {
            Ok(p) => {
                seen(ctx, &p.value);
                if done(&p.value) {
                    return Ok(p.value);
                }
                p.retry_after
            }
            Err(BackendError::RateLimited { retry_after, .. }) => {
                let w = retry_after.unwrap_or(MIN_INTERVAL);
                ctx.detail(format!(
                    "{what}: the server asks to slow down; next read in {}s",
                    w.as_secs()
                ));
                Some(w)
            }
            Err(e) => return Err(Stop::Backend(e)),
        };
        let elapsed = clock.to_server(started.elapsed());
        if elapsed >= timeout {
            return Err(Stop::TimedOut(format!(
                "{what} did not finish within {}s",
                timeout.as_secs()
            )));
        }
        let wait = next_wait(hint, &reads, server_now());
        match ctx.wait(&format!("next {what} read"), wait).await? {
            Woken::Elapsed => {}
            Woken::Command(c) => ctx.detail(format!(
                "{c:?} does not apply while waiting for {what}; it is ignored"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_is_followed_closely_and_no_hint_waits_the_default() {
        let none = VecDeque::new();
        assert_eq!(
            next_wait(Some(Duration::from_secs(12)), &none, 0.0),
            Duration::from_secs(12) + MARGIN
        );
        assert_eq!(next_wait(Some(Duration::ZERO), &none, 0.0), MIN_GAP);
        assert_eq!(
            next_wait(Some(Duration::from_secs(600)), &none, 0.0),
            MAX_INTERVAL
        );
        assert_eq!(next_wait(None, &none, 0.0), MIN_INTERVAL);
    }

    #[test]
    fn the_thirteenth_read_in_a_minute_waits_for_the_first_to_leave_it() {
        let reads: VecDeque<f64> = (0..12).map(|i| f64::from(i) * 2.0).collect();
        let wait = next_wait(Some(Duration::ZERO), &reads, 22.0);
        assert_eq!(wait, Duration::from_secs(38) + MARGIN);
        let eleven: VecDeque<f64> = (0..11).map(|i| f64::from(i) * 2.0).collect();
        assert_eq!(next_wait(Some(Duration::ZERO), &eleven, 22.0), MIN_GAP);
    }
}
