//! Bad keys, seats and roles; the live room on sockets; a room dropping
//! itself after its departure.

use hail_shared::api::rooms::RoomState;

use super::*;
use crate::helpers::*;

#[tokio::test]
async fn bad_keys_seats_and_roles_are_refused() {
    let app = spawn_app().await;
    let (rider, driver) = (app.register_rider().await, app.register_driver().await);
    for key in [
        "Westie",
        "Westie:monday:08:00",
        "Westie:mon:25:00",
        "We%20st:mon:08:00",
        &format!("{}:mon:08:00", "x".repeat(40)),
    ] {
        let r = app.get(&room_path(key, ""), Some(&rider.token)).await;
        let body = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let details = body.error.details.unwrap_or_default();
        assert!(details["key"].is_array(), "{key}: {details}");
    }
    for seats in [
        json!(0),
        json!(9),
        json!(-1),
        json!("two"),
        json!(2.5),
        json!(null),
    ] {
        let r = room_call(
            &app,
            reqwest::Method::POST,
            &driver,
            "/drivers",
            Some(json!({"seats": seats})),
        )
        .await;
        assert_eq!(
            r.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "seats {seats}"
        );
    }
    let r = room_call(
        &app,
        reqwest::Method::POST,
        &rider,
        "/drivers",
        Some(json!({"seats": 2})),
    )
    .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = room_call(&app, reqwest::Method::POST, &driver, "/riders", None).await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = room_call(
        &app,
        reqwest::Method::POST,
        &rider,
        "/select",
        Some(json!({"rider_id": rider.id})),
    )
    .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    // Selecting before joining, or a rider who is not waiting.
    assert_error(
        select(&app, &driver, &rider).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    join_driver(&app, &driver, 1).await;
    assert_error(
        select(&app, &driver, &rider).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    // Nothing changed on the way.
    let room = state(&app, &rider).await;
    assert!(room.riders_waiting.is_empty() && room.pending.is_empty() && room.rides.is_empty());
    assert_eq!(room.drivers.len(), 1);
}

#[tokio::test]
async fn sockets_in_the_room_see_every_change() {
    let app = spawn_app().await;
    let (rider, driver) = (app.register_rider().await, app.register_driver().await);
    let mut rider_socket = app.socket(&rider.token).await;
    let mut driver_socket = app.socket(&driver.token).await;
    let joined = driver_socket.call("room:join", json!({"key": KEY})).await;
    assert_eq!(joined["ok"], true);
    assert_eq!(joined["state"]["key"], KEY);
    // The rider names the default city: the same room, the same events.
    let sg_key = format!("sg.{KEY}");
    let joined = rider_socket.call("room:join", json!({"key": sg_key})).await;
    assert_eq!(joined["state"]["key"], KEY);
    let bad = rider_socket.call("room:join", json!({"key": "nope"})).await;
    assert_eq!(bad["ok"], false);

    join_driver(&app, &driver, 1).await;
    join_rider(&app, &rider).await;
    let seen: RoomState = serde_json::from_value(
        next_matching(&mut driver_socket, |s| !s.riders_waiting.is_empty()).await,
    )
    .unwrap();
    assert_eq!(seen.riders_waiting, vec![rider.id]);

    ok_state(select(&app, &driver, &rider).await).await;
    let request = rider_socket
        .next("room:match_request", SOON)
        .await
        .expect("match request");
    assert_eq!(request["key"], KEY);
    assert_eq!(request["driver_id"], driver.id.to_string());
    assert!(request["expires_at"].is_string());

    ok_state(respond(&app, &rider, true).await).await;
    next_matching(&mut driver_socket, |s| s.rides.len() == 1).await;
    next_matching(&mut rider_socket, |s| s.rides.len() == 1).await;

    // After leaving, a socket hears no more.
    assert_eq!(
        rider_socket
            .call("room:leave", json!({"key": sg_key}))
            .await["ok"],
        true
    );
    rider_socket.drain();
    ok_state(room_call(&app, reqwest::Method::DELETE, &driver, "/drivers/me", None).await).await;
    // The driver's socket hearing the change is the sentinel: the room's
    // broadcast is done; one round trip later, whatever reached the rider's
    // socket is in its queue.
    next_matching(&mut driver_socket, |s| s.drivers.is_empty()).await;
    rider_socket.round_trip().await;
    let heard = rider_socket.drain();
    assert!(
        heard.iter().all(|(event, _)| event != "room:state"),
        "a socket that left the room still hears it: {heard:?}"
    );
}

#[tokio::test]
async fn a_room_may_name_its_city_and_its_slot_is_in_that_city_s_time_zone() {
    let example = include_str!("../../../../../cities.example.toml");
    let app = spawn_app_with(|c| {
        c.cities = std::sync::Arc::new(
            hail_shared::cities::Cities::from_toml(example, "cities.example.toml").unwrap(),
        );
    })
    .await;
    let rider = app.register_rider().await;
    let look = |key: &'static str| {
        let app = &app;
        let token = rider.token.clone();
        async move { ok_state(app.get(&room_path(key, ""), Some(&token)).await).await }
    };
    // Monday 08:00 in Singapore is 00:00 UTC; in Jakarta, 01:00 UTC.
    let sg = join_rider(&app, &rider).await;
    assert_eq!(sg.departs_at.format("%a %H:%M").to_string(), "Mon 00:00");
    let jakarta = look("jakarta.Westie:mon:08:00").await;
    assert_eq!(jakarta.key, "jakarta.Westie:mon:08:00");
    assert_eq!(
        jakarta.departs_at.format("%a %H:%M").to_string(),
        "Mon 01:00"
    );
    // Another city's room of the same name is another room.
    assert!(jakarta.riders_waiting.is_empty(), "{jakarta:?}");
    // The default city named or not: one room, one spelling.
    let named = look("sg.Westie:mon:08:00").await;
    assert_eq!(named.key, KEY);
    assert_eq!(named.riders_waiting, vec![rider.id]);
    // A city nobody serves is refused, with where to look.
    let response = app
        .get(&room_path("paris.Westie:mon:08:00", ""), Some(&rider.token))
        .await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let details = body.error.details.unwrap_or_default().to_string();
    assert!(details.contains("/api/v1/cities"), "{details}");
}

async fn next_matching(
    socket: &mut hail_testkit::socket::TestSocket,
    want: impl Fn(&RoomState) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = socket
            .next("room:state", left)
            .await
            .expect("the room state changes");
        let room: RoomState = serde_json::from_value(event.clone()).unwrap();
        if want(&room) {
            return event;
        }
    }
}

#[tokio::test]
async fn a_room_drops_itself_after_its_departure_and_grace() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let room = join_rider(&app, &rider).await;
    let mut redis = app.redis().await;
    let pattern = format!("{}rooms:{{sg}}:{KEY}:*", app.config.redis_prefix);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let expire_at_ms: i64 = redis::cmd("PEXPIRETIME")
        .arg(&keys[0])
        .query_async(&mut redis)
        .await
        .unwrap();
    let want = (room.departs_at + chrono::Duration::minutes(30)).timestamp_millis();
    assert_eq!(expire_at_ms, want);
}
