//! What the route modules share beyond the wire helpers: the metric step parameter and
//! the audit store both API families write to.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::domain::parse_window;
use crate::sim::Shared;
use crate::sim::problem::ApiError;
use crate::sim::routes::reply;
use crate::sim::traffic;
use crate::sim::world::AuditRec;

/// A bucket size: a multiple of 10 s, at most a day (`10s`, `60s`, `1m`, `5m`, ...).
pub fn parse_step(text: &str) -> Result<i64, ApiError> {
    parse_window(text)
        .filter(|s| *s > 0 && *s <= 24 * 3600 && s.is_multiple_of(traffic::BASE_STEP as u64))
        .map(|s| s as i64)
        .ok_or_else(|| {
            ApiError::invalid_one(
                "step",
                format!("'{text}' is not a step of a multiple of 10s up to 24h like 10s, 1m or 5m"),
            )
        })
}

/// Store a client's audit record (both `/api/v1` and `/api/v2` families).
pub fn store_audit(app: &Shared, family: &str, body: Value) -> Response {
    let (mut g, now) = app.world();
    let w = &mut g.world;
    let id = w.next_id("aud");
    w.audit.push(AuditRec {
        id: id.clone(),
        family: family.to_string(),
        at: now,
        body,
    });
    reply(
        StatusCode::CREATED,
        json!({"id": id, "receivedAt": app.stamp(now)}),
    )
}
