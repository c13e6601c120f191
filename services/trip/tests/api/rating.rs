//! Rating a trip (API.md, `POST /trips/{id}/rating`): its rider, once it is
//! COMPLETED, once; nobody else, and nothing out of range.

use hail_shared::api::trips::TripRating;

use crate::helpers::*;

/// A trip driven to COMPLETED, its rider and its driver.
async fn completed_trip(app: &TestApp) -> (Trip, Account, Account) {
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&driver, SOON).await.expect("the offer");
    for action in ["accept", "start", "complete"] {
        let response = app.trip_action(&driver, trip.id, action).await;
        assert_eq!(response.status(), StatusCode::OK, "{action}");
    }
    (trip, rider, driver)
}

fn rating_path(trip: &Trip) -> String {
    format!("/api/v1/trips/{}/rating", trip.id)
}

#[tokio::test]
async fn the_rider_rates_a_completed_trip_once() {
    let app = spawn_app().await;
    let (trip, rider, driver) = completed_trip(&app).await;
    assert_eq!(app.trip(&rider, trip.id).await.rating, None);

    let response = app
        .post(
            &rating_path(&trip),
            Some(&rider.token),
            &json!({"stars": 4, "comment": "  Smooth ride  "}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let rated: Trip = response.json().await.unwrap();
    let expected = TripRating {
        stars: 4,
        comment: Some("Smooth ride".into()),
    };
    assert_eq!(rated.rating, Some(expected.clone()));
    // Both sides read it on the trip.
    assert_eq!(
        app.trip(&rider, trip.id).await.rating,
        Some(expected.clone())
    );
    assert_eq!(
        app.trip(&driver, trip.id).await.rating,
        Some(expected.clone())
    );

    // A second time, even with other stars: 409, and the first stands.
    let again = app
        .post(
            &rating_path(&trip),
            Some(&rider.token),
            &json!({"stars": 1}),
        )
        .await;
    assert_error(again, StatusCode::CONFLICT, "already_rated").await;
    assert_eq!(app.trip(&rider, trip.id).await.rating, Some(expected));
}

#[tokio::test]
async fn two_ratings_at_once_only_one_lands() {
    let app = spawn_app().await;
    let (trip, rider, _) = completed_trip(&app).await;
    let path = rating_path(&trip);
    let (five, two) = (json!({"stars": 5}), json!({"stars": 2}));
    let (a, b) = tokio::join!(
        app.post(&path, Some(&rider.token), &five),
        app.post(&path, Some(&rider.token), &two)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let stars = app.trip(&rider, trip.id).await.rating.map(|r| r.stars);
    assert!(matches!(stars, Some(5) | Some(2)), "{stars:?}");
}

#[tokio::test]
async fn nobody_else_rates_and_nothing_before_completion() {
    let app = spawn_app().await;
    let (trip, rider, driver) = completed_trip(&app).await;
    let path = rating_path(&trip);
    // The driver: wrong role. Another rider: not their trip.
    let response = app
        .post(&path, Some(&driver.token), &json!({"stars": 5}))
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let stranger = app.register_rider().await;
    let response = app
        .post(&path, Some(&stranger.token), &json!({"stars": 5}))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.post(&path, None, &json!({"stars": 5})).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // Bad input changes nothing.
    for body in [
        json!({"stars": 0}),
        json!({"stars": 6}),
        json!({"stars": 3, "comment": "x".repeat(501)}),
        json!({"stars": 3, "comment": "bad\u{0}byte"}),
    ] {
        let response = app.post(&path, Some(&rider.token), &body).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    for body in [json!({"stars": "five"}), json!({"stars": 4.5}), json!({})] {
        let response = app.post(&path, Some(&rider.token), &body).await;
        assert!(
            response.status().is_client_error(),
            "{body}: {}",
            response.status()
        );
    }
    assert_eq!(app.trip(&rider, trip.id).await.rating, None);

    // A trip not yet completed cannot be rated.
    // Nearer than the first driver, who is free again.
    let driver2 = app.driver_online_at(PICKUP.north(0.05)).await;
    let rider2 = app.register_rider().await;
    let active = app.request_trip(&rider2, PICKUP, DROPOFF).await;
    app.wait_for_offer(&driver2, SOON).await.expect("offer");
    app.trip_action(&driver2, active.id, "accept").await;
    let response = app
        .post(
            &rating_path(&active),
            Some(&rider2.token),
            &json!({"stars": 5}),
        )
        .await;
    assert_error(response, StatusCode::CONFLICT, "invalid_transition").await;
    // Unknown trip: 404.
    let response = app
        .post(
            &format!("/api/v1/trips/{}/rating", uuid::Uuid::new_v4()),
            Some(&rider2.token),
            &json!({"stars": 5}),
        )
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}
