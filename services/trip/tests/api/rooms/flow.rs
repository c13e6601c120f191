//! A room's ordinary life: riders queue, drivers select, riders answer,
//! matches expire, rides are cancelled, drivers leave.

use std::time::Duration;

use hail_shared::api::rooms::RoomState;
use uuid::Uuid;

use super::*;
use crate::helpers::*;

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
    // Anyone may look; the room names its departure, a Monday 08:00 in
    // Singapore (the built-in city), 00:00 UTC.
    let driver = app.register_driver().await;
    let seen = state(&app, &driver).await;
    assert_eq!(seen.riders_waiting, vec![a.id, c.id]);
    assert_eq!(seen.departs_at.format("%a %H:%M").to_string(), "Mon 00:00");
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
async fn an_accept_whose_ride_cannot_be_committed_gives_the_seat_back_and_the_rider_is_first_again()
{
    let app = spawn_app().await;
    let driver = app.register_driver().await;
    let (a, b) = (app.register_rider().await, app.register_rider().await);
    join_driver(&app, &driver, 1).await;
    join_rider(&app, &a).await;
    join_rider(&app, &b).await;
    ok_state(select(&app, &driver, &a).await).await;

    // Postgres refuses the ride at COMMIT (a deferred constraint trigger),
    // after the room script already gave a the seat.
    let pool = sqlx::PgPool::connect(&app.config.database_url)
        .await
        .unwrap();
    for ddl in [
        "CREATE FUNCTION trip.refuse_ride() RETURNS trigger LANGUAGE plpgsql AS
         $$ BEGIN RAISE EXCEPTION 'test: rides cannot be stored'; END $$",
        "CREATE CONSTRAINT TRIGGER refuse_ride AFTER INSERT ON trip.rides
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION trip.refuse_ride()",
    ] {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    let response = respond(&app, &a, true).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_server_error(), "{status}: {body}");

    // The room is as if the driver had cancelled: the seat is back, nothing
    // is pending, a is first in the queue again, and no ride holds a seat.
    let room = state(&app, &driver).await;
    assert_eq!(room.drivers.len(), 1);
    assert_eq!(room.drivers[0].seats_left, 1, "{room:?}");
    assert!(room.pending.is_empty(), "{room:?}");
    assert_eq!(room.riders_waiting, vec![a.id, b.id]);
    assert!(
        room.rides
            .iter()
            .all(|ride| ride.status != hail_shared::api::rooms::RideStatus::Confirmed),
        "{room:?}"
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM trip.rides")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);

    // Once Postgres takes rides again, the same rider can be matched and seated.
    sqlx::query("DROP TRIGGER refuse_ride ON trip.rides")
        .execute(&pool)
        .await
        .unwrap();
    ok_state(select(&app, &driver, &a).await).await;
    let room = ok_state(respond(&app, &a, true).await).await;
    assert_eq!(room.drivers[0].seats_left, 0);
    assert_eq!(room.riders_waiting, vec![b.id]);
    let ride = room
        .rides
        .iter()
        .find(|ride| ride.status == hail_shared::api::rooms::RideStatus::Confirmed)
        .expect("a confirmed ride");
    assert_eq!(
        ride_status_in_postgres(&app, ride.id).await.as_deref(),
        Some("CONFIRMED")
    );
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
