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

use crate::{
    rooms::{self, Room},
    state::AppState,
};

/// `GET /api/v1/rooms/{key}`: any role.
pub async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<RoomState>> {
    let room = Room::open(&state, &key)?;
    rooms::get(&state, &room).await.map(Json)
}

/// `POST /api/v1/rooms/{key}/drivers`
pub async fn join_driver(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    ValidatedJson(body): ValidatedJson<JoinAsDriver>,
) -> ApiResult<Json<RoomState>> {
    let driver = caller.driver()?;
    let room = Room::open(&state, &key)?;
    rooms::join_driver(&state, &room, driver, body.seats)
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
    let room = Room::open(&state, &key)?;
    rooms::leave_driver(&state, &room, driver).await.map(Json)
}

/// `POST /api/v1/rooms/{key}/riders`
pub async fn join_rider(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<RoomState>> {
    let rider = caller.rider()?;
    let room = Room::open(&state, &key)?;
    rooms::join_rider(&state, &room, rider).await.map(Json)
}

/// `DELETE /api/v1/rooms/{key}/riders/me`
pub async fn leave_rider(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Json<RoomState>> {
    let rider = caller.rider()?;
    let room = Room::open(&state, &key)?;
    rooms::leave_rider(&state, &room, rider).await.map(Json)
}

/// `POST /api/v1/rooms/{key}/select`
pub async fn select(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    ValidatedJson(body): ValidatedJson<SelectRider>,
) -> ApiResult<Json<RoomState>> {
    let driver = caller.driver()?;
    let room = Room::open(&state, &key)?;
    rooms::select(&state, &room, driver, body.rider_id)
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
    let room = Room::open(&state, &key)?;
    rooms::respond(&state, &room, rider, body.accept)
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
    let room = Room::open(&state, &key)?;
    let ride_id: Uuid = ride_id
        .parse()
        .map_err(|_| ApiError::NotFound("no such ride in this room".into()))?;
    rooms::cancel_ride(&state, &room, caller.user_id, ride_id)
        .await
        .map(Json)
}
