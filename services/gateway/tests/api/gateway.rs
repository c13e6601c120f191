//! The door: tokens, identity headers, roles, limits, unknown routes, and
//! what happens when a service behind it is down.

use hail_shared::{
    auth::{Claims, TokenKeys},
    internal::Peer,
};

use crate::helpers::*;

#[tokio::test]
async fn protected_routes_refuse_missing_and_bad_tokens() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;

    let expired = app.sign(&expired_claims(rider.id, Role::Rider));
    let wrong_secret = TokenKeys::new("some-other-secret-of-enough-length!!", app.config.jwt_ttl)
        .issue(rider.id, Role::Rider)
        .unwrap();
    // The real token's claims under `{"alg":"none"}` and no signature.
    let claims = rider.token.split('.').nth(1).unwrap();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{claims}.");
    let wrong_issuer = app.sign(&Claims {
        iss: "not-hail".into(),
        ..expired_claims(rider.id, Role::Rider)
    });

    for token in [
        expired.as_str(),
        wrong_secret.as_str(),
        alg_none.as_str(),
        wrong_issuer.as_str(),
        "garbage",
        "a.b.c",
    ] {
        let response = app.get("/api/v1/auth/me", Some(token)).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let response = app.get("/api/v1/auth/me", None).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("authorization", format!("Basic {}", rider.token))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_clients_own_identity_headers_are_ignored() {
    let app = spawn_app().await;
    let alice = app.register_rider().await;
    let bob = app.register_driver().await;

    // With a token: the token decides who is calling.
    let response = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&alice.token)
        .header("x-user-id", bob.id.to_string())
        .header("x-user-role", "driver")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let me: User = response.json().await.unwrap();
    assert_eq!(me.id, alice.id);

    // A rider claiming the driver role by header is still a rider.
    let response = app
        .client
        .get(app.url("/api/v1/drivers/me"))
        .bearer_auth(&alice.token)
        .header("x-user-role", "driver")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;

    // Without a token the headers alone open nothing.
    let response = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("x-user-id", bob.id.to_string())
        .header("x-user-role", "driver")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_rider_on_a_driver_route_is_403() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    let response = app.get("/api/v1/drivers/me", Some(&rider.token)).await;
    assert_error(response, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn internal_services_refuse_calls_without_the_internal_token() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;

    // Straight to the driver service's internal route, no token.
    let response = app
        .client
        .post(app.service_url(Service::Driver, "/internal/drivers"))
        .json(&json!({"driver_id": rider.id}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // A wrong token, and spoofed identity headers on a public route.
    let response = app
        .client
        .get(app.service_url(Service::User, "/api/v1/auth/me"))
        .header("x-internal-token", "guess")
        .header("x-user-id", rider.id.to_string())
        .header("x-user-role", "rider")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // The refused call changed nothing: the rider has no driver profile.
    let driver_me = app
        .client
        .get(app.service_url(Service::Driver, "/api/v1/drivers/me"))
        .header("x-internal-token", app.peer_token(Peer::Gateway))
        .header("x-user-id", rider.id.to_string())
        .header("x-user-role", "driver")
        .send()
        .await
        .unwrap();
    assert_error(driver_me, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn unknown_routes_are_404_in_the_error_shape() {
    let app = spawn_app().await;
    let rider = app.register_rider().await;
    for path in [
        "/api/v1/nope",
        "/api/v1/tripsx",
        "/api/v2/auth/me",
        "/internal/drivers",
    ] {
        let response = app.get(path, Some(&rider.token)).await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Known family, unknown route: the owner service answers in the same shape.
    let response = app.get("/api/v1/auth/whoami", Some(&rider.token)).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let app = spawn_app().await;
    let body = registration(json!({"name": "n".repeat(70 * 1024)}));
    let response = app.post("/api/v1/auth/register", None, &body).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Chunked, so no Content-Length announces it.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..80).map(|_| Ok(vec![b' '; 1024])).collect();
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(hail_testkit::reqwest::Body::wrap_stream(
            futures::stream::iter(chunks),
        ))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn the_gateway_gives_every_request_its_own_id() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/nope"))
        .header("x-request-id", "forged-id")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(id, "forged-id");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
}

#[tokio::test]
async fn a_stopped_service_is_503_and_the_gateway_recovers_when_it_returns() {
    let mut app = spawn_app().await;
    let rider = app.register_rider().await;

    app.stop(Service::User).await;
    let response = app.get("/api/v1/auth/me", Some(&rider.token)).await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let response = app.get("/readyz", None).await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;

    app.start(Service::User).await;
    let response = app.get("/api/v1/auth/me", Some(&rider.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn registering_a_driver_while_the_driver_service_is_down_stores_nothing() {
    let mut app = spawn_app().await;
    app.stop(Service::Driver).await;
    let body = registration(json!({"email": "late-driver@example.com", "role": "driver"}));
    let response = app.post("/api/v1/auth/register", None, &body).await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;

    // The account was rolled back, so the same registration succeeds later
    // and the driver has a profile.
    app.start(Service::Driver).await;
    let response = app.post("/api/v1/auth/register", None, &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let registered: AuthResponse = response.json().await.unwrap();
    let response = app
        .get("/api/v1/drivers/me", Some(&registered.access_token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}
