//! The bridge from Redis to Socket.IO: one subscriber per gateway process on
//! `trip:events`, `driver:offers`, every city's rooms channel, and the
//! location channel of each trip its sockets watch ([`watch`]); sharded
//! pub/sub on a Redis Cluster: each channel is read at the one shard that
//! owns it.
//!
//! Every gateway receives every trip, offer and room event, so each emits
//! only to its own sockets (`local()`): a client hears each event once,
//! through whichever gateway it is connected to. Positions are published
//! only for drivers on a trip, on the trip's channel, so a gateway hears
//! only those its own sockets watch and looks nothing up per position.
//!
//! Positions are many (one per ping of every driver on a trip), so they are
//! handed to a worker of their own: a flood of pings never holds up an offer
//! or a trip update behind it. Its queue is bounded; when it is full a
//! position is dropped (the next ping follows within seconds) and counted
//! in `realtime_locations_dropped_total`.

use std::time::Duration;

use futures::{channel::mpsc, StreamExt};
use hail_shared::{
    api::trips::TripStatus,
    events::{DriverEvent, DriverMessage, RoomMessage, TripEvent, TripLocation},
    keys::Keys,
    redis_conn,
};
use socketioxide::{adapter::Adapter, SocketIo};
use tokio_util::sync::CancellationToken;

use super::{delivery, resync, room_driver, room_trip, room_user, watch, watch::Watched, Identity};
use crate::state::AppState;

/// Where the bridge reads from.
pub struct Feed {
    pub redis_url: String,
    pub cluster: bool,
    pub keys: Keys,
    /// Every city's id (each has its rooms channel).
    pub cities: Vec<String>,
}

