//! Defence in depth in the driver service: a claim no trip holds cannot
//! leave a driver BUSY past its TTL, and an assignment is never undone by
//! that rule, even when its confirmation was lost.

use std::time::Duration;

use hail_shared::internal::Peer;

use crate::helpers::*;

async fn driver_status(app: &TestApp, driver: &Account) -> (DriverStatus, Option<uuid::Uuid>) {
    let profile = app.driver_profile(driver).await;
    (profile.status, profile.current_trip_id)
}

/// Polls `check` every 100 ms until it holds or `within` runs out.
async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_claim_naming_no_trip_is_released_once_its_ttl_runs_out() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP).await;
    let made_up = uuid::Uuid::new_v4();
    let claimed = app
        .client
        .post(app.service_url(Service::Driver, "/internal/drivers/claims"))
        .header("x-internal-token", app.peer_token(Peer::Trip))
        .json(&json!({"ttl_secs": 1, "claims": [{"trip_id": made_up, "city": "sg", "drivers": [driver.id]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), StatusCode::OK);
    assert_eq!(
        driver_status(&app, &driver).await,
        (DriverStatus::Busy, Some(made_up))
    );
    let freed = eventually(Duration::from_secs(15), async || {
        driver_status(&app, &driver).await == (DriverStatus::Online, None)
    })
    .await;
    assert!(
        freed,
        "the driver stayed BUSY for a trip that does not exist"
    );
    // Matchable again: a real request reaches it.
    let rider = app.register_rider().await;
    app.request_trip(&rider, PICKUP, DROPOFF).await;
    assert!(app.wait_for_offer(&driver, SOON).await.is_some());
}

#[tokio::test]
async fn an_assignment_whose_confirmation_was_lost_is_kept() {
    let app = fast_app().await;
    let driver = app.driver_online_at(PICKUP).await;
    let rider = app.register_rider().await;
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&driver, SOON).await.expect("an offer");
    let accepted = app.trip_action(&driver, trip.id, "accept").await;
    assert_eq!(accepted.status(), StatusCode::OK);

    // As if the confirmation never reached the driver service: the claim
    // looks overdue.
    let pool = sqlx::PgPool::connect(&app.config.database_url)
        .await
        .unwrap();
    let expiry = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, Option<chrono::DateTime<chrono::Utc>>>(
            "SELECT claim_expires_at FROM driver.drivers WHERE id = $1",
        )
        .bind(driver.id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert_eq!(expiry(pool.clone()).await, None, "accepting confirmed it");
    sqlx::query(
        "UPDATE driver.drivers SET claim_expires_at = now() - interval '1 second' WHERE id = $1",
    )
    .bind(driver.id)
    .execute(&pool)
    .await
    .unwrap();
    let confirmed = eventually(Duration::from_secs(15), async || {
        expiry(pool.clone()).await.is_none()
    })
    .await;
    assert!(confirmed, "the overdue claim was never looked at");
    assert_eq!(
        driver_status(&app, &driver).await,
        (DriverStatus::Busy, Some(trip.id))
    );
    assert_eq!(app.trip(&rider, trip.id).await.status, TripStatus::Assigned);
}

/// The state the review reached by releasing someone else's driver: the
/// driver ONLINE in its service while a trip is still ASSIGNED to it.
/// Only the trip service can make that call now, but should it happen, a
/// second trip's accept is a 409, never a 500.
#[tokio::test]
async fn accepting_a_second_trip_while_assigned_elsewhere_is_a_conflict_not_a_500() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP).await;
    let (first_rider, second_rider) = (app.register_rider().await, app.register_rider().await);
    let first = app.request_trip(&first_rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&driver, SOON).await.expect("an offer");
    assert_eq!(
        app.trip_action(&driver, first.id, "accept").await.status(),
        StatusCode::OK
    );
    let released = app
        .client
        .post(app.service_url(
            Service::Driver,
            &format!("/internal/drivers/{}/release", driver.id),
        ))
        .header("x-internal-token", app.peer_token(Peer::Trip))
        .json(&json!({"trip_id": first.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), StatusCode::OK);
    // The answer says where the driver was freed (its last ping).
    let released: Value = released.json().await.unwrap();
    let freed_at: LatLng = serde_json::from_value(released["freed_at"].clone()).unwrap();
    assert!(freed_at.distance_km(&PICKUP) < 0.001, "{released}");
    app.ping(&driver, PICKUP).await;
    let second = app.request_trip(&second_rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&driver, SOON)
        .await
        .expect("a second offer");
    let response = app.trip_action(&driver, second.id, "accept").await;
    assert_error(response, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(
        app.trip(&first_rider, first.id).await.status,
        TripStatus::Assigned
    );
}

/// The holds question is bounded: more than 500 at once is refused.
#[tokio::test]
async fn a_holds_call_asking_too_much_is_refused() {
    let app = spawn_app().await;
    let hold = || json!({"driver_id": uuid::Uuid::new_v4(), "trip_id": uuid::Uuid::new_v4()});
    let ask = |n: usize| {
        let body = json!({"holds": (0..n).map(|_| hold()).collect::<Vec<_>>()});
        let app = &app;
        async move {
            app.client
                .post(app.service_url(Service::Trip, "/internal/trips/holds"))
                .header("x-internal-token", app.peer_token(Peer::Driver))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let fine = ask(500).await;
    assert_eq!(fine.status(), StatusCode::OK);
    let answer: Value = fine.json().await.unwrap();
    assert_eq!(answer["holds"].as_array().map(Vec::len), Some(500));
    assert!(
        answer["holds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h == "released"),
        "unknown trips hold nobody"
    );
    assert_error(
        ask(501).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}
