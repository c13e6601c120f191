//! The public contract (API.md) as OpenAPI 3.1, served at
//! `GET /api/v1/openapi.json`, plus the offline docs page at `GET /api/docs`.
//!
//! Nothing here describes a service's route. Each service documents its
//! public routes on their handlers and serves that part to the gateway
//! (`hail_shared::openapi`); the gateway's own routes are documented the same
//! way ([`routes`], and the health routes from `hail_shared::server`). The
//! first request for the document fetches the three parts, merges them with
//! the gateway's ([`merge`]), adds what every proxied route shares from the
//! routing table ([`shared_responses`]) and keeps the result while the
//! gateway runs. A service that does not give its part makes that request a
//! 503 and nothing is kept, so the next request tries again. Where the
//! routing table and the parts disagree ([`check`]) the gateway logs it; a
//! test makes sure they never do.

pub mod check;
mod merge;
mod shared_responses;

use axum::{
    extract::State,
    http::header,
    response::{Html, IntoResponse, Response},
};
use bytes::Bytes;
use hail_shared::{
    error::{ErrorBody, ErrorDetail},
    extract::INTERNAL_TOKEN_HEADER,
    openapi::{BearerScheme, PART_PATH},
    ApiError,
};
use serde_json::Value;
use tokio::sync::OnceCell;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{domain::routing::Upstream, state::AppState};

/// The gateway's own documented routes: this document and its docs page.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(GatewayApi::openapi())
        .routes(routes!(openapi_json))
        .routes(routes!(docs_page))
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
    tags((name = "health", description = "Health, readiness, metrics and this contract")),
)]
struct GatewayApi;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health", operation_id = "openapi_doc",
    responses(
        (status = 200, description = "OpenAPI 3.1", body = Object),
        (status = 503, description = "`unavailable`: a service did not give its part of this document; retry shortly", body = ErrorBody),
    ))]
pub async fn openapi_json(State(state): State<AppState>) -> Result<Response, ApiError> {
    let document = state.contract.document(&state).await?;
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
    Html(include_str!("docs.html"))
}

/// The document as served, kept once every service has given its part.
pub struct Contract {
    /// What the gateway presents to fetch a part (`Peer::OpenApi`).
    token: String,
    served: OnceCell<Bytes>,
}

impl Contract {
    pub fn new(token: String) -> Self {
        Self {
            token,
            served: OnceCell::new(),
        }
    }

    /// The document; assembled by the first call that finds every service.
    async fn document(&self, state: &AppState) -> Result<Bytes, ApiError> {
        self.served
            .get_or_try_init(|| assemble(state))
            .await
            .cloned()
    }
}

/// Each service's part of the document, as it serves it.
pub struct Parts {
    pub user: Value,
    pub driver: Value,
    pub trip: Value,
}

impl Parts {
    pub fn of(&self, upstream: Upstream) -> &Value {
        match upstream {
            Upstream::User => &self.user,
            Upstream::Driver => &self.driver,
            Upstream::Trip => &self.trip,
        }
    }
}

async fn assemble(state: &AppState) -> Result<Bytes, ApiError> {
    let (user, driver, trip) = tokio::try_join!(
        fetch_part(state, Upstream::User),
        fetch_part(state, Upstream::Driver),
        fetch_part(state, Upstream::Trip),
    )?;
    let parts = Parts { user, driver, trip };
    for problem in check::disagreements(&parts) {
        tracing::warn!(%problem, "the routing table and the services' OpenAPI parts disagree");
    }
    let gateway = serde_json::to_value(gateway_part()).map_err(ApiError::internal)?;
    // In this order, so paths and tags read as API.md does: the services'
    // first, the gateway's own last.
    let mut document = merge::merge(
        &gateway,
        [parts.user, parts.driver, parts.trip, gateway.clone()],
    );
    shared_responses::add_shared_responses(&mut document);
    add_trip_links(&mut document);
    serde_json::to_vec(&document)
        .map(Bytes::from)
        .map_err(ApiError::internal)
}

/// `upstream`'s part; a service that does not give it is a 503.
async fn fetch_part(state: &AppState, upstream: Upstream) -> Result<Value, ApiError> {
    let service = upstream.name();
    let unavailable = |error: String| {
        tracing::warn!(service, %error, "could not fetch the service's OpenAPI part");
        ApiError::Unavailable(format!(
            "the {service} service is unavailable; try again shortly"
        ))
    };
    let response = state
        .http
        .get(format!("{}{PART_PATH}", state.upstreams.base_url(upstream)))
        .header(INTERNAL_TOKEN_HEADER, &state.contract.token)
        .send()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(unavailable(format!("answered {}", response.status())));
    }
    response
        .json()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))
}

/// OpenAPI links from a created trip to what can be done with it next, so
/// stateful clients and fuzzers (schemathesis) can follow a trip's id.
/// Written as JSON: utoipa 5 serializes `Link` fields in snake_case
/// (`operation_id`), which no tool reads.
fn add_trip_links(document: &mut Value) {
    let links = serde_json::json!({
        "GetTrip": {"operationId": "get_trip", "parameters": {"id": "$response.body#/id"}},
        "TripEvents": {"operationId": "trip_events", "parameters": {"id": "$response.body#/id"}},
        "CancelTrip": {"operationId": "cancel_trip", "parameters": {"id": "$response.body#/id"}},
    });
    for status in ["200", "202"] {
        if let Some(response) = document
            .pointer_mut(&format!("/paths/~1api~1v1~1trips/post/responses/{status}"))
            .and_then(|r| r.as_object_mut())
        {
            response.insert("links".into(), links.clone());
        }
    }
}
