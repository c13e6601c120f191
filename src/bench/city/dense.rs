//! `hail bench dense`: the city bench in a dense city (issue 16). After the
//! city's real drivers are online (through the public API), filler drivers
//! are added step by step (10 k, 100 k, 1 M by default) straight through the
//! driver service's own `Index` code into the stack's Redis, with profile
//! rows in the stack's Postgres (so a claim on one is a real claim). At each
//! step: the candidate search at random spots (the Index's ring search, as
//! the driver service runs it) beside one 3 km GEOSEARCH (the search before
//! rings), and Redis memory per driver. Then, at the last step, the city
//! bench's phases run as usual, plus socket ingest.
//!
//! Fillers never come nearer than ~30 m to a real driver, so a trip made at
//! a watched driver's spot (and its redispatch partner 22 m away) is still
//! offered to the watched drivers, whose sockets time it. Their presence
//! lasts an hour (no keep-alive load); they are deleted at the end.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::{stream, StreamExt, TryStreamExt};
use hail_driver::index::Index;
use hail_shared::redis_conn::RedisConn;
use hail_shared::{
    api::drivers::{DriverStatus, LocationUpdate},
    cities::{Cities, DEFAULT_CITY},
    keys::Keys,
};
use rand::{rngs::StdRng, SeedableRng};
use sqlx::PgPool;
use uuid::Uuid;

use super::{fleet::Fleet, report::Report, CityArgs};
use crate::{
    bench::latency::{ms, Latencies},
    simulate::geo::{BBox, LatLng},
};

#[derive(clap::Args, Debug)]
pub struct DenseArgs {
    #[command(flatten)]
    pub city: CityArgs,
    /// Filler drivers to reach, step by step; the search is timed at each.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    pub fill: Vec<usize>,
    /// The stack's Postgres: fillers get driver profiles there.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/hail"
    )]
    pub database_url: String,
    /// The stack's `HAIL_REDIS_PREFIX`, so fillers land in its index.
    #[arg(long, env = "HAIL_REDIS_PREFIX", default_value = "")]
    pub prefix: String,
    /// Candidate searches timed at each step.
    #[arg(long, default_value_t = 2000)]
    pub searches: usize,
    /// Driver sockets pinging at once in the socket-ingest phase (run the
    /// stack with `HAIL_RATE_LIMIT_SOCKET_EVENTS_PER_MIN` and `_BURST` high
    /// enough, or most pings are answered `rate_limited`).
    #[arg(long, default_value_t = 1000)]
    pub ingest_sockets: usize,
}

/// The matcher's search: 3 km, the five nearest (`CANDIDATES_PER_SEARCH`),
/// a first COUNT of 4 members per wanted driver (`HAIL_CANDIDATE_OVERFETCH`).
const RADIUS_KM: f64 = 3.0;
const NEAREST: usize = 5;
const OVERFETCH: usize = 4;
/// One-shot 3 km GEOSEARCHes timed per step (the comparison row).
const SINGLE_SEARCHES: usize = 500;
/// Fillers written at once, and per Postgres statement.
const FILL_CONCURRENCY: usize = 512;
const FILL_CHUNK: usize = 10_000;
/// A filler's presence: longer than any run, so no keep-alive is needed.
const FILLER_PRESENCE_SECS: i64 = 3600;
/// Grid cell (degrees, ~33 m) of the no-filler zone around real drivers.
const KEEP_CLEAR_DEG: f64 = 0.0003;

/// The fillers written so far, and how to remove them.
pub(super) struct Fillers {
    redis: RedisConn,
    pool: PgPool,
    keys: Keys,
    index: Index,
    ids: Vec<Uuid>,
    clear: HashSet<(i64, i64)>,
    rng: StdRng,
}

fn cell(at: LatLng) -> (i64, i64) {
    (
        (at.lat / KEEP_CLEAR_DEG).floor() as i64,
        (at.lng / KEEP_CLEAR_DEG).floor() as i64,
    )
}

