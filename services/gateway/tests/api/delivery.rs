//! Offer delivery (API.md, "Offer delivery"), end to end: receipts over the
//! socket's ack and over REST, drivers whose phones do not answer skipped
//! after the ack window or the reconnect grace, and the offer kept across a
//! reconnect or a gateway restart within the grace. The drivers' sockets
//! are `AckingSocket`s, which answer the server's acks as the driver app
//! does (or never, as a phone that is not listening).

use std::time::Duration;

use hail_shared::api::trips::DispatchEvent;
use hail_testkit::{
    acking::{AckingSocket, Acks},
    Account, TestApp,
};

use crate::helpers::*;

/// A stack with delivery checks on: `ack_ms` to ack, `grace_secs` to come
/// back, and a long offer timeout, so a skip is never a timeout.
async fn app_with(ack_ms: u64, grace_secs: f64) -> TestApp {
    hail_testkit::spawn_app_with(|c| {
        c.delivery.ack_window = Some(Duration::from_millis(ack_ms));
        c.delivery.reconnect_grace = Duration::from_secs_f64(grace_secs);
        c.dispatch.offer_timeout = Duration::from_secs(30);
    })
    .await
}

fn of_kind<'a>(events: &'a [DispatchEvent], kind: &str) -> Vec<&'a DispatchEvent> {
    events.iter().filter(|e| e.kind == kind).collect()
}

/// A trip whose nearest driver (200 m off) has a phone that acks as
/// `near_acks`, with a healthy driver 800 m off to take it next.
struct Street {
    near: Account,
    near_phone: AckingSocket,
    far_phone: AckingSocket,
    rider: Account,
    trip: hail_shared::api::trips::Trip,
}

async fn street(app: &TestApp, near_acks: Acks) -> Street {
    let near = app.driver_online_at(PICKUP.north(0.2)).await;
    let far = app.driver_online_at(PICKUP.north(0.8)).await;
    let near_phone = socket(app, &near, near_acks).await;
    let far_phone = socket(app, &far, Acks::Always).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    Street {
        near,
        near_phone,
        far_phone,
        rider,
        trip,
    }
}

async fn socket(app: &TestApp, driver: &Account, acks: Acks) -> AckingSocket {
    let mut socket = app.acking_socket(&driver.token, acks).await;
    assert!(socket.next("connect", SOON).await.is_some(), "connected");
    socket
}

#[tokio::test]
async fn an_acked_offer_is_delivered_once_via_the_socket() {
    let app = app_with(2000, 3.0).await;
    let driver = app.driver_online_at(PICKUP.north(0.3)).await;
    let mut phone = socket(&app, &driver, Acks::Always).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;

    let offer = phone.next("offer", SOON).await.expect("the offer");
    assert_eq!(offer["trip_id"], json!(trip.id));
    let events = app
        .wait_for_event(&rider, trip.id, "OFFER_DELIVERED", SOON)
        .await;
    let delivered = of_kind(&events, "OFFER_DELIVERED");
    assert_eq!(delivered[0].detail["via"], "socket", "{:?}", delivered[0]);
    assert!(delivered[0].detail["latency_ms"].is_u64());
    assert_eq!(delivered[0].driver_id, Some(driver.id));

    // Reading it over REST afterwards is not a second delivery.
    let profile = app.driver_profile(&driver).await;
    assert_eq!(profile.current_offer.map(|o| o.trip_id), Some(trip.id));
    let accepted = app.trip_action(&driver, trip.id, "accept").await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let events = app.trip_events(&rider, trip.id).await;
    assert_eq!(of_kind(&events, "OFFER_DELIVERED").len(), 1, "{events:?}");
    assert!(of_kind(&events, "OFFER_UNREACHABLE").is_empty());
}

