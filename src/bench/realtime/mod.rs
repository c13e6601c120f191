//! `hail bench realtime`: measures Hail's realtime path against a running
//! stack, through its public API only, and prints one markdown table.
//!
//! 1. ping to rider: N rider/driver pairs, each trip ASSIGNED and its rider
//!    watching on its own socket; then pings (REST) and the time until the
//!    rider's socket hears `driver:location`, p50/p95/p99. With several
//!    gateways (`--gateway a,b`) the riders' sockets are spread over them,
//!    and with `--cpu` each process's CPU-seconds per 1,000 pings is given,
//!    which is what shows a gateway hearing the pings of its own riders
//!    only, or everyone's;
//! 2. idle sockets: how many one gateway holds, and its memory per socket
//!    (resident memory of the `hail serve` process before and after).
//!
//! Pairs are placed 30 km apart, beyond the widest search, so each trip can
//! only go to its own driver (`pairs`); the idle sockets are `idle`'s.

mod idle;
mod pairs;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::{stream, FutureExt, StreamExt};
use rust_socketio::{
    asynchronous::{Client, ClientBuilder},
    Payload, TransportType,
};
use serde_json::json;
use tokio::sync::oneshot;

use self::{
    idle::idle_sockets,
    pairs::{setup_pairs, Pair},
};
use super::{
    cpu::{per_unit, CpuMeter},
    latency::{ms, Latencies},
};

#[derive(clap::Args, Debug)]
pub struct RealtimeArgs {
    /// The gateway to measure; several, comma-separated, take the riders'
    /// sockets in turn (the first also takes every REST call).
    #[arg(long, default_value = "http://localhost:3000")]
    gateway: String,
    /// Rider/driver pairs, each rider watching its own trip.
    #[arg(long, default_value_t = 1000)]
    riders: usize,
    /// Pings to time.
    #[arg(long, default_value_t = 1000)]
    pings: usize,
    /// Pings in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Idle sockets to open for the capacity and memory figure (0 skips it).
    /// They are one user's, so run the stack with `HAIL_SOCKETS_PER_USER`
    /// at least this high (the default of 5 would close all but 5).
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// CPU time per 1,000 timed pings for these processes: `name=pid` or
    /// `name=comm:<command>` (repeat the flag; same names add up).
    #[arg(long = "cpu")]
    cpu: Vec<String>,
}

impl RealtimeArgs {
    /// Every gateway given, the first one first.
    fn gateways(&self) -> Vec<&str> {
        self.gateway
            .split(',')
            .map(|g| g.trim().trim_end_matches('/'))
            .filter(|g| !g.is_empty())
            .collect()
    }
}

type Waiters = Arc<Mutex<HashMap<usize, oneshot::Sender<Instant>>>>;

