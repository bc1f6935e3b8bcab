//! The route families, one file each, over the shared world.
//!
//! Around every API route, outermost first: the request pipeline (stats, faults,
//! idempotency), conditional reads (`ETag`, `304`), then, in the Release API but for the
//! token endpoints, the opt-in per-caller rate limit. A `304` is counted under its own status
//! and charged like any other request.

mod api_v1;
mod api_v2;
mod cognigy;
mod common;
mod console;
mod control;
mod hooks;
mod operations;
mod token;
mod v1;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Router, middleware};
use serde::de::DeserializeOwned;

use crate::sim::problem::ApiError;
use crate::sim::{App, Dialect, conditional, limits, pipeline};

pub fn router(app: App) -> Router {
    if app.config.dialect == Dialect::Cognigy {
        return cognigy_router(app);
    }
    // The token endpoints are not charged to the rate limit; everything else is.
    let charged = Router::new()
        .merge(v1::routes())
        .merge(api_v1::routes())
        .merge(console::routes())
        .merge(operations::routes())
        .merge(api_v2::routes())
        .route_layer(middleware::from_fn_with_state(app.clone(), limits::release));
    let api = Router::new()
        .merge(token::routes())
        .merge(charged)
        .route_layer(middleware::from_fn(conditional::conditional))
        .route_layer(middleware::from_fn_with_state(app.clone(), pipeline::api));
    Router::new()
        .merge(api)
        .merge(control::routes())
        .merge(hooks::routes())
        .fallback(not_found)
        .with_state(app)
}

/// The Cognigy dialect: its API through the same pipeline (stats, faults), the same `/_sim`
/// control over the world, and 404s as the platform's problem documents.
fn cognigy_router(app: App) -> Router {
    let api = cognigy::routes()
        .route_layer(middleware::from_fn(conditional::conditional))
        .route_layer(middleware::from_fn_with_state(app.clone(), pipeline::api))
        .route_layer(middleware::from_fn(cognigy::translate_problems));
    Router::new()
        .merge(api)
        .merge(control::routes())
        .merge(hooks::routes())
        .fallback(cognigy_not_found)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            cognigy::server_date,
        ))
        .with_state(app)
}

async fn cognigy_not_found(
    axum::extract::State(app): axum::extract::State<App>,
    method: Method,
    uri: axum::http::Uri,
) -> Response {
    pipeline::count_unmatched(&app, &method, StatusCode::NOT_FOUND);
    cognigy::no_route(&method, uri.path())
}

async fn not_found(
    axum::extract::State(app): axum::extract::State<App>,
    method: Method,
    uri: axum::http::Uri,
) -> Response {
    pipeline::count_unmatched(&app, &method, StatusCode::NOT_FOUND);
    let mut e = ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {method} {}; see docs/api.md for the Release API",
            uri.path()
        ),
    );
    e.problem.instance = Some(uri.path().to_string());
    e.into_response()
}

/// A JSON body: syntax errors are 400, shape errors 422, both as problem documents.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text).map(JsonBody).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => ApiError::invalid_one("body", e.to_string()),
                _ => ApiError::bad_request(format!(
                    "malformed JSON body at line {}, column {}: {e}; send a valid JSON object",
                    e.line(),
                    e.column()
                )),
            }
        })
    }
}

/// A JSON response with a status.
pub fn reply(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// A JSON response serialised straight from a typed value (no `Value` tree in between:
/// for the large metric answers).
pub fn reply_typed<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

/// Check the per-id status-read limit (12 per simulator minute).
pub fn status_read(
    reads: &mut std::collections::VecDeque<f64>,
    now: f64,
    id: &str,
) -> Result<(), ApiError> {
    const LIMIT: usize = 12;
    limits::take(reads, now, 60.0, LIMIT).map_err(|wait| {
        ApiError::too_many(
            format!("more than {LIMIT} status reads per minute for {id}; retry after {wait}s"),
            wait,
        )
    })
}
