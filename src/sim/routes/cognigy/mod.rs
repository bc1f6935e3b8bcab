//! The Cognigy.AI dialect (`relcon sim --dialect cognigy`): the platform's REST API v2.0
//! shapes (docs/cognigy-api.md) served from the same world as the Release API. One module per
//! resource; `views` turns the world into wire shapes and `common` holds what the resource
//! modules share. No resource module imports another.

mod common;
mod conversation;
mod endpoints;
mod odata;
mod projects;
mod snapshots;
mod tasks;
mod views;

use axum::Router;
use axum::middleware;

use crate::sim::App;

pub use common::{no_route, server_date, translate_problems};

pub fn routes() -> Router<App> {
    Router::new()
        .merge(projects::routes())
        .merge(snapshots::routes())
        .merge(tasks::routes())
        .merge(endpoints::routes())
        .merge(conversation::routes())
        .route_layer(middleware::from_fn(common::fill_instance))
        .merge(odata::routes())
}
