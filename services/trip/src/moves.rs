//! Every change to a trip, each as one Postgres transaction that makes the
//! move (a conditional UPDATE), writes its audit row and queues its events
//! (the outbox), followed by the effects outside Postgres: freeing or
//! holding a driver in the driver service (which also decides whose rider
//! sees the driver's pings). Handlers and dispatch workers
//! both call these; dispatch's own commit (claim to offer or assignment) is
//! `crate::dispatch::commit`.

use chrono::Utc;
use hail_shared::{
    api::trips::{Trip, TripRequest},
    events::{channel, DriverEvent, DriverMessage, OfferRevoked, RevokeReason, TripEvent},
    ApiError, ApiResult,
};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    domain::{
        abuse::{cancel_wait, CANCEL_WINDOW},
        dispatch::FreedDriver,
    },
    freed,
    repo::{self, NewTrip, OfferRow, OfferStatus, TripRow},
    state::AppState,
};

/// What `create_trip` did.
pub enum Created {
    New(Trip),
    /// The same `Idempotency-Key` and body as an earlier request: its trip.
    Replayed(Trip),
}

pub async fn create_trip(
    state: &AppState,
    rider_id: Uuid,
    request: &TripRequest,
    idempotency_key: Option<&str>,
) -> ApiResult<Created> {
    let city = state.cities.at(request.pickup).ok_or_else(|| {
        ApiError::OutsideServiceArea(format!(
            "the pickup ({}, {}) lies in no city Hail serves; GET /api/v1/cities lists them",
            request.pickup.lat, request.pickup.lng
        ))
    })?;
    let trip_id = Uuid::new_v4();
    let mut tx = state.pool.begin().await?;
    if let Some(key) = idempotency_key {
        let hash = body_hash(request)?;
        if !repo::claim_idempotency_key(&mut tx, rider_id, key, &hash, trip_id).await? {
            let (first_hash, first_trip) = repo::find_idempotency_key(&mut tx, rider_id, key)
                .await?
                .ok_or_else(|| ApiError::internal("idempotency key vanished"))?;
            if first_hash != hash {
                return Err(ApiError::invalid_field(
                    "Idempotency-Key",
                    "was already used with a different body",
                ));
            }
            let trip = repo::find_trip(&mut *tx, first_trip)
                .await?
                .ok_or_else(|| ApiError::internal("idempotent trip vanished"))?;
            return Ok(Created::Replayed(trip.to_trip()));
        }
    }
    let cancels = repo::recent_rider_cancels(&mut tx, rider_id, CANCEL_WINDOW).await?;
    if let Some(retry_after_secs) = cancel_wait(&cancels, state.rider_cancel_limit, Utc::now()) {
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    let new = NewTrip {
        id: trip_id,
        rider_id,
        tier: request.tier,
        pickup: request.pickup,
        dropoff: request.dropoff,
        search_radius_km: state.policies.of(&city.id).search.first_radius_km,
        city: city.id.clone(),
    };
    let row = repo::insert_trip(&mut tx, &new).await?.ok_or_else(|| {
        ApiError::conflict(
            "active_trip_exists",
            "you already have a trip under way: cancel it or wait until it ends",
        )
    })?;
    let trip = row.to_trip();
    record_change(
        &mut tx,
        &trip,
        "REQUESTED",
        None,
        serde_json::json!({"tier": trip.tier}),
    )
    .await?;
    notify_dispatch(&mut tx).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    // This instance's matcher at once; NOTIFY wakes the others.
    state.dispatch_wake.notify_waiters();
    Ok(Created::New(trip))
}

/// The offered driver accepts: the offer must still be open (not expired,
/// not revoked) and the trip still REQUESTED, both checked in one transaction.
pub async fn accept(state: &AppState, trip_id: Uuid, driver_id: Uuid) -> ApiResult<Trip> {
    let mut tx = state.pool.begin().await?;
    if repo::answer_offer(&mut tx, trip_id, driver_id, OfferStatus::Accepted)
        .await?
        .is_none()
    {
        return Err(offer_gone(state, trip_id, driver_id).await);
    }
    let Some(row) = repo::assign(&mut tx, trip_id, driver_id).await? else {
        // The rider cancelled in between: the cancel revokes the offer.
        return Err(offer_expired());
    };
    let trip = row.to_trip();
    repo::audit(
        &mut tx,
        trip_id,
        "OFFER_ACCEPTED",
        Some(driver_id),
        serde_json::json!({}),
    )
    .await?;
    record_change(
        &mut tx,
        &trip,
        "ASSIGNED",
        Some(driver_id),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    on_assigned(state, &trip, driver_id).await;
    Ok(trip)
}

/// The offered driver declines: the claim is released and the next candidate
/// is offered at once (the trip is due now and the workers are woken).
pub async fn decline(state: &AppState, trip_id: Uuid, driver_id: Uuid) -> ApiResult<()> {
    let mut tx = state.pool.begin().await?;
    if repo::answer_offer(&mut tx, trip_id, driver_id, OfferStatus::Declined)
        .await?
        .is_none()
    {
        return Err(offer_gone(state, trip_id, driver_id).await);
    }
    repo::audit(
        &mut tx,
        trip_id,
        "OFFER_DECLINED",
        Some(driver_id),
        serde_json::json!({}),
    )
    .await?;
    repo::due_now(&mut *tx, trip_id).await?;
    notify_dispatch(&mut tx).await?;
    tx.commit().await?;
    free_driver(state, driver_id, trip_id).await;
    Ok(())
}

pub async fn start(state: &AppState, trip_id: Uuid, driver_id: Uuid) -> ApiResult<Trip> {
    driver_step(state, trip_id, driver_id, DriverStep::Start).await
}

/// The trip ends; the driver is ONLINE and matchable again at once.
pub async fn complete(state: &AppState, trip_id: Uuid, driver_id: Uuid) -> ApiResult<Trip> {
    let trip = driver_step(state, trip_id, driver_id, DriverStep::Complete).await?;
    on_driver_done(state, driver_id, trip_id).await;
    Ok(trip)
}

/// The assigned driver's own moves along the trip.
#[derive(Clone, Copy)]
enum DriverStep {
    Start,
    Complete,
}

async fn driver_step(
    state: &AppState,
    trip_id: Uuid,
    driver_id: Uuid,
    step: DriverStep,
) -> ApiResult<Trip> {
    let mut tx = state.pool.begin().await?;
    let (moved, kind) = match step {
        DriverStep::Start => (repo::start(&mut tx, trip_id, driver_id).await?, "STARTED"),
        DriverStep::Complete => (
            repo::complete(&mut tx, trip_id, driver_id).await?,
            "COMPLETED",
        ),
    };
    let Some(row) = moved else {
        return Err(refused_move(state, trip_id, driver_id).await);
    };
    let trip = row.to_trip();
    record_change(&mut tx, &trip, kind, Some(driver_id), serde_json::json!({})).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    Ok(trip)
}

/// The rider cancels (any active trip): an open offer is revoked and any
/// driver involved is freed.
pub async fn rider_cancel(
    state: &AppState,
    trip_id: Uuid,
    rider_id: Uuid,
    reason: Option<&str>,
) -> ApiResult<Trip> {
    let mut tx = state.pool.begin().await?;
    // Offer row before trip row, the order every other transaction locks
    // them in (accept, decline, the matcher), so none can deadlock. If the
    // cancel turns out illegal, the rollback undoes the revoke.
    let offered = repo::revoke_live_offer(&mut tx, trip_id).await?;
    let Some(row) = repo::rider_cancel(&mut tx, trip_id, rider_id, reason).await? else {
        return Err(refused_move(state, trip_id, rider_id).await);
    };
    let trip = row.to_trip();
    if let Some(driver_id) = offered {
        queue_revoke(&mut tx, driver_id, trip_id, RevokeReason::Cancelled).await?;
    }
    record_change(
        &mut tx,
        &trip,
        "CANCELLED",
        None,
        serde_json::json!({"by": "rider", "reason": trip.cancel_reason}),
    )
    .await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    if let Some(driver_id) = offered {
        free_driver(state, driver_id, trip_id).await;
    }
    if let Some(driver_id) = trip.driver_id {
        on_driver_done(state, driver_id, trip_id).await;
    }
    Ok(trip)
}

/// The assigned driver cancels: an ASSIGNED trip goes back to REQUESTED and
/// is offered to others (never this driver again); an ONGOING one ends.
pub async fn driver_cancel(
    state: &AppState,
    trip_id: Uuid,
    driver_id: Uuid,
    reason: Option<&str>,
) -> ApiResult<Trip> {
    let mut tx = state.pool.begin().await?;
    let Some(row) = repo::driver_cancel(&mut tx, trip_id, driver_id, reason).await? else {
        return Err(refused_move(state, trip_id, driver_id).await);
    };
    let trip = row.to_trip();
    let kind = if trip.driver_id.is_none() {
        "DRIVER_CANCELLED"
    } else {
        "CANCELLED"
    };
    record_change(
        &mut tx,
        &trip,
        kind,
        Some(driver_id),
        serde_json::json!({"by": "driver", "reason": reason}),
    )
    .await?;
    notify_dispatch(&mut tx).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    on_driver_done(state, driver_id, trip_id).await;
    Ok(trip)
}

/// An open offer ran out: the driver is released and told. `false` when
/// the driver answered first.
pub async fn expire_offer(state: &AppState, offer: &OfferRow) -> ApiResult<bool> {
    let mut tx = state.pool.begin().await?;
    if repo::answer_offer(
        &mut tx,
        offer.trip_id,
        offer.driver_id,
        OfferStatus::Expired,
    )
    .await?
    .is_none()
    {
        return Ok(false);
    }
    repo::audit(
        &mut tx,
        offer.trip_id,
        "OFFER_EXPIRED",
        Some(offer.driver_id),
        serde_json::json!({}),
    )
    .await?;
    queue_revoke(
        &mut tx,
        offer.driver_id,
        offer.trip_id,
        RevokeReason::Expired,
    )
    .await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    free_driver(state, offer.driver_id, offer.trip_id).await;
    Ok(true)
}

/// The search deadline passed with nobody found.
pub async fn give_up(state: &AppState, trip: &TripRow) -> ApiResult<()> {
    let mut tx = state.pool.begin().await?;
    let Some(row) = repo::give_up(&mut tx, trip.id).await? else {
        return Ok(());
    };
    let trip = row.to_trip();
    record_change(
        &mut tx,
        &trip,
        "NO_DRIVER",
        None,
        serde_json::json!({"searched_km": row.search_radius_km}),
    )
    .await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    Ok(())
}

/// The driver's part in a trip ended (completed or cancelled): it is
/// released, which also ends its ride (its pings reach nobody any more).
async fn on_driver_done(state: &AppState, driver_id: Uuid, trip_id: Uuid) {
    free_driver(state, driver_id, trip_id).await;
}

/// After an assignment: the driver service confirms the hold, takes the
/// offer out of the driver's view and starts the driver's ride, whose pings
/// now go to the rider. A failure is logged: the driver's next reload of its
/// status (a Redis restart) or the claim reconciler repairs it.
pub(crate) async fn on_assigned(state: &AppState, trip: &Trip, driver_id: Uuid) {
    if let Err(err) = state.drivers.end_offer(driver_id, trip.id).await {
        tracing::warn!(%driver_id, trip_id = %trip.id, error = %err, "could not start the driver's ride");
    }
}

/// Gives the driver back to the pool and notes where it was freed, so the
/// next matcher pass offers it to the waiting trips near it, in queue order
/// (`crate::freed`). A failure here is logged, not returned: the claim's TTL and
/// the next dispatch step clean up what a lost release leaves behind.
pub async fn free_driver(state: &AppState, driver_id: Uuid, trip_id: Uuid) {
    let freed_at = match state.drivers.release(driver_id, trip_id).await {
        Ok(Some(at)) => at,
        // Not this trip's to release (already freed), or no position yet.
        Ok(None) => return,
        Err(err) => {
            tracing::warn!(%driver_id, %trip_id, error = %err, "could not release the driver");
            return;
        }
    };
    let freed = FreedDriver {
        driver_id,
        at: freed_at,
    };
    if let Err(err) = freed::push(state, freed).await {
        tracing::warn!(%driver_id, error = %err, "could not note the freed driver; nearby trips retry on their own");
    }
}

// ---- helpers ----------------------------------------------------------------

/// A state change's audit row and its `trip:update` event, in the change's
/// own transaction.
pub(crate) async fn record_change(
    tx: &mut PgConnection,
    trip: &Trip,
    kind: &str,
    driver_id: Option<Uuid>,
    detail: serde_json::Value,
) -> ApiResult<()> {
    repo::audit(tx, trip.id, kind, driver_id, detail).await?;
    queue_trip_update(tx, trip).await
}

async fn queue_trip_update(tx: &mut PgConnection, trip: &Trip) -> ApiResult<()> {
    let event = TripEvent { trip: trip.clone() };
    repo::push_outbox(tx, channel::TRIP_EVENTS, to_json(&event)?).await?;
    Ok(())
}

pub(crate) async fn queue_revoke(
    tx: &mut PgConnection,
    driver_id: Uuid,
    trip_id: Uuid,
    reason: RevokeReason,
) -> ApiResult<()> {
    let message = DriverMessage {
        driver_id,
        event: DriverEvent::OfferRevoked(OfferRevoked { trip_id, reason }),
    };
    repo::push_outbox(tx, channel::DRIVER_OFFERS, to_json(&message)?).await?;
    Ok(())
}

/// Wakes every instance's dispatch workers (delivered at commit).
pub(crate) async fn notify_dispatch(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_notify('hail_dispatch', '')")
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

fn body_hash(request: &TripRequest) -> ApiResult<String> {
    let canonical = serde_json::to_vec(request).map_err(ApiError::internal)?;
    Ok(format!("{:x}", Sha256::digest(&canonical)))
}

fn offer_expired() -> ApiError {
    ApiError::conflict("offer_expired", "this offer is no longer open")
}

/// Why answering an offer found nothing: the driver had one (409), or never
/// did (404: not their trip).
async fn offer_gone(state: &AppState, trip_id: Uuid, driver_id: Uuid) -> ApiError {
    match repo::was_offered(&state.pool, trip_id, driver_id).await {
        Ok(true) => offer_expired(),
        Ok(false) => trip_not_found(),
        Err(err) => err.into(),
    }
}

/// Why a move found nothing: the caller is part of the trip (409, an
/// illegal move) or not (404, never leak existence).
async fn refused_move(state: &AppState, trip_id: Uuid, caller: Uuid) -> ApiError {
    match repo::find_trip(&state.pool, trip_id).await {
        Ok(Some(trip)) if trip.rider_id == caller || trip.driver_id == Some(caller) => {
            let status = trip.status;
            ApiError::conflict(
                "invalid_transition",
                format!("a trip in {status} cannot make that move"),
            )
        }
        Ok(_) => trip_not_found(),
        Err(err) => err.into(),
    }
}

pub fn trip_not_found() -> ApiError {
    ApiError::NotFound("no such trip".into())
}
