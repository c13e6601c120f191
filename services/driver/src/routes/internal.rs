//! Routes only sibling services call (behind the internal token like all
//! others): profile creation for the user service; candidates, claims and
//! releases for the trip service.

use axum::{extract::State, http::StatusCode, Json};
use futures::future::join_all;
use hail_shared::{
    api::{
        drivers::{
            CandidatesRequest, CandidatesResponse, ClaimsRequest, ClaimsResponse,
            CreateDriverProfile, DriverRecord, DriverStatus, OffersShown, PingBatch,
            PingBatchResponse, ReleaseRequest, Released, RouteDriven, RouteQuery, ShowOffers,
            StartRide, TripRef,
        },
        geo::LatLng,
    },
    extract::PathId,
    ApiError, ApiResult,
};

use uuid::Uuid;

use crate::{claims, index::Leave, pings, repo, rides, state::AppState, status};

/// `POST /internal/drivers`: the user service registering a driver. Idempotent,
/// so a retried registration never fails here.
pub async fn create_profile(
    State(state): State<AppState>,
    Json(body): Json<CreateDriverProfile>,
) -> ApiResult<StatusCode> {
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    repo::create(&state.pool, body.driver_id, name).await?;
    Ok(StatusCode::CREATED)
}

/// `GET /internal/drivers/{id}`: whether this driver exists (support
/// asking for a driver's day), its card for the rider (at assignment) and
/// its last position (`arrive`).
pub async fn record(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
) -> ApiResult<Json<DriverRecord>> {
    let Some(row) = repo::find(&state.pool, driver_id).await? else {
        return Ok(Json(DriverRecord::default()));
    };
    let mut redis = state.redis.clone();
    let location = state.index.position(&mut redis, driver_id).await?;
    Ok(Json(DriverRecord {
        exists: true,
        name: Some(row.display_name()),
        vehicle: row.vehicle(),
        location,
    }))
}

