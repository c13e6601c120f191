//! The driver's own profile and status.

use axum::{extract::State, Json};
use hail_shared::{api::drivers::DriverProfile, extract::Caller, ApiError, ApiResult};

use crate::{repo, state::AppState};

/// `GET /api/v1/drivers/me`
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<DriverProfile>> {
    let driver_id = caller.driver()?;
    let row = repo::find(&state.pool, driver_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("this account has no driver profile".into()))?;
    Ok(Json(DriverProfile {
        id: row.id,
        status: row.status()?,
        current_trip_id: row.current_trip_id,
        current_offer: None,
        location: None,
    }))
}
