//! Socket.IO through the gateway, with a real Socket.IO v4 client.

use std::time::Duration;

use hail_shared::api::geo::LatLng;
use hail_testkit::socket::TestSocket;

use crate::helpers::*;

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
    while let Some(update) = rider_socket.next("trip:update", SOON).await {
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
async fn the_rider_hears_the_drivers_position_while_the_trip_is_ongoing() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.3)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&driver, SOON).await.expect("offer");
    for action in ["accept", "start"] {
        assert_eq!(
            app.trip_action(&driver, trip.id, action).await.status(),
            StatusCode::OK
        );
    }
    // The rider's socket joins the ONGOING trip's room on connect.
    let mut rider_socket = app.socket(&rider.token).await;
    let update = rider_socket
        .next("trip:update", SOON)
        .await
        .expect("the resync");
    assert_eq!(update["status"], "ONGOING");

    let driver_socket = app.socket(&driver.token).await;
    let at = DROPOFF.north(1.0);
    let answer = driver_socket
        .call("driver:location", json!({"lat": at.lat, "lng": at.lng}))
        .await;
    assert_eq!(answer, json!({"ok": true}));
    let position = rider_socket
        .next("driver:location", SOON)
        .await
        .expect("the position reaches the rider while ONGOING");
    assert_eq!(position["trip_id"], json!(trip.id));
    assert_eq!(position["driver_id"], json!(driver.id));
    assert!((position["lat"].as_f64().unwrap() - at.lat).abs() < 1e-9);
    assert!((position["lng"].as_f64().unwrap() - at.lng).abs() < 1e-9);
}

#[tokio::test]
async fn an_unanswered_offer_is_revoked_on_the_drivers_socket_as_expired() {
    let app = hail_testkit::spawn_app_with(|c| {
        c.dispatch.offer_timeout = Duration::from_secs(1);
    })
    .await;
    let driver = app.driver_online_at(PICKUP.north(0.3)).await;
    let rider = app.register_rider().await;
    let mut driver_socket = app.socket(&driver.token).await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let offer = driver_socket.next("offer", SOON).await.expect("the offer");
    assert_eq!(offer["trip_id"], json!(trip.id));
    let revoked = driver_socket
        .next("offer:revoked", SOON)
        .await
        .expect("the offer is revoked once it expires");
    assert_eq!(revoked, json!({"trip_id": trip.id, "reason": "expired"}));
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
    // The owner's socket (in the trip's room from its connect) is the
    // sentinel: once it has the position, the room's broadcasts are done.
    let mut owner_socket = app.socket(&owner.token).await;

    app.wait_for_offer(&driver, SOON).await.expect("offer");
    app.trip_action(&driver, trip.id, "accept").await;
    app.ping(&driver, PICKUP).await;
    owner_socket
        .next("driver:location", SOON)
        .await
        .expect("the owner hears the position");
    snoop_socket.round_trip().await;
    let heard = snoop_socket.drain();
    assert!(
        heard
            .iter()
            .all(|(event, _)| event != "trip:update" && event != "driver:location"),
        "{heard:?}"
    );

    // Its owner may subscribe, and gets the trip back.
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
    // Each event arrives once, not once per gateway. Two more positions are
    // the sentinel: a second copy of the first, sent by the other gateway,
    // would come before the rider has heard them both.
    let sent = [PICKUP, PICKUP.north(0.1), PICKUP.north(0.2)];
    for at in &sent[1..] {
        let answer = driver_socket
            .call("driver:location", json!({"lat": at.lat, "lng": at.lng}))
            .await;
        assert_eq!(answer["ok"], true);
    }
    let mut heard = vec![position["lat"].as_f64().unwrap()];
    let times_heard = |heard: &[f64], at: LatLng| {
        heard
            .iter()
            .filter(|lat| (**lat - at.lat).abs() < 1e-9)
            .count()
    };
    while sent[1..].iter().any(|at| times_heard(&heard, *at) == 0) {
        let position = rider_socket
            .next("driver:location", SOON)
            .await
            .unwrap_or_else(|| panic!("not every position came: heard {heard:?}"));
        heard.push(position["lat"].as_f64().unwrap());
    }
    rider_socket.round_trip().await;
    for (event, value) in rider_socket.drain() {
        if event == "driver:location" {
            heard.push(value["lat"].as_f64().unwrap());
        }
    }
    assert!(
        sent.iter().all(|at| times_heard(&heard, *at) == 1),
        "each position once: heard {heard:?}, sent {sent:?}"
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

/// What is left of a key's life, in milliseconds (-2: gone, -1: no expiry).
async fn pttl(redis: &mut hail_shared::redis_conn::RedisConn, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query_async(redis)
        .await
        .unwrap()
}

async fn expire_in_secs(redis: &mut hail_shared::redis_conn::RedisConn, key: &str, secs: u64) {
    let set: i64 = redis::cmd("EXPIRE")
        .arg(key)
        .arg(secs)
        .query_async(redis)
        .await
        .unwrap();
    assert_eq!(set, 1, "{key} exists");
}

#[tokio::test]
async fn a_connected_driver_socket_keeps_presence_fresh_until_it_closes() {
    // A short refresh interval, so "never refreshed again" can be watched
    // over several intervals in well under a second.
    const REFRESH: Duration = Duration::from_millis(200);
    let app = hail_testkit::spawn_app_with(|c| c.presence_refresh = REFRESH).await;
    let driver = app.driver_online_at(PICKUP).await;
    let keys = hail_shared::keys::Keys::new(app.config.redis_prefix.clone());
    let presence = keys.driver_presence(driver.id);
    let sockets = keys.user_sockets(driver.id);
    let mut redis = app.redis().await;

    // While the socket is open, presence lowered to 3 s comes back up,
    // twice: the loop refreshes, not only the connect.
    let socket = app.socket(&driver.token).await;
    for round in 0..2 {
        expire_in_secs(&mut redis, &presence, 3).await;
        let deadline = tokio::time::Instant::now() + SOON;
        while pttl(&mut redis, &presence).await <= 3_000 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: the open socket never refreshed presence"
            );
            tokio::time::sleep(REFRESH / 4).await;
        }
    }

    // The gateway has handled the close once it forgets the socket (its
    // disconnect handler stops the refresh loop first).
    socket.disconnect().await;
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let open: i64 = redis::cmd("ZCARD")
            .arg(&sockets)
            .query_async(&mut redis)
            .await
            .unwrap();
        if open == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway never saw the socket close"
        );
        tokio::time::sleep(REFRESH / 4).await;
    }
    // A refresh already on its way when the socket closed may still land:
    // give it a second (a loopback call; generous on a busy machine), then
    // lower the TTL and watch it for three more intervals.
    tokio::time::sleep(Duration::from_secs(1)).await;
    expire_in_secs(&mut redis, &presence, 3).await;
    let mut last = pttl(&mut redis, &presence).await;
    let watch_until = tokio::time::Instant::now() + REFRESH * 3;
    while tokio::time::Instant::now() < watch_until {
        tokio::time::sleep(REFRESH / 4).await;
        let now = pttl(&mut redis, &presence).await;
        assert!(
            (0..=last).contains(&now),
            "presence was refreshed after the socket closed: {last} ms, then {now} ms"
        );
        last = now;
    }
}

