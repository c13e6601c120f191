//! Every change to a trip, each as one Postgres transaction that makes the
//! move (a conditional UPDATE), writes its audit row and queues its events
//! (the outbox), followed by the effects outside Postgres: freeing or
//! holding a driver in the driver service (which also decides whose rider
//! sees the driver's pings). Handlers and dispatch workers
//! both call these; dispatch's own commit (claim to offer or assignment) is
//! `crate::dispatch::commit`.

use chrono::Utc;
use hail_shared::{
    api::{
        drivers::CandidateSearch,
        fares::{round_km, Estimate, FareAmount, Money},
        geo::LatLng,
        trips::{Trip, TripRequest, TripStatus},
    },
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
        fare,
        lifecycle::Move,
    },
    freed,
    repo::{self, DriverCard, NewTrip, OfferRow, OfferStatus, TripRow},
    state::AppState,
    wake::Lane,
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
    let city = city_of(state, request.pickup)?;
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
            return Ok(Created::Replayed(trip.to_trip_for(rider_id)));
        }
    }
    let cancels = repo::recent_rider_cancels(&mut tx, rider_id, CANCEL_WINDOW).await?;
    if let Some(retry_after_secs) = cancel_wait(&cancels, state.rider_cancel_limit, Utc::now()) {
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    let quote = fare::estimate(city, request.pickup, request.dropoff, request.tier);
    let new = NewTrip {
        id: trip_id,
        rider_id,
        tier: request.tier,
        pickup: request.pickup,
        dropoff: request.dropoff,
        search_radius_km: state.policies.of(&city.id).search.first_radius_km,
        city: city.id.clone(),
        currency: city.currency.clone(),
        fare_estimate: quote.amount,
        estimate_distance_km: quote.distance_km,
        estimate_duration_secs: quote.duration_secs,
        pickup_pin: city.pickup_pin.then(fare::new_pin),
    };
    let row = repo::insert_trip(&mut tx, &new).await?.ok_or_else(|| {
        ApiError::conflict(
            "active_trip_exists",
            "you already have a trip under way: cancel it or wait until it ends",
        )
    })?;
    record_change(
        &mut tx,
        &row,
        "REQUESTED",
        None,
        serde_json::json!({"tier": row.tier, "fare_estimate": Money(row.fare_estimate)}),
    )
    .await?;
    state.wakes.elsewhere(&mut tx, Lane::Fresh).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    state.wakes.here(Lane::Fresh);
    Ok(Created::New(row.to_trip_for(rider_id)))
}

/// What a trip from `request.pickup` to `request.dropoff` would cost, and
/// when the nearest matchable driver could be at the pickup (one candidate
/// search, in the city's widest radius).
pub async fn estimate(state: &AppState, request: &TripRequest) -> ApiResult<Estimate> {
    let city = city_of(state, request.pickup)?;
    let quote = fare::estimate(city, request.pickup, request.dropoff, request.tier);
    let search = CandidateSearch {
        lat: request.pickup.lat,
        lng: request.pickup.lng,
        radius_km: state.policies.of(&city.id).search.max_radius_km,
        limit: 1,
        exclude: Vec::new(),
    };
    let nearest = state.drivers.candidates(vec![search]).await?;
    let pickup_eta_secs = nearest
        .first()
        .and_then(|found| found.first())
        .map(|d| city.eta_secs(LatLng::new(d.lat, d.lng), request.pickup));
    Ok(Estimate {
        city: city.id.clone(),
        distance_km: round_km(quote.distance_km),
        duration_secs: quote.duration_secs,
        fare: FareAmount {
            currency: city.currency.clone(),
            amount: quote.amount,
        },
        pickup_eta_secs,
    })
}

/// The city a pickup lies in, or 422 `outside_service_area`.
fn city_of(state: &AppState, pickup: LatLng) -> ApiResult<&hail_shared::cities::City> {
    state.cities.at(pickup).ok_or_else(|| {
        ApiError::OutsideServiceArea(format!(
            "the pickup ({}, {}) lies in no city Hail serves; GET /api/v1/cities lists them",
            pickup.lat, pickup.lng
        ))
    })
}

