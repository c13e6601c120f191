//! `hail bench ingest|dispatch|redispatch|all`: a city of online drivers
//! (10,000 by default, spread over 30 km around Singapore) on a running
//! stack, then:
//!
//! - ingest: REST location pings through the gateway, N in flight, for a
//!   fixed time: pings/s and latency;
//! - dispatch: trips requested at a fixed rate, each at the exact spot of a
//!   driver watching on its own socket (so that driver is the nearest): time
//!   from the request to the `offer` on that socket, or, against a stack in
//!   auto mode, to the `trip:update` ASSIGNED on it;
//! - redispatch: the offered driver declines; time from the decline to the
//!   next driver's `offer` (a second watched driver 22 m away);
//! - correctness: a watched driver offered or assigned two trips at once
//!   (double assignment), a trip never offered to anyone (lost request);
//! - beside each figure, the same Redis work done straight against Redis in
//!   the same run (the driver service's own ping and claim Lua scripts), so
//!   Hail reads as a ratio of what this machine's Redis can do.
//!
//! Between phases every driver is pinged again every `--keepalive` seconds
//! (presence lasts 30 s), which is background load a real city has too.
//! Accounts are `bench-city-driver-<n>@bench.hail` (a re-run logs in); every
//! trip made is cancelled at the end.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::{stream, StreamExt};
use hail_shared::{
    api::trips::{DispatchEvent, Trip, TripStatus},
    keys::Keys,
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use redis::AsyncCommands;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use uuid::Uuid;

use super::latency::{ms, Latencies};
use crate::simulate::{
    api::{connect_socket, Api, Session},
    geo::{BBox, LatLng},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Ingest,
    Dispatch,
    Redispatch,
    All,
}

#[derive(clap::Args, Debug)]
pub struct CityArgs {
    /// The gateway to measure.
    #[arg(long, default_value = "http://localhost:3000")]
    pub gateway: String,
    /// The Redis the stack uses, for the raw-Redis ceiling (keys under a
    /// fresh `bench-ceiling:` prefix, deleted afterwards).
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// Online drivers in the city.
    #[arg(long, default_value_t = 10_000)]
    pub drivers: usize,
    /// Seconds of location ingest.
    #[arg(long, default_value_t = 10)]
    pub ingest_secs: u64,
    /// Location pings in flight at once (ingest and its Redis ceiling).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Trip requests per second (dispatch).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Trip requests to time (dispatch); each needs its own rider and watched driver.
    #[arg(long, default_value_t = 1000)]
    pub requests: usize,
    /// Declines to time (redispatch), started per second at --redispatch-rate.
    #[arg(long, default_value_t = 300)]
    pub redispatches: usize,
    #[arg(long, default_value_t = 20.0)]
    pub redispatch_rate: f64,
    /// Seconds between keep-alive pings of every driver between phases.
    #[arg(long, default_value_t = 20)]
    pub keepalive: u64,
    /// Sign-ups/logins in flight at once (each hashes a password on the server).
    #[arg(long, default_value_t = 32)]
    pub setup_concurrency: usize,
}

const PASSWORD: &str = "bench-city-password";
/// B stands this far north of A (about 22 m): the next nearest driver.
const PAIR_OFFSET_LAT: f64 = 0.0002;

#[derive(Clone)]
struct Fleet {
    drivers: Vec<(Session, LatLng)>,
}

/// One thing a watched socket heard: (watched driver index, when, kind).
type Hearing = (usize, Instant, &'static str);

/// A watched driver's hold on a trip: (trip, from, until).
type Hold = (Uuid, Instant, Instant);

/// What the watched sockets heard, by trip.
#[derive(Default)]
struct Heard {
    by_trip: Mutex<HashMap<Uuid, Vec<Hearing>>>,
    /// Per watched driver: (trip, from, until) for each offer or assignment
    /// it held; until = the offer's expiry, or when its decline was answered.
    holds: Mutex<HashMap<usize, Vec<Hold>>>,
    notify: Notify,
}

impl Heard {
    fn record(&self, trip: Uuid, driver: usize, kind: &'static str, holds_for: Duration) {
        let at = Instant::now();
        if let Ok(mut map) = self.by_trip.lock() {
            map.entry(trip).or_default().push((driver, at, kind));
        }
        if let Ok(mut holds) = self.holds.lock() {
            holds
                .entry(driver)
                .or_default()
                .push((trip, at, at + holds_for));
        }
        self.notify.notify_waiters();
    }

    /// `driver`'s decline of `trip` was answered: it holds it no longer.
    fn release(&self, trip: Uuid, driver: usize) {
        let now = Instant::now();
        if let Ok(mut holds) = self.holds.lock() {
            for hold in holds.entry(driver).or_default().iter_mut() {
                if hold.0 == trip {
                    hold.2 = hold.2.min(now);
                }
            }
        }
    }

    /// Forgets every hold (the phase's trips were cancelled).
    fn clear_holds(&self) {
        if let Ok(mut holds) = self.holds.lock() {
            holds.clear();
        }
    }

    fn first(&self, trip: Uuid, want: impl Fn(usize) -> bool) -> Option<(usize, Instant)> {
        let map = self.by_trip.lock().ok()?;
        map.get(&trip)?
            .iter()
            .find(|(d, _, _)| want(*d))
            .map(|(d, at, _)| (*d, *at))
    }

    async fn wait(
        &self,
        trip: Uuid,
        within: Duration,
        want: impl Fn(usize) -> bool,
    ) -> Option<(usize, Instant)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.notify.notified();
            if let Some(found) = self.first(trip, &want) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.first(trip, &want);
            }
        }
    }

    /// Offers or assignments a watched driver got for one trip while it
    /// still held another.
    fn doubles(&self) -> usize {
        let Ok(holds) = self.holds.lock() else {
            return 0;
        };
        let mut found = 0;
        for list in holds.values() {
            let mut list = list.clone();
            list.sort_by_key(|h| h.1);
            let mut held: Option<(Uuid, Instant)> = None;
            for (trip, from, until) in list {
                if let Some((other, end)) = held {
                    if other != trip && from < end {
                        found += 1;
                    }
                }
                if held.is_none_or(|(_, end)| until > end) {
                    held = Some((trip, until));
                }
            }
        }
        found
    }
}

