//! The HTTP skeleton every service shares: health and metrics routes
//! (services gate their own routes by caller, see [`crate::internal`]), request ids in log spans, request metrics, a
//! deadline per request, a 64 KiB body cap, JSON 404/405 fallbacks, panics
//! turned into a logged 500, and graceful shutdown on SIGTERM or Ctrl-C.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use axum::{
    extract::{DefaultBodyLimit, Request},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    services::{ServeDir, ServeFile},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};

use crate::{
    extract::{MAX_BODY_BYTES, REQUEST_ID_HEADER},
    telemetry, ApiError,
};

pub type ReadyFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Checks a service's dependencies for `/readyz`; `Err` names what is down.
pub type ReadyCheck = Arc<dyn Fn() -> ReadyFuture + Send + Sync>;

/// How a service wants its routes wrapped.
pub struct Shell {
    pub service: &'static str,
    pub ready: ReadyCheck,
    pub request_timeout: Duration,
    /// Serve files from here for paths no route matches (the gateway's web
    /// apps); without it, unknown paths get a JSON 404.
    pub static_dir: Option<std::path::PathBuf>,
}

impl Shell {
    /// An internal service: it is ready when its Postgres (and Redis, if it has one) answer.
    pub fn internal(
        service: &'static str,
        config: &crate::config::Config,
        pool: sqlx::PgPool,
        redis: Option<redis::aio::ConnectionManager>,
    ) -> Self {
        Self {
            service,
            ready: dependencies_ready(pool, redis),
            request_timeout: config.request_timeout,
            static_dir: None,
        }
    }
}

fn dependencies_ready(
    pool: sqlx::PgPool,
    redis: Option<redis::aio::ConnectionManager>,
) -> ReadyCheck {
    Arc::new(move || {
        let pool = pool.clone();
        let redis = redis.clone();
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .execute(&pool)
                .await
                .map_err(|e| format!("postgres: {e}"))?;
            match redis {
                Some(mut redis) => crate::redis_conn::ping(&mut redis).await,
                None => Ok(()),
            }
        })
    })
}

/// Wraps a service's own routes with everything in this module's header.
pub fn wrap(routes: Router, shell: Shell) -> Router {
    let service = shell.service;
    // Install the recorder now, so requests before the first scrape count.
    let metrics = telemetry::metrics_handle();
    let routes = match shell.static_dir {
        Some(dir) => routes.fallback_service(
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    http::header::CONTENT_SECURITY_POLICY,
                    http::HeaderValue::from_static(WEB_APP_CSP),
                ))
                .service(web_apps(dir)),
        ),
        None => routes.fallback(|| async { ApiError::NotFound("no such route".into()) }),
    };
    let routes = routes.method_not_allowed_fallback(|| async {
        ApiError::MethodNotAllowed("this route does not accept that method".into())
    });
    let ready = shell.ready;
    let health = Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move { readiness(ready).await }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { metrics.render() }
            }),
        );
    let timeout = shell.request_timeout;
    health
        .merge(routes)
        .layer(middleware::from_fn(refuse_oversized_heads))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            with_deadline(timeout, req, next)
        }))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            telemetry::record_http_metrics(service, req, next)
        }))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("a handler panicked").into_response()
            },
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(move |req: &Request| {
                let request_id = req
                    .extensions()
                    .get::<RequestId>()
                    .and_then(|id| id.header_value().to_str().ok())
                    .unwrap_or("-");
                // The path only: query strings may carry tokens.
                let path = telemetry::clip(req.uri().path(), telemetry::MAX_LOGGED_BYTES);
                let method = telemetry::method_label(req.method());
                tracing::info_span!("request", service, method, path, request_id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id_header()))
        .layer(SetRequestIdLayer::new(request_id_header(), MakeRequestUuid))
}

/// The longest path and query a request may have, and the most header
/// bytes (names and values) and headers it may send. Past these the answer
/// is 414 or 431 in the error shape; hyper's own limits, which answer
/// without a body, sit well above them ([`MAX_HEAD_BUFFER`]).
pub const MAX_URI_BYTES: usize = 8 * 1024;
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
pub const MAX_HEADERS: usize = 100;

/// hyper's buffer for a request head, and its header count limit.
const MAX_HEAD_BUFFER: usize = 256 * 1024;
const MAX_HEADERS_PARSED: usize = 400;

async fn refuse_oversized_heads(request: Request, next: Next) -> Response {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::UriTooLong(MAX_URI_BYTES).into_response();
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES || headers.len() > MAX_HEADERS {
        return ApiError::HeadersTooLarge(MAX_HEADER_BYTES).into_response();
    }
    next.run(request).await
}

