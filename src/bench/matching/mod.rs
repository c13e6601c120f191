//! `hail bench matching` (issue 18): greedy against batched matching on one
//! seeded rush hour. Each run starts a fresh stack in this process with its
//! strategy (`--runs greedy,batched:2000,...`) over the same database, puts
//! the same drivers at the same places and makes the same requests at the
//! same moments, drives every assignment to its pickup and dropoff, and
//! then one table shows, per run: trips requested, the match rate, pickup
//! distance (mean, p95), request to assignment (mean, p95), request to
//! pickup (time to match plus the drive), completed trips.
//!
//! No ceiling column: this bench compares what the strategies decide, and
//! both columns come from the same machine in the same session.
//!
//! `scenario` (the seeded plan), `stack` (a stack per run), `run` (one run).

mod run;
mod scenario;
pub(super) mod stack;

use std::time::Duration;

use anyhow::Context;
use futures::{stream, StreamExt};
use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection};
use std::str::FromStr;

use self::{
    run::{Outcome, Pace, People},
    scenario::Scenario,
    stack::{Base, Strategy},
};
use crate::simulate::api::{Api, Session};

#[derive(clap::Args, Debug)]
pub struct MatchingArgs {
    /// The runs, in order: `greedy`, `batched` (2 s window) or
    /// `batched:<window ms>`, separated by commas.
    #[arg(long, default_value = "greedy,batched:2000,batched:1000,batched:4000")]
    pub runs: String,
    /// Drivers at the start.
    #[arg(long, default_value_t = 150)]
    pub drivers: usize,
    /// Trip requests in all.
    #[arg(long, default_value_t = 400)]
    pub requests: usize,
    /// Seconds over which the requests come.
    #[arg(long, default_value_t = 40.0)]
    pub secs: f64,
    /// The share of requests from the two hotspots.
    #[arg(long, default_value_t = 0.6)]
    pub hotspot_share: f64,
    #[arg(long, default_value_t = 18)]
    pub seed: u64,
    /// Drivers' speed, km/h (the simulator's drivers drive 20 to 60).
    #[arg(long, default_value_t = 40.0)]
    pub speed_kmh: f64,
    /// How much faster than real time the drives run (matching does not:
    /// windows and searches take their real time).
    #[arg(long, default_value_t = 20.0)]
    pub time_scale: f64,
    /// The stacks' HAIL_MATCH_DEADLINE_SECS.
    #[arg(long, default_value_t = 30)]
    pub match_deadline_secs: u64,
    /// Postgres: the bench makes (and at the start empties) the database
    /// `hail_bench_matching` on this server.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/hail"
    )]
    pub database_url: String,
    /// Redis (one server); the bench's keys take a prefix of their own and
    /// are deleted at the end.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
}

const DATABASE: &str = "hail_bench_matching";
const PASSWORD: &str = "bench-matching-password";

