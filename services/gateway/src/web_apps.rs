//! The built web apps the gateway serves from `HAIL_STATIC_DIR`, under a
//! Content-Security-Policy: a file if there is one; otherwise, for a page
//! path, the app's `index.html`, so deep links and reloads work.

use std::future::Future;

use axum::{
    extract::Request,
    response::{IntoResponse, Response},
};
use hail_shared::{server::Fallback, ApiError};
use tower_http::{
    services::{ServeDir, ServeFile},
    set_header::SetResponseHeaderLayer,
};

/// The web apps as the gateway's fallback, each answer with the CSP.
pub fn fallback(dir: std::path::PathBuf) -> Fallback {
    Fallback::new(
        tower::ServiceBuilder::new()
            .map_response(IntoResponse::into_response)
            .layer(SetResponseHeaderLayer::overriding(
                http::header::CONTENT_SECURITY_POLICY,
                http::HeaderValue::from_static(WEB_APP_CSP),
            ))
            .service(web_apps(dir)),
    )
}

/// What the web apps may load: their own scripts, styles and sockets; map
/// tiles from any server (the tile server is chosen at build time or
/// in the browser, `?tiles=`); nothing may frame them.
pub const WEB_APP_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https: http:; \
    connect-src 'self'; font-src 'self' data:; object-src 'none'; \
    base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The built web apps: a file if there is one; otherwise, for a page path
/// (no file extension), the app's `index.html` (`/driver/...` is the driver
/// app, `/support/...` the support page, anything else the passenger app),
/// so deep links and reloads work; a missing asset is a 404, never a page of
/// HTML where a script was expected.
fn web_apps(
    dir: std::path::PathBuf,
) -> ServeDir<
    impl tower::Service<
            Request,
            Response = Response,
            Error = std::convert::Infallible,
            Future = impl Future<Output = Result<Response, std::convert::Infallible>> + Send,
        > + Clone
        + Send,
> {
    let pages = dir.clone();
    ServeDir::new(dir)
        .call_fallback_on_method_not_allowed(true)
        .fallback(tower::service_fn(move |request: Request| {
            let pages = pages.clone();
            async move { Ok(app_page(&pages, request).await) }
        }))
}

async fn app_page(dir: &std::path::Path, request: Request) -> Response {
    use tower::ServiceExt;

    let path = request.uri().path();
    let readable = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let last = path.rsplit('/').next().unwrap_or_default();
    if !readable || last.contains('.') || path.starts_with("/api/") {
        return ApiError::NotFound("no such route".into()).into_response();
    }
    let under = |app: &str| {
        path.strip_prefix(app)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let app = if under("/driver") {
        dir.join("driver").join("index.html")
    } else if under("/support") {
        dir.join("support").join("index.html")
    } else {
        dir.join("index.html")
    };
    let Ok(page) = ServeFile::new(app).oneshot(request).await;
    page.map(axum::body::Body::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[tokio::test]
    async fn web_apps_serve_files_pages_and_real_404s() {
        let dir = std::env::temp_dir().join(format!("hail-web-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("driver")).unwrap();
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "passenger").unwrap();
        std::fs::write(dir.join("driver/index.html"), "driver").unwrap();
        std::fs::create_dir_all(dir.join("support")).unwrap();
        std::fs::write(dir.join("support/index.html"), "support").unwrap();
        std::fs::write(dir.join("assets/app.js"), "script").unwrap();
        let cases = [
            ("GET", "/", StatusCode::OK, "passenger"),
            ("GET", "/history", StatusCode::OK, "passenger"),
            ("GET", "/driver/", StatusCode::OK, "driver"),
            ("GET", "/driver/trips/42", StatusCode::OK, "driver"),
            // The directory without its slash: ServeDir sends the browser to `/support/`.
            ("GET", "/support", StatusCode::TEMPORARY_REDIRECT, ""),
            ("GET", "/support/", StatusCode::OK, "support"),
            ("GET", "/support/trips/42", StatusCode::OK, "support"),
            ("HEAD", "/support/drivers", StatusCode::OK, ""),
            ("GET", "/supportive", StatusCode::OK, "passenger"),
            ("GET", "/support/app.js", StatusCode::NOT_FOUND, "not_found"),
            ("POST", "/support/", StatusCode::NOT_FOUND, "not_found"),
            ("GET", "/assets/app.js", StatusCode::OK, "script"),
            ("GET", "/assets/gone.js", StatusCode::NOT_FOUND, "not_found"),
            ("POST", "/history", StatusCode::NOT_FOUND, "not_found"),
            ("GET", "/api/v2/trips", StatusCode::NOT_FOUND, "not_found"),
        ];
        for (method, path, status, body) in cases {
            let request = Request::builder()
                .method(method)
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let Ok(response) = tower::ServiceExt::oneshot(web_apps(dir.clone()), request).await;
            let response = response.map(axum::body::Body::new);
            assert_eq!(response.status(), status, "{method} {path}");
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(text.contains(body), "{method} {path}: {text}");
        }
        // Each app's own page for its bare path and any path under it.
        for (path, body) in [
            ("/support", "support"),
            ("/support/", "support"),
            ("/support/trips/42", "support"),
            ("/supportive", "passenger"),
            ("/driver", "driver"),
            ("/drivers", "passenger"),
        ] {
            let request = Request::builder()
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app_page(&dir, request).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&bytes), body, "{path}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