fn request_id_header() -> http::HeaderName {
    http::HeaderName::from_static(REQUEST_ID_HEADER)
}

async fn with_deadline(timeout: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable(format!(
            "the request did not finish within {} s; try again",
            timeout.as_secs_f64()
        ))
        .into_response(),
    }
}

async fn readiness(check: ReadyCheck) -> Response {
    match check().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))).into_response(),
        Err(what) => ApiError::Unavailable(format!("not ready: {what}")).into_response(),
    }
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
/// app, anything else the passenger app), so deep links and reloads work; a
/// missing asset is a 404, never a page of HTML where a script was expected.
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
    let app = if path == "/driver" || path.starts_with("/driver/") {
        dir.join("driver").join("index.html")
    } else {
        dir.join("index.html")
    };
    let Ok(page) = ServeFile::new(app).oneshot(request).await;
    page.map(axum::body::Body::new)
}

/// A connection idle this long between requests (or this slow to send a
/// request's headers) is closed. Without it every idle keep-alive
/// connection holds a file descriptor forever (Socket.IO's polling handshake
/// leaves one behind per client) and a slow-headers client holds a task.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long shutdown waits for in-flight requests before it stops anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves until `shutdown` is cancelled, then lets in-flight requests finish
/// (up to [`DRAIN_TIMEOUT`]). Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_with_idle_timeout(listener, router, shutdown, IDLE_TIMEOUT).await
}

async fn serve_with_idle_timeout(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    idle_timeout: Duration,
) -> std::io::Result<()> {
    use hyper_util::{
        rt::{TokioExecutor, TokioIo, TokioTimer},
        server::conn::auto::Builder,
        service::TowerToHyperService,
    };
    use tower::ServiceExt;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout)
        .max_buf_size(MAX_HEAD_BUFFER)
        .max_headers(MAX_HEADERS_PARSED);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(idle_timeout)
        .enable_connect_protocol();
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, most likely: back off instead
                    // of spinning, and keep serving the connections we have.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service =
            router
                .clone()
                .map_request(move |mut request: Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    request.map(axum::body::Body::new)
                });
        let builder = builder.clone();
        let stop = shutdown.clone();
        connections.spawn(async move {
            // hyper's header timeout starts with the first byte: a client
            // that connects and never sends one would hold the descriptor
            // forever. Wait for that byte (or the close) no longer than idle.
            let mut byte = [0u8; 1];
            let first_byte = tokio::select! {
                waited = tokio::time::timeout(idle_timeout, stream.peek(&mut byte)) => waited,
                _ = stop.cancelled() => return,
            };
            if !matches!(first_byte, Ok(Ok(1..))) {
                return;
            }
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(stream),
                TowerToHyperService::new(service),
            );
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stop.cancelled() => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
    Ok(())
}

/// Cancels `token` on Ctrl-C or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = terminate => {},
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
        token.cancel();
    });
}

/// Why a service could not start; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("Redis at {url} did not answer ({source}). Start it, or set REDIS_URL; `scripts/run.sh` starts a private one when none answers")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
    #[error("could not listen on {addr}: {source}. Is another Hail already running? Set the HAIL_*_PORT variables to move it")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("could not build an HTTP client: {0}")]
    Http(String),
    #[error("could not start the {service} service's threads: {source}")]
    Threads {
        service: String,
        source: std::io::Error,
    },
}

type Background =
    Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A service ready to run: its bound listener, its router and the background
/// tasks (workers, relays) that live and stop with it.
pub struct Application {
    listener: TcpListener,
    router: Router,
    background: Vec<Background>,
}

