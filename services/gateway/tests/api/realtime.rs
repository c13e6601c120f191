//! Socket.IO through the gateway, with a real Socket.IO v4 client.

use std::time::Duration;

use hail_shared::api::geo::LatLng;
use hail_testkit::socket::TestSocket;

use crate::helpers::*;

const PICKUP: LatLng = LatLng {
    lat: 1.3521,
    lng: 103.8198,
};
const DROPOFF: LatLng = LatLng {
    lat: 1.30,
    lng: 103.85,
};
const SOON: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_bad_or_missing_token_is_refused_with_unauthorized() {
    let app = spawn_app().await;
    for auth in [Some(json!({"token": "garbage"})), Some(json!({})), None] {
        let mut socket = TestSocket::connect(&app.gateway_url, auth.clone()).await;
        let error = socket.next("error", SOON).await.expect("a connect_error");
        assert!(
            error.to_string().contains("unauthorized"),
            "{auth:?}: {error}"
        );
    }
    // The token also works as a query parameter.
    let rider = app.register_rider().await;
    let url = format!("{}?token={}", app.gateway_url, rider.token);
    let socket = TestSocket::connect(&url, None).await;
    let answer = socket
        .call("trip:subscribe", json!({"trip_id": uuid::Uuid::new_v4()}))
        .await;
    assert_eq!(answer["error"]["code"], "not_found", "{answer}");
}

#[tokio::test]
async fn rider_and_driver_sockets_see_a_whole_trip_in_order() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.3)).await;
    let rider = app.register_rider().await;
    let mut driver_socket = app.socket(&driver.token).await;
    let mut rider_socket = app.socket(&rider.token).await;
    // Let both handshakes finish before anything happens.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let offer = driver_socket
        .next("offer", SOON)
        .await
        .expect("the driver's socket gets the offer");
    assert_eq!(offer["trip_id"], json!(trip.id));
    assert!(
        offer["expires_at"].is_string() && offer["distance_km"].is_number(),
        "{offer}"
    );

    let answer = driver_socket
        .call("offer:accept", json!({"trip_id": trip.id}))
        .await;
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["trip"]["status"], "ASSIGNED");

    // Positions through the driver's socket reach the rider's.
    let at = PICKUP.north(0.2);
    let answer = driver_socket
        .call(
            "driver:location",
            json!({"lat": at.lat, "lng": at.lng, "heading": 90}),
        )
        .await;
    assert_eq!(answer, json!({"ok": true}));
    let position = rider_socket
        .next("driver:location", SOON)
        .await
        .expect("a position");
    assert_eq!(position["trip_id"], json!(trip.id));
    assert_eq!(position["driver_id"], json!(driver.id));
    assert!((position["lat"].as_f64().unwrap() - at.lat).abs() < 1e-9);

    for action in ["start", "complete"] {
        assert_eq!(
            app.trip_action(&driver, trip.id, action).await.status(),
            StatusCode::OK
        );
    }
    let mut seen = Vec::new();
    while let Some(update) = rider_socket
        .next("trip:update", Duration::from_secs(2))
        .await
    {
        seen.push(update["status"].as_str().unwrap().to_string());
        if seen.last().map(String::as_str) == Some("COMPLETED") {
            break;
        }
    }
    assert_eq!(seen, ["REQUESTED", "ASSIGNED", "ONGOING", "COMPLETED"]);
    rider_socket.disconnect().await;
    driver_socket.disconnect().await;
}

#[tokio::test]
async fn a_rider_cannot_watch_someone_elses_trip() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.3)).await;
    let owner = app.register_rider().await;
    let snoop = app.register_rider().await;
    let trip = app.request_trip(&owner, PICKUP, DROPOFF).await;
    let mut snoop_socket = app.socket(&snoop.token).await;
    let answer = snoop_socket
        .call("trip:subscribe", json!({"trip_id": trip.id}))
        .await;
    assert_eq!(answer["ok"], false);
    assert_eq!(answer["error"]["code"], "not_found");

    app.wait_for_offer(&driver, SOON).await.expect("offer");
    app.trip_action(&driver, trip.id, "accept").await;
    app.ping(&driver, PICKUP).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heard = snoop_socket.drain();
    assert!(
        heard
            .iter()
            .all(|(event, _)| event != "trip:update" && event != "driver:location"),
        "{heard:?}"
    );

    // Its owner may subscribe, and gets the trip back.
    let owner_socket = app.socket(&owner.token).await;
    let answer = owner_socket
        .call("trip:subscribe", json!({"trip_id": trip.id}))
        .await;
    assert_eq!(answer["ok"], true);
    assert_eq!(answer["trip"]["id"], json!(trip.id));
    let answer = owner_socket
        .call("trip:subscribe", json!({"trip": "nope"}))
        .await;
    assert_eq!(answer["error"]["code"], "bad_request");
}

#[tokio::test]
async fn connecting_again_resyncs_the_active_trip() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let mut socket = app.socket(&rider.token).await;
    let update = socket
        .next("trip:update", SOON)
        .await
        .expect("one trip:update on connect");
    assert_eq!(update["id"], json!(trip.id));
    assert_eq!(update["status"], "REQUESTED");
    // And the socket is in the trip's room: the cancel reaches it.
    app.trip_action(&rider, trip.id, "cancel").await;
    loop {
        let update = socket.next("trip:update", SOON).await.expect("the cancel");
        if update["status"] == "CANCELLED" {
            break;
        }
        assert_eq!(update["status"], "REQUESTED", "{update}");
    }
}

