//! Pings (204, 409 driver_offline, 422 for anything not a real position)
//! and what `nearby` lists.

use crate::helpers::*;

#[tokio::test]
async fn a_ping_is_204_online_and_409_driver_offline_otherwise() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    let at = json!({"lat": PICKUP.lat, "lng": PICKUP.lng});
    let response = locate(&app, &driver, at.clone()).await;
    assert_error(response, StatusCode::CONFLICT, "driver_offline").await;

    assert_eq!(
        set_status(&app, &driver, "online").await.status(),
        StatusCode::OK
    );
    let full = json!({"lat": PICKUP.lat, "lng": PICKUP.lng, "heading": 359.5, "speed_kmh": 42});
    for body in [at.clone(), full] {
        let response = locate(&app, &driver, body.clone()).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{body}");
    }
    let response = call(&app, Method::GET, "/api/v1/drivers/me", &driver, None).await;
    let profile: Value = response.json().await.unwrap();
    assert!((profile["location"]["lat"].as_f64().unwrap() - PICKUP.lat).abs() < 1e-6);

    assert_eq!(
        set_status(&app, &driver, "offline").await.status(),
        StatusCode::OK
    );
    let response = locate(&app, &driver, at).await;
    assert_error(response, StatusCode::CONFLICT, "driver_offline").await;
}

#[tokio::test]
async fn out_of_range_and_non_numeric_positions_and_nearby_queries_are_refused() {
    let app = spawn_app().await;
    let driver = online_at(&app, PICKUP).await;
    let (lat, lng) = (PICKUP.lat, PICKUP.lng);
    for (body, field) in [
        (json!({"lat": 90.5, "lng": lng}), "lat"),
        (json!({"lat": -91, "lng": lng}), "lat"),
        // Inside [-90, 90] but outside Redis GEO's band: still 422, never 500.
        (json!({"lat": 85.06, "lng": lng}), "lat"),
        (json!({"lat": lat, "lng": 180.01}), "lng"),
        (json!({"lat": lat, "lng": -181}), "lng"),
        (json!({"lat": lat, "lng": lng, "heading": 360.5}), "heading"),
        (json!({"lat": lat, "lng": lng, "heading": -1}), "heading"),
        (
            json!({"lat": lat, "lng": lng, "speed_kmh": 300.5}),
            "speed_kmh",
        ),
        (
            json!({"lat": lat, "lng": lng, "speed_kmh": -0.1}),
            "speed_kmh",
        ),
        // JSON has no NaN or infinity: the nearest a client can send.
        (json!({"lat": "NaN", "lng": lng}), "lat"),
        (json!({"lat": lat, "lng": "Infinity"}), "lng"),
        (json!({"lat": null, "lng": lng}), "lat"),
        (json!({"lng": lng}), "lat"),
    ] {
        let response = locate(&app, &driver, body.clone()).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let details = error.error.details.unwrap_or_default();
        assert!(details.get(field).is_some(), "{body}: {details}");
    }
    // A number too large for a double (it would be infinite): 422 too.
    let response = app
        .client
        .post(app.service_url(Service::Driver, "/api/v1/drivers/me/location"))
        .header(
            hail_shared::extract::INTERNAL_TOKEN_HEADER,
            app.peer_token(Peer::Gateway),
        )
        .header(hail_shared::extract::USER_ID_HEADER, driver.id.to_string())
        .header(hail_shared::extract::USER_ROLE_HEADER, "driver")
        .header("content-type", "application/json")
        .body(format!(r#"{{"lat": 1e400, "lng": {lng}}}"#))
        .send()
        .await
        .unwrap();
    let error = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(error.error.details.unwrap_or_default().get("lat").is_some());

    // None of them moved the driver.
    let response = call(&app, Method::GET, "/api/v1/drivers/me", &driver, None).await;
    let profile: Value = response.json().await.unwrap();
    assert!((profile["location"]["lat"].as_f64().unwrap() - lat).abs() < 1e-6);

    // The same rules hold for nearby's query (422), and a query value that
    // is not a number at all is a 400.
    let rider = app.register_rider().await;
    for query in [
        format!("lat=NaN&lng={lng}"),
        format!("lat={lat}&lng=inf"),
        format!("lat=86&lng={lng}"),
        format!("lat={lat}&lng={lng}&radius_km=0"),
        format!("lat={lat}&lng={lng}&radius_km=50.5"),
        format!("lat={lat}&lng={lng}&radius_km=NaN"),
        format!("lat={lat}&lng={lng}&limit=0"),
        format!("lat={lat}&lng={lng}&limit=101"),
    ] {
        let path = format!("/api/v1/drivers/nearby?{query}");
        let response = call(&app, Method::GET, &path, &rider, None).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let path = format!("/api/v1/drivers/nearby?lat=north&lng={lng}");
    let response = call(&app, Method::GET, &path, &rider, None).await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
}

#[tokio::test]
async fn nearby_lists_online_unclaimed_drivers_nearest_first_for_any_role() {
    let app = spawn_app().await;
    let near = online_at(&app, PICKUP.north(0.4)).await;
    let far = online_at(&app, PICKUP.north(1.2)).await;
    let claimed = online_at(&app, PICKUP.north(0.2)).await;
    let offline = online_at(&app, PICKUP.north(0.3)).await;
    assert_eq!(
        set_status(&app, &offline, "offline").await.status(),
        StatusCode::OK
    );
    let rider = app.register_rider().await;
    assert_eq!(
        nearby(&app, &rider, PICKUP).await,
        [claimed.id, near.id, far.id]
    );

    // A trip claims the nearest: it leaves the list at once.
    let trip = app.request_trip(&rider, PICKUP, DROPOFF).await;
    let offer = app.wait_for_offer(&claimed, SOON).await.expect("an offer");
    assert_eq!(offer.trip_id, trip.id);
    assert_eq!(nearby(&app, &rider, PICKUP).await, [near.id, far.id]);
    // A driver sees the same list, itself included.
    assert_eq!(nearby(&app, &far, PICKUP).await, [near.id, far.id]);
    // Not present any more (its presence key gone): not listed either.
    let mut redis = app.redis().await;
    let presence =
        hail_shared::keys::Keys::new(app.config.redis_prefix.clone()).driver_presence(near.id);
    let _: i64 = redis::cmd("DEL")
        .arg(&presence)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(nearby(&app, &rider, PICKUP).await, [far.id]);
}

async fn city(app: &TestApp, driver: &Account) -> Value {
    let response = call(app, Method::GET, "/api/v1/drivers/me", driver, None).await;
    let profile: Value = response.json().await.unwrap();
    profile["city"].clone()
}

#[tokio::test]
async fn the_profile_names_the_city_of_the_last_ping() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    // No ping yet: no city.
    assert_eq!(city(&app, &driver).await, Value::Null);
    set_status(&app, &driver, "online").await;
    let ping = |lat: f64, lng: f64| json!({"lat": lat, "lng": lng});
    let response = locate(&app, &driver, ping(PICKUP.lat, PICKUP.lng)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(city(&app, &driver).await, json!("sg"));
    // Kuala Lumpur lies in no city: the ping is kept, the city is gone.
    let response = locate(&app, &driver, ping(3.139, 101.6869)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(city(&app, &driver).await, Value::Null);
}
