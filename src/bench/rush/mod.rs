//! `hail bench rush` (issue 21): rush hour on a city of online drivers
//! (10,000 by default). For `--secs` trips are requested at `--rate`; the
//! watched drivers answer offers as people do (30 % ignore, 20 % decline,
//! 50 % accept and drive), a fifth of riders cancel at a random moment, and
//! the hotspot gets about twice the requests its drivers can serve, so
//! trips pile up there. Then every trip still open is cancelled, so a
//! second run on the same stack starts clean (its sign-ins are the same
//! accounts as `hail bench dispatch`'s, tokens cached).
//!
//! One file per concern: `plan` (map and dice), `ledger` (what the bench
//! knows, and the timings), `drivers` (sockets and reactions), `riders`
//! (requests and cancels), `calls` (answers counted), `server` (the
//! stack's /metrics and Postgres counters), `gauge` (the raw round trips
//! of the same run, the ceiling), `report` (the table).

mod calls;
mod drivers;
mod gauge;
mod ledger;
mod plan;
mod report;
mod riders;
mod server;

use std::{
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use rand::{rngs::StdRng, SeedableRng};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use self::{
    calls::Calls,
    drivers::Crew,
    ledger::Ledger,
    plan::Area,
    report::{Before, Run},
    riders::Spots,
};
use super::{
    city::{dispatch::cancel_all, fleet},
    cpu::CpuMeter,
};
use crate::simulate::api::Api;

#[derive(clap::Args, Debug)]
pub struct RushArgs {
    /// The gateway to measure.
    #[arg(long, default_value = "http://localhost:3000")]
    pub gateway: String,
    /// The trip service's Prometheus text (loopback, no token).
    #[arg(long, default_value = "http://127.0.0.1:3003/metrics")]
    pub trip_metrics: String,
    /// Postgres, for row writes per trip and trips waiting per the database
    /// (optional).
    #[arg(long)]
    pub database_url: Option<String>,
    /// The stack's Redis, for the run's raw round trips (the ceiling).
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// Online drivers in the city.
    #[arg(long, default_value_t = 10_000)]
    pub drivers: usize,
    /// Trip requests per second.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Seconds of requests.
    #[arg(long, default_value_t = 60)]
    pub secs: u64,
    /// Must be the stack's HAIL_OFFER_TIMEOUT_SECS.
    #[arg(long, default_value_t = 3)]
    pub offer_timeout_secs: u64,
    /// Must be the stack's HAIL_MATCH_DEADLINE_SECS.
    #[arg(long, default_value_t = 60)]
    pub match_deadline_secs: u64,
    /// Watched drivers in the hotspot.
    #[arg(long, default_value_t = 400)]
    pub hotspot_drivers: usize,
    /// The hotspot's radius, km (at most 2.5: the areas stay 10 km apart).
    #[arg(long, default_value_t = 1.5)]
    pub hotspot_km: f64,
    /// The share of requests that go to the hotspot.
    #[arg(long, default_value_t = 0.6)]
    pub hotspot_share: f64,
    /// Watched drivers in the free zone.
    #[arg(long, default_value_t = 1200)]
    pub free_drivers: usize,
    #[arg(long, default_value_t = 21)]
    pub seed: u64,
    /// Seconds between keep-alive pings of every driver.
    #[arg(long, default_value_t = 20)]
    pub keepalive: u64,
    /// Sign-ups/logins in flight at once (each hashes a password on the server).
    #[arg(long, default_value_t = 32)]
    pub setup_concurrency: usize,
    /// A stack process to time, as name=pid, or every process of a program
    /// as name=comm:<command name> (e.g. postgres=comm:postgres); repeatable.
    /// The bench itself and the whole machine are always timed: CPU-seconds
    /// per 1,000 trips, a figure a noisy hour moves far less than a latency.
    #[arg(long = "cpu")]
    pub cpu: Vec<String>,
}

pub async fn rush(args: RushArgs) -> anyhow::Result<()> {
    let watched = args.hotspot_drivers + args.free_drivers;
    anyhow::ensure!(
        watched <= args.drivers,
        "--drivers {} is fewer than the {watched} watched drivers",
        args.drivers
    );
    anyhow::ensure!(
        args.hotspot_km > 0.0 && args.hotspot_km <= plan::MAX_HOTSPOT_KM,
        "--hotspot-km must be in (0, {}]",
        plan::MAX_HOTSPOT_KM
    );
    eprintln!(
        "[rush] the stack must run with HAIL_OFFER_TIMEOUT_SECS={} and HAIL_MATCH_DEADLINE_SECS={} (offer mode), or the figures mean something else",
        args.offer_timeout_secs, args.match_deadline_secs
    );
    let cpu = CpuMeter::new(&args.cpu)?.with_bench_and_machine();
    let api = Api::new(&args.gateway)?;
    api.ready().await?;
    let pool = match &args.database_url {
        Some(url) => Some(sqlx::PgPool::connect(url).await?),
        None => None,
    };
    if let Some(pool) = &pool {
        let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
            .fetch_one(pool)
            .await?;
        if autovacuum == "off" {
            eprintln!("[rush] WARNING: this Postgres has autovacuum off, so dead rows pile up and every run is slower than the last; turn it on (ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();) for figures that mean something");
        }
    }
    let started = Instant::now();
    let riders_needed = (args.rate * args.secs as f64).round() as usize;
    eprintln!("[setup] {} drivers and {riders_needed} riders: sign in (each sign-in hashes a password on the server)", args.drivers);
    let sessions = fleet::sign_in_all(&api, "driver", args.drivers, args.setup_concurrency).await?;
    let riders = fleet::sign_in_all(&api, "rider", riders_needed, args.setup_concurrency).await?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let spots = plan::driver_spots(
        &mut rng,
        args.drivers,
        args.hotspot_drivers,
        args.free_drivers,
        args.hotspot_km,
    );
    eprintln!(
        "[setup] online: {} hotspot, {} free zone, {} background",
        args.hotspot_drivers,
        args.free_drivers,
        args.drivers - watched
    );
    let fleet =
        Arc::new(fleet::go_online_at(&api, sessions.into_iter().zip(spots).collect()).await?);
    let keepalive = fleet::KeepAlive::start(api.clone(), fleet.clone(), args.keepalive);
    let crew = Arc::new(Crew {
        api: api.clone(),
        ledger: Arc::new(Ledger::new(args.hotspot_drivers, args.free_drivers)?),
        calls: Arc::new(Calls::default()),
        rng: Mutex::new(StdRng::seed_from_u64(args.seed.wrapping_add(2))),
        stop: CancellationToken::new(),
        tasks: TaskTracker::new(),
    });
    let (watched_sessions, watched_spots): (Vec<_>, Vec<_>) =
        fleet.drivers[..watched].iter().cloned().unzip();
    eprintln!("[setup] {watched} driver sockets");
    let sockets = drivers::watch_all(&crew, &watched_sessions).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let before = Before::read(&args, pool.as_ref(), &cpu).await?;
    let capacity = plan::capacity_per_sec(args.hotspot_drivers, args.offer_timeout_secs as f64);
    eprintln!(
        "[rush] {}/s for {} s, {:.0}/s into the hotspot (its drivers serve about {capacity:.0}/s)",
        args.rate,
        args.secs,
        args.rate * args.hotspot_share
    );
    let gauge_stop = CancellationToken::new();
    let gauge = gauge::Gauge::start(
        &args.redis,
        args.database_url.as_deref(),
        gauge_stop.clone(),
    )
    .await?;
    let peak_db = Arc::new(AtomicI64::new(0));
    let progress = tokio::spawn(progress(
        crew.clone(),
        pool.clone(),
        args.match_deadline_secs,
        peak_db.clone(),
    ));
    let spots = Spots {
        free: args.hotspot_drivers..watched,
        watched: &watched_spots,
    };
    let requested = riders::ride(&crew, &riders, &spots, &args).await;
    eprintln!(
        "[rush] requests sent, riders' cancels done; {} s of offers to settle",
        args.offer_timeout_secs + 2
    );
    tokio::time::sleep(Duration::from_secs(args.offer_timeout_secs + 2)).await;
    progress.abort();
    gauge_stop.cancel();
    let peak_db = pool.is_some().then(|| peak_db.load(Ordering::Relaxed));
    let mut run = Run::after(&args, pool.as_ref(), before, requested, peak_db, &cpu).await?;
    run.add_ceiling(gauge.rows());
    run.lost = report::lost(&api, &riders, &crew.ledger, &args).await;

    let open = crew.ledger.open_trips();
    eprintln!(
        "[cleanup] stopping the drivers, cancelling {} open trips, closing sockets",
        open.len()
    );
    crew.stop.cancel();
    crew.tasks.close();
    crew.tasks.wait().await;
    cancel_all(&api, &report::with_tokens(&riders, open)).await;
    for socket in sockets {
        let _ = socket.disconnect().await;
    }
    let keepalive_failures = keepalive.stop().await;
    eprintln!("[done] {:.0} s", started.elapsed().as_secs_f64());
    run.print(&args, &crew, keepalive_failures);
    Ok(())
}

/// Every 5 s a progress line; every second the hotspot's waiting trips
/// past the match deadline are taken as ended, and (with a database) the
/// REQUESTED trips counted, keeping the peak in `peak`.
async fn progress(
    crew: Arc<Crew>,
    pool: Option<sqlx::PgPool>,
    deadline: u64,
    peak: Arc<AtomicI64>,
) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    for n in 0u64.. {
        tick.tick().await;
        crew.ledger.sweep(Duration::from_secs(deadline));
        let now = match &pool {
            Some(pool) => server::requested_now(pool).await.unwrap_or(0),
            None => 0,
        };
        peak.fetch_max(now, Ordering::Relaxed);
        if n % 5 == 0 {
            eprintln!(
                "      {:>3} s: requested {}, offers {}, waiting hotspot {} / free {} (REQUESTED in db {now}), cancels {}, 5xx {}",
                started.elapsed().as_secs(),
                crew.ledger.requested_total(),
                crew.ledger.offers(),
                crew.ledger.waiting(Area::Hotspot),
                crew.ledger.waiting(Area::Free),
                Calls::get(&crew.calls.cancels_answered),
                crew.calls.total_5xx(),
            );
        }
    }
}
