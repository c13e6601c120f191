//! The raw-Redis ceiling: the Redis work behind each of Hail's figures, done
//! straight against the stack's Redis through the driver service's own
//! `Index` (its ping and claim scripts, its candidate search), with none of
//! Hail's HTTP hops or Postgres. A change to a script's keys or arguments
//! changes the service and this alike, at compile time.
//!
//! Its drivers live under a fresh `bench-ceiling:<uuid>:` prefix, apart from
//! the stack's, and `clean` deletes them.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::{stream, StreamExt, TryStreamExt};
use hail_driver::index::{Index, Leave};
use hail_shared::redis_conn::RedisConn;
use hail_shared::{
    api::drivers::{ClaimWish, DriverStatus, LocationUpdate},
    cities::{Cities, DEFAULT_CITY},
    keys::Keys,
    redis_conn,
};
use rand::{rngs::StdRng, SeedableRng};
use redis::AsyncCommands;
use uuid::Uuid;

use crate::{
    bench::latency::Latencies,
    simulate::geo::{BBox, LatLng},
};

/// The dispatch step searches as the matcher's first pass does: 3 km, the
/// five nearest matchable drivers, rings from at most 250 m (less in a dense city) with a first COUNT of
/// 5 x 4 = 20 (`HAIL_CANDIDATE_OVERFETCH`'s default).
const SEARCH_RADIUS_KM: f64 = 3.0;
const NEAREST: usize = 5;
const OVERFETCH: usize = 4;
const CLAIM_TTL_SECS: u64 = 30;
/// Scripts and pings in flight while seeding or keeping the drivers alive.
const SEED_CONCURRENCY: usize = 64;

/// One multiplexed connection to the stack's Redis, as a service holds.
pub(super) async fn connect(url: &str, cluster: bool) -> anyhow::Result<RedisConn> {
    redis_conn::connect(url, cluster)
        .await
        .with_context(|| format!("Redis does not answer at {url} (pass --redis or REDIS_URL)"))
}

pub(super) struct Ceiling {
    redis: RedisConn,
    keys: Keys,
    index: Index,
    drivers: Vec<(Uuid, LatLng)>,
}

impl Ceiling {
    /// `drivers` ONLINE drivers at random spots in the box, put there as the
    /// service does: the status mirrored, then a first ping.
    pub(super) async fn new(redis: RedisConn, drivers: usize) -> anyhow::Result<Self> {
        let keys = Keys::new(format!("bench-ceiling:{}:", Uuid::new_v4().simple()));
        let mut rng = StdRng::seed_from_u64(7);
        let drivers = (0..drivers.max(1))
            .map(|_| (Uuid::new_v4(), BBox::SINGAPORE.random_point(&mut rng)))
            .collect();
        let ceiling = Self {
            redis,
            index: Index::new(keys.clone(), Arc::new(Cities::builtin())),
            keys,
            drivers,
        };
        stream::iter(&ceiling.drivers)
            .map(|&(id, at)| ceiling.seed(id, at))
            .buffer_unordered(SEED_CONCURRENCY)
            .try_collect::<()>()
            .await
            .context("seed the Redis ceiling's drivers")?;
        // Loads claim_first.lua (a claim for no trip), so that every timed
        // call below is an EVALSHA, as in the service.
        ceiling
            .index
            .claim_first(&mut ceiling.redis.clone(), &[], CLAIM_TTL_SECS)
            .await?;
        Ok(ceiling)
    }

