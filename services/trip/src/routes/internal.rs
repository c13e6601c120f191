//! Routes only sibling services call: the driver service asking whether
//! trips still hold the drivers whose claims ran out unconfirmed; offer
//! receipts (from the gateway's realtime side and the driver service); the
//! gateway telling when a driver's sockets come and go.

use axum::{extract::State, http::StatusCode, Json};
use hail_shared::{
    api::{
        delivery::{OfferReceipt, OfferUnacked, SocketChange, SocketChanged},
        drivers::{HoldsRequest, HoldsResponse},
    },
    extract::PathId,
    ApiError, ApiResult,
};

use crate::{
    delivery::{self, GivenUpBy},
    repo::{self, Unreachable},
    state::AppState,
};

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

/// `GET /internal/drivers/{id}/rating`: the driver's ratings so far (null
/// before the first), for its profile.
pub async fn driver_rating(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
) -> ApiResult<Json<Option<hail_shared::api::drivers::DriverRating>>> {
    Ok(Json(repo::driver_rating(&state.pool, driver_id).await?))
}

/// `POST /internal/offers/delivered`: a gateway heard the app's ack, or the
/// driver service showed the offer over REST. Only the first receipt counts.
pub async fn offer_delivered(
    State(state): State<AppState>,
    Json(body): Json<OfferReceipt>,
) -> ApiResult<StatusCode> {
    delivery::record_receipt(&state, body.trip_id, body.driver_id, body.via).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /internal/offers/unacked`: a gateway's sockets of the driver did
/// not ack in time. Unreachable unless a receipt came first.
pub async fn offer_unacked(
    State(state): State<AppState>,
    Json(body): Json<OfferUnacked>,
) -> ApiResult<StatusCode> {
    delivery::give_up_unreachable(
        &state,
        body.trip_id,
        body.driver_id,
        Unreachable::NoAck,
        GivenUpBy::Report,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /internal/drivers/{id}/socket`: the driver's first socket
/// connected, or its last one closed. On a connect, the open offer to send
/// again.
pub async fn driver_socket(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
    Json(body): Json<SocketChange>,
) -> ApiResult<Json<SocketChanged>> {
    if !body.connected {
        delivery::socket_lost(&state, driver_id, body.at).await?;
        return Ok(Json(SocketChanged::default()));
    }
    let offer = delivery::socket_back(&state, driver_id, body.at).await?;
    Ok(Json(SocketChanged { offer }))
}
