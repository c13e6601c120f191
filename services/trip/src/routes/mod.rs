use axum::Router;
use hail_shared::{
    config::Config,
    server::{self, Shell},
};

use crate::state::AppState;

pub fn router(state: AppState, config: &Config) -> Router {
    let routes = Router::new().with_state(state.clone());
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
