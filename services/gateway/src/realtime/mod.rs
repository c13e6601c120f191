//! Socket.IO at `/socket.io/` (API.md, "Realtime").
//!
//! - The handshake carries the JWT (`auth.token` or `?token=`); anything else
//!   is refused with `connect_error` "unauthorized".
//! - A socket joins `user:<id>` (and `driver:<id>`), then the room of its
//!   active trip, and gets one `trip:update`: a reconnect resyncs.
//! - Client events go to the owner service through the same internal call as
//!   REST, so their rules (and errors) are exactly REST's; each answers
//!   through its ack with `{ok: true, ...}` or `{ok: false, error}`.
//! - Abuse limits (API.md): client events share one budget per user across
//!   their sockets (`HAIL_RATE_LIMIT_SOCKET_EVENTS_*`, 10/s, bursts of 20);
//!   a payload over 16 KiB is refused unread; a user holds at most
//!   `HAIL_SOCKETS_PER_USER` sockets (a new one closes the oldest, see
//!   [`sockets`]); a socket is closed when its token expires, after an
//!   `error` event `{code: "token_expired"}`.
//! - Server events come from Redis through [`bridge`].

pub mod bridge;
pub mod sockets;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use bytes::Bytes;
use hail_shared::{api::Role, error::ErrorBody, extract::INTERNAL_TOKEN_HEADER};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{json, Value};
use socketioxide::{
    adapter::Adapter,
    extract::{AckSender, Extension, SocketRef, State, TryData},
    SocketIo,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    domain::routing::{match_route, Upstream},
    routes::proxy::{call, Call},
    state::AppState,
};

/// Who a socket belongs to, from its verified token.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    pub user_id: Uuid,
    pub role: Role,
    /// The token's `exp` (Unix seconds): the socket closes then.
    pub expires_at: i64,
}

/// The largest client event payload read (API.md, "Abuse limits").
pub const MAX_EVENT_BYTES: usize = 16 * 1024;

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

/// A room of one socket, so any gateway can disconnect it by id.
fn room_socket(id: impl std::fmt::Display) -> String {
    format!("socket:{id}")
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
        expires_at: claims.exp,
    });
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
    io: SocketIo<A>,
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
) {
    let role = who.role.as_str();
    metrics::gauge!("socketio_connections", "role" => role).increment(1);
    let closed = CancellationToken::new();
    let forget = (state.clone(), socket.id.to_string(), closed.clone());
    socket.on_disconnect(move || async move {
        let (state, socket_id, closed) = forget;
        metrics::gauge!("socketio_connections", "role" => role).decrement(1);
        closed.cancel();
        let mut redis = state.redis.clone();
        if let Err(err) = state
            .sockets
            .forget(&mut redis, who.user_id, &socket_id)
            .await
        {
            tracing::debug!(error = %err, "could not forget a closed socket");
        }
    });
    socket.join(room_socket(socket.id));
    socket.join(room_user(who.user_id));
    if who.role == Role::Driver {
        socket.join(room_driver(who.user_id));
    }
    evict_past_the_cap(&io, &state, who.user_id, &socket.id.to_string()).await;
    state
        .socket_tasks
        .spawn(watch_socket(socket.clone(), state.clone(), who, closed));
    resync(&socket, &state, who).await;
}

/// Records the socket; closes the user's oldest ones past the cap, on
/// whichever gateway holds them.
async fn evict_past_the_cap<A: Adapter>(
    io: &SocketIo<A>,
    state: &AppState,
    user_id: Uuid,
    socket_id: &str,
) {
    let mut redis = state.redis.clone();
    let evicted = match state.sockets.register(&mut redis, user_id, socket_id).await {
        Ok(evicted) => evicted,
        Err(err) => {
            // Without Redis the cap cannot be counted; the socket stays.
            tracing::warn!(%user_id, error = %err, "could not count the user's sockets");
            return;
        }
    };
    for old in evicted {
        if let Err(err) = io.to(room_socket(&old)).disconnect().await {
            tracing::debug!(%user_id, error = %err, "could not close an old socket");
        }
    }
}

/// For the socket's lifetime: closes it when its token expires and, for a
/// driver, keeps its presence fresh between pings. Returns once the socket
/// is closed, so shutdown can wait for it.
async fn watch_socket<A: Adapter>(
    socket: SocketRef<A>,
    state: AppState,
    who: Identity,
    closed: CancellationToken,
) {
    let left = who.expires_at - chrono::Utc::now().timestamp();
    let expiry = tokio::time::sleep(Duration::from_secs(left.max(0).unsigned_abs()));
    tokio::pin!(expiry);
    let mut presence = tokio::time::interval(PRESENCE_REFRESH);
    loop {
        tokio::select! {
            _ = closed.cancelled() => return,
            _ = &mut expiry => {
                let _ = socket.emit(
                    "error",
                    &json!({"code": "token_expired", "message": "the token has expired; reconnect with a fresh one"}),
                );
                let _ = socket.disconnect();
                return;
            }
            _ = presence.tick(), if who.role == Role::Driver => {
                refresh_presence(&state, who.user_id).await;
            }
        }
    }
}