impl Fillers {
    pub(super) async fn new(
        args: &DenseArgs,
        redis: RedisConn,
        fleet: &Fleet,
    ) -> anyhow::Result<Self> {
        let pool = PgPool::connect(&args.database_url).await.with_context(|| {
            format!(
                "Postgres does not answer at {} (pass --database-url, the stack's DATABASE_URL)",
                hail_shared::db::redact(&args.database_url)
            )
        })?;
        let keys = Keys::new(args.prefix.clone());
        // Every cell a real driver is in, and its neighbours.
        let mut clear = HashSet::new();
        for (_, at) in &fleet.drivers {
            let (la, ln) = cell(*at);
            for dla in -1..=1 {
                for dln in -1..=1 {
                    clear.insert((la + dla, ln + dln));
                }
            }
        }
        Ok(Self {
            index: Index::new(keys.clone(), Arc::new(Cities::builtin())),
            redis,
            pool,
            keys,
            ids: Vec::new(),
            clear,
            rng: StdRng::seed_from_u64(1_000_003),
        })
    }

    /// Adds fillers until there are `n`; shows progress.
    pub(super) async fn fill_to(&mut self, n: usize) -> anyhow::Result<()> {
        let started = Instant::now();
        while self.ids.len() < n {
            let want = (n - self.ids.len()).min(FILL_CHUNK);
            let mut chunk = Vec::with_capacity(want);
            while chunk.len() < want {
                let at = BBox::SINGAPORE.random_point(&mut self.rng);
                if !self.clear.contains(&cell(at)) {
                    chunk.push((Uuid::new_v4(), at));
                }
            }
            let ids: Vec<Uuid> = chunk.iter().map(|(id, _)| *id).collect();
            sqlx::query(
                "INSERT INTO driver.drivers (id, status) SELECT unnest($1::uuid[]), 'ONLINE'",
            )
            .bind(&ids)
            .execute(&self.pool)
            .await
            .context("insert filler driver profiles")?;
            stream::iter(chunk)
                .map(|(id, at)| self.seed(id, at))
                .buffer_unordered(FILL_CONCURRENCY)
                .try_collect::<()>()
                .await
                .context("index the filler drivers")?;
            self.ids.extend(ids);
            if self.ids.len() % 100_000 < FILL_CHUNK || self.ids.len() == n {
                eprintln!(
                    "[fill] {} of {n} filler drivers ({:.0} s)",
                    self.ids.len(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        Ok(())
    }

    /// As the service does it: the status mirrored, a first ping, then a
    /// presence that outlasts the run.
    async fn seed(&self, id: Uuid, at: LatLng) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        self.index
            .set_status(&mut redis, id, DriverStatus::Online, 1)
            .await?;
        let update = LocationUpdate {
            lat: at.lat,
            lng: at.lng,
            heading: None,
            speed_kmh: None,
        };
        self.index.ping(&mut redis, id, &update).await?;
        // Present, and seen, for the whole run: no keep-alive load, and the
        // sweeper has nothing to look at.
        // The last-seen set's scores are the drivers' stamps, in
        // microseconds (`index_sync.lua`): a score in milliseconds looked
        // silent for decades, and the sweeper took every filler out of the
        // index within seconds (the session 9 and 10 dense runs searched an
        // index of the 2,000 real drivers only).
        let until = (chrono::Utc::now().timestamp_millis() + FILLER_PRESENCE_SECS * 1000) * 1000;
        redis::pipe()
            .expire(self.keys.driver_presence(id), FILLER_PRESENCE_SECS)
            .ignore()
            .zadd(self.keys.drivers_seen(DEFAULT_CITY), id.to_string(), until)
            .ignore()
            .query_async::<()>(&mut redis)
            .await?;
        Ok(())
    }

    /// Removes every filler from Redis and Postgres (best effort, reported).
    pub(super) async fn remove(&self) {
        eprintln!("[cleanup] removing {} filler drivers", self.ids.len());
        let mut redis = self.redis.clone();
        let index = self.keys.driver_locations(DEFAULT_CITY);
        for chunk in self.ids.chunks(FILL_CHUNK) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.unlink(self.keys.driver_status(*id))
                    .unlink(self.keys.driver_presence(*id))
                    .unlink(self.keys.driver_position(*id))
                    .zrem(&index, id.to_string())
                    .ignore()
                    .zrem(self.keys.drivers_seen(DEFAULT_CITY), id.to_string())
                    .ignore();
            }
            let removed: redis::RedisResult<()> = pipe.query_async(&mut redis).await;
            if let Err(err) = removed {
                eprintln!("[cleanup] some fillers stay in Redis: {err}");
                return;
            }
            let deleted = sqlx::query("DELETE FROM driver.drivers WHERE id = ANY($1)")
                .bind(chunk)
                .execute(&self.pool)
                .await;
            if let Err(err) = deleted {
                eprintln!("[cleanup] some filler profiles stay in Postgres: {err}");
                return;
            }
        }
    }
}

/// Redis's `used_memory`, in bytes.
pub(super) async fn used_memory(redis: &mut RedisConn) -> anyhow::Result<u64> {
    let info: String = redis::cmd("INFO").arg("memory").query_async(redis).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .context("INFO memory has no used_memory")
}

/// One step: fill to `n`, then time the Index's ring search and one 3 km
/// GEOSEARCH at the same random spots.
pub(super) async fn step(
    fillers: &mut Fillers,
    n: usize,
    searches: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut redis = fillers.redis.clone();
    let before = used_memory(&mut redis).await?;
    let had = fillers.ids.len();
    fillers.fill_to(n).await?;
    let after = used_memory(&mut redis).await?;
    let added = (fillers.ids.len() - had).max(1) as u64;
    eprintln!("[search] {searches} searches among {n} filler drivers");
    let mut rng = StdRng::seed_from_u64(n as u64);
    let spots: Vec<LatLng> = (0..searches.max(1))
        .map(|_| BBox::SINGAPORE.random_point(&mut rng))
        .collect();
    let (mut rings, mut found) = (Vec::new(), 0usize);
    for at in &spots {
        let t0 = Instant::now();
        let got = fillers
            .index
            .candidates(&mut redis, *at, RADIUS_KM, NEAREST, OVERFETCH, &[])
            .await?;
        rings.push(t0.elapsed());
        found += got.len();
    }
    // The search before rings costs up to ~90 ms at 1 M drivers: fewer of
    // them keep the step short.
    let index = fillers.keys.driver_locations(DEFAULT_CITY);
    let mut single = Vec::new();
    for at in spots.iter().take(SINGLE_SEARCHES) {
        let t0 = Instant::now();
        let _: Vec<(String, f64)> = redis::cmd("GEOSEARCH")
            .arg(&index)
            .arg("FROMLONLAT")
            .arg(at.lng)
            .arg(at.lat)
            .arg("BYRADIUS")
            .arg(RADIUS_KM)
            .arg("km")
            .arg("ASC")
            .arg("COUNT")
            .arg(NEAREST * 50)
            .arg("WITHDIST")
            .query_async(&mut redis)
            .await?;
        single.push(t0.elapsed());
    }
    let (rings, single) = (Latencies::of(rings)?, Latencies::of(single)?);
    for (q, name) in [(0.5, "p50"), (0.99, "p99")] {
        let (h, r) = (rings.percentile(q), single.percentile(q));
        eprintln!(
            "[search] {} drivers {name}: rings {}, one 3 km GEOSEARCH {}",
            label(n),
            ms(h),
            ms(r)
        );
        report.compare(
            format!("candidate search, {} drivers, {name}", label(n)),
            ms(h),
            format!("{} (one 3 km GEOSEARCH)", ms(r)),
            match (h, r) {
                (Some(h), Some(r)) if h > Duration::ZERO => {
                    format!("{:.1}x faster", r.as_secs_f64() / h.as_secs_f64())
                }
                _ => String::new(),
            },
        );
    }
    report.row(
        format!("drivers found per search, {} drivers", label(n)),
        format!("{:.2} of {NEAREST}", found as f64 / spots.len() as f64),
    );
    let per_driver = after.saturating_sub(before) / added;
    eprintln!("[memory] {per_driver} bytes of Redis per added driver");
    report.row(
        format!("Redis memory per added driver, {} drivers", label(n)),
        format!("{per_driver} bytes"),
    );
    Ok(())
}

fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{} M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{} k", n / 1_000),
        n => n.to_string(),
    }
}
