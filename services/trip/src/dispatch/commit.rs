//! Dispatch's commit half: a worker holds a claimed driver for a trip and
//! turns it into an open offer (offer mode) or an assignment (auto mode),
//! decided once as a [`Commitment`]. A pass's offers open together in one
//! Postgres transaction ([`open_offers`]); an assignment is its own
//! ([`assign_claim`]). Each writes its audit rows and outbox events with
//! the change. If the trip moved on meanwhile, the driver goes back.

use std::collections::HashSet;

use chrono::{Duration as ChronoDuration, Utc};
use futures::future::join_all;
use hail_shared::{
    api::{
        drivers::{NearbyDriver, OfferToShow, ShowOffer},
        trips::{Offer, Trip},
    },
    config::{MatchMode, MatchStrategy},
    events::{channel, DriverEvent, DriverMessage},
    ApiError, ApiResult,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    moves::{driver_card, free_driver, on_assigned, record_change, to_json},
    repo::{self, DriverCard, OfferStatus, TripRow},
    state::AppState,
};

/// What a claimed driver becomes, decided once from the match mode.
pub enum Commitment {
    /// Offer mode: this offer opens and waits for the driver's answer.
    Offer(Offer),
    /// Auto mode: the driver is assigned at once.
    Assign,
}

impl Commitment {
    pub fn for_mode(state: &AppState, trip: &TripRow, candidate: &NearbyDriver) -> ApiResult<Self> {
        Ok(match state.policies.of(&trip.city).mode {
            MatchMode::Offer => Self::Offer(offer_for(state, trip, candidate)?),
            MatchMode::Auto => Self::Assign,
        })
    }
}

/// How a claim was decided, for the audit (`OFFER_SENT`'s and an auto
/// `ASSIGNED`'s detail: `{strategy, batch_id?, batch_size?}`).
#[derive(Clone, Copy, Debug)]
pub struct Dispatched {
    pub strategy: MatchStrategy,
    /// Batched: the batch's id and how many trips it solved together.
    pub batch: Option<(Uuid, usize)>,
}

impl Dispatched {
    pub const GREEDY: Self = Self {
        strategy: MatchStrategy::Greedy,
        batch: None,
    };

    /// `detail` with this dispatch's fields added.
    fn into_detail(self, mut detail: serde_json::Value) -> serde_json::Value {
        if let Some(fields) = detail.as_object_mut() {
            fields.insert("strategy".into(), self.strategy.name().into());
            if let Some((id, size)) = self.batch {
                fields.insert("batch_id".into(), id.to_string().into());
                fields.insert("batch_size".into(), size.into());
            }
        }
        detail
    }
}

/// Auto mode: a worker holds `candidate` for `trip` and assigns it at
/// once. If the rider cancelled meanwhile, the driver goes back to the
/// pool first. (Offer mode opens a pass's offers together: [`open_offers`].)
pub async fn assign_claim(
    state: &AppState,
    trip: &TripRow,
    offer_id: Uuid,
    candidate: &NearbyDriver,
    how: &Dispatched,
) -> ApiResult<()> {
    let driver_id = candidate.driver_id;
    // The rider sees the driver's card at once: asked before the
    // transaction, so no row lock waits on the network. Without it the
    // driver goes back, as when the trip moved on.
    let card = match driver_card(state, driver_id).await {
        Ok(card) => card,
        Err(err) => {
            free_driver(state, driver_id, trip.id).await;
            repo::drop_claiming(&state.pool, offer_id).await?;
            return Err(err);
        }
    };
    let mut tx = state.pool.begin().await?;
    // The rider is told "assigned" as an outcome.
    repo::commit_durably(&mut tx).await?;
    let Some(assigned) = auto_assign(&mut tx, trip, offer_id, candidate, &card, how).await? else {
        drop(tx);
        free_driver(state, driver_id, trip.id).await;
        repo::drop_claiming(&state.pool, offer_id).await?;
        return Ok(());
    };
    tx.commit().await?;
    state.outbox_wake.notify_one();
    on_assigned(state, &assigned, driver_id).await;
    Ok(())
}

/// A claimed driver whose offer a matcher pass opens.
pub struct Opening<'a> {
    pub trip: &'a TripRow,
    pub offer_id: Uuid,
    pub driver_id: Uuid,
    pub offer: Offer,
    pub how: Dispatched,
}

