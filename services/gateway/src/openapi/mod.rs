//! The public contract (API.md) as OpenAPI 3.1, generated from the shared
//! Rust types with utoipa, served at `GET /api/v1/openapi.json`, plus the
//! offline docs page at `GET /api/docs`.
//!
//! Each path is declared on a doc-only function here, so the services'
//! handlers stay as they are. What every route shares is added from the
//! gateway's own routing table ([`match_route`]) rather than written per
//! route: bearer security and 401 where a token is needed, 403 where a role
//! is, and 429 / 503 on everything the gateway proxies. A test checks that
//! every public route the services register is described here.

use axum::{
    http::{header, HeaderValue},
    response::{Html, IntoResponse, Response},
    Json,
};
use utoipa::{
    openapi::{
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
        OpenApi as Spec, Ref, RefOr, ResponseBuilder,
    },
    Modify, OpenApi,
};

use hail_shared::{
    api::{auth, drivers, rooms, trips, Role},
    error::{ErrorBody, ErrorDetail},
};

use crate::domain::routing::{match_route, Access};

/// `GET /api/v1/openapi.json`.
pub async fn openapi_json() -> Response {
    let mut response = Json(spec_json()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /api/docs`: a self-contained page (no CDN, no frontend build) that
/// fetches the spec and renders it.
pub async fn docs_page() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

/// The whole contract.
pub fn spec() -> Spec {
    let mut spec = ApiDoc::openapi();
    add_shared_responses(&mut spec);
    spec
}

/// The contract as served.
pub fn spec_json() -> serde_json::Value {
    let mut json = serde_json::to_value(spec()).unwrap_or_default();
    add_trip_links(&mut json);
    json
}

/// OpenAPI links from a created trip to what can be done with it next, so
/// stateful clients and fuzzers (schemathesis) can follow a trip's id.
/// Written as JSON: utoipa 5 serializes `Link` fields in snake_case
/// (`operation_id`), which no tool reads.
fn add_trip_links(spec: &mut serde_json::Value) {
    let links = serde_json::json!({
        "GetTrip": {"operationId": "get_trip", "parameters": {"id": "$response.body#/id"}},
        "TripEvents": {"operationId": "trip_events", "parameters": {"id": "$response.body#/id"}},
        "CancelTrip": {"operationId": "cancel_trip", "parameters": {"id": "$response.body#/id"}},
    });
    for status in ["200", "202"] {
        if let Some(response) = spec
            .pointer_mut(&format!("/paths/~1api~1v1~1trips/post/responses/{status}"))
            .and_then(|r| r.as_object_mut())
        {
            response.insert("links".into(), links.clone());
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hail",
        description = "Ride-hailing backend: the public contract of the gateway (API.md). \
            Every error answers `{\"error\": {\"code\", \"message\", \"details\"?}}`.",
        license(name = "MIT"),
    ),
    paths(
        register, login, me,
        driver_me, driver_online, driver_offline, driver_location, drivers_nearby,
        create_trip, list_trips, get_trip, accept_trip, decline_trip, start_trip,
        complete_trip, cancel_trip, trip_events,
        get_room, room_join_driver, room_leave_driver, room_join_rider, room_leave_rider,
        room_select, room_respond, room_cancel_ride,
        healthz, readyz, metrics, openapi_doc, docs_doc,
    ),
    components(schemas(ErrorBody, ErrorDetail, Role, Health)),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Accounts (user service)"),
        (name = "drivers", description = "Driver status and positions (driver service)"),
        (name = "trips", description = "Trips and dispatch (trip service)"),
        (name = "rooms", description = "Carpool rooms: scheduled shared rides (trip service)"),
        (name = "health", description = "Health, readiness, metrics and this contract"),
    ),
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Spec) {
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

const BEARER: &str = "bearer";

/// Adds, from the gateway's routing table, what every route shares.
fn add_shared_responses(spec: &mut Spec) {
    for (path, item) in spec.paths.paths.iter_mut() {
        let operations = [
            ("GET", item.get.as_mut()),
            ("POST", item.post.as_mut()),
            ("DELETE", item.delete.as_mut()),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            let method = method.parse().unwrap_or(axum::http::Method::GET);
            let Ok(policy) = match_route(&method, &sample_path(path)) else {
                continue;
            };
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| error_response(description));
            };
            if policy.access != Access::Public {
                add(
                    "401",
                    "`unauthorized`: missing, malformed, expired or forged token",
                );
                operation.security =
                    Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
            }
            if let Access::Role(role) = policy.access {
                add(
                    "403",
                    &format!("`forbidden`: only {role} accounts may call this"),
                );
            }
            if operation.request_body.is_some() {
                add(
                    "400",
                    "`bad_request`: malformed JSON or wrong content type, or a path with a dot segment, an encoded slash or a control character",
                );
                add("413", "`payload_too_large`: body over 64 KiB");
                add(
                    "422",
                    "`validation_failed`: `details` lists `{field: [messages]}`",
                );
            }
            // Any path the gateway refuses before routing (API.md, "Abuse limits").
            add(
                "400",
                "`bad_request`: a path with a dot segment, an encoded slash or a control character",
            );
            add(
                "429",
                "`rate_limited`: too many requests; the `Retry-After` header says when to retry",
            );
            add(
                "503",
                "`unavailable`: Redis, Postgres or a service is unreachable; retry shortly",
            );
        }
    }
}

