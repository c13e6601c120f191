//! The public contract (API.md) as OpenAPI 3.1, served at
//! `GET /api/v1/openapi.json`, plus the offline docs page at `GET /api/docs`.
//!
//! Nothing here describes a service's route. Each service documents its
//! public routes on their handlers and serves that part to the gateway
//! (`hail_shared::openapi`); the gateway's own routes are documented the same
//! way (`crate::routes::docs`, and the health routes from
//! `hail_shared::server`). The
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

use bytes::Bytes;
use hail_shared::{extract::INTERNAL_TOKEN_HEADER, openapi::PART_PATH, ApiError};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::domain::routing::Upstream;

/// Where the parts come from: the gateway's HTTP client and each service's
/// base URL.
pub struct Sources<'a> {
    pub http: &'a reqwest::Client,
    pub base_url: &'a (dyn Fn(Upstream) -> String + Sync),
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
    /// `gateway` is the gateway's own part (its routes, the shared shapes).
    pub async fn document(&self, sources: Sources<'_>, gateway: Value) -> Result<Bytes, ApiError> {
        self.served
            .get_or_try_init(|| assemble(sources, &self.token, gateway))
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

async fn assemble(sources: Sources<'_>, token: &str, gateway: Value) -> Result<Bytes, ApiError> {
    let (user, driver, trip) = tokio::try_join!(
        fetch_part(&sources, token, Upstream::User),
        fetch_part(&sources, token, Upstream::Driver),
        fetch_part(&sources, token, Upstream::Trip),
    )?;
    let parts = Parts { user, driver, trip };
    for problem in check::disagreements(&parts) {
        tracing::warn!(%problem, "the routing table and the services' OpenAPI parts disagree");
    }
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
async fn fetch_part(
    sources: &Sources<'_>,
    token: &str,
    upstream: Upstream,
) -> Result<Value, ApiError> {
    let service = upstream.name();
    let unavailable = |error: String| {
        tracing::warn!(service, %error, "could not fetch the service's OpenAPI part");
        ApiError::Unavailable(format!(
            "the {service} service is unavailable; try again shortly"
        ))
    };
    let response = sources
        .http
        .get(format!("{}{PART_PATH}", (sources.base_url)(upstream)))
        .header(INTERNAL_TOKEN_HEADER, token)
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
