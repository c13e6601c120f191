//! The simulator's invariants, as pure checks over what it observed:
//! - no driver is on two active trips at once (from the server's own
//!   `assigned_at` and `completed_at`/`cancelled_at`, so polling lag cannot
//!   fake an overlap), and no trip is accepted by two drivers;
//! - no trip is stuck: REQUESTED past the search deadline (the matcher should
//!   have assigned it or ended it NO_DRIVER), or ASSIGNED/ONGOING while no
//!   simulated driver is working on it.

use std::{collections::HashMap, fmt, time::Duration};

use chrono::{DateTime, Utc};
use hail_shared::api::trips::TripStatus;
use uuid::Uuid;

/// One driver's hold on one trip, in server time.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub trip: Uuid,
    pub driver: Uuid,
    pub from: DateTime<Utc>,
    /// `None` while the trip is still ASSIGNED or ONGOING.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Violation {
    DriverOnTwoTrips {
        driver: Uuid,
        first: Uuid,
        second: Uuid,
    },
    TripWithTwoDrivers {
        trip: Uuid,
        first: Uuid,
        second: Uuid,
    },
    Stuck {
        trip: Uuid,
        status: TripStatus,
        secs: u64,
        why: &'static str,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DriverOnTwoTrips {
                driver,
                first,
                second,
            } => write!(
                f,
                "driver {driver} was on trips {first} and {second} at the same time"
            ),
            Self::TripWithTwoDrivers {
                trip,
                first,
                second,
            } => write!(
                f,
                "trip {trip} was accepted by drivers {first} and {second}"
            ),
            Self::Stuck {
                trip,
                status,
                secs,
                why,
            } => write!(f, "trip {trip} stuck in {status} for {secs} s: {why}"),
        }
    }
}

/// Every pair of one driver's assignments whose time spans overlap. A trip
/// that ends at the instant the next one starts does not overlap.
pub fn overlapping_assignments(assignments: &[Assignment]) -> Vec<Violation> {
    let mut by_driver: HashMap<Uuid, Vec<&Assignment>> = HashMap::new();
    for a in assignments {
        by_driver.entry(a.driver).or_default().push(a);
    }
    let mut found = Vec::new();
    for (driver, mut list) in by_driver {
        list.sort_by_key(|a| a.from);
        // The latest end seen so far: any later start before it overlaps.
        let mut open: Option<&Assignment> = None;
        for a in list {
            if let Some(prev) = open {
                if prev.trip != a.trip && prev.until.is_none_or(|end| a.from < end) {
                    found.push(Violation::DriverOnTwoTrips {
                        driver,
                        first: prev.trip,
                        second: a.trip,
                    });
                }
            }
            let longer = match (open, a.until) {
                (None, _) => true,
                (Some(prev), until) => match (prev.until, until) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some(p), Some(u)) => u > p,
                },
            };
            if longer {
                open = Some(a);
            }
        }
    }
    found
}

/// Trips that more than one driver accepted successfully (the simulated
/// drivers never cancel, so a trip has at most one accept).
pub fn trips_with_two_drivers(accepts: &[(Uuid, Uuid)]) -> Vec<Violation> {
    let mut first: HashMap<Uuid, Uuid> = HashMap::new();
    let mut found = Vec::new();
    for &(trip, driver) in accepts {
        match first.get(&trip) {
            Some(&other) if other != driver => found.push(Violation::TripWithTwoDrivers {
                trip,
                first: other,
                second: driver,
            }),
            Some(_) => {}
            None => {
                first.insert(trip, driver);
            }
        }
    }
    found
}

/// When a non-terminal trip counts as stuck.
#[derive(Clone, Copy, Debug)]
pub struct StuckRule {
    /// REQUESTED longer than this: the search deadline plus one offer
    /// timeout (an offer sent just before the deadline may run out) plus slack.
    pub requested: Duration,
    /// ASSIGNED/ONGOING this long with no simulated driver working on it.
    pub unworked: Duration,
}

impl StuckRule {
    pub fn new(match_deadline: Duration, offer_timeout: Duration) -> Self {
        Self {
            requested: match_deadline + offer_timeout + Duration::from_secs(15),
            unworked: Duration::from_secs(30),
        }
    }
}

