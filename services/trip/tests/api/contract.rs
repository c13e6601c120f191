//! Parts of the contract (API.md) no other test pinned down: the rider's
//! history (newest first, `limit` and its bounds), going online twice, and
//! cancels from ONGOING by either side.

use crate::helpers::*;

/// A trip on `driver`, moved through `steps` by that driver.
async fn trip_through(app: &TestApp, rider: &Account, driver: &Account, steps: &[&str]) -> Trip {
    let trip = app.request_trip(rider, PICKUP, DROPOFF).await;
    let offer = app.wait_for_offer(driver, SOON).await.expect("an offer");
    assert_eq!(offer.trip_id, trip.id);
    for step in steps {
        let response = app.trip_action(driver, trip.id, step).await;
        assert_eq!(response.status(), StatusCode::OK, "{step}");
    }
    app.trip(rider, trip.id).await
}

#[tokio::test]
async fn a_riders_history_is_newest_first_and_limited() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let mut made = Vec::new();
    for _ in 0..3 {
        let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
        let cancelled = app.trip_action(&rider, trip.id, "cancel").await;
        assert_eq!(cancelled.status(), StatusCode::OK);
        made.push(trip.id);
    }
    let newest_first: Vec<_> = made.iter().rev().copied().collect();

    let all = app.trips(&rider).await;
    assert_eq!(all.iter().map(|t| t.id).collect::<Vec<_>>(), newest_first);

    let two: Vec<Trip> = app
        .get("/api/v1/trips?limit=2", Some(&rider.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        two.iter().map(|t| t.id).collect::<Vec<_>>(),
        newest_first[..2]
    );

    // Another rider's history holds none of them.
    let stranger = app.register_rider().await;
    let theirs = app.trips(&stranger).await;
    assert!(theirs.is_empty());

    for bad in ["0", "101", "-1"] {
        let response = app
            .get(&format!("/api/v1/trips?limit={bad}"), Some(&rider.token))
            .await;
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(body.error.details.is_some(), "limit={bad} names the field");
    }
}

#[tokio::test]
async fn going_online_twice_answers_the_same() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    for _ in 0..2 {
        let response = app
            .post("/api/v1/drivers/me/online", Some(&driver.token), &json!({}))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"status": "ONLINE"}));
    }
    assert_eq!(
        app.driver_profile(&driver).await.status,
        DriverStatus::Online
    );
}

#[tokio::test]
async fn a_rider_cancels_an_ongoing_trip_and_the_driver_is_free_again() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let trip = trip_through(&app, &rider, &driver, &["accept", "start"]).await;
    assert_eq!(trip.status, TripStatus::Ongoing);

    let cancelled: Trip = app
        .trip_action(&rider, trip.id, "cancel")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled.status, TripStatus::Cancelled);
    assert!(cancelled.cancelled_at.is_some());
    let profile = app.driver_profile(&driver).await;
    assert_eq!(profile.status, DriverStatus::Online);
    assert_eq!(profile.current_trip_id, None);
    // Matchable again at once: the next request nearby is offered to it.
    let next_rider = app.register_rider().await;
    let next = app.request_trip(&next_rider, PICKUP, DROPOFF).await;
    let offer = app
        .wait_for_offer(&driver, SOON)
        .await
        .expect("offered again");
    assert_eq!(offer.trip_id, next.id);
}

#[tokio::test]
async fn a_driver_cancelling_an_ongoing_trip_ends_it() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let trip = trip_through(&app, &rider, &driver, &["accept", "start"]).await;

    let cancelled: Trip = app
        .trip_action(&driver, trip.id, "cancel")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled.status, TripStatus::Cancelled);
    assert_eq!(
        app.trip(&rider, trip.id).await.status,
        TripStatus::Cancelled
    );
    assert_eq!(
        app.driver_profile(&driver).await.status,
        DriverStatus::Online
    );
}

#[tokio::test]
async fn a_rider_cancel_of_an_assigned_trip_frees_the_driver_at_once() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let trip = trip_through(&app, &rider, &driver, &["accept"]).await;
    assert_eq!(trip.status, TripStatus::Assigned);

    let response = app.trip_action(&rider, trip.id, "cancel").await;
    assert_eq!(response.status(), StatusCode::OK);
    let profile = app.driver_profile(&driver).await;
    assert_eq!(profile.status, DriverStatus::Online);
    assert_eq!(profile.current_trip_id, None);
    let next_rider = app.register_rider().await;
    let next = app.request_trip(&next_rider, PICKUP, DROPOFF).await;
    let offer = app
        .wait_for_offer(&driver, SOON)
        .await
        .expect("offered again");
    assert_eq!(offer.trip_id, next.id);
}
