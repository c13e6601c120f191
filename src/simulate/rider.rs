//! Riders: trips arrive at `--rate` per minute (Poisson), each from a random
//! idle rider between two random points in the box; every trip is then
//! polled until it ends, which frees its rider.

use std::{sync::Arc, time::Duration};

use hail_shared::api::trips::{Trip, TripStatus};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;
use tokio::{sync::Mutex, task::JoinSet};
use tokio_util::sync::CancellationToken;

use super::{
    api::{Api, Session},
    geo::LatLng,
    world::{Counters, World},
    Settings,
};

/// Trips shorter than this are redrawn: a rider walks that far.
const MIN_TRIP_KM: f64 = 0.3;

pub async fn run(
    riders: Vec<Session>,
    api: Api,
    world: Arc<World>,
    settings: Arc<Settings>,
    stop: CancellationToken,
) {
    let mut rng = StdRng::seed_from_u64(settings.seed ^ 0x5249_4445);
    let idle: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new((0..riders.len()).collect()));
    let riders = Arc::new(riders);
    let mut tasks = JoinSet::new();
    // A rider left with an active trip by an earlier run: track it first.
    for index in 0..riders.len() {
        let (api, world, riders, idle, stop) = (
            api.clone(),
            world.clone(),
            riders.clone(),
            idle.clone(),
            stop.clone(),
        );
        tasks.spawn(async move {
            let rider = &riders[index];
            let Ok(trips) = api.get::<Vec<Trip>>("/trips?limit=5", rider).await else {
                return;
            };
            if let Some(active) = trips.into_iter().find(|t| t.status.is_active()) {
                idle.lock().await.retain(|&i| i != index);
                world.track(active.clone());
                follow(active, rider.clone(), index, api, world, idle, stop).await;
            }
        });
    }
    let per_sec = settings.rate / 60.0;
    loop {
        // Exponential gaps: a Poisson stream of requests at `rate`.
        let gap = -(1.0 - rng.gen::<f64>()).ln() / per_sec;
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(Duration::from_secs_f64(gap.min(3600.0))) => {}
        }
        let index = {
            let mut idle = idle.lock().await;
            if idle.is_empty() {
                Counters::add(&world.counters.riders_all_busy);
                continue;
            }
            let pick = rng.gen_range(0..idle.len());
            idle.swap_remove(pick)
        };
        let pickup = settings.bbox.random_point(&mut rng);
        let mut dropoff = settings.bbox.random_point(&mut rng);
        for _ in 0..20 {
            if pickup.distance_km(&dropoff) >= MIN_TRIP_KM {
                break;
            }
            dropoff = settings.bbox.random_point(&mut rng);
        }
        let (api, world, riders, idle, stop) = (
            api.clone(),
            world.clone(),
            riders.clone(),
            idle.clone(),
            stop.clone(),
        );
        tasks.spawn(async move {
            let rider = riders[index].clone();
            request(rider, index, pickup, dropoff, api, world, idle, stop).await;
        });
        while tasks.try_join_next().is_some() {}
    }
    tasks.shutdown().await;
}

#[allow(clippy::too_many_arguments)]
async fn request(
    rider: Session,
    index: usize,
    pickup: LatLng,
    dropoff: LatLng,
    api: Api,
    world: Arc<World>,
    idle: Arc<Mutex<Vec<usize>>>,
    stop: CancellationToken,
) {
    let body = json!({
        "pickup": {"lat": pickup.lat, "lng": pickup.lng},
        "dropoff": {"lat": dropoff.lat, "lng": dropoff.lng},
    });
    match api.post::<Trip>("/trips", &rider, body).await {
        Ok(trip) => {
            world.track(trip.clone());
            world.note_pin(&trip);
            follow(trip, rider, index, api, world, idle, stop).await;
        }
        Err(err) if err.is("active_trip_exists") => {
            // Another client of this account holds a trip: find and follow it.
            Counters::add(&world.counters.request_conflicts);
            match api.get::<Vec<Trip>>("/trips?limit=5", &rider).await {
                Ok(trips) => match trips.into_iter().find(|t| t.status.is_active()) {
                    Some(active) => {
                        world.track(active.clone());
                        world.note_pin(&active);
                        follow(active, rider, index, api, world, idle, stop).await;
                    }
                    None => idle.lock().await.push(index),
                },
                Err(err) => {
                    world.error(format!("list trips: {err}"));
                    idle.lock().await.push(index);
                }
            }
        }
        Err(err) => {
            world.error(format!("request a trip: {err}"));
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
            idle.lock().await.push(index);
        }
    }
}

/// Polls the trip every 2 to 4 s until it ends, then frees the rider.
async fn follow(
    trip: Trip,
    rider: Session,
    index: usize,
    api: Api,
    world: Arc<World>,
    idle: Arc<Mutex<Vec<usize>>>,
    stop: CancellationToken,
) {
    let mut rng = StdRng::seed_from_u64(trip.id.as_u128() as u64);
    let path = format!("/trips/{}", trip.id);
    loop {
        // Drivers report starts and completions at once; the poll catches
        // what only the server decides (NO_DRIVER, auto assignments).
        if world.status(trip.id).is_some_and(|s| !s.is_active()) {
            break;
        }
        let gap = Duration::from_secs_f64(rng.gen_range(2.0..=4.0));
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(gap) => {}
        }
        match api.get::<Trip>(&path, &rider).await {
            Ok(now) => {
                world.observe(&now);
                if !now.status.is_active() {
                    break;
                }
            }
            Err(err) => world.error(format!("poll trip: {err}")),
        }
    }
    // Riders rate about half of their completed trips, mostly well.
    if world.status(trip.id) == Some(TripStatus::Completed) && rng.gen_bool(0.5) {
        let stars = *[5, 5, 5, 4, 4, 3].get(rng.gen_range(0..6)).unwrap_or(&5);
        let rating = api
            .post::<Trip>(
                &format!("/trips/{}/rating", trip.id),
                &rider,
                json!({ "stars": stars }),
            )
            .await;
        match rating {
            Ok(_) => Counters::add(&world.counters.ratings),
            Err(err) if err.is("already_rated") => {}
            Err(err) => world.error(format!("rate a trip: {err}")),
        }
    }
    idle.lock().await.push(index);
}
