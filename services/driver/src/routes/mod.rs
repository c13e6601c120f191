use axum::{
    routing::{get, post},
    Router,
};
use hail_shared::{
    config::Config,
    server::{self, Shell},
};

use crate::state::AppState;

mod drivers;
mod internal;

pub fn router(state: AppState, config: &Config) -> Router {
    let routes = Router::new()
        .route("/api/v1/drivers/me", get(drivers::me))
        .route("/internal/drivers", post(internal::create_profile))
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
