//! Who is coming (API.md: `PUT /drivers/me/vehicle`, the trip's `driver`):
//! the driver's name, car and rating, on the trip from ASSIGNED on.

use hail_shared::api::drivers::{DriverRating, Vehicle};
use hail_testkit::reqwest::Method;

use crate::helpers::*;

fn vehicle() -> Vehicle {
    Vehicle {
        make: "Toyota".into(),
        model: "Corolla Altis".into(),
        color: "silver".into(),
        plate: "SGX 1234 A".into(),
    }
}

async fn put_vehicle(app: &TestApp, who: &Account, body: Value) -> hail_testkit::reqwest::Response {
    app.request(
        Method::PUT,
        "/api/v1/drivers/me/vehicle",
        Some(&who.token),
        Some(&body),
    )
    .await
}

#[tokio::test]
async fn a_driver_sets_a_vehicle_and_sees_it_with_its_name() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    let before = app.driver_profile(&driver).await;
    assert_eq!(before.name, "Test Person");
    assert_eq!(before.vehicle, None);
    assert_eq!(before.rating, None);

    let response = put_vehicle(
        &app,
        &driver,
        json!({"make": " Toyota ", "model": "Corolla Altis", "color": "silver", "plate": "sgx  1234 a"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let set: Vehicle = response.json().await.unwrap();
    assert_eq!(set, vehicle(), "trimmed, plate in capitals");
    assert_eq!(app.driver_profile(&driver).await.vehicle, Some(vehicle()));
}

#[tokio::test]
async fn a_bad_vehicle_is_refused_field_by_field_and_changes_nothing() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    assert_eq!(
        put_vehicle(&app, &driver, serde_json::to_value(vehicle()).unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    for (body, field) in [
        (
            json!({"make": "", "model": "X", "color": "red", "plate": "A1"}),
            "make",
        ),
        (
            json!({"make": "M", "model": "x".repeat(41), "color": "red", "plate": "A1"}),
            "model",
        ),
        (
            json!({"make": "M", "model": "X", "color": "   ", "plate": "A1"}),
            "color",
        ),
        (
            json!({"make": "M", "model": "X", "color": "red", "plate": "A1<script>"}),
            "plate",
        ),
        (
            json!({"make": "M", "model": "X", "color": "red", "plate": "ABCDEFGHIJKLMNOPQ"}),
            "plate",
        ),
        (
            json!({"make": "M\u{0}", "model": "X", "color": "red", "plate": "A1"}),
            "make",
        ),
    ] {
        let response = put_vehicle(&app, &driver, body.clone()).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let details = error.error.details.unwrap();
        assert!(details.get(field).is_some(), "{body}: {details}");
    }
    let wrong_type = put_vehicle(
        &app,
        &driver,
        json!({"make": 1, "model": "X", "color": "red", "plate": "A1"}),
    )
    .await;
    assert!(wrong_type.status().is_client_error());
    assert_eq!(app.driver_profile(&driver).await.vehicle, Some(vehicle()));
    // Riders have no vehicle.
    let rider = app.register_rider().await;
    let response = put_vehicle(&app, &rider, serde_json::to_value(vehicle()).unwrap()).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
}

/// A trip from request to COMPLETED with `driver`; the assigned trip as the
/// rider saw it.
async fn ride_with(app: &TestApp, driver: &Account, rider: &Account, stars: Option<u8>) -> Trip {
    let trip = app.request_trip(rider, PICKUP, DROPOFF).await;
    assert_eq!(trip.driver, None, "no driver before ASSIGNED");
    app.wait_for_offer(driver, SOON).await.expect("the offer");
    let response = app.trip_action(driver, trip.id, "accept").await;
    assert_eq!(response.status(), StatusCode::OK);
    let assigned = app.trip(rider, trip.id).await;
    for action in ["start", "complete"] {
        assert_eq!(
            app.trip_action(driver, trip.id, action).await.status(),
            StatusCode::OK
        );
    }
    if let Some(stars) = stars {
        let rated = app
            .post(
                &format!("/api/v1/trips/{}/rating", trip.id),
                Some(&rider.token),
                &json!({"stars": stars}),
            )
            .await;
        assert_eq!(rated.status(), StatusCode::OK);
    }
    assigned
}

#[tokio::test]
async fn the_rider_sees_who_is_coming_and_their_rating_on_later_trips() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    assert_eq!(
        put_vehicle(&app, &driver, serde_json::to_value(vehicle()).unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    let rider = app.register_rider().await;

    let first = ride_with(&app, &driver, &rider, Some(5)).await;
    let card = first.driver.expect("the driver's card from ASSIGNED on");
    assert_eq!(card.id, driver.id);
    assert_eq!(card.name, "Test Person");
    assert_eq!(card.vehicle, Some(vehicle()));
    assert_eq!(card.rating, None, "no rating yet");

    let second = ride_with(&app, &driver, &rider, Some(4)).await;
    assert_eq!(
        second.driver.unwrap().rating,
        Some(DriverRating {
            average: 5.0,
            count: 1
        })
    );
    let third = ride_with(&app, &driver, &rider, None).await;
    assert_eq!(
        third.driver.unwrap().rating,
        Some(DriverRating {
            average: 4.5,
            count: 2
        })
    );
    assert_eq!(
        app.driver_profile(&driver).await.rating,
        Some(DriverRating {
            average: 4.5,
            count: 2
        })
    );
}

#[tokio::test]
async fn a_driver_without_a_vehicle_is_shown_by_name() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let trip = ride_with(&app, &driver, &rider, None).await;
    let card = trip.driver.unwrap();
    assert_eq!(card.name, "Test Person");
    assert_eq!(card.vehicle, None);
}
