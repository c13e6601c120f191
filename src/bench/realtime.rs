//! `hail bench realtime`: measures Hail's realtime path against a running
//! stack, through its public API only, and prints one markdown table.
//!
//! 1. ping to rider: N rider/driver pairs, each trip ASSIGNED and its rider
//!    watching on its own socket; then pings (REST) and the time until the
//!    rider's socket hears `driver:location`, p50/p95/p99;
//! 2. idle sockets: how many one gateway holds, and its memory per socket
//!    (resident memory of the `hail serve` process before and after).
//!
//! Pairs are placed 30 km apart, beyond the widest search, so each trip can
//! only go to its own driver.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use futures::{stream, FutureExt, StreamExt};
use rust_socketio::{
    asynchronous::{Client, ClientBuilder},
    Payload, TransportType,
};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::latency::{ms, Latencies};

#[derive(clap::Args, Debug)]
pub struct RealtimeArgs {
    /// The gateway to measure.
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
}

struct Pair {
    driver_token: String,
    spot: (f64, f64),
}

type Waiters = Arc<Mutex<HashMap<usize, oneshot::Sender<Instant>>>>;

pub async fn realtime(args: RealtimeArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()?;
    let api = format!("{}/api/v1", args.gateway.trim_end_matches('/'));
    http.get(format!("{}/readyz", args.gateway))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .with_context(|| {
            format!(
                "Hail does not answer at {}: start it with ./scripts/run.sh",
                args.gateway
            )
        })?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();

    eprintln!("[1/3] setting up {} riders with assigned trips (registrations hash passwords: this takes a while)", args.riders);
    let started = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pairs: Vec<anyhow::Result<(String, Pair)>> = stream::iter(0..args.riders)
        .map(|i| {
            let (http, api, run, done) = (http.clone(), api.clone(), run.clone(), done.clone());
            async move {
                let pair = setup_pair(&http, &api, &run, i).await;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if n % 100 == 0 {
                    eprintln!("      {n} ready ({:.0} s)", started.elapsed().as_secs_f64());
                }
                pair
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let pairs: Vec<(String, Pair)> = pairs.into_iter().collect::<anyhow::Result<_>>()?;

    eprintln!(
        "[2/3] connecting {} rider sockets and timing {} pings",
        pairs.len(),
        args.pings
    );
    let waiters: Waiters = Arc::new(Mutex::new(HashMap::new()));
    let mut sockets = Vec::with_capacity(pairs.len());
    for (index, (rider_token, _)) in pairs.iter().enumerate() {
        let waiters = waiters.clone();
        let socket = connect(&args.gateway, rider_token, move |event| {
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

    let latencies: Vec<Option<Duration>> = stream::iter(0..args.pings)
        .map(|k| {
            let (http, api, waiters) = (http.clone(), api.clone(), waiters.clone());
            // Pings in flight at once go to different pairs, so each
            // arrival is unambiguous.
            let index = k % pairs.len();
            let pair = &pairs[index].1;
            async move {
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
        })
        .buffered(args.concurrency.clamp(1, pairs.len().max(1)))
        .collect()
        .await;
    let lost = latencies.iter().filter(|l| l.is_none()).count();
    let heard = Latencies::of(latencies.into_iter().flatten())?;
    for socket in sockets {
        let _ = socket.disconnect().await;
    }

    let idle = if args.idle > 0 {
        eprintln!("[3/3] opening {} idle sockets", args.idle);
        Some(idle_sockets(&args, &pairs[0].0).await?)
    } else {
        None
    };

    println!("\n| measure | value |\n|---|---|");
    println!(
        "| rider/driver pairs watching their trip | {} |",
        pairs.len()
    );
    println!(
        "| pings timed (in flight at once) | {} ({}) |",
        heard.len() + lost as u64,
        args.concurrency
    );
    println!(
        "| ping to rider socket p50 | {} |",
        ms(heard.percentile(0.50))
    );
    println!(
        "| ping to rider socket p95 | {} |",
        ms(heard.percentile(0.95))
    );
    println!(
        "| ping to rider socket p99 | {} |",
        ms(heard.percentile(0.99))
    );
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
    Ok(())
}

async fn setup_pair(
    http: &reqwest::Client,
    api: &str,
    run: &str,
    i: usize,
) -> anyhow::Result<(String, Pair)> {
    let spot = (
        -40.0 + (i / 60) as f64 * 0.3,
        -170.0 + (i % 60) as f64 * 0.3,
    );
    let rider = register(
        http,
        api,
        &format!("bench-{run}-rider-{i}@bench.hail"),
        "rider",
    )
    .await?;
    let driver = register(
        http,
        api,
        &format!("bench-{run}-driver-{i}@bench.hail"),
        "driver",
    )
    .await?;
    post(
        http,
        &format!("{api}/drivers/me/online"),
        &driver,
        json!({}),
    )
    .await?;
    post(
        http,
        &format!("{api}/drivers/me/location"),
        &driver,
        json!({"lat": spot.0, "lng": spot.1}),
    )
    .await?;
    let trip = post(
        http,
        &format!("{api}/trips"),
        &rider,
        json!({"pickup": {"lat": spot.0, "lng": spot.1}, "dropoff": {"lat": spot.0 + 0.01, "lng": spot.1}}),
    )
    .await?;
    let trip_id = trip["id"].as_str().context("trip id")?.to_string();
    // Offer mode: the driver answers its offer; auto mode: it is assigned.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let me: Value = http
            .get(format!("{api}/drivers/me"))
            .bearer_auth(&driver)
            .send()
            .await?
            .json()
            .await?;
        if me["current_trip_id"].as_str() == Some(trip_id.as_str()) && me["current_offer"].is_null()
        {
            let trip: Value = http
                .get(format!("{api}/trips/{trip_id}"))
                .bearer_auth(&driver)
                .send()
                .await?
                .json()
                .await?;
            if trip["status"] == "ASSIGNED" {
                break;
            }
        }
        if me["current_offer"]["trip_id"].as_str() == Some(trip_id.as_str()) {
            post(
                http,
                &format!("{api}/trips/{trip_id}/accept"),
                &driver,
                json!({}),
            )
            .await?;
            break;
        }
        if Instant::now() > deadline {
            bail!("trip {trip_id} was never offered to its driver (is another bench or simulation using this area?)");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((
        rider,
        Pair {
            driver_token: driver,
            spot,
        },
    ))
}

pub(super) async fn register(
    http: &reqwest::Client,
    api: &str,
    email: &str,
    role: &str,
) -> anyhow::Result<String> {
    let body = json!({"email": email, "password": "bench-password", "name": "Bench", "role": role});
    let answer: Value = http
        .post(format!("{api}/auth/register"))
        .json(&body)
        .send()
        .await?
        .error_for_status()
        .context("register")?
        .json()
        .await?;
    answer["access_token"]
        .as_str()
        .map(str::to_string)
        .context("no token")
}

pub(super) async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let response = http.post(url).bearer_auth(token).json(&body).send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("POST {url}: {status} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

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

/// Opens idle sockets; returns how many held and the server's memory per socket.
async fn idle_sockets(args: &RealtimeArgs, token: &str) -> anyhow::Result<(usize, Option<f64>)> {
    let before = server_rss();
    let mut held = Vec::with_capacity(args.idle);
    let results: Vec<anyhow::Result<Client>> = stream::iter(0..args.idle)
        .map(|_| connect(&args.gateway, token, |_| {}))
        .buffer_unordered(100)
        .collect()
        .await;
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(client) => held.push(client),
            Err(err) => eprintln!("      socket {i} failed: {err:#}"),
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server_rss();
    let count = held.len();
    let per_socket = match (before, after) {
        (Some(b), Some(a)) if count > 0 => Some((a.saturating_sub(b)) as f64 / count as f64),
        _ => None,
    };
    for client in held {
        let _ = client.disconnect().await;
    }
    Ok((count, per_socket))
}

/// Resident memory (bytes) of the local `hail serve` process, if there is one.
fn server_rss() -> Option<u64> {
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("hail serve") {
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            let kb: u64 = status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            return Some(kb * 1024);
        }
    }
    None
}
