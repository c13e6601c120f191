//! Carpool room routes: thin handlers over `crate::rooms`. Every answer is
//! the room's whole state.

use axum::{
    extract::{Path, State},
    Json,
};
use hail_shared::{
    api::rooms::{JoinAsDriver, MatchResponse, RoomState, SelectRider},
    error::ErrorBody,
    extract::{Caller, ValidatedJson},
    ApiError, ApiResult,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::state::AppState;

/// A room key path parameter.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RoomKey {
    /// `<origin>:<day>:<HH:MM>`, e.g. `Westie:mon:08:00`.
    #[param(
        pattern = r"^[A-Za-z0-9_-]{1,32}:(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$",
        example = "Westie:mon:08:00"
    )]
    key: String,
}

/// A departure slot's state.
#[utoipa::path(get, path = "/api/v1/rooms/{key}", tag = "rooms", operation_id = "get_room",
    security(("bearer" = [])),
    params(RoomKey),
    responses(
        (status = 200, description = "The room", body = RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    Path(RoomKey { key }): Path<RoomKey>,
) -> ApiResult<Json<RoomState>> {
    let room = state.rooms.open(&key)?;
    state.rooms.get(&room).await.map(Json)
}

/// A driver offers seats in the room.
#[utoipa::path(post, path = "/api/v1/rooms/{key}/drivers", tag = "rooms", operation_id = "room_join_driver",
    security(("bearer" = ["driver"])),
    params(RoomKey), request_body = JoinAsDriver,
    responses(
        (status = 200, description = "The room, with the driver in it", body = RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`", body = ErrorBody),
    ))]
pub async fn join_driver(
    State(state): State<AppState>,
    caller: Caller,
    Path(RoomKey { key }): Path<RoomKey>,
    ValidatedJson(body): ValidatedJson<JoinAsDriver>,
) -> ApiResult<Json<RoomState>> {
    let driver = caller.driver()?;
    let room = state.rooms.open(&key)?;
    state
        .rooms
        .join_driver(&room, driver, body.seats)
        .await
        .map(Json)
}

/// The calling driver leaves the room.
#[utoipa::path(delete, path = "/api/v1/rooms/{key}/drivers/me", tag = "rooms", operation_id = "room_leave_driver",
    security(("bearer" = ["driver"])),
    params(RoomKey),
    responses(
        (status = 200, description = "The room", body = RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`", body = ErrorBody),
    ))]
pub async fn leave_driver(
    State(state): State<AppState>,
    caller: Caller,
    Path(RoomKey { key }): Path<RoomKey>,
) -> ApiResult<Json<RoomState>> {
    let driver = caller.driver()?;
    let room = state.rooms.open(&key)?;
    state.rooms.leave_driver(&room, driver).await.map(Json)
}

/// The calling rider joins the queue (again: no duplicate).
#[utoipa::path(post, path = "/api/v1/rooms/{key}/riders", tag = "rooms", operation_id = "room_join_rider",
    security(("bearer" = ["rider"])),
    params(RoomKey),
    responses(
        (status = 200, description = "The room, with the rider queued", body = RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 403, description = "`forbidden`: riders only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`", body = ErrorBody),
    ))]
pub async fn join_rider(
    State(state): State<AppState>,
    caller: Caller,
    Path(RoomKey { key }): Path<RoomKey>,
) -> ApiResult<Json<RoomState>> {
    let rider = caller.rider()?;
    let room = state.rooms.open(&key)?;
    state.rooms.join_rider(&room, rider).await.map(Json)
}

/// The calling rider leaves the queue.
#[utoipa::path(delete, path = "/api/v1/rooms/{key}/riders/me", tag = "rooms", operation_id = "room_leave_rider",
    security(("bearer" = ["rider"])),
    params(RoomKey),
    responses(
        (status = 200, description = "The room", body = RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 403, description = "`forbidden`: riders only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`", body = ErrorBody),
    ))]
pub async fn leave_rider(
    State(state): State<AppState>,
    caller: Caller,
    Path(RoomKey { key }): Path<RoomKey>,
) -> ApiResult<Json<RoomState>> {
    let rider = caller.rider()?;
    let room = state.rooms.open(&key)?;
    state.rooms.leave_rider(&room, rider).await.map(Json)
}

/// A driver with a seat left picks a waiting rider, who gets `room:match_request`.
#[utoipa::path(post, path = "/api/v1/rooms/{key}/select", tag = "rooms", operation_id = "room_select",
    security(("bearer" = ["driver"])),
    params(RoomKey), request_body = SelectRider,
    responses(
        (status = 200, description = "The room, the rider now pending", body = RoomState),
        (status = 404, description = "`not_found`: the room is gone (its departure has passed)", body = ErrorBody),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`: the rider is no longer waiting, or no seat is left", body = ErrorBody),
    ))]
pub async fn select(
    State(state): State<AppState>,
    caller: Caller,
    Path(RoomKey { key }): Path<RoomKey>,
    ValidatedJson(body): ValidatedJson<SelectRider>,
) -> ApiResult<Json<RoomState>> {
    let driver = caller.driver()?;
    let room = state.rooms.open(&key)?;
    state
        .rooms
        .select(&room, driver, body.rider_id)
        .await
        .map(Json)
}

/// The pending rider accepts (a seat is taken) or declines (back to the front).
#[utoipa::path(post, path = "/api/v1/rooms/{key}/respond", tag = "rooms", operation_id = "room_respond",
    security(("bearer" = ["rider"])),
    params(RoomKey), request_body = MatchResponse,
    responses(
        (status = 200, description = "The room", body = RoomState),
        (status = 403, description = "`forbidden`: riders only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 404, description = "`not_found`: nothing is pending for the caller", body = ErrorBody),
        (status = 409, description = "`conflict`: nothing is pending for the caller", body = ErrorBody),
    ))]
pub async fn respond(
    State(state): State<AppState>,
    caller: Caller,
    Path(RoomKey { key }): Path<RoomKey>,
    ValidatedJson(body): ValidatedJson<MatchResponse>,
) -> ApiResult<Json<RoomState>> {
    let rider = caller.rider()?;
    let room = state.rooms.open(&key)?;
    state
        .rooms
        .respond(&room, rider, body.accept)
        .await
        .map(Json)
}

/// That ride's driver or rider cancels it; the seat comes back.
#[utoipa::path(post, path = "/api/v1/rooms/{key}/rides/{ride_id}/cancel", tag = "rooms", operation_id = "room_cancel_ride",
    security(("bearer" = [])),
    params(RoomKey, ("ride_id" = uuid::Uuid, Path, description = "Ride id")),
    responses(
        (status = 200, description = "The room", body = RoomState),
        (status = 404, description = "`not_found`: no such ride, or not the caller's", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a room key (`details.key` says why)", body = ErrorBody),
        (status = 409, description = "`conflict`: the ride is already cancelled", body = ErrorBody),
    ))]
pub async fn cancel_ride(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, ride_id)): Path<(String, String)>,
) -> ApiResult<Json<RoomState>> {
    // 404 for anyone but the ride's driver or rider, and for an id that is
    // not a ride.
    let room = state.rooms.open(&key)?;
    let ride_id: Uuid = ride_id
        .parse()
        .map_err(|_| ApiError::NotFound("no such ride in this room".into()))?;
    state
        .rooms
        .cancel_ride(&room, caller.user_id, ride_id)
        .await
        .map(Json)
}
