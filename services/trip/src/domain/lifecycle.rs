//! The trip state machine, exactly as API.md draws it:
//!
//! ```text
//! REQUESTED --accept/auto-assign--> ASSIGNED --arrive--> ARRIVED --start--> ONGOING --complete--> COMPLETED
//! ASSIGNED  --start--> ONGOING             (a driver may start without arriving first)
//! REQUESTED --search deadline passed--> NO_DRIVER
//! REQUESTED | ASSIGNED | ARRIVED | ONGOING --rider cancel--> CANCELLED
//! ASSIGNED | ARRIVED --driver cancel--> REQUESTED   (re-dispatched, that driver excluded)
//! ONGOING   --driver cancel--> CANCELLED
//! ASSIGNED | ARRIVED --fifth wrong pickup PIN--> CANCELLED (`pin_attempts`)
//! ```
//!
//! Pure: handlers ask it which statuses a move may start from, and put that
//! in the `UPDATE ... WHERE status = ANY(...)` that makes the move, so the
//! database applies exactly these rules even under races.

use hail_shared::api::trips::TripStatus;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    Assign,
    Arrive,
    Start,
    Complete,
    SearchExpired,
    RiderCancel,
    DriverCancel,
    /// The fifth wrong pickup PIN.
    PinLockout,
}

impl Move {
    #[cfg(test)]
    pub const ALL: [Move; 8] = [
        Self::Assign,
        Self::Arrive,
        Self::Start,
        Self::Complete,
        Self::SearchExpired,
        Self::RiderCancel,
        Self::DriverCancel,
        Self::PinLockout,
    ];

    /// Where `self` takes a trip in `from`, or `None` if it is not a legal move.
    pub fn apply(self, from: TripStatus) -> Option<TripStatus> {
        use TripStatus::*;
        match (self, from) {
            (Self::Assign, Requested) => Some(Assigned),
            (Self::Arrive, Assigned) => Some(Arrived),
            (Self::Start, Assigned | Arrived) => Some(Ongoing),
            (Self::Complete, Ongoing) => Some(Completed),
            (Self::SearchExpired, Requested) => Some(NoDriver),
            (Self::RiderCancel, Requested | Assigned | Arrived | Ongoing) => Some(Cancelled),
            (Self::DriverCancel, Assigned | Arrived) => Some(Requested),
            (Self::DriverCancel, Ongoing) => Some(Cancelled),
            (Self::PinLockout, Assigned | Arrived) => Some(Cancelled),
            _ => None,
        }
    }

    /// The statuses this move may start from, as SQL text values.
    pub fn legal_from(self) -> Vec<String> {
        TripStatus::ALL
            .into_iter()
            .filter(|s| self.apply(*s).is_some())
            .map(|s| s.as_str().to_string())
            .collect()
    }
}

/// Whether a trip in `status` should have a driver.
#[cfg(test)]
pub fn has_driver(status: TripStatus) -> bool {
    matches!(
        status,
        TripStatus::Assigned | TripStatus::Arrived | TripStatus::Ongoing | TripStatus::Completed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use TripStatus::*;

    #[test]
    fn the_legal_moves_and_nothing_else() {
        let legal = [
            (Move::Assign, Requested, Assigned),
            (Move::Arrive, Assigned, Arrived),
            (Move::Start, Assigned, Ongoing),
            (Move::Start, Arrived, Ongoing),
            (Move::Complete, Ongoing, Completed),
            (Move::SearchExpired, Requested, NoDriver),
            (Move::RiderCancel, Requested, Cancelled),
            (Move::RiderCancel, Assigned, Cancelled),
            (Move::RiderCancel, Arrived, Cancelled),
            (Move::RiderCancel, Ongoing, Cancelled),
            (Move::DriverCancel, Assigned, Requested),
            (Move::DriverCancel, Arrived, Requested),
            (Move::DriverCancel, Ongoing, Cancelled),
            (Move::PinLockout, Assigned, Cancelled),
            (Move::PinLockout, Arrived, Cancelled),
        ];
        for mv in Move::ALL {
            for from in TripStatus::ALL {
                let expected = legal
                    .iter()
                    .find(|(m, f, _)| *m == mv && *f == from)
                    .map(|(_, _, to)| *to);
                assert_eq!(mv.apply(from), expected, "{mv:?} from {from}");
            }
        }
    }

    #[test]
    fn terminal_statuses_never_move() {
        for from in [Completed, Cancelled, NoDriver] {
            assert!(Move::ALL.iter().all(|m| m.apply(from).is_none()), "{from}");
        }
    }

    /// A model of one trip and the drivers it touches, driven by random moves.
    #[derive(Debug)]
    struct Model {
        status: TripStatus,
        driver: Option<u8>,
    }

    proptest! {
        /// Over any sequence of attempted moves: a trip has a driver exactly
        /// when its status says so, and terminal statuses are final. (That a
        /// driver who cancelled is never offered the trip again is
        /// dispatch's rule, tested through the API, not the state machine's.)
        #[test]
        fn invariants_hold_over_random_moves(
            moves in proptest::collection::vec((0usize..Move::ALL.len(), 0u8..4), 0..40)
        ) {
            let mut model = Model { status: Requested, driver: None };
            for (index, driver) in moves {
                let mv = Move::ALL[index];
                let before = model.status;
                let Some(after) = mv.apply(before) else {
                    continue;
                };
                prop_assert!(!matches!(before, Completed | Cancelled | NoDriver));
                match mv {
                    Move::Assign => model.driver = Some(driver),
                    Move::DriverCancel if after == Requested => model.driver = None,
                    _ => {}
                }
                model.status = after;
                if matches!(after, Cancelled) && before == Requested {
                    prop_assert!(model.driver.is_none());
                }
                if has_driver(after) {
                    prop_assert!(model.driver.is_some(), "{after} without a driver");
                }
                if after == Requested || after == NoDriver {
                    prop_assert!(model.driver.is_none(), "{after} with a driver");
                }
                // Nobody reaches ARRIVED or ONGOING without a driver, and
                // ARRIVED only from ASSIGNED.
                if after == Arrived {
                    prop_assert_eq!(before, Assigned);
                }
                if after == Ongoing {
                    prop_assert!(matches!(before, Assigned | Arrived));
                }
            }
        }
    }
}