/// Opens the offers of one matcher pass together: one transaction writes
/// every offer row, every trip's next look, the audit rows and the outbox
/// events (five statements a pass, where one offer at a time took six
/// round trips each), then one call shows them to REST-only drivers. The
/// rule per offer is [`commit_claim`]'s: it opens only while its row is
/// CLAIMING and its trip REQUESTED; otherwise its driver goes back.
/// Locks are taken offer rows first, then trip rows in id order, as every
/// other transaction takes them.
pub async fn open_offers(state: &AppState, openings: Vec<Opening<'_>>) -> ApiResult<()> {
    if openings.is_empty() {
        return Ok(());
    }
    let offer_ids: Vec<Uuid> = openings.iter().map(|o| o.offer_id).collect();
    let expiries: Vec<_> = openings.iter().map(|o| o.offer.expires_at).collect();
    let mut tx = state.pool.begin().await?;
    let claiming: HashSet<Uuid> = repo::open_claimings(&mut tx, &offer_ids, &expiries)
        .await?
        .into_iter()
        .collect();
    let (mut trips, mut at, mut radius) = (Vec::new(), Vec::new(), Vec::new());
    for o in openings.iter().filter(|o| claiming.contains(&o.offer_id)) {
        trips.push(o.trip.id);
        at.push(o.offer.expires_at);
        radius.push(o.trip.search_radius_km);
    }
    let requested: HashSet<Uuid> = repo::schedule_offered(&mut tx, &trips, &at, &radius)
        .await?
        .into_iter()
        .collect();
    let (open, gone): (Vec<_>, Vec<_>) = openings
        .into_iter()
        .partition(|o| claiming.contains(&o.offer_id) && requested.contains(&o.trip.id));
    // Opened above, but the rider cancelled first: the offer never was.
    let unwound: Vec<Uuid> = gone
        .iter()
        .filter(|o| claiming.contains(&o.offer_id))
        .map(|o| o.offer_id)
        .collect();
    repo::forget_offers(&mut tx, &unwound).await?;
    let audit: Vec<_> = open
        .iter()
        .map(|o| {
            let detail = serde_json::json!({"distance_km": o.offer.distance_km, "expires_at": o.offer.expires_at});
            (o.trip.id, Some(o.driver_id), o.how.into_detail(detail))
        })
        .collect();
    repo::audit_many(&mut tx, "OFFER_SENT", &audit).await?;
    let events = open
        .iter()
        .map(|o| {
            to_json(&DriverMessage {
                driver_id: o.driver_id,
                event: DriverEvent::Offer(o.offer.clone()),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    repo::push_outbox_many(&mut tx, channel::DRIVER_OFFERS, &events).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    join_all(
        gone.iter()
            .map(|o| free_driver(state, o.driver_id, o.trip.id)),
    )
    .await;
    // Shown only now that the offers are open, so an answer can never
    // arrive before the trip service would take it.
    let shown = open
        .into_iter()
        .map(|o| OfferToShow {
            driver_id: o.driver_id,
            show: ShowOffer {
                trip_id: o.trip.id,
                ttl_secs: state
                    .policies
                    .of(&o.trip.city)
                    .search
                    .offer_timeout
                    .as_secs()
                    .max(1),
                offer: o.offer,
            },
        })
        .collect();
    if let Err(err) = state.drivers.show_offers(shown).await {
        tracing::warn!(error = %err, "could not show the pass's offers over REST");
    }
    Ok(())
}

/// `Some(trip)`: assigned. `None`: the trip is no longer REQUESTED.
async fn auto_assign(
    tx: &mut PgConnection,
    trip: &TripRow,
    offer_id: Uuid,
    candidate: &NearbyDriver,
    card: &DriverCard,
    how: &Dispatched,
) -> ApiResult<Option<Trip>> {
    if !repo::settle_claiming(tx, offer_id, OfferStatus::Accepted, None).await? {
        return Ok(None);
    }
    let Some(row) = repo::assign(tx, trip.id, candidate.driver_id, card).await? else {
        return Ok(None);
    };
    let assigned = row.to_trip();
    record_change(
        tx,
        &row,
        "ASSIGNED",
        Some(candidate.driver_id),
        how.into_detail(serde_json::json!({"mode": "auto", "distance_km": candidate.distance_km})),
    )
    .await?;
    Ok(Some(assigned))
}

/// The offer for a claimed driver: what the `offer` event carries and what
/// the driver service shows REST-only drivers as `current_offer`.
fn offer_for(state: &AppState, trip: &TripRow, candidate: &NearbyDriver) -> ApiResult<Offer> {
    let timeout = ChronoDuration::from_std(state.policies.of(&trip.city).search.offer_timeout)
        .map_err(ApiError::internal)?;
    let trip_view = trip.to_trip();
    Ok(Offer {
        trip_id: trip.id,
        pickup: trip_view.pickup,
        dropoff: trip_view.dropoff,
        tier: trip_view.tier,
        distance_km: candidate.distance_km,
        expires_at: Utc::now() + timeout,
        fare_estimate: trip_view.fare.amount_estimate(),
    })
}
