//! Offer delivery, the gateway's side (API.md, "Offer delivery").
//!
//! - An `offer` goes to the driver's sockets on this gateway with a
//!   Socket.IO acknowledgement. The first ack is a receipt, reported to the
//!   trip service (`OFFER_DELIVERED` via socket). If this gateway holds
//!   sockets of the driver and none acks within `HAIL_OFFER_ACK_MS`, it
//!   reports that; the trip service gives the offer up unless a receipt
//!   came first (the driver may have a live socket on another gateway). A
//!   gateway with no socket of the driver says nothing, so a driver with no
//!   socket anywhere (REST only) keeps the whole offer timeout.
//! - A driver's last socket closing (counted across gateways in the socket
//!   registry) and a socket of the driver connecting are reported with
//!   their time; the trip service keeps the grace in Postgres, so it holds
//!   whichever gateway or trip-service instance comes and goes. A socket
//!   that connects while an offer is open gets the offer again, with an
//!   ack, so a reconnect within the grace keeps the offer; never one the
//!   bridge has revoked meanwhile ([`RevokedOffers`]).
//!
//! Every report is one HTTP call with the realtime side's own token; a
//! failed report costs only speed (the offer runs its whole timeout).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use hail_shared::{
    api::{
        delivery::{DeliveredVia, OfferReceipt, OfferUnacked, SocketChange, SocketChanged},
        trips::Offer,
    },
    events::OfferRevoked,
    extract::INTERNAL_TOKEN_HEADER,
};
use serde::Serialize;
use serde_json::Value;
use socketioxide::{ack::AckStream, adapter::Adapter, AckError, SocketIo};
use uuid::Uuid;

use super::{room_driver, room_socket};
use crate::{domain::routing::Upstream, state::AppState};

/// What the driver's sockets on this gateway did with an `offer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Heard {
    /// This gateway holds no socket of the driver.
    NoSocketHere,
    Acked,
    NotAcked,
}

/// Sends `offer` to the driver's sockets on this gateway and reports what
/// came of it. The emit happens here, in the order the bridge reads its
/// messages, so an `offer:revoked` published after the offer (a rider
/// cancelling a moment after it opened) can never reach the phone before
/// it and leave a dead offer on screen. Only the wait for the ack runs in
/// the background, so the bridge never waits for a phone.
pub(super) async fn send_offer<A: Adapter>(
    io: &SocketIo<A>,
    state: &AppState,
    driver_id: Uuid,
    offer: Offer,
) {
    let sent = emit(io, state, room_driver(driver_id), &offer).await;
    // Every gateway hears every offer; the ones holding no socket of the
    // driver have nothing to wait for or report.
    if matches!(sent, Emitted::NoSocketHere) {
        return;
    }
    let state = state.clone();
    state.socket_tasks.clone().spawn(async move {
        let heard = sent.receipt().await;
        report(&state, driver_id, &offer, heard).await;
    });
}

/// A driver's socket connected: the trip service hears of it and, if an
/// offer is open, it goes to this socket again (with an ack).
pub(super) async fn driver_connected<A: Adapter>(
    io: &SocketIo<A>,
    state: &AppState,
    driver_id: Uuid,
    socket_id: &str,
) {
    let change = SocketChange {
        connected: true,
        at: chrono::Utc::now(),
    };
    let path = format!("/internal/drivers/{driver_id}/socket");
    let answer = match call_trip(state, &path, &change).await {
        Ok(answer) => answer,
        Err(err) => {
            tracing::warn!(%driver_id, error = %err, "could not tell the trip service a driver's socket connected");
            return;
        }
    };
    let Ok(SocketChanged { offer: Some(offer) }) = answer.json::<SocketChanged>().await else {
        return;
    };
    // The trip service's answer may be older than a revoke the bridge has
    // sent meanwhile (the rider cancelled while this call was under way):
    // then it is not sent at all. The bridge notes a revoke before sending
    // it and this checks again after sending the offer, so whichever way
    // the two interleave, an offer sent here is followed by its revoke.
    if state.revoked.get(driver_id, offer.trip_id).is_some() {
        return;
    }
    let sent = emit(io, state, room_socket(socket_id), &offer).await;
    if let Some(revoked) = state.revoked.get(driver_id, offer.trip_id) {
        if let Err(err) = io
            .local()
            .to(room_socket(socket_id))
            .emit("offer:revoked", &revoked)
            .await
        {
            tracing::debug!(error = %err, "offer:revoked not delivered");
        }
        return;
    }
    let heard = sent.receipt().await;
    report(state, driver_id, &offer, heard).await;
}

/// The offers the bridge revoked in the last [`RevokedOffers::KEPT`], by
/// driver and trip (a trip is never offered to one driver twice).
#[derive(Clone, Default)]
pub struct RevokedOffers(Arc<Mutex<Revocations>>);

#[derive(Default)]
struct Revocations {
    by_offer: HashMap<(Uuid, Uuid), (OfferRevoked, Instant)>,
    pruned_at: Option<Instant>,
}

impl RevokedOffers {
    /// Far longer than a trip service takes to answer a reconnect.
    const KEPT: Duration = Duration::from_secs(60);

