//! One run of the scenario against one stack: drivers back at their start,
//! the requests made on schedule, every assignment driven to the pickup and
//! the dropoff at the bench's speed (time compressed by `time_scale`), and
//! what happened to every trip, read from the trip service's table.
//!
//! Drivers never answer anything: the stack runs in auto mode, where the
//! matcher's choice is the assignment. A driver assigned at time t starts
//! the trip after the pickup drive and completes it after the trip's, each
//! straight-line distance at `speed_kmh` divided by `time_scale`, then is
//! free again at the dropoff, where it pings from.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use hail_shared::api::geo::LatLng;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::scenario::Scenario;
use crate::simulate::api::{Api, Session};

/// The accounts every run uses: a driver per start position, a rider per
/// request (a rider holds one active trip at a time).
pub(super) struct People {
    pub drivers: Vec<Session>,
    pub riders: Vec<Session>,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Pace {
    pub speed_kmh: f64,
    pub time_scale: f64,
    pub match_deadline_secs: u64,
}

impl Pace {
    /// Seconds a straight `km` takes at the bench's speed (not compressed).
    pub fn drive_secs(&self, km: f64) -> f64 {
        km / self.speed_kmh * 3600.0
    }

    fn compressed(&self, secs: f64) -> Duration {
        Duration::from_secs_f64((secs / self.time_scale).max(0.0))
    }
}

/// What one run did with the scenario's requests.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub requested: usize,
    /// Requests refused (not a trip).
    pub refused: usize,
    /// Per assigned trip.
    pub pickup_km: Vec<f64>,
    pub to_assigned: Vec<Duration>,
    /// Time to match plus the drive to the pickup, seconds.
    pub to_pickup_secs: Vec<f64>,
    pub completed: usize,
    pub no_driver: usize,
    /// Still open when the run ended (then cancelled).
    pub unfinished: usize,
}

/// A trip as the table holds it: id, status, driver, requested, assigned.
type TripSeen = (
    Uuid,
    String,
    Option<Uuid>,
    chrono::DateTime<chrono::Utc>,
    Option<chrono::DateTime<chrono::Utc>>,
);

struct Shared {
    positions: Mutex<Vec<LatLng>>,
    by_driver: HashMap<Uuid, usize>,
}

pub(super) async fn run(
    label: &str,
    api: &Api,
    pool: &PgPool,
    people: &People,
    scenario: &Scenario,
    pace: Pace,
) -> anyhow::Result<Outcome> {
    let shared = Arc::new(Shared {
        positions: Mutex::new(scenario.drivers.clone()),
        by_driver: people
            .drivers
            .iter()
            .enumerate()
            .map(|(k, d)| (d.id, k))
            .collect(),
    });
    reset_drivers(api, people, &scenario.drivers).await?;
    let mut background = JoinSet::new();
    background.spawn(keep_alive(
        api.clone(),
        people.drivers.clone(),
        shared.clone(),
    ));

    // The requests, on schedule; each trip id with its request's index.
    let trips: Arc<Mutex<HashMap<Uuid, usize>>> = Arc::default();
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut requests = JoinSet::new();
    for (k, request) in scenario.requests.iter().enumerate() {
        let at = started + Duration::from_secs_f64(request.at_secs);
        let (api, rider, trips, refused) = (
            api.clone(),
            people.riders[k].clone(),
            trips.clone(),
            refused.clone(),
        );
        let body = json!({
            "pickup": request.pickup,
            "dropoff": request.dropoff,
            "tier": if request.premium { "premium" } else { "standard" },
        });
        requests.spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            match api.post::<Value>("/trips", &rider, body).await {
                Ok(trip) => match trip["id"].as_str().and_then(|id| id.parse().ok()) {
                    Some(id) => {
                        if let Ok(mut trips) = trips.lock() {
                            trips.insert(id, k);
                        }
                    }
                    None => {
                        refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                },
                Err(err) => {
                    refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    eprintln!("      a request was refused: {err}");
                }
            }
        });
    }

    let mut outcome = Outcome {
        requested: scenario.requests.len(),
        ..Outcome::default()
    };
    let last_request = scenario.requests.last().map_or(0.0, |r| r.at_secs);
    let longest_drive = pace.compressed(pace.drive_secs(16.0)) * 2;
    let give_up = started
        + Duration::from_secs_f64(last_request)
        + Duration::from_secs(pace.match_deadline_secs + 10)
        + longest_drive;
    let mut handled: HashMap<Uuid, &'static str> = HashMap::new();
    let mut drives = JoinSet::new();
    let mut last_report = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ids: Vec<Uuid> = trips
            .lock()
            .map(|t| t.keys().copied().collect())
            .unwrap_or_default();
        let rows: Vec<TripSeen> =
            sqlx::query_as(
                "SELECT id, status, driver_id, created_at, assigned_at FROM trip.trips WHERE id = ANY($1)",
            )
            .bind(&ids)
            .fetch_all(pool)
            .await?;
        for (id, status, driver_id, created_at, assigned_at) in rows {
            let k = match trips.lock().ok().and_then(|t| t.get(&id).copied()) {
                Some(k) => k,
                None => continue,
            };
            let request = &scenario.requests[k];
            if let (Some(driver_id), Some(assigned_at), None) =
                (driver_id, assigned_at, handled.get(&id))
            {
                let Some(&d) = shared.by_driver.get(&driver_id) else {
                    continue;
                };
                let from = shared
                    .positions
                    .lock()
                    .map(|p| p[d])
                    .unwrap_or(request.pickup);
                let pickup_km = from.distance_km(&request.pickup);
                let to_assigned = (assigned_at - created_at).to_std().unwrap_or_default();
                outcome.pickup_km.push(pickup_km);
                outcome.to_assigned.push(to_assigned);
                outcome
                    .to_pickup_secs
                    .push(to_assigned.as_secs_f64() + pace.drive_secs(pickup_km));
                handled.insert(id, "assigned");
                drives.spawn(drive(
                    api.clone(),
                    people.drivers[d].clone(),
                    d,
                    id,
                    (pickup_km, request.pickup.distance_km(&request.dropoff)),
                    request.dropoff,
                    pace,
                    shared.clone(),
                ));
            }
            match status.as_str() {
                "COMPLETED" if handled.get(&id) != Some(&"done") => {
                    outcome.completed += 1;
                    handled.insert(id, "done");
                }
                "NO_DRIVER" | "CANCELLED" if handled.get(&id) != Some(&"done") => {
                    if status == "NO_DRIVER" {
                        outcome.no_driver += 1;
                    }
                    handled.insert(id, "done");
                }
                _ => {}
            }
        }
        let made = ids.len() + refused.load(std::sync::atomic::Ordering::Relaxed);
        let done = handled.values().filter(|s| **s == "done").count();
        if last_report.elapsed() >= Duration::from_secs(5) {
            eprintln!(
                "      [{label}] {:.0} s: {made}/{} requested, {} assigned, {} completed, {} no driver",
                started.elapsed().as_secs_f64(),
                outcome.requested,
                outcome.pickup_km.len(),
                outcome.completed,
                outcome.no_driver
            );
            last_report = Instant::now();
        }
        if made == outcome.requested && done == ids.len() {
            break;
        }
        if Instant::now() > give_up {
            outcome.unfinished = ids.len() - done;
            break;
        }
    }
    outcome.refused = refused.load(std::sync::atomic::Ordering::Relaxed);
    requests.abort_all();
    drives.abort_all();
    background.abort_all();
    // Whatever is still open is cancelled, so the next run starts clean.
    let open: Vec<(Uuid, usize)> = trips
        .lock()
        .map(|t| {
            t.iter()
                .filter(|(id, _)| handled.get(*id) != Some(&"done"))
                .map(|(id, k)| (*id, *k))
                .collect()
        })
        .unwrap_or_default();
    stream::iter(open)
        .for_each_concurrent(16, |(id, k)| {
            let rider = &people.riders[k];
            async move {
                let _ = api
                    .post::<Value>(&format!("/trips/{id}/cancel"), rider, json!({}))
                    .await;
            }
        })
        .await;
    Ok(outcome)
}

