//! The driver service's routes. The public ones are built with `utoipa_axum`'s
//! `OpenApiRouter` from handlers that document themselves, so what it serves
//! and its part of the OpenAPI document (`hail_shared::openapi`) are one
//! list; the internal ones stay out of the document.

use axum::{
    routing::{get, post},
    Router,
};
use hail_shared::{
    config::Config,
    internal::{self as gate, Peer},
    openapi::{self, BearerScheme},
    server::{self, Shell},
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

mod drivers;
mod internal;

/// The drivers' tag; each operation names it.
#[derive(OpenApi)]
#[openapi(
    tags((name = "drivers", description = "Driver status and positions (driver service)")),
    modifiers(&BearerScheme),
)]
struct PublicApi;

/// The public routes, documented by their handlers (`hail_shared::openapi`).
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(PublicApi::openapi())
        .routes(routes!(drivers::me))
        .routes(routes!(drivers::set_vehicle))
        .routes(routes!(drivers::online))
        .routes(routes!(drivers::offline))
        .routes(routes!(drivers::location))
        .routes(routes!(drivers::nearby))
}

pub fn router(state: AppState, config: &Config) -> Router {
    let secret = &config.internal_token;
    let (public, part) = public_routes().split_for_parts();
    let from_user = Router::new().route("/internal/drivers", post(internal::create_profile));
    let from_trip = Router::new()
        .route("/internal/drivers/candidates", post(internal::candidates))
        .route("/internal/drivers/claims", post(internal::claims))
        .route("/internal/drivers/{id}", get(internal::record))
        .route(
            "/internal/drivers/{id}/pickup/end",
            post(internal::end_pickup),
        )
        .route("/internal/rides/{id}/route", post(internal::route_driven))
        .route("/internal/drivers/{id}/release", post(internal::release))
        .route("/internal/drivers/offers", post(internal::show_offers))
        .route(
            "/internal/drivers/{id}/offer/end",
            post(internal::end_offer),
        );
    let from_realtime = Router::new()
        .route(
            "/internal/drivers/{id}/presence",
            post(internal::refresh_presence),
        )
        .route("/internal/drivers/locations", post(internal::locations));
    // Each group answers only the caller it exists for (`hail_shared::internal`).
    let routes = gate::only(public, secret, &[Peer::Gateway])
        .merge(gate::only(from_user, secret, &[Peer::User]))
        .merge(gate::only(from_trip, secret, &[Peer::Trip]))
        .merge(gate::only(from_realtime, secret, &[Peer::Realtime]))
        .merge(openapi::part_route(part, secret))
        .with_state(state.clone());
    server::wrap(
        routes,
        Shell::internal(
            "driver",
            config,
            state.pool.clone(),
            Some(state.redis.clone()),
        ),
    )
}
