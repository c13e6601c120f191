use std::{sync::Arc, time::Duration};

use hail_shared::redis_conn::RedisConn;
use hail_shared::{
    config::Config,
    internal::{peer_token, Peer},
    keys::Keys,
    startup::StartError,
};
use sqlx::PgPool;

use crate::index::Index;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Claims, and releases of claims no trip confirmed: commits that do not
    /// wait for the disk (`hail_shared::db::Commits::Relaxed`). Safe because
    /// both ends are re-derived when a crash of the database's host forgets
    /// them: a claim's row is written before its trip's offer (same WAL, so
    /// a lost claim loses its offer too and the accept answers
    /// `offer_expired`), and a lost release leaves an unconfirmed claim that
    /// runs out and is reconciled (`crate::claims`). Everything that answers
    /// a person, and the release of a confirmed ride, uses `pool`.
    pub claims_pool: PgPool,
    pub redis: RedisConn,
    pub index: Index,
    pub candidate_overfetch: usize,
    /// For asking the trip service about overdue claims (`claims`).
    pub http: reqwest::Client,
    pub trip: hail_shared::upstream::Instances,
    pub trip_token: Arc<str>,
    /// The cities served: `GET /drivers/me` names the one a driver is in.
    pub cities: Arc<hail_shared::cities::Cities>,
    /// Where pings of drivers on a trip go to be kept (`crate::rides`).
    pub rides: crate::rides::RideLog,
}

impl AppState {
    pub fn new(
        (pool, claims_pool): (PgPool, PgPool),
        redis: RedisConn,
        config: &Config,
        rides: crate::rides::RideLog,
    ) -> Result<Self, StartError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| StartError::Http(e.to_string()))?;
        Ok(Self {
            cities: config.cities.clone(),
            pool,
            claims_pool,
            redis,
            index: Index::new(
                Keys::new(config.redis_prefix.clone()),
                config.cities.clone(),
            ),
            candidate_overfetch: config.dispatch.candidate_overfetch,
            http,
            trip: hail_shared::upstream::Instances::new(&config.upstreams.trip),
            trip_token: peer_token(&config.internal_token, Peer::Driver).into(),
            rides,
        })
    }
}
