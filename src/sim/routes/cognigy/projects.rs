//! `GET /new/v2.0/projects` and `/projects/{id}`: the world's bots as projects.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::common::{CgError, CgResult, ListQuery, PREFIX, authorize, page, query};
use super::views::{find_project, project_view};
use crate::sim::App;

pub fn routes() -> Router<App> {
    Router::new()
        .route(&format!("{PREFIX}/projects"), get(list))
        .route(&format!("{PREFIX}/projects/{{id}}"), get(read))
}

async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> CgResult<Response> {
    authorize(&app, &headers, raw.as_deref())?;
    let q: ListQuery = query(raw.as_deref())?;
    let (g, _) = app.world();
    let items = g
        .world
        .bots
        .values()
        .map(|b| {
            let p = project_view(&app, &g.world, b);
            (p.id.clone(), p.name.clone(), p)
        })
        .collect();
    Ok(axum::Json(page(items, &q)?).into_response())
}

async fn read(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Path(id): Path<String>,
) -> CgResult<Response> {
    authorize(&app, &headers, raw.as_deref())?;
    let (g, _) = app.world();
    let bot = find_project(&g.world, &id).ok_or_else(|| CgError::not_found("Project", &id))?;
    Ok(axum::Json(project_view(&app, &g.world, bot)).into_response())
}
