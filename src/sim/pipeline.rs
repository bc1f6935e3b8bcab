//! What every API request goes through, outside the handlers: request statistics, injected
//! faults, and `Idempotency-Key` replay.
//!
//! Order: stats (outermost, so they count what the client saw) -> latency -> reset / 429
//! storm / 503 before the world -> idempotency -> handler -> lost response (502 after the
//! world changed) -> malformed body. Inside it, around the handler, the routers layer
//! conditional reads (`conditional.rs`) and the Release API's rate limit (`limits.rs`).

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngExt;
use sha2::{Digest, Sha256};

use crate::sim::problem::ApiError;
use crate::sim::{App, IdemRecord};

const MAX_BODY: usize = 4 * 1024 * 1024;
const MAX_IDEMPOTENCY_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Draw {
    None,
    Reset,
    Storm,
    Unavailable,
}

pub async fn api(State(app): State<App>, req: Request, next: Next) -> Response {
    let route = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| req.uri().path().to_string())
    );
    let resp = faulted(&app, req, next).await;
    let mut g = app.lock();
    *g.stats
        .entry(route)
        .or_default()
        .entry(resp.status().as_u16())
        .or_default() += 1;
    resp
}

/// Count a request that matched no route.
pub fn count_unmatched(app: &App, method: &Method, status: StatusCode) {
    let mut g = app.lock();
    *g.stats
        .entry(format!("{method} (no route)"))
        .or_default()
        .entry(status.as_u16())
        .or_default() += 1;
}

async fn faulted(app: &App, req: Request, next: Next) -> Response {
    let (latency, draw, lost, malformed) = {
        let mut g = app.lock();
        let f = g.faults.clone();
        let r: f64 = g.fault_rng.random();
        let mut edge = 0.0;
        let mut pick = Draw::None;
        for (p, d) in [
            (f.reset_rate, Draw::Reset),
            (f.rate_limit_storm, Draw::Storm),
            (f.error_rate, Draw::Unavailable),
        ] {
            if pick == Draw::None && r < edge + p {
                pick = d;
            }
            edge += p;
        }
        let lost = g.fault_rng.random::<f64>() < f.lost_response_rate;
        let malformed = g.fault_rng.random::<f64>() < f.malformed_rate;
        (f.latency_ms, pick, lost, malformed)
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    match draw {
        Draw::Reset => return reset_response(),
        Draw::Storm => {
            return ApiError::too_many("rate limit storm (injected fault): slow down", 2)
                .into_response();
        }
        Draw::Unavailable => {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is temporarily unavailable (injected fault); retry with backoff",
            )
            .into_response();
        }
        Draw::None => {}
    }
    let resp = idempotent(app, req, next).await;
    if lost {
        return ApiError::new(
            StatusCode::BAD_GATEWAY,
            "bad gateway (injected fault: the request was processed but its response was lost)",
        )
        .into_response();
    }
    if malformed && resp.status() == StatusCode::OK {
        return malformed_response(resp).await;
    }
    resp
}

/// A response whose body fails after the headers: the client sees the connection drop.
fn reset_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected connection reset",
        ))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

async fn malformed_response(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let cut = (bytes.len() / 2).max(1).min(bytes.len());
    let truncated = bytes.slice(0..cut);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(truncated))
}

/// The client identity an idempotency key is scoped to.
pub(crate) fn client_of(app: &App, headers: &axum::http::HeaderMap) -> Option<String> {
    let g = app.lock();
    g.auth.caller(headers).ok().map(|c| c.client)
}

async fn idempotent(app: &App, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return next.run(req).await;
    };
    let Some(client) = client_of(app, req.headers()) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::bad_request(format!("cannot read the request body: {e}"))
                .into_response();
        }
    };
    let hash: [u8; 32] = Sha256::digest(&bytes).into();
    let id = (client, format!("{} {}", parts.uri.path(), key));
    let stored = app.lock().idempotency.get(&id).cloned();
    if let Some(rec) = stored {
        if rec.body_hash != hash {
            return ApiError::invalid_one(
                "Idempotency-Key",
                format!(
                    "key '{key}' was already used with a different request body; use a new key for a new request"
                ),
            )
            .into_response();
        }
        let mut resp = Response::new(Body::from(rec.body));
        *resp.status_mut() = StatusCode::from_u16(rec.status).unwrap_or(StatusCode::OK);
        for (k, v) in rec.headers {
            if let (Ok(k), Ok(v)) = (
                axum::http::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                resp.headers_mut().insert(k, v);
            }
        }
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return resp;
    }
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = resp.status();
    // Answers that did not act on the request are not kept: a retry must run it. That
    // includes a 401 — the token can expire between the client check above and the
    // handler's, and a client that fetches a new token resends under the same key.
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::UNAUTHORIZED
    {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let body = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .filter(|(k, _)| *k == header::CONTENT_TYPE || *k == header::LOCATION)
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    {
        let mut g = app.lock();
        g.idempotency.insert(
            id.clone(),
            IdemRecord {
                body_hash: hash,
                status: status.as_u16(),
                headers,
                body: body.to_vec(),
            },
        );
        g.idempotency_order.push_back(id);
        while g.idempotency_order.len() > MAX_IDEMPOTENCY_KEYS {
            if let Some(old) = g.idempotency_order.pop_front() {
                g.idempotency.remove(&old);
            }
        }
    }
    Response::from_parts(parts, Body::from(body))
}
