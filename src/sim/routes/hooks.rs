//! A webhook receiver under `/hooks/...`: answers HEAD and POST and records what it got, so
//! clients can point their webhooks at the simulator. `/hooks/status/{code}/...` answers
//! with that status, to play an unhealthy receiver.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use serde_json::{Value, json};

use crate::sim::routes::reply;
use crate::sim::{App, ReceivedHook};

pub fn routes() -> Router<App> {
    Router::new().route("/hooks/{*path}", any(receive))
}

const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "user-agent",
];
const MAX_KEPT: usize = 1000;

async fn receive(
    State(app): State<App>,
    method: Method,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let status = path
        .strip_prefix("status/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::OK);
    if method != Method::HEAD && method != Method::POST && method != Method::GET {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "the webhook receiver answers HEAD, GET and POST"}),
        );
    }
    if method == Method::POST {
        let body_json: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        let kept: BTreeMap<String, String> = headers
            .iter()
            .filter(|(k, _)| KEPT_HEADERS.contains(&k.as_str()))
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let at = app.stamp(app.clock.now());
        let mut g = app.lock();
        g.hooks.push(ReceivedHook {
            method: method.to_string(),
            path: format!("/hooks/{path}"),
            headers: kept,
            body: body_json,
            received_at: at,
        });
        if g.hooks.len() > MAX_KEPT {
            g.hooks.remove(0);
        }
    }
    reply(status, json!({"received": status.is_success()}))
}
