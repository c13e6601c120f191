//! `hail bench delivery` (issue 19): what an unreachable phone costs a
//! rider, with and without delivery acks, in one run.
//!
//! Two stacks in this process, one after the other, over the bench's own
//! database: `today` (no ack check and no reconnect grace: an offer to a
//! phone that does not answer waits its whole timeout, as before delivery
//! receipts) and `acks` (`HAIL_OFFER_ACK_MS`, `HAIL_OFFER_RECONNECT_GRACE_SECS`).
//! Each gets the same seeded city: drivers around one point, a fraction of
//! them unreachable (half never acknowledge an offer, half lose their
//! socket as it arrives and come back 10 s later), the rest acknowledge at
//! once and accept after `--accept-delay`; riders request at an even pace.
//! Every driver pings every 4 s, as a phone's GPS does whatever its app.
//!
//! Measured: request -> accepted per trip (mean, p50, p99), the offers given
//! up, and for healthy phones offer -> delivered (the ack's latency as the
//! trip service recorded it), beside the ceiling of the same run: the
//! socket round trip of a `driver:location` ack through the same gateway.

mod city;

use std::time::Duration;

use anyhow::Context;
use futures::{stream, StreamExt};

use self::city::{Outcome, Phone, Plan};
use super::{
    latency::{ms, Latencies},
    matching::stack::{self, Base},
    matching::{delete_keys, fresh_database, wait_ready},
};
use crate::simulate::api::{Api, Session};

#[derive(clap::Args, Debug, Clone)]
pub struct DeliveryArgs {
    /// Drivers in the city.
    #[arg(long, default_value_t = 60)]
    pub drivers: usize,
    /// The fraction of drivers whose phone does not answer offers.
    #[arg(long, default_value_t = 0.2)]
    pub unreachable: f64,
    /// Trip requests in all (one rider each).
    #[arg(long, default_value_t = 60)]
    pub requests: usize,
    /// Seconds over which the requests come.
    #[arg(long, default_value_t = 30.0)]
    pub secs: f64,
    /// The stacks' HAIL_OFFER_TIMEOUT_SECS.
    #[arg(long, default_value_t = 15)]
    pub offer_timeout_secs: u64,
    /// The `acks` stack's HAIL_OFFER_ACK_MS.
    #[arg(long, default_value_t = 2000)]
    pub ack_ms: u64,
    /// The `acks` stack's HAIL_OFFER_RECONNECT_GRACE_SECS.
    #[arg(long, default_value_t = 3)]
    pub grace_secs: u64,
    /// How long a healthy driver looks at an offer before accepting.
    #[arg(long, default_value_t = 0.5)]
    pub accept_delay_secs: f64,
    #[arg(long, default_value_t = 19)]
    pub seed: u64,
    /// Postgres: the bench makes (and at the start empties) the database
    /// `hail_bench_delivery` on this server.
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

const DATABASE: &str = "hail_bench_delivery";
const PASSWORD: &str = "bench-delivery-password";

pub async fn delivery(args: DeliveryArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.unreachable),
        "--unreachable is a fraction from 0 to 1"
    );
    anyhow::ensure!(
        args.drivers > 0 && args.requests > 0 && args.secs > 0.0,
        "--drivers, --requests and --secs must be above 0"
    );
    let plan = Plan::new(&args);
    eprintln!(
        "[delivery] seed {}: {} drivers ({} unreachable), {} requests over {} s",
        args.seed,
        args.drivers,
        plan.phones.iter().filter(|p| **p != Phone::Healthy).count(),
        args.requests,
        args.secs
    );
    let database_url = fresh_database(&args.database_url, DATABASE).await?;
    let base = Base {
        database_url: database_url.clone(),
        redis_url: args.redis.clone(),
        redis_prefix: format!("bench-delivery:{}:", uuid::Uuid::new_v4().simple()),
        match_deadline_secs: 600,
    };
    let pool = sqlx::PgPool::connect(&database_url).await?;
    let runs = [("today", 0, 86_400), ("acks", args.ack_ms, args.grace_secs)];
    let mut people: Option<(Vec<Session>, Vec<Session>)> = None;
    let mut outcomes = Vec::new();
    for (label, ack_ms, grace_secs) in runs {
        eprintln!("[delivery] run {label}: starting a stack");
        let settings = [
            ("HAIL_MATCH_MODE", "offer".to_string()),
            (
                "HAIL_OFFER_TIMEOUT_SECS",
                args.offer_timeout_secs.to_string(),
            ),
            ("HAIL_OFFER_ACK_MS", ack_ms.to_string()),
            ("HAIL_OFFER_RECONNECT_GRACE_SECS", grace_secs.to_string()),
        ];
        let running = stack::start_with(&base, &settings).await?;
        let api = Api::new(&running.gateway)?;
        let result = async {
            wait_ready(&api).await?;
            if people.is_none() {
                people = Some(sign_in(&api, &args).await?);
            }
            let (drivers, riders) = people.as_ref().context("accounts")?;
            city::run(label, &api, &pool, drivers, riders, &plan).await
        }
        .await;
        running.stop().await;
        let outcome = result?;
        eprintln!(
            "[delivery] run {label}: {} of {} trips accepted",
            outcome.accepted.len(),
            args.requests
        );
        outcomes.push((label, outcome));
    }
    pool.close().await;
    delete_keys(&args.redis, &base.redis_prefix).await;
    println!("{}", report(&args, &outcomes)?);
    Ok(())
}

