//! One run of `hail bench delivery`: the seeded city (the same for every
//! run), its drivers' phones, the riders' requests, and what came of them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use hail_shared::api::{
    geo::LatLng,
    trips::{Trip, TripStatus},
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::{sync::mpsc, task::JoinSet};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::DeliveryArgs;
use crate::{
    simulate::api::{connected_socket, Api, Session},
    socketio::SocketClient,
};

/// Where the city is (Singapore's centre) and how far it spreads.
const CENTRE: LatLng = LatLng {
    lat: 1.3521,
    lng: 103.8198,
};
const SPREAD_KM: f64 = 2.0;
/// A phone's GPS ping, whatever its app does.
const PING_EVERY: Duration = Duration::from_secs(4);
/// How long a dropping phone stays away.
const DROPPED_FOR: Duration = Duration::from_secs(10);

/// How a bench driver's phone treats offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phone {
    Healthy,
    /// Connected, never acknowledges nor answers.
    Silent,
    /// Loses its socket as an offer arrives, back 10 s later.
    Dropping,
}

/// The city, drawn once from the seed.
pub struct Plan {
    pub phones: Vec<Phone>,
    drivers: Vec<LatLng>,
    /// (seconds after the start, pickup, dropoff) per request.
    requests: Vec<(f64, LatLng, LatLng)>,
    accept_delay: Duration,
    secs: f64,
}

impl Plan {
    pub fn new(args: &DeliveryArgs) -> Self {
        let mut rng = StdRng::seed_from_u64(args.seed);
        // About a degree of longitude is 111.3 km times cos(latitude); at
        // 1.35 degrees north that is within 0.03 % of a degree of latitude.
        let near = |rng: &mut StdRng| {
            let lng_km = rng.gen_range(-SPREAD_KM..=SPREAD_KM);
            let at = CENTRE.north(rng.gen_range(-SPREAD_KM..=SPREAD_KM));
            LatLng {
                lat: at.lat,
                lng: at.lng + lng_km / 111.3,
            }
        };
        let unreachable = (args.drivers as f64 * args.unreachable).round() as usize;
        let phones = (0..args.drivers)
            .map(|i| match i {
                i if i >= unreachable => Phone::Healthy,
                i if i % 2 == 0 => Phone::Silent,
                _ => Phone::Dropping,
            })
            .collect();
        let drivers = (0..args.drivers).map(|_| near(&mut rng)).collect();
        let gap = args.secs / args.requests as f64;
        let requests = (0..args.requests)
            .map(|i| (i as f64 * gap, near(&mut rng), near(&mut rng)))
            .collect();
        Self {
            phones,
            drivers,
            requests,
            accept_delay: Duration::from_secs_f64(args.accept_delay_secs.max(0.0)),
            secs: args.secs,
        }
    }
}

/// What one run measured.
#[derive(Default)]
pub struct Outcome {
    /// Request -> accepted, per accepted trip.
    pub accepted: Vec<Duration>,
    /// The same, for the trips that met a phone that did not answer (an
    /// offer of theirs expired or was given up as unreachable).
    pub accepted_after_a_miss: Vec<Duration>,
    missed: std::collections::HashSet<Uuid>,
    /// Offer -> delivered over a socket ack, per delivery.
    pub delivered: Vec<Duration>,
    pub unreachable_no_ack: i64,
    pub unreachable_socket_lost: i64,
    pub expired: i64,
    /// The ceiling: `driver:location` ack round trips of healthy phones.
    pub round_trips: Vec<Duration>,
}

/// Shared by the run's tasks.
#[derive(Default)]
struct Ledger {
    requested: HashMap<Uuid, Instant>,
    accepted: HashMap<Uuid, Instant>,
    round_trips: Vec<Duration>,
}

type Shared = Arc<Mutex<Ledger>>;