pub async fn matching(args: MatchingArgs) -> anyhow::Result<()> {
    let runs: Vec<Strategy> = args
        .runs
        .split(',')
        .map(Strategy::parse)
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(!runs.is_empty(), "--runs names no run");
    anyhow::ensure!(
        args.time_scale > 0.0 && args.speed_kmh > 0.0 && args.secs > 0.0,
        "--time-scale, --speed-kmh and --secs must be positive"
    );
    let scenario = Scenario::new(
        args.seed,
        args.drivers,
        args.requests,
        args.secs,
        args.hotspot_share,
    );
    let hot = scenario
        .requests
        .iter()
        .filter(|r| Scenario::in_hotspot(r.pickup))
        .count();
    let hot_drivers = scenario
        .drivers
        .iter()
        .filter(|d| Scenario::in_hotspot(**d))
        .count();
    eprintln!(
        "[matching] seed {}: {} drivers ({hot_drivers} in the hotspots), {} requests over {} s ({hot} from the hotspots)",
        args.seed, args.drivers, args.requests, args.secs
    );
    let database_url = fresh_database(&args.database_url, DATABASE).await?;
    let base = Base {
        database_url: database_url.clone(),
        redis_url: args.redis.clone(),
        redis_prefix: format!("bench-matching:{}:", uuid::Uuid::new_v4().simple()),
        match_deadline_secs: args.match_deadline_secs,
    };
    let pace = Pace {
        speed_kmh: args.speed_kmh,
        time_scale: args.time_scale,
        match_deadline_secs: args.match_deadline_secs,
    };
    let pool = sqlx::PgPool::connect(&database_url).await?;
    let mut people: Option<People> = None;
    let mut outcomes: Vec<(Strategy, Outcome)> = Vec::new();
    for strategy in &runs {
        eprintln!("[matching] run {}: starting a stack", strategy.label());
        let running = stack::start(&base, strategy).await?;
        let api = Api::new(&running.gateway)?;
        let ready = wait_ready(&api).await;
        let result = match ready {
            Ok(()) => {
                if people.is_none() {
                    people = Some(sign_in(&api, &args).await?);
                }
                let people = people.as_ref().context("accounts")?;
                run::run(&strategy.label(), &api, &pool, people, &scenario, pace).await
            }
            Err(err) => Err(err),
        };
        running.stop().await;
        let outcome = result?;
        eprintln!(
            "[matching] run {}: {} assigned, {} completed",
            strategy.label(),
            outcome.pickup_km.len(),
            outcome.completed
        );
        outcomes.push((strategy.clone(), outcome));
    }
    pool.close().await;
    delete_keys(&args.redis, &base.redis_prefix).await;
    println!("{}", report(&args, &outcomes));
    Ok(())
}

/// Empties a bench's database (drops and makes it again) and returns its URL.
pub(in crate::bench) async fn fresh_database(
    server_url: &str,
    database: &str,
) -> anyhow::Result<String> {
    let options = PgConnectOptions::from_str(server_url)
        .with_context(|| format!("--database-url {server_url:?} is not a Postgres URL"))?;
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .with_context(|| {
            format!("Postgres does not answer at {server_url}: start it (./scripts/run.sh does) or pass --database-url")
        })?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await?;
    admin.close().await.ok();
    let mut url = reqwest::Url::parse(server_url)?;
    url.set_path(&format!("/{database}"));
    Ok(url.to_string())
}

