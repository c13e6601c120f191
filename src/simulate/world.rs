//! What the simulation has seen so far: every trip it requested (its latest
//! server state), which simulated driver works which trip, the counters for
//! the progress line and the summary, and the invariant violations found.
//! Actors report into it; nothing in it awaits.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex, MutexGuard,
    },
    time::Instant,
};

use hail_shared::api::trips::{Trip, TripStatus};
use uuid::Uuid;

use super::invariants::{self, Assignment, StuckRule, TripView, Violation};

#[derive(Default)]
pub struct Counters {
    pub drivers_online: AtomicU64,
    pub offers: AtomicU64,
    pub accepted: AtomicU64,
    pub declined: AtomicU64,
    pub ignored: AtomicU64,
    pub repeated_offers: AtomicU64,
    pub offers_while_busy: AtomicU64,
    pub offer_expired: AtomicU64,
    /// Offers revoked because the phone did not answer (`unreachable`).
    pub revoked_unreachable: AtomicU64,
    pub pings: AtomicU64,
    /// Pings answered with an error, or not at all on an open socket.
    pub ping_errors: AtomicU64,
    /// Pings whose socket closed before their ack came (the gateway closes
    /// a socket when its token expires): lost, as on a phone, not refused.
    pub pings_lost: AtomicU64,
    /// Driver sockets that ended (closed by the gateway, dropped, or a
    /// reconnect attempt that failed).
    pub sockets_closed: AtomicU64,
    pub request_conflicts: AtomicU64,
    pub riders_all_busy: AtomicU64,
    pub unexpected: AtomicU64,
    /// Starts refused with `wrong_pin` (0 expected: drivers ask the rider).
    pub pin_failures: AtomicU64,
    pub arrivals: AtomicU64,
    pub ratings: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

struct Record {
    trip: Trip,
    requested_at: f64,
    unworked_since: Option<f64>,
    ever_assigned: bool,
}

#[derive(Default)]
struct Inner {
    trips: HashMap<Uuid, Record>,
    /// trip -> the simulated driver working it.
    working: HashMap<Uuid, Uuid>,
    /// Successful accepts, (trip, driver).
    accepts: Vec<(Uuid, Uuid)>,
    pickup_km: (f64, u64),
    violations: Vec<Violation>,
    reported: HashSet<Uuid>,
    errors: Vec<String>,
    /// The pickup PIN each rider was shown (the driver "asks the rider").
    pins: HashMap<Uuid, String>,
    /// The backend's pickup ETA when the driver was assigned: (seconds,
    /// when it was read).
    predicted_eta: HashMap<Uuid, (u64, f64)>,
    /// |predicted - actual| pickup ETA, summed over arrivals, and how many.
    eta_error: (f64, u64),
    /// Final fares in hundredths (per currency), summed, and how many.
    fares: HashMap<String, (i64, u64)>,
}

pub struct World {
    started: Instant,
    rule: StuckRule,
    pub counters: Counters,
    inner: Mutex<Inner>,
}

/// The figures of the progress line and the summary.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub secs: f64,
    pub drivers_online: u64,
    pub requested: u64,
    pub assigned: u64,
    pub completed: u64,
    pub no_driver: u64,
    pub cancelled: u64,
    pub in_progress: u64,
    pub mean_pickup_km: Option<f64>,
    /// Per currency, the mean final fare in hundredths.
    pub mean_fares: Vec<(String, i64, u64)>,
    /// Mean |predicted - actual| pickup ETA in seconds, and over how many.
    pub mean_eta_error_secs: Option<(f64, u64)>,
}

fn rank(status: TripStatus) -> u8 {
    match status {
        TripStatus::Requested => 0,
        TripStatus::Assigned => 1,
        TripStatus::Arrived => 2,
        TripStatus::Ongoing => 3,
        _ => 4,
    }
}

