use std::{sync::Arc, time::Duration};

use hail_shared::redis_conn::RedisConn;
use hail_shared::upstream::Instances;
use hail_shared::{
    auth::TokenKeys,
    config::Config,
    internal::{peer_token, Peer},
    keys::Keys,
    startup::StartError,
    ApiError,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;

use crate::{
    domain::routing::Upstream, openapi::Contract, rate_limit::Limiters, sockets::SocketRegistry,
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
    pub redis: RedisConn,
    pub limits: Arc<Limiters>,
    pub sockets: SocketRegistry,
    /// Every socket's watcher (presence, token expiry); shutdown waits for them.
    pub socket_tasks: TaskTracker,
    /// How often a driver's open socket refreshes its presence
    /// (`HAIL_PRESENCE_REFRESH_MS`).
    pub presence_refresh: Duration,
    /// The cities served (`GET /api/v1/cities`).
    pub cities: Arc<hail_shared::cities::Cities>,
    /// Where socket pings are queued for their batch.
    pub pings: crate::realtime::pings::Pings,
    /// How long a driver's socket has to acknowledge an `offer`
    /// (`HAIL_OFFER_ACK_MS`; `None`: no limit but the offer's own).
    pub offer_ack_window: Option<Duration>,
    /// Offers the bridge revoked lately, so a reconnecting driver is never
    /// sent one again after its revoke.
    pub revoked: crate::realtime::delivery::RevokedOffers,
    /// The trips whose positions this gateway hears (its sockets watch them).
    pub watched: crate::realtime::watch::Watched,
}

pub struct Upstreams {
    pub user: Instances,
    pub driver: Instances,
    pub trip: Instances,
    /// Requests in flight to each service, at most `HAIL_GATEWAY_MAX_IN_FLIGHT`.
    in_flight: [Arc<Semaphore>; 3],
}

impl Upstreams {
    /// A place for one more request to `upstream`, or 503 at once when it
    /// already has its maximum in flight (rather than queueing behind them).
    pub fn admit(&self, upstream: Upstream) -> Result<OwnedSemaphorePermit, ApiError> {
        let slots = match upstream {
            Upstream::User => &self.in_flight[0],
            Upstream::Driver => &self.in_flight[1],
            Upstream::Trip => &self.in_flight[2],
        };
        slots.clone().try_acquire_owned().map_err(|_| {
            metrics::counter!("gateway_shed_total", "upstream" => upstream.name()).increment(1);
            ApiError::Unavailable(format!(
                "the {} service is at capacity; retry shortly",
                upstream.name()
            ))
        })
    }

    /// The service's instances (one URL behind a load balancer, or several).
    pub fn instances(&self, upstream: Upstream) -> &Instances {
        match upstream {
            Upstream::User => &self.user,
            Upstream::Driver => &self.driver,
            Upstream::Trip => &self.trip,
        }
    }
}

impl AppState {
    pub fn new(
        config: &Config,
        redis: RedisConn,
        pings: crate::realtime::pings::Pings,
    ) -> Result<Self, StartError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| StartError::Http(e.to_string()))?;
        Ok(Self {
            tokens: TokenKeys::new(&config.jwt_secret, config.jwt_ttl),
            http,
            upstreams: Arc::new(Upstreams {
                user: Instances::new(&config.upstreams.user),
                driver: Instances::new(&config.upstreams.driver),
                trip: Instances::new(&config.upstreams.trip),
                in_flight: std::array::from_fn(|_| {
                    Arc::new(Semaphore::new(config.gateway_max_in_flight))
                }),
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
            presence_refresh: config.presence_refresh,
            cities: config.cities.clone(),
            pings,
            offer_ack_window: config.delivery.ack_window,
            revoked: Default::default(),
            watched: crate::realtime::watch::Watched::new(Keys::new(config.redis_prefix.clone())),
        })
    }
}
