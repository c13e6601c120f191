//! Routes only sibling services call (behind the internal token like all others).

use axum::{extract::State, http::StatusCode, Json};
use hail_shared::{api::drivers::CreateDriverProfile, ApiResult};

use crate::{repo, state::AppState};

/// `POST /internal/drivers`: the user service registering a driver. Idempotent,
/// so a retried registration never fails here.
pub async fn create_profile(
    State(state): State<AppState>,
    Json(body): Json<CreateDriverProfile>,
) -> ApiResult<StatusCode> {
    repo::create(&state.pool, body.driver_id).await?;
    Ok(StatusCode::CREATED)
}