/// A concrete path for a templated one, to look its policy up.
fn sample_path(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// `/healthz` and `/readyz` when all is well.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Health {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    #[schema(pattern = "^(ok|ready)$")]
    status: String,
}

// ---- auth ---------------------------------------------------------------

/// Create an account. Emails are compared case-insensitively.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = auth::RegisterRequest,
    responses(
        (status = 201, description = "Registered; the token is ready to use", body = auth::AuthResponse),
        (status = 409, description = "`email_taken`", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn register() {}

/// Log in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = auth::LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = auth::AuthResponse),
        (status = 401, description = "`unauthorized`: wrong email or password", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn login() {}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, description = "The caller", body = auth::User)))]
#[allow(dead_code)]
fn me() {}

// ---- drivers ------------------------------------------------------------

/// The calling driver: status, current trip, open offer, last position.
#[utoipa::path(get, path = "/api/v1/drivers/me", tag = "drivers",
    responses((status = 200, description = "The driver's profile", body = drivers::DriverProfile)))]
#[allow(dead_code)]
fn driver_me() {}

/// Become matchable (idempotent).
#[utoipa::path(post, path = "/api/v1/drivers/me/online", tag = "drivers",
    responses(
        (status = 200, description = "Now ONLINE", body = drivers::StatusResponse),
        (status = 409, description = "`conflict`: the driver is BUSY on a trip", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn driver_online() {}

/// Stop being matchable.
#[utoipa::path(post, path = "/api/v1/drivers/me/offline", tag = "drivers",
    responses(
        (status = 200, description = "Now OFFLINE", body = drivers::StatusResponse),
        (status = 409, description = "`conflict`: the driver is BUSY on a trip", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn driver_offline() {}

/// Report the driver's position.
#[utoipa::path(post, path = "/api/v1/drivers/me/location", tag = "drivers",
    request_body = drivers::LocationUpdate,
    responses(
        (status = 204, description = "Recorded"),
        (status = 409, description = "`driver_offline`: go online first", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn driver_location() {}

/// ONLINE, present and unclaimed drivers near a point, nearest first (any role).
#[utoipa::path(get, path = "/api/v1/drivers/nearby", tag = "drivers",
    params(drivers::NearbyQuery),
    responses(
        (status = 200, description = "Nearest first", body = Vec<drivers::NearbyDriver>),
        (status = 400, description = "`bad_request`: a query value is not a number", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a value is out of range", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn drivers_nearby() {}

// ---- trips --------------------------------------------------------------

/// Ask for a trip; matching runs in the background.
#[utoipa::path(post, path = "/api/v1/trips", tag = "trips",
    request_body = trips::TripRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 64,
            description = "Same key and body again answers the same trip (200); same key, other body: 422"),
    ),
    responses(
        (status = 202, description = "The trip, REQUESTED", body = trips::Trip),
        (status = 200, description = "A replay of the same Idempotency-Key and body", body = trips::Trip),
        (status = 409, description = "`active_trip_exists`: the rider already has a REQUESTED, ASSIGNED or ONGOING trip", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn create_trip() {}

/// The caller's own trips, newest first.
#[utoipa::path(get, path = "/api/v1/trips", tag = "trips",
    params(trips::TripListQuery),
    responses(
        (status = 200, description = "Newest first", body = Vec<trips::Trip>),
        (status = 400, description = "`bad_request`: `limit` is not a number", body = ErrorBody),
        (status = 422, description = "`validation_failed`: `limit` out of range", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn list_trips() {}

/// One trip, for its rider or driver.
#[utoipa::path(get, path = "/api/v1/trips/{id}", tag = "trips",
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "The trip", body = trips::Trip),
        (status = 404, description = "`not_found`: no such trip, or not the caller's", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn get_trip() {}

/// Accept the offer the calling driver holds.
#[utoipa::path(post, path = "/api/v1/trips/{id}/accept", tag = "trips",
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "The trip, ASSIGNED", body = trips::Trip),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`offer_expired` (the offer is gone) or `invalid_transition`", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn accept_trip() {}

/// Decline the offer; the next candidate is offered at once.
#[utoipa::path(post, path = "/api/v1/trips/{id}/decline", tag = "trips",
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "Declined", body = trips::DeclineResponse),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`offer_expired`", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn decline_trip() {}

/// The assigned driver picks the rider up.
#[utoipa::path(post, path = "/api/v1/trips/{id}/start", tag = "trips",
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "The trip, ONGOING", body = trips::Trip),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn start_trip() {}

/// The assigned driver drops the rider off; the driver is ONLINE again.
#[utoipa::path(post, path = "/api/v1/trips/{id}/complete", tag = "trips",
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "The trip, COMPLETED", body = trips::Trip),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn complete_trip() {}

/// Cancel: the rider at any active step; the assigned driver before the end
/// (an ASSIGNED trip goes back to REQUESTED without that driver).
#[utoipa::path(post, path = "/api/v1/trips/{id}/cancel", tag = "trips",
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    request_body(content = Option<trips::CancelRequest>, description = "Optional `{reason}`"),
    responses(
        (status = 200, description = "The trip after the move", body = trips::Trip),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn cancel_trip() {}

/// The dispatch audit trail, oldest first.
#[utoipa::path(get, path = "/api/v1/trips/{id}/events", tag = "trips",
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "Oldest first", body = Vec<trips::DispatchEvent>),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn trip_events() {}

// ---- rooms --------------------------------------------------------------

/// A departure slot's state.
#[utoipa::path(get, path = "/api/v1/rooms/{key}", tag = "rooms",
    params(RoomKey),
    responses(
        (status = 200, description = "The room", body = rooms::RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn get_room() {}

/// A driver offers seats in the room.
#[utoipa::path(post, path = "/api/v1/rooms/{key}/drivers", tag = "rooms",
    params(RoomKey), request_body = rooms::JoinAsDriver,
    responses(
        (status = 200, description = "The room, with the driver in it", body = rooms::RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn room_join_driver() {}

/// The calling driver leaves the room.
#[utoipa::path(delete, path = "/api/v1/rooms/{key}/drivers/me", tag = "rooms",
    params(RoomKey),
    responses(
        (status = 200, description = "The room", body = rooms::RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn room_leave_driver() {}

/// The calling rider joins the queue (again: no duplicate).
#[utoipa::path(post, path = "/api/v1/rooms/{key}/riders", tag = "rooms",
    params(RoomKey),
    responses(
        (status = 200, description = "The room, with the rider queued", body = rooms::RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 403, description = "`forbidden`: riders only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn room_join_rider() {}

/// The calling rider leaves the queue.
#[utoipa::path(delete, path = "/api/v1/rooms/{key}/riders/me", tag = "rooms",
    params(RoomKey),
    responses(
        (status = 200, description = "The room", body = rooms::RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 403, description = "`forbidden`: riders only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn room_leave_rider() {}

/// A driver with a seat left picks a waiting rider, who gets `room:match_request`.
#[utoipa::path(post, path = "/api/v1/rooms/{key}/select", tag = "rooms",
    params(RoomKey), request_body = rooms::SelectRider,
    responses(
        (status = 200, description = "The room, the rider now pending", body = rooms::RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`: the rider is no longer waiting, or no seat is left", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn room_select() {}

/// The pending rider accepts (a seat is taken) or declines (back to the front).
#[utoipa::path(post, path = "/api/v1/rooms/{key}/respond", tag = "rooms",
    params(RoomKey), request_body = rooms::MatchResponse,
    responses(
        (status = 200, description = "The room", body = rooms::RoomState),
        (status = 403, description = "`forbidden`: riders only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 404, description = "`not_found`: nothing is pending for the caller", body = ErrorBody),
        (status = 409, description = "`conflict`: nothing is pending for the caller", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn room_respond() {}

/// That ride's driver or rider cancels it; the seat comes back.
#[utoipa::path(post, path = "/api/v1/rooms/{key}/rides/{ride_id}/cancel", tag = "rooms",
    params(RoomKey, ("ride_id" = uuid::Uuid, Path, description = "Ride id")),
    responses(
        (status = 200, description = "The room", body = rooms::RoomState),
        (status = 404, description = "`not_found`: no such ride, or not the caller's", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`: the ride is already cancelled", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn room_cancel_ride() {}

/// A room key path parameter.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct RoomKey {
    /// `<origin>:<day>:<HH:MM>`, e.g. `Westie:mon:08:00`.
    #[param(
        pattern = r"^[A-Za-z0-9_-]{1,32}:(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$",
        example = "Westie:mon:08:00"
    )]
    key: String,
}

// ---- health and the contract itself ----------------------------------------

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Health)))]
#[allow(dead_code)]
fn healthz() {}

/// Redis, Postgres and (for the gateway) the three services answer.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`", body = Health),
        (status = 503, description = "`unavailable`: the message names what is down", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn readyz() {}

/// Prometheus metrics (request counts and latency by service, route and status).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
#[allow(dead_code)]
fn metrics() {}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
#[allow(dead_code)]
fn openapi_doc() {}

/// A page rendering this document; works offline.
#[utoipa::path(get, path = "/api/docs", tag = "health",
    responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
#[allow(dead_code)]
fn docs_doc() {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every public route a service registers, as (METHOD, template), read
    /// from the services' route tables: a new route without docs fails here.
    fn registered_routes() -> Vec<(String, String)> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut routes = Vec::new();
        for service in ["user", "driver", "trip"] {
            let dir = format!("{root}/{service}/src/routes");
            for entry in std::fs::read_dir(&dir).unwrap() {
                let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                routes.extend(parse_routes(&source));
            }
        }
        routes
    }

    /// Finds `.route("/api/v1/...", get(..).post(..))` calls.
    fn parse_routes(source: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for chunk in source.split(".route(").skip(1) {
            let Some(start) = chunk.find('"') else {
                continue;
            };
            let rest = &chunk[start + 1..];
            let Some(end) = rest.find('"') else { continue };
            let path = &rest[..end];
            if !path.starts_with("/api/v1/") {
                continue;
            }
            // The handler expression runs to the paren closing `.route(`.
            let mut depth = 1;
            let mut handlers = String::new();
            for c in rest[end + 1..].chars() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                handlers.push(c);
            }
            let tokens: Vec<&str> = handlers
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .collect();
            for method in ["get", "post", "put", "patch", "delete"] {
                if tokens.contains(&method) {
                    found.push((method.to_uppercase(), path.to_string()));
                }
            }
        }
        found
    }

    fn documented(spec: &Spec) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, item) in &spec.paths.paths {
            for (method, op) in [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
            ] {
                if op {
                    out.push((method.to_string(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn the_route_parser_reads_chained_and_multiline_routes() {
        let source = r#"
            .route("/api/v1/trips", post(trips::create).get(trips::list))
            .route(
                "/api/v1/rooms/{key}/drivers/me",
                delete(rooms::leave),
            )
            .route("/internal/drivers", post(internal::create_profile))
        "#;
        assert_eq!(
            parse_routes(source),
            vec![
                ("GET".into(), "/api/v1/trips".into()),
                ("POST".into(), "/api/v1/trips".into()),
                ("DELETE".into(), "/api/v1/rooms/{key}/drivers/me".into()),
            ]
        );
    }

    #[test]
    fn every_registered_route_is_documented() {
        let documented = documented(&spec());
        let registered = registered_routes();
        assert!(registered.len() >= 17, "found only {registered:?}");
        for route in registered {
            assert!(
                documented.contains(&route),
                "{} {} is served but not in the OpenAPI document: add it to services/gateway/src/openapi.rs",
                route.0,
                route.1
            );
        }
    }

    #[test]
    fn every_documented_api_route_is_routed_by_the_gateway() {
        for (method, path) in documented(&spec()) {
            if !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json" {
                continue;
            }
            let method: axum::http::Method = method.parse().unwrap();
            assert!(
                match_route(&method, &sample_path(&path)).is_ok(),
                "{method} {path} is documented but the gateway does not route it"
            );
        }
    }

    #[test]
    fn security_and_shared_errors_follow_the_routing_table() {
        let spec = spec_json();
        assert_eq!(spec["openapi"], "3.1.0");
        let login = &spec["paths"]["/api/v1/auth/login"]["post"];
        assert!(login.get("security").is_none(), "login needs no token");
        assert!(login["responses"]["429"].is_object());
        let room = &spec["paths"]["/api/v1/rooms/{key}"]["get"];
        assert!(
            room["responses"]["400"].is_object(),
            "a refused path is a 400 on every route"
        );
        let create = &spec["paths"]["/api/v1/trips"]["post"];
        assert_eq!(create["security"][0]["bearer"], serde_json::json!([]));
        assert!(create["responses"]["403"].is_object());
        assert_eq!(
            create["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        let links = &create["responses"]["202"]["links"];
        assert_eq!(links["GetTrip"]["operationId"], "get_trip");
        assert_eq!(links["GetTrip"]["parameters"]["id"], "$response.body#/id");
        let me = &spec["paths"]["/api/v1/auth/me"]["get"];
        assert!(
            me["responses"]["403"].is_null(),
            "any role may call /auth/me"
        );
    }

    #[test]
    fn contract_details_are_in_the_schemas() {
        let spec = serde_json::to_value(spec()).unwrap();
        let schemas = &spec["components"]["schemas"];
        let statuses = &schemas["TripStatus"]["enum"];
        assert!(statuses
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("NO_DRIVER")));
        assert_eq!(
            schemas["Role"]["enum"],
            serde_json::json!(["rider", "driver"])
        );
        assert_eq!(
            schemas["Trip"]["properties"]["created_at"]["format"],
            "date-time"
        );
        let driver_id = serde_json::to_string(&schemas["Trip"]["properties"]["driver_id"]).unwrap();
        assert!(
            driver_id.contains("null"),
            "driver_id is nullable: {driver_id}"
        );
        let create = &spec["paths"]["/api/v1/trips"]["post"];
        let header = create["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Idempotency-Key")
            .unwrap();
        assert_eq!(header["in"], "header");
        let nearby = &spec["paths"]["/api/v1/drivers/nearby"]["get"]["parameters"];
        assert_eq!(nearby.as_array().unwrap().len(), 4);
    }
}
