//! Offer delivery (API.md, "Offer delivery"): whether an open offer reached
//! the driver's phone, and giving up on it fast when it did not.
//!
//! - A receipt (the app's ack of the `offer` socket event, reported by the
//!   gateway that heard it, or the driver reading `current_offer` over REST,
//!   reported by the driver service) records the first `OFFER_DELIVERED`.
//! - A gateway whose sockets of the driver did not ack within
//!   `HAIL_OFFER_ACK_MS` reports it; the offer is unreachable unless some
//!   receipt came first (another gateway's socket may have acked).
//! - A driver's last socket closing notes the time on its open offer and
//!   makes the trip due at the end of the grace; a socket of the driver
//!   connecting clears the note. The matcher, settling the trip when it is
//!   due, finds the offer still lost and gives up on it. Both notes live in
//!   Postgres, so any trip-service instance settles it and a gateway that
//!   restarts loses nothing; a late "lost" never undoes a newer "back".
//!
//! An unreachable offer moves OPEN -> UNREACHABLE in one transaction with
//! its audit row, the driver's `offer:revoked` and the trip due now (the
//! next candidate is offered at once); the driver is then released out of
//! the index until its next ping, so the next trip does not wait on that
//! phone either. A driver with no socket at all hears of none of this and
//! keeps the whole offer timeout.

use chrono::{DateTime, Utc};
use hail_shared::{
    api::{delivery::DeliveredVia, trips::Offer},
    events::{channel, RevokeReason},
    ApiResult,
};
use uuid::Uuid;

use crate::{
    moves::revoke_message,
    repo::{self, Unreachable},
    state::AppState,
    wake::Lane,
};

/// Records the first receipt of the driver's open offer on `trip_id`.
/// `false` when there is nothing to record (not open, or delivered before).
pub async fn record_receipt(
    state: &AppState,
    trip_id: Uuid,
    driver_id: Uuid,
    via: DeliveredVia,
) -> ApiResult<bool> {
    let Some(delivery) =
        repo::record_delivery(&state.pool, trip_id, driver_id, via.as_str()).await?
    else {
        return Ok(false);
    };
    metrics::counter!("dispatch_events_total", "type" => "OFFER_DELIVERED").increment(1);
    metrics::histogram!("offer_delivery_latency_seconds", "via" => via.as_str())
        .record(delivery.latency_ms / 1000.0);
    Ok(true)
}

/// Who gives up on an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GivenUpBy {
    /// A report from outside (a gateway): the trip is made due now and the
    /// matchers are woken, so the next candidate is offered at once.
    Report,
    /// The matcher settling the trip, which searches again in this pass.
    Matcher,
}

/// Gives up on the driver's open offer on `trip_id` as unreachable, if
/// `why` still holds. `false` when it no longer holds (delivered,
/// reconnected, answered, expired).
pub async fn give_up_unreachable(
    state: &AppState,
    trip_id: Uuid,
    driver_id: Uuid,
    why: Unreachable,
    by: GivenUpBy,
) -> ApiResult<bool> {
    let mut tx = state.pool.begin().await?;
    if repo::mark_unreachable(&mut tx, trip_id, driver_id, why)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    let revoke = revoke_message(driver_id, trip_id, RevokeReason::Unreachable)?;
    repo::audit_with_event(
        &mut tx,
        (
            trip_id,
            "OFFER_UNREACHABLE",
            Some(driver_id),
            serde_json::json!({"reason": why.name()}),
        ),
        (channel::DRIVER_OFFERS, revoke),
    )
    .await?;
    if by == GivenUpBy::Report {
        repo::due_now(&mut *tx, trip_id).await?;
        state.wakes.elsewhere(&mut tx, Lane::Queue).await?;
    }
    tx.commit().await?;
    state.outbox_wake.notify_one();
    if by == GivenUpBy::Report {
        state.wakes.here(Lane::Queue);
    }
    metrics::counter!("offers_unreachable_total", "reason" => why.name()).increment(1);
    // Not offered to the waiting trips near it: out of the index until its
    // phone shows a sign of life (its next ping).
    if let Err(err) = state.drivers.release_unreachable(driver_id, trip_id).await {
        tracing::warn!(%driver_id, %trip_id, error = %err, "could not release the unreachable driver; its claim runs out");
    }
    Ok(true)
}

/// The driver's last socket closed at `at`: its open offer, if any, is
/// settled at the end of the grace unless a socket comes back first.
pub async fn socket_lost(state: &AppState, driver_id: Uuid, at: DateTime<Utc>) -> ApiResult<()> {
    let Some(trip_id) = repo::note_socket_lost(&state.pool, driver_id, at).await? else {
        return Ok(());
    };
    let grace = chrono::Duration::from_std(state.reconnect_grace).unwrap_or_default();
    repo::due_by(&state.pool, trip_id, at + grace).await?;
    Ok(())
}

/// A socket of the driver connected at `at`: its open offer stands, and is
/// answered so the gateway can send it again on that socket.
pub async fn socket_back(
    state: &AppState,
    driver_id: Uuid,
    at: DateTime<Utc>,
) -> ApiResult<Option<Offer>> {
    let Some((trip_id, distance_km, Some(expires_at))) =
        repo::note_socket_back(&state.pool, driver_id, at).await?
    else {
        return Ok(None);
    };
    let Some(trip) = repo::find_trip(&state.pool, trip_id).await? else {
        return Ok(None);
    };
    let view = trip.to_trip();
    Ok(Some(Offer {
        trip_id,
        pickup: view.pickup,
        dropoff: view.dropoff,
        tier: view.tier,
        distance_km,
        expires_at,
        fare_estimate: view.fare.amount_estimate(),
    }))
}
