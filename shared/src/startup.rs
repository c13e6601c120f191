//! Starting and stopping a service: [`Application`] binds its listener
//! (port 0 picks a free one) and runs the router with the background tasks
//! that live and stop with it; [`serve`] accepts connections, closes idle
//! and silent ones, and drains in-flight requests on shutdown;
//! [`cancel_on_signal`] turns SIGTERM or Ctrl-C into that shutdown;
//! [`StartError`] says what to do when a service cannot start.

use std::{future::Future, net::SocketAddr, pin::Pin, time::Duration};

use axum::{extract::Request, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// hyper's buffer for a request head, and its header count limit.
const MAX_HEAD_BUFFER: usize = 256 * 1024;
const MAX_HEADERS_PARSED: usize = 400;

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
    use crate::server::{refuse_oversized_heads, MAX_HEADERS, MAX_HEADER_BYTES, MAX_URI_BYTES};
    use axum::{middleware, routing::get};
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
        // Requests 100 ms apart for 1.5 s against a 1 s idle timeout: the
        // connection outlives the timeout, and each gap is a tenth of it, so
        // a slow machine cannot make a gap look idle.
        let (addr, _stop) = server(Duration::from_secs(1)).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        for _ in 0..15 {
            stream
                .write_all(b"GET /peer HTTP/1.1\r\nhost: hail\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 512];
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0 && buf.starts_with(b"HTTP/1.1 200"));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
