//! The gateway: the only public door. It verifies the JWT on every `/api/v1`
//! route but register and login, drops whatever `x-user-*` headers a client
//! sent, forwards to the owner service with the caller's identity and the
//! internal token, and serves the built web apps.

mod domain;
pub mod openapi;
mod rate_limit;
mod realtime;
mod routes;
mod sockets;
mod state;
mod web_apps;

pub use routes::docs::gateway_part;

use hail_shared::{
    config::Config,
    keys::Keys,
    redis_conn,
    startup::{Application, StartError},
};
use socketioxide::{adapter::Adapter, handler::ConnectHandler, layer::SocketIoLayer, SocketIo};
use socketioxide_redis::{ClusterAdapter, RedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

pub use state::AppState;

/// The largest Socket.IO message a gateway reads at all (polling body or
/// websocket message): a few event payloads' worth.
const MAX_SOCKET_MESSAGE: usize = 64 * 1024;
/// Socket.IO heartbeats (the defaults, 25 s + 20 s, notice a silently dead
/// phone only after 45 s): the server pings every 10 s and closes a
/// connection whose pong is 8 s late, so a dead driver connection is
/// noticed within 18 s (API.md asks for about 20).
const SOCKET_PING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
const SOCKET_PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);
/// How long shutdown waits for the open sockets to close.
const SOCKETS_CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Serves `/` on the sockets (the adapter's type differs per branch, and
/// `ns` needs the concrete one).
macro_rules! serve_namespace {
    ($io:expr) => {
        $io.ns("/", realtime::on_connect.with(realtime::authenticate))
            .await
            .map_err(|e| StartError::Http(format!("socket.io namespace: {e}")))?
    };
}

/// Connects to Redis, sets up Socket.IO with the Redis adapter (so several
/// gateways behave as one) and binds `HAIL_GATEWAY_PORT` on `HAIL_GATEWAY_HOST`.
pub async fn build(config: &Config) -> Result<Application, StartError> {
    let redis = redis_conn::connect(&config.redis_url, config.redis_cluster).await?;
    let (pings, ping_queue) = realtime::pings::channel();
    let state = AppState::new(config, redis.clone(), pings)?;
    let ping_upstream = realtime::pings::Upstream {
        http: state.http.clone(),
        driver: state.upstreams.driver.clone(),
        token: state.presence_token.clone(),
    };
    let keys = Keys::new(config.redis_prefix.clone());

    let redis_error = |source| StartError::Redis {
        url: hail_shared::db::redact(&config.redis_url),
        source,
    };
    let adapter_config =
        RedisAdapterConfig::new().with_prefix(format!("{}socket.io", keys.prefix()));
    let sockets = SocketIo::builder()
        // Past this a message is not even buffered: the connection closes.
        // Below it, handlers refuse payloads over 16 KiB with an error ack.
        .max_payload(MAX_SOCKET_MESSAGE as u64)
        // Heartbeats: a connection that stops answering is closed within
        // SOCKET_PING_INTERVAL + SOCKET_PING_TIMEOUT (18 s), and with it the
        // driver's presence refresh and any open offer's grace starts.
        .ping_interval(SOCKET_PING_INTERVAL)
        .ping_timeout(SOCKET_PING_TIMEOUT)
        .ws_max_message_size(MAX_SOCKET_MESSAGE)
        .ws_max_frame_size(MAX_SOCKET_MESSAGE)
        .with_state(state.clone());
    let parts = Parts {
        state,
        keys,
        ping_queue,
        ping_upstream,
    };
    // The adapter carries room broadcasts between gateways: on a cluster
    // over sharded pub/sub. Its driver speaks RESP3.
    if config.redis_cluster {
        let client = redis_conn::cluster_client(&config.redis_url).map_err(redis_error)?;
        let adapter = RedisAdapterCtr::new_with_cluster_config(&client, adapter_config)
            .await
            .map_err(redis_error)?;
        let (layer, io) = sockets
            .with_adapter::<ClusterAdapter<_>>(adapter)
            .build_layer();
        serve_namespace!(io);
        assemble(config, parts, layer, io).await
    } else {
        let separator = if config.redis_url.contains('?') {
            '&'
        } else {
            '?'
        };
        let client = redis::Client::open(format!("{}{separator}protocol=resp3", config.redis_url))
            .map_err(redis_error)?;
        let adapter = RedisAdapterCtr::new_with_redis_config(&client, adapter_config)
            .await
            .map_err(redis_error)?;
        let (layer, io) = sockets
            .with_adapter::<RedisAdapter<_>>(adapter)
            .build_layer();
        serve_namespace!(io);
        assemble(config, parts, layer, io).await
    }
}

/// What the gateway is built from, whichever adapter carries its sockets.
struct Parts {
    state: AppState,
    keys: Keys,
    ping_queue: tokio::sync::mpsc::Receiver<realtime::pings::Queued>,
    ping_upstream: realtime::pings::Upstream,
}

async fn assemble<A: Adapter>(
    config: &Config,
    parts: Parts,
    layer: SocketIoLayer<A>,
    io: SocketIo<A>,
) -> Result<Application, StartError> {
    let Parts {
        state,
        keys,
        ping_queue,
        ping_upstream,
    } = parts;
    let bridge_state = state.clone();
    let socket_tasks = state.socket_tasks.clone();
    let limits = state.limits.clone();
    let router = routes::router(state, config).layer(layer);
    let (bridge_io, closing_io) = (io.clone(), io);
    let feed = realtime::bridge::Feed {
        redis_url: config.redis_url.clone(),
        cluster: config.redis_cluster,
        keys,
        cities: config.cities.all().iter().map(|c| c.id.clone()).collect(),
    };
    Ok(
        Application::bind(config.gateway_host, config.ports.gateway, router)
            .await?
            .with_background(move |stop| realtime::bridge::run(bridge_io, bridge_state, feed, stop))
            .with_background(move |stop| realtime::pings::run(ping_queue, ping_upstream, stop))
            .with_background(move |stop| async move {
                let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = every_minute.tick() => limits.forget_idle(),
                    }
                }
            })
            // Open sockets would hold graceful shutdown forever: close them.
            // Bounded: a socket whose close stalls must not hold the
            // gateway's shutdown (seen in tests: a close racing the
            // server's own drain waited forever).
            .with_background(move |stop| async move {
                stop.cancelled().await;
                let closed = tokio::time::timeout(SOCKETS_CLOSE_TIMEOUT, closing_io.close()).await;
                socket_tasks.close();
                let waited = tokio::time::timeout(SOCKETS_CLOSE_TIMEOUT, socket_tasks.wait()).await;
                if closed.is_err() || waited.is_err() {
                    tracing::warn!(
                        "sockets still closing after {SOCKETS_CLOSE_TIMEOUT:?}; stopping anyway"
                    );
                }
            }),
    )
}
