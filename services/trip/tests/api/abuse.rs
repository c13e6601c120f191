//! A rider who keeps requesting and cancelling puts an offer and a
//! revocation on some driver's screen each time (and holds that driver):
//! past `HAIL_RIDER_CANCEL_LIMIT` cancels in 10 minutes, new requests wait.

use crate::helpers::*;

#[tokio::test]
async fn a_rider_past_the_cancel_limit_gets_429_until_the_window_allows() {
    let app = spawn_app_with(|c| c.rate_limits.rider_cancel_limit = 3).await;
    let rider = app.register_rider().await;
    for _ in 0..3 {
        let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
        let cancelled = app.trip_action(&rider, trip.id, "cancel").await;
        assert_eq!(cancelled.status(), StatusCode::OK);
    }
    let response = app
        .post(
            "/api/v1/trips",
            Some(&rider.token),
            &json!({"pickup": PICKUP, "dropoff": DROPOFF}),
        )
        .await;
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header");
    assert!(
        (500..=600).contains(&retry_after),
        "the first cancel ages out in about 10 minutes: {retry_after}"
    );
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let trips: Vec<Trip> = app
        .get("/api/v1/trips?limit=50", Some(&rider.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(trips.len(), 3, "the refused request stored nothing");

    // Another rider is not held back by this one.
    let other = app.register_rider().await;
    app.request_trip(&other, PICKUP, DROPOFF).await;
}

#[tokio::test]
async fn cancels_by_the_driver_do_not_count_against_the_rider() {
    let app = spawn_app_with(|c| c.rate_limits.rider_cancel_limit = 1).await;
    let rider = app.register_rider().await;
    let driver = app.driver_online_at(PICKUP).await;
    let trip = app.assigned_trip(&rider, &driver, PICKUP, DROPOFF).await;
    assert_eq!(
        app.trip_action(&driver, trip.id, "start").await.status(),
        StatusCode::OK
    );
    // ONGOING --driver cancel--> CANCELLED: the driver's doing.
    assert_eq!(
        app.trip_action(&driver, trip.id, "cancel").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.trip(&rider, trip.id).await.status,
        TripStatus::Cancelled
    );
    let next = app
        .post(
            "/api/v1/trips",
            Some(&rider.token),
            &json!({"pickup": PICKUP, "dropoff": DROPOFF}),
        )
        .await;
    assert_eq!(next.status(), StatusCode::ACCEPTED);
}