#[tokio::test]
async fn a_rest_only_driver_reading_its_offer_is_a_delivery_and_keeps_the_whole_timeout() {
    let app = hail_testkit::spawn_app_with(|c| {
        c.delivery.ack_window = Some(Duration::from_millis(300));
        c.dispatch.offer_timeout = Duration::from_secs(20);
    })
    .await;
    let driver = app.driver_online_at(PICKUP.north(0.3)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;

    app.wait_for_offer(&driver, SOON)
        .await
        .expect("the offer over REST");
    let events = app.trip_events(&rider, trip.id).await;
    let delivered = of_kind(&events, "OFFER_DELIVERED");
    assert_eq!(delivered.len(), 1, "{events:?}");
    assert_eq!(delivered[0].detail["via"], "rest");

    // Well past the ack window: no socket, so nobody gave up on the phone.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(app.driver_profile(&driver).await.current_offer.is_some());
    let accepted = app.trip_action(&driver, trip.id, "accept").await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let events = app.trip_events(&rider, trip.id).await;
    assert!(
        of_kind(&events, "OFFER_UNREACHABLE").is_empty(),
        "{events:?}"
    );
    assert_eq!(of_kind(&events, "OFFER_DELIVERED").len(), 1, "{events:?}");
}

#[tokio::test]
async fn a_socket_that_never_acks_is_skipped_after_the_ack_window_and_leaves_the_index() {
    let app = app_with(700, 3.0).await;
    let Street {
        near: silent,
        near_phone: mut silent_phone,
        far_phone: mut healthy_phone,
        rider,
        trip,
    } = street(&app, Acks::Never).await;

    let first = silent_phone
        .next("offer", SOON)
        .await
        .expect("nearest first");
    assert_eq!(first["trip_id"], json!(trip.id));
    let revoked = silent_phone
        .next("offer:revoked", SOON)
        .await
        .expect("revoked after the ack window, long before the 30 s timeout");
    assert_eq!(revoked["reason"], "unreachable");
    let second = healthy_phone
        .next("offer", SOON)
        .await
        .expect("the next driver at once");
    assert_eq!(second["trip_id"], json!(trip.id));

    let events = app.trip_events(&rider, trip.id).await;
    let unreachable = of_kind(&events, "OFFER_UNREACHABLE");
    assert_eq!(unreachable.len(), 1, "{events:?}");
    assert_eq!(unreachable[0].driver_id, Some(silent.id));
    assert_eq!(unreachable[0].detail["reason"], "no_ack");
    assert!(of_kind(&events, "OFFER_EXPIRED").is_empty(), "{events:?}");

    // The silent driver is ONLINE (released just after the next offer went
    // out) but matchable nowhere until it pings.
    let deadline = tokio::time::Instant::now() + SOON;
    let profile = loop {
        let profile = app.driver_profile(&silent).await;
        if profile.status.to_string() == "ONLINE" || tokio::time::Instant::now() > deadline {
            break profile;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(profile.status.to_string(), "ONLINE");
    assert_eq!(profile.current_offer, None);
    let near = |list: Vec<hail_shared::api::drivers::NearbyDriver>| {
        list.iter().any(|d| d.driver_id == silent.id)
    };
    assert!(!near(app.nearby(&rider, PICKUP, "").await));
    assert_eq!(
        app.ping(&silent, PICKUP.north(0.2)).await,
        StatusCode::NO_CONTENT
    );
    assert!(near(app.nearby(&rider, PICKUP, "").await));
}

#[tokio::test]
async fn a_socket_dropped_with_the_offer_open_and_not_back_within_the_grace_is_skipped() {
    let app = app_with(2000, 1.0).await;
    let Street {
        near: dropping,
        near_phone: mut dropping_phone,
        far_phone: mut healthy_phone,
        rider,
        trip,
    } = street(&app, Acks::Always).await;

    dropping_phone.next("offer", SOON).await.expect("the offer");
    app.wait_for_event(&rider, trip.id, "OFFER_DELIVERED", SOON)
        .await;
    dropping_phone.drop_connection();
    let second = healthy_phone
        .next("offer", SOON)
        .await
        .expect("the next driver once the grace is over");
    assert_eq!(second["trip_id"], json!(trip.id));
    let events = app.trip_events(&rider, trip.id).await;
    let unreachable = of_kind(&events, "OFFER_UNREACHABLE");
    assert_eq!(unreachable.len(), 1, "{events:?}");
    assert_eq!(unreachable[0].driver_id, Some(dropping.id));
    assert_eq!(unreachable[0].detail["reason"], "socket_lost");
    // The grace was waited: the give-up comes at least a second after the
    // delivery (the clock is Postgres's for both).
    let delivered = of_kind(&events, "OFFER_DELIVERED")[0].at;
    assert!(unreachable[0].at - delivered >= chrono::Duration::milliseconds(1000));
}

#[tokio::test]
async fn a_driver_back_within_the_grace_keeps_the_offer_and_gets_it_again() {
    let app = app_with(2000, 3.0).await;
    let Street {
        near: driver,
        near_phone: mut phone,
        far_phone: mut other_phone,
        rider,
        trip,
    } = street(&app, Acks::Always).await;

    phone.next("offer", SOON).await.expect("the offer");
    phone.drop_connection();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut phone = socket(&app, &driver, Acks::Always).await;
    let again = phone
        .next("offer", SOON)
        .await
        .expect("the open offer, sent again on the new socket");
    assert_eq!(again["trip_id"], json!(trip.id));

    // Past the grace, it still stands and nobody else was offered the trip.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(other_phone
        .next("offer", Duration::from_millis(100))
        .await
        .is_none());
    let accepted = phone_accept(&app, &driver, trip.id).await;
    assert_eq!(accepted, StatusCode::OK);
    let events = app.trip_events(&rider, trip.id).await;
    assert!(
        of_kind(&events, "OFFER_UNREACHABLE").is_empty(),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_gateway_restart_within_the_grace_keeps_the_offer() {
    let mut app = app_with(2000, 3.0).await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let mut phone = socket(&app, &driver, Acks::Always).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    phone.next("offer", SOON).await.expect("the offer");
    app.wait_for_event(&rider, trip.id, "OFFER_DELIVERED", SOON)
        .await;

    app.stop(Service::Gateway).await;
    app.start(Service::Gateway).await;
    let mut phone = socket(&app, &driver, Acks::Always).await;
    let again = phone.next("offer", SOON).await.expect("the offer again");
    assert_eq!(again["trip_id"], json!(trip.id));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(phone_accept(&app, &driver, trip.id).await, StatusCode::OK);
    let events = app.trip_events(&rider, trip.id).await;
    assert!(
        of_kind(&events, "OFFER_UNREACHABLE").is_empty(),
        "{events:?}"
    );
}

#[tokio::test]
async fn with_several_gateways_one_acking_socket_is_enough() {
    let mut app = app_with(600, 3.0).await;
    let second = app.start_second_gateway().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    // A dead tab on gateway A, the live app on gateway B.
    let mut dead_tab = socket(&app, &driver, Acks::Never).await;
    let mut live = AckingSocket::connect(&second, &driver.token, Acks::Always).await;
    assert!(live.next("connect", SOON).await.is_some());
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;

    assert!(dead_tab.next("offer", SOON).await.is_some());
    assert!(live.next("offer", SOON).await.is_some());
    // Past the window of the tab that never acks: the offer stands.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(dead_tab
        .next("offer:revoked", Duration::from_millis(50))
        .await
        .is_none());
    assert_eq!(phone_accept(&app, &driver, trip.id).await, StatusCode::OK);
    let events = app.trip_events(&rider, trip.id).await;
    assert_eq!(of_kind(&events, "OFFER_DELIVERED").len(), 1, "{events:?}");
    assert!(
        of_kind(&events, "OFFER_UNREACHABLE").is_empty(),
        "{events:?}"
    );
}

async fn phone_accept(app: &TestApp, driver: &Account, trip_id: uuid::Uuid) -> StatusCode {
    app.trip_action(driver, trip_id, "accept").await.status()
}

#[tokio::test]
async fn the_grace_lives_in_postgres_so_another_trip_service_ends_it() {
    let mut app = app_with(2000, 1.5).await;
    app.start_second_trip_service().await;
    let Street {
        near: _,
        near_phone: mut dropping_phone,
        far_phone: mut healthy_phone,
        rider,
        trip,
    } = street(&app, Acks::Always).await;

    dropping_phone.next("offer", SOON).await.expect("the offer");
    app.wait_for_event(&rider, trip.id, "OFFER_DELIVERED", SOON)
        .await;
    dropping_phone.drop_connection();
    // The first trip service hears of the drop, then goes away; only the
    // second is left to end the grace.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.stop(Service::Trip).await;
    let second = healthy_phone
        .next("offer", Duration::from_secs(10))
        .await
        .expect("the other instance offers the trip on once the grace is over");
    assert_eq!(second["trip_id"], json!(trip.id));
}

#[tokio::test]
async fn a_connection_that_dies_silently_is_found_by_the_heartbeat_and_skipped() {
    let app = app_with(2000, 1.0).await;
    // Answers the offer, then nothing more, not even a heartbeat: the TCP
    // connection stays open, as a phone's does when its network vanishes.
    let Street {
        near: dead,
        near_phone: mut dead_phone,
        far_phone: mut healthy_phone,
        rider,
        trip,
    } = street(&app, Acks::ThenSilence).await;

    dead_phone.next("offer", SOON).await.expect("the offer");
    // Heartbeats close it within 18 s (10 s interval, 8 s timeout); then
    // the 1 s grace; the 30 s offer timeout is far behind that.
    let second = healthy_phone
        .next("offer", Duration::from_secs(25))
        .await
        .expect("the next driver once the heartbeat found the dead connection");
    assert_eq!(second["trip_id"], json!(trip.id));
    let events = app.trip_events(&rider, trip.id).await;
    let unreachable = of_kind(&events, "OFFER_UNREACHABLE");
    assert_eq!(unreachable.len(), 1, "{events:?}");
    assert_eq!(unreachable[0].detail["reason"], "socket_lost");
    // It had the offer (its ack came before the silence).
    let delivered_to_dead = of_kind(&events, "OFFER_DELIVERED")
        .into_iter()
        .filter(|e| e.driver_id == Some(dead.id))
        .count();
    assert_eq!(delivered_to_dead, 1, "{events:?}");
}

/// A driver reconnects while the rider cancels: the gateway asks the trip
/// service for the open offer, and the revoke reaches the bridge before
/// that answer is sent on. The new socket must not be left holding the
/// dead offer. Here the revoke is published (as the trip service would)
/// while the driver is away and the trip service still holds the offer
/// open, so the gateway's answer is always the older of the two.
#[tokio::test]
async fn an_offer_revoked_while_its_driver_reconnects_is_not_left_on_the_new_socket() {
    use hail_shared::events::{DriverEvent, DriverMessage, OfferRevoked, RevokeReason};

    let app = app_with(2000, 3.0).await;
    let Street {
        near: driver,
        near_phone: mut phone,
        trip,
        ..
    } = street(&app, Acks::Always).await;
    phone.next("offer", SOON).await.expect("the offer");
    phone.drop_connection();

    let channel =
        hail_shared::keys::Keys::new(app.config.redis_prefix.clone()).channel_driver_offers();
    let revoke = DriverMessage {
        driver_id: driver.id,
        event: DriverEvent::OfferRevoked(OfferRevoked {
            trip_id: trip.id,
            reason: RevokeReason::Cancelled,
        }),
    };
    let mut redis = app.redis().await;
    redis
        .publish_all(&[(channel, serde_json::to_string(&revoke).unwrap())])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut phone = socket(&app, &driver, Acks::Always).await;
    if let Some(offer) = phone.next("offer", Duration::from_secs(1)).await {
        assert_eq!(offer["trip_id"], json!(trip.id));
        let revoked = phone
            .next("offer:revoked", SOON)
            .await
            .expect("an offer sent again after its revoke is revoked again");
        assert_eq!(revoked["trip_id"], json!(trip.id));
    }
}
