//! Faults survived: the real Redis, Postgres and Hail processes under a
//! running Hail are killed and started again, and Hail must answer 503
//! meanwhile (never a 500, never a hang), come back by itself, and lose
//! nothing. Private servers only: the shared ones other tests use are never
//! touched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{path::Path, time::Duration};

use hail::stack::Service;
use hail_shared::api::{
    drivers::NearbyDriver,
    geo::LatLng,
    trips::{Trip, TripStatus},
};
use hail_testkit::{
    assert_error,
    faults::{PrivatePostgres, PrivateRedis},
    json,
    reqwest::{Response, StatusCode},
    spawn_app_on, spawn_app_with, Account, Servers, TestApp,
};
use serde_json::Value;

const HAIL: &str = env!("CARGO_BIN_EXE_hail");
const PICKUP: LatLng = LatLng {
    lat: 1.3521,
    lng: 103.8198,
};
const DROPOFF: LatLng = LatLng {
    lat: 1.3000,
    lng: 103.8500,
};
/// Long enough for any reconnect on a busy machine; a hang is far longer.
const RECOVERY: Duration = Duration::from_secs(30);

/// Every call during an outage must answer, and soon: a hang fails here.
async fn answered(call: impl std::future::Future<Output = Response>) -> Response {
    tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("an answer during the outage, not a hang")
}

async fn ready(app: &TestApp) -> StatusCode {
    app.get("/readyz", None).await.status()
}

