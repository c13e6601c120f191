//! Socket.IO at `/socket.io/` (API.md, "Realtime").
//!
//! - The handshake carries the JWT (`auth.token` or `?token=`); anything else
//!   is refused with `connect_error` "unauthorized".
//! - A socket joins `user:<id>` (and `driver:<id>`), then the room of its
//!   active trip, and gets one `trip:update`: a reconnect resyncs.
//! - Client events go to the owner service through the same internal call as
//!   REST, so their rules (and errors) are exactly REST's; each answers
//!   through its ack with `{ok: true, ...}` or `{ok: false, error}`.
//! - Client events are rate-limited per socket (10/s, bursts of 20).
//! - Server events come from Redis through [`bridge`].

pub mod bridge;

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use axum::http::{Method, StatusCode};
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hail_shared::{api::Role, error::ErrorBody, extract::INTERNAL_TOKEN_HEADER};
use serde::Deserialize;
use serde_json::{json, Value};
use socketioxide::{
    adapter::Adapter,
    extract::{AckSender, Extension, SocketRef, State, TryData},
};
use uuid::Uuid;

use crate::{
    domain::routing::Upstream,
    routes::proxy::{call, Call},
    state::AppState,
};

/// Who a socket belongs to, from its verified token.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    pub user_id: Uuid,
    pub role: Role,
}

type Limiter = Arc<DefaultDirectRateLimiter>;

/// How often a driver's open socket refreshes its presence.
const PRESENCE_REFRESH: Duration = Duration::from_secs(10);

pub fn room_user(id: Uuid) -> String {
    format!("user:{id}")
}

pub fn room_driver(id: Uuid) -> String {
    format!("driver:{id}")
}

pub fn room_trip(id: impl std::fmt::Display) -> String {
    format!("trip:{id}")
}

#[derive(Debug)]
pub struct Unauthorized;

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unauthorized")
    }
}

/// Connect middleware: a valid JWT in `auth.token` or `?token=`, or no socket.
pub async fn authenticate<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<AppState>,
    TryData(auth): TryData<Value>,
) -> Result<(), Unauthorized> {
    let from_auth = auth
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_string));
    let from_query = || {
        socket.req_parts().uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        })
    };
    let token = from_auth.or_else(from_query).ok_or(Unauthorized)?;
    let claims = state.tokens.verify(&token).map_err(|_| Unauthorized)?;
    socket.extensions.insert(Identity {
        user_id: claims.sub,
        role: claims.role,
    });
    let quota = Quota::per_second(NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN));
    let limiter: Limiter = Arc::new(RateLimiter::direct(quota));
    socket.extensions.insert(limiter);
    // Handlers are in place before the client hears it is connected, so an
    // event sent right after the handshake is never dropped.
    socket.on("trip:subscribe", trip_subscribe::<A>);
    socket.on("driver:location", driver_location::<A>);
    socket.on("offer:accept", offer_accept::<A>);
    socket.on("offer:decline", offer_decline::<A>);
    socket.on("room:join", room_join::<A>);
    socket.on("room:leave", room_leave::<A>);
    Ok(())
}

/// The default namespace's connect handler (behind [`authenticate`]).
pub async fn on_connect<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
) {
    let role = who.role.as_str();
    metrics::gauge!("socketio_connections", "role" => role).increment(1);
    socket.on_disconnect(move || async move {
        metrics::gauge!("socketio_connections", "role" => role).decrement(1);
    });
    socket.join(room_user(who.user_id));
    if who.role == Role::Driver {
        socket.join(room_driver(who.user_id));
        tokio::spawn(keep_presence(socket.clone(), state.clone(), who.user_id));
    }
    resync(&socket, &state, who).await;
}

/// Joins the caller's active trip's room and sends its current state.
pub(crate) async fn resync<A: Adapter>(socket: &SocketRef<A>, state: &AppState, who: Identity) {
    let Ok((StatusCode::OK, body)) = service(
        state,
        who,
        Upstream::Trip,
        Method::GET,
        "/api/v1/trips?limit=1",
        None,
    )
    .await
    else {
        return;
    };
    let Some(trip) = body.as_array().and_then(|t| t.first()).cloned() else {
        return;
    };
    let active = matches!(
        trip["status"].as_str(),
        Some("REQUESTED" | "ASSIGNED" | "ONGOING")
    );
    if let (true, Some(id)) = (active, trip["id"].as_str()) {
        socket.join(room_trip(id));
        let _ = socket.emit("trip:update", &trip);
    }
}

/// While a driver's socket is open its presence stays fresh, even between
/// pings; once it closes, presence runs out as usual. This is the one call
/// the gateway makes to an internal route, with a token of its own that the
/// proxy never holds.
async fn keep_presence<A: Adapter>(socket: SocketRef<A>, state: AppState, driver_id: Uuid) {
    let url = format!(
        "{}/internal/drivers/{driver_id}/presence",
        state.upstreams.base_url(Upstream::Driver)
    );
    while socket.connected() {
        let refreshed = state
            .http
            .post(&url)
            .header(INTERNAL_TOKEN_HEADER, &*state.presence_token)
            .send()
            .await;
        if let Err(err) = refreshed {
            tracing::debug!(%driver_id, error = %err, "presence refresh failed; retrying");
        }
        tokio::time::sleep(PRESENCE_REFRESH).await;
    }
}

#[derive(Deserialize)]
struct TripRef {
    trip_id: Uuid,
}

