//! No password, password hash or token ever reaches a log line or a
//! response: the four services run as processes at `debug` level, a whole
//! session is played through them (sign-ups, a failed login, sockets with
//! the token in `auth` and in the query, a trip), and their output is grepped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{path::Path, time::Duration};

use hail::stack::Service;
use hail_shared::api::{
    geo::LatLng,
    trips::{Trip, TripStatus},
};
use hail_testkit::{
    faults::{wait_for_port, ServiceProcess},
    json,
    reqwest::StatusCode,
    socket::TestSocket,
    spawn_app_with,
};

const HAIL: &str = env!("CARGO_BIN_EXE_hail");
const PICKUP: LatLng = LatLng {
    lat: 1.3521,
    lng: 103.8198,
};

#[tokio::test]
async fn no_secret_in_any_log_line_or_response() {
    let mut app = spawn_app_with(|c| c.dispatch.mode = hail_shared::config::MatchMode::Auto).await;
    let log = std::env::temp_dir().join(format!("hail-secrets-{}.log", uuid::Uuid::new_v4()));
    let mut env = app.env();
    env.retain(|(k, _)| k != "RUST_LOG");
    env.push(("RUST_LOG".into(), "debug".into()));
    let mut processes = Vec::new();
    for service in Service::ALL {
        app.stop(service).await;
        processes.push(ServiceProcess::spawn(
            Path::new(HAIL),
            &service.to_string(),
            &env,
            Some(&log),
        ));
        let port = match service {
            Service::Gateway => app.config.ports.gateway,
            Service::User => app.config.ports.user,
            Service::Driver => app.config.ports.driver,
            Service::Trip => app.config.ports.trip,
        };
        assert!(
            wait_for_port(port, Duration::from_secs(30)).await,
            "{service} listens"
        );
    }

    let mut responses = String::new();
    let rider = app.register_rider().await;
    let driver = app.register_driver().await;
    for account in [&rider, &driver] {
        let credentials = json!({"email": account.email, "password": account.password});
        let login = app.post("/api/v1/auth/login", None, &credentials).await;
        assert_eq!(login.status(), StatusCode::OK);
        responses.push_str(&login.text().await.unwrap());
        let me = app.get("/api/v1/auth/me", Some(&account.token)).await;
        responses.push_str(&me.text().await.unwrap());
    }
    let wrong_password = "not-the-password-7f3a9c";
    let refused = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"email": rider.email, "password": wrong_password}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    responses.push_str(&refused.text().await.unwrap());
    let taken = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"email": rider.email, "password": rider.password, "name": "Again", "role": "rider"}),
        )
        .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    responses.push_str(&taken.text().await.unwrap());

    // Tokens on sockets: in `auth`, in the query, and a forged one.
    let mut rider_socket = app.socket(&rider.token).await;
    let mut by_query = TestSocket::connect(
        &format!("{}/?token={}", app.gateway_url, driver.token),
        None,
    )
    .await;
    assert!(
        by_query
            .next("connect", Duration::from_secs(5))
            .await
            .is_some(),
        "token in the query"
    );
    let forged = format!("{}x", rider.token);
    let mut refused_socket = app.socket(&forged).await;
    assert!(refused_socket
        .next("error", Duration::from_secs(5))
        .await
        .is_some());

    // A whole trip, so the dispatch and realtime paths log too.
    app.go_online(&driver).await;
    app.ping(&driver, PICKUP).await;
    let response = app
        .post(
            "/api/v1/trips",
            Some(&rider.token),
            &json!({"pickup": PICKUP, "dropoff": PICKUP.north(2.0)}),
        )
        .await;
    let trip: Trip = response.json().await.unwrap();
    app.wait_for_status(
        &rider,
        trip.id,
        TripStatus::Assigned,
        Duration::from_secs(30),
    )
    .await;
    for action in ["start", "complete"] {
        let r = app.trip_action(&driver, trip.id, action).await;
        responses.push_str(&r.text().await.unwrap());
    }
    rider_socket
        .next("trip:update", Duration::from_secs(10))
        .await
        .expect("the rider's socket heard the trip move");
    by_query.disconnect().await;
    drop(processes);

    let logs = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(logs.lines().count() > 20, "the services logged: {logs}");
    let secrets = [
        ("the rider's password", rider.password.as_str()),
        ("the driver's password", driver.password.as_str()),
        ("a wrong password", wrong_password),
        ("the rider's token", rider.token.as_str()),
        ("the driver's token", driver.token.as_str()),
        ("a forged token", forged.as_str()),
        ("the JWT secret", app.config.jwt_secret.as_str()),
        ("the internal token", app.config.internal_token.as_str()),
        ("a password hash", "$argon2"),
    ];
    for (what, secret) in secrets {
        if let Some(line) = logs.lines().find(|l| l.contains(secret)) {
            panic!("{what} is in a log line: {line}");
        }
        assert!(
            !responses.contains(secret) || what.contains("token"),
            "{what} in a response"
        );
    }
    for field in ["\"password", "hash\""] {
        assert!(
            !responses.contains(field),
            "a response has a {field} field: {responses}"
        );
    }
}
