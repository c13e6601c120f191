//! One simulated driver: logs in, goes online, drives around the box at
//! street speed pinging over its socket, acknowledges each `offer` as the
//! driver app does, answers it (accept after a random delay, decline, or
//! ignore), and drives each trip to the end. In auto match mode it learns
//! of its assignment from `trip:update`. With `--unreachable`, some phones
//! never answer: half never acknowledge an offer, half lose their
//! connection as it arrives (and come back 10 s later).

use std::{sync::Arc, time::Duration};

use hail_shared::api::{
    drivers::{DriverProfile, StatusResponse},
    geo::LatLng,
    trips::{Offer, Trip, TripStatus},
};
use rand::{rngs::StdRng, Rng};
use serde_json::{json, Value};
use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    api::{connect_socket, Api, Session},
    geo,
    world::{Counters, World},
    Settings,
};
use crate::socketio::{NoAck, SocketClient};

enum Leg {
    Wander(LatLng),
    ToPickup(Trip),
    ToDropoff(Trip),
}

/// A random car, as a driver would type it in.
fn vehicle_for(rng: &mut impl Rng) -> Value {
    const CARS: [(&str, &str); 5] = [
        ("Toyota", "Corolla Altis"),
        ("Honda", "Civic"),
        ("Hyundai", "Ioniq 5"),
        ("Tesla", "Model 3"),
        ("Kia", "Niro"),
    ];
    const COLOURS: [&str; 5] = ["silver", "white", "black", "blue", "grey"];
    let (make, model) = CARS[rng.gen_range(0..CARS.len())];
    let plate = format!(
        "S{}{} {} {}",
        char::from(b'A' + rng.gen_range(0..26u8)),
        char::from(b'A' + rng.gen_range(0..26u8)),
        rng.gen_range(1000..10_000),
        char::from(b'A' + rng.gen_range(0..26u8)),
    );
    json!({
        "make": make,
        "model": model,
        "color": COLOURS[rng.gen_range(0..COLOURS.len())],
        "plate": plate,
    })
}

pub struct Driver {
    pub session: Session,
    pub rng: StdRng,
    pub pos: LatLng,
    pub phone: Phone,
}

/// How a simulated driver's phone treats offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phone {
    /// Acknowledges at once and answers, as the driver app does.
    Healthy,
    /// Connected, but never acknowledges nor answers an offer.
    Silent,
    /// Loses its connection as an offer arrives, back 10 s later (past
    /// the reconnect grace), and never answers it.
    Dropping,
}

/// How long a dropping phone stays away.
const DROPPED_FOR: Duration = Duration::from_secs(10);

struct Run {
    me: Driver,
    api: Api,
    world: Arc<World>,
    settings: Arc<Settings>,
    socket: Arc<SocketClient>,
    /// Where the socket's events go (kept to open a new socket with).
    events: mpsc::UnboundedSender<(String, Value)>,
    /// A dropping phone's connection comes back then.
    back_at: Option<Instant>,
    leg: Leg,
    speed_kmh: f64,
    pending_accept: Option<(Uuid, Instant)>,
}

