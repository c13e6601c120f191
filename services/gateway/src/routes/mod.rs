use std::{sync::Arc, time::Duration};

use axum::{
    extract::Request,
    http::{header, HeaderName, HeaderValue, Method},
    routing::any,
    Router,
};
use hail_shared::{
    config::Config,
    extract::REQUEST_ID_HEADER,
    redis_conn,
    server::{self, ReadyFuture, Shell},
    ApiError,
};

use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    set_header::SetResponseHeaderLayer,
};

use crate::{
    domain::{paths::check_path, routing::Upstream},
    state::AppState,
    web_apps,
};

pub mod docs;
pub mod proxy;

pub fn router(state: AppState, config: &Config) -> Router {
    let mut routes = Router::from(docs::routes())
        .route("/api/v1/{*rest}", any(proxy::forward))
        .route("/api/{*rest}", any(unknown_route))
        .route("/internal/{*rest}", any(unknown_route))
        .with_state(state.clone());
    if let Some(cors) = cors(&config.cors_origins) {
        routes = routes.layer(cors);
    }
    let ready_state = state.clone();
    let ready = Arc::new(move || Box::pin(ready(ready_state.clone())) as ReadyFuture);
    server::wrap(
        routes,
        Shell {
            service: "gateway",
            ready,
            request_timeout: config.request_timeout,
            fallback: Some(web_apps::fallback(config.static_dir.clone())),
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
    // Outermost: a path that would not route as it reads never gets further.
    .layer(axum::middleware::map_request(refuse_tricky_paths))
    // On every answer: no MIME sniffing, no framing, no full referrers.
    .layer(SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    ))
}

async fn refuse_tricky_paths(request: Request) -> Result<Request, ApiError> {
    check_path(request.uri().path())
        .map_err(|problem| ApiError::BadRequest(problem.message().into()))?;
    Ok(request)
}

/// Cross-origin access for the configured origins only; none configured,
/// no CORS headers at all (browsers then refuse cross-origin calls).
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([
                header::RETRY_AFTER,
                HeaderName::from_static(REQUEST_ID_HEADER),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

async fn unknown_route() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// Ready when Redis is, and one instance of each of the three services.
async fn ready(state: AppState) -> Result<(), String> {
    let mut redis = state.redis.clone();
    redis_conn::ping(&mut redis).await?;
    for upstream in [Upstream::User, Upstream::Driver, Upstream::Trip] {
        let ok = state
            .upstreams
            .instances(upstream)
            .send(|base| state.http.get(format!("{base}/readyz")))
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if !ok {
            return Err(format!("the {} service is not ready", upstream.name()));
        }
    }
    Ok(())
}
