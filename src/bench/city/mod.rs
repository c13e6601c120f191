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
//!   the same run, through the driver service's own `Index` (its ping and
//!   claim Lua scripts), so Hail reads as a ratio of what this machine's
//!   Redis can do.
//!
//! Between phases every driver is pinged again every `--keepalive` seconds
//! (presence lasts 30 s), which is background load a real city has too.
//! Accounts are `bench-city-driver-<n>@bench.hail` (a re-run logs in); every
//! trip made is cancelled at the end.
//!
//! One module per phase, in the order they run: `fleet` (sign in, go online,
//! keep alive), `ingest`, `dispatch`, `redispatch`; beside them `watch` (the
//! watched drivers' sockets and what they heard), `ceiling` (raw Redis) and
//! `report` (the table).

mod ceiling;
mod dense;
pub(super) mod dispatch;
pub(super) mod fleet;
mod ingest;
mod redispatch;
mod report;
mod socket_ingest;
pub(super) mod watch;

use std::{
    ops::Range,
    sync::Arc,
    time::{Duration, Instant},
};

use uuid::Uuid;

pub use self::dense::DenseArgs;
use self::{
    ceiling::Ceiling,
    fleet::{Fleet, KeepAlive},
    report::Report,
    watch::Heard,
};
use super::cpu::CpuMeter;
use super::latency::Latencies;
use crate::simulate::api::{Api, Session};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Ingest,
    Dispatch,
    Redispatch,
    All,
}

#[derive(clap::Args, Debug)]
pub struct CityArgs {
    /// The gateway to measure (or several, comma-separated: calls take them
    /// in turn).
    #[arg(long, default_value = "http://localhost:3000")]
    pub gateway: String,
    /// The Redis the stack uses, for the raw-Redis ceiling (keys under a
    /// fresh `bench-ceiling:` prefix, deleted afterwards); with
    /// `--redis-cluster`, a comma-separated list of cluster nodes.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// The stack's Redis is a Redis Cluster.
    #[arg(long, env = "HAIL_REDIS_CLUSTER", default_value_t = false)]
    pub redis_cluster: bool,
    /// A stack process to report the CPU time of, as `name=pid` (repeat
    /// the flag; processes sharing a name add up): CPU-seconds per 100,000
    /// REST pings and per 1,000 dispatches, from `/proc/<pid>/stat`.
    #[arg(long = "cpu")]
    pub cpu: Vec<String>,
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

/// Timed dispatch steps for the ceiling beside dispatch and redispatch.
const CEILING_STEPS: usize = 2000;

/// The phases a scenario runs, and the drivers and riders they need.
struct Plan {
    ingest: bool,
    dispatch: bool,
    redispatch: bool,
    /// Fleet indices of redispatch's pairs: pair k's A at `start + 2k`, its
    /// B 22 m north at `start + 2k + 1`, after dispatch's one per request.
    pairs: Range<usize>,
    /// Drivers watched on their own socket: dispatch's, then the pairs.
    watched: usize,
    /// Riders: one per request of the larger trip phase.
    riders: usize,
}

impl Plan {
    fn new(scenario: Scenario, args: &CityArgs) -> Self {
        let has = |s: Scenario| scenario == s || scenario == Scenario::All;
        let (dispatch, redispatch) = (has(Scenario::Dispatch), has(Scenario::Redispatch));
        let first_pair = if dispatch { args.requests } else { 0 };
        let pairs = if redispatch {
            first_pair..first_pair + 2 * args.redispatches
        } else {
            0..0
        };
        let watched = first_pair + pairs.len();
        let riders = (if dispatch { args.requests } else { 0 }).max(if redispatch {
            args.redispatches
        } else {
            0
        });
        Self {
            ingest: has(Scenario::Ingest),
            dispatch,
            redispatch,
            pairs,
            watched,
            riders,
        }
    }
}

/// What the trip phases share: the stack, the city, its riders, what the
/// watched sockets heard, and the ceiling's dispatch steps to compare with.
struct TripPhase<'a> {
    api: &'a Api,
    fleet: &'a Fleet,
    riders: &'a [Session],
    heard: &'a Arc<Heard>,
    args: &'a CityArgs,
    redis_step: &'a Latencies,
    cpu: &'a CpuMeter,
}

