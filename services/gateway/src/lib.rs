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
use socketioxide::{handler::ConnectHandler, SocketIo};
use socketioxide_redis::{RedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

pub use state::AppState;

/// The largest Socket.IO message a gateway reads at all (polling body or
/// websocket message): a few event payloads' worth.
const MAX_SOCKET_MESSAGE: usize = 64 * 1024;

/// Connects to Redis, sets up Socket.IO with the Redis adapter (so several
/// gateways behave as one) and binds `HAIL_GATEWAY_PORT` on `HAIL_GATEWAY_HOST`.
pub async fn build(config: &Config) -> Result<Application, StartError> {
    let redis = redis_conn::connect(&config.redis_url, config.redis_cluster).await?;
    let (pings, ping_queue) = realtime::pings::channel();
    let state = AppState::new(config, redis.clone(), pings)?;
    let ping_upstream = realtime::pings::Upstream {
        http: state.http.clone(),
        url: format!(
            "{}/internal/drivers/locations",
            config.upstreams.driver.trim_end_matches('/')
        ),
        token: state.presence_token.clone(),
    };
    let keys = Keys::new(config.redis_prefix.clone());

    let redis_error = |source| StartError::Redis {
        url: hail_shared::db::redact(&config.redis_url),
        source,
    };
    // The adapter's driver speaks RESP3.
    let separator = if config.redis_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let adapter_client =
        redis::Client::open(format!("{}{separator}protocol=resp3", config.redis_url))
            .map_err(redis_error)?;
    let adapter = RedisAdapterCtr::new_with_redis_config(
        &adapter_client,
        RedisAdapterConfig::new().with_prefix(format!("{}socket.io", keys.prefix())),
    )
    .await
    .map_err(redis_error)?;
    let (layer, io) = SocketIo::builder()
        // Past this a message is not even buffered: the connection closes.
        // Below it, handlers refuse payloads over 16 KiB with an error ack.
        .max_payload(MAX_SOCKET_MESSAGE as u64)
        .ws_max_message_size(MAX_SOCKET_MESSAGE)
        .ws_max_frame_size(MAX_SOCKET_MESSAGE)
        .with_state(state.clone())
        .with_adapter::<RedisAdapter<_>>(adapter)
        .build_layer();
    io.ns("/", realtime::on_connect.with(realtime::authenticate))
        .await
        .map_err(|e| StartError::Http(format!("socket.io namespace: {e}")))?;

    let bridge_state = state.clone();
    let socket_tasks = state.socket_tasks.clone();
    let limits = state.limits.clone();
    let router = routes::router(state, config).layer(layer);
    let (bridge_io, closing_io) = (io.clone(), io);
    let redis_url = config.redis_url.clone();
    Ok(
        Application::bind(config.gateway_host, config.ports.gateway, router)
            .await?
            .with_background(move |stop| {
                realtime::bridge::run(bridge_io, bridge_state, redis_url, keys, stop)
            })
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
            .with_background(move |stop| async move {
                stop.cancelled().await;
                closing_io.close().await;
                socket_tasks.close();
                socket_tasks.wait().await;
            }),
    )
}