/// Every driver ONLINE at its start position.
async fn reset_drivers(api: &Api, people: &People, at: &[LatLng]) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<()>> = stream::iter(people.drivers.iter().zip(at))
        .map(|(driver, at)| async move {
            match api
                .post::<Value>("/drivers/me/online", driver, json!({}))
                .await
            {
                Ok(_) => {}
                Err(err) => anyhow::bail!("a driver could not go online: {err}"),
            }
            api.post::<Value>(
                "/drivers/me/location",
                driver,
                json!({"lat": at.lat, "lng": at.lng}),
            )
            .await
            .map_err(|err| anyhow::anyhow!("a driver's first ping: {err}"))?;
            Ok(())
        })
        .buffer_unordered(32)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Pings every driver at its current place every 10 s, so presence (30 s)
/// never lapses while it waits or drives.
async fn keep_alive(api: Api, drivers: Vec<Session>, shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let positions = shared
            .positions
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        stream::iter(drivers.iter().zip(positions))
            .for_each_concurrent(32, |(driver, at)| {
                let api = &api;
                async move {
                    let _ = api
                        .post::<Value>(
                            "/drivers/me/location",
                            driver,
                            json!({"lat": at.lat, "lng": at.lng}),
                        )
                        .await;
                }
            })
            .await;
    }
}

/// An assigned driver drives to the pickup, starts, drives to the dropoff,
/// pings from there and completes (compressed time).
#[allow(clippy::too_many_arguments)]
async fn drive(
    api: Api,
    driver: Session,
    d: usize,
    trip: Uuid,
    (pickup_km, trip_km): (f64, f64),
    dropoff: LatLng,
    pace: Pace,
    shared: Arc<Shared>,
) {
    tokio::time::sleep(pace.compressed(pace.drive_secs(pickup_km))).await;
    if api
        .post::<Value>(&format!("/trips/{trip}/start"), &driver, json!({}))
        .await
        .is_err()
    {
        return;
    }
    tokio::time::sleep(pace.compressed(pace.drive_secs(trip_km))).await;
    if let Ok(mut positions) = shared.positions.lock() {
        positions[d] = dropoff;
    }
    let _ = api
        .post::<Value>(
            "/drivers/me/location",
            &driver,
            json!({"lat": dropoff.lat, "lng": dropoff.lng}),
        )
        .await;
    let _ = api
        .post::<Value>(&format!("/trips/{trip}/complete"), &driver, json!({}))
        .await;
}