impl World {
    pub fn new(rule: StuckRule) -> Self {
        Self {
            started: Instant::now(),
            rule,
            counters: Counters::default(),
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking actor must not take the summary down with it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A trip this simulation is responsible for (requested, or found
    /// active for one of its riders).
    pub fn track(&self, trip: Trip) {
        let now = self.now();
        let mut inner = self.lock();
        let id = trip.id;
        inner.trips.entry(id).or_insert(Record {
            ever_assigned: trip.driver_id.is_some(),
            trip,
            requested_at: now,
            unworked_since: None,
        });
    }

    /// The server's answer about a trip (a poll, a socket update, an
    /// action's answer). Older answers than what is known are ignored.
    pub fn observe(&self, trip: &Trip) {
        let mut inner = self.lock();
        if let Some(record) = inner.trips.get_mut(&trip.id) {
            let newer = trip.updated_at > record.trip.updated_at
                || (trip.updated_at == record.trip.updated_at
                    && rank(trip.status) >= rank(record.trip.status));
            if newer {
                record.ever_assigned |= trip.driver_id.is_some();
                record.trip = trip.clone();
            }
        }
    }

    pub fn status(&self, trip: Uuid) -> Option<TripStatus> {
        self.lock().trips.get(&trip).map(|r| r.trip.status)
    }

    /// `driver` starts working `trip`, `pickup_km` from its pickup.
    pub fn take(&self, trip: &Trip, driver: Uuid, pickup_km: f64, accepted: bool) {
        self.observe(trip);
        let mut inner = self.lock();
        inner.working.insert(trip.id, driver);
        if accepted {
            inner.accepts.push((trip.id, driver));
        }
        inner.pickup_km.0 += pickup_km;
        inner.pickup_km.1 += 1;
    }

    /// The rider's PIN for `trip` (from the rider's own view of it).
    pub fn note_pin(&self, trip: &Trip) {
        if let Some(pin) = &trip.pickup_pin {
            self.lock().pins.insert(trip.id, pin.clone());
        }
    }

    pub fn pin(&self, trip: Uuid) -> Option<String> {
        self.lock().pins.get(&trip).cloned()
    }

    /// The backend's first pickup ETA for `trip` after assignment.
    pub fn predict_eta(&self, trip: Uuid, secs: u64) {
        let now = self.now();
        self.lock().predicted_eta.entry(trip).or_insert((secs, now));
    }

    /// The driver arrived: how far off the first prediction was.
    pub fn arrived(&self, trip: Uuid) {
        Counters::add(&self.counters.arrivals);
        let now = self.now();
        let mut inner = self.lock();
        if let Some((predicted, at)) = inner.predicted_eta.remove(&trip) {
            let actual = now - at;
            inner.eta_error.0 += (actual - predicted as f64).abs();
            inner.eta_error.1 += 1;
        }
    }

    /// A completed trip's final fare.
    pub fn completed(&self, trip: &Trip) {
        let Some(fare) = trip.fare.final_amount else {
            return;
        };
        let mut inner = self.lock();
        let sum = inner.fares.entry(trip.fare.currency.clone()).or_default();
        sum.0 += fare.hundredths();
        sum.1 += 1;
        inner.pins.remove(&trip.id);
    }

    pub fn release(&self, trip: Uuid) {
        self.lock().working.remove(&trip);
    }

    pub fn error(&self, message: String) {
        Counters::add(&self.counters.unexpected);
        self.remember(message);
    }

    /// Keeps `message` among the run's first errors without counting it
    /// as unexpected (its own counter has it).
    pub fn remember(&self, message: String) {
        let mut inner = self.lock();
        if inner.errors.len() < 10 {
            inner.errors.push(message);
        }
    }

    pub fn errors(&self) -> Vec<String> {
        self.lock().errors.clone()
    }

    /// Trips not yet in a terminal state, with their riders.
    pub fn open_trips(&self) -> Vec<(Uuid, Uuid)> {
        self.lock()
            .trips
            .values()
            .filter(|r| r.trip.status.is_active())
            .map(|r| (r.trip.id, r.trip.rider_id))
            .collect()
    }

    /// Looks for stuck trips now; each trip is reported once.
    pub fn check_stuck(&self) {
        let now = self.now();
        let rule = self.rule;
        let mut inner = self.lock();
        let Inner {
            trips,
            working,
            violations,
            reported,
            ..
        } = &mut *inner;
        for record in trips.values_mut() {
            let worked = working.contains_key(&record.trip.id);
            let held = matches!(
                record.trip.status,
                TripStatus::Assigned | TripStatus::Arrived | TripStatus::Ongoing
            );
            record.unworked_since = match (held && !worked, record.unworked_since) {
                (true, Some(since)) => Some(since),
                (true, None) => Some(now),
                (false, _) => None,
            };
            if reported.contains(&record.trip.id) {
                continue;
            }
            let view = TripView {
                id: record.trip.id,
                status: record.trip.status,
                requested_at: record.requested_at,
                unworked_since: record.unworked_since,
            };
            if let Some(found) = invariants::stuck(&view, now, rule) {
                reported.insert(record.trip.id);
                violations.push(found);
            }
        }
    }

    /// Every violation: stuck trips found so far, plus double assignments
    /// over the whole history.
    pub fn violations(&self) -> Vec<Violation> {
        let inner = self.lock();
        let assignments: Vec<Assignment> = inner
            .trips
            .values()
            .filter_map(|r| {
                Some(Assignment {
                    trip: r.trip.id,
                    driver: r.trip.driver_id?,
                    from: r.trip.assigned_at?,
                    until: r.trip.completed_at.or(r.trip.cancelled_at),
                })
            })
            .collect();
        let mut all = inner.violations.clone();
        all.extend(invariants::overlapping_assignments(&assignments));
        all.extend(invariants::trips_with_two_drivers(&inner.accepts));
        all
    }

    pub fn snapshot(&self) -> Snapshot {
        let inner = self.lock();
        let mut s = Snapshot {
            secs: self.now(),
            drivers_online: self.counters.drivers_online.load(Ordering::Relaxed),
            requested: inner.trips.len() as u64,
            mean_pickup_km: (inner.pickup_km.1 > 0)
                .then(|| inner.pickup_km.0 / inner.pickup_km.1 as f64),
            mean_fares: inner
                .fares
                .iter()
                .map(|(currency, (sum, n))| (currency.clone(), sum / (*n).max(1) as i64, *n))
                .collect(),
            mean_eta_error_secs: (inner.eta_error.1 > 0).then(|| {
                (
                    inner.eta_error.0 / inner.eta_error.1 as f64,
                    inner.eta_error.1,
                )
            }),
            ..Snapshot::default()
        };
        for record in inner.trips.values() {
            s.assigned += u64::from(record.ever_assigned);
            match record.trip.status {
                TripStatus::Completed => s.completed += 1,
                TripStatus::NoDriver => s.no_driver += 1,
                TripStatus::Cancelled => s.cancelled += 1,
                _ => s.in_progress += 1,
            }
        }
        s
    }
}
