//! The bridge from Redis to Socket.IO: one subscriber per gateway process on
//! `trip:events`, `driver:location`, `driver:offers` and `room:events`.
//!
//! Every gateway receives every event, so each emits only to its own
//! sockets (`local()`): a client hears each event once, through whichever
//! gateway it is connected to. Which trip a position belongs to comes from
//! Redis `driver:trip:<id>` (written by the trip service), never from one
//! gateway's memory.
//!
//! Positions are many (one per ping) and each needs that Redis lookup, so
//! they are handed to a worker of their own that looks several up at once:
//! a flood of pings never holds up an offer or a trip update behind it.
//! Its queue is bounded; when it is full a position is dropped (the next
//! ping follows within seconds) and counted in
//! `realtime_locations_dropped_total`.

use std::time::Duration;

use futures::{channel::mpsc, StreamExt};
use hail_shared::{
    api::trips::TripStatus,
    events::{DriverEvent, DriverMessage, LocationEvent, RoomMessage, TripEvent},
    keys::Keys,
};
use redis::{aio::ConnectionManager, AsyncCommands};
use socketioxide::{adapter::Adapter, SocketIo};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{resync, room_driver, room_trip, room_user, Identity};
use crate::state::AppState;

pub async fn run<A: Adapter>(
    io: SocketIo<A>,
    state: AppState,
    redis_url: String,
    keys: Keys,
    redis: ConnectionManager,
    stop: CancellationToken,
) {
    let channels = [
        keys.channel_trip_events(),
        keys.channel_driver_location(),
        keys.channel_driver_offers(),
        keys.channel_room_events(),
    ];
    let (mut locations, queued) = mpsc::channel::<String>(LOCATION_QUEUE);
    // Its own task, so positions never wait behind offers and trip updates;
    // owned here: it ends once this loop, its only sender, is done.
    let relay = tokio::spawn(relay_locations(io.clone(), keys.clone(), redis, queued));
    let mut feed_was_lost = false;
    loop {
        let subscribed = async {
            let client = redis::Client::open(redis_url.as_str())?;
            let mut pubsub = client.get_async_pubsub().await?;
            for channel in &channels {
                pubsub.subscribe(channel).await?;
            }
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
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Ok(payload) = message.get_payload::<String>() else {
                    continue;
                };
                let channel = message.get_channel_name();
                if channel == channels[0] {
                    on_trip_event(&io, &payload).await;
                } else if channel == channels[1] {
                    if locations.try_send(payload).is_err() {
                        metrics::counter!("realtime_locations_dropped_total").increment(1);
                    }
                } else if channel == channels[2] {
                    on_driver_message(&io, &payload).await;
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
}

/// `trip:update` to the trip's room and its rider. The rider's and the
/// assigned driver's sockets are put in the trip's room; anyone else in it
/// (a driver who cancelled) is taken out.
async fn on_trip_event<A: Adapter>(io: &SocketIo<A>, payload: &str) {
    let Ok(TripEvent { trip }) = serde_json::from_str::<TripEvent>(payload) else {
        tracing::warn!("unreadable trip event");
        return;
    };
    let room = room_trip(trip.id);
    let mut members = vec![room_user(trip.rider_id)];
    if let Some(driver_id) = trip.driver_id {
        members.push(room_driver(driver_id));
    }
    if matches!(trip.status, TripStatus::Assigned | TripStatus::Requested) {
        let _ = io.local().to(members.clone()).join(room.clone()).await;
        let _ = io
            .local()
            .within(room.clone())
            .except(members)
            .leave(room.clone())
            .await;
    }
    let _ = io
        .local()
        .to([room, room_user(trip.rider_id)])
        .emit("trip:update", &trip)
        .await;
}

/// Positions waiting for their trip lookup, at most.
const LOCATION_QUEUE: usize = 8192;
/// Trip lookups in flight at once.
const LOCATION_LOOKUPS: usize = 64;

/// Emits queued positions, several lookups at a time, until the bridge ends.
async fn relay_locations<A: Adapter>(
    io: SocketIo<A>,
    keys: Keys,
    redis: ConnectionManager,
    queued: mpsc::Receiver<String>,
) {
    queued
        .for_each_concurrent(LOCATION_LOOKUPS, |payload| {
            let (io, keys, mut redis) = (&io, &keys, redis.clone());
            async move { on_location(io, keys, &mut redis, &payload).await }
        })
        .await;
}

/// `driver:location` to the room of the driver's assigned or ongoing trip.
async fn on_location<A: Adapter>(
    io: &SocketIo<A>,
    keys: &Keys,
    redis: &mut ConnectionManager,
    payload: &str,
) {
    let Ok(event) = serde_json::from_str::<LocationEvent>(payload) else {
        return;
    };
    let trip: Option<String> = redis
        .get(keys.driver_trip(event.driver_id))
        .await
        .unwrap_or(None);
    let Some(trip_id) = trip.and_then(|t| t.parse::<Uuid>().ok()) else {
        return;
    };
    let _ = io
        .local()
        .to(room_trip(trip_id))
        .emit("driver:location", &event.for_trip(trip_id))
        .await;
}

/// `offer` / `offer:revoked` to the driver's sockets.
async fn on_driver_message<A: Adapter>(io: &SocketIo<A>, payload: &str) {
    let Ok(message) = serde_json::from_str::<DriverMessage>(payload) else {
        return;
    };
    let room = room_driver(message.driver_id);
    let sent = match &message.event {
        DriverEvent::Offer(offer) => io.local().to(room).emit("offer", offer).await,
        DriverEvent::OfferRevoked(revoked) => {
            io.local().to(room).emit("offer:revoked", revoked).await
        }
    };
    if let Err(err) = sent {
        tracing::debug!(error = %err, "offer not delivered");
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
