//! The driver's own profile, status and position, and the public nearby search.

use axum::{extract::State, http::StatusCode, Json};
use hail_shared::{
    api::{
        drivers::{
            DriverProfile, DriverStatus, LocationUpdate, NearbyDriver, NearbyQuery, StatusResponse,
        },
        geo::LatLng,
    },
    extract::{Caller, ValidatedJson, ValidatedQuery},
    ApiError, ApiResult,
};
use uuid::Uuid;

use crate::{index::PingOutcome, repo, state::AppState, status};

/// `GET /api/v1/drivers/me`
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<DriverProfile>> {
    let driver_id = caller.driver()?;
    let row = repo::find(&state.pool, driver_id)
        .await?
        .ok_or_else(no_profile)?;
    let mut redis = state.redis.clone();
    let location = state.index.position(&mut redis, driver_id).await?;
    let current_offer = state.index.current_offer(&mut redis, driver_id).await?;
    Ok(Json(DriverProfile {
        id: row.id,
        status: row.status()?,
        current_trip_id: row.current_trip_id,
        current_offer,
        location,
    }))
}

/// `POST /api/v1/drivers/me/online`
pub async fn online(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<StatusResponse>> {
    set_own_status(&state, caller.driver()?, DriverStatus::Online).await
}

/// `POST /api/v1/drivers/me/offline`
pub async fn offline(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<StatusResponse>> {
    set_own_status(&state, caller.driver()?, DriverStatus::Offline).await
}

async fn set_own_status(
    state: &AppState,
    driver_id: Uuid,
    wanted: DriverStatus,
) -> ApiResult<Json<StatusResponse>> {
    match repo::set_own_status(&state.pool, driver_id, wanted).await? {
        Some(version) => {
            status::mirror(state, driver_id, wanted, version).await?;
            Ok(Json(StatusResponse { status: wanted }))
        }
        None => match repo::find(&state.pool, driver_id).await? {
            Some(_) => Err(ApiError::conflict(
                "conflict",
                "you are on a trip: finish or cancel it first",
            )),
            None => Err(no_profile()),
        },
    }
}

/// `POST /api/v1/drivers/me/location`: one Redis round trip, no Postgres.
pub async fn location(
    State(state): State<AppState>,
    caller: Caller,
    ValidatedJson(update): ValidatedJson<LocationUpdate>,
) -> ApiResult<StatusCode> {
    let driver_id = caller.driver()?;
    let mut redis = state.redis.clone();
    let mut outcome = state.index.ping(&mut redis, driver_id, &update).await?;
    if let PingOutcome::StatusUnknown = outcome {
        if !status::reload(&state, driver_id).await? {
            return Err(no_profile());
        }
        outcome = state.index.ping(&mut redis, driver_id, &update).await?;
    }
    match outcome {
        PingOutcome::Recorded => Ok(StatusCode::NO_CONTENT),
        PingOutcome::Offline => Err(ApiError::conflict(
            "driver_offline",
            "you are offline: go online before sharing your location",
        )),
        PingOutcome::StatusUnknown => Err(ApiError::Unavailable(
            "your status could not be loaded; try again".into(),
        )),
    }
}

/// `GET /api/v1/drivers/nearby` (any role)
pub async fn nearby(
    State(state): State<AppState>,
    _caller: Caller,
    ValidatedQuery(query): ValidatedQuery<NearbyQuery>,
) -> ApiResult<Json<Vec<NearbyDriver>>> {
    let mut redis = state.redis.clone();
    let drivers = state
        .index
        .candidates(
            &mut redis,
            LatLng::new(query.lat, query.lng),
            query.radius_km,
            query.limit,
            state.candidate_overfetch,
            &[],
        )
        .await?;
    Ok(Json(drivers))
}

fn no_profile() -> ApiError {
    ApiError::NotFound("this account has no driver profile".into())
}
