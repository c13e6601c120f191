//! The trip service's routes. The public ones are built with `utoipa_axum`'s
//! `OpenApiRouter` from handlers that document themselves, so what it serves
//! and its part of the OpenAPI document (`hail_shared::openapi`) are one
//! list; the internal ones stay out of the document.

use axum::{routing::post, Router};
use hail_shared::{
    config::Config,
    internal::{self as gate, Peer},
    openapi::{self, BearerScheme},
    server::{self, Shell},
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

mod internal;
mod rooms;
mod support;
mod trips;

/// The trips' and rooms' tags; each operation names one.
#[derive(OpenApi)]
#[openapi(
    tags(
        (name = "trips", description = "Trips and dispatch (trip service)"),
        (name = "rooms", description = "Carpool rooms: scheduled shared rides (trip service)"),
        (name = "support", description = "Support staff: any driver's offers, day by day (trip service)"),
    ),
    modifiers(&BearerScheme),
)]
struct PublicApi;

/// The public routes, documented by their handlers (`hail_shared::openapi`).
/// One `routes!` per path: handlers given together share one path.
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(PublicApi::openapi())
        .routes(routes!(trips::create, trips::list))
        .routes(routes!(trips::get))
        .routes(routes!(trips::estimate))
        .routes(routes!(trips::accept))
        .routes(routes!(trips::arrive))
        .routes(routes!(trips::decline))
        .routes(routes!(trips::start))
        .routes(routes!(trips::complete))
        .routes(routes!(trips::cancel))
        .routes(routes!(trips::events))
        .routes(routes!(trips::rate))
        .routes(routes!(support::dispatches))
        .routes(routes!(rooms::get))
        .routes(routes!(rooms::join_driver))
        .routes(routes!(rooms::leave_driver))
        .routes(routes!(rooms::join_rider))
        .routes(routes!(rooms::leave_rider))
        .routes(routes!(rooms::select))
        .routes(routes!(rooms::respond))
        .routes(routes!(rooms::cancel_ride))
}

pub fn router(state: AppState, config: &Config) -> Router {
    let (routes, part) = public_routes().split_for_parts();
    let routes = routes.with_state(state.clone());
    let from_driver = Router::new()
        .route("/internal/trips/holds", post(internal::holds))
        .route(
            "/internal/drivers/{id}/rating",
            axum::routing::get(internal::driver_rating),
        )
        .with_state(state.clone());
    let receipts = Router::new()
        .route(
            "/internal/offers/delivered",
            post(internal::offer_delivered),
        )
        .with_state(state.clone());
    let from_realtime = Router::new()
        .route("/internal/offers/unacked", post(internal::offer_unacked))
        .route(
            "/internal/drivers/{id}/socket",
            post(internal::driver_socket),
        )
        .with_state(state.clone());
    // Each group answers only the caller it exists for (`hail_shared::internal`).
    let routes = gate::only(routes, &config.internal_token, &[Peer::Gateway])
        .merge(gate::only(
            from_driver,
            &config.internal_token,
            &[Peer::Driver],
        ))
        .merge(gate::only(
            receipts,
            &config.internal_token,
            &[Peer::Realtime, Peer::Driver],
        ))
        .merge(gate::only(
            from_realtime,
            &config.internal_token,
            &[Peer::Realtime],
        ))
        .merge(openapi::part_route(part, &config.internal_token));
    server::wrap(
        routes,
        Shell::internal(
            "trip",
            config,
            state.pool.clone(),
            Some(state.redis.clone()),
        ),
    )
}
