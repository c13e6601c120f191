//! The probes of a security review, kept as tests (API.md, "Abuse limits";
//! SECURITY.md): each is what an attacker with an ordinary account tried,
//! and each asserts both the answer and that nothing changed.

use hail_shared::{
    api::{drivers::DriverStatus, geo::LatLng},
    internal::Peer,
};
use hail_testkit::TestApp;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

const ORCHARD: LatLng = LatLng {
    lat: 1.3048,
    lng: 103.8318,
};

/// One request written byte for byte (HTTP clients resolve `..` and
/// `%2e%2e` before sending, which is exactly what must not be relied on).
/// Returns the status and the body.
async fn raw(app: &TestApp, head: &str, body: &str) -> (u16, String) {
    let addr = app
        .gateway_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "{head}\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Every spelling of "up and into the driver service's internal routes"
/// the review tried, with a driver's token: 400 or 404 in the error shape,
/// and the victim is still ONLINE, unclaimed and findable.
#[tokio::test]
async fn traversal_to_internal_routes_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let victim = app.driver_online_at(ORCHARD).await;
    let attacker = app.register_driver().await;
    let trip = uuid::Uuid::new_v4();
    let claims =
        json!({"ttl_secs": 300, "claims": [{"trip_id": trip, "city": "sg", "drivers": [victim.id]}]}).to_string();
    let up = [
        "../../..",
        "%2e%2e/%2e%2e/%2e%2e",
        "%2E%2E/%2E%2E/%2E%2E",
        ".%2E/.%2e/%2e.",
        "..;/..;/..;",
        "%252e%252e/%252e%252e/%252e%252e",
        "..%2f..%2f..",
        "..%5c..%5c..",
        "..\\..\\..",
        "me/../../../..",
    ];
    for dots in up {
        for target in [
            "internal/drivers/claims".to_string(),
            format!("internal/drivers/{}/offer", victim.id),
            "metrics".to_string(),
            "readyz".to_string(),
        ] {
            let head = format!(
                "POST /api/v1/drivers/{dots}/{target} HTTP/1.1\r\nauthorization: Bearer {}",
                attacker.token
            );
            let (status, body) = raw(&app, &head, &claims).await;
            assert!(
                status == 400 || status == 404,
                "{dots}/{target}: {status} {body}"
            );
            let error: Value = serde_json::from_str(&body).unwrap();
            assert!(error["error"]["code"].is_string(), "{dots}: {body}");
        }
    }
    // A path far past any route: refused in the error shape too.
    let long = format!("GET /api/v1/drivers/{} HTTP/1.1", "me/".repeat(3000));
    let (status, body) = raw(&app, &long, "").await;
    assert_eq!(status, 414, "{body}");
    assert!(body.contains("uri_too_long"), "{body}");

    let profile = app.driver_profile(&victim).await;
    assert_eq!(profile.status, DriverStatus::Online);
    assert_eq!(profile.current_trip_id, None);
    assert!(profile.current_offer.is_none());
    let nearby: Value = app
        .get(
            "/api/v1/drivers/nearby?lat=1.3048&lng=103.8318",
            Some(&attacker.token),
        )
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = nearby
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["driver_id"].as_str())
        .collect();
    assert!(ids.contains(&victim.id.to_string().as_str()), "{nearby}");
    let mut redis = app.redis().await;
    let lock: Option<String> = redis::AsyncCommands::get(
        &mut redis,
        hail_shared::keys::Keys::new(app.config.redis_prefix.clone()).driver_lock(victim.id),
    )
    .await
    .unwrap();
    assert_eq!(lock, None, "the victim was claimed");
}

