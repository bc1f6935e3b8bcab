//! `POST /<URLToken>`: a REST endpoint answering a conversation turn, the way the platform's
//! endpoint host does (no API key: the token is the address). The answer comes from the
//! version the endpoint serves: the intent its keywords recognise, in `data`, and a line of
//! text in `text` and `outputStack`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use super::common::{CgError, CgJson, CgResult};
use super::views::{find_by_token, snapshot_id};
use crate::sim::App;

pub fn routes() -> Router<App> {
    Router::new().route("/{token}", post(converse))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Turn {
    user_id: Option<String>,
    session_id: Option<String>,
    text: Option<String>,
    data: Option<serde_json::Value>,
}

async fn converse(
    State(app): State<App>,
    Path(token): Path<String>,
    CgJson(turn): CgJson<Turn>,
) -> CgResult<Response> {
    let user = turn
        .user_id
        .filter(|u| !u.is_empty())
        .ok_or_else(|| CgError::missing("userId"))?;
    let session = turn
        .session_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CgError::missing("sessionId"))?;
    if turn.text.is_none() && turn.data.is_none() {
        return Err(CgError::invalid("send text, data or both"));
    }
    let (g, now) = app.world();
    let w = &g.world;
    let (bot, binding) = find_by_token(w, &token).ok_or_else(|| {
        CgError::new(
            StatusCode::NOT_FOUND,
            crate::cognigy::code::RESOURCE_NOT_FOUND,
            "There is no endpoint with this URLToken.",
        )
    })?;
    let Some(live) = w.live_at(&bot.id, &binding.env, now) else {
        return Err(CgError::invalid(
            "The endpoint is not active: it serves no snapshot.",
        ));
    };
    let text = turn.text.unwrap_or_default();
    let (intent, score) = bot.classify(&text, Some(&live));
    let label = bot.version(&live).map_or(live.clone(), |v| v.label.clone());
    let answer = if intent == "fallback" {
        format!("Sorry, I did not get that. ({} {label})", bot.name)
    } else {
        format!(
            "Happy to help with {}. ({} {label})",
            intent.replace('_', " "),
            bot.name
        )
    };
    let data =
        json!({"intent": intent, "intentScore": score, "snapshotId": snapshot_id(&bot.id, &live)});
    Ok((
        StatusCode::OK,
        axum::Json(json!({
            "text": answer,
            "data": data,
            "outputStack": [{"text": answer, "data": data, "traceId": format!("trace-{session}"), "disableSensitiveLogging": false, "source": "bot"}],
            "userId": user,
            "sessionId": session,
        })),
    )
        .into_response())
}