async fn sign_in(api: &Api, args: &DeliveryArgs) -> anyhow::Result<(Vec<Session>, Vec<Session>)> {
    let mut all = Vec::new();
    for (role, n) in [("driver", args.drivers), ("rider", args.requests)] {
        let sessions: Vec<anyhow::Result<Session>> = stream::iter(0..n)
            .map(|i| async move {
                api.register_or_login(
                    &format!("bench-delivery-{role}-{i}@bench.hail"),
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
        eprintln!("      {n} {role}s signed in");
    }
    let riders = all.pop().unwrap_or_default();
    let drivers = all.pop().unwrap_or_default();
    Ok((drivers, riders))
}

/// The table: a column per run, a row per measure.
fn report(args: &DeliveryArgs, outcomes: &[(&str, Outcome)]) -> anyhow::Result<String> {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, cell: &dyn Fn(&Outcome) -> anyhow::Result<String>| {
        let cells = outcomes
            .iter()
            .map(|(_, o)| cell(o))
            .collect::<anyhow::Result<Vec<_>>>()?;
        rows.push((name.to_string(), cells));
        Ok::<(), anyhow::Error>(())
    };
    let secs =
        |d: Option<Duration>| d.map_or("n/a".into(), |d| format!("{:.2} s", d.as_secs_f64()));
    row("trips accepted", &|o| {
        Ok(format!("{} of {}", o.accepted.len(), args.requests))
    })?;
    row("request -> accepted, mean", &|o| {
        let n = o.accepted.len().max(1) as f64;
        let mean = o.accepted.iter().map(Duration::as_secs_f64).sum::<f64>() / n;
        Ok(format!("{mean:.2} s"))
    })?;
    row("request -> accepted, p50 / p99", &|o| {
        let l = Latencies::of(o.accepted.iter().copied())?;
        Ok(format!(
            "{} / {}",
            secs(l.percentile(0.5)),
            secs(l.percentile(0.99))
        ))
    })?;
    row(
        "request -> accepted, mean, trips that met a phone that did not answer",
        &|o| {
            let n = o.accepted_after_a_miss.len();
            let total: f64 = o
                .accepted_after_a_miss
                .iter()
                .map(Duration::as_secs_f64)
                .sum();
            Ok(format!("{:.2} s ({n} trips)", total / n.max(1) as f64))
        },
    )?;
    row(
        "offers given up as unreachable (no ack / socket lost)",
        &|o| {
            Ok(format!(
                "{} / {}",
                o.unreachable_no_ack, o.unreachable_socket_lost
            ))
        },
    )?;
    row("offers that ran their whole timeout (expired)", &|o| {
        Ok(o.expired.to_string())
    })?;
    row(
        "offer -> delivered (socket ack), healthy phones, p50 / p99",
        &|o| {
            let l = Latencies::of(o.delivered.iter().copied())?;
            Ok(format!(
                "{} / {}",
                ms(l.percentile(0.5)),
                ms(l.percentile(0.99))
            ))
        },
    )?;
    row(
        "ceiling: socket round trip of a driver:location ack, p50 / p99",
        &|o| {
            let l = Latencies::of(o.round_trips.iter().copied())?;
            Ok(format!(
                "{} / {}",
                ms(l.percentile(0.5)),
                ms(l.percentile(0.99))
            ))
        },
    )?;
    let mut out = format!(
        "`hail bench delivery --drivers {} --unreachable {} --requests {} --secs {} --offer-timeout-secs {} --ack-ms {} --grace-secs {} --accept-delay-secs {} --seed {}`\n\n| measure |",
        args.drivers,
        args.unreachable,
        args.requests,
        args.secs,
        args.offer_timeout_secs,
        args.ack_ms,
        args.grace_secs,
        args.accept_delay_secs,
        args.seed
    );
    for (label, _) in outcomes {
        out.push_str(&format!(" {label} |"));
    }
    out.push_str(&format!("\n|---|{}\n", "---|".repeat(outcomes.len())));
    for (name, cells) in rows {
        out.push_str(&format!("| {name} | {} |\n", cells.join(" | ")));
    }
    Ok(out)
}
