//! A gateway listens to a trip's positions only while a socket of its own
//! watches the trip: it subscribes to the trip's location channel when a
//! socket joins the trip's room, and leaves it when the trip ends or its
//! watchers are gone. Asserted on what Redis says the gateway subscribed
//! to (one Redis; the two-gateway case on a cluster is `tests/cluster.rs`).

use std::time::Duration;

use hail_shared::keys::Keys;
use hail_testkit::{socket::TestSocket, Account, TestApp};
use uuid::Uuid;

use crate::helpers::*;

/// How many connections listen to `trip`'s positions.
async fn listeners(app: &TestApp, trip: Uuid) -> i64 {
    let channel = Keys::new(app.config.redis_prefix.clone()).channel_trip_location(trip);
    let mut redis = app.redis().await;
    let (_, count): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(&channel)
        .query_async(&mut redis)
        .await
        .unwrap();
    count
}

/// Waits until `trip` has `want` listeners; how many it had last.
async fn wait_for_listeners(app: &TestApp, trip: Uuid, want: i64, within: Duration) -> i64 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = listeners(app, trip).await;
        if now == want || tokio::time::Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The rider's new socket, once its resync put it in the trip's room and
/// the gateway listens to the trip.
async fn watcher(app: &TestApp, rider: &Account, trip: Uuid) -> TestSocket {
    let mut socket = app.socket(&rider.token).await;
    socket.next("trip:update", SOON).await.expect("the resync");
    assert_eq!(wait_for_listeners(app, trip, 1, SOON).await, 1);
    socket
}

#[tokio::test]
async fn a_gateway_hears_a_trips_positions_only_while_its_sockets_watch_it() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.3)).await;
    let rider = app.register_rider().await;
    let trip = app.assigned_trip(&rider, &driver, PICKUP, DROPOFF).await;
    // Nobody has a socket: the driver's pings go out to no gateway.
    assert_eq!(
        app.ping(&driver, PICKUP.north(0.2)).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(listeners(&app, trip.id).await, 0);

    // The rider connects: the resync puts the socket in the trip's room,
    // and the gateway listens, so the next position reaches the rider.
    let mut rider_socket = watcher(&app, &rider, trip.id).await;
    assert_eq!(
        app.ping(&driver, PICKUP.north(0.1)).await,
        StatusCode::NO_CONTENT
    );
    let position = rider_socket
        .next("driver:location", SOON)
        .await
        .expect("a position");
    assert_eq!(position["trip_id"], json!(trip.id));

    // Its only watcher gone, the gateway stops listening (within its sweep).
    rider_socket.disconnect().await;
    assert_eq!(
        wait_for_listeners(&app, trip.id, 0, Duration::from_secs(15)).await,
        0,
        "still listening after the last watcher left"
    );

    // Back again, then the trip ends: the gateway stops at once.
    let _rider_socket = watcher(&app, &rider, trip.id).await;
    for action in ["start", "complete"] {
        assert_eq!(
            app.trip_action(&driver, trip.id, action).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        wait_for_listeners(&app, trip.id, 0, Duration::from_secs(2)).await,
        0,
        "still listening to a completed trip"
    );
}
