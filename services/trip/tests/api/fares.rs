//! Fares (API.md, "Trips": `fare`, `POST /trips/estimate`): the estimate
//! before booking and on the trip, and the final fare from the distance the
//! driver's pings covered, GPS jumps left out.

use std::{sync::Arc, time::Duration};

use hail_shared::{
    api::fares::{Estimate, Money},
    cities::Cities,
};

use crate::helpers::*;

/// A city where the distance is the whole fare (100.00 a km, nothing else),
/// so a fare reads back the distance it was priced on.
const PER_KM_CITY: &str = r#"
[[city]]
id = "sg"
name = "Singapore"
bbox = [1.2172, 103.6849, 1.487, 103.9547]
[city.tariff]
base = 0
per_km = 100.00
per_min = 0
minimum = 0
"#;

async fn per_km_app() -> TestApp {
    spawn_app_with(|c| {
        c.cities = Arc::new(Cities::from_toml(PER_KM_CITY, "test").unwrap());
    })
    .await
}

/// The estimate by API.md's rule, worked out here on its own: straight line
/// x 1.3 at 30 km/h; 3.00 + 0.70/km + 0.25/min, at least 6.00.
fn expected_sg_fare(pickup: LatLng, dropoff: LatLng, premium: bool) -> (f64, u64, Money) {
    let km = pickup.distance_km(&dropoff) * 1.3;
    let secs = ((km / 30.0 * 3_600_000.0).round() / 1000.0).ceil() as u64;
    let metres = (km * 1000.0).round() as i64;
    let cents = (300 + (70 * metres + 500) / 1000 + (25 * secs as i64 + 30) / 60).max(600);
    let cents = if premium {
        (cents * 150 + 50) / 100
    } else {
        cents
    };
    (km, secs, Money(cents))
}

async fn estimate(app: &TestApp, rider: &Account, body: Value) -> Estimate {
    let response = app
        .post("/api/v1/trips/estimate", Some(&rider.token), &body)
        .await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "estimate: {text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn an_estimate_prices_the_trip_by_the_citys_tariff_and_the_trip_keeps_it() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let (km, secs, fare) = expected_sg_fare(PICKUP, DROPOFF, false);

    let quote = estimate(&app, &rider, json!({"pickup": PICKUP, "dropoff": DROPOFF})).await;
    assert_eq!(quote.city, "sg");
    assert!((quote.distance_km - km).abs() < 0.001, "{quote:?}");
    assert_eq!(quote.duration_secs, secs);
    assert_eq!(quote.fare.currency, "SGD");
    assert_eq!(quote.fare.amount, fare);
    assert_eq!(quote.pickup_eta_secs, None, "no driver is in reach");

    let premium = estimate(
        &app,
        &rider,
        json!({"pickup": PICKUP, "dropoff": DROPOFF, "tier": "premium"}),
    )
    .await;
    assert_eq!(
        premium.fare.amount,
        expected_sg_fare(PICKUP, DROPOFF, true).2
    );

    // The trip stores the same estimate at request time.
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    assert_eq!(trip.fare.estimate, fare);
    assert_eq!(trip.fare.final_amount, None);
    assert_eq!(trip.fare.currency, "SGD");
    assert_eq!(trip.fare.duration_secs, secs);
    assert_eq!(app.trip(&rider, trip.id).await.fare, trip.fare);
    // And the JSON has the amount as a number with at most 2 places.
    let raw: Value = app
        .get(&format!("/api/v1/trips/{}", trip.id), Some(&rider.token))
        .await
        .json()
        .await
        .unwrap();
    let amount = raw["fare"]["estimate"].as_f64().unwrap();
    assert_eq!((amount * 100.0).round() / 100.0, amount);
}

#[tokio::test]
async fn the_estimate_names_the_nearest_drivers_pickup_eta() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    app.driver_online_at(PICKUP.north(3.0)).await;
    let near = app.driver_online_at(PICKUP.north(1.0)).await;
    let quote = estimate(&app, &rider, json!({"pickup": PICKUP, "dropoff": DROPOFF})).await;
    // 1 km x 1.3 at 30 km/h = 156 s.
    let eta = quote.pickup_eta_secs.expect("a driver is in reach");
    assert!((155..=157).contains(&eta), "{eta}");

    // Once that driver is offline, the next one (3 km) is the nearest.
    let response = app
        .post("/api/v1/drivers/me/offline", Some(&near.token), &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let quote = estimate(&app, &rider, json!({"pickup": PICKUP, "dropoff": DROPOFF})).await;
    let eta = quote.pickup_eta_secs.expect("a driver is in reach");
    assert!((467..=469).contains(&eta), "{eta}");
}