pub async fn realtime(args: RealtimeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.riders <= 13_000,
        "--riders {} is more pairs than fit 220 m apart in Singapore (13,000)",
        args.riders
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()?;
    let gateways = args.gateways();
    let first = gateways.first().context("--gateway names no gateway")?;
    let api = format!("{first}/api/v1");
    for gateway in &gateways {
        http.get(format!("{gateway}/readyz"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| {
                format!("Hail does not answer at {gateway}: start it with ./scripts/run.sh")
            })?;
    }
    let cpu = CpuMeter::new(&args.cpu)?.with_bench_and_machine();

    eprintln!("[1/3] setting up {} riders with assigned trips (registrations hash passwords: this takes a while)", args.riders);
    let pairs = setup_pairs(&http, &api, args.riders).await?;
    eprintln!(
        "[2/3] connecting {} rider sockets and timing {} pings",
        pairs.len(),
        args.pings
    );
    let (heard, lost, cpu_per_1000) = time_pings(&http, &api, &args, &pairs, &cpu).await?;
    let idle = if args.idle > 0 {
        eprintln!("[3/3] opening {} idle sockets", args.idle);
        Some(idle_sockets(&args, &pairs[0].0).await?)
    } else {
        None
    };
    print_table(&args, pairs.len(), &heard, lost, idle);
    if !args.cpu.is_empty() {
        println!("| CPU-seconds per 1,000 pings | {cpu_per_1000} |");
    }
    Ok(())
}

/// Connects every rider's socket, then times `--pings` driver pings until
/// the rider hears them: the latencies, and how many were never heard.
async fn time_pings(
    http: &reqwest::Client,
    api: &str,
    args: &RealtimeArgs,
    pairs: &[(String, Pair)],
    cpu: &CpuMeter,
) -> anyhow::Result<(Latencies, usize, String)> {
    let waiters: Waiters = Arc::new(Mutex::new(HashMap::new()));
    let mut sockets = Vec::with_capacity(pairs.len());
    let gateways = args.gateways();
    for (index, (rider_token, _)) in pairs.iter().enumerate() {
        let waiters = waiters.clone();
        let gateway = gateways[index % gateways.len()];
        let socket = connect(gateway, rider_token, move |event| {
            if event == "driver:location" {
                let now = Instant::now();
                if let Some(tx) = waiters.lock().ok().and_then(|mut w| w.remove(&index)) {
                    let _ = tx.send(now);
                }
            }
        })
        .await?;
        sockets.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let before = cpu.now();
    let latencies: Vec<Option<Duration>> = stream::iter(0..args.pings)
        .map(|k| {
            // Pings in flight at once go to different pairs, so each
            // arrival is unambiguous.
            let index = k % pairs.len();
            ping_heard(http, api, &waiters, index, &pairs[index].1, k)
        })
        .buffered(args.concurrency.clamp(1, pairs.len().max(1)))
        .collect()
        .await;
    let cpu_per_1000 = per_unit(&before, &cpu.now(), latencies.len() as u64, 1000.0);
    let lost = latencies.iter().filter(|l| l.is_none()).count();
    let heard = Latencies::of(latencies.into_iter().flatten())?;
    for socket in sockets {
        let _ = socket.disconnect().await;
    }
    Ok((heard, lost, cpu_per_1000))
}

/// Pair `index`'s driver pings (the `k`th ping, nudged by `k` so no two
/// are alike); the time until its rider's socket hears it (5 s at most).
async fn ping_heard(
    http: &reqwest::Client,
    api: &str,
    waiters: &Waiters,
    index: usize,
    pair: &Pair,
    k: usize,
) -> Option<Duration> {
    let (tx, rx) = oneshot::channel();
    waiters.lock().ok()?.insert(index, tx);
    let jitter = (k as f64) * 1e-7;
    let sent = Instant::now();
    http.post(format!("{api}/drivers/me/location"))
        .bearer_auth(&pair.driver_token)
        .json(&json!({"lat": pair.spot.0 + jitter, "lng": pair.spot.1}))
        .send()
        .await
        .ok()?;
    let heard = tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .ok()?
        .ok()?;
    Some(heard - sent)
}

fn print_table(
    args: &RealtimeArgs,
    pairs: usize,
    heard: &Latencies,
    lost: usize,
    idle: Option<(usize, Option<f64>)>,
) {
    println!("\n| measure | value |\n|---|---|");
    println!("| rider/driver pairs watching their trip | {pairs} |");
    println!(
        "| pings timed (in flight at once) | {} ({}) |",
        heard.len() + lost as u64,
        args.concurrency
    );
    for (q, name) in [(0.50, "p50"), (0.95, "p95"), (0.99, "p99")] {
        println!(
            "| ping to rider socket {name} | {} |",
            ms(heard.percentile(q))
        );
    }
    println!("| ping to rider socket max | {} |", ms(heard.max()));
    println!("| pings never heard (5 s) | {lost} |");
    if let Some((held, per_socket)) = idle {
        println!(
            "| idle sockets held by one gateway | {held} of {} |",
            args.idle
        );
        match per_socket {
            Some(bytes) => println!(
                "| server memory per idle socket | {:.1} KiB |",
                bytes / 1024.0
            ),
            None => println!(
                "| server memory per idle socket | (no local `hail serve` process found) |"
            ),
        }
    }
}

/// A rider's socket (or an idle one) that calls `on_event` with the name
/// of every event it hears.
async fn connect(
    gateway: &str,
    token: &str,
    on_event: impl Fn(&str) + Send + Sync + 'static,
) -> anyhow::Result<Client> {
    let on_event = Arc::new(on_event);
    ClientBuilder::new(gateway)
        .transport_type(TransportType::Websocket)
        .auth(json!({"token": token}))
        .reconnect(false)
        .on_any(move |event, _payload: Payload, _| {
            let name = String::from(event);
            on_event(&name);
            async {}.boxed()
        })
        .connect()
        .await
        .context("connect a socket")
}
