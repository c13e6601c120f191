//! The realtime bench's rider/driver pairs: each registered fresh (under a
//! run id), the driver online at its own spot, 0.3 degrees (over 30 km) from
//! the next so each trip can only go to its own driver, and the rider's trip
//! ASSIGNED to it before any ping is timed.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use futures::{stream, StreamExt};
use serde_json::{json, Value};

pub(super) struct Pair {
    pub(super) driver_token: String,
    /// (lat, lng)
    pub(super) spot: (f64, f64),
}

/// `riders` pairs, 32 set up at once: (rider token, its driver).
pub(super) async fn setup_pairs(
    http: &reqwest::Client,
    api: &str,
    riders: usize,
) -> anyhow::Result<Vec<(String, Pair)>> {
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let started = Instant::now();
    let done = AtomicUsize::new(0);
    let pairs: Vec<anyhow::Result<(String, Pair)>> = stream::iter(0..riders)
        .map(|i| {
            let (run, done) = (&run, &done);
            async move {
                let pair = setup_pair(http, api, run, i).await;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 100 == 0 {
                    eprintln!("      {n} ready ({:.0} s)", started.elapsed().as_secs_f64());
                }
                pair
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    pairs.into_iter().collect()
}

/// Registers pair `i`'s rider and driver, puts the driver online at its
/// own spot (pairs stand 220 m apart on a grid inside Singapore, the
/// built-in city; the trip is requested at the driver's exact spot, so no
/// other driver is nearer) and gets the rider's trip ASSIGNED to it.
async fn setup_pair(
    http: &reqwest::Client,
    api: &str,
    run: &str,
    i: usize,
) -> anyhow::Result<(String, Pair)> {
    let area = hail_shared::cities::SINGAPORE_BBOX;
    let spot = (
        area.min_lat + 0.01 + (i / 100) as f64 * 0.002,
        area.min_lng + 0.01 + (i % 100) as f64 * 0.002,
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
    let trip_id = trip["id"].as_str().context("trip id")?;
    assign(http, api, &driver, trip_id).await?;
    Ok((
        rider,
        Pair {
            driver_token: driver,
            spot,
        },
    ))
}

/// Waits (30 s at most) until `trip_id` is the driver's: in offer mode it
/// accepts its offer; in auto mode it is assigned.
async fn assign(
    http: &reqwest::Client,
    api: &str,
    driver: &str,
    trip_id: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let me: Value = http
            .get(format!("{api}/drivers/me"))
            .bearer_auth(driver)
            .send()
            .await?
            .json()
            .await?;
        if me["current_trip_id"].as_str() == Some(trip_id) && me["current_offer"].is_null() {
            let trip: Value = http
                .get(format!("{api}/trips/{trip_id}"))
                .bearer_auth(driver)
                .send()
                .await?
                .json()
                .await?;
            if trip["status"] == "ASSIGNED" {
                return Ok(());
            }
        }
        if me["current_offer"]["trip_id"].as_str() == Some(trip_id) {
            post(
                http,
                &format!("{api}/trips/{trip_id}/accept"),
                driver,
                json!({}),
            )
            .await?;
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("trip {trip_id} was never offered to its driver (is another bench or simulation using this area?)");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn register(
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

async fn post(
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
