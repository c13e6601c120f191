//! The watched drivers: each listens on its own socket, and what it hears
//! (`offer`, or `trip:update` ASSIGNED to it) is recorded by trip with the
//! instant it arrived, which is what the trip phases time. Each hearing also
//! opens a hold (until the offer's expiry, or until the driver's decline was
//! answered), from which the double assignments are counted.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use hail_shared::api::trips::{Trip, TripStatus};
use serde_json::Value;
use tokio::sync::{mpsc, Notify};
use uuid::Uuid;

use super::fleet::Fleet;
use crate::simulate::api::{connected_socket, Api, Session};

/// One thing a watched socket heard: (watched driver index, when, kind).
type Hearing = (usize, Instant, &'static str);

/// A watched driver's hold on a trip: (trip, from, until).
type Hold = (Uuid, Instant, Instant);

/// What the watched sockets heard, by trip.
#[derive(Default)]
pub(super) struct Heard {
    by_trip: Mutex<HashMap<Uuid, Vec<Hearing>>>,
    /// Per watched driver: (trip, from, until) for each offer or assignment
    /// it held; until = the offer's expiry, or when its decline was answered.
    holds: Mutex<HashMap<usize, Vec<Hold>>>,
    notify: Notify,
}

impl Heard {
    fn record(&self, trip: Uuid, driver: usize, kind: &'static str, holds_for: Duration) {
        let at = Instant::now();
        if let Ok(mut map) = self.by_trip.lock() {
            map.entry(trip).or_default().push((driver, at, kind));
        }
        if let Ok(mut holds) = self.holds.lock() {
            holds
                .entry(driver)
                .or_default()
                .push((trip, at, at + holds_for));
        }
        self.notify.notify_waiters();
    }

    /// `driver`'s decline of `trip` was answered: it holds it no longer.
    pub(super) fn release(&self, trip: Uuid, driver: usize) {
        let now = Instant::now();
        if let Ok(mut holds) = self.holds.lock() {
            for hold in holds.entry(driver).or_default().iter_mut() {
                if hold.0 == trip {
                    hold.2 = hold.2.min(now);
                }
            }
        }
    }

    /// Forgets every hold (the phase's trips were cancelled).
    pub(super) fn clear_holds(&self) {
        if let Ok(mut holds) = self.holds.lock() {
            holds.clear();
        }
    }

    /// Was `trip` assigned (not offered) to a watched driver?
    pub(super) fn assigned(&self, trip: Uuid) -> bool {
        self.by_trip
            .lock()
            .map(|m| {
                m.get(&trip)
                    .is_some_and(|h| h.iter().any(|h| h.2 == "assigned"))
            })
            .unwrap_or(false)
    }

    fn first(&self, trip: Uuid, want: impl Fn(usize) -> bool) -> Option<(usize, Instant)> {
        let map = self.by_trip.lock().ok()?;
        map.get(&trip)?
            .iter()
            .find(|(d, _, _)| want(*d))
            .map(|(d, at, _)| (*d, *at))
    }

    /// The first watched driver `want` accepts that heard of `trip`, and
    /// when, waiting up to `within` for one.
    pub(super) async fn wait(
        &self,
        trip: Uuid,
        within: Duration,
        want: impl Fn(usize) -> bool,
    ) -> Option<(usize, Instant)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.notify.notified();
            if let Some(found) = self.first(trip, &want) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.first(trip, &want);
            }
        }
    }

    /// Offers or assignments a watched driver got for one trip while it
    /// still held another.
    pub(super) fn doubles(&self) -> usize {
        let Ok(holds) = self.holds.lock() else {
            return 0;
        };
        let mut found = 0;
        for list in holds.values() {
            let mut list = list.clone();
            list.sort_by_key(|h| h.1);
            let mut held: Option<(Uuid, Instant)> = None;
            for (trip, from, until) in list {
                if let Some((other, end)) = held {
                    if other != trip && from < end {
                        found += 1;
                    }
                }
                if held.is_none_or(|(_, end)| until > end) {
                    held = Some((trip, until));
                }
            }
        }
        found
    }
}

/// Opens the sockets of the fleet's first `watched` drivers, 50 at a time.
pub(super) async fn connect_all(
    api: &Api,
    fleet: &Fleet,
    watched: usize,
    heard: &Arc<Heard>,
) -> anyhow::Result<Vec<crate::socketio::SocketClient>> {
    let connected: Vec<anyhow::Result<crate::socketio::SocketClient>> = stream::iter(0..watched)
        .map(|i| {
            let heard = heard.clone();
            async move { watch(api, fleet.drivers[i].0.clone(), i, heard).await }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    connected.into_iter().collect()
}

async fn watch(
    api: &Api,
    session: Session,
    index: usize,
    heard: Arc<Heard>,
) -> anyhow::Result<crate::socketio::SocketClient> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Value)>();
    let me = session.id;
    let client = connected_socket(&api.gateway, &session.token(), tx, true).await?;
    tokio::spawn(async move {
        while let Some((event, value)) = rx.recv().await {
            match event.as_str() {
                "offer" => {
                    if let Some((trip, expires)) = offer(&value) {
                        heard.record(trip, index, "offer", expires);
                    }
                }
                _ => {
                    if let Ok(trip) = serde_json::from_value::<Trip>(value) {
                        if trip.status == TripStatus::Assigned && trip.driver_id == Some(me) {
                            // Held until the phase's trips are cancelled.
                            heard.record(trip.id, index, "assigned", Duration::from_secs(3600));
                        }
                    }
                }
            }
        }
    });
    Ok(client)
}

/// An `offer` event's trip, and how long until the offer expires (15 s
/// when it does not say).
pub(in crate::bench) fn offer(value: &Value) -> Option<(Uuid, Duration)> {
    let trip = value
        .get("trip_id")
        .and_then(Value::as_str)
        .and_then(|t| Uuid::parse_str(t).ok())?;
    // An offer read after its expiry (a busy bench) has no time left, not
    // the default: taking it as open for 15 s made its driver's next offer
    // look like a double.
    let expires = match value.get("expires_at").and_then(Value::as_str) {
        Some(at) => chrono::DateTime::parse_from_rfc3339(at)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .map_or(Duration::from_secs(15), |d| {
                d.to_std().unwrap_or(Duration::ZERO)
            }),
        None => Duration::from_secs(15),
    };
    Some((trip, expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer_expiring_in(secs: i64) -> Value {
        let at = chrono::Utc::now() + chrono::Duration::seconds(secs);
        serde_json::json!({"trip_id": Uuid::nil(), "expires_at": at.to_rfc3339()})
    }

    #[test]
    fn an_offer_read_after_its_expiry_has_no_time_left() {
        let (trip, left) = offer(&offer_expiring_in(-2)).expect("an offer");
        assert_eq!(trip, Uuid::nil());
        assert_eq!(left, Duration::ZERO);
    }

    #[test]
    fn an_open_offer_has_its_time_left_and_one_without_expiry_the_default() {
        let (_, left) = offer(&offer_expiring_in(10)).expect("an offer");
        assert!(left > Duration::from_secs(8) && left <= Duration::from_secs(10));
        let (_, left) = offer(&serde_json::json!({"trip_id": Uuid::nil()})).expect("an offer");
        assert_eq!(left, Duration::from_secs(15));
    }
}
