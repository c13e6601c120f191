//! Trip routes: thin handlers over `crate::moves`.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    Json,
};
use hail_shared::{
    api::{
        trips::{CancelRequest, DeclineResponse, DispatchEvent, Trip, TripListQuery, TripRequest},
        Role,
    },
    extract::{Caller, PathId, ValidatedJson, ValidatedQuery},
    ApiError, ApiResult,
};

use crate::{
    moves::{self, trip_not_found, Created},
    repo,
    state::AppState,
};

/// `POST /api/v1/trips`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ValidatedJson(request): ValidatedJson<TripRequest>,
) -> ApiResult<(StatusCode, Json<Trip>)> {
    let rider_id = caller.rider()?;
    let key = idempotency_key(&headers)?;
    match moves::create_trip(&state, rider_id, &request, key).await? {
        Created::New(trip) => Ok((StatusCode::ACCEPTED, Json(trip))),
        Created::Replayed(trip) => Ok((StatusCode::OK, Json(trip))),
    }
}

/// `GET /api/v1/trips/{id}`: its rider or its driver; 404 for anyone else.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
) -> ApiResult<Json<Trip>> {
    let row = repo::find_trip(&state.pool, trip_id)
        .await?
        .filter(|t| t.rider_id == caller.user_id || t.driver_id == Some(caller.user_id))
        .ok_or_else(trip_not_found)?;
    Ok(Json(row.to_trip()))
}

/// `GET /api/v1/trips?limit=20`: the caller's trips, newest first.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidatedQuery(query): ValidatedQuery<TripListQuery>,
) -> ApiResult<Json<Vec<Trip>>> {
    let rows = repo::list_trips(&state.pool, caller.user_id, query.limit).await?;
    Ok(Json(rows.iter().map(|row| row.to_trip()).collect()))
}

/// `POST /api/v1/trips/{id}/accept`
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
) -> ApiResult<Json<Trip>> {
    let driver_id = caller.driver()?;
    Ok(Json(moves::accept(&state, trip_id, driver_id).await?))
}

/// `POST /api/v1/trips/{id}/decline`
pub async fn decline(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
) -> ApiResult<Json<DeclineResponse>> {
    let driver_id = caller.driver()?;
    moves::decline(&state, trip_id, driver_id).await?;
    Ok(Json(DeclineResponse {
        status: "declined".into(),
    }))
}

/// `POST /api/v1/trips/{id}/start`
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
) -> ApiResult<Json<Trip>> {
    let driver_id = caller.driver()?;
    Ok(Json(moves::start(&state, trip_id, driver_id).await?))
}

/// `POST /api/v1/trips/{id}/complete`
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
) -> ApiResult<Json<Trip>> {
    let driver_id = caller.driver()?;
    Ok(Json(moves::complete(&state, trip_id, driver_id).await?))
}

/// `POST /api/v1/trips/{id}/cancel` with an optional `{reason}`.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
    body: Option<ValidatedJson<CancelRequest>>,
) -> ApiResult<Json<Trip>> {
    let reason = body.and_then(|ValidatedJson(b)| b.reason);
    let reason = reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let trip = match caller.role {
        Role::Rider => moves::rider_cancel(&state, trip_id, caller.user_id, reason).await?,
        Role::Driver => moves::driver_cancel(&state, trip_id, caller.user_id, reason).await?,
    };
    Ok(Json(trip))
}

/// `GET /api/v1/trips/{id}/events`: its rider, or any driver it was offered to.
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
) -> ApiResult<Json<Vec<DispatchEvent>>> {
    let trip = repo::find_trip(&state.pool, trip_id)
        .await?
        .ok_or_else(trip_not_found)?;
    let allowed = trip.rider_id == caller.user_id
        || (caller.role == Role::Driver
            && repo::was_offered(&state.pool, trip_id, caller.user_id).await?);
    if !allowed {
        return Err(trip_not_found());
    }
    Ok(Json(repo::events(&state.pool, trip_id).await?))
}

/// The optional `Idempotency-Key` header: 1 to 64 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<&str>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid_field(
                "Idempotency-Key",
                "must be 1 to 64 visible ASCII characters",
            )
        })?;
    Ok(Some(key))
}
