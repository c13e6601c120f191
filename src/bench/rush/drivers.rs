//! The watched drivers: each listens on its own socket and answers every
//! new `offer` as a person would (the dice are [`draw_reaction`]): lets it
//! run out, declines after a pause, or accepts after a pause, starts at once
//! and completes after the ride. What they hear and do goes to the ledger.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use rand::rngs::StdRng;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

use super::{
    calls::Calls,
    ledger::{Freed, Ledger},
    plan::{draw_reaction, Reaction},
};
use crate::{
    bench::city::watch,
    simulate::api::{connected_socket, Api, Session},
};

/// What every driver and rider task shares.
pub(super) struct Crew {
    pub(super) api: Api,
    pub(super) ledger: Arc<Ledger>,
    pub(super) calls: Arc<Calls>,
    pub(super) rng: Mutex<StdRng>,
    /// Ends the reactions (cleanup).
    pub(super) stop: CancellationToken,
    pub(super) tasks: TaskTracker,
}

impl Crew {
    pub(super) fn reaction(&self) -> Reaction {
        match self.rng.lock() {
            Ok(mut rng) => draw_reaction(&mut *rng),
            Err(_) => Reaction::Ignore,
        }
    }

    /// Sleeps `d`, or returns false if the bench is stopping.
    pub(super) async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            () = self.stop.cancelled() => false,
        }
    }
}

/// Opens the watched drivers' sockets, 50 at a time; driver `i` of
/// `sessions` is the ledger's driver `i`.
pub(super) async fn watch_all(
    crew: &Arc<Crew>,
    sessions: &[Session],
) -> anyhow::Result<Vec<crate::socketio::SocketClient>> {
    let connected: Vec<anyhow::Result<crate::socketio::SocketClient>> =
        stream::iter(sessions.iter().enumerate())
            .map(|(i, session)| watch_one(crew.clone(), session.clone(), i))
            .buffer_unordered(50)
            .collect()
            .await;
    connected.into_iter().collect()
}

async fn watch_one(
    crew: Arc<Crew>,
    session: Session,
    d: usize,
) -> anyhow::Result<crate::socketio::SocketClient> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Value)>();
    let client = connected_socket(&crew.api.gateway, &session.token(), tx, true).await?;
    let tasks = crew.tasks.clone();
    tasks.spawn(async move {
        loop {
            let next = tokio::select! {
                next = rx.recv() => next,
                () = crew.stop.cancelled() => None,
            };
            let Some((event, value)) = next else { break };
            let at = Instant::now();
            match heard(&event, &value) {
                Heard::Offer { trip, expires } => {
                    if crew.ledger.offer_heard(d, trip, at, at + expires) {
                        let crew = crew.clone();
                        let session = session.clone();
                        crew.tasks.clone().spawn(async move {
                            react(&crew, &session, d, trip, at + expires).await
                        });
                    }
                }
                Heard::Gone { trip } => crew.ledger.let_go(d, trip, at, Freed::Revoked),
                Heard::Other => {}
            }
        }
    });
    Ok(client)
}

/// What a watched driver's socket event is to the ledger.
#[derive(Debug, PartialEq)]
enum Heard {
    /// An offer, open for `expires` more.
    Offer {
        trip: Uuid,
        expires: Duration,
    },
    /// The driver no longer holds `trip`: its offer was revoked, or the
    /// rider cancelled it (also while the driver rides it).
    Gone {
        trip: Uuid,
    },
    Other,
}

/// Only `offer` is an offer: a driver on a trip also hears its own
/// `driver:location` in the trip's room, which names the trip too, and
/// was once taken for an offer of the trip it rides (a false double).
fn heard(event: &str, value: &Value) -> Heard {
    match event {
        "offer" => watch::offer(value).map_or(Heard::Other, |(trip, expires)| Heard::Offer {
            trip,
            expires,
        }),
        "offer:revoked" => {
            watch::offer(value).map_or(Heard::Other, |(trip, _)| Heard::Gone { trip })
        }
        "trip:update" if value["status"] == "CANCELLED" => value["id"]
            .as_str()
            .and_then(|id| Uuid::parse_str(id).ok())
            .map_or(Heard::Other, |trip| Heard::Gone { trip }),
        _ => Heard::Other,
    }
}

/// One driver's answer to one offer.
async fn react(crew: &Crew, session: &Session, d: usize, trip: Uuid, expires: Instant) {
    match crew.reaction() {
        Reaction::Ignore => {
            let left = expires.saturating_duration_since(Instant::now());
            if crew.pause(left).await {
                crew.ledger.let_go(d, trip, expires, Freed::Expired);
            }
        }
        Reaction::Decline { after } => {
            if crew.pause(after).await {
                crew.ledger.let_go(d, trip, Instant::now(), Freed::Declined);
                let _ = call(crew, session, trip, "decline").await;
            }
        }
        Reaction::Accept { after, ride } => {
            if crew.pause(after).await {
                ride_trip(crew, session, d, trip, ride).await;
            }
        }
    }
}

/// Accept, start, wait out the ride, complete. A 409 anywhere means the
/// trip went (the rider cancelled, the offer ran out): the driver is free.
async fn ride_trip(crew: &Crew, session: &Session, d: usize, trip: Uuid, ride: Duration) {
    if call(crew, session, trip, "accept").await.is_err() {
        crew.ledger.let_go(d, trip, Instant::now(), Freed::Revoked);
        return;
    }
    crew.ledger.accepted(d, trip);
    if call(crew, session, trip, "start").await.is_err() {
        crew.ledger.ride_over(d, trip, Instant::now());
        return;
    }
    if crew.pause(ride).await {
        crew.ledger.ride_over(d, trip, Instant::now());
        let _ = call(crew, session, trip, "complete").await;
    }
}

async fn call(crew: &Crew, session: &Session, trip: Uuid, step: &str) -> Result<Value, ()> {
    let answer = crew
        .api
        .post::<Value>(&format!("/trips/{trip}/{step}"), session, json!({}))
        .await;
    crew.calls.note(answer).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRIP: &str = "5b0f8c9e-7d1a-4c2b-9e3f-1a2b3c4d5e6f";

    fn trip() -> Uuid {
        Uuid::parse_str(TRIP).expect("a uuid")
    }

    #[test]
    fn a_drivers_own_position_on_its_trip_is_not_an_offer() {
        let position = json!({"driver_id": Uuid::nil(), "trip_id": TRIP, "lat": 1.3, "lng": 103.8});
        assert_eq!(heard("driver:location", &position), Heard::Other);
    }

    #[test]
    fn an_offer_a_revoke_and_a_cancel_are_told_apart() {
        let at = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
        let offer = json!({"trip_id": TRIP, "expires_at": at});
        assert!(matches!(heard("offer", &offer), Heard::Offer { trip: t, .. } if t == trip()));
        let revoked = json!({"trip_id": TRIP, "reason": "cancelled"});
        assert_eq!(
            heard("offer:revoked", &revoked),
            Heard::Gone { trip: trip() }
        );
        let cancelled = json!({"id": TRIP, "status": "CANCELLED"});
        assert_eq!(
            heard("trip:update", &cancelled),
            Heard::Gone { trip: trip() }
        );
        let ongoing = json!({"id": TRIP, "status": "ONGOING"});
        assert_eq!(heard("trip:update", &ongoing), Heard::Other);
    }
}
