//! The matcher. The trip row is the job: the matcher leases a batch of due
//! REQUESTED trips (`FOR UPDATE SKIP LOCKED`, so several trip-service
//! instances share the queue) and takes one pass. Three lanes, each premium
//! first, then oldest: trips never searched yet ([`FRESH_LANE_PER_PASS`]),
//! then trips due again for a reason (a freed driver nearby, a yield, an
//! answered or expired offer; [`BATCH_SIZE`]), then a few trips searching
//! again on their timer after finding nobody ([`SLOW_LANE_PER_PASS`]). At
//! rush hour the last two are long in the busy part of the city, and a new
//! trip next to a free driver elsewhere must wait neither behind them nor
//! for a long pass of them. Order between trips that want the same driver
//! is kept by step 3 and the claims, whatever lane they came from.
//!
//! 1. settle each trip's live offer: wait if it is open, expire it if its
//!    time is up, release a claim a dead worker left behind; past the search
//!    deadline, give up (NO_DRIVER);
//! 2. search for every remaining trip at once (candidates from the driver
//!    service, minus every driver already tried);
//! 3. cut each trip's list before the first driver a starved trip ahead in
//!    the queue (one whose last search got it nobody) also wants (one query for the whole batch; 2 and 3 are
//!    [`search`]);
//! 4. claim for the whole batch in one call: the driver service's script
//!    walks the trips in queue order and gives each the first of its drivers
//!    still free, so a premium trip is never beaten to a driver by a standard
//!    one in the same pass;
//! 5. a trip that got nobody searches again now (an earlier trip took its
//!    driver and there may be more), or on its timer in the slow lane (it
//!    yielded to trips ahead, or nobody free is in reach: with a wider
//!    radius);
//! 6. open the offers (or assign, in auto mode) side by side ([`commit`]).
//!    This last part overlaps the next pass: it is per trip, and order only
//!    matters up to the claims and the rescheduling.
//!
//! A pass never waits for a driver's answer (offers are settled by later
//! passes). A matcher takes passes one at a time, so claims happen in queue
//! order; a batch is what lets it keep up, because the I/O of a pass is
//! shared by every trip in it. Each instance runs two matchers ([`FRESH`]
//! for first searches, [`QUEUE`] for the rest), and instances scale the
//! queue out. Between matchers the claims race like two instances': the
//! claim script keeps a driver to one trip, and a younger trip still yields
//! to a starved older one (step 3), but an older trip that has not searched
//! since its last offer ended can lose a driver to a younger one searching
//! at the same moment in the other matcher (it is then starved, and the
//! next driver freed near it is its).
//!
//! A matcher that dies mid-pass loses nothing: the leases run out and the
//! trips are picked again; a CLAIMING offer row says which claim to give back.

mod batch;
mod commit;
mod search;

pub use batch::run_batcher;
pub use commit::Dispatched;

use std::{collections::HashSet, time::Duration};

