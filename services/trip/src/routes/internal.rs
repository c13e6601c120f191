//! Routes only sibling services call: the driver service asking whether
//! trips still hold the drivers whose claims ran out unconfirmed.

use axum::{extract::State, Json};
use hail_shared::{
    api::drivers::{HoldsRequest, HoldsResponse},
    ApiError, ApiResult,
};

use crate::{repo, state::AppState};

/// The most holds one call may ask about.
const MAX_HOLDS: usize = 500;

/// `POST /internal/trips/holds`
pub async fn holds(
    State(state): State<AppState>,
    Json(body): Json<HoldsRequest>,
) -> ApiResult<Json<HoldsResponse>> {
    if body.holds.len() > MAX_HOLDS {
        return Err(ApiError::invalid_field(
            "holds",
            format!("at most {MAX_HOLDS} a call"),
        ));
    }
    let holds = repo::hold_states(&state.pool, &body.holds).await?;
    Ok(Json(HoldsResponse { holds }))
}
