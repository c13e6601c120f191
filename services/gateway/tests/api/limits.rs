//! Abuse guards at the door: REST rate limits (429 + Retry-After, per IP on
//! login/register, per email on login, per user everywhere) and CORS.

use std::net::IpAddr;

use hail_shared::config::RateLimit;
use hail_testkit::{reqwest::Response, TestApp};

use crate::helpers::*;

const TIGHT: RateLimit = RateLimit {
    per_minute: 60,
    burst: 3,
};

/// A login attempt as if from `ip` (the test gateway trusts 127.0.0.1 as a
/// proxy, so `X-Forwarded-For` names the client).
async fn login_from(app: &TestApp, ip: &str, email: &str) -> Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": "wrong password!"}))
        .send()
        .await
        .unwrap()
}

async fn assert_rate_limited(response: Response) -> u64 {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a 429 says when to retry")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is whole seconds");
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    retry_after
}

#[tokio::test]
async fn login_is_limited_per_ip_and_recovers() {
    let app = hail_testkit::spawn_app_with(|c| {
        c.rate_limits.auth_per_ip = TIGHT;
        c.rate_limits.trusted_proxies = vec![IpAddr::from([127, 0, 0, 1])];
    })
    .await;
    let ip = "203.0.113.10";
    for i in 0..TIGHT.burst {
        // A different email each time: the per-IP bucket is what runs out.
        let response = login_from(&app, ip, &format!("nobody{i}@example.com")).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let retry_after = assert_rate_limited(login_from(&app, ip, "next@example.com").await).await;

    // Another client is not affected, and register shares the login bucket.
    let other = login_from(&app, "198.51.100.20", "next@example.com").await;
    assert_error(other, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let register = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("x-forwarded-for", ip)
        .json(&registration(json!({})))
        .send()
        .await
        .unwrap();
    assert_rate_limited(register).await;

    // Waiting as told is enough.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    let again = login_from(&app, ip, "later@example.com").await;
    assert_error(again, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let app = hail_testkit::spawn_app_with(|c| c.rate_limits.auth_per_ip = TIGHT).await;
    // Each attempt claims another client IP, but the peer is the only truth.
    for i in 0..TIGHT.burst {
        let response = login_from(&app, &format!("203.0.113.{i}"), "a@example.com").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(login_from(&app, "203.0.113.99", "b@example.com").await).await;
}

#[tokio::test]
async fn login_is_limited_per_email_across_ips() {
    let app = hail_testkit::spawn_app_with(|c| {
        c.rate_limits.login_per_email = TIGHT;
        c.rate_limits.trusted_proxies = vec![IpAddr::from([127, 0, 0, 1])];
    })
    .await;
    let victim = app.register_rider().await;
    for i in 0..TIGHT.burst {
        let response = login_from(&app, &format!("203.0.113.{i}"), &victim.email).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Same account, new IP, different case: still limited.
    let shouted = victim.email.to_uppercase();
    assert_rate_limited(login_from(&app, "198.51.100.1", &shouted).await).await;
    // Other accounts log in as usual.
    let other = app.register_rider().await;
    let response = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"email": other.email, "password": other.password}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_user_over_its_limit_does_not_affect_another() {
    let app = hail_testkit::spawn_app_with(|c| c.rate_limits.per_user = TIGHT).await;
    let greedy = app.register_rider().await;
    let calm = app.register_rider().await;
    for _ in 0..TIGHT.burst {
        let response = app.get("/api/v1/auth/me", Some(&greedy.token)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_rate_limited(app.get("/api/v1/trips", Some(&greedy.token)).await).await;
    // Same IP, another user: untouched.
    let response = app.get("/api/v1/auth/me", Some(&calm.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_limited_per_ip() {
    let app = hail_testkit::spawn_app_with(|c| c.rate_limits.per_ip = TIGHT).await;
    let rider = app.register_rider().await;
    for _ in 0..TIGHT.burst {
        let response = app.get("/api/v1/auth/me", Some("garbage")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(app.get("/api/v1/auth/me", None).await).await;
    // A valid token is limited per user, not per IP.
    let response = app.get("/api/v1/auth/me", Some(&rider.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn preflight(app: &TestApp, origin: &str) -> Response {
    app.client
        .request(
            hail_testkit::reqwest::Method::OPTIONS,
            app.url("/api/v1/trips"),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_only_for_configured_origins() {
    let app = hail_testkit::spawn_app_with(|c| {
        c.cors_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let allowed = preflight(&app, "https://app.example.com").await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed_headers = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );

    let refused = preflight(&app, "https://evil.example").await;
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    // A real request from the allowed origin carries the header too.
    let rider = app.register_rider().await;
    let response = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&rider.token)
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
}

#[tokio::test]
async fn no_cors_headers_when_no_origin_is_configured() {
    let app = hail_testkit::spawn_app_with(|c| c.cors_origins.clear()).await;
    let response = preflight(&app, "http://localhost:5173").await;
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn the_contract_and_its_docs_are_served_without_a_token() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let spec: Value = response.json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/api/v1/rooms/{key}/select"]["post"].is_object());

    let response = app.get("/api/docs", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert!(page.contains("/api/v1/openapi.json"));
    assert!(
        !page.contains("https://"),
        "the docs page loads nothing from elsewhere"
    );
}
