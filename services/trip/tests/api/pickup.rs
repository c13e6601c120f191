//! Arriving and the pickup PIN (API.md, "Trips": `arrive`, `start {pin}`):
//! the driver arrives only near the pickup; with the city's PIN on, the
//! trip starts only with the rider's PIN, which nobody but the rider ever
//! reads, and five wrong ones cancel it.

use std::sync::Arc;

use hail_shared::cities::Cities;

use crate::helpers::*;

const PIN_CITY: &str = r#"
[[city]]
id = "sg"
name = "Singapore"
bbox = [1.2172, 103.6849, 1.487, 103.9547]
pickup_pin = true
"#;

async fn pin_app() -> TestApp {
    spawn_app_with(|c| {
        c.cities = Arc::new(Cities::from_toml(PIN_CITY, "test").unwrap());
    })
    .await
}

/// A trip its driver (starting at `driver_at`) has accepted.
async fn assigned_trip(app: &TestApp, driver_at: LatLng) -> (Trip, Account, Account) {
    let driver = app.driver_online_at(driver_at).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&driver, SOON).await.expect("the offer");
    let response = app.trip_action(&driver, trip.id, "accept").await;
    assert_eq!(response.status(), StatusCode::OK);
    (trip, rider, driver)
}

async fn start_with(
    app: &TestApp,
    driver: &Account,
    trip: &Trip,
    pin: &str,
) -> hail_testkit::reqwest::Response {
    app.post(
        &format!("/api/v1/trips/{}/start", trip.id),
        Some(&driver.token),
        &json!({ "pin": pin }),
    )
    .await
}

