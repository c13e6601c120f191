use axum::{
    routing::{get, post},
    Router,
};
use hail_shared::{
    config::Config,
    internal::{self, Peer},
    server::{self, Shell},
};

use crate::state::AppState;

mod auth;

pub fn router(state: AppState, config: &Config) -> Router {
    let routes = Router::new()
        .route("/api/v1/auth/register", post(auth::register))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/me", get(auth::me))
        .with_state(state.clone());
    let routes = internal::only(routes, &config.internal_token, &[Peer::Gateway]);
    server::wrap(
        routes,
        Shell::internal("user", config, state.pool.clone(), None),
    )
}