    async fn seed(&self, id: Uuid, at: LatLng) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        self.index
            .set_status(&mut redis, id, DriverStatus::Online, 1)
            .await?;
        self.ping(&mut redis, id, at).await?;
        Ok(())
    }

    async fn ping(&self, redis: &mut RedisConn, id: Uuid, at: LatLng) -> redis::RedisResult<()> {
        let update = LocationUpdate {
            lat: at.lat,
            lng: at.lng,
            heading: None,
            speed_kmh: None,
        };
        self.index.ping(redis, id, &update).await.map(|_| ())
    }

    /// The driver service's ping, `concurrency` in flight round-robin over
    /// the drivers for `secs`: scripts/s and the latency of each.
    pub(super) async fn ingest(
        &self,
        concurrency: usize,
        secs: Duration,
    ) -> anyhow::Result<(f64, Latencies)> {
        let next = AtomicUsize::new(0);
        let deadline = Instant::now() + secs;
        let started = Instant::now();
        let workers: Vec<Vec<Duration>> = stream::iter(0..concurrency.max(1))
            .map(|_| {
                let (mut redis, next) = (self.redis.clone(), &next);
                async move {
                    let mut lat = Vec::new();
                    while Instant::now() < deadline {
                        let i = next.fetch_add(1, Ordering::Relaxed) % self.drivers.len();
                        let (id, at) = self.drivers[i];
                        let t0 = Instant::now();
                        if self.ping(&mut redis, id, at).await.is_ok() {
                            lat.push(t0.elapsed());
                        }
                    }
                    lat
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let elapsed = started.elapsed().as_secs_f64();
        let lat = Latencies::of(workers.into_iter().flatten())?;
        Ok((lat.len() as f64 / elapsed, lat))
    }

    /// `n` dispatch steps in sequence, each at a random spot: the Index's
    /// candidate search (one GEOSEARCH, then the candidates' presence,
    /// status and lock in one pipeline) and claim_first.lua for one trip
    /// over the five nearest. The claimed driver is then released and
    /// pinged back into the index, outside the timing.
    pub(super) async fn dispatch_steps(&self, n: usize) -> anyhow::Result<Latencies> {
        // Presence lasts 30 s and this runs minutes after the seeding: ping
        // every driver once, as the city's keep-alive does for Hail's.
        self.keep_alive().await?;
        let mut redis = self.redis.clone();
        let mut rng = StdRng::seed_from_u64(9);
        let mut lat = Latencies::new()?;
        for _ in 0..n {
            let at = BBox::SINGAPORE.random_point(&mut rng);
            let trip = Uuid::new_v4();
            let t0 = Instant::now();
            let found = self
                .index
                .candidates(&mut redis, at, SEARCH_RADIUS_KM, NEAREST, OVERFETCH, &[])
                .await?;
            if found.is_empty() {
                lat.record(t0.elapsed());
                continue;
            }
            let wish = ClaimWish {
                trip_id: trip,
                city: DEFAULT_CITY.into(),
                drivers: found.iter().map(|d| d.driver_id).collect(),
            };
            let won = self
                .index
                .claim_first(&mut redis, &[wish], CLAIM_TTL_SECS)
                .await?;
            lat.record(t0.elapsed());
            let Some(id) = won.first().copied().flatten() else {
                continue;
            };
            // Put it back so a later step can find it.
            if let Some(d) = found.iter().find(|d| d.driver_id == id) {
                self.index
                    .release(&mut redis, id, trip, Leave::Matchable)
                    .await?;
                self.ping(&mut redis, id, LatLng::new(d.lat, d.lng)).await?;
            }
        }
        Ok(lat)
    }

    async fn keep_alive(&self) -> anyhow::Result<()> {
        stream::iter(&self.drivers)
            .map(|&(id, at)| async move { self.ping(&mut self.redis.clone(), id, at).await })
            .buffer_unordered(SEED_CONCURRENCY)
            .try_collect::<()>()
            .await
            .context("ping the Redis ceiling's drivers")
    }

    /// Deletes every key under the ceiling's prefix (best effort).
    pub(super) async fn clean(&self) {
        let mut redis = self.redis.clone();
        let pattern = format!("{}*", self.keys.prefix());
        let mut found: Vec<String> = Vec::new();
        if let Ok(mut iter) = redis.scan_match::<_, String>(&pattern).await {
            while let Some(Ok(key)) = iter.next_item().await {
                found.push(key);
            }
        }
        for chunk in found.chunks(1000) {
            let _: redis::RedisResult<()> = redis.unlink(chunk).await;
        }
    }
}