/// What the simulator knows about one trip, in seconds since it started.
#[derive(Clone, Copy, Debug)]
pub struct TripView {
    pub id: Uuid,
    pub status: TripStatus,
    pub requested_at: f64,
    /// Since when no simulated driver works on it (None: one does).
    pub unworked_since: Option<f64>,
}

pub fn stuck(trip: &TripView, now: f64, rule: StuckRule) -> Option<Violation> {
    let (since, limit, why) = match trip.status {
        TripStatus::Requested => (
            trip.requested_at,
            rule.requested,
            "still REQUESTED past the search deadline plus one offer timeout",
        ),
        TripStatus::Assigned | TripStatus::Ongoing => (
            trip.unworked_since?,
            rule.unworked,
            "assigned, but no simulated driver is driving it",
        ),
        _ => return None,
    };
    let secs = now - since;
    (secs > limit.as_secs_f64()).then_some(Violation::Stuck {
        trip: trip.id,
        status: trip.status,
        secs: secs as u64,
        why,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn hold(trip: u128, driver: u128, from: i64, until: Option<i64>) -> Assignment {
        Assignment {
            trip: id(trip),
            driver: id(driver),
            from: t(from),
            until: until.map(t),
        }
    }

    #[test]
    fn a_double_assignment_is_caught() {
        let history = [
            hold(1, 100, 0, Some(50)),
            hold(2, 100, 40, Some(90)), // overlaps trip 1 on driver 100
            hold(3, 200, 0, None),
        ];
        let found = overlapping_assignments(&history);
        assert_eq!(
            found,
            vec![Violation::DriverOnTwoTrips {
                driver: id(100),
                first: id(1),
                second: id(2)
            }]
        );
    }

    #[test]
    fn an_open_trip_overlaps_anything_after_it() {
        let history = [hold(2, 100, 60, Some(70)), hold(1, 100, 0, None)];
        assert_eq!(overlapping_assignments(&history).len(), 1);
    }

    #[test]
    fn back_to_back_trips_and_other_drivers_are_fine() {
        let history = [
            hold(1, 100, 0, Some(50)),
            hold(2, 100, 50, Some(90)),
            hold(3, 100, 95, None),
            hold(4, 200, 10, None),
            hold(5, 300, 10, Some(20)),
        ];
        assert!(overlapping_assignments(&history).is_empty());
        // A long trip still open hides behind a short one that ended.
        let nested = [
            hold(1, 100, 0, Some(100)),
            hold(2, 100, 10, Some(20)),
            hold(3, 100, 30, Some(40)),
        ];
        assert_eq!(overlapping_assignments(&nested).len(), 2);
    }

    #[test]
    fn a_trip_accepted_by_two_drivers_is_caught() {
        let accepts = [(id(1), id(100)), (id(2), id(200)), (id(1), id(300))];
        assert_eq!(
            trips_with_two_drivers(&accepts),
            vec![Violation::TripWithTwoDrivers {
                trip: id(1),
                first: id(100),
                second: id(300)
            }]
        );
        assert!(trips_with_two_drivers(&[(id(1), id(100)), (id(1), id(100))]).is_empty());
    }

    #[test]
    fn stuck_follows_the_dispatch_settings() {
        let rule = StuckRule::new(Duration::from_secs(60), Duration::from_secs(15));
        let requested = TripView {
            id: id(1),
            status: TripStatus::Requested,
            requested_at: 10.0,
            unworked_since: None,
        };
        assert!(stuck(&requested, 10.0 + 89.0, rule).is_none());
        assert!(matches!(
            stuck(&requested, 10.0 + 91.0, rule),
            Some(Violation::Stuck { secs: 91, .. })
        ));
        let worked = TripView {
            status: TripStatus::Ongoing,
            ..requested
        };
        assert!(stuck(&worked, 1e6, rule).is_none());
        let abandoned = TripView {
            unworked_since: Some(100.0),
            ..worked
        };
        assert!(stuck(&abandoned, 129.0, rule).is_none());
        assert!(stuck(&abandoned, 131.0, rule).is_some());
        let done = TripView {
            status: TripStatus::Completed,
            ..abandoned
        };
        assert!(stuck(&done, 1e6, rule).is_none());
    }
}
