//! What reaches Redis for the realtime bridge: trip events through the
//! outbox, offers, and positions (only those of a driver on a trip, on the
//! trip's own channel, naming the trip).

use std::time::Duration;

use hail_shared::internal::Peer;

use crate::helpers::*;

#[tokio::test]
async fn a_trip_publishes_every_step_offers_and_positions() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let mut pubsub = subscribe(&app, &["trip:events", "driver:offers"]).await;
    // A free driver's ping is nobody's business: a position can only go
    // out on a trip's channel, and this driver has no trip.
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let mut positions = subscribe(&app, &[&location_channel(trip.id)]).await;
    let (channel, event) = next(&app, &mut pubsub).await;
    assert_eq!(channel, "trip:events");
    assert_eq!(event["trip"]["id"], json!(trip.id));
    assert_eq!(event["trip"]["status"], "REQUESTED");

    let (channel, event) = next(&app, &mut pubsub).await;
    assert_eq!(channel, "driver:offers");
    assert_eq!(event["event"], "offer");
    assert_eq!(event["driver_id"], json!(driver.id));
    assert_eq!(event["data"]["trip_id"], json!(trip.id));
    assert!(event["data"]["expires_at"].is_string());

    app.wait_for_offer(&driver, SOON).await.expect("offer");
    // Offered, not yet on the trip: still nobody watches.
    assert_eq!(
        app.ping(&driver, PICKUP.north(0.2)).await,
        StatusCode::NO_CONTENT
    );
    nothing_published_before(&app, &mut positions, &[trip.id]).await;
    app.trip_action(&driver, trip.id, "accept").await;
    let (_, event) = next(&app, &mut pubsub).await;
    assert_eq!(event["trip"]["status"], "ASSIGNED");
    assert_eq!(event["trip"]["driver_id"], json!(driver.id));

    // On the trip, its pings are published naming the trip: the gateway
    // emits them as they are.
    assert_eq!(
        app.ping(&driver, PICKUP.north(0.1)).await,
        StatusCode::NO_CONTENT
    );
    let (channel, event) = next(&app, &mut positions).await;
    assert_eq!(channel, location_channel(trip.id));
    assert_eq!(event["driver_id"], json!(driver.id));
    assert_eq!(event["trip_id"], json!(trip.id));
    assert!((event["lat"].as_f64().unwrap() - PICKUP.north(0.1).lat).abs() < 1e-9);

    for action in ["start", "complete"] {
        app.trip_action(&driver, trip.id, action).await;
    }
    let (_, started) = next(&app, &mut pubsub).await;
    let (_, completed) = next(&app, &mut pubsub).await;
    assert_eq!(started["trip"]["status"], "ONGOING");
    assert_eq!(completed["trip"]["status"], "COMPLETED");
    // The trip is over: its rider hears the driver no more.
    assert_eq!(app.ping(&driver, PICKUP).await, StatusCode::NO_CONTENT);
    nothing_published_before(&app, &mut positions, &[trip.id]).await;
}

#[tokio::test]
async fn an_expired_offer_is_revoked_on_the_drivers_channel() {
    let app = fast_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let mut pubsub = subscribe(&app, &["driver:offers"]).await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let (_, offer) = next(&app, &mut pubsub).await;
    assert_eq!(offer["event"], "offer");
    assert_eq!(offer["driver_id"], json!(driver.id));
    let (_, revoked) = next(&app, &mut pubsub).await;
    assert_eq!(revoked["event"], "offer:revoked");
    assert_eq!(
        revoked["data"],
        json!({"trip_id": trip.id, "reason": "expired"})
    );
}

#[tokio::test]
async fn the_sweeper_drops_members_whose_presence_expired() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP).await;
    // Silent as long, but its socket keeps it present: kept.
    let kept = app.driver_online_at(PICKUP.north(0.5)).await;
    let mut redis = app.redis().await;
    let keys = hail_shared::keys::Keys::new(app.config.redis_prefix.clone());
    for silent in [&driver, &kept] {
        let _: i64 = redis::cmd("ZADD")
            .arg(keys.drivers_seen("sg"))
            .arg(0)
            .arg(silent.id.to_string())
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    // The driver's app died over 30 s ago: its presence key ran out, and
    // its last ping is older than a presence lasts.
    let _: i64 = redis::cmd("DEL")
        .arg(keys.driver_presence(driver.id))
        .query_async(&mut redis)
        .await
        .unwrap();
    let refreshed = app
        .direct(
            Service::Driver,
            reqwest::Method::POST,
            &format!("/internal/drivers/{}/presence", kept.id),
            Some(Peer::Realtime),
            None,
            None,
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::NO_CONTENT);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    loop {
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(app.city_index(None))
            .arg(0)
            .arg(-1)
            .query_async(&mut redis)
            .await
            .unwrap();
        if members == [kept.id.to_string()] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "indexed: {members:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Its next ping brings it back.
    assert_eq!(app.ping(&driver, PICKUP).await, StatusCode::NO_CONTENT);
    let rider = app.register_rider().await;
    let nearby = app.nearby(&rider, PICKUP, "").await;
    let ids: Vec<_> = nearby.iter().map(|d| d.driver_id).collect();
    assert_eq!(ids, [driver.id, kept.id]);
}