/// Defence in depth: the token the gateway's proxy presents opens no
/// internal route, and each internal route takes only its own caller.
#[tokio::test]
async fn each_internal_route_answers_only_its_own_caller() {
    let app = spawn_app().await;
    let victim = app.driver_online_at(ORCHARD).await;
    let trip = uuid::Uuid::new_v4();
    let claims = json!({"ttl_secs": 300, "claims": [{"trip_id": trip, "city": "sg", "drivers": [victim.id]}]});
    let post = |path: String, peer: Peer, body: Value| {
        let app = &app;
        async move {
            app.client
                .post(app.service_url(Service::Driver, &path))
                .header("x-internal-token", app.peer_token(peer))
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let claims_path = "/internal/drivers/claims".to_string();
    for peer in [Peer::Gateway, Peer::Realtime, Peer::User, Peer::Driver] {
        let status = post(claims_path.clone(), peer, claims.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{peer:?} claimed");
    }
    let release = format!("/internal/drivers/{}/release", victim.id);
    let status = post(release, Peer::Gateway, json!({"trip_id": trip})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let presence = format!("/internal/drivers/{}/presence", victim.id);
    assert_eq!(
        post(presence.clone(), Peer::Gateway, json!({})).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(presence, Peer::Realtime, json!({})).await,
        StatusCode::NO_CONTENT
    );
    // The trip service's one internal route answers the driver service only.
    let holds = json!({"holds": [{"driver_id": victim.id, "trip_id": trip}]});
    for (peer, expected) in [
        (Peer::Gateway, StatusCode::UNAUTHORIZED),
        (Peer::Trip, StatusCode::UNAUTHORIZED),
        (Peer::Driver, StatusCode::OK),
    ] {
        let status = app
            .client
            .post(app.service_url(Service::Trip, "/internal/trips/holds"))
            .header("x-internal-token", app.peer_token(peer))
            .json(&holds)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, expected, "{peer:?} asked about holds");
    }
    // Nothing moved; then the trip service's own token does claim (the
    // control that shows the refusals above were about the token).
    assert_eq!(
        app.driver_profile(&victim).await.status,
        DriverStatus::Online
    );
    assert_eq!(post(claims_path, Peer::Trip, claims).await, StatusCode::OK);
    assert_eq!(app.driver_profile(&victim).await.status, DriverStatus::Busy);
}

/// Tokens signed with the right secret but odd in shape are refused.
#[tokio::test]
async fn odd_tokens_are_401() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let now = chrono::Utc::now().timestamp();
    let sign = |claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(app.config.jwt_secret.as_bytes()),
        )
        .unwrap()
    };
    let claims = |sub: String| json!({"sub": sub, "role": "rider", "iat": now, "exp": now + 600, "iss": "hail"});
    let good = sign(claims(rider.id.to_string()));
    let me = app.get("/api/v1/auth/me", Some(&good)).await;
    assert_eq!(me.status(), StatusCode::OK, "the control token works");
    let mut odd = vec![
        sign(claims(rider.id.to_string().to_uppercase())),
        sign(claims(rider.id.simple().to_string())),
        sign(claims(rider.id.urn().to_string())),
        sign(claims(format!("{{{}}}", rider.id))),
    ];
    let mut future_nbf = claims(rider.id.to_string());
    future_nbf["nbf"] = json!(now + 3600);
    odd.push(sign(future_nbf));
    let mut future_iat = claims(rider.id.to_string());
    future_iat["iat"] = json!(now + 600);
    odd.push(sign(future_iat));
    let mut padded = claims(rider.id.to_string());
    padded["pad"] = json!("x".repeat(9 * 1024));
    odd.push(sign(padded));
    for token in odd {
        let response = app.get("/api/v1/auth/me", Some(&token)).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}

/// Methods a client invents are counted under one label.
#[tokio::test]
async fn invented_methods_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    for i in 0..20 {
        let (status, _) = raw(&app, &format!("FROB{i} /api/v1/trips HTTP/1.1"), "").await;
        assert!(status == 404 || status == 405, "{status}");
    }
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        !metrics.contains("FROB"),
        "a client's method became a label"
    );
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
}

/// Huge header sets get the error shape, not a bare status line.
#[tokio::test]
async fn oversized_headers_are_431_in_the_error_shape() {
    let app = spawn_app().await;
    let head = format!(
        "GET /api/v1/auth/me HTTP/1.1\r\nx-big: {}",
        "b".repeat(40 * 1024)
    );
    let (status, body) = raw(&app, &head, "").await;
    assert_eq!(status, 431);
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "headers_too_large");
}

/// Ten sockets do not buy ten budgets: the event limit is the user's.
#[tokio::test]
async fn the_event_budget_is_per_user_across_sockets() {
    let app = hail_testkit::spawn_app_with(|c| {
        c.rate_limits.socket_events = hail_shared::config::RateLimit {
            per_minute: 6,
            burst: 10,
        };
    })
    .await;
    let rider = app.register_rider().await;
    let first = app.socket(&rider.token).await;
    let second = app.socket(&rider.token).await;
    let subscribe = || json!({"trip_id": uuid::Uuid::new_v4()});
    for _ in 0..10 {
        let answer = first.call("trip:subscribe", subscribe()).await;
        assert_eq!(answer["error"]["code"], "not_found", "{answer}");
    }
    let mut limited = 0;
    for _ in 0..10 {
        let answer = second.call("trip:subscribe", subscribe()).await;
        if answer["error"]["code"] == "rate_limited" {
            limited += 1;
        }
    }
    assert!(
        limited >= 9,
        "the second socket had a budget of its own: {limited} of 10 limited"
    );
}