#[derive(Deserialize)]
struct RoomRef {
    key: String,
}

async fn trip_subscribe<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    Extension(limiter): Extension<Limiter>,
    TryData(data): TryData<TripRef>,
    ack: AckSender<A>,
) {
    let answer = async {
        allowed(&limiter)?;
        let data = data.map_err(|_| bad_payload("{trip_id}"))?;
        let path = format!("/api/v1/trips/{}", data.trip_id);
        let trip = expect_ok(service(&state, who, Upstream::Trip, Method::GET, &path, None).await)?;
        socket.join(room_trip(data.trip_id));
        Ok(json!({"ok": true, "trip": trip}))
    };
    reply(ack, answer.await);
}

async fn driver_location<A: Adapter>(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    Extension(limiter): Extension<Limiter>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    let answer = async {
        allowed(&limiter)?;
        let data = data.map_err(|_| bad_payload("{lat, lng, heading?, speed_kmh?}"))?;
        let path = "/api/v1/drivers/me/location";
        expect_ok(
            service(
                &state,
                who,
                Upstream::Driver,
                Method::POST,
                path,
                Some(&data),
            )
            .await,
        )?;
        Ok(json!({"ok": true}))
    };
    reply(ack, answer.await);
}

async fn offer_accept<A: Adapter>(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    Extension(limiter): Extension<Limiter>,
    TryData(data): TryData<TripRef>,
    ack: AckSender<A>,
) {
    reply(
        ack,
        answer_offer(&state, who, &limiter, data, "accept").await,
    );
}

async fn offer_decline<A: Adapter>(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    Extension(limiter): Extension<Limiter>,
    TryData(data): TryData<TripRef>,
    ack: AckSender<A>,
) {
    reply(
        ack,
        answer_offer(&state, who, &limiter, data, "decline").await,
    );
}

async fn answer_offer<E>(
    state: &AppState,
    who: Identity,
    limiter: &Limiter,
    data: Result<TripRef, E>,
    action: &str,
) -> Result<Value, Value> {
    allowed(limiter)?;
    if who.role != Role::Driver {
        return Err(error("forbidden", "only drivers answer offers"));
    }
    let data = data.map_err(|_| bad_payload("{trip_id}"))?;
    let path = format!("/api/v1/trips/{}/{action}", data.trip_id);
    let body = expect_ok(service(state, who, Upstream::Trip, Method::POST, &path, None).await)?;
    Ok(match action {
        "accept" => json!({"ok": true, "trip": body}),
        _ => json!({"ok": true}),
    })
}

async fn room_join<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    Extension(limiter): Extension<Limiter>,
    TryData(data): TryData<RoomRef>,
    ack: AckSender<A>,
) {
    let answer = async {
        allowed(&limiter)?;
        let data = data.map_err(|_| bad_payload("{key}"))?;
        let path = format!(
            "/api/v1/rooms/{}",
            form_urlencoded::byte_serialize(data.key.as_bytes()).collect::<String>()
        );
        let room = expect_ok(service(&state, who, Upstream::Trip, Method::GET, &path, None).await)?;
        socket.join(format!("room:{}", data.key));
        Ok(json!({"ok": true, "state": room}))
    };
    reply(ack, answer.await);
}

async fn room_leave<A: Adapter>(
    socket: SocketRef<A>,
    Extension(limiter): Extension<Limiter>,
    TryData(data): TryData<RoomRef>,
    ack: AckSender<A>,
) {
    let answer = (|| {
        allowed(&limiter)?;
        let data = data.map_err(|_| bad_payload("{key}"))?;
        socket.leave(format!("room:{}", data.key));
        Ok(json!({"ok": true}))
    })();
    reply(ack, answer);
}

/// Calls an internal service as `who`; the status and JSON body come back.
async fn service(
    state: &AppState,
    who: Identity,
    upstream: Upstream,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<(StatusCode, Value), Value> {
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let answer = call(
        state,
        Call {
            upstream,
            method,
            path_and_query: path,
            caller: Some((who.user_id, who.role)),
            body,
            client_headers: None,
            request_id: None,
            peer: None,
        },
    )
    .await
    .map_err(|e| {
        let body = e.body();
        error(&body.error.code, &body.error.message)
    })?;
    let json = if answer.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&answer.body).unwrap_or(Value::Null)
    };
    Ok((answer.status, json))
}

/// A 2xx body, or the service's error in the ack's shape.
fn expect_ok(answer: Result<(StatusCode, Value), Value>) -> Result<Value, Value> {
    let (status, body) = answer?;
    if status.is_success() {
        return Ok(body);
    }
    match serde_json::from_value::<ErrorBody>(body) {
        Ok(err) => Err(error(&err.error.code, &err.error.message)),
        Err(_) => Err(error(
            "unavailable",
            "the service gave no answer; try again",
        )),
    }
}

fn allowed(limiter: &Limiter) -> Result<(), Value> {
    limiter
        .check()
        .map_err(|_| error("rate_limited", "too many events; slow down (10 per second)"))
}

fn bad_payload(shape: &str) -> Value {
    error("bad_request", &format!("the payload must be {shape}"))
}

fn error(code: &str, message: &str) -> Value {
    json!({"ok": false, "error": {"code": code, "message": message}})
}

fn reply<A: Adapter>(ack: AckSender<A>, answer: Result<Value, Value>) {
    let value = answer.unwrap_or_else(|e| e);
    let _ = ack.send(&value);
}
