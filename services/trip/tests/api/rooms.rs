//! Carpool rooms through the gateway: queue order, select/accept/decline,
//! expiry, cancels, the race of two drivers for one rider, bad input and
//! the live room on sockets.

use std::{collections::HashSet, sync::Arc, time::Duration};

use hail_shared::api::rooms::RoomState;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::helpers::*;

const KEY: &str = "Westie:mon:08:00";

fn room_path(key: &str, rest: &str) -> String {
    format!("/api/v1/rooms/{key}{rest}")
}

async fn room_call(
    app: &TestApp,
    method: reqwest::Method,
    who: &Account,
    rest: &str,
    body: Option<Value>,
) -> hail_testkit::reqwest::Response {
    app.request(
        method,
        &room_path(KEY, rest),
        Some(&who.token),
        body.as_ref(),
    )
    .await
}

async fn ok_state(response: hail_testkit::reqwest::Response) -> RoomState {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn state(app: &TestApp, who: &Account) -> RoomState {
    ok_state(room_call(app, reqwest::Method::GET, who, "", None).await).await
}

async fn join_rider(app: &TestApp, rider: &Account) -> RoomState {
    ok_state(room_call(app, reqwest::Method::POST, rider, "/riders", None).await).await
}

async fn join_driver(app: &TestApp, driver: &Account, seats: u8) -> RoomState {
    ok_state(
        room_call(
            app,
            reqwest::Method::POST,
            driver,
            "/drivers",
            Some(json!({"seats": seats})),
        )
        .await,
    )
    .await
}

async fn select(
    app: &TestApp,
    driver: &Account,
    rider: &Account,
) -> hail_testkit::reqwest::Response {
    room_call(
        app,
        reqwest::Method::POST,
        driver,
        "/select",
        Some(json!({"rider_id": rider.id})),
    )
    .await
}

async fn respond(app: &TestApp, rider: &Account, accept: bool) -> hail_testkit::reqwest::Response {
    room_call(
        app,
        reqwest::Method::POST,
        rider,
        "/respond",
        Some(json!({"accept": accept})),
    )
    .await
}

async fn cancel(app: &TestApp, who: &Account, ride: Uuid) -> hail_testkit::reqwest::Response {
    room_call(
        app,
        reqwest::Method::POST,
        who,
        &format!("/rides/{ride}/cancel"),
        None,
    )
    .await
}

async fn ride_status_in_postgres(app: &TestApp, ride: Uuid) -> Option<String> {
    let pool = sqlx::PgPool::connect(&app.config.database_url)
        .await
        .unwrap();
    sqlx::query_scalar::<_, String>("SELECT status FROM trip.rides WHERE id = $1")
        .bind(ride)
        .fetch_optional(&pool)
        .await
        .unwrap()
}

use hail_testkit::reqwest;

#[tokio::test]
async fn riders_queue_first_come_first_served_without_duplicates() {
    let app = spawn_app().await;
    let (a, b, c) = (
        app.register_rider().await,
        app.register_rider().await,
        app.register_rider().await,
    );
    join_rider(&app, &a).await;
    join_rider(&app, &b).await;
    join_rider(&app, &a).await;
    let room = join_rider(&app, &c).await;
    assert_eq!(room.key, KEY);
    assert_eq!(room.riders_waiting, vec![a.id, b.id, c.id]);

    let left =
        ok_state(room_call(&app, reqwest::Method::DELETE, &b, "/riders/me", None).await).await;
    assert_eq!(left.riders_waiting, vec![a.id, c.id]);
    // Anyone may look; the room names its departure, a Monday 08:00 UTC.
    let driver = app.register_driver().await;
    let seen = state(&app, &driver).await;
    assert_eq!(seen.riders_waiting, vec![a.id, c.id]);
    assert_eq!(seen.departs_at.format("%a %H:%M").to_string(), "Mon 08:00");
    assert!(seen.departs_at + chrono::Duration::minutes(30) > chrono::Utc::now());
}

#[tokio::test]
async fn select_then_accept_takes_a_seat_and_records_the_ride() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    let (a, b) = (app.register_rider().await, app.register_rider().await);
    join_driver(&app, &driver, 2).await;
    join_rider(&app, &a).await;
    join_rider(&app, &b).await;

    let room = ok_state(select(&app, &driver, &b).await).await;
    assert_eq!(room.riders_waiting, vec![a.id]);
    assert_eq!(room.pending.len(), 1);
    assert_eq!(
        (room.pending[0].rider_id, room.pending[0].driver_id),
        (b.id, driver.id)
    );
    assert_eq!(
        room.drivers[0].seats_left, 1,
        "a pending match holds its seat"
    );

    // Only the pending rider can answer.
    assert_error(
        respond(&app, &a, true).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    let room = ok_state(respond(&app, &b, true).await).await;
    assert!(room.pending.is_empty());
    assert_eq!(room.rides.len(), 1);
    let ride = &room.rides[0];
    assert_eq!((ride.rider_id, ride.driver_id), (b.id, driver.id));
    assert_eq!(room.drivers[0].seats_left, 1);
    assert_eq!(
        ride_status_in_postgres(&app, ride.id).await.as_deref(),
        Some("CONFIRMED")
    );

    // A rider with a seat cannot queue again in the same room.
    let again = room_call(&app, reqwest::Method::POST, &b, "/riders", None).await;
    assert_error(again, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test]
async fn a_declined_match_sends_the_rider_back_to_the_front() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    let (a, b) = (app.register_rider().await, app.register_rider().await);
    join_driver(&app, &driver, 1).await;
    join_rider(&app, &a).await;
    join_rider(&app, &b).await;
    ok_state(select(&app, &driver, &a).await).await;
    // The only seat is held by the pending match.
    assert_error(
        select(&app, &driver, &b).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    let room = ok_state(respond(&app, &a, false).await).await;
    assert_eq!(room.riders_waiting, vec![a.id, b.id]);
    assert!(room.pending.is_empty() && room.rides.is_empty());
    assert_eq!(room.drivers[0].seats_left, 1);
}

#[tokio::test]
async fn an_unanswered_match_expires_back_to_the_front() {
    let app = spawn_app_with(|c| c.rooms.confirm = Duration::from_millis(700)).await;
    let driver = app.register_driver().await;
    let (a, b) = (app.register_rider().await, app.register_rider().await);
    join_driver(&app, &driver, 1).await;
    join_rider(&app, &a).await;
    join_rider(&app, &b).await;
    let mut watcher = app.socket(&b.token).await;
    let joined = watcher.call("room:join", json!({"key": KEY})).await;
    assert_eq!(joined["ok"], true, "{joined}");
    ok_state(select(&app, &driver, &b).await).await;

    // Nobody touches the room: the sweeper sends b back, to the front, and
    // the room's sockets hear it.
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let update = watcher
            .next("room:state", SOON)
            .await
            .expect("room:state after expiry");
        let room: RoomState = serde_json::from_value(update).unwrap();
        if room.pending.is_empty() {
            assert_eq!(room.riders_waiting, vec![b.id, a.id]);
            assert_eq!(room.drivers[0].seats_left, 1);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the match never expired"
        );
    }
    assert_error(
        respond(&app, &b, true).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
}

#[tokio::test]
async fn cancels_give_the_seat_back() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    let (a, b, c) = (
        app.register_rider().await,
        app.register_rider().await,
        app.register_rider().await,
    );
    join_driver(&app, &driver, 2).await;
    for rider in [&a, &b] {
        join_rider(&app, rider).await;
        ok_state(select(&app, &driver, rider).await).await;
        ok_state(respond(&app, rider, true).await).await;
    }
    join_rider(&app, &c).await;
    let room = state(&app, &driver).await;
    let ride_of =
        |room: &RoomState, rider: Uuid| room.rides.iter().find(|r| r.rider_id == rider).unwrap().id;
    let (ride_a, ride_b) = (ride_of(&room, a.id), ride_of(&room, b.id));

    // Someone else's ride is not there for them.
    assert_error(
        cancel(&app, &c, ride_a).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        cancel(&app, &c, Uuid::new_v4()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // The driver cancels a's ride: a goes to the front of the queue.
    let room = ok_state(cancel(&app, &driver, ride_a).await).await;
    assert_eq!(room.riders_waiting, vec![a.id, c.id]);
    assert_eq!(room.drivers[0].seats_left, 1);
    assert_eq!(
        ride_status_in_postgres(&app, ride_a).await.as_deref(),
        Some("CANCELLED")
    );
    assert_error(
        cancel(&app, &driver, ride_a).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    // b cancels its own ride: the seat comes back, b does not queue.
    let room = ok_state(cancel(&app, &b, ride_b).await).await;
    assert_eq!(room.riders_waiting, vec![a.id, c.id]);
    assert_eq!(room.drivers[0].seats_left, 2);
    assert_eq!(
        ride_status_in_postgres(&app, ride_b).await.as_deref(),
        Some("CANCELLED")
    );
}

#[tokio::test]
async fn a_driver_who_leaves_sends_its_riders_back_to_the_front() {
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    let (a, b, c) = (
        app.register_rider().await,
        app.register_rider().await,
        app.register_rider().await,
    );
    join_driver(&app, &driver, 3).await;
    for rider in [&a, &b, &c] {
        join_rider(&app, rider).await;
    }
    ok_state(select(&app, &driver, &a).await).await;
    ok_state(respond(&app, &a, true).await).await;
    ok_state(select(&app, &driver, &b).await).await;
    let ride_a = state(&app, &a).await.rides[0].id;

    // Fewer seats than riders is refused.
    let fewer = room_call(
        &app,
        reqwest::Method::POST,
        &driver,
        "/drivers",
        Some(json!({"seats": 1})),
    )
    .await;
    assert_error(fewer, StatusCode::CONFLICT, "conflict").await;

    let room =
        ok_state(room_call(&app, reqwest::Method::DELETE, &driver, "/drivers/me", None).await)
            .await;
    assert!(room.drivers.is_empty() && room.pending.is_empty());
    assert_eq!(room.riders_waiting, vec![a.id, b.id, c.id]);
    assert_eq!(
        ride_status_in_postgres(&app, ride_a).await.as_deref(),
        Some("CANCELLED")
    );
}

/// Two drivers select the same rider at the same instant, many times over:
/// exactly one wins, seats never go below zero, no rider is in two places.
#[tokio::test]
async fn two_drivers_selecting_one_rider_exactly_one_wins() {
    let app = Arc::new(spawn_app().await);
    for round in 0..15 {
        let key = format!("Race{round}:tue:07:30");
        let rider = app.register_rider().await;
        let drivers = [app.register_driver().await, app.register_driver().await];
        let path = |rest: &str| room_path(&key, rest);
        for d in &drivers {
            let r = app
                .post(&path("/drivers"), Some(&d.token), &json!({"seats": 1}))
                .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
        assert_eq!(
            app.post(&path("/riders"), Some(&rider.token), &json!({}))
                .await
                .status(),
            StatusCode::OK
        );

        let mut set = JoinSet::new();
        for d in drivers.clone() {
            let (app, url, body) = (app.clone(), path("/select"), json!({"rider_id": rider.id}));
            set.spawn(async move { app.post(&url, Some(&d.token), &body).await.status() });
        }
        let mut statuses: Vec<StatusCode> = set.join_all().await;
        statuses.sort();
        assert_eq!(
            statuses,
            vec![StatusCode::OK, StatusCode::CONFLICT],
            "round {round}"
        );

        let room: RoomState = app
            .get(&path(""), Some(&rider.token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(room.pending.len(), 1);
        assert!(room.riders_waiting.is_empty());
        let seats: u32 = room.drivers.iter().map(|d| u32::from(d.seats_left)).sum();
        assert_eq!(seats, 1, "one seat held, one free");
    }
}

/// Many drivers and riders all selecting at once: the room stays whole.
#[tokio::test]
async fn a_selection_storm_keeps_every_rider_in_one_place() {
    let app = Arc::new(spawn_app().await);
    let mut drivers = Vec::new();
    for _ in 0..5 {
        let d = app.register_driver().await;
        join_driver(&app, &d, 2).await;
        drivers.push(d);
    }
    let mut riders = Vec::new();
    for _ in 0..8 {
        let r = app.register_rider().await;
        join_rider(&app, &r).await;
        riders.push(r);
    }
    let mut set = JoinSet::new();
    for d in &drivers {
        for r in &riders {
            let (app, d, r) = (app.clone(), d.clone(), r.clone());
            set.spawn(async move {
                let status = select(&app, &d, &r).await.status();
                if status == StatusCode::OK {
                    respond(&app, &r, true).await.status()
                } else {
                    status
                }
            });
        }
    }
    for status in set.join_all().await {
        assert!(
            status == StatusCode::OK || status == StatusCode::CONFLICT,
            "{status}"
        );
    }
    let room = state(&app, &drivers[0]).await;
    let mut seen = HashSet::new();
    let placed = room
        .riders_waiting
        .iter()
        .chain(room.pending.iter().map(|p| &p.rider_id))
        .chain(room.rides.iter().map(|r| &r.rider_id));
    for rider in placed {
        assert!(seen.insert(*rider), "rider {rider} is in two places");
    }
    assert_eq!(seen.len(), riders.len(), "every rider is somewhere");
    for d in &room.drivers {
        let used = room
            .pending
            .iter()
            .filter(|p| p.driver_id == d.driver_id)
            .count()
            + room
                .rides
                .iter()
                .filter(|r| r.driver_id == d.driver_id)
                .count();
        assert_eq!(
            usize::from(d.seats_left) + used,
            2,
            "driver {}",
            d.driver_id
        );
    }
    assert_eq!(
        room.rides.len() + room.pending.len(),
        8,
        "10 seats, 8 riders: all seated"
    );
}

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
    assert_eq!(
        rider_socket.call("room:join", json!({"key": KEY})).await["ok"],
        true
    );
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
        rider_socket.call("room:leave", json!({"key": KEY})).await["ok"],
        true
    );
    rider_socket.drain();
    ok_state(room_call(&app, reqwest::Method::DELETE, &driver, "/drivers/me", None).await).await;
    next_matching(&mut driver_socket, |s| s.drivers.is_empty()).await;
    assert!(rider_socket
        .next("room:state", Duration::from_millis(500))
        .await
        .is_none());
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
    let pattern = format!("{}room:{KEY}:*", app.config.redis_prefix);
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
