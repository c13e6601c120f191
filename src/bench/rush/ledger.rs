//! What the bench knows of every trip and watched driver, kept as the
//! sockets and answers come in, and the latencies timed from it. One lock:
//! a few hundred events a second.
//!
//! A driver is free, holding an offer (until its expiry), or riding. It is
//! released (freed) when it sends its decline, when its ignored offer's
//! `expires_at` passes, when its trip's completion is sent or refused, or
//! when the rider's cancel is sent; the next `offer` it hears times
//! "freed -> offer" if a hotspot trip could use it when it was freed (one
//! that had waited [`STARVED`] with no offer and was never offered this
//! driver; a trip whose first search is still in flight is not waiting for
//! a freed driver), in all and by what freed it ([`Freed`]: the causes take
//! different paths through the matcher, so a tail is read by its cause).
//! An offer heard while a driver holds another open offer or rides another
//! trip is a double.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use rand::Rng;
use uuid::Uuid;

use super::plan::Area;
use crate::bench::latency::Latencies;

/// An offer heard this close before the previous one's expiry is taken
/// as after it (the expiry is the server's clock, read on arrival).
const EXPIRY_SLACK: Duration = Duration::from_millis(50);

/// A trip waiting this long with no offer has searched and found nobody:
/// a driver freed near it is one it wants.
pub(super) const STARVED: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, PartialEq)]
enum TripState {
    Waiting,
    Offered,
    Assigned,
    Ended,
}

struct TripEntry {
    area: Area,
    /// The rider's index.
    rider: usize,
    requested: Instant,
    /// Placed at a driver the bench knew was free.
    at_free_driver: bool,
    first_offer: Option<Instant>,
    declined: Option<Instant>,
    state: TripState,
    /// Since when it waits (its state is `Waiting`).
    waiting_since: Instant,
    /// The watched drivers it was offered to.
    offered_to: Vec<usize>,
}

/// What freed a watched driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Freed {
    /// It sent its decline.
    Declined,
    /// Its ignored offer ran out (timed from `expires_at`).
    Expired,
    /// Its offer was revoked, or its accept or start refused.
    Revoked,
    /// The rider cancelled the trip it held or rode.
    Cancelled,
    /// Its ride is over (completion sent).
    RideOver,
}

