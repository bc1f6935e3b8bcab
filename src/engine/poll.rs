//! Polling a job until it is done, without tripping the server's limit of 12 status reads
//! per minute per id, yet noticing completion as soon as the server says it is due.

use std::future::Future;
use std::time::Duration;

use crate::backend::{BackendError, Polled};
use crate::engine::{Ctx, Stop, Woken};

/// At most 12 reads per minute per id: never read more often than every 5 s.
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
/// Even when the server expects a long wait, look again after this long.
pub const MAX_INTERVAL: Duration = Duration::from_secs(30);

/// Read with `read` until `done` says so or `timeout` (server time) passes. `seen` is told
/// every value (to report progress). Rate limiting (429) is waited out, not failed.
pub async fn poll_until<T, F, Fut>(
    ctx: &mut Ctx,
    what: &str,
    timeout: Duration,
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
    loop {
        let wait = match read().await {
            Ok(p) => {
                seen(ctx, &p.value);
                if done(&p.value) {
                    return Ok(p.value);
                }
                p.retry_after.unwrap_or(MIN_INTERVAL)
            }
            Err(BackendError::RateLimited { retry_after, .. }) => {
                let w = retry_after.unwrap_or(MIN_INTERVAL);
                ctx.detail(format!(
                    "{what}: the server asks to slow down; next read in {}s",
                    w.as_secs()
                ));
                w
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
        let wait = wait.clamp(MIN_INTERVAL, MAX_INTERVAL);
        match ctx.wait(&format!("next {what} read"), wait).await? {
            Woken::Elapsed => {}
            Woken::Command(c) => ctx.detail(format!(
                "{c:?} does not apply while waiting for {what}; it is ignored"
            )),
        }
    }
}