async fn attempts_left(response: hail_testkit::reqwest::Response) -> u64 {
    let body = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY, "wrong_pin").await;
    body.error.details.unwrap()["attempts_left"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_driver_arrives_only_near_the_pickup() {
    let app = spawn_app().await;
    let (trip, rider, driver) = assigned_trip(&app, PICKUP.north(1.0)).await;

    let far = app.trip_action(&driver, trip.id, "arrive").await;
    assert_error(far, StatusCode::CONFLICT, "not_at_pickup").await;
    assert_eq!(app.trip(&rider, trip.id).await.status, TripStatus::Assigned);

    // 150 m away is near enough (HAIL_ARRIVE_RADIUS_M, 200).
    assert_eq!(
        app.ping(&driver, PICKUP.north(0.15)).await,
        StatusCode::NO_CONTENT
    );
    let near = app.trip_action(&driver, trip.id, "arrive").await;
    assert_eq!(near.status(), StatusCode::OK);
    let arrived: Trip = near.json().await.unwrap();
    assert_eq!(arrived.status, TripStatus::Arrived);
    assert!(arrived.arrived_at.is_some());
    // The rider reads it, and the audit has it.
    assert_eq!(app.trip(&rider, trip.id).await.status, TripStatus::Arrived);
    assert!(kinds(&events(&app, &rider, trip.id).await).contains(&"ARRIVED"));

    // Twice is an illegal move; the rider cannot arrive.
    let again = app.trip_action(&driver, trip.id, "arrive").await;
    assert_error(again, StatusCode::CONFLICT, "invalid_transition").await;
    let by_rider = app.trip_action(&rider, trip.id, "arrive").await;
    assert_error(by_rider, StatusCode::FORBIDDEN, "forbidden").await;

    // Without a PIN in this city, start goes on from ARRIVED, then complete.
    for action in ["start", "complete"] {
        let response = app.trip_action(&driver, trip.id, action).await;
        assert_eq!(response.status(), StatusCode::OK, "{action}");
    }
}

#[tokio::test]
async fn another_driver_cannot_arrive_on_someone_elses_trip() {
    let app = spawn_app().await;
    let (trip, _rider, _driver) = assigned_trip(&app, PICKUP.north(0.1)).await;
    let stranger = app.driver_online_at(PICKUP).await;
    let response = app.trip_action(&stranger, trip.id, "arrive").await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_driver_who_cancels_after_arriving_sends_the_trip_back_to_dispatch() {
    let app = spawn_app().await;
    let (trip, rider, driver) = assigned_trip(&app, PICKUP.north(0.1)).await;
    let arrived = app.trip_action(&driver, trip.id, "arrive").await;
    assert_eq!(arrived.status(), StatusCode::OK);
    let response = app.trip_action(&driver, trip.id, "cancel").await;
    assert_eq!(response.status(), StatusCode::OK);
    let back: Trip = response.json().await.unwrap();
    assert_eq!(back.status, TripStatus::Requested);
    assert_eq!(back.driver, None);
    assert_eq!(back.arrived_at, None);
    // Another driver gets it; the one who cancelled never again.
    let next = app.driver_online_at(PICKUP.north(0.3)).await;
    app.wait_for_offer(&next, SOON)
        .await
        .expect("re-dispatched");
    assert!(app.driver_profile(&driver).await.current_offer.is_none());
    let _ = rider;
}

#[tokio::test]
async fn the_pin_is_the_riders_alone_and_starts_the_trip() {
    let app = pin_app().await;
    let (trip, rider, driver) = assigned_trip(&app, PICKUP.north(0.1)).await;
    let pin = app
        .trip(&rider, trip.id)
        .await
        .pickup_pin
        .expect("the rider sees a PIN");
    assert_eq!(pin.len(), 4);
    assert!(pin.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        trip.pickup_pin.as_deref(),
        Some(pin.as_str()),
        "on the 202 too"
    );

    // Nothing the driver can read holds it.
    for path in [
        format!("/api/v1/trips/{}", trip.id),
        "/api/v1/trips".to_string(),
        format!("/api/v1/trips/{}/events", trip.id),
        "/api/v1/drivers/me".to_string(),
    ] {
        let text = app
            .get(&path, Some(&driver.token))
            .await
            .text()
            .await
            .unwrap();
        assert!(!text.contains(&format!("\"{pin}\"")), "{path}: {text}");
    }
    assert_eq!(app.trip(&driver, trip.id).await.pickup_pin, None);

    // No PIN: asked for, not counted.
    let none = app.trip_action(&driver, trip.id, "start").await;
    assert_eq!(attempts_left(none).await, 5);
    // A wrong one counts.
    let wrong = if pin == "0000" { "1111" } else { "0000" };
    assert_eq!(
        attempts_left(start_with(&app, &driver, &trip, wrong).await).await,
        4
    );
    assert_eq!(app.trip(&rider, trip.id).await.status, TripStatus::Assigned);
    // The right one starts the trip.
    let right = start_with(&app, &driver, &trip, &pin).await;
    assert_eq!(right.status(), StatusCode::OK);
    let started: Trip = right.json().await.unwrap();
    assert_eq!(started.status, TripStatus::Ongoing);
    assert_eq!(started.pickup_pin, None, "the driver's answer has no PIN");
}

#[tokio::test]
async fn five_wrong_pins_cancel_the_trip_and_free_the_driver() {
    let app = pin_app().await;
    let (trip, rider, driver) = assigned_trip(&app, PICKUP.north(0.1)).await;
    let pin = app.trip(&rider, trip.id).await.pickup_pin.unwrap();
    let wrong = if pin == "0000" { "1111" } else { "0000" };
    // Four one by one, then two at once: exactly one of those is the fifth.
    for left in [4, 3, 2, 1] {
        assert_eq!(
            attempts_left(start_with(&app, &driver, &trip, wrong).await).await,
            left
        );
    }
    let (a, b) = tokio::join!(
        start_with(&app, &driver, &trip, wrong),
        start_with(&app, &driver, &trip, &pin)
    );
    let (a_status, b_status) = (a.status(), b.status());
    let cancelled = app.trip(&rider, trip.id).await;
    if b_status == StatusCode::OK {
        // The right PIN got in first: the trip is on, the wrong one refused.
        assert_eq!(cancelled.status, TripStatus::Ongoing);
        assert_ne!(a_status, StatusCode::OK);
        return;
    }
    assert_eq!(attempts_left(a).await, 0);
    assert_eq!(cancelled.status, TripStatus::Cancelled);
    assert_eq!(cancelled.cancel_reason.as_deref(), Some("pin_attempts"));
    // The right PIN after the lockout changes nothing.
    let late = start_with(&app, &driver, &trip, &pin).await;
    assert_error(late, StatusCode::CONFLICT, "invalid_transition").await;
    assert_eq!(
        app.driver_profile(&driver).await.status,
        DriverStatus::Online
    );
    // The rider may ask again at once (this cancel is not the rider's).
    app.request_trip(&rider, PICKUP, DROPOFF).await;
}

#[tokio::test]
async fn the_next_driver_gets_all_five_tries_and_the_guesser_never_comes_back() {
    let app = pin_app().await;
    let (trip, rider, guesser) = assigned_trip(&app, PICKUP.north(0.1)).await;
    let pin = app.trip(&rider, trip.id).await.pickup_pin.unwrap();
    let wrong = if pin == "0000" { "1111" } else { "0000" };
    for left in [4, 3, 2, 1] {
        let response = start_with(&app, &guesser, &trip, wrong).await;
        assert_eq!(attempts_left(response).await, left);
    }
    // Four wrong guesses, then a cancel: back to dispatch.
    let response = app.trip_action(&guesser, trip.id, "cancel").await;
    assert_eq!(response.status(), StatusCode::OK);
    let next = app.driver_online_at(PICKUP.north(0.2)).await;
    app.wait_for_offer(&next, SOON)
        .await
        .expect("re-dispatched");
    assert_eq!(
        app.trip_action(&next, trip.id, "accept").await.status(),
        StatusCode::OK
    );
    // The guesser is no longer on the trip: its tries are refused as a stranger's.
    let response = start_with(&app, &guesser, &trip, &pin).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    // The new driver has five.
    let response = start_with(&app, &next, &trip, wrong).await;
    assert_eq!(attempts_left(response).await, 4);
    let response = start_with(&app, &next, &trip, &pin).await;
    assert_eq!(response.status(), StatusCode::OK);
}