/// Logs in (the session is made by the caller), goes online, resumes a trip
/// left from an earlier run, then drives until `stop`.
pub async fn run(
    me: Driver,
    api: Api,
    world: Arc<World>,
    settings: Arc<Settings>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let answer_acks = me.phone != Phone::Silent;
    let socket = Arc::new(connect_socket(
        &api.gateway,
        &me.session.token(),
        tx.clone(),
        answer_acks,
    ));
    let token = me.session.clone();
    let mut leg = None;
    match api
        .post::<StatusResponse>("/drivers/me/online", &token, json!({}))
        .await
    {
        Ok(_) => {}
        // BUSY: a trip from an earlier run; finish it first.
        Err(err) if err.status == 409 => {}
        Err(err) => anyhow::bail!("driver {} could not go online: {err}", me.session.id),
    }
    let profile: DriverProfile = api.get("/drivers/me", &token).await?;
    if profile.vehicle.is_none() {
        // As the driver app asks before going online the first time.
        let vehicle = vehicle_for(&mut rand::thread_rng());
        if let Err(err) = api
            .put::<Value>("/drivers/me/vehicle", &token, vehicle)
            .await
        {
            world.error(format!("set a vehicle: {err}"));
        }
    }
    if let Some(trip_id) = profile.current_trip_id {
        let trip: Trip = api.get(&format!("/trips/{trip_id}"), &token).await?;
        world.track(trip.clone());
        leg = match trip.status {
            TripStatus::Assigned | TripStatus::Arrived => Some(Leg::ToPickup(trip)),
            TripStatus::Ongoing => Some(Leg::ToDropoff(trip)),
            _ => None,
        };
        if let Some(Leg::ToPickup(trip) | Leg::ToDropoff(trip)) = &leg {
            world.take(trip, me.session.id, 0.0, false);
        }
    }
    Counters::add(&world.counters.drivers_online);
    let mut run = Run {
        leg: Leg::Wander(me.pos),
        me,
        api,
        world,
        settings,
        socket,
        events: tx,
        back_at: None,
        speed_kmh: 40.0,
        pending_accept: None,
    };
    run.leg = leg.unwrap_or_else(|| Leg::Wander(run.settings.bbox.random_point(&mut run.me.rng)));
    run.new_speed();
    if let Some(offer) = profile.current_offer {
        run.on_offer(offer).await;
    }

    let mut last_move = Instant::now();
    let mut next_ping = Instant::now() + run.ping_gap();
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        let accept_at = run.pending_accept.map_or(far, |(_, at)| at);
        let back_at = run.back_at.unwrap_or(far);
        tokio::select! {
            () = tokio::time::sleep_until(back_at) => {
                run.back_at = None;
                run.open_socket();
            }
            () = stop.cancelled() => break,
            () = tokio::time::sleep_until(next_ping) => {
                let now = Instant::now();
                let secs = (now - last_move).as_secs_f64() * run.settings.speedup;
                last_move = now;
                run.drive(secs).await;
                next_ping = Instant::now() + run.ping_gap();
            }
            () = tokio::time::sleep_until(accept_at) => run.accept().await,
            Some((event, value)) = rx.recv() => run.on_event(&event, value).await,
        }
    }
    if let Ok(socket) = Arc::try_unwrap(run.socket) {
        socket.disconnect().await;
    }
    run.world
        .counters
        .drivers_online
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

impl Run {
    fn ping_gap(&mut self) -> Duration {
        Duration::from_secs_f64(self.me.rng.gen_range(2.0..=4.0))
    }

    fn new_speed(&mut self) {
        self.speed_kmh = self.me.rng.gen_range(20.0..=60.0);
    }

    fn target(&self) -> LatLng {
        match &self.leg {
            Leg::Wander(p) => *p,
            Leg::ToPickup(trip) => trip.pickup,
            Leg::ToDropoff(trip) => trip.dropoff,
        }
    }

    fn busy(&self) -> bool {
        !matches!(self.leg, Leg::Wander(_)) || self.pending_accept.is_some()
    }

    /// Moves for `secs` of simulated time, pings, and acts on arrival.
    async fn drive(&mut self, secs: f64) {
        let target = self.target();
        let heading = geo::heading(self.me.pos, target);
        let (pos, arrived) = geo::step(self.me.pos, target, self.speed_kmh, secs);
        self.me.pos = pos;
        // On arrival the next call (arrive, start, complete) is judged by
        // this ping, so it must be recorded first, as a driver app would
        // make sure of; on the way its ack is awaited on the side.
        let recorded = self.ping(heading);
        if !arrived {
            return;
        }
        let _ = recorded.await;
        self.new_speed();
        let token = self.me.session.clone();
        match std::mem::replace(&mut self.leg, Leg::Wander(pos)) {
            Leg::Wander(_) => {
                self.leg = Leg::Wander(self.settings.bbox.random_point(&mut self.me.rng));
            }
            Leg::ToPickup(trip) => {
                // At the pickup: say so, then start with the rider's PIN
                // when the city asks for one (the driver asks the rider).
                match self
                    .api
                    .post::<Trip>(&format!("/trips/{}/arrive", trip.id), &token, json!({}))
                    .await
                {
                    Ok(arrived) => {
                        self.world.observe(&arrived);
                        self.world.arrived(trip.id);
                    }
                    // Arrived already (a resumed trip): start anyway.
                    Err(err) if err.is("invalid_transition") => {}
                    Err(err) => return self.lost_trip(trip, err).await,
                }
                let body = match self.world.pin(trip.id) {
                    Some(pin) => json!({ "pin": pin }),
                    None => json!({}),
                };
                match self
                    .api
                    .post::<Trip>(&format!("/trips/{}/start", trip.id), &token, body)
                    .await
                {
                    Ok(started) => {
                        self.world.observe(&started);
                        self.leg = Leg::ToDropoff(started);
                    }
                    Err(err) => {
                        if err.is("wrong_pin") {
                            Counters::add(&self.world.counters.pin_failures);
                        }
                        self.lost_trip(trip, err).await
                    }
                }
            }
            Leg::ToDropoff(trip) => {
                match self
                    .api
                    .post::<Trip>(&format!("/trips/{}/complete", trip.id), &token, json!({}))
                    .await
                {
                    Ok(done) => {
                        self.world.observe(&done);
                        self.world.completed(&done);
                        self.world.release(done.id);
                        self.leg = Leg::Wander(self.settings.bbox.random_point(&mut self.me.rng));
                    }
                    Err(err) => self.lost_trip(trip, err).await,
                }
            }
        }
    }

