use std::sync::Arc;

use hail_shared::driver_client::DriverClient;
use hail_shared::redis_conn::RedisConn;
use hail_shared::{
    config::Config,
    internal::{self, Peer},
    keys::Keys,
    startup::StartError,
};
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::{domain::dispatch::CityPolicies, rooms::Rooms, wake::Wakes};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub redis: RedisConn,
    pub keys: Keys,
    pub drivers: DriverClient,
    /// Each city's search and match mode (`policies.of(&trip.city)`).
    pub policies: Arc<CityPolicies>,
    pub step_lease: std::time::Duration,
    /// The test hook of `DispatchConfig::crash_after_claim`.
    #[cfg(feature = "failpoints")]
    pub crash_after_claim: bool,
    /// The test hook of `DispatchConfig::pause_before_batch_claim`.
    #[cfg(feature = "failpoints")]
    pub pause_before_batch_claim: Option<std::time::Duration>,
    /// Cancels a rider may make in 10 minutes before requests are 429.
    pub rider_cancel_limit: u32,
    /// How near the pickup `arrive` is allowed (`HAIL_ARRIVE_RADIUS_M`).
    pub arrive_radius_m: f64,
    /// Wakes the matchers, here and in every other instance.
    pub wakes: Wakes,
    /// Wakes the outbox relay after a commit that queued events.
    pub outbox_wake: Arc<Notify>,
    /// The carpool rooms (their keys, scripts and ride rows).
    pub rooms: Rooms,
    /// The cities served: a trip's pickup must lie in one.
    pub cities: Arc<hail_shared::cities::Cities>,
    /// How long a driver whose socket dropped with an offer open has to
    /// come back (`HAIL_OFFER_RECONNECT_GRACE_SECS`).
    pub reconnect_grace: std::time::Duration,
}

impl AppState {
    pub fn new(pool: PgPool, redis: RedisConn, config: &Config) -> Result<Self, StartError> {
        let keys = Keys::new(config.redis_prefix.clone());
        Ok(Self {
            cities: config.cities.clone(),
            rooms: Rooms::new(
                redis.clone(),
                pool.clone(),
                keys.clone(),
                config.rooms.clone(),
                config.cities.clone(),
            ),
            pool,
            redis,
            keys,
            drivers: DriverClient::new(
                &config.upstreams.driver,
                &internal::peer_token(&config.internal_token, Peer::Trip),
                config.request_timeout,
            )?,
            policies: Arc::new(CityPolicies::new(&config.dispatch, &config.cities)),
            step_lease: config.dispatch.step_lease,
            #[cfg(feature = "failpoints")]
            crash_after_claim: config.dispatch.crash_after_claim,
            #[cfg(feature = "failpoints")]
            pause_before_batch_claim: config.dispatch.pause_before_batch_claim,
            rider_cancel_limit: config.rate_limits.rider_cancel_limit,
            arrive_radius_m: config.arrive_radius_m,
            wakes: Wakes::default(),
            outbox_wake: Arc::new(Notify::new()),
            reconnect_grace: config.delivery.reconnect_grace,
        })
    }

    /// The same state over another pool (background work has its own).
    pub fn with_pool(&self, pool: PgPool) -> Self {
        Self {
            pool,
            ..self.clone()
        }
    }
}
