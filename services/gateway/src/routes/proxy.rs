//! The REST proxy: authenticate, check the role, forward, relay the answer.
//!
//! Only an allow-list of client headers is forwarded; identity headers are
//! always the gateway's own, derived from the verified token. The upstream's
//! status and body come back unchanged, so services' errors keep their codes.

use std::net::SocketAddr;

use axum::{
    body::{to_bytes, Body},
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, HeaderName, HeaderValue},
    response::Response,
};
use hail_shared::{
    auth::{bearer_token, Claims},
    extract::{
        INTERNAL_TOKEN_HEADER, MAX_BODY_BYTES, REQUEST_ID_HEADER, USER_ID_HEADER, USER_ROLE_HEADER,
    },
    ApiError,
};
use tower_http::request_id::RequestId;

use crate::{
    domain::routing::{route_policy, Access},
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
    let policy = route_policy(&parts.method, path)
        .ok_or_else(|| ApiError::NotFound("no such route".into()))?;
    let caller = match policy.access {
        Access::Public => None,
        Access::Authenticated => Some(authenticate(&state, &parts.headers)?),
        Access::Role(role) => {
            let claims = authenticate(&state, &parts.headers)?;
            if claims.role != role {
                return Err(ApiError::Forbidden(format!(
                    "this endpoint is for {role} accounts"
                )));
            }
            Some(claims)
        }
    };

    let declared_len = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared_len.is_some_and(|len| len > MAX_BODY_BYTES) {
        return Err(ApiError::PayloadTooLarge);
    }
    let body = to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;

    let base = state.upstreams.base_url(policy.upstream);
    let url = match parts.uri.query() {
        Some(query) => format!("{base}{path}?{query}"),
        None => format!("{base}{path}"),
    };
    let mut upstream = state
        .http
        .request(parts.method.clone(), url)
        .header(INTERNAL_TOKEN_HEADER, &*state.internal_token)
        .header("x-forwarded-for", peer.ip().to_string());
    for name in FORWARDED_REQUEST_HEADERS {
        if let Some(value) = parts.headers.get(&name) {
            upstream = upstream.header(name, value);
        }
    }
    if let Some(id) = parts.extensions.get::<RequestId>() {
        upstream = upstream.header(REQUEST_ID_HEADER, id.header_value());
    }
    if let Some(claims) = &caller {
        upstream = upstream
            .header(USER_ID_HEADER, claims.sub.to_string())
            .header(USER_ROLE_HEADER, claims.role.as_str());
    }
    if !body.is_empty() {
        upstream = upstream.body(body);
    }

    let unavailable = |err: reqwest::Error| {
        tracing::warn!(service = policy.upstream.name(), error = %err, "upstream call failed");
        ApiError::Unavailable(format!(
            "the {} service is unavailable; try again shortly",
            policy.upstream.name()
        ))
    };
    let answer = upstream.send().await.map_err(unavailable)?;
    let status = answer.status();
    let mut headers = HeaderMap::new();
    for name in FORWARDED_RESPONSE_HEADERS {
        if let Some(value) = answer.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    let bytes = answer.bytes().await.map_err(unavailable)?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
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
