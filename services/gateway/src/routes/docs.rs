//! The gateway's own documented routes: `GET /api/v1/openapi.json` (the
//! contract, assembled by `crate::openapi`), `GET /api/docs`, and
//! `GET /api/v1/cities` (from this instance's configuration: every service
//! reads the same `HAIL_CITIES_FILE`).

use axum::Json;
use axum::{
    extract::State,
    http::header,
    response::{Html, IntoResponse, Response},
};
use hail_shared::{
    cities::CitySummary,
    error::{ErrorBody, ErrorDetail},
    openapi::BearerScheme,
    ApiError,
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{openapi::Sources, state::AppState};

/// The gateway's own documented routes: this document and its docs page.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(GatewayApi::openapi())
        .routes(routes!(openapi_json))
        .routes(routes!(docs_page))
        .routes(routes!(cities))
}

/// The gateway's part: the document's title, the shared error shape, the
/// bearer scheme, and the routes the gateway answers itself.
pub fn gateway_part() -> utoipa::openapi::OpenApi {
    let mut part = routes().into_openapi();
    part.merge(hail_shared::server::health_openapi());
    part
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hail",
        description = "Ride-hailing backend: the public contract of the gateway (API.md). \
            Every error answers `{\"error\": {\"code\", \"message\", \"details\"?}}`.",
        license(name = "MIT"),
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerScheme),
    tags(
        (name = "health", description = "Health, readiness, metrics and this contract"),
        (name = "cities", description = "The service areas"),
    ),
)]
struct GatewayApi;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health", operation_id = "openapi_doc",
    responses(
        (status = 200, description = "OpenAPI 3.1", body = Object),
        (status = 503, description = "`unavailable`: a service did not give its part of this document; retry shortly", body = ErrorBody),
    ))]
pub async fn openapi_json(State(state): State<AppState>) -> Result<Response, ApiError> {
    let upstreams = &state.upstreams;
    let base_url = |upstream| upstreams.instances(upstream).pick().to_string();
    let sources = Sources {
        http: &state.http,
        base_url: &base_url,
    };
    let gateway = serde_json::to_value(gateway_part()).map_err(ApiError::internal)?;
    let document = state.contract.document(sources, gateway).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        document,
    )
        .into_response())
}

/// A page rendering this document; works offline.
#[utoipa::path(get, path = "/api/docs", tag = "health", operation_id = "docs_doc",
    responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub async fn docs_page() -> Html<&'static str> {
    // Self-contained (no CDN, no frontend build): it fetches the document
    // and renders it.
    Html(include_str!("../openapi/docs.html"))
}

/// The cities Hail serves; a pickup outside all of them is refused.
#[utoipa::path(get, path = "/api/v1/cities", tag = "cities", operation_id = "list_cities",
    responses((status = 200, description = "Every city, in lookup order", body = Vec<CitySummary>)))]
pub async fn cities(State(state): State<AppState>) -> Json<Vec<CitySummary>> {
    Json(state.cities.summaries())
}
