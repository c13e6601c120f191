use axum::{
    routing::{get, post},
    Router,
};
use hail_shared::{
    config::Config,
    server::{self, Shell},
};

use crate::state::AppState;

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
        .with_state(state.clone());
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
