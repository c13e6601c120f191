//! The ingest phase: REST location pings through the gateway, `--concurrency`
//! in flight, round-robin over the city's drivers for `--ingest-secs`; then
//! the same number in flight of the driver service's ping straight against
//! Redis. Reports pings/s and latency beside the ceiling's.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

use super::{ceiling::Ceiling, fleet::Fleet, report::Report, CityArgs};
use crate::bench::cpu::{per_unit, CpuMeter};
use crate::{bench::latency::Latencies, simulate::api::Api};

pub(super) async fn run(
    api: &Api,
    fleet: &Fleet,
    ceiling: &Ceiling,
    args: &CityArgs,
    cpu: &CpuMeter,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!(
        "[ingest] {} s of REST pings, {} in flight",
        args.ingest_secs, args.concurrency
    );
    let before = cpu.now();
    let (rate, lat) = through_the_gateway(api, fleet, args).await?;
    if !cpu.is_empty() {
        report.row(
            "CPU-seconds per 100,000 REST pings",
            per_unit(&before, &cpu.now(), lat.len(), 100_000.0),
        );
    }
    eprintln!("[ingest] the same ping script straight against Redis");
    let (redis_rate, redis_lat) = ceiling
        .ingest(args.concurrency, Duration::from_secs(args.ingest_secs))
        .await?;
    report.compare(
        format!(
            "location ingest through the gateway ({} in flight)",
            args.concurrency
        ),
        format!("{rate:.0} pings/s"),
        format!("{redis_rate:.0} scripts/s"),
        format!("{:.1}%", 100.0 * rate / redis_rate.max(1.0)),
    );
    report.percentiles(
        "ping latency",
        &lat,
        &redis_lat,
        &[(0.5, "p50"), (0.99, "p99")],
    );
    Ok(())
}

/// Pings/s achieved and the latency of each ping answered.
async fn through_the_gateway(
    api: &Api,
    fleet: &Fleet,
    args: &CityArgs,
) -> anyhow::Result<(f64, Latencies)> {
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
    let lat = Latencies::of(workers.into_iter().flatten())?;
    let errors = errors.load(Ordering::Relaxed);
    if errors > 0 {
        eprintln!("[ingest] {errors} pings refused or failed");
    }
    Ok((lat.len() as f64 / elapsed, lat))
}
