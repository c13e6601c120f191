//! The HTTP skeleton every service's router shares ([`wrap`]): health and
//! metrics routes, request ids in log spans, request metrics, a deadline per
//! request, a 64 KiB body cap, 414/431 for oversized request heads, JSON
//! 404/405 fallbacks, and panics turned into a logged 500. Services gate
//! their own routes by caller ([`crate::internal`]); binding, serving and
//! shutdown are [`crate::startup`]'s.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use axum::{
    error_handling::HandleErrorLayer,
    extract::{DefaultBodyLimit, Request, State},
    http::{header, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Json, Router,
};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tower::{timeout::TimeoutLayer, BoxError, ServiceBuilder};
use tower_http::{
    catch_panic::CatchPanicLayer,
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa::openapi::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::ErrorBody,
    extract::{MAX_BODY_BYTES, REQUEST_ID_HEADER},
    telemetry, ApiError,
};

/// A service for the paths no route matches.
pub type Fallback = tower::util::BoxCloneSyncService<Request, Response, std::convert::Infallible>;

pub type ReadyFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Checks a service's dependencies for `/readyz`; `Err` names what is down.
pub type ReadyCheck = Arc<dyn Fn() -> ReadyFuture + Send + Sync>;

/// How a service wants its routes wrapped.
pub struct Shell {
    pub service: &'static str,
    pub ready: ReadyCheck,
    pub request_timeout: Duration,
    /// What answers paths no route matches (the gateway's web apps);
    /// without it, unknown paths get a JSON 404.
    pub fallback: Option<Fallback>,
}

impl Shell {
    /// An internal service: it is ready when its Postgres (and Redis, if it has one) answer.
    pub fn internal(
        service: &'static str,
        config: &crate::config::Config,
        pool: sqlx::PgPool,
        redis: Option<crate::redis_conn::RedisConn>,
    ) -> Self {
        Self {
            service,
            ready: dependencies_ready(pool, redis),
            request_timeout: config.request_timeout,
            fallback: None,
        }
    }
}

fn dependencies_ready(
    pool: sqlx::PgPool,
    redis: Option<crate::redis_conn::RedisConn>,
) -> ReadyCheck {
    Arc::new(move || {
        let pool = pool.clone();
        let redis = redis.clone();
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .execute(&pool)
                .await
                .map_err(|e| format!("postgres: {e}"))?;
            match redis {
                Some(mut redis) => crate::redis_conn::ping(&mut redis).await,
                None => Ok(()),
            }
        })
    })
}

/// Wraps a service's own routes with everything in this module's header.
pub fn wrap(routes: Router, shell: Shell) -> Router {
    let service = shell.service;
    // Install the recorder now, so requests before the first scrape count.
    let metrics = telemetry::metrics_handle();
    let routes = match shell.fallback {
        Some(fallback) => routes.fallback_service(fallback),
        None => routes.fallback(|| async { ApiError::NotFound("no such route".into()) }),
    };
    let routes = routes.method_not_allowed_fallback(|| async {
        ApiError::MethodNotAllowed("this route does not accept that method".into())
    });
    let (health, _) = health_routes().split_for_parts();
    let health = health.with_state(Probes {
        ready: shell.ready,
        metrics,
    });
    let timeout = shell.request_timeout;
    health
        .merge(routes)
        .layer(middleware::from_fn(refuse_oversized_heads))
        // The one body cap: a declared length over it is refused before the
        // handler runs, a longer streamed body fails as it is read. axum's
        // own (2 MiB) default is off so that no second limit disagrees.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::map_response(
            payload_too_large_in_contract_shape,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(move |_: BoxError| async move {
                    ApiError::Unavailable(format!(
                        "the request did not finish within {} s; try again",
                        timeout.as_secs_f64()
                    ))
                }))
                .layer(TimeoutLayer::new(timeout)),
        )
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            telemetry::record_http_metrics(service, req, next)
        }))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("a handler panicked").into_response()
            },
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(move |req: &Request| {
                let request_id = req
                    .extensions()
                    .get::<RequestId>()
                    .and_then(|id| id.header_value().to_str().ok())
                    .unwrap_or("-");
                // The path only: query strings may carry tokens.
                let path = telemetry::clip(req.uri().path(), telemetry::MAX_LOGGED_BYTES);
                let method = telemetry::method_label(req.method());
                tracing::info_span!("request", service, method, path, request_id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id_header()))
        .layer(SetRequestIdLayer::new(request_id_header(), MakeRequestUuid))
}

/// The longest path and query a request may have, and the most header
/// bytes (names and values) and headers it may send. Past these the answer
/// is 414 or 431 in the error shape; hyper's own limits, which answer
/// without a body, sit well above them (`crate::startup`).
pub const MAX_URI_BYTES: usize = 8 * 1024;
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
pub const MAX_HEADERS: usize = 100;

pub(crate) async fn refuse_oversized_heads(request: Request, next: Next) -> Response {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::UriTooLong(MAX_URI_BYTES).into_response();
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES || headers.len() > MAX_HEADERS {
        return ApiError::HeadersTooLarge(MAX_HEADER_BYTES).into_response();
    }
    next.run(request).await
}

fn request_id_header() -> http::HeaderName {
    http::HeaderName::from_static(REQUEST_ID_HEADER)
}

/// `RequestBodyLimitLayer` answers an oversized body with a plain-text 413;
/// clients get the contract's error shape instead.
async fn payload_too_large_in_contract_shape(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return ApiError::PayloadTooLarge.into_response();
    }
    response
}

/// What the health routes read.
#[derive(Clone)]
struct Probes {
    ready: ReadyCheck,
    metrics: PrometheusHandle,
}

/// `/healthz`, `/readyz` and `/metrics`, which every service serves.
fn health_routes() -> OpenApiRouter<Probes> {
    OpenApiRouter::default()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The health routes' part of the OpenAPI document. Every service serves
/// them; the gateway's are the public ones, so the gateway documents them.
pub fn health_openapi() -> OpenApi {
    health_routes().into_openapi()
}

/// `/healthz` and `/readyz` when all is well.
#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    #[schema(pattern = "^(ok|ready)$")]
    status: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Redis, Postgres and (for the gateway) the three services answer.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`", body = Health),
        (status = 503, description = "`unavailable`: the message names what is down", body = ErrorBody),
    ))]
async fn readyz(State(probes): State<Probes>) -> Response {
    match (probes.ready)().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ready".into(),
            }),
        )
            .into_response(),
        Err(what) => ApiError::Unavailable(format!("not ready: {what}")).into_response(),
    }
}

/// Prometheus metrics (request counts and latency by service, route and status).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
async fn metrics(State(probes): State<Probes>) -> String {
    probes.metrics.render()
}
