//! The REST proxy: authenticate, check the role, forward, relay the answer.
//!
//! The upstream URL is built from the matched public route
//! ([`match_route`]), never from the raw path, and carries the gateway's own
//! token (`Peer::Gateway`, see `hail_shared::internal`), which the services accept on public routes
//! only. Only an allow-list of client headers is forwarded; identity headers are
//! always the gateway's own, derived from the verified token. The upstream's
//! status and body come back unchanged, so services' errors keep their codes.

use std::net::SocketAddr;

use axum::{
    body::{to_bytes, Body},
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use hail_shared::{
    api::drivers::LocationUpdate,
    api::Role,
    auth::{bearer_token, Claims},
    extract::{
        validated_json, INTERNAL_TOKEN_HEADER, REQUEST_ID_HEADER, USER_ID_HEADER, USER_ROLE_HEADER,
    },
    ApiError,
};
use tower_http::request_id::RequestId;
use uuid::Uuid;

use crate::{
    domain::routing::{match_route, Access, NoRoute, Upstream, LOCATION_PING},
    realtime::pings::WhenFull,
    state::AppState,
};

/// Client headers worth passing on; everything else stays at the door.
const FORWARDED_REQUEST_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::ACCEPT,
    header::USER_AGENT,
    HeaderName::from_static("idempotency-key"),
];

/// Upstream headers worth passing back.
const FORWARDED_RESPONSE_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::RETRY_AFTER,
    header::LOCATION,
    header::CACHE_CONTROL,
];

pub async fn forward(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let limits = &state.limits;
    let client_ip = limits.client_ip(peer, &parts.headers);
    let policy = match match_route(&parts.method, path) {
        Ok(policy) => policy,
        Err(no_route) => {
            limits.check_ip(client_ip)?;
            return Err(match no_route {
                NoRoute::NotFound => ApiError::NotFound("no such route".into()),
                NoRoute::WrongMethod => {
                    ApiError::MethodNotAllowed("this route does not accept that method".into())
                }
            });
        }
    };
    let caller = match policy.access {
        Access::Public => {
            limits.check_auth(client_ip)?;
            None
        }
        Access::Authenticated | Access::Role(_) => {
            // Without a valid token the IP is all there is to limit on.
            let claims = match authenticate(&state, &parts.headers) {
                Ok(claims) => claims,
                Err(err) => {
                    limits.check_ip(client_ip)?;
                    return Err(err);
                }
            };
            limits.check_user(claims.sub)?;
            if let Access::Role(role) = policy.access {
                if claims.role != role {
                    return Err(ApiError::Forbidden(format!(
                        "this endpoint is for {role} accounts"
                    )));
                }
            }
            Some(claims)
        }
    };

    // The size cap is the router's (`hail_shared::server`): a longer body
    // fails as it is read.
    let body = to_bytes(body, usize::MAX)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    if policy.path == "/api/v1/auth/login" {
        if let Some(email) = login_email(&body) {
            limits.check_login_email(&email)?;
        }
    }

    if policy.path == LOCATION_PING {
        if let Some(claims) = &caller {
            // Batched with the socket pings: no HTTP request of its own.
            let update = validated_json::<LocationUpdate>(&parts.headers, &body)?;
            let recorded = state.pings.record(claims.sub, update, WhenFull::Refuse);
            return Ok(match recorded.await {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(refused) => refused.into_response(),
            });
        }
    }

    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{}?{query}", policy.path),
        None => policy.path,
    };
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.header_value().clone());
    let answer = call(
        &state,
        Call {
            upstream: policy.upstream,
            method: parts.method.clone(),
            path_and_query: &path_and_query,
            caller: caller.as_ref().map(|c| (c.sub, c.role)),
            body,
            client_headers: Some(&parts.headers),
            request_id,
            peer: Some(SocketAddr::new(client_ip, peer.port())),
        },
    )
    .await?;
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers;
    Ok(response)
}

/// One call to an internal service on someone's behalf: from the REST
/// proxy, or from a Socket.IO event handler.
pub struct Call<'a> {
    pub upstream: Upstream,
    pub method: Method,
    pub path_and_query: &'a str,
    /// The verified caller, sent as `x-user-id` / `x-user-role`.
    pub caller: Option<(Uuid, Role)>,
    pub body: Bytes,
    /// Headers the client sent (only the allow-listed ones go on).
    pub client_headers: Option<&'a HeaderMap>,
    pub request_id: Option<HeaderValue>,
    pub peer: Option<SocketAddr>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends `call` with the gateway's token; the service's answer comes back
/// as it is. A service that cannot be reached is a 503.
pub async fn call(state: &AppState, call: Call<'_>) -> Result<Answer, ApiError> {
    // Held until the answer is read: a service that is slow to answer gets
    // no more than its share, and the excess is refused at once.
    let _in_flight = state.upstreams.admit(call.upstream)?;
    let build = |base: &str| {
        let mut upstream = state
            .http
            .request(
                call.method.clone(),
                format!("{base}{}", call.path_and_query),
            )
            .header(INTERNAL_TOKEN_HEADER, &*state.proxy_token);
        if let Some(peer) = call.peer {
            upstream = upstream.header("x-forwarded-for", peer.ip().to_string());
        }
        if let Some(headers) = call.client_headers {
            for name in FORWARDED_REQUEST_HEADERS {
                if let Some(value) = headers.get(&name) {
                    upstream = upstream.header(name, value);
                }
            }
        } else if !call.body.is_empty() {
            upstream = upstream.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(id) = &call.request_id {
            upstream = upstream.header(REQUEST_ID_HEADER, id);
        }
        if let Some((user_id, role)) = call.caller {
            upstream = upstream
                .header(USER_ID_HEADER, user_id.to_string())
                .header(USER_ROLE_HEADER, role.as_str());
        }
        if !call.body.is_empty() {
            upstream = upstream.body(call.body.clone());
        }
        upstream
    };

    let service = call.upstream.name();
    let unavailable = |err: reqwest::Error| {
        // Without the URL: its path and query are the client's to choose.
        tracing::warn!(service, error = %err.without_url(), "upstream call failed");
        ApiError::Unavailable(format!(
            "the {service} service is unavailable; try again shortly"
        ))
    };
    let answer = state
        .upstreams
        .instances(call.upstream)
        .send(build)
        .await
        .map_err(unavailable)?;
    let status = answer.status();
    let mut headers = HeaderMap::new();
    for name in FORWARDED_RESPONSE_HEADERS {
        if let Some(value) = answer.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    let body = answer.bytes().await.map_err(unavailable)?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The `email` of a login body, if it has one (a malformed body is the user
/// service's to refuse).
fn login_email(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Login {
        email: String,
    }
    serde_json::from_slice::<Login>(body).ok().map(|l| l.email)
}

fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Claims, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .and_then(bearer_token)
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "missing bearer token: send `Authorization: Bearer <token>`".into(),
            )
        })?;
    state.tokens.verify(token)
}
