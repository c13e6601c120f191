//! Socket.IO at `/socket.io/` (API.md, "Realtime").
//!
//! - The handshake carries the JWT (`auth.token` or `?token=`); anything else
//!   is refused with `connect_error` "unauthorized".
//! - A socket joins `user:<id>` (and `driver:<id>`), then the room of its
//!   active trip, and gets one `trip:update`: a reconnect resyncs.
//! - Client events ([`events`]) go to the owner service through the same
//!   internal call as REST, so their rules (and errors) are exactly REST's;
//!   each answers through its ack with `{ok: true, ...}` or `{ok: false, error}`.
//!   Pings are the exception in transport only: checked here as REST checks
//!   them, then batched into one call for many sockets ([`pings`]).
//! - Abuse limits (API.md): client events share one budget per user across
//!   their sockets (`HAIL_RATE_LIMIT_SOCKET_EVENTS_*`, 10/s, bursts of 20);
//!   a payload over 16 KiB is refused unread; a user holds at most
//!   `HAIL_SOCKETS_PER_USER` sockets (a new one closes the oldest, see
//!   [`sockets`]); a socket is closed when its token expires, after an
//!   `error` event `{code: "token_expired"}`.
//! - Server events come from Redis through [`bridge`].

pub mod bridge;
pub(crate) mod delivery;
mod events;
pub mod pings;
pub mod watch;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use hail_shared::{
    api::{trips::TripStatus, Role},
    extract::INTERNAL_TOKEN_HEADER,
};
use serde_json::{json, Value};
use socketioxide::{
    adapter::Adapter,
    extract::{Extension, SocketRef, State, TryData},
    SocketIo,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use events::service;

use crate::{domain::routing::Upstream, state::AppState};

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
pub(crate) fn room_socket(id: impl std::fmt::Display) -> String {
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
    socket.on("trip:subscribe", events::trip_subscribe::<A>);
    socket.on("driver:location", events::driver_location::<A>);
    socket.on("offer:accept", events::offer_accept::<A>);
    socket.on("offer:decline", events::offer_decline::<A>);
    socket.on("room:join", events::room_join::<A>);
    socket.on("room:leave", events::room_leave::<A>);
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
        match state
            .sockets
            .forget(&mut redis, who.user_id, &socket_id)
            .await
        {
            Ok(left) if who.role == Role::Driver => {
                delivery::driver_disconnected(&state, who.user_id, left).await;
            }
            Ok(_) => {}
            Err(err) => tracing::debug!(error = %err, "could not forget a closed socket"),
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
    if who.role == Role::Driver {
        // An offer opened while the driver had no socket (or whose socket
        // dropped) comes again on this one.
        let (io, state, socket_id) = (io.clone(), state.clone(), socket.id.to_string());
        state.socket_tasks.clone().spawn(async move {
            delivery::driver_connected(&io, &state, who.user_id, &socket_id).await;
        });
    }
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
    let mut presence = tokio::time::interval(state.presence_refresh);
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

/// Whether a trip (as the trip service answers it) is still under way.
fn is_active(trip: &Value) -> bool {
    trip["status"]
        .as_str()
        .and_then(|status| status.parse::<TripStatus>().ok())
        .is_some_and(TripStatus::is_active)
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
    let id = trip["id"].as_str().and_then(|id| Uuid::parse_str(id).ok());
    if let (true, Some(id)) = (is_active(&trip), id) {
        socket.join(room_trip(id));
        state.watched.watch(id).await;
        let _ = socket.emit("trip:update", &trip);
    }
}

/// Keeps a connected driver present between pings. This is the one call
/// the gateway makes to an internal route, with a token of its own that the
/// proxy never holds.
async fn refresh_presence(state: &AppState, driver_id: Uuid) {
    let refreshed = state
        .upstreams
        .instances(Upstream::Driver)
        .send(|base| {
            state
                .http
                .post(format!("{base}/internal/drivers/{driver_id}/presence"))
                .header(INTERNAL_TOKEN_HEADER, &*state.presence_token)
        })
        .await;
    if let Err(err) = refreshed {
        tracing::debug!(%driver_id, error = %err.without_url(), "presence refresh failed; retrying");
    }
}
