use std::{sync::Arc, time::Duration};

use hail_shared::{
    auth::TokenKeys,
    config::Config,
    internal::{peer_token, Peer},
    keys::Keys,
    startup::StartError,
};
use redis::aio::ConnectionManager;
use tokio_util::task::TaskTracker;

use crate::{
    domain::routing::Upstream, openapi::Contract, rate_limit::Limiters,
    realtime::sockets::SocketRegistry,
};

#[derive(Clone)]
pub struct AppState {
    pub tokens: TokenKeys,
    pub http: reqwest::Client,
    pub upstreams: Arc<Upstreams>,
    /// What the proxy presents upstream: accepted on public routes only
    /// (`hail_shared::internal`).
    pub proxy_token: Arc<str>,
    /// What the realtime side presents to keep a driver present.
    pub presence_token: Arc<str>,
    /// The OpenAPI document, once assembled from the services' parts.
    pub contract: Arc<Contract>,
    pub redis: ConnectionManager,
    pub limits: Arc<Limiters>,
    pub sockets: SocketRegistry,
    /// Every socket's watcher (presence, token expiry); shutdown waits for them.
    pub socket_tasks: TaskTracker,
}

pub struct Upstreams {
    pub user: String,
    pub driver: String,
    pub trip: String,
}

impl Upstreams {
    pub fn base_url(&self, upstream: Upstream) -> &str {
        match upstream {
            Upstream::User => &self.user,
            Upstream::Driver => &self.driver,
            Upstream::Trip => &self.trip,
        }
    }
}

impl AppState {
    pub fn new(config: &Config, redis: ConnectionManager) -> Result<Self, StartError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| StartError::Http(e.to_string()))?;
        let trim = |url: &str| url.trim_end_matches('/').to_string();
        Ok(Self {
            tokens: TokenKeys::new(&config.jwt_secret, config.jwt_ttl),
            http,
            upstreams: Arc::new(Upstreams {
                user: trim(&config.upstreams.user),
                driver: trim(&config.upstreams.driver),
                trip: trim(&config.upstreams.trip),
            }),
            proxy_token: peer_token(&config.internal_token, Peer::Gateway).into(),
            presence_token: peer_token(&config.internal_token, Peer::Realtime).into(),
            contract: Arc::new(Contract::new(peer_token(
                &config.internal_token,
                Peer::OpenApi,
            ))),
            redis,
            limits: Arc::new(Limiters::new(&config.rate_limits)),
            sockets: SocketRegistry::new(
                Keys::new(config.redis_prefix.clone()),
                config.rate_limits.sockets_per_user,
            ),
            socket_tasks: TaskTracker::new(),
        })
    }
}
