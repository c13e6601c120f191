//! The trip's steps on sockets (API.md, "Realtime"): the driver's card in
//! `trip:update` from ASSIGNED on, the backend's pickup ETA with each
//! `driver:location`, ARRIVED at once, and the pickup PIN in the rider's
//! copy of each `trip:update` only, never on the driver's socket.

use std::{sync::Arc, time::Duration};

use hail_shared::cities::Cities;
use hail_testkit::spawn_app_with;

use crate::helpers::*;

const PIN_CITY: &str = r#"
[[city]]
id = "sg"
name = "Singapore"
bbox = [1.2172, 103.6849, 1.487, 103.9547]
pickup_pin = true
"#;

#[tokio::test]
async fn a_pin_trip_on_sockets_tells_the_rider_everything_and_the_driver_no_pin() {
    let app = spawn_app_with(|c| {
        c.cities = Arc::new(Cities::from_toml(PIN_CITY, "test").unwrap());
    })
    .await;
    let driver = app.driver_online_at(PICKUP.north(1.0)).await;
    let rider = app.register_rider().await;
    let mut driver_socket = app.socket(&driver.token).await;
    let mut rider_socket = app.socket(&rider.token).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let pin = trip.pickup_pin.clone().expect("the rider's PIN");
    let offer = driver_socket.next("offer", SOON).await.expect("the offer");
    assert_eq!(offer["fare_estimate"]["currency"], "SGD", "{offer}");
    let answer = driver_socket
        .call("offer:accept", json!({"trip_id": trip.id}))
        .await;
    assert_eq!(answer["ok"], true, "{answer}");

    // ASSIGNED on the rider's socket: the driver's card, and the PIN.
    let assigned = loop {
        let update = rider_socket
            .next("trip:update", SOON)
            .await
            .expect("updates");
        if update["status"] == "ASSIGNED" {
            break update;
        }
    };
    assert_eq!(assigned["driver"]["id"], json!(driver.id), "{assigned}");
    assert_eq!(assigned["driver"]["name"], "Test Person");
    assert_eq!(assigned["pickup_pin"], json!(pin));

    // A ping 1 km out: the rider hears the backend's ETA (1 km x 1.3 at 30 km/h).
    let answer = driver_socket
        .call(
            "driver:location",
            json!({"lat": PICKUP.north(1.0).lat, "lng": PICKUP.lng}),
        )
        .await;
    assert_eq!(answer, json!({"ok": true}));
    let position = rider_socket
        .next("driver:location", SOON)
        .await
        .expect("a position");
    let eta = position["pickup_eta_secs"]
        .as_u64()
        .expect("an ETA while ASSIGNED");
    assert!((155..=157).contains(&eta), "{position}");

    // Near the pickup: arrive; the rider hears ARRIVED at once.
    let near = PICKUP.north(0.05);
    let answer = driver_socket
        .call("driver:location", json!({"lat": near.lat, "lng": near.lng}))
        .await;
    assert_eq!(answer, json!({"ok": true}));
    assert_eq!(
        app.trip_action(&driver, trip.id, "arrive").await.status(),
        StatusCode::OK
    );
    let arrived = loop {
        let update = rider_socket
            .next("trip:update", SOON)
            .await
            .expect("updates");
        if update["status"] == "ARRIVED" {
            break update;
        }
    };
    assert_eq!(arrived["pickup_pin"], json!(pin));
    assert!(arrived["arrived_at"].is_string());

    // Started with the PIN: ETAs stop.
    let started = app
        .post(
            &format!("/api/v1/trips/{}/start", trip.id),
            Some(&driver.token),
            &json!({"pin": pin}),
        )
        .await;
    assert_eq!(started.status(), StatusCode::OK);
    let on_the_way = DROPOFF.north(1.0);
    let answer = driver_socket
        .call(
            "driver:location",
            json!({"lat": on_the_way.lat, "lng": on_the_way.lng}),
        )
        .await;
    assert_eq!(answer, json!({"ok": true}));
    let position = loop {
        let p = rider_socket
            .next("driver:location", SOON)
            .await
            .expect("a position");
        if (p["lat"].as_f64().unwrap() - on_the_way.lat).abs() < 1e-9 {
            break p;
        }
    };
    assert_eq!(position["pickup_eta_secs"], Value::Null, "{position}");
    assert_eq!(
        app.trip_action(&driver, trip.id, "complete").await.status(),
        StatusCode::OK
    );
    let done = loop {
        let update = rider_socket
            .next("trip:update", SOON)
            .await
            .expect("updates");
        if update["status"] == "COMPLETED" {
            break update;
        }
    };
    assert!(done["fare"]["final"].is_number(), "{done}");

    // Everything the driver's socket got: the steps, never the PIN.
    let mut statuses = Vec::new();
    while let Some(update) = driver_socket
        .next("trip:update", Duration::from_millis(300))
        .await
    {
        assert_eq!(update["pickup_pin"], Value::Null, "{update}");
        statuses.push(update["status"].as_str().unwrap().to_string());
    }
    for (event, payload) in driver_socket.drain() {
        assert!(
            !payload.to_string().contains(&format!("\"{pin}\"")),
            "{event}: {payload}"
        );
    }
    for step in ["ASSIGNED", "ARRIVED", "ONGOING", "COMPLETED"] {
        assert!(statuses.iter().any(|s| s == step), "{step} in {statuses:?}");
    }
}
