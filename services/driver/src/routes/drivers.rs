//! The driver's own profile, status and position, and the public nearby search.

use axum::{extract::State, http::StatusCode, Json};
use hail_shared::{
    api::{
        delivery::{DeliveredVia, OfferReceipt},
        drivers::{
            DriverProfile, DriverRating, DriverStatus, LocationUpdate, NearbyDriver, NearbyQuery,
            StatusResponse, Vehicle,
        },
        geo::LatLng,
    },
    error::ErrorBody,
    extract::{Caller, ValidatedJson, ValidatedQuery, INTERNAL_TOKEN_HEADER},
    ApiError, ApiResult,
};
use uuid::Uuid;

use crate::{pings, repo, state::AppState, status};

/// The calling driver: name, vehicle, rating, status, current trip, open
/// offer, last position.
#[utoipa::path(get, path = "/api/v1/drivers/me", tag = "drivers", operation_id = "driver_me",
    security(("bearer" = ["driver"])),
    responses((status = 200, description = "The driver's profile", body = DriverProfile)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<DriverProfile>> {
    let driver_id = caller.driver()?;
    let row = repo::find(&state.pool, driver_id)
        .await?
        .ok_or_else(no_profile)?;
    let (mut redis, mut redis2) = (state.redis.clone(), state.redis.clone());
    let (location, current_offer, rating) = tokio::join!(
        state.index.position(&mut redis2, driver_id),
        state.index.current_offer(&mut redis, driver_id),
        driver_rating(&state, driver_id)
    );
    let (location, current_offer) = (location?, current_offer?);
    if let Some(offer) = &current_offer {
        // Reading it here is a delivery (API.md, "Offer delivery").
        report_rest_receipt(&state, driver_id, offer.trip_id).await;
    }
    let city = location
        .as_ref()
        .and_then(|at| state.cities.at(LatLng::new(at.lat, at.lng)))
        .map(|city| city.id.clone());
    Ok(Json(DriverProfile {
        id: row.id,
        name: row.display_name(),
        vehicle: row.vehicle(),
        rating,
        status: row.status()?,
        current_trip_id: row.current_trip_id,
        current_offer,
        location,
        city,
    }))
}

/// Set the car riders look for: make, model, colour, plate.
#[utoipa::path(put, path = "/api/v1/drivers/me/vehicle", tag = "drivers", operation_id = "driver_vehicle",
    security(("bearer" = ["driver"])),
    request_body = Vehicle,
    responses(
        (status = 200, description = "The vehicle, as riders will see it (plate in capitals)", body = Vehicle),
        (status = 403, description = "`forbidden`: drivers only", body = ErrorBody),
        (status = 422, description = "`validation_failed`: `details` lists `{field: [messages]}`", body = ErrorBody),
    ))]
pub async fn set_vehicle(
    State(state): State<AppState>,
    caller: Caller,
    ValidatedJson(vehicle): ValidatedJson<Vehicle>,
) -> ApiResult<Json<Vehicle>> {
    let driver_id = caller.driver()?;
    let vehicle = vehicle.tidied();
    let stored = serde_json::to_value(&vehicle).map_err(ApiError::internal)?;
    if !repo::set_vehicle(&state.pool, driver_id, &stored).await? {
        return Err(no_profile());
    }
    Ok(Json(vehicle))
}

/// Become matchable (idempotent).
#[utoipa::path(post, path = "/api/v1/drivers/me/online", tag = "drivers", operation_id = "driver_online",
    security(("bearer" = ["driver"])),
    responses(
        (status = 200, description = "Now ONLINE", body = StatusResponse),
        (status = 409, description = "`conflict`: the driver is BUSY on a trip", body = ErrorBody),
    ))]
pub async fn online(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<StatusResponse>> {
    set_own_status(&state, caller.driver()?, DriverStatus::Online).await
}

/// Stop being matchable.
#[utoipa::path(post, path = "/api/v1/drivers/me/offline", tag = "drivers", operation_id = "driver_offline",
    security(("bearer" = ["driver"])),
    responses(
        (status = 200, description = "Now OFFLINE", body = StatusResponse),
        (status = 409, description = "`conflict`: the driver is BUSY on a trip", body = ErrorBody),
    ))]
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

/// Report the driver's position.
#[utoipa::path(post, path = "/api/v1/drivers/me/location", tag = "drivers", operation_id = "driver_location",
    security(("bearer" = ["driver"])),
    request_body = LocationUpdate,
    responses(
        (status = 204, description = "Recorded"),
        (status = 409, description = "`driver_offline`: go online first", body = ErrorBody),
    ))]
pub async fn location(
    State(state): State<AppState>,
    caller: Caller,
    ValidatedJson(update): ValidatedJson<LocationUpdate>,
) -> ApiResult<StatusCode> {
    // One Redis round trip, no Postgres.
    let driver_id = caller.driver()?;
    pings::record(&state, driver_id, &update).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// ONLINE, present and unclaimed drivers near a point, nearest first (any role).
#[utoipa::path(get, path = "/api/v1/drivers/nearby", tag = "drivers", operation_id = "drivers_nearby",
    security(("bearer" = [])),
    params(NearbyQuery),
    responses(
        (status = 200, description = "Nearest first", body = Vec<NearbyDriver>),
        (status = 400, description = "`bad_request`: a query value is not a number", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a value is out of range", body = ErrorBody),
    ))]
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

/// The driver's ratings, kept by the trip service (which records them).
/// Unknown while the trip service is unreachable: the profile still
/// answers, without them, rather than failing whole.
async fn driver_rating(state: &AppState, driver_id: Uuid) -> Option<DriverRating> {
    let asked = state
        .trip
        .send(|base| {
            state
                .http
                .get(format!("{base}/internal/drivers/{driver_id}/rating"))
                .header(INTERNAL_TOKEN_HEADER, &*state.trip_token)
        })
        .await
        .and_then(|r| r.error_for_status());
    let answer = match asked {
        Ok(answer) => answer.json::<Option<DriverRating>>().await,
        Err(err) => Err(err),
    };
    answer.unwrap_or_else(|err| {
        tracing::warn!(%driver_id, error = %err.without_url(), "could not read the driver's rating");
        None
    })
}

/// Tells the trip service the driver has read its open offer. The trip
/// service records only the first receipt; a failure costs the record, not
/// the driver's answer, so it is logged.
async fn report_rest_receipt(state: &AppState, driver_id: Uuid, trip_id: Uuid) {
    let receipt = OfferReceipt {
        trip_id,
        driver_id,
        via: DeliveredVia::Rest,
    };
    let sent = state
        .trip
        .send(|base| {
            state
                .http
                .post(format!("{base}/internal/offers/delivered"))
                .header(INTERNAL_TOKEN_HEADER, &*state.trip_token)
                .json(&receipt)
        })
        .await
        .and_then(|r| r.error_for_status());
    if let Err(err) = sent {
        tracing::warn!(%driver_id, %trip_id, error = %err.without_url(), "could not record the offer's delivery over REST");
    }
}

fn no_profile() -> ApiError {
    ApiError::NotFound("this account has no driver profile".into())
}