pub async fn run(
    label: &str,
    api: &Api,
    pool: &PgPool,
    drivers: &[Session],
    riders: &[Session],
    plan: &Plan,
) -> anyhow::Result<Outcome> {
    let ledger: Shared = Arc::default();
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    for ((session, phone), at) in drivers.iter().zip(&plan.phones).zip(&plan.drivers) {
        online(api, session, *at).await?;
        let driver = BenchDriver {
            api: api.clone(),
            session: session.clone(),
            phone: *phone,
            at: *at,
            accept_delay: plan.accept_delay,
            ledger: ledger.clone(),
        };
        tasks.spawn(driver.run(stop.clone()));
    }
    eprintln!("[delivery] run {label}: {} drivers online", drivers.len());
    let started = Instant::now();
    let mut trips = Vec::new();
    for ((after, pickup, dropoff), rider) in plan.requests.iter().zip(riders) {
        tokio::time::sleep_until((started + Duration::from_secs_f64(*after)).into()).await;
        let body = json!({"pickup": pickup, "dropoff": dropoff});
        let trip: Trip = api
            .post("/trips", rider, body)
            .await
            .map_err(|e| anyhow::anyhow!("request a trip: {e}"))?;
        if let Ok(mut ledger) = ledger.lock() {
            ledger.requested.insert(trip.id, Instant::now());
        }
        trips.push((trip.id, rider.clone()));
    }
    // Every trip accepted, or long enough for every unreachable phone to
    // have held one offer of each trip for its whole timeout.
    let give_up = Instant::now() + Duration::from_secs_f64(120.0 + plan.secs);
    loop {
        let done = ledger.lock().map(|l| l.accepted.len()).unwrap_or(0);
        if done >= trips.len() || Instant::now() > give_up {
            break;
        }
        eprint!(
            "\r[delivery] run {label}: {done} of {} trips accepted",
            trips.len()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!();
    stop.cancel();
    while tasks.join_next().await.is_some() {}
    // Trips left waiting end here, so the next run starts from a quiet city.
    for (trip_id, rider) in &trips {
        let _ = api
            .post::<Value>(&format!("/trips/{trip_id}/cancel"), rider, json!({}))
            .await;
    }
    let trip_ids: Vec<Uuid> = trips.iter().map(|(id, _)| *id).collect();
    let healthy: std::collections::HashSet<Uuid> = drivers
        .iter()
        .zip(&plan.phones)
        .filter(|(_, phone)| **phone == Phone::Healthy)
        .map(|(d, _)| d.id)
        .collect();
    let mut outcome = audit(pool, &trip_ids, &healthy).await?;
    let ledger = ledger
        .lock()
        .map_err(|_| anyhow::anyhow!("the ledger lock was poisoned"))?;
    outcome.accepted = ledger
        .accepted
        .iter()
        .filter_map(|(trip, at)| Some(*at - *ledger.requested.get(trip)?))
        .collect();
    outcome.accepted_after_a_miss = ledger
        .accepted
        .iter()
        .filter(|(trip, _)| outcome.missed.contains(trip))
        .filter_map(|(trip, at)| Some(*at - *ledger.requested.get(trip)?))
        .collect();
    outcome.round_trips = ledger.round_trips.clone();
    Ok(outcome)
}

/// What the trip service recorded for these trips (deliveries: to the
/// `healthy` drivers' phones only).
async fn audit(
    pool: &PgPool,
    trips: &[Uuid],
    healthy: &std::collections::HashSet<Uuid>,
) -> anyhow::Result<Outcome> {
    let rows: Vec<(Uuid, Option<Uuid>, String, Value)> = sqlx::query_as(
        "SELECT trip_id, driver_id, type, detail FROM trip.dispatch_events
         WHERE trip_id = ANY($1) AND type IN ('OFFER_DELIVERED', 'OFFER_UNREACHABLE', 'OFFER_EXPIRED')",
    )
    .bind(trips)
    .fetch_all(pool)
    .await
    .context("read the audit of the run's trips")?;
    let mut outcome = Outcome::default();
    for (trip, driver, kind, detail) in rows {
        if kind != "OFFER_DELIVERED" {
            outcome.missed.insert(trip);
        }
        match (kind.as_str(), detail["reason"].as_str()) {
            ("OFFER_DELIVERED", _)
                if detail["via"] == "socket" && driver.is_some_and(|d| healthy.contains(&d)) =>
            {
                let ms = detail["latency_ms"].as_u64().unwrap_or_default();
                outcome.delivered.push(Duration::from_millis(ms));
            }
            ("OFFER_UNREACHABLE", Some("no_ack")) => outcome.unreachable_no_ack += 1,
            ("OFFER_UNREACHABLE", _) => outcome.unreachable_socket_lost += 1,
            ("OFFER_EXPIRED", _) => outcome.expired += 1,
            _ => {}
        }
    }
    Ok(outcome)
}

async fn online(api: &Api, driver: &Session, at: LatLng) -> anyhow::Result<()> {
    // 409: still BUSY from the last run's end; the cancels free it.
    match api
        .post::<Value>("/drivers/me/online", driver, json!({}))
        .await
    {
        Ok(_) => {}
        Err(err) if err.status == 409 => {}
        Err(err) => anyhow::bail!("a bench driver could not go online: {err}"),
    }
    api.post::<Value>(
        "/drivers/me/location",
        driver,
        json!({"lat": at.lat, "lng": at.lng}),
    )
    .await
    .map_err(|e| anyhow::anyhow!("a bench driver's first ping: {e}"))?;
    Ok(())
}

struct BenchDriver {
    api: Api,
    session: Session,
    phone: Phone,
    at: LatLng,
    accept_delay: Duration,
    ledger: Shared,
}

impl BenchDriver {
    async fn run(self, stop: CancellationToken) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let Ok(mut socket) = self.connect(tx.clone()).await else {
            return;
        };
        let mut ping = tokio::time::interval(PING_EVERY);
        let mut back_at: Option<tokio::time::Instant> = None;
        loop {
            let back =
                back_at.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(back), if back_at.is_some() => {
                    back_at = None;
                    match self.connect(tx.clone()).await {
                        Ok(again) => socket = again,
                        Err(_) => break,
                    }
                }
                _ = ping.tick() => self.ping(&socket).await,
                Some((event, value)) = rx.recv() => {
                    if event != "offer" {
                        continue;
                    }
                    match self.phone {
                        Phone::Healthy => self.take(&value).await,
                        Phone::Silent => {}
                        Phone::Dropping if back_at.is_none() => {
                            socket.drop_connection();
                            back_at = Some(tokio::time::Instant::now() + DROPPED_FOR);
                        }
                        Phone::Dropping => {}
                    }
                }
            }
        }
        socket.disconnect().await;
    }

    async fn connect(
        &self,
        events: mpsc::UnboundedSender<(String, Value)>,
    ) -> anyhow::Result<SocketClient> {
        let answers = self.phone != Phone::Silent;
        connected_socket(&self.api.gateway, &self.session.token(), events, answers).await
    }

    /// A GPS ping over the socket; a healthy phone's round trip is the
    /// run's ceiling for delivery.
    async fn ping(&self, socket: &SocketClient) {
        let sent = Instant::now();
        let body = json!({"lat": self.at.lat, "lng": self.at.lng});
        let answer = socket
            .emit_with_ack("driver:location", &body, Duration::from_secs(5))
            .await;
        if self.phone == Phone::Healthy && answer.is_ok_and(|a| a["ok"] == true) {
            if let Ok(mut ledger) = self.ledger.lock() {
                ledger.round_trips.push(sent.elapsed());
            }
        }
    }

    /// Accepts after a look, and drives the trip to its end at once, so the
    /// driver is free for the next.
    async fn take(&self, offer: &Value) {
        let Some(trip_id) = offer["trip_id"]
            .as_str()
            .and_then(|t| t.parse::<Uuid>().ok())
        else {
            return;
        };
        tokio::time::sleep(self.accept_delay).await;
        let accepted = self
            .api
            .post::<Trip>(
                &format!("/trips/{trip_id}/accept"),
                &self.session,
                json!({}),
            )
            .await;
        let Ok(trip) = accepted else {
            return;
        };
        if trip.status == TripStatus::Assigned {
            if let Ok(mut ledger) = self.ledger.lock() {
                ledger.accepted.insert(trip_id, Instant::now());
            }
        }
        for step in ["start", "complete"] {
            let _ = self
                .api
                .post::<Value>(
                    &format!("/trips/{trip_id}/{step}"),
                    &self.session,
                    json!({}),
                )
                .await;
        }
    }
}
