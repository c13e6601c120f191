//! Pings over drivers' sockets: batched into one call to the driver service
//! for many sockets, with REST's checks and answers, and visible to
//! `nearby` as soon as each ack says ok.

use futures::future::join_all;
use hail_shared::api::geo::LatLng;

use crate::helpers::*;

const PICKUP: LatLng = LatLng {
    lat: 1.3521,
    lng: 103.8198,
};

#[tokio::test]
async fn pings_from_many_sockets_at_once_are_each_recorded() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let mut drivers = Vec::new();
    for _ in 0..40 {
        let driver = app.register_driver().await;
        app.go_online(&driver).await;
        drivers.push(driver);
    }
    let sockets = join_all(drivers.iter().map(|d| app.socket(&d.token))).await;
    // All at the same instant, so they share batches.
    let answers = join_all(sockets.iter().zip(0u32..).map(|(socket, i)| {
        let at = json!({"lat": PICKUP.lat + 0.0001 * f64::from(i), "lng": PICKUP.lng});
        socket.call("driver:location", at)
    }))
    .await;
    for answer in &answers {
        assert_eq!(answer, &json!({"ok": true}));
    }
    let found = app.nearby(&rider, PICKUP, "&radius_km=1&limit=100").await;
    let mut found: Vec<_> = found.iter().map(|d| d.driver_id).collect();
    let mut want: Vec<_> = drivers.iter().map(|d| d.id).collect();
    found.sort();
    want.sort();
    assert_eq!(found, want);
    // Nearest first: the first driver pinged right at the point.
    let nearest = app.nearby(&rider, PICKUP, "&limit=1").await;
    assert_eq!(nearest[0].driver_id, drivers[0].id);
}

#[tokio::test]
async fn a_socket_ping_is_refused_exactly_as_rest_refuses_it() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let offline = app.register_driver().await;
    let online = app.register_driver().await;
    app.go_online(&online).await;
    let cases = [
        (&rider, json!({"lat": 1.3, "lng": 103.8}), "forbidden"),
        (
            &offline,
            json!({"lat": 1.3, "lng": 103.8}),
            "driver_offline",
        ),
        (
            &online,
            json!({"lat": 91.0, "lng": 103.8}),
            "validation_failed",
        ),
        (
            &online,
            json!({"lat": "north", "lng": 103.8}),
            "validation_failed",
        ),
        (&online, json!({"lng": 103.8}), "validation_failed"),
        (
            &online,
            json!({"lat": 1.3, "lng": 103.8, "heading": 400}),
            "validation_failed",
        ),
    ];
    for (who, body, code) in cases {
        let socket = app.socket(&who.token).await;
        let answer = socket.call("driver:location", body.clone()).await;
        assert_eq!(answer["ok"], false, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        let rest = app
            .post("/api/v1/drivers/me/location", Some(&who.token), &body)
            .await;
        let rest: Value = rest.json().await.unwrap();
        assert_eq!(rest["error"]["code"], code, "REST for {body}");
        assert_eq!(
            rest["error"]["message"], answer["error"]["message"],
            "the socket's message is REST's for {body}"
        );
    }
    // None of it moved anyone: the online driver is at no position yet.
    let profile = app.driver_profile(&online).await;
    assert!(profile.location.is_none(), "{profile:?}");
}

#[tokio::test]
async fn rest_pings_are_batched_like_socket_pings_and_never_forwarded_one_by_one() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let mut drivers = Vec::new();
    for _ in 0..30 {
        let driver = app.register_driver().await;
        app.go_online(&driver).await;
        drivers.push(driver);
    }
    let forwarded_before = driver_location_route_calls(&app).await;
    let statuses = join_all(drivers.iter().zip(0u32..).map(|(driver, i)| {
        let at = LatLng {
            lat: PICKUP.lat + 0.0001 * f64::from(i),
            lng: PICKUP.lng,
        };
        app.ping(driver, at)
    }))
    .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::NO_CONTENT),
        "{statuses:?}"
    );
    let found = app.nearby(&rider, PICKUP, "&radius_km=1&limit=100").await;
    let mut found: Vec<_> = found.iter().map(|d| d.driver_id).collect();
    let mut want: Vec<_> = drivers.iter().map(|d| d.id).collect();
    found.sort();
    want.sort();
    assert_eq!(found, want, "every REST ping is in the index");
    assert_eq!(
        driver_location_route_calls(&app).await,
        forwarded_before,
        "the driver service's public location route was called"
    );
}

/// Requests the driver service has served on its public location route
/// (its `http_requests_total`, any status).
async fn driver_location_route_calls(app: &hail_testkit::TestApp) -> u64 {
    let url = app.service_url(Service::Driver, "/metrics");
    let text = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| {
            line.starts_with("http_requests_total{")
                && line.contains(r#"service="driver""#)
                && line.contains(r#"route="/api/v1/drivers/me/location""#)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}