impl Application {
    /// Binds `host:port`; port 0 picks a free one (see [`Application::port`]).
    pub async fn bind(
        host: std::net::IpAddr,
        port: u16,
        router: Router,
    ) -> Result<Self, StartError> {
        let addr = SocketAddr::new(host, port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        Ok(Self {
            listener,
            router,
            background: Vec::new(),
        })
    }

    /// Adds a task that runs beside the server and must return once its
    /// token is cancelled; shutdown waits for it.
    pub fn with_background<F, Fut>(mut self, task: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background
            .push(Box::new(move |token| Box::pin(task(token))));
        self
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` is cancelled, then drains requests and waits
    /// for the background tasks.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let tracker = tokio_util::task::TaskTracker::new();
        let background_token = shutdown.child_token();
        for task in self.background {
            tracker.spawn(task(background_token.clone()));
        }
        tracker.close();
        let served = serve(self.listener, self.router, shutdown).await;
        background_token.cancel();
        tracker.wait().await;
        served
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn server(idle: Duration) -> (SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router =
            Router::new()
                .route(
                    "/peer",
                    get(
                        |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<
                            SocketAddr,
                        >| async move { peer.ip().to_string() },
                    ),
                )
                .layer(middleware::from_fn(refuse_oversized_heads));
        let stop = CancellationToken::new();
        tokio::spawn(serve_with_idle_timeout(
            listener,
            router,
            stop.clone(),
            idle,
        ));
        (addr, stop)
    }

    /// Reads until the peer closes; `None` if it is still open after `within`.
    async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
        let mut seen = Vec::new();
        tokio::time::timeout(within, stream.read_to_end(&mut seen))
            .await
            .ok()
            .map(|_| String::from_utf8_lossy(&seen).into_owned())
    }

    #[tokio::test]
    async fn web_apps_serve_files_pages_and_real_404s() {
        let dir = std::env::temp_dir().join(format!("hail-web-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("driver")).unwrap();
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "passenger").unwrap();
        std::fs::write(dir.join("driver/index.html"), "driver").unwrap();
        std::fs::write(dir.join("assets/app.js"), "script").unwrap();
        let cases = [
            ("GET", "/", StatusCode::OK, "passenger"),
            ("GET", "/history", StatusCode::OK, "passenger"),
            ("GET", "/driver/", StatusCode::OK, "driver"),
            ("GET", "/driver/trips/42", StatusCode::OK, "driver"),
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
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn idle_keep_alive_connections_are_closed() {
        let (addr, _stop) = server(Duration::from_millis(300)).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /peer HTTP/1.1\r\nhost: hail\r\n\r\n")
            .await
            .unwrap();
        // The answer comes, the connection stays open for a next request,
        // then closes once idle for longer than the timeout.
        let answer = closed_within(&mut stream, Duration::from_secs(5))
            .await
            .expect("the idle connection was closed");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.ends_with("127.0.0.1"),
            "handlers see the peer: {answer}"
        );
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        let (addr, _stop) = server(Duration::from_millis(300)).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /peer HTTP/1.1\r\nhost: ha")
            .await
            .unwrap();
        let answer = closed_within(&mut stream, Duration::from_secs(5)).await;
        assert!(
            answer.is_some(),
            "a slow-headers client held its connection"
        );
    }

    #[tokio::test]
    async fn a_connection_that_sends_nothing_is_closed() {
        let (addr, _stop) = server(Duration::from_millis(300)).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let answer = closed_within(&mut stream, Duration::from_secs(5)).await;
        assert_eq!(
            answer.as_deref(),
            Some(""),
            "a silent connection was held open"
        );
    }

    #[tokio::test]
    async fn oversized_heads_are_414_and_431_in_the_error_shape() {
        let (addr, _stop) = server(Duration::from_secs(5)).await;
        let long_path = format!(
            "GET /peer?q={} HTTP/1.1\r\nhost: hail\r\n\r\n",
            "a".repeat(MAX_URI_BYTES)
        );
        let big_header = format!(
            "GET /peer HTTP/1.1\r\nhost: hail\r\nx-big: {}\r\n\r\n",
            "b".repeat(MAX_HEADER_BYTES)
        );
        let many_headers = format!(
            "GET /peer HTTP/1.1\r\nhost: hail\r\n{}\r\n",
            (0..=MAX_HEADERS)
                .map(|i| format!("x-h{i}: 1\r\n"))
                .collect::<String>()
        );
        for (request, status, code) in [
            (long_path, "414", "uri_too_long"),
            (big_header, "431", "headers_too_large"),
            (many_headers, "431", "headers_too_large"),
        ] {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut answer = vec![0u8; 4096];
            let n = stream.read(&mut answer).await.unwrap();
            let answer = String::from_utf8_lossy(&answer[..n]);
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}")),
                "{answer}"
            );
            assert!(answer.contains(&format!("\"code\":\"{code}\"")), "{answer}");
        }
    }

    #[tokio::test]
    async fn a_busy_connection_is_not_cut_while_it_keeps_asking() {
        let (addr, _stop) = server(Duration::from_millis(500)).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        for _ in 0..4 {
            stream
                .write_all(b"GET /peer HTTP/1.1\r\nhost: hail\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 512];
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0 && buf.starts_with(b"HTTP/1.1 200"));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
