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

/// A subscription to Hail's channels (names without the prefix).
pub async fn subscribe(app: &TestApp, channels: &[&str]) -> redis::aio::PubSub {
    let client = redis::Client::open(app.config.redis_url.as_str()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    for channel in channels {
        pubsub
            .subscribe(format!("{}{channel}", app.config.redis_prefix))
            .await
            .unwrap();
    }
    pubsub
}

/// The next message's channel (without the prefix) and JSON payload.
pub async fn next(app: &TestApp, pubsub: &mut redis::aio::PubSub) -> (String, Value) {
    let message = tokio::time::timeout(SOON, futures::StreamExt::next(&mut pubsub.on_message()))
        .await
        .expect("a message within 5 s")
        .expect("the subscription is open");
    let channel = message
        .get_channel_name()
        .trim_start_matches(app.config.redis_prefix.as_str())
        .to_string();
    let payload: String = message.get_payload().unwrap();
    (channel, serde_json::from_str(&payload).unwrap())
}

/// Asserts that nothing was published on `driver:location` since the last
/// message read: publishes a marker there and expects it to come next (a
/// subscriber gets one connection's messages in the order Redis ran them).
pub async fn nothing_published_before(app: &TestApp, pubsub: &mut redis::aio::PubSub) {
    let mut redis = app.redis().await;
    let channel = format!("{}driver:location", app.config.redis_prefix);
    let _: i64 = redis::cmd("PUBLISH")
        .arg(&channel)
        .arg(r#"{"marker":true}"#)
        .query_async(&mut redis)
        .await
        .unwrap();
    let (_, message) = next(app, pubsub).await;
    assert_eq!(message, json!({"marker": true}), "a position was published");
}
