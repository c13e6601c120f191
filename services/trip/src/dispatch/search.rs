//! A pass's search: every trip's candidates at once (minus the drivers it
//! already tried), then each trip's wish, cut before the first candidate a
//! waiting trip ahead in the queue also wants (one query for the batch).

use std::collections::HashSet;

use hail_shared::{
    api::{
        drivers::{CandidateSearch, NearbyDriver},
        trips::Tier,
    },
    ApiResult,
};
use uuid::Uuid;

use crate::{
    domain::dispatch::Wish,
    repo::{self, OfferRow, OfferStatus, TripRow},
    state::AppState,
};

/// A trip of the batch with what its search found.
pub(super) struct Searched {
    pub trip: TripRow,
    pub candidates: Vec<NearbyDriver>,
}

impl Searched {
    pub fn driver_ids(&self) -> Vec<Uuid> {
        self.candidates.iter().map(|c| c.driver_id).collect()
    }
}

/// Every trip's search (up to `limit` candidates each) in one call, minus the drivers it already tried (a
/// CLAIMING row is not an offer: it was settled above). If the call fails,
/// the trips are left to their leases.
pub(super) async fn search(
    state: &AppState,
    trips: Vec<TripRow>,
    offers: &[OfferRow],
    limit: usize,
) -> Vec<Searched> {
    let searches = trips
        .iter()
        .map(|trip| {
            let mut tried: Vec<Uuid> = offers
                .iter()
                .filter(|o| o.trip_id == trip.id && o.status != OfferStatus::Claiming)
                .map(|o| o.driver_id)
                .collect();
            tried.sort_unstable();
            tried.dedup();
            let at = trip.pickup();
            CandidateSearch {
                lat: at.lat,
                lng: at.lng,
                radius_km: trip.search_radius_km,
                limit,
                exclude: tried,
            }
        })
        .collect();
    match state.drivers.candidates(searches).await {
        Ok(found) => trips
            .into_iter()
            .zip(found)
            .map(|(trip, candidates)| Searched { trip, candidates })
            .collect(),
        Err(err) => {
            tracing::warn!(trips = trips.len(), error = %err, "candidate search failed; the trips will be retried");
            Vec::new()
        }
    }
}

/// Each trip's wish: its candidates up to the first one a waiting trip
/// ahead in the queue wants; and those waiting trips, which go first.
pub(super) async fn wishes(
    state: &AppState,
    searched: &[Searched],
    batch: &[Uuid],
) -> ApiResult<(Vec<Wish>, Vec<Uuid>)> {
    let pairs: Vec<repo::CandidatePair> = searched
        .iter()
        .flat_map(|s| {
            s.candidates.iter().map(|c| repo::CandidatePair {
                premium: s.trip.tier == Tier::Premium,
                created_at: s.trip.created_at,
                driver_id: c.driver_id,
                lat: c.lat,
                lng: c.lng,
            })
        })
        .collect();
    let wanted = repo::wanted_by_queue_ahead(
        &state.pool,
        &pairs,
        batch,
        state.policies.widest_radius_km(),
    )
    .await?;
    let ahead: Vec<Uuid> = wanted.iter().map(|(_, trip)| *trip).collect();
    let wanted: HashSet<usize> = wanted.into_iter().map(|(pair, _)| pair).collect();
    // Pairs are numbered trip by trip, candidate by candidate.
    let mut first_pair = 0;
    let wishes = searched
        .iter()
        .map(|s| {
            let wish = Wish::new(&s.driver_ids(), |i| wanted.contains(&(first_pair + i)));
            first_pair += s.candidates.len();
            wish
        })
        .collect();
    Ok((wishes, ahead))
}
