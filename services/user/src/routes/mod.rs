//! The user service's routes. The public ones are built with `utoipa_axum`'s
//! `OpenApiRouter` from handlers that document themselves, so what it serves
//! and its part of the OpenAPI document (`hail_shared::openapi`) are one list.

use axum::Router;
use hail_shared::{
    config::Config,
    internal::{self, Peer},
    openapi::{self, BearerScheme},
    server::{self, Shell},
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

mod auth;

/// The accounts' tag; each operation names it.
#[derive(OpenApi)]
#[openapi(
    tags((name = "auth", description = "Accounts (user service)")),
    modifiers(&BearerScheme),
)]
struct PublicApi;

/// The public routes, documented by their handlers (`hail_shared::openapi`).
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(PublicApi::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::me))
}

pub fn router(state: AppState, config: &Config) -> Router {
    let (public, part) = public_routes().split_for_parts();
    let routes = internal::only(public, &config.internal_token, &[Peer::Gateway])
        .merge(openapi::part_route(part, &config.internal_token))
        .with_state(state.clone());
    server::wrap(
        routes,
        Shell::internal("user", config, state.pool.clone(), None),
    )
}
