//! `/new/v2.0/endpoints`: a bot's environments as endpoints. `PATCH` with an `entrypoint`
//! switches what the environment serves, the way the Release API's switches do (the previous
//! version's sessions drain), so the console's views of the world stay consistent.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::common::{
    CgError, CgJson, CgResult, ListQuery, PREFIX, allowed, authorize, page, query,
};
use super::views::{
    endpoint_id, endpoint_item, endpoint_view, find_endpoint, find_snapshot, flow_of,
    locale_reference, project_id, projects_in,
};
use crate::cognigy::EndpointPatch;
use crate::sim::App;
use crate::sim::world::{DrainCause, SnapshotWork};

pub fn routes() -> Router<App> {
    Router::new()
        .route(&format!("{PREFIX}/endpoints"), get(list))
        .route(
            &format!("{PREFIX}/endpoints/{{id}}"),
            get(read).patch(update),
        )
}

async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> CgResult<Response> {
    authorize(&app, &headers, raw.as_deref())?;
    let q: ListQuery = query(raw.as_deref())?;
    let (g, _) = app.world();
    let (app, w) = (&*app, &g.world);
    let bots = projects_in(w, q.project_id.as_deref())?;
    if let Some(p) = q.project_id.as_deref() {
        for b in &bots {
            allowed(&g.faults, &b.id, p)?;
        }
    }
    let items = bots
        .into_iter()
        .flat_map(|b| {
            b.bindings.iter().map(move |x| {
                let e = endpoint_item(app, w, b, x);
                (e.id.clone(), e.name.clone(), e)
            })
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
    let (bot, binding) =
        find_endpoint(&g.world, &id).ok_or_else(|| CgError::not_found("Endpoint", &id))?;
    allowed(&g.faults, &bot.id, &project_id(&bot.id))?;
    Ok(axum::Json(endpoint_view(&app, &g.world, bot, binding)).into_response())
}

/// The answer to a successful PATCH: `{}` (the package's return type). Whether the platform
/// sends 200 or 204 is open (docs/cognigy-api.md §11, question 2); 200 carries the `{}`.
async fn update(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Path(id): Path<String>,
    CgJson(patch): CgJson<EndpointPatch>,
) -> CgResult<Response> {
    authorize(&app, &headers, raw.as_deref())?;
    let (mut g, now) = app.world();
    let stuck = g.faults.stuck_endpoints.clone();
    let forbidden = g.faults.clone();
    let w = &mut g.world;
    let (bot, binding) =
        find_endpoint(w, &id).ok_or_else(|| CgError::not_found("Endpoint", &id))?;
    let (bot_id, env) = (bot.id.clone(), binding.env.clone());
    allowed(&forbidden, &bot_id, &project_id(&bot_id))?;
    // The world has one flow per endpoint and one locale per project: the simulator takes
    // the values the endpoint already has, and refuses to change them.
    let flow = flow_of(w, bot);
    if let Some(f) = patch.flow_id.as_deref().filter(|f| *f != flow) {
        return Err(CgError::invalid(format!(
            "flowId '{f}': the simulated project serves one flow, '{flow}'"
        )));
    }
    let locale = locale_reference(&bot_id);
    if let Some(l) = patch.locale_id.as_deref().filter(|l| *l != locale) {
        return Err(CgError::invalid(format!(
            "localeId '{l}': the simulated project has one locale, '{locale}'"
        )));
    }
    let target = match patch.entrypoint.as_deref() {
        None => None,
        Some(e) if e == project_id(&bot_id) => {
            return Err(CgError::invalid(
                "entrypoint: the simulator serves snapshots only; serving the working project is not simulated",
            ));
        }
        Some(e) => {
            let (sbot, v) = find_snapshot(w, e).ok_or_else(|| CgError::not_found("Snapshot", e))?;
            if sbot.id != bot_id {
                return Err(CgError::invalid(format!(
                    "entrypoint '{e}' is a Snapshot of another Project"
                )));
            }
            Some(v.id.clone())
        }
    };
    let serving = binding.live.current().clone();
    match patch.active {
        Some(false) => {
            return Err(CgError::invalid(
                "active: false is not simulated; the world has no switched-off environment",
            ));
        }
        Some(true) if serving.is_none() && target.is_none() => {
            return Err(CgError::invalid(
                "active: true needs an entrypoint: the endpoint serves no snapshot",
            ));
        }
        _ => {}
    }
    if stuck.contains(&env) {
        return Err(CgError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            crate::cognigy::code::INTERNAL,
            "The endpoint could not be updated (injected fault stuckEndpoints).",
        ));
    }
    let Some(version) = target.filter(|v| serving.as_deref() != Some(v.as_str())) else {
        return Ok((StatusCode::OK, axum::Json(json!({}))).into_response());
    };
    if let Some((kind, op)) = w.busy(&bot_id) {
        return Err(CgError::conflict(format!(
            "the project has a {kind} in progress ({op}); try again when it has ended"
        )));
    }
    if w.snapshot_tasks.values().any(|t| {
        !t.applied
            && t.bot == bot_id
            && t.work
                == SnapshotWork::Delete {
                    version: version.clone(),
                }
    }) {
        return Err(CgError::conflict(format!(
            "the Snapshot '{}' is being deleted",
            patch.entrypoint.unwrap_or_default()
        )));
    }
    w.switch_live(
        &bot_id,
        &env,
        &version,
        now,
        DrainCause::Endpoint(endpoint_id(&bot_id, &env)),
    );
    Ok((StatusCode::OK, axum::Json(json!({}))).into_response())
}
