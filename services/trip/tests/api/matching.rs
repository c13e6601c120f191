//! The index: ghosts, coordinate order, what nearby returns.

use crate::helpers::*;

#[tokio::test]
async fn ghosts_in_the_index_never_hide_a_live_driver() {
    let app = spawn_app().await;
    // 60 members right at the pickup with no presence key: drivers whose app
    // died without going offline.
    let mut redis = app.redis().await;
    let key = app.city_index(None);
    for _ in 0..60 {
        let ghost = uuid::Uuid::new_v4().to_string();
        let _: i64 = redis::cmd("GEOADD")
            .arg(&key)
            .arg(PICKUP.lng)
            .arg(PICKUP.lat)
            .arg(ghost)
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    let live = app.driver_online_at(PICKUP.north(2.0)).await;
    let rider = app.register_rider().await;

    let nearby = app.nearby(&rider, PICKUP, "&radius_km=5&limit=5").await;
    assert_eq!(nearby.len(), 1, "{nearby:?}");
    assert_eq!(nearby[0].driver_id, live.id);

    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let offer = app
        .wait_for_offer(&live, SOON)
        .await
        .expect("the live driver is offered the trip");
    assert_eq!(offer.trip_id, trip.id);
}

#[tokio::test]
async fn a_driver_one_km_north_is_found_one_km_away_at_its_own_coordinates() {
    let app = spawn_app().await;
    let at = PICKUP.north(1.0);
    let driver = app.driver_online_at(at).await;
    let rider = app.register_rider().await;
    let nearby = app.nearby(&rider, PICKUP, "").await;
    assert_eq!(nearby.len(), 1);
    let found = &nearby[0];
    assert_eq!(found.driver_id, driver.id);
    assert!(
        (found.distance_km - 1.0).abs() < 0.01,
        "{}",
        found.distance_km
    );
    assert!(
        (found.lat - at.lat).abs() < 1e-4,
        "lat {} vs {}",
        found.lat,
        at.lat
    );
    assert!(
        (found.lng - at.lng).abs() < 1e-4,
        "lng {} vs {}",
        found.lng,
        at.lng
    );
}

async fn nearby(app: &TestApp, rider: &Account) -> Vec<uuid::Uuid> {
    let found = app.nearby(rider, PICKUP, "").await;
    found.into_iter().map(|d| d.driver_id).collect()
}

#[tokio::test]
async fn a_driver_calling_nearby_gets_the_contracts_shape_nearest_first() {
    let app = spawn_app().await;
    let far = app.driver_online_at(PICKUP.north(1.5)).await;
    let near = app.driver_online_at(PICKUP.north(0.5)).await;
    let response = app
        .get(
            &format!(
                "/api/v1/drivers/nearby?lat={}&lng={}&radius_km=3&limit=10",
                PICKUP.lat, PICKUP.lng
            ),
            Some(&far.token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let found: Value = response.json().await.unwrap();
    let found = found.as_array().expect("an array");
    assert_eq!(found.len(), 2, "{found:?}");
    for (entry, (driver, km)) in found.iter().zip([(&near, 0.5), (&far, 1.5)]) {
        let mut keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["distance_km", "driver_id", "lat", "lng"], "{entry}");
        assert_eq!(entry["driver_id"], json!(driver.id));
        let distance = entry["distance_km"].as_f64().unwrap();
        assert!((distance - km).abs() < 0.01, "{entry}");
    }
}

#[tokio::test]
async fn nearby_lists_only_online_present_unclaimed_drivers_nearest_first() {
    let app = spawn_app().await;
    let near = app.driver_online_at(PICKUP.north(0.5)).await;
    let far = app.driver_online_at(PICKUP.north(1.5)).await;
    let offline = app.driver_online_at(PICKUP.north(1.0)).await;
    app.post(
        "/api/v1/drivers/me/offline",
        Some(&offline.token),
        &json!({}),
    )
    .await;
    let never_online = app.register_driver().await;
    assert_eq!(app.ping(&never_online, PICKUP).await, StatusCode::CONFLICT);

    let rider = app.register_rider().await;
    assert_eq!(nearby(&app, &rider).await, vec![near.id, far.id]);

    // A claimed driver leaves the list at once; a freed one is back at once.
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&near, SOON).await.expect("offer");
    assert_eq!(nearby(&app, &rider).await, vec![far.id]);
    app.post(
        &format!("/api/v1/trips/{}/cancel", trip.id),
        Some(&rider.token),
        &json!({}),
    )
    .await;
    assert_eq!(nearby(&app, &rider).await, vec![near.id, far.id]);
}

#[tokio::test]
async fn pings_refused_offline_and_busy_pings_are_not_indexed() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    let response = app
        .post(
            "/api/v1/drivers/me/location",
            Some(&driver.token),
            &json!({"lat": 1.3, "lng": 103.8}),
        )
        .await;
    assert_error(response, StatusCode::CONFLICT, "driver_offline").await;
    app.go_online(&driver).await;
    assert_eq!(app.ping(&driver, PICKUP).await, StatusCode::NO_CONTENT);
    let profile = app.driver_profile(&driver).await;
    assert_eq!(profile.status, DriverStatus::Online);
    let location = profile.location.expect("a location");
    assert!((location.lat - PICKUP.lat).abs() < 1e-9);

    // Offline again: out of the index, pings refused.
    app.post(
        "/api/v1/drivers/me/offline",
        Some(&driver.token),
        &json!({}),
    )
    .await;
    assert_eq!(app.ping(&driver, PICKUP).await, StatusCode::CONFLICT);
    let mut redis = app.redis().await;
    let key = app.city_index(None);
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(&key)
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(members.is_empty(), "{members:?}");
}