pub(in crate::bench) async fn wait_ready(api: &Api) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match api.ready().await {
            Ok(()) => return Ok(()),
            Err(err) if std::time::Instant::now() > deadline => return Err(err),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Registers the drivers and riders (the first run; the others reuse them).
async fn sign_in(api: &Api, args: &MatchingArgs) -> anyhow::Result<People> {
    let started = std::time::Instant::now();
    let mut all = Vec::new();
    for (role, n) in [("driver", args.drivers), ("rider", args.requests)] {
        let sessions: Vec<anyhow::Result<Session>> = stream::iter(0..n)
            .map(|i| async move {
                api.register_or_login(
                    &format!("bench-matching-{role}-{i}@bench.hail"),
                    PASSWORD,
                    "Bench",
                    role,
                )
                .await
            })
            .buffered(8)
            .collect()
            .await;
        all.push(sessions.into_iter().collect::<anyhow::Result<Vec<_>>>()?);
        eprintln!(
            "      {n} {role}s signed in ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let riders = all.pop().unwrap_or_default();
    let drivers = all.pop().unwrap_or_default();
    Ok(People { drivers, riders })
}

/// Deletes the bench's Redis keys (best effort: a failure leaves only keys
/// under the bench's own prefix).
pub(in crate::bench) async fn delete_keys(redis_url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(redis_url) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let keys: Vec<String> = match redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
    {
        Ok(keys) => keys,
        Err(_) => return,
    };
    for chunk in keys.chunks(500) {
        let _: redis::RedisResult<()> = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await;
    }
}

/// The table: a column per run, a row per measure; batched columns show
/// their change against the first greedy run.
fn report(args: &MatchingArgs, outcomes: &[(Strategy, Outcome)]) -> String {
    let greedy = outcomes
        .iter()
        .find(|(s, _)| s.name == "greedy")
        .map(|(_, o)| o);
    let mut out = format!(
        "Matching, seed {}: {} drivers, {} requests over {} s ({:.0} % from two hotspots), auto mode, drives at {} km/h run {}x faster than real time, match deadline {} s.\n\n| measure |",
        args.seed,
        args.drivers,
        args.requests,
        args.secs,
        args.hotspot_share * 100.0,
        args.speed_kmh,
        args.time_scale,
        args.match_deadline_secs
    );
    for (s, _) in outcomes {
        out.push_str(&format!(" {} |", s.label()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(outcomes.len()));
    let change = |value: f64, base: Option<f64>| match base {
        Some(b) if b > 0.0 => format!(" ({:+.0} %)", (value / b - 1.0) * 100.0),
        _ => String::new(),
    };
    type Measure = (&'static str, fn(&Outcome) -> Option<f64>, fn(f64) -> String);
    let measures: [Measure; 9] = [
        (
            "trips requested",
            |o| Some(o.requested as f64),
            |v| format!("{v:.0}"),
        ),
        (
            "matched (assigned) rate",
            |o| Some(o.pickup_km.len() as f64 / o.requested.max(1) as f64),
            |v| format!("{:.1} %", v * 100.0),
        ),
        (
            "pickup distance, mean",
            |o| mean(&o.pickup_km),
            |v| format!("{v:.2} km"),
        ),
        (
            "pickup distance, p95",
            |o| p95(&o.pickup_km),
            |v| format!("{v:.2} km"),
        ),
        (
            "request -> assigned, mean",
            |o| mean(&secs(&o.to_assigned)),
            |v| format!("{v:.2} s"),
        ),
        (
            "request -> assigned, p95",
            |o| p95(&secs(&o.to_assigned)),
            |v| format!("{v:.2} s"),
        ),
        (
            "request -> pickup, mean",
            |o| mean(&o.to_pickup_secs),
            |v| format!("{v:.0} s"),
        ),
        (
            "completed trips",
            |o| Some(o.completed as f64),
            |v| format!("{v:.0}"),
        ),
        (
            "no driver (deadline)",
            |o| Some(o.no_driver as f64),
            |v| format!("{v:.0}"),
        ),
    ];
    for (name, value, show) in measures {
        out.push_str(&format!("\n| {name} |"));
        for (s, o) in outcomes {
            let cell = match value(o) {
                Some(v) => {
                    let base = if s.name == "greedy" {
                        None
                    } else {
                        greedy.and_then(value)
                    };
                    format!("{}{}", show(v), change(v, base))
                }
                None => "n/a".into(),
            };
            out.push_str(&format!(" {cell} |"));
        }
    }
    let unfinished: usize = outcomes.iter().map(|(_, o)| o.unfinished + o.refused).sum();
    if unfinished > 0 {
        out.push_str(&format!(
            "\n\n{unfinished} trips were refused or still open when their run ended (then cancelled); see the log above."
        ));
    }
    out.push_str("\n\nPickup distance: straight line from the driver's place at assignment. Request -> pickup: request to assignment (real time) plus the straight-line drive at the bench's speed (uncompressed).");
    out
}

fn secs(d: &[Duration]) -> Vec<f64> {
    d.iter().map(Duration::as_secs_f64).collect()
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Nearest-rank 95th percentile.
fn p95(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut sorted = v.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() as f64) * 0.95).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(p95(&v), Some(95.0));
        assert_eq!(p95(&[3.0]), Some(3.0));
        assert_eq!(p95(&[]), None);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
    }
}
