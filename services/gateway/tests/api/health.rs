//! Health, readiness and metrics on every service.

use crate::helpers::*;

#[tokio::test]
async fn every_service_answers_health_readiness_and_metrics() {
    let app = spawn_app().await;
    // Some traffic, so the request metrics have something to count.
    app.get("/api/v1/auth/me", None).await;

    for service in Service::ALL {
        let get = |path: &str| app.client.get(app.service_url(service, path)).send();
        let healthz = get("/healthz").await.unwrap();
        assert_eq!(healthz.status(), StatusCode::OK, "{service} /healthz");
        let readyz = get("/readyz").await.unwrap();
        assert_eq!(readyz.status(), StatusCode::OK, "{service} /readyz");
        let metrics = get("/metrics").await.unwrap().text().await.unwrap();
        assert!(
            metrics.contains("http_requests_total"),
            "{service} /metrics: {metrics}"
        );
        assert!(
            metrics.contains("http_request_duration_seconds_bucket"),
            "{service}"
        );
    }
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains(r#"service="gateway""#) && metrics.contains(r#"status="401""#),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_gateway_serves_the_web_app() {
    let app = spawn_app().await;
    let response = app.get("/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let csp = header("content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert!(!header("referrer-policy").is_empty());
    let html = response.text().await.unwrap();
    assert!(html.contains("<title>Hail</title>"), "{html}");
    // The API's answers are not to be sniffed or framed either.
    let api = app.get("/api/v1/auth/me", None).await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
}
