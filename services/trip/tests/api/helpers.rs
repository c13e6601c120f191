use std::time::Duration;

pub use hail::stack::Service;
pub use hail_shared::api::{
    drivers::DriverStatus,
    geo::LatLng,
    trips::{DispatchEvent, Trip, TripStatus},
};
pub use hail_testkit::{
    assert_error, json, reqwest::StatusCode, spawn_app, spawn_app_with, Account, TestApp,
};
pub use serde_json::Value;

/// Central Singapore; every test city is around here.
pub const PICKUP: LatLng = LatLng {
    lat: 1.3521,
    lng: 103.8198,
};
pub const DROPOFF: LatLng = LatLng {
    lat: 1.3000,
    lng: 103.8500,
};

/// Offers time out after a second, so timeouts are quick to test.
pub async fn fast_app() -> TestApp {
    spawn_app_with(|c| {
        c.dispatch.offer_timeout = Duration::from_secs(1);
    })
    .await
}

pub const SOON: Duration = Duration::from_secs(5);

/// The trip's audit trail, as its rider sees it.
pub async fn events(app: &TestApp, rider: &Account, trip_id: uuid::Uuid) -> Vec<DispatchEvent> {
    let response = app
        .get(
            &format!("/api/v1/trips/{trip_id}/events"),
            Some(&rider.token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

pub fn kinds(events: &[DispatchEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}
