use axum::{
    routing::{delete, get, post},
    Router,
};
use hail_shared::{
    config::Config,
    internal::{self as gate, Peer},
    server::{self, Shell},
};

use crate::state::AppState;

mod internal;
mod rooms;
mod trips;

pub fn router(state: AppState, config: &Config) -> Router {
    let routes = Router::new()
        .route("/api/v1/trips", post(trips::create).get(trips::list))
        .route("/api/v1/trips/{id}", get(trips::get))
        .route("/api/v1/trips/{id}/accept", post(trips::accept))
        .route("/api/v1/trips/{id}/decline", post(trips::decline))
        .route("/api/v1/trips/{id}/start", post(trips::start))
        .route("/api/v1/trips/{id}/complete", post(trips::complete))
        .route("/api/v1/trips/{id}/cancel", post(trips::cancel))
        .route("/api/v1/trips/{id}/events", get(trips::events))
        .route("/api/v1/rooms/{key}", get(rooms::get))
        .route("/api/v1/rooms/{key}/drivers", post(rooms::join_driver))
        .route(
            "/api/v1/rooms/{key}/drivers/me",
            delete(rooms::leave_driver),
        )
        .route("/api/v1/rooms/{key}/riders", post(rooms::join_rider))
        .route("/api/v1/rooms/{key}/riders/me", delete(rooms::leave_rider))
        .route("/api/v1/rooms/{key}/select", post(rooms::select))
        .route("/api/v1/rooms/{key}/respond", post(rooms::respond))
        .route(
            "/api/v1/rooms/{key}/rides/{ride_id}/cancel",
            post(rooms::cancel_ride),
        )
        .with_state(state.clone());
    let from_driver = Router::new()
        .route("/internal/trips/holds", post(internal::holds))
        .with_state(state.clone());
    // Each group answers only the caller it exists for (`hail_shared::internal`).
    let routes = gate::only(routes, &config.internal_token, &[Peer::Gateway]).merge(gate::only(
        from_driver,
        &config.internal_token,
        &[Peer::Driver],
    ));
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
