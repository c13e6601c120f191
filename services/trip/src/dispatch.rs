//! The matcher. The trip row is the job: the matcher leases the next due
//! REQUESTED trip (premium first, then oldest; `FOR UPDATE SKIP LOCKED`, so
//! several trip-service instances share the queue) and takes one step:
//!
//! 1. settle the trip's live offer: wait if it is open, expire it if its time
//!    is up, release a claim a dead worker left behind;
//! 2. past the search deadline, give up (NO_DRIVER);
//! 3. ask the driver service for candidates (minus every driver already
//!    tried) and claim the nearest one that can be had;
//! 4. open the offer (or assign, in auto mode), or widen the radius and come
//!    back shortly.
//!
//! A step never waits for a driver's answer (offers are settled by later
//! steps), so it takes milliseconds, and one matcher per instance takes them
//! one at a time: claims then happen in queue order, and a premium trip is
//! never beaten to a driver by a standard one that happened to be mid-step.
//! Instances scale the queue out; across instances the order is best-effort.
//!
//! A matcher that dies mid-step loses nothing: the lease runs out and the
//! trip is picked again; a CLAIMING offer row says which claim to give back.

use std::time::Duration;

use chrono::Utc;
use hail_shared::{config::MatchMode, ApiResult};
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    domain::dispatch::CANDIDATES_PER_SEARCH,
    moves,
    repo::{self, TripRow},
    state::AppState,
};

/// Fallback poll, for offers expiring and trips whose retry time comes.
const POLL: Duration = Duration::from_millis(100);

/// What a step ended with.
enum Step {
    Continue,
    /// The failpoint fired: this worker is "dead".
    Crashed,
}

pub async fn run_matcher(state: AppState, stop: CancellationToken) {
    loop {
        let wake = state.dispatch_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let picked = tokio::select! {
            _ = stop.cancelled() => return,
            picked = repo::pick_due_trip(&state.pool, state.step_lease) => picked,
        };
        match picked {
            Ok(Some(trip)) => {
                let trip_id = trip.id;
                match dispatch_step(&state, trip).await {
                    Ok(Step::Continue) => {}
                    Ok(Step::Crashed) => return,
                    Err(err) => {
                        tracing::warn!(%trip_id, error = %err, "dispatch step failed; the trip will be retried");
                    }
                }
                continue;
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "could not pick a trip; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = &mut wake => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Turns Postgres `NOTIFY hail_dispatch` into a wake-up for this instance's
/// workers, so a trip inserted anywhere starts matching within milliseconds.
pub async fn run_listener(state: AppState, stop: CancellationToken) {
    loop {
        let listened = async {
            let mut listener = PgListener::connect_with(&state.pool).await?;
            listener.listen("hail_dispatch").await?;
            loop {
                listener.recv().await?;
                state.dispatch_wake.notify_waiters();
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            result = listened => {
                if let Err(err) = result {
                    tracing::warn!(error = %err, "dispatch listener lost Postgres; reconnecting");
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn dispatch_step(state: &AppState, trip: TripRow) -> ApiResult<Step> {
    let now = Utc::now();
    if let Some(offer) = repo::live_offer(&state.pool, trip.id).await? {
        match (offer.status.as_str(), offer.expires_at) {
            ("OPEN", Some(expires_at)) if expires_at > now => {
                // Woken early: the driver still has time to answer.
                repo::schedule(&state.pool, trip.id, expires_at, trip.search_radius_km).await?;
                return Ok(Step::Continue);
            }
            ("OPEN", _) => {
                if !moves::expire_offer(state, &offer).await? {
                    return Ok(Step::Continue); // answered just in time
                }
            }
            _ => {
                // CLAIMING: a worker died between claim and offer.
                state.drivers.release(offer.driver_id, trip.id).await?;
                repo::drop_claiming(&state.pool, offer.id).await?;
            }
        }
    }

    if state.policy.deadline_passed(trip.created_at, now) {
        moves::give_up(state, &trip).await?;
        return Ok(Step::Continue);
    }

    let tried = repo::tried_drivers(&state.pool, trip.id).await?;
    let candidates = state
        .drivers
        .candidates(
            trip.pickup(),
            trip.search_radius_km,
            CANDIDATES_PER_SEARCH,
            &tried,
        )
        .await?;
    for candidate in &candidates {
        // A trip ahead in the queue that could use this driver goes first:
        // everyone waiting becomes due, and the next pick takes queue order.
        if repo::queue_ahead_wants(
            &state.pool,
            &trip,
            candidate.driver_id,
            candidate.lat,
            candidate.lng,
        )
        .await?
        {
            repo::wake_waiting_trips(&state.pool).await?;
            repo::schedule(&state.pool, trip.id, now, trip.search_radius_km).await?;
            return Ok(Step::Continue);
        }
        let offer_id = Uuid::new_v4();
        if !repo::insert_claiming(
            &state.pool,
            offer_id,
            trip.id,
            candidate.driver_id,
            candidate.distance_km,
        )
        .await?
        {
            return Ok(Step::Continue); // another worker has this trip
        }
        let offer = match state.mode {
            MatchMode::Offer => Some(moves::offer_for(state, &trip, candidate)?),
            MatchMode::Auto => None,
        };
        // An error here leaves the CLAIMING row, so the next step releases
        // whatever the claim may have taken.
        let claimed = state
            .drivers
            .claim(candidate.driver_id, trip.id, state.policy.claim_ttl())
            .await?;
        if !claimed {
            repo::drop_claiming(&state.pool, offer_id).await?;
            continue;
        }
        if state.crash_after_claim {
            tracing::error!(trip_id = %trip.id, "failpoint: worker dies after claiming");
            return Ok(Step::Crashed);
        }
        moves::commit_claim(state, &trip, offer_id, candidate, offer.as_ref()).await?;
        return Ok(Step::Continue);
    }

    // Nobody to be had: look further, soon.
    repo::schedule(
        &state.pool,
        trip.id,
        state.policy.next_retry(now),
        state.policy.widen(trip.search_radius_km),
    )
    .await?;
    Ok(Step::Continue)
}
