//! The trips whose positions this gateway hears.
//!
//! A driver on a trip has its pings published on the trip's own channel
//! (`Keys::channel_trip_location`). A gateway subscribes to that channel
//! only while one of its own sockets is in the trip's room, so a position
//! reaches the gateways that have someone to show it to, and no other: a
//! gateway's share of the fleet's pings is the share of trips its sockets
//! watch, and on a cluster each trip's channel lives at one shard.
//!
//! - A trip is watched where a socket joins its room: the bridge's trip
//!   events, `trip:subscribe`, the resync on connect.
//! - It is dropped when the trip ends, and by a sweep every few seconds
//!   once all its watchers here left (their sockets closed).
//! - Changes reach Redis one at a time, under one lock, so a subscribe and
//!   an unsubscribe of one trip always arrive in the order they were
//!   decided.
//! - When the bridge loses its feed it detaches; the new connection, once
//!   attached, is subscribed to every trip still watched.

use std::{collections::HashSet, sync::Arc};

use hail_shared::{keys::Keys, redis_conn::Subscriber};
use socketioxide::{adapter::Adapter, SocketIo};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::room_trip;

/// Whether a socket of this gateway is in `trip`'s room.
pub fn has_watchers<A: Adapter>(io: &SocketIo<A>, trip: Uuid) -> bool {
    !io.local().within(room_trip(trip)).sockets().is_empty()
}

#[derive(Clone)]
pub struct Watched {
    keys: Keys,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    trips: HashSet<Uuid>,
    /// The bridge's live connection; `None` while it reconnects.
    subscriber: Option<Subscriber>,
}

impl Watched {
    pub fn new(keys: Keys) -> Self {
        Self {
            keys,
            inner: Arc::default(),
        }
    }

    /// Hears `trip`'s positions from now on (nothing if already).
    pub async fn watch(&self, trip: Uuid) {
        let mut inner = self.inner.lock().await;
        if !inner.trips.insert(trip) {
            return;
        }
        metrics::gauge!("realtime_trips_watched").set(inner.trips.len() as f64);
        let channel = self.keys.channel_trip_location(trip);
        if let Some(subscriber) = &mut inner.subscriber {
            // A failed subscribe means the connection is going: the trip
            // stays watched, and the next connection subscribes to it.
            if let Err(err) = subscriber.add(&channel).await {
                tracing::debug!(%trip, error = %err, "could not subscribe to a trip's positions");
            }
        }
    }

    /// Hears `trip`'s positions no more (nothing if not watched).
    pub async fn unwatch(&self, trip: Uuid) {
        let mut inner = self.inner.lock().await;
        if inner.trips.remove(&trip) {
            self.unsubscribe(&mut inner, vec![trip]).await;
        }
    }

    /// Drops every watched trip `gone` says nobody here watches any more.
    pub async fn unwatch_all(&self, gone: impl Fn(Uuid) -> bool) {
        let mut inner = self.inner.lock().await;
        let dropped: Vec<Uuid> = inner.trips.iter().copied().filter(|&t| gone(t)).collect();
        if dropped.is_empty() {
            return;
        }
        for trip in &dropped {
            inner.trips.remove(trip);
        }
        self.unsubscribe(&mut inner, dropped).await;
    }

    /// Unsubscribes from the positions of `dropped`, no longer in `trips`.
    async fn unsubscribe(&self, inner: &mut Inner, dropped: Vec<Uuid>) {
        metrics::gauge!("realtime_trips_watched").set(inner.trips.len() as f64);
        if let Some(subscriber) = &mut inner.subscriber {
            for trip in dropped {
                // A failed unsubscribe means the connection is going, and
                // the next one never subscribes to this trip.
                let channel = self.keys.channel_trip_location(trip);
                if let Err(err) = subscriber.remove(&channel).await {
                    tracing::debug!(%trip, error = %err, "could not unsubscribe from a trip");
                }
            }
        }
    }

    /// The bridge's new connection: subscribed to every trip watched.
    pub async fn attach(&self, mut subscriber: Subscriber) -> redis::RedisResult<()> {
        let mut inner = self.inner.lock().await;
        for &trip in &inner.trips {
            subscriber
                .add(&self.keys.channel_trip_location(trip))
                .await?;
        }
        inner.subscriber = Some(subscriber);
        Ok(())
    }

    /// The bridge lost its connection: changes wait for the next one.
    pub async fn detach(&self) {
        self.inner.lock().await.subscriber = None;
    }
}
