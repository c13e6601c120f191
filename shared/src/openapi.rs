//! Each service's part of the public contract (API.md as OpenAPI 3.1).
//!
//! A service builds its public routes with `utoipa_axum`'s `OpenApiRouter`
//! from handlers annotated with `#[utoipa::path]`, so the routes it serves and
//! the routes it documents are one list. It serves that part, and only that
//! part (no internal route), at [`PART_PATH`] to the gateway's OpenAPI
//! collector alone ([`Peer::OpenApi`]); the gateway merges the parts into the
//! document it serves.
//!
//! A handler that reads the caller declares `security(("bearer" = [...]))`,
//! naming the role it insists on (OpenAPI allows role names as the scopes of
//! a non-OAuth scheme), so the gateway can check its routing table against
//! what the services say.

use axum::{routing::get, Json, Router};
use utoipa::{
    openapi::{
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
        OpenApi,
    },
    Modify,
};

use crate::internal::{self, Peer};

/// Where a service serves its part.
pub const PART_PATH: &str = "/internal/openapi.json";

/// The name of the bearer (JWT) security scheme.
pub const BEARER: &str = "bearer";

/// Adds the bearer scheme the `security` requirements name.
pub struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256 JWT from register or login: `Authorization: Bearer <token>`",
                    ))
                    .build(),
            ),
        );
    }
}

/// `GET` [`PART_PATH`]: `part`, for the gateway's collector only.
pub fn part_route<S>(part: OpenApi, secret: &str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let route = Router::new().route(
        PART_PATH,
        get(move || {
            let part = part.clone();
            async move { Json(part) }
        }),
    );
    internal::only(route, secret, &[Peer::OpenApi])
}
