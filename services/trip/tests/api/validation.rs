//! Bad input: 400 or 422 in the contract's shape, never a 500, nothing stored.

use crate::helpers::*;

async fn post_raw(
    app: &TestApp,
    token: &str,
    path: &str,
    raw: &str,
) -> hail_testkit::reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(raw.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_trip_requests_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let ok = r#"{"lat": 1.3, "lng": 103.8}"#;
    let cases: Vec<(String, StatusCode)> = vec![
        (
            format!(r#"{{"pickup": {{"lat": NaN, "lng": 1}}, "dropoff": {ok}}}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!(r#"{{"pickup": {{"lat": Infinity, "lng": 1}}, "dropoff": {ok}}}"#),
            StatusCode::BAD_REQUEST,
        ),
        // Valid JSON, but no f64 holds it: a problem with the field.
        (
            format!(r#"{{"pickup": {{"lat": 1e999, "lng": 1}}, "dropoff": {ok}}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!(r#"{{"pickup": {{"lat": "1.3", "lng": 1}}, "dropoff": {ok}}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!(r#"{{"pickup": {{"lat": 85.06, "lng": 1}}, "dropoff": {ok}}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!(r#"{{"pickup": {{"lat": -90, "lng": 1}}, "dropoff": {ok}}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!(r#"{{"pickup": {{"lat": 1, "lng": 180.5}}, "dropoff": {ok}}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!(r#"{{"pickup": {ok}}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!(r#"{{"pickup": {ok}, "dropoff": {ok}, "tier": "luxury"}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("[]".to_string(), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (raw, status) in cases {
        let response = post_raw(&app, &rider.token, "/api/v1/trips", &raw).await;
        let code = if status == StatusCode::BAD_REQUEST {
            "bad_request"
        } else {
            "validation_failed"
        };
        assert_error(response, status, code).await;
    }
    let list = app.trips(&rider).await;
    assert!(list.is_empty(), "{list:?}");
}

#[tokio::test]
async fn a_driver_cannot_request_a_trip() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    let response = app
        .post(
            "/api/v1/trips",
            Some(&driver.token),
            &json!({"pickup": PICKUP, "dropoff": DROPOFF}),
        )
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn bad_nearby_queries_are_refused() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let cases = [
        (
            "lat=1.3&lng=103.8&limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "lat=1.3&lng=103.8&limit=100000",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "lat=1.3&lng=103.8&radius_km=0",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "lat=1.3&lng=103.8&radius_km=1e9",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "lat=1.3&lng=103.8&radius_km=NaN",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("lat=NaN&lng=103.8", StatusCode::UNPROCESSABLE_ENTITY),
        ("lat=inf&lng=103.8", StatusCode::UNPROCESSABLE_ENTITY),
        ("lat=89&lng=103.8", StatusCode::UNPROCESSABLE_ENTITY),
        ("lat=1.3&lng=-181", StatusCode::UNPROCESSABLE_ENTITY),
        ("lat=north&lng=103.8", StatusCode::BAD_REQUEST),
        ("lng=103.8", StatusCode::BAD_REQUEST),
        ("lat=1.3&lng=103.8&limit=-1", StatusCode::BAD_REQUEST),
    ];
    for (query, status) in cases {
        let response = app
            .get(
                &format!("/api/v1/drivers/nearby?{query}"),
                Some(&rider.token),
            )
            .await;
        let code = if status == StatusCode::BAD_REQUEST {
            "bad_request"
        } else {
            "validation_failed"
        };
        assert_error(response, status, code).await;
    }
}

#[tokio::test]
async fn bad_pings_are_refused_and_move_nothing() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP).await;
    for raw in [
        r#"{"lat": 91, "lng": 1}"#,
        r#"{"lat": 1, "lng": 200}"#,
        r#"{"lat": 1, "lng": 1, "heading": 361}"#,
        r#"{"lat": 1, "lng": 1, "speed_kmh": -1}"#,
        r#"{"lat": "1", "lng": 1}"#,
        r#"{"lat": 1}"#,
    ] {
        let response = post_raw(&app, &driver.token, "/api/v1/drivers/me/location", raw).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let response = post_raw(
        &app,
        &driver.token,
        "/api/v1/drivers/me/location",
        r#"{"lat": NaN, "lng": 1}"#,
    )
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    let location = app.driver_profile(&driver).await.location.unwrap();
    assert!((location.lat - PICKUP.lat).abs() < 1e-9);
}

#[tokio::test]
async fn a_busy_driver_cannot_make_itself_matchable() {
    let app = spawn_app().await;
    let driver = app.driver_online_at(PICKUP.north(0.2)).await;
    let rider = app.register_rider().await;
    app.request_trip(&rider, PICKUP, DROPOFF).await;
    app.wait_for_offer(&driver, SOON).await.expect("offer");
    for path in ["online", "offline"] {
        let response = app
            .post(
                &format!("/api/v1/drivers/me/{path}"),
                Some(&driver.token),
                &json!({}),
            )
            .await;
        assert_error(response, StatusCode::CONFLICT, "conflict").await;
    }
    assert_eq!(app.driver_profile(&driver).await.status, DriverStatus::Busy);
}
