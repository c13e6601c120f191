//! Trip routes: thin handlers over `crate::moves`.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    Json,
};
use hail_shared::{
    api::{
        fares::Estimate,
        trips::{
            CancelRequest, DeclineResponse, DispatchEvent, RatingRequest, StartRequest, Trip,
            TripListQuery, TripRequest,
        },
        Role,
    },
    error::ErrorBody,
    extract::{Caller, PathId, ValidatedJson, ValidatedQuery},
    ApiError, ApiResult,
};

use crate::{
    moves::{self, trip_not_found, Created},
    repo,
    state::AppState,
};

/// Ask for a trip; matching runs in the background.
#[utoipa::path(post, path = "/api/v1/trips", tag = "trips", operation_id = "create_trip",
    security(("bearer" = ["rider"])),
    request_body = TripRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 64,
            description = "Same key and body again answers the same trip (200); same key, other body: 422"),
    ),
    responses(
        (status = 202, description = "The trip, REQUESTED", body = Trip),
        (status = 200, description = "A replay of the same Idempotency-Key and body", body = Trip),
        (status = 409, description = "`active_trip_exists`: the rider already has a REQUESTED, ASSIGNED or ONGOING trip", body = ErrorBody),
        (status = 422, description = "`validation_failed` (`details` lists `{field: [messages]}`), or `outside_service_area`: the pickup lies in no city Hail serves (`GET /api/v1/cities`)", body = ErrorBody),
    ))]
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

/// One trip, for its rider or driver (or support).
#[utoipa::path(get, path = "/api/v1/trips/{id}", tag = "trips", operation_id = "get_trip",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "The trip", body = Trip),
        (status = 404, description = "`not_found`: no such trip, or not the caller's", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
) -> ApiResult<Json<Trip>> {
    // Its rider or its driver, or support; 404 for anyone else.
    let row = repo::find_trip(&state.pool, trip_id)
        .await?
        .filter(|t| {
            t.rider_id == caller.user_id
                || t.driver_id == Some(caller.user_id)
                || caller.role == Role::Support
        })
        .ok_or_else(trip_not_found)?;
    Ok(Json(row.to_trip_for(caller.user_id)))
}

/// The caller's own trips, newest first.
#[utoipa::path(get, path = "/api/v1/trips", tag = "trips", operation_id = "list_trips",
    security(("bearer" = [])),
    params(TripListQuery),
    responses(
        (status = 200, description = "Newest first", body = Vec<Trip>),
        (status = 400, description = "`bad_request`: `limit` is not a number", body = ErrorBody),
        (status = 422, description = "`validation_failed`: `limit` out of range", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ValidatedQuery(query): ValidatedQuery<TripListQuery>,
) -> ApiResult<Json<Vec<Trip>>> {
    let rows = repo::list_trips(&state.pool, caller.user_id, query.limit).await?;
    Ok(Json(
        rows.iter()
            .map(|row| row.to_trip_for(caller.user_id))
            .collect(),
    ))
}

/// Accept the offer the calling driver holds.
#[utoipa::path(post, path = "/api/v1/trips/{id}/accept", tag = "trips", operation_id = "accept_trip",
    security(("bearer" = ["driver"])),
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "The trip, ASSIGNED", body = Trip),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`offer_expired` (the offer is gone) or `invalid_transition`", body = ErrorBody),
    ))]
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
) -> ApiResult<Json<Trip>> {
    let driver_id = caller.driver()?;
    Ok(Json(moves::accept(&state, trip_id, driver_id).await?))
}

/// Decline the offer; the next candidate is offered at once.
#[utoipa::path(post, path = "/api/v1/trips/{id}/decline", tag = "trips", operation_id = "decline_trip",
    security(("bearer" = ["driver"])),
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "Declined", body = DeclineResponse),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`offer_expired`", body = ErrorBody),
    ))]
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

/// What the trip will cost and how long it takes, before booking.
#[utoipa::path(post, path = "/api/v1/trips/estimate", tag = "trips", operation_id = "estimate_trip",
    security(("bearer" = ["rider"])),
    request_body = TripRequest,
    responses(
        (status = 200, description = "Distance, duration, fare, and the nearest driver's pickup ETA", body = Estimate),
        (status = 403, description = "`forbidden`: riders only", body = ErrorBody),
        (status = 422, description = "`validation_failed`, or `outside_service_area`: the pickup lies in no city Hail serves", body = ErrorBody),
    ))]
pub async fn estimate(
    State(state): State<AppState>,
    caller: Caller,
    ValidatedJson(request): ValidatedJson<TripRequest>,
) -> ApiResult<Json<Estimate>> {
    caller.rider()?;
    Ok(Json(moves::estimate(&state, &request).await?))
}