impl TripPhase<'_> {
    /// Each trip with its rider's token, for cancelling.
    fn tokens(&self, trips: &[(Uuid, usize)]) -> Vec<(Uuid, String)> {
        trips
            .iter()
            .map(|(trip, rider)| (*trip, self.riders[*rider].token()))
            .collect()
    }
}

pub async fn city(scenario: Scenario, args: CityArgs) -> anyhow::Result<()> {
    run(scenario, &args, None).await
}

/// `hail bench dense`: the whole city bench, after filler drivers have made
/// the city dense step by step (`dense`).
pub async fn dense(args: DenseArgs) -> anyhow::Result<()> {
    run(Scenario::All, &args.city, Some(&args)).await
}

async fn run(scenario: Scenario, args: &CityArgs, dense: Option<&DenseArgs>) -> anyhow::Result<()> {
    let plan = Plan::new(scenario, args);
    let api = Api::new(&args.gateway)?;
    api.ready().await?;
    let redis = ceiling::connect(&args.redis, args.redis_cluster).await?;
    let cpu = CpuMeter::new(&args.cpu)?;
    anyhow::ensure!(
        plan.watched <= args.drivers,
        "--drivers {} is fewer than the {} watched drivers the scenario needs: raise --drivers or lower --requests/--redispatches",
        args.drivers,
        plan.watched
    );
    let started = Instant::now();
    let mut report = Report::default();

    eprintln!("[setup] {} drivers: sign in, go online, first ping (each sign-in hashes a password on the server)", args.drivers);
    let fleet = Arc::new(fleet::setup(&api, args, plan.pairs.clone()).await?);
    report.row(
        "online drivers in the city",
        fleet.drivers.len().to_string(),
    );
    let fillers = match dense {
        Some(dense) => {
            let mut fillers = dense::Fillers::new(dense, redis.clone(), &fleet).await?;
            let mut steps = dense.fill.clone();
            steps.sort_unstable();
            for n in steps {
                dense::step(&mut fillers, n, dense.searches, &mut report).await?;
            }
            Some(fillers)
        }
        None => None,
    };
    let ceiling = Ceiling::new(redis, args.drivers).await?;
    if plan.ingest {
        ingest::run(&api, &fleet, &ceiling, args, &cpu, &mut report).await?;
    }
    if let Some(dense) = dense {
        socket_ingest::run(
            &api,
            &fleet,
            &ceiling,
            dense.ingest_sockets,
            args.ingest_secs,
            &cpu,
            &mut report,
        )
        .await?;
    }
    let keepalive = KeepAlive::start(api.clone(), fleet.clone(), args.keepalive);
    if plan.riders > 0 {
        trip_phases(&api, &fleet, &ceiling, &plan, args, &cpu, &mut report).await?;
    }
    keepalive.stop().await;
    ceiling.clean().await;
    if let Some(fillers) = fillers {
        fillers.remove().await;
    }
    eprintln!("[done] {:.0} s", started.elapsed().as_secs_f64());
    report.print();
    Ok(())
}

/// Riders and the watched sockets, then dispatch and redispatch over them.
/// Each phase's trips are cancelled before the sockets close.
async fn trip_phases(
    api: &Api,
    fleet: &Fleet,
    ceiling: &Ceiling,
    plan: &Plan,
    args: &CityArgs,
    cpu: &CpuMeter,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!(
        "[setup] {} riders and {} driver sockets",
        plan.riders, plan.watched
    );
    let riders = fleet::sign_in_all(api, "rider", plan.riders, args.setup_concurrency).await?;
    let heard = Arc::new(Heard::default());
    let sockets = watch::connect_all(api, fleet, plan.watched, &heard).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let redis_step = ceiling.dispatch_steps(CEILING_STEPS).await?;
    let phase = TripPhase {
        api,
        fleet,
        riders: &riders,
        heard: &heard,
        args,
        redis_step: &redis_step,
        cpu,
    };
    if plan.dispatch {
        dispatch::run(&phase, report).await?;
    }
    let left = if plan.redispatch {
        redispatch::run(&phase, plan.pairs.start, report).await?
    } else {
        Vec::new()
    };
    eprintln!("[cleanup] cancelling {} trips, closing sockets", left.len());
    dispatch::cancel_all(api, &left).await;
    for socket in sockets {
        let _ = socket.disconnect().await;
    }
    Ok(())
}
