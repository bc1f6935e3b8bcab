//! `GET /new/v2.0/tasks/{id}`: a snapshot task, queued → active → done, on the simulator's
//! clock.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::common::{CgError, CgResult, PREFIX, authorize};
use super::views::task_view;
use crate::sim::App;

pub fn routes() -> Router<App> {
    Router::new().route(&format!("{PREFIX}/tasks/{{id}}"), get(read))
}

async fn read(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Path(id): Path<String>,
) -> CgResult<Response> {
    authorize(&app, &headers, raw.as_deref())?;
    let (g, now) = app.world();
    let t = g
        .world
        .snapshot_tasks
        .get(&id)
        .ok_or_else(|| CgError::not_found("Task", &id))?;
    Ok(axum::Json(task_view(&app, t, now)).into_response())
}