/// The assigned driver is at the pickup; the rider hears at once.
#[utoipa::path(post, path = "/api/v1/trips/{id}/arrive", tag = "trips", operation_id = "arrive_trip",
    security(("bearer" = ["driver"])),
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "The trip, ARRIVED", body = Trip),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_at_pickup`: the driver's last ping is farther than `HAIL_ARRIVE_RADIUS_M` (200) from the pickup; or `invalid_transition`", body = ErrorBody),
    ))]
pub async fn arrive(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
) -> ApiResult<Json<Trip>> {
    let driver_id = caller.driver()?;
    Ok(Json(moves::arrive(&state, trip_id, driver_id).await?))
}

/// The assigned driver picks the rider up (with the rider's PIN when the
/// city asks for one).
#[utoipa::path(post, path = "/api/v1/trips/{id}/start", tag = "trips", operation_id = "start_trip",
    security(("bearer" = ["driver"])),
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    request_body(content = Option<StartRequest>, description = "`{pin}` when the city asks for a pickup PIN"),
    responses(
        (status = 200, description = "The trip, ONGOING", body = Trip),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody),
        (status = 422, description = "`wrong_pin`: a missing or wrong PIN, `details.attempts_left`; the fifth wrong one cancels the trip (`pin_attempts`)", body = ErrorBody),
    ))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
    body: Option<ValidatedJson<StartRequest>>,
) -> ApiResult<Json<Trip>> {
    let driver_id = caller.driver()?;
    let pin = body.and_then(|ValidatedJson(b)| b.pin);
    let pin = pin.as_deref().map(str::trim);
    Ok(Json(moves::start(&state, trip_id, driver_id, pin).await?))
}

/// The assigned driver drops the rider off; the driver is ONLINE again.
#[utoipa::path(post, path = "/api/v1/trips/{id}/complete", tag = "trips", operation_id = "complete_trip",
    security(("bearer" = ["driver"])),
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "The trip, COMPLETED", body = Trip),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody),
    ))]
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
) -> ApiResult<Json<Trip>> {
    let driver_id = caller.driver()?;
    Ok(Json(moves::complete(&state, trip_id, driver_id).await?))
}

/// Cancel: the rider at any active step; the assigned driver before the end
/// (an ASSIGNED trip goes back to REQUESTED without that driver).
#[utoipa::path(post, path = "/api/v1/trips/{id}/cancel", tag = "trips", operation_id = "cancel_trip",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    request_body(content = Option<CancelRequest>, description = "Optional `{reason}`"),
    responses(
        (status = 200, description = "The trip after the move", body = Trip),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody),
    ))]
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
        Role::Support => {
            return Err(ApiError::Forbidden(
                "support staff read trips; only the rider or the driver cancels".into(),
            ))
        }
    };
    Ok(Json(trip))
}

/// The rider rates a completed trip, once.
#[utoipa::path(post, path = "/api/v1/trips/{id}/rating", tag = "trips", operation_id = "rate_trip",
    security(("bearer" = ["rider"])),
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    request_body = RatingRequest,
    responses(
        (status = 200, description = "The trip, with its rating", body = Trip),
        (status = 404, description = "`not_found`: no such trip, or not the caller's", body = ErrorBody),
        (status = 409, description = "`already_rated`, or `invalid_transition`: the trip is not COMPLETED", body = ErrorBody),
        (status = 422, description = "`validation_failed`: stars not 1 to 5, or a comment over 500 characters", body = ErrorBody),
    ))]
pub async fn rate(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
    ValidatedJson(body): ValidatedJson<RatingRequest>,
) -> ApiResult<Json<Trip>> {
    let rider_id = caller.rider()?;
    let comment = body
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let stars = i16::from(body.stars);
    let mut tx = state.pool.begin().await?;
    if let Some(row) = repo::rate_trip(&mut tx, trip_id, rider_id, stars, comment).await? {
        if let Some(driver_id) = row.driver_id {
            repo::add_driver_rating(&mut tx, driver_id, stars).await?;
        }
        tx.commit().await?;
        return Ok(Json(row.to_trip_for(rider_id)));
    }
    drop(tx);
    // Why not: someone else's trip (404, never leak it), rated before, or
    // not completed.
    match repo::find_trip(&state.pool, trip_id).await? {
        Some(trip) if trip.rider_id == rider_id && trip.rating_stars.is_some() => Err(
            ApiError::conflict("already_rated", "you have rated this trip already"),
        ),
        Some(trip) if trip.rider_id == rider_id => Err(ApiError::conflict(
            "invalid_transition",
            format!(
                "a trip in {} cannot be rated: only a COMPLETED trip can",
                trip.status
            ),
        )),
        _ => Err(trip_not_found()),
    }
}

/// The dispatch audit trail, oldest first.
#[utoipa::path(get, path = "/api/v1/trips/{id}/events", tag = "trips", operation_id = "trip_events",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Trip id")),
    responses(
        (status = 200, description = "Oldest first", body = Vec<DispatchEvent>),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    PathId(trip_id): PathId,
) -> ApiResult<Json<Vec<DispatchEvent>>> {
    let trip = repo::find_trip(&state.pool, trip_id)
        .await?
        .ok_or_else(trip_not_found)?;
    // Its rider, support, or any driver it was offered to.
    let allowed = trip.rider_id == caller.user_id
        || caller.role == Role::Support
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
