//! Token endpoints: `/v1/auth/token` (Basic credentials, seed 000) and `/oauth/token`
//! (form credentials, seeds 001–003). OAuth errors use the OAuth error shape.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use crate::sim::App;
use crate::sim::auth::{TokenError, basic_credentials};
use crate::sim::routes::reply;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/v1/auth/token", post(token))
        .route("/oauth/token", post(token))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    reply(
        status,
        json!({"error": error, "error_description": description}),
    )
}

async fn token(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(e) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("the body must be application/x-www-form-urlencoded: {e}"),
            );
        }
    };
    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    if grant != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type must be client_credentials, got '{grant}'"),
        );
    }
    let creds = basic_credentials(&headers).or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    });
    let Some((id, secret)) = creds else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "send client credentials as Basic auth or as client_id and client_secret form fields",
        );
    };
    let scope = form.get("scope").cloned().unwrap_or_default();
    let mut g = app.lock();
    let life = g.faults.token_ttl_seconds.map(Duration::from_secs);
    let ttl = g.auth.ttl.as_secs();
    match g.auth.issue(&id, &secret, &scope, life) {
        Ok((token, scopes)) => reply(
            StatusCode::OK,
            json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl,
                "scope": scopes.into_iter().collect::<Vec<_>>().join(" "),
            }),
        ),
        Err(TokenError::InvalidClient) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client id or wrong secret",
        ),
        Err(TokenError::InvalidScope(s)) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("unknown scope '{s}'"),
        ),
    }
}
