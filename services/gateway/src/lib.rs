//! The gateway: the only public door. It verifies the JWT on every `/api/v1`
//! route but register and login, drops whatever `x-user-*` headers a client
//! sent, forwards to the owner service with the caller's identity and the
//! internal token, and serves the built web apps.

mod domain;
mod routes;
mod state;

use hail_shared::{
    config::Config,
    redis_conn,
    server::{Application, StartError},
};

pub use state::AppState;

/// Connects to Redis and binds `HAIL_GATEWAY_PORT` on `HAIL_GATEWAY_HOST`.
pub async fn build(config: &Config) -> Result<Application, StartError> {
    let redis = redis_conn::connect(&config.redis_url).await?;
    let state = AppState::new(config, redis)?;
    let router = routes::router(state, config);
    Application::bind(config.gateway_host, config.ports.gateway, router).await
}
