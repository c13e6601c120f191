//! The client events a socket may send (API.md, "Realtime"), each passed
//! through the user's event budget and the payload size limit, then sent to
//! the owner service as a public route of the gateway's table, exactly as
//! REST would; each answers through its ack.

use axum::http::{Method, StatusCode};
use bytes::Bytes;
use hail_shared::{
    api::{drivers::LocationUpdate, Role},
    error::ErrorBody,
    extract::{from_json_value, Caller},
    ApiError,
};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{json, Value};
use socketioxide::{
    adapter::Adapter,
    extract::{AckSender, Extension, SocketRef, State, TryData},
};
use uuid::Uuid;
use validator::Validate;

use super::{is_active, pings::WhenFull, room_trip, Identity, MAX_EVENT_BYTES};
use crate::{
    domain::routing::match_route,
    routes::proxy::{call, Call},
    state::AppState,
};

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
    let data = admit_json(state, who, data, shape)?;
    serde_json::from_value(data).map_err(|_| bad_payload(shape))
}

/// The rate limit and the size limit; the payload.
fn admit_json<E>(
    state: &AppState,
    who: Identity,
    data: Result<Value, E>,
    shape: &str,
) -> Result<Value, Value> {
    state
        .limits
        .check_socket_event(who.user_id)
        .map_err(|_| error("rate_limited", "too many events; slow down (10 per second)"))?;
    let data = data.map_err(|_| bad_payload(shape))?;
    if json_len(&data) > MAX_EVENT_BYTES {
        return Err(error(
            "payload_too_large",
            "the event payload is larger than 16 KiB",
        ));
    }
    Ok(data)
}

/// The length of `value`'s JSON text, counted as it is written, not kept:
/// every location ping passes here.
fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        // A `Value` always serializes; were it not to, it is refused.
        Err(_) => usize::MAX,
    }
}

pub(super) async fn trip_subscribe<A: Adapter>(
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
        if is_active(&trip) {
            state.watched.watch(data.trip_id).await;
        }
        Ok(json!({"ok": true, "trip": trip}))
    };
    reply(ack, answer.await);
}

pub(super) async fn driver_location<A: Adapter>(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    let answer = async {
        let data = admit_json(&state, who, data, "{lat, lng, heading?, speed_kmh?}")?;
        // REST's checks, in REST's order: the role, then the body.
        let refused = |err: ApiError| {
            let body = err.body();
            error(&body.error.code, &body.error.message)
        };
        let driver_id = Caller {
            user_id: who.user_id,
            role: who.role,
        }
        .driver()
        .map_err(refused)?;
        let update: LocationUpdate = from_json_value(&data).map_err(refused)?;
        update.validate().map_err(|e| refused(e.into()))?;
        state
            .pings
            .record(driver_id, update, WhenFull::Wait)
            .await
            .map_err(|e| error(&e.error.code, &e.error.message))
    };
    // The one answer most pings get, written with no map built for it.
    #[derive(serde::Serialize)]
    struct Recorded {
        ok: bool,
    }
    let _ = match answer.await {
        Ok(()) => ack.send(&Recorded { ok: true }),
        Err(refused) => ack.send(&refused),
    };
}

pub(super) async fn offer_accept<A: Adapter>(
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    reply(ack, answer_offer(&state, who, data, "accept").await);
}

pub(super) async fn offer_decline<A: Adapter>(
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

pub(super) async fn room_join<A: Adapter>(
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
        // `sg.Westie:...` and `Westie:...` are one room: its events go to
        // the key's one spelling.
        socket.join(format!(
            "room:{}",
            state.cities.canonical_room_key(&data.key)
        ));
        Ok(json!({"ok": true, "state": room}))
    };
    reply(ack, answer.await);
}

pub(super) async fn room_leave<A: Adapter>(
    socket: SocketRef<A>,
    State(state): State<AppState>,
    Extension(who): Extension<Identity>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
) {
    let answer = admit(&state, who, data, "{key}").map(|data: RoomRef| {
        socket.leave(format!(
            "room:{}",
            state.cities.canonical_room_key(&data.key)
        ));
        json!({"ok": true})
    });
    reply(ack, answer);
}

/// Calls a public route as `who`, exactly as the REST proxy would: the
/// route must be in the gateway's table, and the path sent is the one
/// rebuilt from it. The status and JSON body come back.
pub(super) async fn service(
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