    pub fn note(&self, driver_id: Uuid, revoked: &OfferRevoked) {
        let now = Instant::now();
        let Ok(mut held) = self.0.lock() else {
            return;
        };
        // Old entries go a few times per `KEPT`, so the map holds about a
        // minute of revokes and a note costs O(1) amortised.
        if held
            .pruned_at
            .is_none_or(|at| now.duration_since(at) > Self::KEPT / 4)
        {
            held.by_offer
                .retain(|_, (_, at)| now.duration_since(*at) < Self::KEPT);
            held.pruned_at = Some(now);
        }
        held.by_offer
            .insert((driver_id, revoked.trip_id), (revoked.clone(), now));
    }

    pub fn get(&self, driver_id: Uuid, trip_id: Uuid) -> Option<OfferRevoked> {
        let held = self.0.lock().ok()?;
        held.by_offer
            .get(&(driver_id, trip_id))
            .filter(|(_, at)| at.elapsed() < Self::KEPT)
            .map(|(revoked, _)| revoked.clone())
    }
}

/// A driver's socket closed, leaving it `left` sockets on any gateway:
/// with none, the trip service starts the reconnect grace of its open
/// offer.
pub(super) async fn driver_disconnected(state: &AppState, driver_id: Uuid, left: usize) {
    if left > 0 {
        return;
    }
    let change = SocketChange {
        connected: false,
        at: chrono::Utc::now(),
    };
    let path = format!("/internal/drivers/{driver_id}/socket");
    if let Err(err) = call_trip(state, &path, &change).await {
        tracing::warn!(%driver_id, error = %err, "could not tell the trip service a driver's last socket closed");
    }
}

/// An `offer` emitted to a room's sockets on this gateway.
enum Emitted<A: Adapter> {
    NoSocketHere,
    Failed,
    Sent {
        acks: AckStream<Value, A>,
        at: std::time::Instant,
    },
}

/// Emits `offer` to `room`'s sockets on this gateway, asking for an ack
/// within the ack window (at most the offer's own time).
async fn emit<A: Adapter>(
    io: &SocketIo<A>,
    state: &AppState,
    room: String,
    offer: &Offer,
) -> Emitted<A> {
    if io.local().to(room.clone()).sockets().is_empty() {
        return Emitted::NoSocketHere;
    }
    let offer_left = (offer.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    let window = state
        .offer_ack_window
        .map_or(offer_left, |w| w.min(offer_left))
        .max(Duration::from_millis(1));
    let at = std::time::Instant::now();
    match io
        .local()
        .to(room)
        .timeout(window)
        .emit_with_ack::<_, Value>("offer", offer)
        .await
    {
        Ok(acks) => Emitted::Sent { acks, at },
        Err(err) => {
            tracing::debug!(error = %err, "offer not sent");
            Emitted::Failed
        }
    }
}

impl<A: Adapter> Emitted<A> {
    /// Waits for the first ack, or the end of the ack window.
    async fn receipt(self) -> Heard {
        let (acks, at) = match self {
            Emitted::NoSocketHere => return Heard::NoSocketHere,
            Emitted::Failed => return Heard::NotAcked,
            Emitted::Sent { acks, at } => (acks, at),
        };
        futures::pin_mut!(acks);
        while let Some((_, answer)) = acks.next().await {
            // Any answer is a receipt (one the server cannot read still
            // came from the app); a timeout or a closed socket is not.
            if !matches!(answer, Err(AckError::Timeout | AckError::Socket(_))) {
                metrics::histogram!("gateway_offer_ack_seconds").record(at.elapsed().as_secs_f64());
                return Heard::Acked;
            }
        }
        Heard::NotAcked
    }
}

/// Tells the trip service what the driver's sockets here did.
async fn report(state: &AppState, driver_id: Uuid, offer: &Offer, heard: Heard) {
    let trip_id = offer.trip_id;
    let sent = match heard {
        Heard::NoSocketHere => return,
        Heard::Acked => {
            let receipt = OfferReceipt {
                trip_id,
                driver_id,
                via: DeliveredVia::Socket,
            };
            call_trip(state, "/internal/offers/delivered", &receipt).await
        }
        // Without an ack window the driver has the offer's whole time.
        Heard::NotAcked if state.offer_ack_window.is_none() => return,
        Heard::NotAcked => {
            metrics::counter!("gateway_offers_unacked_total").increment(1);
            let unacked = OfferUnacked { trip_id, driver_id };
            call_trip(state, "/internal/offers/unacked", &unacked).await
        }
    };
    if let Err(err) = sent {
        tracing::warn!(%driver_id, %trip_id, error = %err, "could not report an offer's delivery");
    }
}

async fn call_trip<B: Serialize>(
    state: &AppState,
    path: &str,
    body: &B,
) -> Result<reqwest::Response, reqwest::Error> {
    state
        .upstreams
        .instances(Upstream::Trip)
        .send(|base| {
            state
                .http
                .post(format!("{base}{path}"))
                .header(INTERNAL_TOKEN_HEADER, &*state.presence_token)
                .json(body)
        })
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|err| err.without_url())
}

#[cfg(test)]
mod tests {
    use hail_shared::events::RevokeReason;

    use super::*;

    #[test]
    fn a_revoke_is_held_for_its_driver_and_trip_only() {
        let revoked = RevokedOffers::default();
        let (driver, other_driver, trip) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert!(revoked.get(driver, trip).is_none());
        let revoke = OfferRevoked {
            trip_id: trip,
            reason: RevokeReason::Cancelled,
        };
        revoked.note(driver, &revoke);
        assert_eq!(revoked.get(driver, trip), Some(revoke));
        assert!(revoked.get(other_driver, trip).is_none());
        assert!(revoked.get(driver, Uuid::new_v4()).is_none());
    }
}
