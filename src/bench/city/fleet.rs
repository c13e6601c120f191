//! The city's drivers: signed in (tokens cached between runs, since every
//! fresh sign-in hashes a password on the server), placed at random in the
//! box, put online with a first ping, and pinged again in the background
//! between phases so their 30 s presence never lapses.

use std::{
    collections::HashMap,
    ops::Range,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use rand::{rngs::StdRng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use super::CityArgs;
use crate::simulate::{
    api::{Api, Session},
    geo::{BBox, LatLng},
};

const PASSWORD: &str = "bench-city-password";
/// B stands this far north of A: the next nearest driver.
const PAIR_OFFSET_KM: f64 = 0.022;

/// Every driver of the city with its spot; fleet index = watched index.
#[derive(Clone)]
pub(in crate::bench) struct Fleet {
    pub(in crate::bench) drivers: Vec<(Session, LatLng)>,
}

/// Signs the drivers in, places them (redispatch pair k's B, watched index
/// `pairs.start + 2k + 1`, 22 m north of its A), puts them online and pings once.
pub(super) async fn setup(
    api: &Api,
    args: &CityArgs,
    pairs: Range<usize>,
) -> anyhow::Result<Fleet> {
    let sessions = sign_in_all(api, "driver", args.drivers, args.setup_concurrency).await?;
    let mut rng = StdRng::seed_from_u64(42);
    let mut positions: Vec<LatLng> = (0..args.drivers)
        .map(|_| BBox::SINGAPORE.random_point(&mut rng))
        .collect();
    for b in pairs.skip(1).step_by(2) {
        positions[b] = positions[b - 1].north(PAIR_OFFSET_KM);
    }
    go_online_at(api, sessions.into_iter().zip(positions).collect()).await
}

/// Puts each driver online at its spot with a first ping, 32 at a time.
pub(in crate::bench) async fn go_online_at(
    api: &Api,
    drivers: Vec<(Session, LatLng)>,
) -> anyhow::Result<Fleet> {
    let done = AtomicUsize::new(0);
    let results: Vec<anyhow::Result<()>> = stream::iter(drivers.iter())
        .map(|(session, at)| {
            let done = &done;
            async move {
                go_online(api, session, *at).await?;
                let k = done.fetch_add(1, Ordering::Relaxed) + 1;
                if k.is_multiple_of(2000) {
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

async fn go_online(api: &Api, session: &Session, at: LatLng) -> anyhow::Result<()> {
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
    Ok(())
}

/// Signs in `n` accounts `bench-city-<role>-<i>@bench.hail`, registering
/// those that do not exist yet.
pub(in crate::bench) async fn sign_in_all(
    api: &Api,
    role: &str,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Session>> {
    let cache = TokenCache::load(api, role).await;
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    let results: Vec<anyhow::Result<Session>> = stream::iter(0..n)
        .map(|i| {
            let (done, cache) = (&done, &cache);
            async move {
                let email = email(role, i);
                if let Some((id, token)) = cache.tokens.get(&email) {
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
    cache.save(role, &sessions);
    Ok(sessions)
}

fn email(role: &str, i: usize) -> String {
    format!("bench-city-{role}-{i}@bench.hail")
}

/// Tokens from an earlier run against this gateway: each skips a password
/// hash (the server's Argon2 makes 10,000 sign-ins take minutes).
struct TokenCache {
    path: PathBuf,
    tokens: HashMap<String, (Uuid, String)>,
}

impl TokenCache {
    /// The cache for this gateway and role; empty if its tokens no longer
    /// sign in (another secret, or a wiped database).
    async fn load(api: &Api, role: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "hail-bench-city-{}-{role}.json",
            api.gateway
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        ));
        let mut tokens: HashMap<String, (Uuid, String)> = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        if let Some((_, token)) = tokens.values().next() {
            let checked = api
                .call::<Value>(reqwest::Method::GET, "/auth/me", Some(token), None)
                .await;
            if checked.is_err() {
                tokens.clear();
            }
        }
        Self { path, tokens }
    }

    /// Keeps this run's tokens beside the earlier ones (best effort).
    fn save(self, role: &str, sessions: &[Session]) {
        let fresh: HashMap<String, (Uuid, String)> = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| (email(role, i), (s.id, s.token())))
            .chain(self.tokens)
            .collect();
        if let Ok(bytes) = serde_json::to_vec(&fresh) {
            let _ = std::fs::write(&self.path, bytes);
        }
    }
}

/// Pings every driver at its spot every `--keepalive` seconds, 50 at a
/// time, until stopped; counts the pings answered 5xx or not at all.
pub(in crate::bench) struct KeepAlive {
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl KeepAlive {
    pub(in crate::bench) fn start(api: Api, fleet: Arc<Fleet>, every: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let failed = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(keep_alive(api, fleet, every, stop.clone(), failed.clone()));
        Self { stop, failed, task }
    }

    /// Stops the pings; returns how many failed (5xx or transport).
    pub(in crate::bench) async fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.failed.load(Ordering::Relaxed)
    }
}

async fn keep_alive(
    api: Api,
    fleet: Arc<Fleet>,
    every: u64,
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicUsize>,
) {
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
                let (api, failed) = (&api, &failed);
                async move {
                    let answer = api
                        .post::<Value>(
                            "/drivers/me/location",
                            session,
                            json!({"lat": at.lat, "lng": at.lng}),
                        )
                        .await;
                    if answer.is_err_and(|e| e.status == 0 || e.status >= 500) {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .await;
        pace.await;
    }
}