#[tokio::test]
async fn two_gateways_behave_as_one() {
    let mut app = spawn_app().await;
    let second = app.start_second_gateway().await;
    let driver = app.driver_online_at(PICKUP.north(0.3)).await;
    let rider = app.register_rider().await;
    // The driver on gateway A, the rider on gateway B.
    let mut driver_socket = app.socket(&driver.token).await;
    let mut rider_socket = TestSocket::connect(&second, Some(json!({"token": rider.token}))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let offer = driver_socket
        .next("offer", SOON)
        .await
        .expect("offer on gateway A");
    assert_eq!(offer["trip_id"], json!(trip.id));
    driver_socket
        .call("offer:accept", json!({"trip_id": trip.id}))
        .await;
    let answer = driver_socket
        .call(
            "driver:location",
            json!({"lat": PICKUP.lat, "lng": PICKUP.lng}),
        )
        .await;
    assert_eq!(answer["ok"], true);
    let position = rider_socket
        .next("driver:location", SOON)
        .await
        .expect("position on gateway B");
    assert_eq!(position["driver_id"], json!(driver.id));
    // Each event arrives once, not once per gateway.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let extra = rider_socket.drain();
    assert!(
        extra.iter().all(|(e, _)| e != "driver:location"),
        "duplicate: {extra:?}"
    );
}

#[tokio::test]
async fn a_flood_of_events_is_rate_limited_and_the_socket_stays() {
    // The production default (tests otherwise run without limits).
    let app = hail_testkit::spawn_app_with(|c| {
        c.rate_limits.socket_events = hail_shared::config::RateLimit {
            per_minute: 600,
            burst: 20,
        };
    })
    .await;
    let rider = app.register_rider().await;
    let socket = app.socket(&rider.token).await;
    let mut limited = 0;
    for _ in 0..40 {
        let answer = socket
            .call("trip:subscribe", json!({"trip_id": uuid::Uuid::new_v4()}))
            .await;
        if answer["error"]["code"] == "rate_limited" {
            limited += 1;
        }
    }
    assert!(limited > 0, "40 events at once should hit the limit");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let answer = socket
        .call("trip:subscribe", json!({"trip_id": uuid::Uuid::new_v4()}))
        .await;
    assert_eq!(
        answer["error"]["code"], "not_found",
        "the socket still works: {answer}"
    );
}

#[tokio::test]
async fn a_driver_declines_by_socket_and_hears_revocations() {
    let app = spawn_app().await;
    let first = app.driver_online_at(PICKUP.north(0.2)).await;
    let second = app.driver_online_at(PICKUP.north(0.6)).await;
    let rider = app.register_rider().await;
    let mut first_socket = app.socket(&first.token).await;
    let mut second_socket = app.socket(&second.token).await;

    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    first_socket.next("offer", SOON).await.expect("first offer");
    let answer = first_socket
        .call("offer:decline", json!({"trip_id": trip.id}))
        .await;
    assert_eq!(answer, json!({"ok": true}));
    let offer = second_socket
        .next("offer", SOON)
        .await
        .expect("second offer");
    assert_eq!(offer["trip_id"], json!(trip.id));

    // A rider on the driver-only event is refused; so is a stale answer.
    let rider_socket = app.socket(&rider.token).await;
    let answer = rider_socket
        .call("offer:accept", json!({"trip_id": trip.id}))
        .await;
    assert_eq!(answer["error"]["code"], "forbidden");
    let answer = first_socket
        .call("offer:accept", json!({"trip_id": trip.id}))
        .await;
    assert_eq!(answer["error"]["code"], "offer_expired");

    app.trip_action(&rider, trip.id, "cancel").await;
    let revoked = second_socket
        .next("offer:revoked", SOON)
        .await
        .expect("revoked");
    assert_eq!(revoked, json!({"trip_id": trip.id, "reason": "cancelled"}));
}

#[tokio::test]
async fn a_connected_driver_socket_keeps_presence_fresh_until_it_closes() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP).await;
    let presence = format!("{}driver:presence:{}", app.config.redis_prefix, driver.id);
    let mut redis = app.redis().await;
    let ttl = |mut redis: redis::aio::MultiplexedConnection, key: String| async move {
        redis::cmd("TTL")
            .arg(key)
            .query_async::<i64>(&mut redis)
            .await
            .unwrap()
    };
    // About to expire, then the driver's socket connects.
    let _: i64 = redis::cmd("EXPIRE")
        .arg(&presence)
        .arg(3)
        .query_async(&mut redis)
        .await
        .unwrap();
    let socket = app.socket(&driver.token).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        ttl(redis.clone(), presence.clone()).await > 20,
        "the socket refreshed presence"
    );

    socket.disconnect().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _: i64 = redis::cmd("EXPIRE")
        .arg(&presence)
        .arg(3)
        .query_async(&mut redis)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        ttl(redis.clone(), presence.clone()).await <= 3,
        "nobody refreshes it any more"
    );
}