/// A rider who cancels the moment an offer opens: the trip service
/// publishes the offer and its revoke back to back. The driver's socket
/// hears them in that order, every time; a revoke that overtook its offer
/// would leave a dead offer on the phone.
#[tokio::test]
async fn an_offer_revoked_at_once_reaches_the_driver_before_its_revoke() {
    use hail_shared::{
        api::{
            fares::{FareAmount, Money},
            trips::{Offer, Tier},
        },
        events::{DriverEvent, DriverMessage, OfferRevoked, RevokeReason},
    };

    let app = spawn_app().await;
    let driver = app.register_driver().await;
    let mut socket = app.socket(&driver.token).await;
    let channel =
        hail_shared::keys::Keys::new(app.config.redis_prefix.clone()).channel_driver_offers();
    let mut redis = app.redis().await;
    let message = |event| {
        serde_json::to_string(&DriverMessage {
            driver_id: driver.id,
            event,
        })
        .unwrap()
    };
    for round in 0..20 {
        let trip_id = uuid::Uuid::new_v4();
        let offer = DriverEvent::Offer(Offer {
            trip_id,
            pickup: PICKUP,
            dropoff: DROPOFF,
            tier: Tier::Standard,
            distance_km: 0.3,
            expires_at: chrono::Utc::now() + chrono::Duration::seconds(15),
            fare_estimate: FareAmount {
                currency: "SGD".into(),
                amount: Money(600),
            },
        });
        let revoke = DriverEvent::OfferRevoked(OfferRevoked {
            trip_id,
            reason: RevokeReason::Cancelled,
        });
        redis
            .publish_all(&[
                (channel.clone(), message(offer)),
                (channel.clone(), message(revoke)),
            ])
            .await
            .unwrap();

        let mut heard = Vec::new();
        let deadline = tokio::time::Instant::now() + SOON;
        while heard.len() < 2 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
            heard.extend(
                socket
                    .drain()
                    .into_iter()
                    .filter(|(_, data)| data["trip_id"] == json!(trip_id))
                    .map(|(event, _)| event),
            );
        }
        assert_eq!(heard, ["offer", "offer:revoked"], "round {round}");
    }
}
