//! The riders: request k of the run is rider k's (so no rider ever has two
//! trips, or more than one cancel per run, well under the per-rider cancel
//! limit), sent at `--rate` for `--secs`, a `--hotspot-share` of them at a
//! random point of the hotspot and the rest at the spot of a free-zone
//! driver the bench knows is free. A fifth of riders cancel at a random
//! moment; a cancel answered 503 is sent again after its `Retry-After`.

use std::{
    ops::Range,
    sync::Arc,
    time::{Duration, Instant},
};

use rand::{rngs::StdRng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

use super::{
    calls::Calls,
    drivers::Crew,
    plan::{self, Area},
    RushArgs,
};
use crate::{
    bench::city::dispatch::request_at,
    simulate::{
        api::{CallError, Session},
        geo::LatLng,
    },
};

/// Tries of a cancel answered 503 before it counts as lost.
const CANCEL_TRIES: u32 = 6;

/// Where the free-zone requests may stand: the ledger's free-zone drivers
/// and every watched driver's spot.
pub(super) struct Spots<'a> {
    pub(super) free: Range<usize>,
    pub(super) watched: &'a [LatLng],
}

/// Sends the run's requests; returns when every rider task (the cancels
/// included) is done.
pub(super) async fn ride(
    crew: &Arc<Crew>,
    riders: &[Session],
    spots: &Spots<'_>,
    args: &RushArgs,
) -> usize {
    let total = (args.rate * args.secs as f64).round() as usize;
    let gap = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
    let mut ticker = tokio::time::interval(gap);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut rng = StdRng::seed_from_u64(args.seed.wrapping_add(1));
    let mut tasks = tokio::task::JoinSet::new();
    for (k, rider) in riders.iter().enumerate().take(total) {
        ticker.tick().await;
        let hotspot = plan::is_hotspot_request(k as u64, args.hotspot_share);
        let (at, at_free_driver) = if hotspot {
            (plan::hotspot_point(&mut rng, args.hotspot_km), false)
        } else {
            match crew.ledger.pick_free(spots.free.clone(), &mut rng) {
                Some(d) => (spots.watched[d], true),
                None => (plan::free_point(&mut rng), false),
            }
        };
        let area = if hotspot { Area::Hotspot } else { Area::Free };
        let cancel = plan::draw_cancel(&mut rng);
        let (crew, rider) = (crew.clone(), rider.clone());
        tasks.spawn(async move {
            let Some(trip) = request(&crew, &rider, k, at, area, at_free_driver).await else {
                return;
            };
            if let Some(after) = cancel {
                tokio::time::sleep(after).await;
                cancel_trip(&crew, &rider, trip).await;
            }
        });
    }
    tasks.join_all().await;
    total
}

/// Requests a trip at `at` and enters it in the ledger.
async fn request(
    crew: &Crew,
    rider: &Session,
    k: usize,
    at: LatLng,
    area: Area,
    at_free_driver: bool,
) -> Option<Uuid> {
    let t0 = Instant::now();
    let body = json!({"pickup": {"lat": at.lat, "lng": at.lng}, "dropoff": {"lat": at.lat + 0.01, "lng": at.lng}});
    let answer = crew.calls.note(
        crew.api
            .post::<hail_shared::api::trips::Trip>("/trips", rider, body)
            .await,
    );
    let trip = match answer {
        Ok(trip) => trip.id,
        // Left over by an interrupted run: cancelled, then asked again.
        Err(err) if err.is("active_trip_exists") => request_at(&crew.api, rider, at).await.ok()?.id,
        Err(err) => {
            refused(crew, &err);
            return None;
        }
    };
    crew.ledger.requested(trip, area, at_free_driver, k, t0);
    Some(trip)
}

fn refused(crew: &Crew, err: &CallError) {
    if Calls::get(&crew.calls.requests_refused) < 3 {
        eprintln!("[rush] request refused: {err}");
    }
    Calls::add(&crew.calls.requests_refused);
}

/// The rider cancels; a 503 is tried again after `Retry-After` (1 s when
/// it does not say). 200, or a 409 (the trip had already ended), is an answer.
async fn cancel_trip(crew: &Crew, rider: &Session, trip: Uuid) {
    crew.ledger.cancelling(trip, Instant::now());
    for attempt in 0..CANCEL_TRIES {
        let answer = crew
            .api
            .post::<serde_json::Value>(
                &format!("/trips/{trip}/cancel"),
                rider,
                json!({"reason": "rush bench"}),
            )
            .await;
        match crew.calls.note(answer) {
            Ok(_) => return Calls::add(&crew.calls.cancels_answered),
            Err(err) if err.status == 409 => return Calls::add(&crew.calls.cancels_answered),
            Err(err) if err.status == 503 || err.status == 0 => {
                if attempt + 1 < CANCEL_TRIES {
                    Calls::add(&crew.calls.cancels_retried);
                    let wait = err.retry_after.unwrap_or(1).clamp(1, 10);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
            }
            Err(err) => {
                eprintln!("[rush] cancel refused: {err}");
                return Calls::add(&crew.calls.cancels_lost);
            }
        }
    }
    Calls::add(&crew.calls.cancels_lost);
}