/// A user's sockets past the cap: the oldest is closed, the new ones work.
#[tokio::test]
async fn a_new_socket_past_the_cap_closes_the_oldest() {
    let app = hail_testkit::spawn_app_with(|c| c.rate_limits.sockets_per_user = 2).await;
    let driver = app.register_driver().await;
    let mut oldest = app.socket(&driver.token).await;
    let mut middle = app.socket(&driver.token).await;
    let newest = app.socket(&driver.token).await;
    assert!(
        oldest.next("close", Duration::from_secs(5)).await.is_some(),
        "the oldest socket was not closed"
    );
    let answer = newest
        .call("trip:subscribe", json!({"trip_id": uuid::Uuid::new_v4()}))
        .await;
    assert_eq!(answer["error"]["code"], "not_found", "{answer}");
    // The middle one stays: a sentinel event on it proves it is still
    // served after the eviction, rather than waiting out a silence.
    let answer = middle
        .call("trip:subscribe", json!({"trip_id": uuid::Uuid::new_v4()}))
        .await;
    assert_eq!(answer["error"]["code"], "not_found", "{answer}");
    assert!(middle.drain().iter().all(|(event, _)| event != "close"));
}

/// Payloads over 16 KiB are refused with an error ack, unread.
#[tokio::test]
async fn a_socket_payload_over_16_kib_is_refused() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let socket = app.socket(&rider.token).await;
    let answer = socket
        .call("room:join", json!({"key": "k".repeat(20 * 1024)}))
        .await;
    assert_eq!(answer["error"]["code"], "payload_too_large", "{answer}");
    let answer = socket
        .call("room:join", json!({"key": "Westie:mon:08:00"}))
        .await;
    assert_eq!(answer["ok"], true, "{answer}");
    // A ping too: its handler counts the payload's size without writing
    // it out, and must still refuse a large one, recording nothing.
    let driver = app.register_driver().await;
    app.go_online(&driver).await;
    let socket = app.socket(&driver.token).await;
    let answer = socket
        .call(
            "driver:location",
            json!({"lat": 1.3, "lng": 103.8, "note": "n".repeat(20 * 1024)}),
        )
        .await;
    assert_eq!(answer["error"]["code"], "payload_too_large", "{answer}");
    let profile = app.driver_profile(&driver).await;
    assert!(profile.location.is_none(), "{profile:?}");
}

/// A socket whose token expires hears why, then is closed.
#[tokio::test]
async fn a_socket_is_closed_when_its_token_expires() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let now = chrono::Utc::now().timestamp();
    let token = app.sign(&hail_shared::auth::Claims {
        sub: rider.id,
        role: Role::Rider,
        iat: now,
        exp: now + 2,
        iss: "hail".into(),
    });
    let mut socket = app.socket(&token).await;
    let warned = socket
        .next("error", Duration::from_secs(10))
        .await
        .expect("an error event before the close");
    assert_eq!(warned["code"], "token_expired", "{warned}");
    assert!(
        socket.next("close", Duration::from_secs(5)).await.is_some(),
        "the socket outlived its token"
    );
}

/// Many sockets of one user connecting at once: the cap still holds (the
/// count is one Redis script per connect), and the ones kept still work.
#[tokio::test]
async fn a_burst_of_sockets_of_one_user_keeps_only_the_cap() {
    let app = hail_testkit::spawn_app_with(|c| c.rate_limits.sockets_per_user = 2).await;
    let rider = app.register_rider().await;
    let mut sockets = futures::future::join_all((0..6).map(|_| app.socket(&rider.token))).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut closed = vec![false; sockets.len()];
    while closed.iter().filter(|c| **c).count() < 4 && tokio::time::Instant::now() < deadline {
        for (i, socket) in sockets.iter_mut().enumerate() {
            if !closed[i]
                && socket
                    .next("close", Duration::from_millis(50))
                    .await
                    .is_some()
            {
                closed[i] = true;
            }
        }
    }
    assert_eq!(
        closed.iter().filter(|c| **c).count(),
        4,
        "6 sockets at once with a cap of 2"
    );
    for (socket, closed) in sockets.iter().zip(&closed) {
        if !closed {
            let answer = socket
                .call("trip:subscribe", json!({"trip_id": uuid::Uuid::new_v4()}))
                .await;
            assert_eq!(answer["error"]["code"], "not_found", "{answer}");
        }
    }
    let mut redis = app.redis().await;
    let listed: i64 = redis::AsyncCommands::zcard(
        &mut redis,
        format!("{}user:sockets:{}", app.config.redis_prefix, rider.id),
    )
    .await
    .unwrap();
    assert_eq!(listed, 2, "the socket list holds exactly the cap");
}
