//! Carpool rooms through the gateway: queue order, select/accept/decline,
//! expiry and cancels ([`flow`]), the race of two drivers for one rider
//! ([`races`]), bad input, the live room on sockets and the room's expiry
//! ([`edges`]). The helpers here speak the room routes.

mod edges;
mod flow;
mod races;

use hail_shared::api::rooms::RoomState;
use uuid::Uuid;

use crate::helpers::*;

pub(super) const KEY: &str = "Westie:mon:08:00";

pub(super) fn room_path(key: &str, rest: &str) -> String {
    format!("/api/v1/rooms/{key}{rest}")
}

pub(super) async fn room_call(
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

pub(super) async fn ok_state(response: hail_testkit::reqwest::Response) -> RoomState {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

pub(super) async fn state(app: &TestApp, who: &Account) -> RoomState {
    ok_state(room_call(app, reqwest::Method::GET, who, "", None).await).await
}

pub(super) async fn join_rider(app: &TestApp, rider: &Account) -> RoomState {
    ok_state(room_call(app, reqwest::Method::POST, rider, "/riders", None).await).await
}

pub(super) async fn join_driver(app: &TestApp, driver: &Account, seats: u8) -> RoomState {
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

pub(super) async fn select(
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

pub(super) async fn respond(
    app: &TestApp,
    rider: &Account,
    accept: bool,
) -> hail_testkit::reqwest::Response {
    room_call(
        app,
        reqwest::Method::POST,
        rider,
        "/respond",
        Some(json!({"accept": accept})),
    )
    .await
}

pub(super) async fn cancel(
    app: &TestApp,
    who: &Account,
    ride: Uuid,
) -> hail_testkit::reqwest::Response {
    room_call(
        app,
        reqwest::Method::POST,
        who,
        &format!("/rides/{ride}/cancel"),
        None,
    )
    .await
}

pub(super) async fn ride_status_in_postgres(app: &TestApp, ride: Uuid) -> Option<String> {
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