/// The offered driver accepts: the offer must still be open (not expired,
/// not revoked) and the trip still REQUESTED, both checked in one transaction.
pub async fn accept(state: &AppState, trip_id: Uuid, driver_id: Uuid) -> ApiResult<Trip> {
    // Asked before the transaction, so no row lock waits on the network.
    let card = driver_card(state, driver_id).await?;
    let mut tx = state.pool.begin().await?;
    if repo::answer_offer(&mut tx, trip_id, driver_id, OfferStatus::Accepted)
        .await?
        .is_none()
    {
        return Err(offer_gone(&mut tx, trip_id, driver_id).await);
    }
    let Some(row) = repo::assign(&mut tx, trip_id, driver_id, &card).await? else {
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
        &row,
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
        return Err(offer_gone(&mut tx, trip_id, driver_id).await);
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
    state.wakes.elsewhere(&mut tx, Lane::Queue).await?;
    tx.commit().await?;
    state.wakes.here(Lane::Queue);
    free_driver(state, driver_id, trip_id).await;
    Ok(())
}

/// The assigned driver is at the pickup: its last ping must lie within
/// the arrive radius. The rider hears at once (`trip:update`).
pub async fn arrive(state: &AppState, trip_id: Uuid, driver_id: Uuid) -> ApiResult<Trip> {
    let trip = repo::find_trip(&state.pool, trip_id)
        .await?
        .filter(|t| t.driver_id == Some(driver_id))
        .ok_or_else(trip_not_found)?;
    if trip.status == TripStatus::Assigned {
        let at = state.drivers.record(driver_id).await?.location;
        let distance_m =
            at.map(|at| LatLng::new(at.lat, at.lng).distance_km(&trip.pickup()) * 1000.0);
        match distance_m {
            Some(m) if m <= state.arrive_radius_m => {}
            Some(m) => {
                return Err(ApiError::conflict(
                    "not_at_pickup",
                    format!(
                        "your last position is {:.0} m from the pickup; arrive within {:.0} m",
                        m, state.arrive_radius_m
                    ),
                ))
            }
            None => {
                return Err(ApiError::conflict(
                    "not_at_pickup",
                    "Hail has no position of yours yet: share your location, then arrive",
                ))
            }
        }
    }
    let trip = driver_step(state, trip_id, driver_id, DriverStep::Arrive).await?;
    end_pickup(state, driver_id, trip_id).await;
    Ok(trip)
}

/// The assigned driver starts the trip (from ASSIGNED or ARRIVED), with the
/// rider's PIN when the trip has one. A wrong PIN counts; the fifth cancels
/// the trip (`pin_attempts`) and frees the driver. A missing PIN is asked
/// for and does not count.
pub async fn start(
    state: &AppState,
    trip_id: Uuid,
    driver_id: Uuid,
    pin: Option<&str>,
) -> ApiResult<Trip> {
    match driver_step(state, trip_id, driver_id, DriverStep::Start { pin }).await {
        Ok(trip) => {
            end_pickup(state, driver_id, trip_id).await;
            Ok(trip)
        }
        Err(refused) => match repo::needs_pin(&state.pool, trip_id).await? {
            Some(true) => wrong_pin(state, trip_id, driver_id, pin, refused).await,
            _ => Err(refused),
        },
    }
}

/// Why a start with a PIN failed: the PIN (counted unless missing), or the
/// move itself (`refused`).
async fn wrong_pin(
    state: &AppState,
    trip_id: Uuid,
    driver_id: Uuid,
    pin: Option<&str>,
    refused: ApiError,
) -> ApiResult<Trip> {
    let Some(_) = pin else {
        // Not a guess: ask for it, unless the move is refused anyway.
        let trip = repo::find_trip(&state.pool, trip_id).await?;
        return match trip {
            Some(t) if t.driver_id == Some(driver_id) && Move::Start.apply(t.status).is_some() => {
                Err(ApiError::WrongPin {
                    message: "this trip needs the rider's 4-digit pickup PIN: ask the rider".into(),
                    attempts_left: attempts_left(t.pin_attempts),
                })
            }
            _ => Err(refused),
        };
    };
    let mut tx = state.pool.begin().await?;
    let Some(tries) = repo::count_wrong_pin(&mut tx, trip_id, driver_id).await? else {
        return Err(refused);
    };
    if tries < fare::PIN_ATTEMPTS {
        tx.commit().await?;
        return Err(ApiError::WrongPin {
            message: "that is not the rider's pickup PIN".into(),
            attempts_left: attempts_left(tries),
        });
    }
    let Some(row) = repo::pin_lockout(&mut tx, trip_id).await? else {
        return Err(refused);
    };
    record_change(
        &mut tx,
        &row,
        "CANCELLED",
        Some(driver_id),
        serde_json::json!({"by": "hail", "reason": "pin_attempts"}),
    )
    .await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    on_driver_done(state, driver_id, trip_id).await;
    Err(ApiError::WrongPin {
        message: format!(
            "{} wrong PINs: the trip is cancelled for the rider's safety",
            fare::PIN_ATTEMPTS
        ),
        attempts_left: 0,
    })
}

fn attempts_left(tries: i16) -> u32 {
    u32::try_from(fare::PIN_ATTEMPTS - tries).unwrap_or(0)
}

/// The trip ends; the driver is ONLINE and matchable again at once. The
/// final fare is priced from the distance the driver's pings covered since
/// the start (the estimate's distance when too few were kept) and the real
/// duration.
pub async fn complete(state: &AppState, trip_id: Uuid, driver_id: Uuid) -> ApiResult<Trip> {
    let Some(trip) = repo::find_trip(&state.pool, trip_id).await? else {
        return Err(trip_not_found());
    };
    let started_at = match trip.started_at {
        Some(at) if trip.driver_id == Some(driver_id) && trip.status == TripStatus::Ongoing => at,
        _ => return Err(refusal(&trip, driver_id)),
    };
    let at = Utc::now();
    let driven = match state.drivers.route_driven(trip_id, started_at, at).await {
        Ok(driven) => driven,
        Err(err) => {
            tracing::warn!(%trip_id, error = %err, "could not read the route driven; pricing by the estimate's distance");
            None
        }
    };
    let distance_km = driven.unwrap_or(trip.estimate_distance_km);
    let duration_secs = u64::try_from((at - started_at).num_seconds()).unwrap_or(0);
    let city = state
        .cities
        .get(&trip.city)
        .unwrap_or_else(|| state.cities.default_city());
    let done = repo::Completion {
        at,
        fare: fare::final_fare(city, trip.tier, distance_km, duration_secs),
        distance_km,
        duration_secs,
    };
    let trip = driver_step(state, trip_id, driver_id, DriverStep::Complete(&done)).await?;
    on_driver_done(state, driver_id, trip_id).await;
    Ok(trip)
}

/// The assigned driver's own moves along the trip.
#[derive(Clone, Copy)]
enum DriverStep<'a> {
    Arrive,
    Start { pin: Option<&'a str> },
    Complete(&'a repo::Completion),
}

async fn driver_step(
    state: &AppState,
    trip_id: Uuid,
    driver_id: Uuid,
    step: DriverStep<'_>,
) -> ApiResult<Trip> {
    let mut tx = state.pool.begin().await?;
    let (moved, kind) = match step {
        DriverStep::Arrive => (repo::arrive(&mut tx, trip_id, driver_id).await?, "ARRIVED"),
        DriverStep::Start { pin } => (
            repo::start(&mut tx, trip_id, driver_id, pin).await?,
            "STARTED",
        ),
        DriverStep::Complete(done) => (
            repo::complete(&mut tx, trip_id, driver_id, done).await?,
            "COMPLETED",
        ),
    };
    let Some(row) = moved else {
        return Err(refused_move(&mut *tx, trip_id, driver_id).await);
    };
    let detail = match step {
        DriverStep::Complete(done) => serde_json::json!({
            "fare": done.fare,
            "distance_km": round_km(done.distance_km),
            "duration_secs": done.duration_secs,
        }),
        _ => serde_json::json!({}),
    };
    record_change(&mut tx, &row, kind, Some(driver_id), detail).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    Ok(row.to_trip())
}

/// The driver's pings stop carrying a pickup ETA (best effort: a failure
/// leaves an ETA the apps no longer show past ASSIGNED).
async fn end_pickup(state: &AppState, driver_id: Uuid, trip_id: Uuid) {
    if let Err(err) = state.drivers.end_pickup(driver_id, trip_id).await {
        tracing::warn!(%driver_id, %trip_id, error = %err, "could not end the pickup ETA");
    }
}

/// The driver's card for the rider, from the driver service.
pub(crate) async fn driver_card(state: &AppState, driver_id: Uuid) -> ApiResult<DriverCard> {
    let record = state.drivers.record(driver_id).await?;
    Ok(DriverCard {
        name: record.name.unwrap_or_else(|| "Your driver".into()),
        vehicle: record
            .vehicle
            .map(|v| serde_json::to_value(v).map_err(ApiError::internal))
            .transpose()?,
    })
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
        return Err(refused_move(&mut *tx, trip_id, rider_id).await);
    };
    let trip = row.to_trip_for(rider_id);
    if let Some(driver_id) = offered {
        queue_revoke(&mut tx, driver_id, trip_id, RevokeReason::Cancelled).await?;
    }
    record_change(
        &mut tx,
        &row,
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
        return Err(refused_move(&mut *tx, trip_id, driver_id).await);
    };
    let trip = row.to_trip();
    let kind = if trip.driver_id.is_none() {
        "DRIVER_CANCELLED"
    } else {
        "CANCELLED"
    };
    record_change(
        &mut tx,
        &row,
        kind,
        Some(driver_id),
        serde_json::json!({"by": "driver", "reason": reason}),
    )
    .await?;
    state.wakes.elsewhere(&mut tx, Lane::Queue).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    state.wakes.here(Lane::Queue);
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
    let revoke = revoke_message(offer.driver_id, offer.trip_id, RevokeReason::Expired)?;
    repo::audit_with_event(
        &mut tx,
        (
            offer.trip_id,
            "OFFER_EXPIRED",
            Some(offer.driver_id),
            serde_json::json!({}),
        ),
        (channel::DRIVER_OFFERS, revoke),
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
    repo::commit_durably(&mut tx).await?;
    let Some(row) = repo::give_up(&mut tx, trip.id).await? else {
        return Ok(());
    };
    record_change(
        &mut tx,
        &row,
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
    if let Err(err) = state
        .drivers
        .end_offer(driver_id, trip.id, trip.pickup)
        .await
    {
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
    trip: &TripRow,
    kind: &str,
    driver_id: Option<Uuid>,
    detail: serde_json::Value,
) -> ApiResult<()> {
    let event = TripEvent {
        trip: trip.to_trip(),
        rider_pin: trip.pickup_pin.clone(),
    };
    repo::audit_with_event(
        tx,
        (trip.id, kind, driver_id, detail),
        (channel::TRIP_EVENTS, to_json(&event)?),
    )
    .await?;
    Ok(())
}

pub(crate) async fn queue_revoke(
    tx: &mut PgConnection,
    driver_id: Uuid,
    trip_id: Uuid,
    reason: RevokeReason,
) -> ApiResult<()> {
    let message = revoke_message(driver_id, trip_id, reason)?;
    repo::push_outbox(tx, channel::DRIVER_OFFERS, message).await?;
    Ok(())
}

/// The `driver:offers` payload telling the driver its offer on `trip_id`
/// is gone.
pub(crate) fn revoke_message(
    driver_id: Uuid,
    trip_id: Uuid,
    reason: RevokeReason,
) -> ApiResult<serde_json::Value> {
    to_json(&DriverMessage {
        driver_id,
        event: DriverEvent::OfferRevoked(OfferRevoked { trip_id, reason }),
    })
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
/// Asked on the caller's own transaction: a second connection from the same
/// pool, while this one is held, is how a burst of refused moves exhausts
/// the pool (each waits for a connection the others hold).
async fn offer_gone(conn: &mut PgConnection, trip_id: Uuid, driver_id: Uuid) -> ApiError {
    match repo::was_offered(conn, trip_id, driver_id).await {
        Ok(true) => offer_expired(),
        Ok(false) => trip_not_found(),
        Err(err) => err.into(),
    }
}

/// Why a move found nothing: the caller is part of the trip (409, an
/// illegal move) or not (404, never leak existence). Asked on the move's
/// own connection, as [`offer_gone`] is.
async fn refused_move(conn: impl sqlx::PgExecutor<'_>, trip_id: Uuid, caller: Uuid) -> ApiError {
    match repo::find_trip(conn, trip_id).await {
        Ok(Some(trip)) => refusal(&trip, caller),
        Ok(None) => trip_not_found(),
        Err(err) => err.into(),
    }
}

/// A move `trip` refused to `caller`: 409 for its rider or driver, 404 for
/// anyone else (never leak existence).
fn refusal(trip: &TripRow, caller: Uuid) -> ApiError {
    if trip.rider_id == caller || trip.driver_id == Some(caller) {
        let status = trip.status;
        ApiError::conflict(
            "invalid_transition",
            format!("a trip in {status} cannot make that move"),
        )
    } else {
        trip_not_found()
    }
}

pub fn trip_not_found() -> ApiError {
    ApiError::NotFound("no such trip".into())
}
