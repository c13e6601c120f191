//! Batched matching (`match_strategy = "batched"`, per city). Instead of
//! giving each trip, in queue order, its nearest free driver, a city's due
//! trips are collected for a short window and matched together, so that the
//! sum of pickup distances is least (premium trips first,
//! [`assignment::batched`]).
//!
//! Each batched city has one batch loop per instance. On every boundary of
//! the city's window grid (wall-clock multiples of `batch_window`, so every
//! instance's loops tick together and the first to pick takes the batch)
//! it takes the city's due trips, premium first then oldest, up to
//! [`BATCH_LIMIT`] (more due: another batch at once), and:
//!
//! 1. settles their offers and deadlines, as the greedy matcher does;
//! 2. searches each trip's `batch_candidates` nearest free drivers (minus
//!    those it already tried), all in one call; a trip that found fewer
//!    searches again wider, step by step to the widest radius, in the same
//!    batch;
//! 3. solves one assignment over trips x candidates (pure, no I/O);
//! 4. claims each trip's assigned driver in one call. Claims stay per
//!    driver and atomic (the driver service's claim script), so two
//!    instances' batches, or a batch and a greedy matcher, never hand one
//!    driver to two trips;
//! 5. trips whose candidates all went to others search again past the
//!    claimed drivers and are solved in another round (up to [`ROUNDS`]);
//! 6. a trip still without a driver goes to the next batch: first in line
//!    when its claim failed (the driver went away), at the same radius when
//!    others took everything it found, wider (as greedy widens) when nobody
//!    was in reach;
//! 7. opens the offers (or assigns, in auto mode); `OFFER_SENT` names the
//!    strategy and the batch.
//!
//! A trip that has waited a quarter of its deadline is served like a
//! premium one (its nearest free driver, in queue order, before the
//! assignment): minimising distance alone would give every freed driver
//! to the nearest new trip and leave an old one waiting until its
//! deadline (measured: 18 to 31 of 400 trips NO_DRIVER at rush hour,
//! against 1 under greedy).
//!
//! A trip waits at most one window before its first offer; a declined or
//! expired offer makes its trip due, and the next batch offers it the next
//! driver. Greedy matchers leave batched cities' trips alone.
//!
//! Cost per batch: one pick, and per round one search call and one claim
//! call however many trips; the solver's work grows with the crowds (trips linked by
//! shared candidates are solved together, separate crowds apart), cubic in
//! a crowd's size, and a crowd is at most [`BATCH_LIMIT`] trips.

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{claim, schedule_next_searches, search::search, settle_all, Claimed, Commit, Pass};
use crate::{
    dispatch::{Dispatched, BATCH},
    domain::{
        assignment::{self, BatchTrip},
        dispatch::{next_batch_at, CityPolicy, Miss, Wish},
    },
    freed,
    repo::{self, TripRow},
    state::AppState,
};
use hail_shared::{api::trips::Tier, config::MatchStrategy, ApiResult};

/// The most trips one batch holds: under the 100 searches and claims the
/// driver service takes per call. A city with more due trips in a window
/// runs batches back to back, in queue order.
pub const BATCH_LIMIT: usize = 96;

/// Rounds one batch takes at most. A crowd of trips around one spot all
/// find the same few nearest drivers: a round serves as many as those can,
/// and the trips left search again past the drivers just claimed and are
/// solved in the next round, so a batch reaches as far as greedy's
/// repeated searches do.
const ROUNDS: usize = 4;