async fn wait_until_ready(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    while ready(app).await != StatusCode::OK {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Hail did not become ready again by itself"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn nearby(app: &TestApp, who: &Account) -> Response {
    let path = format!(
        "/api/v1/drivers/nearby?lat={}&lng={}&radius_km=5",
        PICKUP.lat, PICKUP.lng
    );
    app.get(&path, Some(&who.token)).await
}

async fn request_trip(app: &TestApp, rider: &Account) -> Response {
    let body = json!({"pickup": PICKUP, "dropoff": DROPOFF});
    app.post("/api/v1/trips", Some(&rider.token), &body).await
}

async fn accept_next_offer(app: &TestApp, driver: &Account) -> Trip {
    let offer = app
        .wait_for_offer(driver, RECOVERY)
        .await
        .expect("an offer after the restart");
    let response = app.trip_action(driver, offer.trip_id, "accept").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn next_trip_update(socket: &mut hail_testkit::socket::TestSocket, status: &str) -> Value {
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let update = socket.next("trip:update", left).await.unwrap_or_else(|| {
            let seen = socket.drain();
            panic!(
                "a trip:update to {status} (waited {:?}; other events: {seen:?})",
                started.elapsed()
            )
        });
        if update["status"] == status {
            return update;
        }
    }
}

#[tokio::test]
async fn redis_restarted_mid_run() {
    let mut redis = PrivateRedis::start().await;
    let servers = Servers {
        redis_url: Some(redis.url()),
        ..Servers::default()
    };
    let app = spawn_app_on(servers, |c| {
        c.dispatch.offer_timeout = Duration::from_secs(5);
    })
    .await;
    // One trip under way before the outage...
    let (busy_driver, busy_rider) = (
        app.driver_online_at(PICKUP).await,
        app.register_rider().await,
    );
    let mut busy_socket = app.socket(&busy_rider.token).await;
    assert_eq!(
        request_trip(&app, &busy_rider).await.status(),
        StatusCode::ACCEPTED
    );
    let under_way = accept_next_offer(&app, &busy_driver).await;
    next_trip_update(&mut busy_socket, "ASSIGNED").await;
    // ...and a free driver and a rider about to ask.
    let driver = app.driver_online_at(PICKUP).await;
    let rider = app.register_rider().await;
    let mut rider_socket = app.reconnecting_socket(&rider.token).await;

    redis.kill();
    let ping = answered(app.post(
        "/api/v1/drivers/me/location",
        Some(&driver.token),
        &json!(PICKUP),
    ))
    .await;
    assert_error(ping, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let found = answered(nearby(&app, &rider)).await;
    assert_error(found, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_eq!(ready(&app).await, StatusCode::SERVICE_UNAVAILABLE);
    // Postgres is up, so a trip may be taken in and wait for Redis.
    let during = answered(request_trip(&app, &rider)).await;
    let during_status = during.status();
    assert!(
        [StatusCode::ACCEPTED, StatusCode::SERVICE_UNAVAILABLE].contains(&during_status),
        "a trip request during a Redis outage: {during_status}"
    );

    // Redis comes back empty (it keeps nothing on disk): the worst case.
    redis.restart().await;
    wait_until_ready(&app).await;
    // The driver reappears with its next ping, and is matchable.
    let deadline = tokio::time::Instant::now() + RECOVERY;
    while app.ping(&driver, PICKUP).await != StatusCode::NO_CONTENT {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pings never recovered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drivers: Vec<NearbyDriver> = nearby(&app, &rider).await.json().await.unwrap();
    assert_eq!(drivers.len(), 1);
    assert_eq!(drivers[0].driver_id, driver.id);

    if during_status != StatusCode::ACCEPTED {
        assert_eq!(
            request_trip(&app, &rider).await.status(),
            StatusCode::ACCEPTED
        );
    }
    // The trip is dispatched, and the rider's socket hears it: the
    // gateway's subscriber reconnected by itself.
    let trip = accept_next_offer(&app, &driver).await;
    assert_eq!(trip.status, TripStatus::Assigned);
    next_trip_update(&mut rider_socket, "ASSIGNED").await;
    // Positions flow to the rider again.
    app.ping(&driver, PICKUP.north(0.2)).await;
    let position = rider_socket
        .next("driver:location", RECOVERY)
        .await
        .expect("driver positions after the restart");
    assert_eq!(position["trip_id"], trip.id.to_string());
    // The trip that was under way before the outage: its rider sees the car
    // again, though Redis forgot which trip that driver is on.
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        app.ping(&busy_driver, PICKUP.north(0.3)).await;
        if let Some(position) = busy_socket
            .next("driver:location", Duration::from_millis(500))
            .await
        {
            assert_eq!(position["trip_id"], under_way.id.to_string());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "positions of a trip assigned before the outage never reached its rider"
        );
    }
}

#[tokio::test]
async fn postgres_restarted_mid_run() {
    let pg = PrivatePostgres::start().await;
    let servers = Servers {
        admin_database_url: Some(pg.admin_url()),
        ..Servers::default()
    };
    let app = spawn_app_on(servers, |c| {
        c.dispatch.mode = hail_shared::config::MatchMode::Auto;
    })
    .await;
    let driver = app.driver_online_at(PICKUP).await;
    let rider = app.register_rider().await;

    pg.kill();
    let login = answered(app.post(
        "/api/v1/auth/login",
        None,
        &json!({"email": rider.email, "password": rider.password}),
    ))
    .await;
    assert_error(login, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let trip = answered(request_trip(&app, &rider)).await;
    assert_error(trip, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let list = answered(app.get("/api/v1/trips", Some(&rider.token))).await;
    assert_error(list, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let offline = answered(app.post(
        "/api/v1/drivers/me/offline",
        Some(&driver.token),
        &json!({}),
    ))
    .await;
    assert_error(offline, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_eq!(ready(&app).await, StatusCode::SERVICE_UNAVAILABLE);

    pg.restart().await;
    wait_until_ready(&app).await;
    let credentials = json!({"email": rider.email, "password": rider.password});
    let login = app.post("/api/v1/auth/login", None, &credentials).await;
    assert_eq!(login.status(), StatusCode::OK);
    // Matching works again, and nothing half-done was kept from the outage.
    app.ping(&driver, PICKUP).await;
    let response = request_trip(&app, &rider).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let trip: Trip = response.json().await.unwrap();
    let assigned = app
        .wait_for_status(&rider, trip.id, TripStatus::Assigned, RECOVERY)
        .await;
    assert_eq!(assigned.driver_id, Some(driver.id));
    let trips = app.trips(&rider).await;
    assert_eq!(trips.len(), 1, "the refused request left no trip behind");
    assert_eq!(app.driver_profile(&driver).await.status.as_str(), "BUSY");
}

/// The trip service SIGKILLed while it holds claims and open offers, then
/// started again: every waiting trip is dispatched, every event reaches the
/// riders, and no driver stays locked.
#[tokio::test]
async fn trip_service_killed_mid_dispatch() {
    let mut app = spawn_app_with(|c| {
        c.dispatch.offer_timeout = Duration::from_secs(3);
        c.dispatch.step_lease = Duration::from_secs(2);
    })
    .await;
    app.run_as_process(Service::Trip, Path::new(HAIL)).await;
    let mut drivers = Vec::new();
    for i in 0..3 {
        drivers.push(app.driver_online_at(PICKUP.north(0.2 * f64::from(i))).await);
    }
    let mut riders = Vec::new();
    for _ in 0..3 {
        let rider = app.register_rider().await;
        let socket = app.socket(&rider.token).await;
        assert_eq!(
            request_trip(&app, &rider).await.status(),
            StatusCode::ACCEPTED
        );
        riders.push((rider, socket));
    }
    // Wait until the service is mid-dispatch: offers out, drivers claimed.
    let first = app
        .wait_for_offer(&drivers[0], RECOVERY)
        .await
        .expect("dispatch started");

    app.kill(Service::Trip);
    let down = answered(request_trip(&app, &app.register_rider().await)).await;
    assert_error(down, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    app.run_as_process(Service::Trip, Path::new(HAIL)).await;

    // An offer shown before the kill can still be accepted; every other
    // trip is offered again by the new process.
    let response = app.trip_action(&drivers[0], first.trip_id, "accept").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the offer shown before the kill is still open after the restart"
    );
    let mut assigned = vec![first.trip_id];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while assigned.len() < riders.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {} trips were dispatched after the restart",
            assigned.len(),
            riders.len()
        );
        for driver in &drivers {
            if let Some(offer) = app.wait_for_offer(driver, Duration::from_millis(200)).await {
                if app
                    .trip_action(driver, offer.trip_id, "accept")
                    .await
                    .status()
                    == StatusCode::OK
                {
                    assigned.push(offer.trip_id);
                }
            }
        }
    }
    // Every rider hears its assignment (the outbox lost nothing).
    for (_, socket) in &mut riders {
        next_trip_update(socket, "ASSIGNED").await;
    }
    // Finish every trip: each driver is ONLINE, unclaimed and matchable again.
    for driver in &drivers {
        let trip_id = app
            .driver_profile(driver)
            .await
            .current_trip_id
            .expect("a trip");
        for action in ["start", "complete"] {
            assert_eq!(
                app.trip_action(driver, trip_id, action).await.status(),
                StatusCode::OK
            );
        }
        app.ping(driver, PICKUP).await;
    }
    let found: Vec<NearbyDriver> = nearby(&app, &riders[0].0).await.json().await.unwrap();
    assert_eq!(
        found.len(),
        drivers.len(),
        "a driver stayed locked: {found:?}"
    );
}

/// A gateway restarted under connected clients: they reconnect by
/// themselves and are resynced with their active trip.
#[tokio::test]
async fn gateway_restarted_clients_reconnect_and_resync() {
    let mut app = spawn_app_with(|c| c.dispatch.mode = hail_shared::config::MatchMode::Auto).await;
    app.run_as_process(Service::Gateway, Path::new(HAIL)).await;
    let driver = app.driver_online_at(PICKUP).await;
    let rider = app.register_rider().await;
    let response = request_trip(&app, &rider).await;
    let trip: Trip = response.json().await.unwrap();
    app.wait_for_status(&rider, trip.id, TripStatus::Assigned, RECOVERY)
        .await;
    let mut rider_socket = app.reconnecting_socket(&rider.token).await;
    let mut driver_socket = app.reconnecting_socket(&driver.token).await;
    next_trip_update(&mut rider_socket, "ASSIGNED").await;
    next_trip_update(&mut driver_socket, "ASSIGNED").await;

    app.kill(Service::Gateway);
    let refused = app.client.get(app.url("/healthz")).send().await;
    assert!(refused.is_err(), "the gateway is down");
    app.run_as_process(Service::Gateway, Path::new(HAIL)).await;

    // Both come back by themselves and get the trip again on connect.
    let resynced = next_trip_update(&mut rider_socket, "ASSIGNED").await;
    assert_eq!(resynced["id"], trip.id.to_string());
    next_trip_update(&mut driver_socket, "ASSIGNED").await;
    // And live updates flow through the new gateway.
    assert_eq!(
        app.trip_action(&driver, trip.id, "start").await.status(),
        StatusCode::OK
    );
    next_trip_update(&mut rider_socket, "ONGOING").await;
}
