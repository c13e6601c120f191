use std::sync::Arc;

use axum::{extract::Request, routing::any, Router};
use hail_shared::{
    config::Config,
    extract::REQUEST_ID_HEADER,
    redis_conn,
    server::{self, ReadyFuture, Shell},
    ApiError,
};

use crate::{domain::routing::Upstream, state::AppState};

pub mod proxy;

pub fn router(state: AppState, config: &Config) -> Router {
    let routes = Router::new()
        .route("/api/v1/{*rest}", any(proxy::forward))
        .route("/api/{*rest}", any(unknown_route))
        .route("/internal/{*rest}", any(unknown_route))
        .with_state(state.clone());
    let ready_state = state.clone();
    let ready = Arc::new(move || Box::pin(ready(ready_state.clone())) as ReadyFuture);
    server::wrap(
        routes,
        Shell {
            service: "gateway",
            ready,
            internal_token: None,
            request_timeout: config.request_timeout,
            static_dir: Some(config.static_dir.clone()),
        },
    )
    // A request id is the gateway's to give: a client's own is dropped first,
    // so log lines cannot be forged or made to collide.
    .layer(axum::middleware::map_request(
        |mut req: Request| async move {
            req.headers_mut().remove(REQUEST_ID_HEADER);
            req
        },
    ))
}

async fn unknown_route() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// Ready when Redis and the three services are.
async fn ready(state: AppState) -> Result<(), String> {
    let mut redis = state.redis.clone();
    redis_conn::ping(&mut redis).await?;
    for upstream in [Upstream::User, Upstream::Driver, Upstream::Trip] {
        let url = format!("{}/readyz", state.upstreams.base_url(upstream));
        let ok = state
            .http
            .get(url)
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if !ok {
            return Err(format!("the {} service is not ready", upstream.name()));
        }
    }
    Ok(())
}