/// `POST /internal/drivers/{id}/pickup/end`: the driver arrived at the
/// trip's pickup or started the trip; its pings stop carrying the ETA.
pub async fn end_pickup(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
    Json(body): Json<TripRef>,
) -> ApiResult<StatusCode> {
    let mut redis = state.redis.clone();
    state
        .index
        .end_pickup(&mut redis, driver_id, body.trip_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /internal/rides/{trip_id}/route`: how far the trip's driver drove
/// between two moments, by the pings kept (`crate::rides`).
pub async fn route_driven(
    State(state): State<AppState>,
    PathId(trip_id): PathId,
    Json(body): Json<RouteQuery>,
) -> ApiResult<Json<RouteDriven>> {
    // The last pings may still be on their way to Postgres.
    state.rides.flush(std::time::Duration::from_secs(1)).await;
    let points = rides::points(&state.pool, trip_id, body.from, body.to).await?;
    Ok(Json(RouteDriven {
        distance_km: rides::driven_km(&points),
        points: points.len(),
    }))
}

/// The most searches one candidates call may carry.
const MAX_SEARCHES: usize = 100;

/// `POST /internal/drivers/candidates`: every search of a matcher pass, side
/// by side on the one multiplexed Redis connection (so they share round
/// trips), answered in the order asked.
pub async fn candidates(
    State(state): State<AppState>,
    Json(body): Json<CandidatesRequest>,
) -> ApiResult<Json<CandidatesResponse>> {
    if body.searches.len() > MAX_SEARCHES {
        return Err(ApiError::invalid_field(
            "searches",
            format!("at most {MAX_SEARCHES} searches per call"),
        ));
    }
    let found = join_all(body.searches.iter().map(|search| {
        let mut redis = state.redis.clone();
        let index = &state.index;
        async move {
            index
                .candidates(
                    &mut redis,
                    LatLng::new(search.lat, search.lng),
                    search.radius_km,
                    search.limit.clamp(1, 100),
                    state.candidate_overfetch,
                    &search.exclude,
                )
                .await
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(CandidatesResponse { found }))
}

/// The most trips one claims call may carry, and drivers per trip.
const MAX_CLAIM_WISHES: usize = 100;
const MAX_DRIVERS_PER_WISH: usize = 50;

/// `POST /internal/drivers/claims`: the matcher's batch, in queue order. One
/// Redis script decides every claim (a trip earlier in the batch goes first);
/// Postgres then records each winner BUSY, concurrently. A driver that went
/// offline in between is given back, and its trip gets nobody this time.
pub async fn claims(
    State(state): State<AppState>,
    Json(body): Json<ClaimsRequest>,
) -> ApiResult<Json<ClaimsResponse>> {
    if body.claims.len() > MAX_CLAIM_WISHES
        || body
            .claims
            .iter()
            .any(|w| w.drivers.len() > MAX_DRIVERS_PER_WISH)
    {
        return Err(ApiError::invalid_field(
            "claims",
            format!(
                "at most {MAX_CLAIM_WISHES} trips a call and {MAX_DRIVERS_PER_WISH} drivers a trip"
            ),
        ));
    }
    let mut redis = state.redis.clone();
    let won = state
        .index
        .claim_first(&mut redis, &body.claims, body.ttl_secs)
        .await?;
    let recorded = body.claims.iter().zip(won).map(|(wish, won)| {
        let state = &state;
        async move {
            match won {
                Some(driver_id)
                    if record_claim(state, driver_id, wish.trip_id, body.ttl_secs).await? =>
                {
                    Ok(Some(driver_id))
                }
                _ => Ok::<_, ApiError>(None),
            }
        }
    });
    let claimed = futures::future::join_all(recorded)
        .await
        .into_iter()
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(ClaimsResponse { claimed }))
}

/// Records a won claim in Postgres, running out after `ttl_secs` unless the
/// trip confirms it: `false` (and the claim given back) when the driver is
/// no longer ONLINE there.
async fn record_claim(
    state: &AppState,
    driver_id: Uuid,
    trip_id: Uuid,
    ttl_secs: u64,
) -> ApiResult<bool> {
    if let Some(version) = repo::mark_busy(&state.claims_pool, driver_id, trip_id, ttl_secs).await?
    {
        status::mirror(state, driver_id, DriverStatus::Busy, version).await?;
        return Ok(true);
    }
    // Already BUSY for this very trip: a retried claim.
    let row = repo::find(&state.pool, driver_id).await?;
    if row.is_some_and(|r| r.current_trip_id == Some(trip_id)) {
        return Ok(true);
    }
    let mut redis = state.redis.clone();
    state
        .index
        .release(&mut redis, driver_id, trip_id, Leave::Matchable)
        .await?;
    Ok(false)
}

/// `POST /internal/drivers/{id}/release`: the trip lets the driver go
/// (declined, expired, completed, cancelled, unreachable). Idempotent;
/// another trip's claim is never touched. The driver is matchable again at
/// once (unless its phone proved unreachable: then from its next ping); the
/// answer says where it was freed.
pub async fn release(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
    Json(body): Json<ReleaseRequest>,
) -> ApiResult<Json<Released>> {
    let leave = if body.unreachable {
        Leave::Unreachable
    } else {
        Leave::Matchable
    };
    if !claims::release(&state, driver_id, body.trip_id, leave).await? || body.unreachable {
        return Ok(Json(Released { freed_at: None }));
    }
    let mut redis = state.redis.clone();
    let position = state.index.position(&mut redis, driver_id).await?;
    Ok(Json(Released {
        freed_at: position.map(|p| LatLng::new(p.lat, p.lng)),
    }))
}

/// `POST /internal/drivers/offers`: the offers a matcher pass opened, in
/// one call. The scripts go out side by side on the shared connection, so
/// Redis sees them pipelined; each is its own driver's, atomic as the
/// single-offer route's.
pub async fn show_offers(
    State(state): State<AppState>,
    Json(body): Json<ShowOffers>,
) -> ApiResult<Json<OffersShown>> {
    if body.offers.len() > MAX_CLAIM_WISHES {
        return Err(ApiError::invalid_field(
            "offers",
            format!("at most {MAX_CLAIM_WISHES} offers a call"),
        ));
    }
    let shown = join_all(body.offers.iter().map(|o| {
        let mut redis = state.redis.clone();
        let index = &state.index;
        async move {
            index
                .show_offer(
                    &mut redis,
                    o.driver_id,
                    o.show.trip_id,
                    &o.show.offer,
                    o.show.ttl_secs,
                )
                .await
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<bool>, _>>()?;
    Ok(Json(OffersShown { shown }))
}

/// `POST /internal/drivers/{id}/offer/end`: the driver is on the trip now
/// (accepted, or auto-assigned): the claim no longer runs out, the offer
/// leaves its view, and its pings go to the trip's rider. A driver no
/// longer on that trip (the trip ended meanwhile) is left as it is.
pub async fn end_offer(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
    Json(body): Json<StartRide>,
) -> ApiResult<StatusCode> {
    claims::start_ride(&state, driver_id, body.trip_id, body.pickup).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /internal/drivers/locations`: the pings that arrived over drivers'
/// sockets, batched by a gateway (`crate::pings`).
pub async fn locations(
    State(state): State<AppState>,
    Json(body): Json<PingBatch>,
) -> ApiResult<Json<PingBatchResponse>> {
    if body.pings.len() > pings::MAX_BATCH {
        return Err(ApiError::invalid_field(
            "pings",
            format!("at most {} pings per call", pings::MAX_BATCH),
        ));
    }
    let outcomes = pings::record_batch(&state, &body.pings).await;
    Ok(Json(PingBatchResponse { outcomes }))
}

/// `POST /internal/drivers/{id}/presence`: the gateway keeps a connected
/// driver's presence fresh between pings.
pub async fn refresh_presence(
    State(state): State<AppState>,
    PathId(driver_id): PathId,
) -> ApiResult<StatusCode> {
    let mut redis = state.redis.clone();
    state.index.refresh_presence(&mut redis, driver_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