use chrono::{DateTime, Utc};
use futures::future::join_all;
use hail_shared::{
    api::drivers::{ClaimWish, NearbyDriver},
    ApiResult,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use search::{search, wishes, Searched};

use crate::{
    delivery,
    domain::dispatch::{
        expected_claims, Miss, Wish, BATCH_SIZE, CANDIDATES_PER_SEARCH, FRESH_LANE_PER_PASS,
        SLOW_LANE_PER_PASS,
    },
    freed, moves,
    repo::{self, OfferRow, OfferStatus, TripRow},
    state::AppState,
    wake::Lane,
};

/// One matcher loop and the lanes its passes take ([`repo::pick_due_trips`]).
/// Each instance runs two, side by side, as two instances would: passes of
/// the queue can be long at rush hour (many trips, most of them in the busy
/// part of the city), and a new trip's first search must not wait for one.
#[derive(Clone, Copy, Debug)]
pub struct Matcher {
    /// The `matcher` label of its metrics.
    pub name: &'static str,
    lanes: repo::Lanes,
    /// What wakes it.
    wake: Lane,
    /// How long it sleeps between picks that found nothing, unless woken.
    poll: Duration,
}

impl Matcher {
    /// Trips woken for a freed driver are due: the matcher that picks the
    /// due lane wakes them ([`freed`]).
    fn wakes_freed_trips(&self) -> bool {
        self.lanes.due > 0
    }
}

/// First searches only: small, quick passes.
pub const FRESH: Matcher = Matcher {
    name: "fresh",
    lanes: repo::Lanes {
        fresh: FRESH_LANE_PER_PASS,
        due: 0,
        slow: 0,
    },
    wake: Lane::Fresh,
    // Every new trip wakes it; the poll only finds a trip whose wake-up was
    // lost (the listener reconnecting) or whose pass died (its lease ran out).
    poll: Duration::from_secs(1),
};

/// Every trip that has searched before: due again for a reason, then a
/// few of the slow lane.
pub const QUEUE: Matcher = Matcher {
    name: "queue",
    lanes: repo::Lanes {
        fresh: 0,
        due: BATCH_SIZE,
        slow: SLOW_LANE_PER_PASS,
    },
    wake: Lane::Queue,
    // Offers expiring and retry timers are due on the clock, not on a
    // wake-up: the poll is their precision.
    poll: Duration::from_millis(100),
};

/// The batch loops of batched cities ([`run_batcher`]): only a metrics label.
pub const BATCH: Matcher = Matcher {
    name: "batch",
    lanes: repo::Lanes {
        fresh: 0,
        due: 0,
        slow: 0,
    },
    wake: Lane::Queue,
    poll: Duration::from_millis(100),
};

/// What a pass ended with.
enum Step {
    /// Claims are made; the offers are still to be opened.
    Finish(Pass),
    /// Nothing was claimed.
    Done,
    /// The failpoint fired: this worker is "dead" (tests only).
    #[cfg(feature = "failpoints")]
    Crashed,
}

pub async fn run_matcher(state: AppState, matcher: Matcher, stop: CancellationToken) {
    // The previous pass's offers being opened: the next pass's claims need
    // not wait for them (claims are what must happen in order), but only
    // one pass at a time may be finishing, so the work stays bounded.
    let mut finishing: Option<JoinHandle<()>> = None;
    // Their batch loops match these cities' trips.
    let batched: Vec<String> = state
        .policies
        .batched()
        .into_iter()
        .map(|(city, _)| city)
        .collect();
    loop {
        let wake = state.wakes.of(matcher.wake).notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        // Drivers freed since the last pass: the waiting trips near them are
        // due now, so this pick already has them, in queue order. Only a
        // matcher that picks due trips wakes them: the fresh lane's first
        // searches must not wait for that UPDATE, which takes tens of
        // milliseconds when many trips wait (session 13: 4 % of the fresh
        // matcher's loops spent over 25 ms in it, each delaying a new
        // trip's first offer by as much).
        let mut step = StepTimer::start(matcher);
        if matcher.wakes_freed_trips() {
            if let Err(err) = freed::wake_trips_near_freed(&state).await {
                tracing::warn!(error = %err, "could not wake the trips near freed drivers; they retry on their own");
            }
            step.done("wake");
        }
        let picked = tokio::select! {
            _ = stop.cancelled() => break,
            picked = repo::pick_due_trips(&state.pool, state.step_lease, state.policies.longest_deadline(), matcher.lanes, &batched) => picked,
        };
        step.done("pick");
        match picked {
            Ok(batch) if !batch.is_empty() => {
                let started = std::time::Instant::now();
                let step = dispatch_batch(&state, matcher, batch).await;
                metrics::histogram!("dispatch_pass_duration_seconds", "matcher" => matcher.name)
                    .record(started.elapsed().as_secs_f64());
                match step {
                    Ok(Step::Finish(pass)) => {
                        if let Some(previous) = finishing.take() {
                            let waited = std::time::Instant::now();
                            let _ = previous.await;
                            metrics::histogram!("dispatch_step_duration_seconds", "step" => "finish_wait", "matcher" => matcher.name)
                                .record(waited.elapsed().as_secs_f64());
                        }
                        finishing = Some(tokio::spawn(pass.finish(state.clone(), matcher)));
                    }
                    Ok(Step::Done) => {}
                    #[cfg(feature = "failpoints")]
                    Ok(Step::Crashed) => return,
                    Err(err) => {
                        metrics::counter!("dispatch_failures_total", "step" => "pass", "matcher" => matcher.name).increment(1);
                        tracing::warn!(error = %err, "dispatch pass failed; its trips will be retried");
                    }
                }
                continue;
            }
            Ok(_) => {}
            Err(err) => {
                metrics::counter!("dispatch_failures_total", "step" => "pick", "matcher" => matcher.name).increment(1);
                tracing::warn!(error = %err, "could not pick trips; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = &mut wake => {}
            _ = tokio::time::sleep(matcher.poll) => {}
        }
    }
    if let Some(previous) = finishing {
        let _ = previous.await;
    }
}

/// What the claim call gave one searched trip.
enum Claimed {
    Driver {
        offer_id: Uuid,
        driver: NearbyDriver,
    },
    Nobody,
    /// Another worker already holds the trip: leave it alone.
    Elsewhere,
}

async fn dispatch_batch(
    state: &AppState,
    matcher: Matcher,
    trips: Vec<TripRow>,
) -> ApiResult<Step> {
    let now = Utc::now();
    let batch: Vec<Uuid> = trips.iter().map(|t| t.id).collect();
    metrics::counter!("dispatch_pass_trips_total", "matcher" => matcher.name)
        .increment(batch.len() as u64);
    let mut step = StepTimer::start(matcher);
    let offers = repo::offers_of(&state.pool, &batch).await?;
    let searching = settle_all(state, trips, &offers, now).await;
    step.done("settle");
    if searching.is_empty() {
        return Ok(Step::Done);
    }

    let searched = search(state, searching, &offers, CANDIDATES_PER_SEARCH).await;
    step.done("search");
    let (wishes, ahead) = wishes(state, &searched, &batch).await?;
    step.done("queue_ahead");
    let claimed = claim(state, &searched, &wishes).await?;
    step.done("claim");
    #[cfg(feature = "failpoints")]
    if state.crash_after_claim && claimed.iter().any(|c| matches!(c, Claimed::Driver { .. })) {
        tracing::error!("failpoint: worker dies after claiming");
        return Ok(Step::Crashed);
    }
    reschedule_misses(state, now, &searched, (&wishes, &ahead), &claimed).await;
    step.done("reschedule");
    let commits: Vec<Commit> = searched
        .into_iter()
        .zip(claimed)
        .filter_map(|(s, claimed)| match claimed {
            Claimed::Driver { offer_id, driver } => Some(Commit {
                trip: s.trip,
                offer_id,
                driver,
                how: Dispatched::GREEDY,
            }),
            _ => None,
        })
        .collect();
    if commits.is_empty() {
        return Ok(Step::Done);
    }
    Ok(Step::Finish(Pass { commits }))
}

/// Settles every picked trip's live offer and deadline, side by side; the
/// trips that should search now.
async fn settle_all(
    state: &AppState,
    trips: Vec<TripRow>,
    offers: &[OfferRow],
    now: DateTime<Utc>,
) -> Vec<TripRow> {
    let settled = join_all(trips.into_iter().map(|trip| {
        let live = offers.iter().find(|o| o.trip_id == trip.id && o.is_live());
        async move {
            match settle(state, &trip, live, now).await {
                Ok(true) => Some(trip),
                Ok(false) => None,
                Err(err) => {
                    tracing::warn!(trip_id = %trip.id, error = %err, "could not settle the trip's offer; it will be retried");
                    None
                }
            }
        }
    }))
    .await;
    settled.into_iter().flatten().collect()
}

/// Times the steps of a pass (`dispatch_step_duration_seconds{step}`), so an
/// operator can see which one a slow pass spends its time in.
struct StepTimer(std::time::Instant, Matcher);

impl StepTimer {
    fn start(matcher: Matcher) -> Self {
        Self(std::time::Instant::now(), matcher)
    }

    fn done(&mut self, step: &'static str) {
        let now = std::time::Instant::now();
        metrics::histogram!("dispatch_step_duration_seconds", "step" => step, "matcher" => self.1.name)
            .record((now - self.0).as_secs_f64());
        self.0 = now;
    }
}

/// Says when each trip that got nobody searches again. Done before the next
/// pass picks, so a trip that must search again now is in it, ahead of
/// younger trips.
async fn reschedule_misses(
    state: &AppState,
    now: DateTime<Utc>,
    searched: &[Searched],
    (wishes, ahead): (&[Wish], &[Uuid]),
    claimed: &[Claimed],
) {
    let taken: HashSet<Uuid> = claimed
        .iter()
        .filter_map(|c| match c {
            Claimed::Driver { driver, .. } => Some(driver.driver_id),
            _ => None,
        })
        .collect();
    let misses: Vec<(&TripRow, Miss)> = searched
        .iter()
        .zip(wishes)
        .zip(claimed)
        .filter(|(_, claimed)| matches!(claimed, Claimed::Nobody))
        .map(|((s, wish), _)| {
            let miss = Miss::of(wish, &s.driver_ids(), CANDIDATES_PER_SEARCH, &taken);
            (&s.trip, miss)
        })
        .collect();
    if misses.iter().any(|(_, miss)| *miss == Miss::Yield) {
        // The waiting trips that want its drivers become due, and the next
        // pass takes queue order.
        if let Err(err) = repo::make_due(&state.pool, ahead).await {
            tracing::warn!(error = %err, "could not wake the waiting trips; they search again on their own");
        }
    }
    schedule_next_searches(state, now, misses).await;
}

/// When each trip that got nobody searches again, by why it missed: at
/// once (or, batched, in the next batch) when others took its drivers,
/// later and wider when nobody was in reach. One statement for the pass.
async fn schedule_next_searches(
    state: &AppState,
    now: DateTime<Utc>,
    misses: Vec<(&TripRow, Miss)>,
) {
    let next: Vec<repo::NextSearch> = misses
        .into_iter()
        .map(|(trip, miss)| {
            let kind = match miss {
                Miss::Yield => "yield",
                Miss::Contended => "contended",
                Miss::Widen => "widen",
                Miss::DriverGone => "driver_gone",
            };
            metrics::counter!("dispatch_misses_total", "kind" => kind).increment(1);
            let policy = &state.policies.of(&trip.city).search;
            let (at, radius_km) = match miss {
                Miss::Contended | Miss::DriverGone => (now, trip.search_radius_km),
                // Behind the trips it yielded to: it backs off with its
                // wait like a trip at its widest (a release nearby wakes it
                // once it is the oldest there).
                Miss::Yield => (
                    policy.next_retry_at_widest(trip.created_at, now),
                    trip.search_radius_km,
                ),
                // Already at the widest: back off with the wait (a release
                // nearby still wakes it at once).
                Miss::Widen if trip.search_radius_km >= policy.max_radius_km => (
                    policy.next_retry_at_widest(trip.created_at, now),
                    trip.search_radius_km,
                ),
                Miss::Widen => (policy.next_retry(now), policy.widen(trip.search_radius_km)),
            };
            repo::NextSearch {
                trip_id: trip.id,
                at,
                radius_km,
                idle_retry: !matches!(miss, Miss::Contended | Miss::DriverGone),
                first_in_line: miss == Miss::DriverGone,
            }
        })
        .collect();
    if next.is_empty() {
        return;
    }
    if let Err(err) = repo::schedule_misses(&state.pool, &next).await {
        tracing::warn!(error = %err, trips = next.len(), "could not schedule the next searches; the leases will");
    }
}

/// A claimed driver whose offer is still to be opened.
struct Commit {
    trip: TripRow,
    offer_id: Uuid,
    driver: NearbyDriver,
    how: Dispatched,
}

/// A pass whose claims are made: what is left is per trip and in no order.
struct Pass {
    commits: Vec<Commit>,
}

impl Pass {
    /// Opens the offers together ([`commit::open_offers`]); assigns, in
    /// auto mode, side by side.
    async fn finish(self, state: AppState, matcher: Matcher) {
        let started = std::time::Instant::now();
        let state = &state;
        let mut openings = Vec::new();
        let mut assigns = Vec::new();
        for c in &self.commits {
            match commit::Commitment::for_mode(state, &c.trip, &c.driver) {
                Ok(commit::Commitment::Offer(offer)) => openings.push(commit::Opening {
                    trip: &c.trip,
                    offer_id: c.offer_id,
                    driver_id: c.driver.driver_id,
                    offer,
                    how: c.how,
                }),
                Ok(commit::Commitment::Assign) => assigns.push(c),
                Err(err) => {
                    tracing::warn!(trip_id = %c.trip.id, error = %err, "could not build the offer; the trip will be retried");
                }
            }
        }
        let opened = async {
            let trips = openings.len();
            if let Err(err) = commit::open_offers(state, openings).await {
                tracing::warn!(trips, error = %err, "could not open the pass's offers; its trips will be retried");
            }
        };
        let assigned = join_all(assigns.into_iter().map(|c| async move {
            let done = commit::assign_claim(state, &c.trip, c.offer_id, &c.driver, &c.how).await;
            if let Err(err) = done {
                tracing::warn!(trip_id = %c.trip.id, error = %err, "could not assign the trip; it will be retried");
            }
        }));
        tokio::join!(opened, assigned);
        metrics::histogram!("dispatch_step_duration_seconds", "step" => "commit", "matcher" => matcher.name)
            .record(started.elapsed().as_secs_f64());
    }
}

/// Settles the trip's live offer and its deadline. `true` when it should
/// search now.
async fn settle(
    state: &AppState,
    trip: &TripRow,
    live: Option<&OfferRow>,
    now: DateTime<Utc>,
) -> ApiResult<bool> {
    if let Some(offer) = live {
        match (offer.status, offer.expires_at) {
            (OfferStatus::Open, Some(expires_at)) if expires_at > now => {
                // The driver's socket dropped with the offer open: past the
                // grace it is unreachable (`crate::delivery`), before it the
                // trip looks again when the grace ends.
                let grace = state.reconnect_grace;
                let lost_until = offer
                    .socket_lost_at
                    .map(|lost| lost + chrono::Duration::from_std(grace).unwrap_or_default());
                match lost_until {
                    Some(until) if until <= now => {
                        let why = repo::Unreachable::SocketLost { grace };
                        let by = delivery::GivenUpBy::Matcher;
                        if !delivery::give_up_unreachable(state, trip.id, offer.driver_id, why, by)
                            .await?
                        {
                            // Back, or answered, just in time (or Postgres's
                            // clock is a little behind ours): look again soon.
                            let again = (now + chrono::Duration::milliseconds(250)).min(expires_at);
                            repo::schedule(&state.pool, trip.id, again, trip.search_radius_km)
                                .await?;
                            return Ok(false);
                        }
                    }
                    _ => {
                        // Woken early: the driver still has time to answer.
                        let at = lost_until.map_or(expires_at, |until| until.min(expires_at));
                        repo::schedule(&state.pool, trip.id, at, trip.search_radius_km).await?;
                        return Ok(false);
                    }
                }
            }
            (OfferStatus::Open, _) => {
                if !moves::expire_offer(state, offer).await? {
                    return Ok(false); // answered just in time
                }
            }
            _ => {
                // CLAIMING: a worker died between claim and offer. Its claim
                // may hold any of the trip's wish, not only the noted driver
                // (compare-and-delete: another trip's claim is untouched).
                let mut held = repo::claim_candidates(&state.pool, offer.id).await?;
                if held.is_empty() {
                    held.push(offer.driver_id);
                }
                for driver_id in held {
                    state.drivers.release(driver_id, trip.id).await?;
                }
                repo::drop_claiming(&state.pool, offer.id).await?;
            }
        }
    }
    if state
        .policies
        .of(&trip.city)
        .search
        .deadline_passed(trip.created_at, now)
    {
        moves::give_up(state, trip).await?;
        return Ok(false);
    }
    Ok(true)
}

/// Notes the intents (CLAIMING rows), claims for the whole batch in one
/// call, and corrects the notes where a claim went to another driver.
async fn claim(
    state: &AppState,
    searched: &[Searched],
    wishes: &[Wish],
) -> ApiResult<Vec<Claimed>> {
    let expected = expected_claims(wishes);
    let intents: Vec<(usize, repo::Intent)> = searched
        .iter()
        .zip(wishes)
        .zip(&expected)
        .enumerate()
        .filter_map(|(k, ((s, wish), expected))| {
            let driver_id = expected.or_else(|| wish.drivers.first().copied())?;
            let driver = s.candidates.iter().find(|c| c.driver_id == driver_id)?;
            Some((
                k,
                repo::Intent {
                    offer_id: Uuid::new_v4(),
                    trip_id: s.trip.id,
                    driver_id,
                    distance_km: driver.distance_km,
                    candidates: wish.drivers.clone(),
                },
            ))
        })
        .collect();
    let mut claimed: Vec<Claimed> = searched.iter().map(|_| Claimed::Nobody).collect();
    if intents.is_empty() {
        return Ok(claimed);
    }
    let noted: HashSet<Uuid> = repo::insert_claimings(
        &state.pool,
        &intents.iter().map(|(_, i)| i).cloned().collect::<Vec<_>>(),
    )
    .await?
    .into_iter()
    .collect();
    let (asked, elsewhere): (Vec<_>, Vec<_>) = intents
        .into_iter()
        .partition(|(_, intent)| noted.contains(&intent.trip_id));
    for (k, _) in elsewhere {
        claimed[k] = Claimed::Elsewhere;
    }
    if asked.is_empty() {
        return Ok(claimed);
    }

    let calls = asked
        .iter()
        .map(|(k, intent)| ClaimWish {
            trip_id: intent.trip_id,
            city: searched[*k].trip.city.clone(),
            drivers: wishes[*k].drivers.clone(),
        })
        .collect();
    // An error here leaves the CLAIMING rows, so the next pass releases
    // whatever the claims may have taken.
    let got = state
        .drivers
        .claim_first(calls, state.policies.longest_claim_ttl())
        .await?;
    let mut unclaimed = Vec::new();
    for ((k, mut intent), got) in asked.into_iter().zip(got) {
        let driver = got.and_then(|id| searched[k].candidates.iter().find(|c| c.driver_id == id));
        let Some(driver) = driver else {
            unclaimed.push(intent.offer_id);
            continue;
        };
        if driver.driver_id != intent.driver_id {
            intent.driver_id = driver.driver_id;
            intent.distance_km = driver.distance_km;
            repo::renote_claiming(&state.pool, &intent).await?;
        }
        claimed[k] = Claimed::Driver {
            offer_id: intent.offer_id,
            driver: driver.clone(),
        };
    }
    repo::drop_claimings(&state.pool, &unclaimed).await?;
    Ok(claimed)
}