#[tokio::test]
async fn a_pickup_in_no_city_is_refused_on_estimate_and_request_and_only_riders_estimate() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let nowhere = LatLng::new(48.8566, 2.3522);
    for path in ["/api/v1/trips/estimate", "/api/v1/trips"] {
        let response = app
            .post(
                path,
                Some(&rider.token),
                &json!({"pickup": nowhere, "dropoff": DROPOFF}),
            )
            .await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "outside_service_area",
        )
        .await;
    }
    assert!(app.trips(&rider).await.is_empty(), "nothing was stored");
    let bad = app
        .post(
            "/api/v1/trips/estimate",
            Some(&rider.token),
            &json!({"pickup": {"lat": f64::MAX, "lng": 0}, "dropoff": DROPOFF}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let driver = app.register_driver().await;
    let response = app
        .post(
            "/api/v1/trips/estimate",
            Some(&driver.token),
            &json!({"pickup": PICKUP, "dropoff": DROPOFF}),
        )
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
}

/// The driver's trip: assigned, started at `start` (where its app pinged
/// last, as a driver app does on the way), with the rider.
async fn started_trip(app: &TestApp, start: LatLng, dropoff: LatLng) -> (Trip, Account, Account) {
    let driver = app.driver_online_at(start.north(0.1)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, start, dropoff).await;
    app.wait_for_offer(&driver, SOON).await.expect("the offer");
    let response = app.trip_action(&driver, trip.id, "accept").await;
    assert_eq!(response.status(), StatusCode::OK, "accept");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.ping(&driver, start).await, StatusCode::NO_CONTENT);
    let response = app.trip_action(&driver, trip.id, "start").await;
    assert_eq!(response.status(), StatusCode::OK, "start");
    (trip, rider, driver)
}

/// Drives north from `from` in 4 m steps every 100 ms (144 km/h: under the
/// 200 km/h guard even when two pings arrive close together, and a dropped
/// one is made up by the next), `steps` times; waits before the last, so it
/// always counts. Calls `between(k)` before ping `k`.
async fn drive_north(app: &TestApp, driver: &Account, from: LatLng, steps: usize) -> LatLng {
    let mut at = from;
    for k in 1..=steps {
        at = from.north(0.004 * k as f64);
        let pause = if k == steps { 400 } else { 100 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        assert_eq!(app.ping(driver, at).await, StatusCode::NO_CONTENT);
    }
    at
}

#[tokio::test]
async fn the_final_fare_is_the_distance_the_pings_covered() {
    let app = per_km_app().await;
    let dropoff = PICKUP.north(0.4);
    let (trip, rider, driver) = started_trip(&app, PICKUP, dropoff).await;
    // The estimate: 0.4 km x 1.3 = 0.52 km at 100.00/km = 52.00.
    assert_eq!(trip.fare.estimate, Money(5200));

    drive_north(&app, &driver, PICKUP, 100).await;
    let response = app.trip_action(&driver, trip.id, "complete").await;
    assert_eq!(response.status(), StatusCode::OK);
    let done: Trip = response.json().await.unwrap();
    // 400 m driven: 40.00, within 1 %.
    let fare = done.fare.final_amount.expect("a final fare");
    assert!((fare.hundredths() - 4000).abs() <= 40, "{fare:?}");
    assert!(
        (done.fare.distance_km - 0.4).abs() <= 0.004,
        "{:?}",
        done.fare
    );
    assert!(done.fare.duration_secs >= 10, "{:?}", done.fare);
    // The rider reads the same receipt, and the history lists it.
    assert_eq!(app.trip(&rider, trip.id).await.fare, done.fare);
    assert_eq!(app.trips(&rider).await[0].fare, done.fare);
}

#[tokio::test]
async fn a_gps_jump_is_not_charged() {
    let app = per_km_app().await;
    let (trip, _rider, driver) = started_trip(&app, PICKUP, PICKUP.north(0.4)).await;
    drive_north(&app, &driver, PICKUP, 50).await;
    // A fix 5 km off, 100 ms after the last: 180,000 km/h.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        app.ping(&driver, PICKUP.north(5.0)).await,
        StatusCode::NO_CONTENT
    );
    drive_north(&app, &driver, PICKUP.north(0.2), 50).await;
    let response = app.trip_action(&driver, trip.id, "complete").await;
    assert_eq!(response.status(), StatusCode::OK);
    let done: Trip = response.json().await.unwrap();
    let fare = done.fare.final_amount.expect("a final fare");
    // 400 m, not 10 km.
    assert!((fare.hundredths() - 4000).abs() <= 40, "{fare:?}");
}

#[tokio::test]
async fn without_pings_the_final_fare_takes_the_estimates_distance() {
    let app = per_km_app().await;
    // One ping of the ride (before the start) is not a route.
    let (trip, _rider, driver) = started_trip(&app, PICKUP, PICKUP.north(0.4)).await;
    let response = app.trip_action(&driver, trip.id, "complete").await;
    assert_eq!(response.status(), StatusCode::OK);
    let done: Trip = response.json().await.unwrap();
    assert_eq!(done.fare.final_amount, Some(Money(5200)));
    assert!((done.fare.distance_km - 0.52).abs() < 0.001);
}

#[tokio::test]
async fn the_offer_shows_the_fare_estimate() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let offer = app.wait_for_offer(&driver, SOON).await.expect("the offer");
    assert_eq!(offer.fare_estimate.currency, "SGD");
    assert_eq!(offer.fare_estimate.amount, trip.fare.estimate);
}