impl Freed {
    pub(super) const ALL: [Freed; 5] = [
        Freed::Declined,
        Freed::Expired,
        Freed::Revoked,
        Freed::Cancelled,
        Freed::RideOver,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Freed::Declined => "declined",
            Freed::Expired => "offer ran out",
            Freed::Revoked => "revoked or refused",
            Freed::Cancelled => "rider cancelled",
            Freed::RideOver => "ride over",
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum DriverState {
    Free,
    Holding { trip: Uuid, until: Instant },
    Riding(Uuid),
}

struct DriverEntry {
    area: Area,
    state: DriverState,
    /// When it was last freed, why, and whether a starved hotspot trip
    /// could use it then.
    freed: Option<(Instant, Freed, bool)>,
    /// A request was just placed at its spot: not picked again for a while.
    picked_until: Option<Instant>,
}

/// The latencies of one area.
pub(super) struct AreaTimes {
    pub(super) first_offer: Latencies,
    pub(super) decline_next: Latencies,
}

/// An offer of `offered` heard by watched driver `driver` while it held
/// an open offer of `held` (`left`: that offer's time still to run) or
/// rode it (`left` is `None`): what the report lists, so the two trips'
/// dispatch timelines can be read.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Double {
    pub(super) driver: usize,
    pub(super) held: Uuid,
    pub(super) left: Option<Duration>,
    pub(super) offered: Uuid,
}

/// The figures the report reads.
pub(super) struct Tally {
    pub(super) times: HashMap<Area, AreaTimes>,
    pub(super) freed_to_offer: Latencies,
    /// The same, by what freed the driver.
    pub(super) freed_by: HashMap<Freed, Latencies>,
    pub(super) requested: HashMap<Area, usize>,
    pub(super) offers: usize,
    /// Offers heard while the driver held or rode another trip.
    pub(super) doubles: Vec<Double>,
    pub(super) peak_waiting: HashMap<Area, usize>,
    /// Hotspot trips taken as NO_DRIVER client-side (waited past the deadline).
    pub(super) past_deadline: usize,
    /// Free-zone requests placed with no known-free driver to stand at.
    pub(super) unplaced: usize,
}

struct Book {
    trips: HashMap<Uuid, TripEntry>,
    drivers: Vec<DriverEntry>,
    waiting: HashMap<Area, usize>,
    tally: Tally,
}

pub(super) struct Ledger(Mutex<Book>);

impl Ledger {
    /// The watched drivers, `hotspot` first, then `free`.
    pub(super) fn new(hotspot: usize, free: usize) -> anyhow::Result<Self> {
        let entry = |area| DriverEntry {
            area,
            state: DriverState::Free,
            freed: None,
            picked_until: None,
        };
        let drivers = (0..hotspot + free)
            .map(|i| {
                entry(if i < hotspot {
                    Area::Hotspot
                } else {
                    Area::Free
                })
            })
            .collect();
        Ok(Self(Mutex::new(Book {
            trips: HashMap::new(),
            drivers,
            waiting: HashMap::new(),
            tally: Tally::new()?,
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Book) -> T) -> Option<T> {
        self.0.lock().ok().map(|mut book| f(&mut book))
    }

    /// A free-zone driver the bench knows is free (and not just picked),
    /// among `range`, or `None` after a few tries.
    pub(super) fn pick_free(
        &self,
        range: std::ops::Range<usize>,
        rng: &mut impl Rng,
    ) -> Option<usize> {
        let now = Instant::now();
        self.with(|book| {
            for _ in 0..64 {
                let i = rng.gen_range(range.clone());
                let d = &mut book.drivers[i];
                if d.state == DriverState::Free && d.picked_until.is_none_or(|t| t < now) {
                    d.picked_until = Some(now + Duration::from_secs(3));
                    return Some(i);
                }
            }
            book.tally.unplaced += 1;
            None
        })
        .flatten()
    }

    pub(super) fn requested(
        &self,
        trip: Uuid,
        area: Area,
        at_free_driver: bool,
        rider: usize,
        at: Instant,
    ) {
        self.with(|book| {
            *book.tally.requested.entry(area).or_default() += 1;
            book.trips.insert(
                trip,
                TripEntry {
                    area,
                    rider,
                    requested: at,
                    at_free_driver,
                    first_offer: None,
                    declined: None,
                    state: TripState::Ended,
                    waiting_since: at,
                    offered_to: Vec::new(),
                },
            );
            book.set_trip(trip, TripState::Waiting, at);
        });
    }

    /// Driver `d` heard an offer of `trip`: times it, and says whether the
    /// driver should react (false for a repeat of the offer it holds).
    pub(super) fn offer_heard(&self, d: usize, trip: Uuid, at: Instant, until: Instant) -> bool {
        self.with(|book| book.offer_heard(d, trip, at, until))
            .unwrap_or(false)
    }

    /// `d` lets go of `trip` at `at` (decline sent, offer ran out or was
    /// revoked, accept refused); the trip waits again unless it ended.
    pub(super) fn let_go(&self, d: usize, trip: Uuid, at: Instant, why: Freed) {
        self.with(|book| {
            if book.release(d, trip, at, why) {
                if let Some(t) = book.trips.get_mut(&trip) {
                    if why == Freed::Declined {
                        t.declined = Some(at);
                    }
                }
                if book.trip_state(trip) == Some(TripState::Offered) {
                    book.set_trip(trip, TripState::Waiting, at);
                }
            }
        });
    }

    pub(super) fn accepted(&self, d: usize, trip: Uuid) {
        self.with(|book| {
            if book.trip_state(trip) != Some(TripState::Ended) {
                book.drivers[d].state = DriverState::Riding(trip);
                book.set_trip(trip, TripState::Assigned, Instant::now());
            }
        });
    }

    /// The ride is over at `at` (completion sent, or the trip was gone).
    pub(super) fn ride_over(&self, d: usize, trip: Uuid, at: Instant) {
        self.with(|book| {
            book.release(d, trip, at, Freed::RideOver);
            book.set_trip(trip, TripState::Ended, at);
        });
    }

    /// The rider sends a cancel at `at`: the trip ends, its driver is free.
    pub(super) fn cancelling(&self, trip: Uuid, at: Instant) {
        self.with(|book| {
            let holder = book.drivers.iter().position(|d| match d.state {
                DriverState::Holding { trip: t, .. } | DriverState::Riding(t) => t == trip,
                DriverState::Free => false,
            });
            if let Some(d) = holder {
                book.release(d, trip, at, Freed::Cancelled);
            }
            book.set_trip(trip, TripState::Ended, at);
        });
    }

    /// Hotspot trips still waiting `deadline` after their request are taken
    /// as given up by the stack (NO_DRIVER).
    pub(super) fn sweep(&self, deadline: Duration) {
        let now = Instant::now();
        self.with(|book| {
            let expired: Vec<Uuid> = book
                .trips
                .iter()
                .filter(|(_, t)| t.state == TripState::Waiting && now - t.requested >= deadline)
                .map(|(id, _)| *id)
                .collect();
            book.tally.past_deadline += expired.len();
            for trip in expired {
                book.set_trip(trip, TripState::Ended, now);
            }
        });
    }

    /// Trips waiting now in `area`.
    pub(super) fn waiting(&self, area: Area) -> usize {
        self.with(|book| book.waiting.get(&area).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Trips never offered: (trip, its rider, its area, its age).
    pub(super) fn never_offered(&self) -> Vec<(Uuid, usize, Area, Duration)> {
        self.with(|book| {
            book.trips
                .iter()
                .filter(|(_, t)| t.first_offer.is_none())
                .map(|(id, t)| (*id, t.rider, t.area, t.requested.elapsed()))
                .collect()
        })
        .unwrap_or_default()
    }

    /// Trips not known to have ended, with their riders.
    pub(super) fn open_trips(&self) -> Vec<(Uuid, usize)> {
        self.with(|book| {
            book.trips
                .iter()
                .filter(|(_, t)| t.state != TripState::Ended)
                .map(|(id, t)| (*id, t.rider))
                .collect()
        })
        .unwrap_or_default()
    }

    pub(super) fn requested_total(&self) -> usize {
        self.with(|book| book.trips.len()).unwrap_or(0)
    }

    pub(super) fn offers(&self) -> usize {
        self.with(|book| book.tally.offers).unwrap_or(0)
    }

    /// The figures so far, leaving empty ones behind.
    pub(super) fn take_tally(&self) -> Option<Tally> {
        let fresh = Tally::new().ok()?;
        self.with(|book| std::mem::replace(&mut book.tally, fresh))
    }
}

impl Tally {
    fn new() -> anyhow::Result<Self> {
        let times = || -> anyhow::Result<AreaTimes> {
            Ok(AreaTimes {
                first_offer: Latencies::new()?,
                decline_next: Latencies::new()?,
            })
        };
        Ok(Self {
            times: HashMap::from([(Area::Hotspot, times()?), (Area::Free, times()?)]),
            freed_to_offer: Latencies::new()?,
            freed_by: Freed::ALL
                .into_iter()
                .map(|why| Ok((why, Latencies::new()?)))
                .collect::<anyhow::Result<_>>()?,
            requested: HashMap::new(),
            offers: 0,
            doubles: Vec::new(),
            peak_waiting: HashMap::new(),
            past_deadline: 0,
            unplaced: 0,
        })
    }
}

impl Book {
    fn trip_state(&self, trip: Uuid) -> Option<TripState> {
        self.trips.get(&trip).map(|t| t.state)
    }

    /// Moves a trip, keeping the per-area waiting counts and their peaks.
    fn set_trip(&mut self, trip: Uuid, state: TripState, at: Instant) {
        let Some(t) = self.trips.get_mut(&trip) else {
            return;
        };
        let (was, area) = (t.state, t.area);
        t.state = state;
        if state == TripState::Waiting && was != TripState::Waiting {
            t.waiting_since = at;
        }
        let waiting = self.waiting.entry(area).or_default();
        match (was == TripState::Waiting, state == TripState::Waiting) {
            (false, true) => *waiting += 1,
            (true, false) => *waiting = waiting.saturating_sub(1),
            _ => {}
        }
        let now = *waiting;
        let peak = self.tally.peak_waiting.entry(area).or_default();
        *peak = (*peak).max(now);
    }

    /// Whether a hotspot trip has waited [`STARVED`] by `at` with no offer
    /// and was never offered `d`: the trip a freed `d` should be offered to.
    fn starved_hotspot_trip_could_use(&self, d: usize, at: Instant) -> bool {
        let Some(since) = at.checked_sub(STARVED) else {
            return false;
        };
        self.waiting.get(&Area::Hotspot).is_some_and(|&n| n > 0)
            && self.trips.values().any(|t| {
                t.area == Area::Hotspot
                    && t.state == TripState::Waiting
                    && t.waiting_since <= since
                    && !t.offered_to.contains(&d)
            })
    }

    /// Frees `d` if it holds or rides `trip`; says whether it did.
    fn release(&mut self, d: usize, trip: Uuid, at: Instant, why: Freed) -> bool {
        let wanted = self.starved_hotspot_trip_could_use(d, at);
        let driver = &mut self.drivers[d];
        let holds = match driver.state {
            DriverState::Holding { trip: t, .. } | DriverState::Riding(t) => t == trip,
            DriverState::Free => false,
        };
        if holds {
            driver.state = DriverState::Free;
            driver.freed = Some((at, why, wanted));
        }
        holds
    }

    fn offer_heard(&mut self, d: usize, trip: Uuid, at: Instant, until: Instant) -> bool {
        match self.drivers[d].state {
            DriverState::Holding { trip: t, .. } if t == trip => return false,
            DriverState::Holding {
                trip: t,
                until: end,
            } if at + EXPIRY_SLACK >= end => {
                self.release(d, t, end, Freed::Expired);
                if self.trip_state(t) == Some(TripState::Offered) {
                    self.set_trip(t, TripState::Waiting, end);
                }
            }
            DriverState::Holding { trip: held, until } => self.tally.doubles.push(Double {
                driver: d,
                held,
                left: Some(until.saturating_duration_since(at)),
                offered: trip,
            }),
            DriverState::Riding(held) => self.tally.doubles.push(Double {
                driver: d,
                held,
                left: None,
                offered: trip,
            }),
            DriverState::Free => {}
        }
        self.tally.offers += 1;
        let driver = &mut self.drivers[d];
        driver.state = DriverState::Holding { trip, until };
        if let Some((freed, why, counted)) = driver.freed.take() {
            if counted && driver.area == Area::Hotspot {
                let took = at.saturating_duration_since(freed);
                self.tally.freed_to_offer.record(took);
                if let Some(by) = self.tally.freed_by.get_mut(&why) {
                    by.record(took);
                }
            }
        }
        self.time_trip(trip, at);
        if let Some(t) = self.trips.get_mut(&trip) {
            t.offered_to.push(d);
        }
        if self.trip_state(trip) == Some(TripState::Waiting) {
            self.set_trip(trip, TripState::Offered, at);
        }
        true
    }

    /// Request -> first offer, and decline -> next offer, for `trip`.
    fn time_trip(&mut self, trip: Uuid, at: Instant) {
        let Some(t) = self.trips.get_mut(&trip) else {
            return;
        };
        let Some(times) = self.tally.times.get_mut(&t.area) else {
            return;
        };
        if t.first_offer.is_none() {
            t.first_offer = Some(at);
            if t.area == Area::Hotspot || t.at_free_driver {
                times
                    .first_offer
                    .record(at.saturating_duration_since(t.requested));
            }
        }
        if let Some(declined) = t.declined.take() {
            times
                .decline_next
                .record(at.saturating_duration_since(declined));
        }
    }
}

#[cfg(test)]
mod tests;
