use std::time::Duration;

pub use hail::stack::Service;
pub use hail_shared::{
    api::{
        drivers::{DriverStatus, NearbyDriver},
        geo::LatLng,
    },
    internal::Peer,
};
pub use hail_testkit::{
    assert_error, json,
    reqwest::{Method, Response, StatusCode},
    spawn_app, spawn_app_with, Account, TestApp,
};
pub use serde_json::Value;

/// Central Singapore.
pub const PICKUP: LatLng = LatLng {
    lat: 1.3521,
    lng: 103.8198,
};
pub const DROPOFF: LatLng = LatLng {
    lat: 1.3000,
    lng: 103.8500,
};
pub const SOON: Duration = Duration::from_secs(5);

/// A public route of the driver service, as the gateway's proxy calls it
/// on behalf of `caller`.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    caller: &Account,
    body: Option<&Value>,
) -> Response {
    app.direct(
        Service::Driver,
        method,
        path,
        Some(Peer::Gateway),
        Some(caller),
        body,
    )
    .await
}

pub async fn set_status(app: &TestApp, driver: &Account, status: &str) -> Response {
    let path = format!("/api/v1/drivers/me/{status}");
    call(app, Method::POST, &path, driver, None).await
}

pub async fn locate(app: &TestApp, driver: &Account, body: Value) -> Response {
    let path = "/api/v1/drivers/me/location";
    call(app, Method::POST, path, driver, Some(&body)).await
}

pub async fn status_of(app: &TestApp, driver: &Account) -> DriverStatus {
    let response = call(app, Method::GET, "/api/v1/drivers/me", driver, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let profile: Value = response.json().await.unwrap();
    serde_json::from_value(profile["status"].clone()).unwrap()
}

/// The ids `nearby` lists around `at`, as `caller` sees them.
pub async fn nearby(app: &TestApp, caller: &Account, at: LatLng) -> Vec<uuid::Uuid> {
    let path = format!("/api/v1/drivers/nearby?lat={}&lng={}", at.lat, at.lng);
    let response = call(app, Method::GET, &path, caller, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let found: Vec<NearbyDriver> = response.json().await.unwrap();
    found.into_iter().map(|d| d.driver_id).collect()
}

/// A driver ONLINE at `at`, through the driver service alone.
pub async fn online_at(app: &TestApp, at: LatLng) -> Account {
    let driver = app.register_driver().await;
    assert_eq!(
        set_status(app, &driver, "online").await.status(),
        StatusCode::OK
    );
    let ping = locate(app, &driver, json!({"lat": at.lat, "lng": at.lng})).await;
    assert_eq!(ping.status(), StatusCode::NO_CONTENT);
    driver
}

/// An internal route of the driver service, called as `peer` calls it.
pub async fn internal(app: &TestApp, path: &str, peer: Peer, body: &Value) -> Response {
    app.direct(
        Service::Driver,
        Method::POST,
        path,
        Some(peer),
        None,
        Some(body),
    )
    .await
}
