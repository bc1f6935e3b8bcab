//! Sliding-window request limits: the client budget (per minute), the per-id status reads
//! (per minute), the Cognigy dialect's per-key rate limit and the Release API's opt-in
//! per-caller rate limit (both per five simulator minutes). All count simulator seconds.

use std::collections::VecDeque;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::sim::problem::ApiError;
use crate::sim::{App, RATE_WINDOW, Shared, pipeline};

/// Count one request at `now` in a window of the last `window` simulator seconds that holds
/// at most `limit` (at least one). When it is full nothing is counted and the answer is the
/// whole simulator seconds until its oldest request leaves it (at least 1): a `Retry-After`.
pub fn take(q: &mut VecDeque<f64>, now: f64, window: f64, limit: usize) -> Result<(), u64> {
    while q.front().is_some_and(|t| *t <= now - window) {
        q.pop_front();
    }
    if q.len() >= limit.max(1) {
        return Err(q
            .front()
            .map(|t| (t + window - now).ceil().max(1.0) as u64)
            .unwrap_or(1));
    }
    q.push_back(now);
    Ok(())
}

impl Shared {
    /// Count one request against `key`'s window of [`RATE_WINDOW`] in the budget table:
    /// `limit` requests per five simulator minutes; `Err` holds the seconds to wait.
    pub fn charge_rate(&self, key: String, limit: u32) -> Result<(), u64> {
        let now = self.clock.now();
        let mut g = self.lock();
        take(
            g.budget.entry(key).or_default(),
            now,
            RATE_WINDOW,
            limit as usize,
        )
    }
}

/// The caller a Release API request is charged to: the client id of its bearer token, the
/// caller of its API key, else `anonymous` (no, unknown or expired credential).
fn caller_of(app: &App, headers: &axum::http::HeaderMap) -> String {
    pipeline::client_of(app, headers).unwrap_or_else(|| "anonymous".to_string())
}

/// Middleware (Release API, when `SimConfig::release_rate_limit` is set): `429` with
/// `Retry-After` once a caller has sent that many requests in five simulator minutes.
pub async fn release(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(limit) = app.config.release_rate_limit else {
        return next.run(req).await;
    };
    let who = caller_of(&app, req.headers());
    if let Err(wait) = app.charge_rate(format!("release:{who}"), limit) {
        let limit = limit.max(1);
        return ApiError::too_many(
            format!(
                "caller {who} is over the rate limit of {limit} requests per 5 simulator minutes; retry after {wait}s"
            ),
            wait,
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_window_says_when_its_oldest_request_leaves() {
        let mut q = VecDeque::new();
        assert_eq!(take(&mut q, 0.0, 60.0, 2), Ok(()));
        assert_eq!(take(&mut q, 10.5, 60.0, 2), Ok(()));
        assert_eq!(take(&mut q, 20.0, 60.0, 2), Err(40));
        assert_eq!(q.len(), 2, "a refused request is not counted");
        assert_eq!(take(&mut q, 60.0, 60.0, 2), Ok(()));
        assert_eq!(take(&mut q, 70.4, 60.0, 2), Err(1));
        assert_eq!(take(&mut VecDeque::new(), 0.0, 60.0, 0), Ok(()));
    }
}
