//! Carpool room routes: thin handlers over `crate::rooms`. Every answer is
//! the room's whole state.

use axum::{
    extract::{Path, State},
    Json,
};
use hail_shared::{
    api::rooms::{JoinAsDriver, MatchResponse, RoomState, SelectRider},
    extract::{Caller, ValidatedJson},
    ApiError, ApiResult,
};
use uuid::Uuid;

use crate::state::AppState;

/// `GET /api/v1/rooms/{key}`: any role.
pub async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<RoomState>> {
    let room = state.rooms.open(&key)?;
    state.rooms.get(&room).await.map(Json)
}

/// `POST /api/v1/rooms/{key}/drivers`
pub async fn join_driver(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
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

/// `DELETE /api/v1/rooms/{key}/drivers/me`
pub async fn leave_driver(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<RoomState>> {
    let driver = caller.driver()?;
    let room = state.rooms.open(&key)?;
    state.rooms.leave_driver(&room, driver).await.map(Json)
}

/// `POST /api/v1/rooms/{key}/riders`
pub async fn join_rider(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<RoomState>> {
    let rider = caller.rider()?;
    let room = state.rooms.open(&key)?;
    state.rooms.join_rider(&room, rider).await.map(Json)
}

/// `DELETE /api/v1/rooms/{key}/riders/me`
pub async fn leave_rider(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<RoomState>> {
    let rider = caller.rider()?;
    let room = state.rooms.open(&key)?;
    state.rooms.leave_rider(&room, rider).await.map(Json)
}

/// `POST /api/v1/rooms/{key}/select`
pub async fn select(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
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

/// `POST /api/v1/rooms/{key}/respond`
pub async fn respond(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
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

/// `POST /api/v1/rooms/{key}/rides/{ride_id}/cancel`: that ride's driver or
/// rider; 404 for anyone else and for an id that is not a ride.
pub async fn cancel_ride(
    State(state): State<AppState>,
    caller: Caller,
    Path((key, ride_id)): Path<(String, String)>,
) -> ApiResult<Json<RoomState>> {
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