/// Joins the caller's active trip's room and sends its current state.
pub(crate) async fn resync<A: Adapter>(socket: &SocketRef<A>, state: &AppState, who: Identity) {
    let Ok((StatusCode::OK, body)) =
        service(state, who, Method::GET, "/api/v1/trips?limit=1", None).await
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

/// Keeps a connected driver present between pings. This is the one call
/// the gateway makes to an internal route, with a token of its own that the
/// proxy never holds.
async fn refresh_presence(state: &AppState, driver_id: Uuid) {
    let url = format!(
        "{}/internal/drivers/{driver_id}/presence",
        state.upstreams.base_url(Upstream::Driver)
    );
    let refreshed = state
        .http
        .post(&url)
        .header(INTERNAL_TOKEN_HEADER, &*state.presence_token)
        .send()
        .await;
    if let Err(err) = refreshed {
        tracing::debug!(%driver_id, error = %err.without_url(), "presence refresh failed; retrying");
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

/// What every client event passes first: the user's event budget, the
/// payload's size (never read, parsed or logged past 16 KiB), its shape.
fn admit<T: DeserializeOwned, E>(
    state: &AppState,
    who: Identity,
    data: Result<Value, E>,
    shape: &str,
) -> Result<T, Value> {
    state
        .limits
        .check_socket_event(who.user_id)
        .map_err(|_| error("rate_limited", "too many events; slow down (10 per second)"))?;
    let data = data.map_err(|_| bad_payload(shape))?;
    let size = serde_json::to_vec(&data).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_EVENT_BYTES {
        return Err(error(
            "payload_too_large",
            "the event payload is larger than 16 KiB",
        ));
    }
    serde_json::from_value(data).map_err(|_| bad_payload(shape))
}

async fn trip_subscribe<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    let answer = async {
        let data: TripRef = admit(&state, who, data, "{trip_id}")?;
        let path = format!("/api/v1/trips/{}", data.trip_id);
        let trip = expect_ok(service(&state, who, Method::GET, &path, None).await)?;
        socket.join(room_trip(data.trip_id));
        Ok(json!({"ok": true, "trip": trip}))
    };
    reply(ack, answer.await);
}

async fn driver_location<A: Adapter>(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    let answer = async {
        let data: Value = admit(&state, who, data, "{lat, lng, heading?, speed_kmh?}")?;
        let path = "/api/v1/drivers/me/location";
        expect_ok(service(&state, who, Method::POST, path, Some(&data)).await)?;
        Ok(json!({"ok": true}))
    };
    reply(ack, answer.await);
}

async fn offer_accept<A: Adapter>(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    reply(ack, answer_offer(&state, who, data, "accept").await);
}

async fn offer_decline<A: Adapter>(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    reply(ack, answer_offer(&state, who, data, "decline").await);
}

async fn answer_offer<E>(
    state: &AppState,
    who: Identity,
    data: Result<Value, E>,
    action: &str,
) -> Result<Value, Value> {
    let data: TripRef = admit(state, who, data, "{trip_id}")?;
    if who.role != Role::Driver {
        return Err(error("forbidden", "only drivers answer offers"));
    }
    let path = format!("/api/v1/trips/{}/{action}", data.trip_id);
    let body = expect_ok(service(state, who, Method::POST, &path, None).await)?;
    Ok(match action {
        "accept" => json!({"ok": true, "trip": body}),
        _ => json!({"ok": true}),
    })
}

async fn room_join<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    let answer = async {
        let data: RoomRef = admit(&state, who, data, "{key}")?;
        let path = format!(
            "/api/v1/rooms/{}",
            form_urlencoded::byte_serialize(data.key.as_bytes()).collect::<String>()
        );
        let room = expect_ok(service(&state, who, Method::GET, &path, None).await)?;
        socket.join(format!("room:{}", data.key));
        Ok(json!({"ok": true, "state": room}))
    };
    reply(ack, answer.await);
}

async fn room_leave<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    let answer = admit(&state, who, data, "{key}").map(|data: RoomRef| {
        socket.leave(format!("room:{}", data.key));
        json!({"ok": true})
    });
    reply(ack, answer);
}

/// Calls a public route as `who`, exactly as the REST proxy would: the
/// route must be in the gateway's table, and the path sent is the one
/// rebuilt from it. The status and JSON body come back.
async fn service(
    state: &AppState,
    who: Identity,
    method: Method,
    path_and_query: &str,
    body: Option<&Value>,
) -> Result<(StatusCode, Value), Value> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let route = match_route(&method, path).map_err(|_| error("not_found", "no such route"))?;
    let path_and_query = match query {
        Some(query) => format!("{}?{query}", route.path),
        None => route.path,
    };
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let answer = call(
        state,
        Call {
            upstream: route.upstream,
            method,
            path_and_query: &path_and_query,
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