    /// A start or complete failed: look at the trip. Cancelled (or taken
    /// away): back to wandering. Otherwise retry on the next ping.
    async fn lost_trip(&mut self, trip: Trip, err: super::api::CallError) {
        let token = self.me.session.clone();
        match self
            .api
            .get::<Trip>(&format!("/trips/{}", trip.id), &token)
            .await
        {
            Ok(now) if now.driver_id == Some(self.me.session.id) && now.status.is_active() => {
                self.world
                    .error(format!("driver {}: {err}", self.me.session.id));
                self.leg = match now.status {
                    TripStatus::Ongoing => Leg::ToDropoff(now),
                    _ => Leg::ToPickup(now),
                };
                // A PIN refused: wait before trying again, as a driver
                // talking to the rider would.
                if err.is("wrong_pin") {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
            Ok(now) => {
                self.world.observe(&now);
                self.world.release(trip.id);
                self.leg = Leg::Wander(self.settings.bbox.random_point(&mut self.me.rng));
            }
            Err(get_err) => {
                self.world.error(format!(
                    "driver {}: {err}; then {get_err}",
                    self.me.session.id
                ));
                self.leg = Leg::ToPickup(trip);
            }
        }
    }

    /// Sends a ping; the handle ends once its ack came (or did not).
    fn ping(&mut self, heading: f64) -> tokio::task::JoinHandle<()> {
        Counters::add(&self.world.counters.pings);
        let world = self.world.clone();
        let body = json!({
            "lat": self.me.pos.lat,
            "lng": self.me.pos.lng,
            "heading": heading,
            "speed_kmh": self.speed_kmh,
        });
        let socket = self.socket.clone();
        tokio::spawn(async move {
            let answer = socket
                .emit_with_ack("driver:location", &body, Duration::from_secs(10))
                .await;
            let refused = match answer {
                Ok(ack) if ack["ok"] == true => return,
                Err(NoAck::Closed) => return Counters::add(&world.counters.pings_lost),
                Ok(ack) => format!("a ping was refused: {ack}"),
                Err(NoAck::TimedOut) => "a ping got no ack within 10 s".to_string(),
            };
            Counters::add(&world.counters.ping_errors);
            world.remember(refused);
        })
    }

    async fn on_event(&mut self, event: &str, value: Value) {
        match event {
            "offer" => match serde_json::from_value::<Offer>(value) {
                Ok(offer) => self.on_offer(offer).await,
                Err(err) => self.world.error(format!("unreadable offer: {err}")),
            },
            "offer:revoked" => {
                if value["reason"] == "unreachable" {
                    Counters::add(&self.world.counters.revoked_unreachable);
                }
                let revoked = value.get("trip_id").and_then(Value::as_str);
                if self
                    .pending_accept
                    .is_some_and(|(trip, _)| revoked == Some(trip.to_string().as_str()))
                {
                    self.pending_accept = None;
                    Counters::add(&self.world.counters.offer_expired);
                }
            }
            // The backend's pickup ETA for the trip this driver is heading
            // to: the first one is the prediction the summary scores.
            "driver:location" => {
                let eta = value["pickup_eta_secs"].as_u64();
                let trip = value["trip_id"]
                    .as_str()
                    .and_then(|t| Uuid::parse_str(t).ok());
                if let (Some(eta), Some(trip), Leg::ToPickup(current)) = (eta, trip, &self.leg) {
                    if current.id == trip {
                        self.world.predict_eta(trip, eta);
                    }
                }
            }
            // The token ran out and the gateway closed the socket: log in
            // again and reconnect, as the driver app would.
            "error" if value["code"] == "token_expired" => self.reconnect().await,
            "close" => Counters::add(&self.world.counters.sockets_closed),
            "trip:update" => {
                let Ok(trip) = serde_json::from_value::<Trip>(value) else {
                    return;
                };
                self.world.observe(&trip);
                let mine = trip.driver_id == Some(self.me.session.id);
                match &self.leg {
                    // Auto mode: assigned without an offer.
                    Leg::Wander(_)
                        if mine
                            && trip.status == TripStatus::Assigned
                            && self.pending_accept.is_none() =>
                    {
                        let km = self.me.pos.distance_km(&trip.pickup);
                        self.world.take(&trip, self.me.session.id, km, false);
                        self.new_speed();
                        self.leg = Leg::ToPickup(trip);
                    }
                    Leg::ToPickup(current) | Leg::ToDropoff(current)
                        if current.id == trip.id && (!trip.status.is_active() || !mine) =>
                    {
                        self.world.release(trip.id);
                        self.leg = Leg::Wander(self.settings.bbox.random_point(&mut self.me.rng));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    async fn reconnect(&mut self) {
        if let Err(err) = self.api.renew(&self.me.session).await {
            self.world
                .error(format!("driver {}: {err:#}", self.me.session.id));
            return;
        }
        self.open_socket();
    }

    /// A new socket (the old one, if any, is closed as it is dropped).
    fn open_socket(&mut self) {
        self.socket = Arc::new(connect_socket(
            &self.api.gateway,
            &self.me.session.token(),
            self.events.clone(),
            self.me.phone != Phone::Silent,
        ));
    }

    async fn on_offer(&mut self, offer: Offer) {
        Counters::add(&self.world.counters.offers);
        match self.me.phone {
            Phone::Healthy => {}
            Phone::Silent => return,
            Phone::Dropping => {
                if self.back_at.is_none() {
                    self.socket.drop_connection();
                    self.back_at = Some(Instant::now() + DROPPED_FOR);
                }
                return;
            }
        }
        if self.busy() {
            let same = self
                .pending_accept
                .is_some_and(|(trip, _)| trip == offer.trip_id)
                || matches!(&self.leg, Leg::ToPickup(t) | Leg::ToDropoff(t) if t.id == offer.trip_id);
            // The same offer again is a harmless repeat; another trip's
            // offer to a driver holding one would mean a double claim.
            Counters::add(if same {
                &self.world.counters.repeated_offers
            } else {
                &self.world.counters.offers_while_busy
            });
            return;
        }
        let roll: f64 = self.me.rng.gen();
        let s = &self.settings;
        if roll < s.ignore_prob {
            Counters::add(&self.world.counters.ignored);
        } else if roll < s.ignore_prob + s.decline_prob {
            let token = self.me.session.clone();
            match self
                .api
                .post::<Value>(
                    &format!("/trips/{}/decline", offer.trip_id),
                    &token,
                    json!({}),
                )
                .await
            {
                Ok(_) => Counters::add(&self.world.counters.declined),
                Err(err) if err.status == 409 => Counters::add(&self.world.counters.offer_expired),
                Err(err) => self.world.error(format!("decline: {err}")),
            }
        } else {
            let delay = self.me.rng.gen_range(s.accept_delay.0..=s.accept_delay.1);
            self.pending_accept = Some((
                offer.trip_id,
                Instant::now() + Duration::from_secs_f64(delay),
            ));
        }
    }

    async fn accept(&mut self) {
        let Some((trip_id, _)) = self.pending_accept.take() else {
            return;
        };
        let token = self.me.session.clone();
        match self
            .api
            .post::<Trip>(&format!("/trips/{trip_id}/accept"), &token, json!({}))
            .await
        {
            Ok(trip) => {
                Counters::add(&self.world.counters.accepted);
                let km = self.me.pos.distance_km(&trip.pickup);
                self.world.take(&trip, self.me.session.id, km, true);
                self.new_speed();
                self.leg = Leg::ToPickup(trip);
            }
            // The offer ran out or the rider cancelled meanwhile.
            Err(err) if err.status == 409 || err.status == 404 => {
                Counters::add(&self.world.counters.offer_expired)
            }
            Err(err) => self.world.error(format!("accept: {err}")),
        }
    }
}