/// The batch loop of one batched city, until `stop`.
pub async fn run_batcher(
    state: AppState,
    city: String,
    policy: CityPolicy,
    stop: CancellationToken,
) {
    loop {
        let now = Utc::now();
        let wait = (next_batch_at(now, policy.batch_window) - now)
            .to_std()
            .unwrap_or_default();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        // Drivers freed since the last batch wake the waiting trips near
        // them, so this batch already has them.
        if let Err(err) = freed::wake_trips_near_freed(&state).await {
            tracing::warn!(error = %err, "could not wake the trips near freed drivers; they retry on their own");
        }
        loop {
            let picked = tokio::select! {
                _ = stop.cancelled() => return,
                picked = repo::pick_batch(&state.pool, state.step_lease, &city, BATCH_LIMIT) => picked,
            };
            let trips = match picked {
                Ok(trips) if !trips.is_empty() => trips,
                Ok(_) => break,
                Err(err) => {
                    metrics::counter!("dispatch_failures_total", "step" => "pick", "matcher" => BATCH.name).increment(1);
                    tracing::warn!(%city, error = %err, "could not pick the batch; the next window retries");
                    break;
                }
            };
            let full = trips.len() >= BATCH_LIMIT;
            let started = std::time::Instant::now();
            match dispatch_batch(&state, &policy, trips).await {
                Ok(Some(pass)) => pass.finish(state.clone(), BATCH).await,
                Ok(None) => {}
                Err(err) => {
                    metrics::counter!("dispatch_failures_total", "step" => "pass", "matcher" => BATCH.name).increment(1);
                    tracing::warn!(%city, error = %err, "batch failed; its trips will be retried");
                }
            }
            metrics::histogram!("dispatch_pass_duration_seconds", "matcher" => BATCH.name)
                .record(started.elapsed().as_secs_f64());
            if !full {
                break;
            }
        }
    }
}

/// One batch: settle, search, solve, claim, reschedule the misses. The
/// offers are still to be opened ([`Pass::finish`]).
async fn dispatch_batch(
    state: &AppState,
    policy: &CityPolicy,
    trips: Vec<TripRow>,
) -> ApiResult<Option<Pass>> {
    let now = Utc::now();
    let ids: Vec<Uuid> = trips.iter().map(|t| t.id).collect();
    let offers = repo::offers_of(&state.pool, &ids).await?;
    let searching = settle_all(state, trips, &offers, now).await;
    if searching.is_empty() {
        return Ok(None);
    }
    let mut searched = search(state, searching, &offers, policy.batch_candidates).await;
    widen_sparse(state, policy, &mut searched, &offers).await;
    // Queue order for the solver: premium, then the trips first in line,
    // then oldest. First in line: its last batch's driver went away, or it
    // is overdue (it has waited a quarter of its deadline): those take
    // their nearest free driver in queue order, as greedy would, so the
    // assignment never starves an old trip for nearer new ones.
    let ids: Vec<Uuid> = searched.iter().map(|s| s.trip.id).collect();
    let mut first: Vec<Uuid> = repo::first_in_line(&state.pool, &ids).await?;
    first.extend(
        searched
            .iter()
            .filter(|s| overdue(policy, s.trip.created_at, now))
            .map(|s| s.trip.id),
    );
    searched.sort_by_key(|s| {
        (
            s.trip.tier != Tier::Premium,
            !first.contains(&s.trip.id),
            s.trip.created_at,
        )
    });
    metrics::histogram!("dispatch_batch_trips").record(searched.len() as f64);
    let how = Dispatched {
        strategy: MatchStrategy::Batched,
        batch: Some((Uuid::new_v4(), searched.len())),
    };

    let mut open = searched;
    let mut commits = Vec::new();
    let mut misses: Vec<(TripRow, Miss)> = Vec::new();
    for round in 1..=ROUNDS {
        let problem: Vec<BatchTrip> = open
            .iter()
            .map(|s| BatchTrip {
                premium: s.trip.tier == Tier::Premium,
                first_in_line: first.contains(&s.trip.id),
                candidates: s
                    .candidates
                    .iter()
                    .map(|c| (c.driver_id, metres(c.distance_km)))
                    .collect(),
            })
            .collect();
        let solved = assignment::batched(&problem);
        if round == 1 {
            // What the batch gained over nearest-first on the same input,
            // so an operator can see the strategy pay (or not) in their city.
            for (rule, got) in [
                ("batched", &solved),
                ("greedy", &assignment::greedy(&problem)),
            ] {
                let (matched, metres) = assignment::score(&problem, got);
                metrics::counter!("dispatch_batch_matched_total", "rule" => rule)
                    .increment(matched as u64);
                metrics::counter!("dispatch_batch_pickup_metres_total", "rule" => rule)
                    .increment(metres);
            }
        }
        let wishes: Vec<Wish> = solved
            .iter()
            .map(|driver| Wish {
                drivers: driver.iter().copied().collect(),
                yields: false,
            })
            .collect();
        #[cfg(feature = "failpoints")]
        if let Some(pause) = state.pause_before_batch_claim {
            tokio::time::sleep(pause).await;
        }
        let claimed = claim(state, &open, &wishes).await?;

        let mut again = Vec::new();
        for ((s, solved), claimed) in open.into_iter().zip(solved).zip(claimed) {
            match claimed {
                Claimed::Driver { offer_id, driver } => commits.push(Commit {
                    trip: s.trip,
                    offer_id,
                    driver,
                    how,
                }),
                Claimed::Elsewhere => {}
                // Its driver went away before the claim: first in the next batch.
                Claimed::Nobody if solved.is_some() => misses.push((s.trip, Miss::DriverGone)),
                // Every driver it found went to others, and more may be
                // beyond them: another round.
                Claimed::Nobody if s.candidates.len() >= policy.batch_candidates => {
                    again.push(s.trip)
                }
                // Nobody (else) in reach: wider, in a later batch.
                Claimed::Nobody => misses.push((s.trip, Miss::Widen)),
            }
        }
        if again.is_empty() {
            break;
        }
        if round == ROUNDS {
            misses.extend(again.into_iter().map(|t| (t, Miss::Contended)));
            break;
        }
        // The drivers claimed this round have left the index: a new search
        // finds the next nearest.
        let asked = again.len();
        open = search(state, again.clone(), &offers, policy.batch_candidates).await;
        if open.len() != asked {
            misses.extend(again.into_iter().map(|t| (t, Miss::Contended)));
            break;
        }
        widen_sparse(state, policy, &mut open, &offers).await;
    }
    schedule_next_searches(state, now, misses.iter().map(|(t, m)| (t, *m)).collect()).await;
    Ok((!commits.is_empty()).then_some(Pass { commits }))
}

