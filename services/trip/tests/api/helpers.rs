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

/// A subscription to Hail's channels (sharded on a cluster), with the
/// messages read past while looking for a marker held for `next`.
pub struct Channels {
    messages: hail_shared::redis_conn::Messages,
    held: std::collections::VecDeque<(String, Value)>,
}

/// Subscribes to Hail's channels (names without the prefix).
pub async fn subscribe(app: &TestApp, channels: &[&str]) -> Channels {
    let names: Vec<String> = channels
        .iter()
        .map(|channel| format!("{}{channel}", app.config.redis_prefix))
        .collect();
    let messages =
        hail_shared::redis_conn::subscribe(&app.config.redis_url, app.config.redis_cluster, &names)
            .await
            .unwrap();
    Channels {
        messages,
        held: Default::default(),
    }
}

/// The next message's channel (without the prefix) and JSON payload.
pub async fn next(app: &TestApp, channels: &mut Channels) -> (String, Value) {
    if let Some(held) = channels.held.pop_front() {
        return held;
    }
    read(app, channels).await
}

async fn read(app: &TestApp, channels: &mut Channels) -> (String, Value) {
    let (channel, payload) =
        tokio::time::timeout(SOON, futures::StreamExt::next(&mut channels.messages))
            .await
            .expect("a message within 5 s")
            .expect("the subscription is open");
    let channel = channel
        .trim_start_matches(app.config.redis_prefix.as_str())
        .to_string();
    (channel, serde_json::from_str(&payload).unwrap())
}

/// The channel a trip's positions go out on (without the prefix).
pub fn location_channel(trip_id: uuid::Uuid) -> String {
    hail_shared::keys::Keys::default().channel_trip_location(trip_id)
}

/// Asserts that no position was published on these trips' channels since
/// the last message read: publishes a marker on each and expects it before
/// any position (one channel's messages arrive in the order Redis ran
/// them; other channels' messages read meanwhile are held for `next`).
pub async fn nothing_published_before(
    app: &TestApp,
    channels: &mut Channels,
    trips: &[uuid::Uuid],
) {
    let mut redis = app.redis().await;
    let mut waiting: Vec<String> = trips.iter().map(|&t| location_channel(t)).collect();
    for channel in &waiting {
        let channel = format!("{}{channel}", app.config.redis_prefix);
        redis.publish(&channel, r#"{"marker":true}"#).await.unwrap();
    }
    while !waiting.is_empty() {
        let (name, message) = read(app, channels).await;
        if !waiting.contains(&name) {
            channels.held.push_back((name, message));
            continue;
        }
        assert_eq!(
            message,
            json!({"marker": true}),
            "a position was published on {name}"
        );
        waiting.retain(|channel| *channel != name);
    }
}