struct Row {
    measure: String,
    hail: String,
    redis: String,
    ratio: String,
}

fn row(measure: impl Into<String>, hail: impl Into<String>) -> Row {
    Row {
        measure: measure.into(),
        hail: hail.into(),
        redis: String::new(),
        ratio: String::new(),
    }
}

fn ratio(hail: Option<Duration>, redis: Option<Duration>) -> String {
    match (hail, redis) {
        (Some(h), Some(r)) if r > Duration::ZERO => {
            format!("{:.1}x", h.as_secs_f64() / r.as_secs_f64())
        }
        _ => String::new(),
    }
}

pub async fn city(scenario: Scenario, args: CityArgs) -> anyhow::Result<()> {
    let has = |s: Scenario| scenario == s || scenario == Scenario::All;
    let api = Api::new(&args.gateway)?;
    api.ready().await?;
    let redis = redis::Client::open(args.redis.as_str())
        .with_context(|| format!("--redis {:?} is not a Redis URL", args.redis))?
        .get_multiplexed_async_connection()
        .await
        .with_context(|| {
            format!(
                "Redis does not answer at {} (pass --redis or REDIS_URL)",
                args.redis
            )
        })?;
    let watched = if has(Scenario::Dispatch) {
        args.requests
    } else {
        0
    } + if has(Scenario::Redispatch) {
        2 * args.redispatches
    } else {
        0
    };
    anyhow::ensure!(
        watched <= args.drivers,
        "--drivers {} is fewer than the {watched} watched drivers the scenario needs: raise --drivers or lower --requests/--redispatches",
        args.drivers
    );
    let started = Instant::now();
    let mut rows = Vec::new();

    eprintln!("[setup] {} drivers: sign in, go online, first ping (each sign-in hashes a password on the server)", args.drivers);
    let first_pair = if has(Scenario::Dispatch) {
        args.requests
    } else {
        0
    };
    let pairs = if has(Scenario::Redispatch) {
        first_pair..first_pair + 2 * args.redispatches
    } else {
        0..0
    };
    let fleet = Arc::new(setup_fleet(&api, &args, pairs).await?);
    rows.push(row(
        "online drivers in the city",
        fleet.drivers.len().to_string(),
    ));
    let ceiling = Ceiling::new(redis.clone(), args.drivers).await?;

    if has(Scenario::Ingest) {
        eprintln!(
            "[ingest] {} s of REST pings, {} in flight",
            args.ingest_secs, args.concurrency
        );
        let (rate, lat) = ingest(&api, &fleet, &args).await;
        eprintln!("[ingest] the same ping script straight against Redis");
        let (redis_rate, redis_lat) = ceiling
            .ingest(args.concurrency, Duration::from_secs(args.ingest_secs))
            .await?;
        rows.push(Row {
            measure: format!(
                "location ingest through the gateway ({} in flight)",
                args.concurrency
            ),
            hail: format!("{rate:.0} pings/s"),
            redis: format!("{redis_rate:.0} scripts/s"),
            ratio: format!("{:.1}%", 100.0 * rate / redis_rate.max(1.0)),
        });
        let (lat, redis_lat) = (Latencies::of(lat)?, Latencies::of(redis_lat)?);
        for (q, name) in [(0.5, "p50"), (0.99, "p99")] {
            let (h, r) = (lat.percentile(q), redis_lat.percentile(q));
            rows.push(Row {
                measure: format!("ping latency {name}"),
                hail: ms(h),
                redis: ms(r),
                ratio: ratio(h, r),
            });
        }
    }

    let stop_keepalive = Arc::new(AtomicBool::new(false));
    let keepalive = tokio::spawn(keep_alive(
        api.clone(),
        fleet.clone(),
        args.keepalive,
        stop_keepalive.clone(),
    ));
    let riders_needed = (if has(Scenario::Dispatch) {
        args.requests
    } else {
        0
    })
    .max(if has(Scenario::Redispatch) {
        args.redispatches
    } else {
        0
    });
    let mut trips_made = Vec::new();
    if riders_needed > 0 {
        eprintln!("[setup] {riders_needed} riders and {watched} driver sockets");
        let riders = sign_in_all(&api, "rider", riders_needed, args.setup_concurrency).await?;
        let heard = Arc::new(Heard::default());
        let mut sockets = Vec::new();
        let connected: Vec<anyhow::Result<rust_socketio::asynchronous::Client>> =
            stream::iter(0..watched)
                .map(|i| {
                    let (api, fleet, heard) = (&api, &fleet, heard.clone());
                    async move { watch(api, fleet.drivers[i].0.clone(), i, heard).await }
                })
                .buffer_unordered(50)
                .collect()
                .await;
        for socket in connected {
            sockets.push(socket?);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let redis_step = Latencies::of(ceiling.dispatch_step(2000).await?)?;

        if has(Scenario::Dispatch) {
            eprintln!("[dispatch] {} requests at {}/s", args.requests, args.rate);
            let d = dispatch(&api, &fleet, &riders, &heard, &args).await;
            trips_made.extend(
                d.trips
                    .iter()
                    .map(|(trip, rider)| (*trip, riders[*rider].token())),
            );
            let what = if d.auto {
                "request -> ASSIGNED on the driver's socket (auto mode)"
            } else {
                "request -> offer on the driver's socket"
            };
            rows.push(row(
                format!("{what}: requests (achieved rate)"),
                format!("{} ({:.0}/s)", d.trips.len(), d.achieved_rate),
            ));
            let latencies = Latencies::of(d.latencies.iter().copied())?;
            for (q, name) in [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")] {
                let h = latencies.percentile(q);
                let r = redis_step.percentile(q);
                rows.push(Row {
                    measure: format!("{what} {name}"),
                    hail: ms(h),
                    redis: ms(r),
                    ratio: ratio(h, r),
                });
            }
            rows.push(row(
                "dispatch: offered to an unwatched driver instead",
                d.elsewhere.to_string(),
            ));
            rows.push(row(
                "dispatch: double assignments (a watched driver offered/assigned 2 trips)",
                heard.doubles().to_string(),
            ));
            rows.push(row(
                "dispatch: lost requests (never offered or assigned)",
                d.lost.to_string(),
            ));
            eprintln!("[dispatch] cancelling its trips");
            cancel_all(
                &api,
                &d.trips
                    .iter()
                    .map(|(t, r)| (*t, riders[*r].token()))
                    .collect::<Vec<_>>(),
            )
            .await;
            trips_made.clear();
            heard.clear_holds();
        }
        if has(Scenario::Redispatch) {
            let first = if has(Scenario::Dispatch) {
                args.requests
            } else {
                0
            };
            eprintln!(
                "[redispatch] {} declines, {} started per second",
                args.redispatches, args.redispatch_rate
            );
            let r = redispatch(&api, &fleet, &riders, &heard, &args, first).await;
            trips_made.extend(
                r.trips
                    .iter()
                    .map(|(trip, rider)| (*trip, riders[*rider].token())),
            );
            if r.auto {
                rows.push(row(
                    "decline -> next offer",
                    "n/a: the stack runs in auto mode (no offers)",
                ));
            } else {
                rows.push(row(
                    "decline -> next offer: declines timed",
                    r.latencies.len().to_string(),
                ));
                let latencies = Latencies::of(r.latencies.iter().copied())?;
                for (q, name) in [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")] {
                    let h = latencies.percentile(q);
                    let rr = redis_step.percentile(q);
                    rows.push(Row {
                        measure: format!("decline -> next offer {name}"),
                        hail: ms(h),
                        redis: ms(rr),
                        ratio: ratio(h, rr),
                    });
                }
                rows.push(row(
                    "redispatch: next offer went to an unwatched driver",
                    r.elsewhere.to_string(),
                ));
                rows.push(row(
                    "redispatch: double assignments",
                    heard.doubles().to_string(),
                ));
                rows.push(row(
                    "redispatch: lost (no offer after the decline)",
                    r.lost.to_string(),
                ));
            }
        }
        eprintln!(
            "[cleanup] cancelling {} trips, closing sockets",
            trips_made.len()
        );
        cancel_all(&api, &trips_made).await;
        for socket in sockets {
            let _ = socket.disconnect().await;
        }
    }
    stop_keepalive.store(true, Ordering::Relaxed);
    let _ = keepalive.await;
    ceiling.clean().await;
    eprintln!("[done] {:.0} s", started.elapsed().as_secs_f64());

    println!("\n| measure | Hail | raw Redis, same run | Hail vs Redis |\n|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r.measure, r.hail, r.redis, r.ratio);
    }
    println!("\nRaw Redis: ingest runs the driver service's ping.lua (GEOADD + SET + HSET + PUBLISH) on one multiplexed connection; dispatch/redispatch columns are one GEOSEARCH (3 km, COUNT 50) + one pipelined presence/status/lock check + claim_first.lua over the five nearest (SET EX + ZREM) + a release, round trips in sequence.");
    Ok(())
}

async fn sign_in_all(
    api: &Api,
    role: &str,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Session>> {
    // Tokens from an earlier run against this gateway skip a password hash
    // each (the server's Argon2 makes 10,000 sign-ins take minutes).
    let cache_path = std::env::temp_dir().join(format!(
        "hail-bench-city-{}-{role}.json",
        api.gateway
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    ));
    let mut cache: HashMap<String, (Uuid, String)> = std::fs::read(&cache_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    if let Some((_, token)) = cache.values().next() {
        let checked = api
            .call::<Value>(reqwest::Method::GET, "/auth/me", Some(token), None)
            .await;
        if checked.is_err() {
            cache.clear();
        }
    }
    let cache = &cache;
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    let results: Vec<anyhow::Result<Session>> = stream::iter(0..n)
        .map(|i| {
            let done = &done;
            async move {
                let email = format!("bench-city-{role}-{i}@bench.hail");
                if let Some((id, token)) = cache.get(&email) {
                    return Ok(Session::new(*id, token.clone(), &email, PASSWORD));
                }
                let session = api
                    .register_or_login(&email, PASSWORD, "Bench", role)
                    .await?;
                let k = done.fetch_add(1, Ordering::Relaxed) + 1;
                if k % 500 == 0 || k == n {
                    eprintln!(
                        "      {k}/{n} {role}s signed in ({:.0} s)",
                        started.elapsed().as_secs_f64()
                    );
                }
                Ok(session)
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let sessions: Vec<Session> = results.into_iter().collect::<anyhow::Result<_>>()?;
    let fresh: HashMap<String, (Uuid, String)> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                format!("bench-city-{role}-{i}@bench.hail"),
                (s.id, s.token()),
            )
        })
        .chain(cache.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect();
    if let Ok(bytes) = serde_json::to_vec(&fresh) {
        let _ = std::fs::write(&cache_path, bytes);
    }
    Ok(sessions)
}

/// Signs the drivers in, places them (redispatch pair k's B, watched index
/// `pairs.0 + 2k + 1`, 22 m north of its A), puts them online and pings once.
async fn setup_fleet(
    api: &Api,
    args: &CityArgs,
    pairs: std::ops::Range<usize>,
) -> anyhow::Result<Fleet> {
    let sessions = sign_in_all(api, "driver", args.drivers, args.setup_concurrency).await?;
    let mut rng = StdRng::seed_from_u64(42);
    let mut positions: Vec<LatLng> = (0..args.drivers)
        .map(|_| BBox::SINGAPORE.random_point(&mut rng))
        .collect();
    for b in pairs.clone().skip(1).step_by(2) {
        let a = positions[b - 1];
        positions[b] = LatLng::new(a.lat + PAIR_OFFSET_LAT, a.lng);
    }
    let drivers: Vec<(Session, LatLng)> = sessions.into_iter().zip(positions).collect();
    let done = AtomicUsize::new(0);
    let results: Vec<anyhow::Result<()>> = stream::iter(drivers.iter())
        .map(|(session, at)| {
            let done = &done;
            async move {
                match api
                    .post::<Value>("/drivers/me/online", session, json!({}))
                    .await
                {
                    Ok(_) => {}
                    // BUSY from an interrupted earlier run: it stays out of the city.
                    Err(err) if err.status == 409 => {}
                    Err(err) => return Err(anyhow::anyhow!("go online: {err}")),
                }
                api.post::<Value>(
                    "/drivers/me/location",
                    session,
                    json!({"lat": at.lat, "lng": at.lng}),
                )
                .await
                .map_err(|err| anyhow::anyhow!("first ping: {err}"))?;
                let k = done.fetch_add(1, Ordering::Relaxed) + 1;
                if k % 2000 == 0 {
                    eprintln!("      {k} online");
                }
                Ok(())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(Fleet { drivers })
}

/// Places redispatch pair `k` (watched indices `first + 2k`, `first + 2k + 1`).
fn pair_spot(fleet: &Fleet, first: usize, k: usize) -> (usize, usize, LatLng) {
    let a = first + 2 * k;
    (a, a + 1, fleet.drivers[a].1)
}

async fn ingest(api: &Api, fleet: &Fleet, args: &CityArgs) -> (f64, Vec<Duration>) {
    let next = AtomicUsize::new(0);
    let errors = AtomicUsize::new(0);
    let deadline = Instant::now() + Duration::from_secs(args.ingest_secs);
    let started = Instant::now();
    let workers: Vec<Vec<Duration>> = stream::iter(0..args.concurrency.max(1))
        .map(|w| {
            let (next, errors) = (&next, &errors);
            async move {
                let mut rng = StdRng::seed_from_u64(w as u64);
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed) % fleet.drivers.len();
                    let (session, at) = &fleet.drivers[i];
                    let body = json!({"lat": at.lat + rng.gen_range(-1e-5..1e-5), "lng": at.lng});
                    let t0 = Instant::now();
                    match api
                        .post::<Value>("/drivers/me/location", session, body)
                        .await
                    {
                        Ok(_) => lat.push(t0.elapsed()),
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                lat
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let lat: Vec<Duration> = workers.into_iter().flatten().collect();
    let errors = errors.load(Ordering::Relaxed);
    if errors > 0 {
        eprintln!("[ingest] {errors} pings refused or failed");
    }
    (lat.len() as f64 / elapsed, lat)
}

/// Pings every driver at its spot every `every` seconds until `stop`.
async fn keep_alive(api: Api, fleet: Arc<Fleet>, every: u64, stop: Arc<AtomicBool>) {
    let n = fleet.drivers.len().max(1);
    let gap = Duration::from_secs_f64(every.max(1) as f64 / n as f64 * 50.0);
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let chunk: Vec<usize> = (0..50).map(|k| (i + k) % n).collect();
        i = (i + 50) % n;
        let pace = tokio::time::sleep(gap);
        stream::iter(chunk)
            .for_each_concurrent(16, |k| {
                let (session, at) = &fleet.drivers[k];
                let api = &api;
                async move {
                    let _ = api
                        .post::<Value>(
                            "/drivers/me/location",
                            session,
                            json!({"lat": at.lat, "lng": at.lng}),
                        )
                        .await;
                }
            })
            .await;
        pace.await;
    }
}

async fn watch(
    api: &Api,
    session: Session,
    index: usize,
    heard: Arc<Heard>,
) -> anyhow::Result<rust_socketio::asynchronous::Client> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(&'static str, Value)>();
    let me = session.id;
    let client = connect_socket(
        &api.gateway,
        &session.token(),
        &["offer", "trip:update"],
        tx,
    )
    .await?;
    tokio::spawn(async move {
        while let Some((event, value)) = rx.recv().await {
            match event {
                "offer" => {
                    if let Some(trip) = value
                        .get("trip_id")
                        .and_then(Value::as_str)
                        .and_then(|t| Uuid::parse_str(t).ok())
                    {
                        let expires = value
                            .get("expires_at")
                            .and_then(Value::as_str)
                            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                            .map(|t| t.with_timezone(&chrono::Utc) - chrono::Utc::now())
                            .and_then(|d| d.to_std().ok())
                            .unwrap_or(Duration::from_secs(15));
                        heard.record(trip, index, "offer", expires);
                    }
                }
                _ => {
                    if let Ok(trip) = serde_json::from_value::<Trip>(value) {
                        if trip.status == TripStatus::Assigned && trip.driver_id == Some(me) {
                            // Held until the phase's trips are cancelled.
                            heard.record(trip.id, index, "assigned", Duration::from_secs(3600));
                        }
                    }
                }
            }
        }
    });
    Ok(client)
}

/// Requests a trip at `at`; a rider left with an active trip by an earlier
/// run cancels it first.
async fn request_at(api: &Api, rider: &Session, at: LatLng) -> Result<Trip, String> {
    let body = json!({"pickup": {"lat": at.lat, "lng": at.lng}, "dropoff": {"lat": at.lat + 0.01, "lng": at.lng}});
    match api.post::<Trip>("/trips", rider, body.clone()).await {
        Ok(trip) => Ok(trip),
        Err(err) if err.is("active_trip_exists") => {
            let trips: Vec<Trip> = api
                .get("/trips?limit=5", rider)
                .await
                .map_err(|e| e.to_string())?;
            for t in trips.iter().filter(|t| t.status.is_active()) {
                let _ = api
                    .post::<Value>(&format!("/trips/{}/cancel", t.id), rider, json!({}))
                    .await;
            }
            api.post::<Trip>("/trips", rider, body)
                .await
                .map_err(|e| e.to_string())
        }
        Err(err) => Err(err.to_string()),
    }
}

struct Outcome {
    trips: Vec<(Uuid, usize)>,
    latencies: Vec<Duration>,
    elsewhere: usize,
    lost: usize,
    auto: bool,
    achieved_rate: f64,
}

/// Was the trip offered or assigned to anyone, per its audit trail?
async fn offered_anyone(api: &Api, rider: &Session, trip: Uuid) -> bool {
    api.get::<Vec<DispatchEvent>>(&format!("/trips/{trip}/events"), rider)
        .await
        .map(|events| {
            events
                .iter()
                .any(|e| e.kind == "OFFER_SENT" || e.kind == "ASSIGNED")
        })
        .unwrap_or(false)
}

async fn dispatch(
    api: &Api,
    fleet: &Fleet,
    riders: &[Session],
    heard: &Heard,
    args: &CityArgs,
) -> Outcome {
    let gap = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
    let mut ticker = tokio::time::interval(gap);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let errors = Arc::new(AtomicUsize::new(0));
    for (k, rider) in riders.iter().enumerate().take(args.requests) {
        ticker.tick().await;
        let (api, rider, at, errors) = (
            api.clone(),
            rider.clone(),
            fleet.drivers[k].1,
            errors.clone(),
        );
        tasks.spawn(async move {
            let t0 = Instant::now();
            match request_at(&api, &rider, at).await {
                Ok(trip) => Some((trip.id, k, t0)),
                Err(err) => {
                    if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("[dispatch] request failed: {err}");
                    }
                    None
                }
            }
        });
        if k % 200 == 199 {
            eprintln!("      {} requested", k + 1);
        }
    }
    let achieved_rate = args.requests as f64 / started.elapsed().as_secs_f64();
    let sent: Vec<(Uuid, usize, Instant)> = tasks.join_all().await.into_iter().flatten().collect();
    let mut out = Outcome {
        trips: Vec::new(),
        latencies: Vec::new(),
        elsewhere: 0,
        lost: 0,
        auto: false,
        achieved_rate,
    };
    let mut assigned = 0;
    for &(trip, k, t0) in &sent {
        out.trips.push((trip, k));
        match heard.wait(trip, Duration::from_secs(5), |d| d == k).await {
            Some((_, at)) => {
                out.latencies.push(at.saturating_duration_since(t0));
                if heard
                    .by_trip
                    .lock()
                    .map(|m| {
                        m.get(&trip)
                            .is_some_and(|h| h.iter().any(|h| h.2 == "assigned"))
                    })
                    .unwrap_or(false)
                {
                    assigned += 1;
                }
            }
            None if offered_anyone(api, &riders[k], trip).await => out.elsewhere += 1,
            None => out.lost += 1,
        }
    }
    out.lost += args.requests - sent.len();
    out.auto = assigned > 0 && assigned * 2 >= out.latencies.len();
    out
}

async fn redispatch(
    api: &Api,
    fleet: &Fleet,
    riders: &[Session],
    heard: &Arc<Heard>,
    args: &CityArgs,
    first: usize,
) -> Outcome {
    let gap = Duration::from_secs_f64(1.0 / args.redispatch_rate.max(0.001));
    let mut ticker = tokio::time::interval(gap);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (k, rider) in riders.iter().enumerate().take(args.redispatches) {
        ticker.tick().await;
        let (a, b, at) = pair_spot(fleet, first, k);
        let (api, rider, heard) = (api.clone(), rider.clone(), heard.clone());
        let a_session = fleet.drivers[a].0.clone();
        tasks.spawn(async move {
            let trip = request_at(&api, &rider, at).await.ok()?;
            let Some((_, _)) = heard
                .wait(trip.id, Duration::from_secs(5), |d| d == a)
                .await
            else {
                return Some((trip.id, k, None, false));
            };
            if heard
                .by_trip
                .lock()
                .map(|m| {
                    m.get(&trip.id)
                        .is_some_and(|h| h.iter().any(|h| h.2 == "assigned"))
                })
                .unwrap_or(false)
            {
                return Some((trip.id, k, None, true));
            }
            let t0 = Instant::now();
            api.post::<Value>(
                &format!("/trips/{}/decline", trip.id),
                &a_session,
                json!({}),
            )
            .await
            .ok()?;
            heard.release(trip.id, a);
            let next = heard
                .wait(trip.id, Duration::from_secs(5), |d| d != a)
                .await;
            let _ = b;
            Some((
                trip.id,
                k,
                next.map(|(_, at)| at.saturating_duration_since(t0)),
                false,
            ))
        });
    }
    let achieved_rate = args.redispatches as f64 / started.elapsed().as_secs_f64();
    let results: Vec<_> = tasks.join_all().await.into_iter().flatten().collect();
    let mut out = Outcome {
        trips: Vec::new(),
        latencies: Vec::new(),
        elsewhere: 0,
        lost: 0,
        auto: false,
        achieved_rate,
    };
    for (trip, k, latency, auto) in results {
        out.trips.push((trip, k));
        out.auto |= auto;
        match latency {
            Some(l) => out.latencies.push(l),
            None if auto => {}
            None => {
                let offers = api
                    .get::<Vec<DispatchEvent>>(&format!("/trips/{trip}/events"), &riders[k])
                    .await
                    .map(|e| e.iter().filter(|e| e.kind == "OFFER_SENT").count())
                    .unwrap_or(0);
                if offers >= 2 {
                    out.elsewhere += 1;
                } else {
                    out.lost += 1;
                }
            }
        }
    }
    out
}

async fn cancel_all(api: &Api, trips: &[(Uuid, String)]) {
    stream::iter(trips)
        .for_each_concurrent(32, |(trip, token)| async move {
            let _ = api
                .call::<Value>(
                    reqwest::Method::POST,
                    &format!("/trips/{trip}/cancel"),
                    Some(token),
                    Some(json!({"reason": "bench done"})),
                )
                .await;
        })
        .await;
}

/// The same Redis work as Hail's, straight against Redis, under its own
/// key prefix.
struct Ceiling {
    redis: redis::aio::MultiplexedConnection,
    keys: Keys,
    ids: Vec<Uuid>,
    spots: Vec<LatLng>,
}

impl Ceiling {
    async fn new(
        mut redis: redis::aio::MultiplexedConnection,
        drivers: usize,
    ) -> anyhow::Result<Self> {
        let keys = Keys::new(format!("bench-ceiling:{}:", Uuid::new_v4().simple()));
        let mut rng = StdRng::seed_from_u64(7);
        let ids: Vec<Uuid> = (0..drivers.max(1)).map(|_| Uuid::new_v4()).collect();
        let spots: Vec<LatLng> = ids
            .iter()
            .map(|_| BBox::SINGAPORE.random_point(&mut rng))
            .collect();
        for chunk in ids.iter().zip(&spots).collect::<Vec<_>>().chunks(500) {
            let mut pipe = redis::pipe();
            for (id, at) in chunk {
                pipe.set(keys.driver_status(**id), "ONLINE:1")
                    .set_ex(keys.driver_presence(**id), "1", 600)
                    .cmd("GEOADD")
                    .arg(keys.driver_locations())
                    .arg(at.lng)
                    .arg(at.lat)
                    .arg(id.to_string());
            }
            pipe.query_async::<()>(&mut redis)
                .await
                .context("seed the Redis ceiling keys")?;
        }
        Ok(Self {
            redis,
            keys,
            ids,
            spots,
        })
    }

    async fn ingest(
        &self,
        concurrency: usize,
        secs: Duration,
    ) -> anyhow::Result<(f64, Vec<Duration>)> {
        let script = redis::Script::new(include_str!("../../services/driver/scripts/ping.lua"));
        // Load it once so every call below is an EVALSHA, as in the service.
        script
            .prepare_invoke()
            .load_async(&mut self.redis.clone())
            .await?;
        let next = AtomicUsize::new(0);
        let deadline = Instant::now() + secs;
        let started = Instant::now();
        let channel = self.keys.channel_driver_location();
        let workers: Vec<Vec<Duration>> = stream::iter(0..concurrency.max(1))
            .map(|_| {
                let (mut redis, next, script, channel) = (self.redis.clone(), &next, &script, &channel);
                async move {
                    let mut lat = Vec::new();
                    while Instant::now() < deadline {
                        let i = next.fetch_add(1, Ordering::Relaxed) % self.ids.len();
                        let (id, at) = (self.ids[i], self.spots[i]);
                        let payload = json!({"driver_id": id, "lat": at.lat, "lng": at.lng, "heading": null, "speed_kmh": null, "ts": "2026-01-01T00:00:00Z"}).to_string();
                        let t0 = Instant::now();
                        let done: redis::RedisResult<String> = script
                            .key(self.keys.driver_status(id))
                            .key(self.keys.driver_locations())
                            .key(self.keys.driver_presence(id))
                            .key(self.keys.driver_position(id))
                            .key(self.keys.driver_lock(id))
                            .arg(id.to_string())
                            .arg(at.lng)
                            .arg(at.lat)
                            .arg(30)
                            .arg(channel.as_str())
                            .arg(payload)
                            .arg("")
                            .arg("2026-01-01T00:00:00Z")
                            .invoke_async(&mut redis)
                            .await;
                        if done.is_ok() {
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
        let lat: Vec<Duration> = workers.into_iter().flatten().collect();
        Ok((lat.len() as f64 / elapsed, lat))
    }

    /// One dispatch step, in sequence: GEOSEARCH, the candidates' presence/
    /// status/lock in one pipeline, claim_first.lua for one trip over the
    /// five nearest, then release.
    async fn dispatch_step(&self, n: usize) -> anyhow::Result<Vec<Duration>> {
        let claim = redis::Script::new(include_str!(
            "../../services/driver/scripts/claim_first.lua"
        ));
        let mut redis = self.redis.clone();
        claim.prepare_invoke().load_async(&mut redis).await?;
        let mut rng = StdRng::seed_from_u64(9);
        let mut lat = Vec::with_capacity(n);
        let k = &self.keys;
        for _ in 0..n {
            let at = BBox::SINGAPORE.random_point(&mut rng);
            let trip = Uuid::new_v4();
            let t0 = Instant::now();
            let found: Vec<(String, f64, (f64, f64))> = redis::cmd("GEOSEARCH")
                .arg(k.driver_locations())
                .arg("FROMLONLAT")
                .arg(at.lng)
                .arg(at.lat)
                .arg("BYRADIUS")
                .arg(3.0)
                .arg("km")
                .arg("ASC")
                .arg("COUNT")
                .arg(50)
                .arg("WITHDIST")
                .arg("WITHCOORD")
                .query_async(&mut redis)
                .await?;
            let ids: Vec<Uuid> = found
                .iter()
                .filter_map(|(m, _, _)| Uuid::parse_str(m).ok())
                .collect();
            if !ids.is_empty() {
                let mut pipe = redis::pipe();
                for id in &ids {
                    pipe.exists(k.driver_presence(*id))
                        .get(k.driver_status(*id))
                        .exists(k.driver_lock(*id));
                }
                let _: Vec<redis::Value> = pipe.query_async(&mut redis).await?;
                let wish = &ids[..ids.len().min(5)];
                let mut invocation = claim.prepare_invoke();
                invocation
                    .key(k.driver_locations())
                    .arg(30)
                    .arg(1)
                    .arg(trip.to_string())
                    .arg(wish.len());
                for id in wish {
                    invocation
                        .key(k.driver_lock(*id))
                        .key(k.driver_presence(*id))
                        .key(k.driver_status(*id))
                        .arg(id.to_string());
                }
                let won: Vec<String> = invocation.invoke_async(&mut redis).await?;
                lat.push(t0.elapsed());
                let Some(id) = won.first().and_then(|w| Uuid::parse_str(w).ok()) else {
                    continue;
                };
                // Put it back (outside the timing) so the next step finds it.
                let i = self.ids.iter().position(|x| *x == id).unwrap_or(0);
                let mut pipe = redis::pipe();
                pipe.del(k.driver_lock(id))
                    .cmd("GEOADD")
                    .arg(k.driver_locations())
                    .arg(self.spots[i].lng)
                    .arg(self.spots[i].lat)
                    .arg(id.to_string());
                pipe.query_async::<()>(&mut redis).await?;
            } else {
                lat.push(t0.elapsed());
            }
        }
        Ok(lat)
    }

    async fn clean(&self) {
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