/// Searches again, wider, for the trips that found fewer than their
/// candidates, step by step up to the widest radius, all in this batch
/// (greedy widens between its passes, 0.5 s apart; a batch is a window
/// apart, so it takes the steps at once rather than keep a sparse trip
/// waiting a window per step). One search call per step, for the sparse
/// trips only; the widened radius is kept with the trip.
async fn widen_sparse(
    state: &AppState,
    policy: &CityPolicy,
    searched: &mut [super::search::Searched],
    offers: &[repo::OfferRow],
) {
    loop {
        let sparse: Vec<usize> = (0..searched.len())
            .filter(|&k| {
                searched[k].candidates.len() < policy.batch_candidates
                    && searched[k].trip.search_radius_km < policy.search.max_radius_km
            })
            .collect();
        if sparse.is_empty() {
            return;
        }
        let wider: Vec<TripRow> = sparse
            .iter()
            .map(|&k| {
                let mut trip = searched[k].trip.clone();
                trip.search_radius_km = policy.search.widen(trip.search_radius_km);
                trip
            })
            .collect();
        let found = search(state, wider, offers, policy.batch_candidates).await;
        if found.len() != sparse.len() {
            return; // the search failed: this batch goes with what it has
        }
        for (k, again) in sparse.into_iter().zip(found) {
            searched[k] = again;
        }
    }
}

/// Whether a trip requested at `requested_at` has waited long enough to be
/// served before the assignment (a quarter of its match deadline).
fn overdue(
    policy: &CityPolicy,
    requested_at: chrono::DateTime<Utc>,
    now: chrono::DateTime<Utc>,
) -> bool {
    now.signed_duration_since(requested_at)
        .to_std()
        .is_ok_and(|waited| waited >= policy.search.deadline / 4)
}

/// A pickup distance in whole metres, for the solver.
fn metres(km: f64) -> u32 {
    (km * 1000.0).round().clamp(0.0, f64::from(u32::MAX)) as u32
}
