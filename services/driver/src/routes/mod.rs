use axum::{
    routing::{get, post},
    Router,
};
use hail_shared::{
    config::Config,
    internal::{self as gate, Peer},
    server::{self, Shell},
};

use crate::state::AppState;

mod drivers;
mod internal;

pub fn router(state: AppState, config: &Config) -> Router {
    let secret = &config.internal_token;
    let public = Router::new()
        .route("/api/v1/drivers/me", get(drivers::me))
        .route("/api/v1/drivers/me/online", post(drivers::online))
        .route("/api/v1/drivers/me/offline", post(drivers::offline))
        .route("/api/v1/drivers/me/location", post(drivers::location))
        .route("/api/v1/drivers/nearby", get(drivers::nearby));
    let from_user = Router::new().route("/internal/drivers", post(internal::create_profile));
    let from_trip = Router::new()
        .route("/internal/drivers/candidates", post(internal::candidates))
        .route("/internal/drivers/claims", post(internal::claims))
        .route("/internal/drivers/{id}/release", post(internal::release))
        .route("/internal/drivers/{id}/offer", post(internal::show_offer))
        .route(
            "/internal/drivers/{id}/offer/end",
            post(internal::end_offer),
        );
    let from_realtime = Router::new().route(
        "/internal/drivers/{id}/presence",
        post(internal::refresh_presence),
    );
    // Each group answers only the caller it exists for (`hail_shared::internal`).
    let routes = gate::only(public, secret, &[Peer::Gateway])
        .merge(gate::only(from_user, secret, &[Peer::User]))
        .merge(gate::only(from_trip, secret, &[Peer::Trip]))
        .merge(gate::only(from_realtime, secret, &[Peer::Realtime]))
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