pub async fn run<A: Adapter>(
    io: SocketIo<A>,
    state: AppState,
    feed: Feed,
    stop: CancellationToken,
) {
    let keys = &feed.keys;
    let mut channels = vec![keys.channel_trip_events(), keys.channel_driver_offers()];
    channels.extend(
        feed.cities
            .iter()
            .map(|city| keys.channel_room_events(city)),
    );
    let (mut locations, queued) = mpsc::channel::<String>(LOCATION_QUEUE);
    // Its own task, so positions never wait behind offers and trip updates;
    // owned here: it ends once this loop, its only sender, is done.
    let relay = tokio::spawn(relay_locations(io.clone(), queued));
    let sweep = tokio::spawn(forget_unwatched_trips(
        io.clone(),
        state.watched.clone(),
        stop.clone(),
    ));
    let mut feed_was_lost = false;
    loop {
        let subscribed = async {
            let (subscriber, mut messages) =
                redis_conn::subscriber(&feed.redis_url, feed.cluster, &channels).await?;
            state.watched.attach(subscriber).await?;
            if feed_was_lost {
                // Pub/sub keeps nothing: whatever was published while this
                // gateway was not subscribed is gone. Now that the feed is
                // back, every client here gets its active trip again, as on
                // connect.
                let sockets = io.local().sockets();
                tracing::warn!(
                    clients = sockets.len(),
                    "realtime feed restored; resyncing this gateway's clients"
                );
                for socket in sockets {
                    if let Some(who) = socket.extensions.get::<Identity>() {
                        resync(&socket, &state, who).await;
                    }
                }
            }
            while let Some((channel, payload)) = messages.next().await {
                if keys.trip_of_location_channel(&channel).is_some() {
                    if locations.try_send(payload).is_err() {
                        metrics::counter!("realtime_locations_dropped_total").increment(1);
                    }
                } else if channel == channels[0] {
                    on_trip_event(&io, &state.watched, &payload).await;
                } else if channel == channels[1] {
                    on_driver_message(&io, &state, &payload).await;
                } else {
                    on_room_event(&io, &payload).await;
                }
            }
            Ok::<(), redis::RedisError>(())
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            result = subscribed => {
                feed_was_lost = true;
                state.watched.detach().await;
                if let Err(err) = result {
                    tracing::warn!(error = %err, "realtime bridge lost Redis; resubscribing");
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    drop(locations);
    if let Err(err) = relay.await {
        tracing::warn!(error = %err, "the position relay stopped abnormally");
    }
    if let Err(err) = sweep.await {
        tracing::warn!(error = %err, "the watched-trips sweep stopped abnormally");
    }
}

/// How often trips whose watchers here all left are forgotten.
const FORGET_UNWATCHED_EVERY: Duration = Duration::from_secs(5);

/// Forgets the trips nobody here watches any more (their sockets closed),
/// until `stop`.
async fn forget_unwatched_trips<A: Adapter>(
    io: SocketIo<A>,
    watched: Watched,
    stop: CancellationToken,
) {
    let mut every = tokio::time::interval(FORGET_UNWATCHED_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = every.tick() => {}
        }
        watched
            .unwatch_all(|trip| !watch::has_watchers(&io, trip))
            .await;
    }
}

/// `trip:update` to the trip's room and its rider. The rider's and the
/// assigned driver's sockets are put in the trip's room; anyone else in it
/// (a driver who cancelled) is taken out, and everyone once the trip ended.
async fn on_trip_event<A: Adapter>(io: &SocketIo<A>, watched: &Watched, payload: &str) {
    let Ok(TripEvent { trip, rider_pin }) = serde_json::from_str::<TripEvent>(payload) else {
        tracing::warn!("unreadable trip event");
        return;
    };
    let room = room_trip(trip.id);
    let mut members = vec![room_user(trip.rider_id)];
    if let Some(driver_id) = trip.driver_id {
        members.push(room_driver(driver_id));
    }
    // Every gateway hears every trip event; most have nobody it concerns.
    // They stop here, before any room change or payload is written, so a
    // gateway's cost for other gateways' trips stays one parse and one
    // room lookup per event.
    let mut concerned = members.clone();
    concerned.push(room.clone());
    if io.local().to(concerned).sockets().is_empty() {
        if !trip.status.is_active() {
            watched.unwatch(trip.id).await;
        }
        return;
    }
    if matches!(
        trip.status,
        TripStatus::Assigned | TripStatus::Requested | TripStatus::Arrived
    ) {
        let _ = io.local().to(members.clone()).join(room.clone()).await;
        let _ = io
            .local()
            .within(room.clone())
            .except(members)
            .leave(room.clone())
            .await;
    }
    // The rider's copy carries the pickup PIN; nobody else's ever does.
    let rider = room_user(trip.rider_id);
    let _ = io
        .local()
        .to(room.clone())
        .except(rider.clone())
        .emit("trip:update", &trip)
        .await;
    let mut riders_copy = trip.clone();
    riders_copy.pickup_pin = rider_pin;
    let _ = io.local().to(rider).emit("trip:update", &riders_copy).await;
    if !trip.status.is_active() {
        let _ = io.local().within(room.clone()).leave(room).await;
        watched.unwatch(trip.id).await;
    } else if watch::has_watchers(io, trip.id) {
        watched.watch(trip.id).await;
    }
}

/// Positions waiting to be emitted, at most.
const LOCATION_QUEUE: usize = 8192;

/// Emits queued positions until the bridge ends.
async fn relay_locations<A: Adapter>(io: SocketIo<A>, mut queued: mpsc::Receiver<String>) {
    while let Some(payload) = queued.next().await {
        on_location(&io, &payload).await;
    }
}

/// `driver:location` to the room of the trip the position names.
async fn on_location<A: Adapter>(io: &SocketIo<A>, payload: &str) {
    let Ok(position) = serde_json::from_str::<TripLocation>(payload) else {
        return;
    };
    let _ = io
        .local()
        .to(room_trip(position.trip_id))
        .emit("driver:location", &position)
        .await;
}

/// `offer` (with an ack, [`delivery`]) / `offer:revoked` to the driver's
/// sockets.
async fn on_driver_message<A: Adapter>(io: &SocketIo<A>, state: &AppState, payload: &str) {
    let Ok(message) = serde_json::from_str::<DriverMessage>(payload) else {
        return;
    };
    match message.event {
        DriverEvent::Offer(offer) => {
            delivery::send_offer(io, state, message.driver_id, offer).await
        }
        DriverEvent::OfferRevoked(revoked) => {
            // Noted before it is sent: see `delivery::driver_connected`.
            state.revoked.note(message.driver_id, &revoked);
            let room = room_driver(message.driver_id);
            if let Err(err) = io.local().to(room).emit("offer:revoked", &revoked).await {
                tracing::debug!(error = %err, "offer:revoked not delivered");
            }
        }
    }
}

/// `room:state` to everyone in a carpool room, `room:match_request` to the
/// selected rider.
async fn on_room_event<A: Adapter>(io: &SocketIo<A>, payload: &str) {
    let sent = match serde_json::from_str::<RoomMessage>(payload) {
        Ok(RoomMessage::State { state }) => {
            let Some(key) = state["key"].as_str() else {
                return;
            };
            io.local()
                .to(format!("room:{key}"))
                .emit("room:state", &state)
                .await
        }
        Ok(RoomMessage::MatchRequest { rider_id, request }) => {
            io.local()
                .to(room_user(rider_id))
                .emit("room:match_request", &request)
                .await
        }
        Err(err) => {
            tracing::warn!(error = %err, "unreadable room event");
            return;
        }
    };
    if let Err(err) = sent {
        tracing::debug!(error = %err, "room event not delivered");
    }
}
