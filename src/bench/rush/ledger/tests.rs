//! The ledger's bookkeeping: doubles, freed -> offer, decline -> next offer.

use super::*;

fn trip(ledger: &Ledger, area: Area) -> Uuid {
    let id = Uuid::new_v4();
    ledger.requested(id, area, true, 0, Instant::now());
    id
}

#[test]
fn an_offer_while_holding_another_is_a_double_but_a_repeat_is_not() {
    let ledger = Ledger::new(1, 1).unwrap();
    let (a, b) = (trip(&ledger, Area::Hotspot), trip(&ledger, Area::Hotspot));
    let now = Instant::now();
    let later = now + Duration::from_secs(3);
    assert!(ledger.offer_heard(0, a, now, later));
    assert!(!ledger.offer_heard(0, a, now, later));
    assert!(ledger.offer_heard(0, b, now, later));
    let tally = ledger.take_tally().unwrap();
    assert_eq!(
        tally.doubles,
        vec![Double {
            driver: 0,
            held: a,
            left: Some(Duration::from_secs(3)),
            offered: b
        }]
    );
    assert_eq!(tally.offers, 2);
}

#[test]
fn an_offer_after_the_previous_expiry_times_freed_to_offer() {
    let ledger = Ledger::new(1, 0).unwrap();
    let (a, b, _c) = (
        trip(&ledger, Area::Hotspot),
        trip(&ledger, Area::Hotspot),
        trip(&ledger, Area::Hotspot),
    );
    assert_eq!(ledger.waiting(Area::Hotspot), 3);
    let t0 = Instant::now();
    ledger.offer_heard(0, a, t0, t0 + Duration::from_secs(3));
    assert_eq!(ledger.waiting(Area::Hotspot), 2);
    let next = t0 + Duration::from_millis(3020);
    assert!(ledger.offer_heard(0, b, next, next + Duration::from_secs(3)));
    let tally = ledger.take_tally().unwrap();
    assert!(tally.doubles.is_empty());
    assert_eq!(tally.freed_to_offer.len(), 1);
    assert_eq!(tally.freed_by[&Freed::Expired].len(), 1);
    assert_eq!(tally.freed_by[&Freed::Declined].len(), 0);
    assert_eq!(tally.peak_waiting[&Area::Hotspot], 3);
}

#[test]
fn a_decline_times_the_trip_s_next_offer_and_a_cancel_ends_it() {
    let ledger = Ledger::new(0, 2).unwrap();
    let a = trip(&ledger, Area::Free);
    let t0 = Instant::now();
    ledger.offer_heard(0, a, t0, t0 + Duration::from_secs(3));
    ledger.let_go(0, a, t0, Freed::Declined);
    assert_eq!(ledger.waiting(Area::Free), 1);
    ledger.offer_heard(1, a, t0 + Duration::from_millis(10), t0);
    ledger.cancelling(a, t0);
    assert_eq!(ledger.waiting(Area::Free), 0);
    assert!(ledger.open_trips().is_empty());
    let tally = ledger.take_tally().unwrap();
    assert_eq!(tally.times[&Area::Free].decline_next.len(), 1);
    assert_eq!(tally.times[&Area::Free].first_offer.len(), 1);
}

#[test]
fn a_driver_freed_when_no_starved_trip_could_use_it_is_not_timed() {
    let ledger = Ledger::new(2, 0).unwrap();
    let t0 = Instant::now() + Duration::from_secs(10);
    let a = Uuid::new_v4();
    ledger.requested(a, Area::Hotspot, false, 0, t0);
    ledger.offer_heard(0, a, t0, t0 + Duration::from_secs(3));
    // A trip requested just before the decline is still in its first search.
    let fresh = Uuid::new_v4();
    ledger.requested(
        fresh,
        Area::Hotspot,
        false,
        1,
        t0 + Duration::from_millis(400),
    );
    ledger.let_go(0, a, t0 + Duration::from_millis(500), Freed::Declined);
    ledger.offer_heard(
        0,
        fresh,
        t0 + Duration::from_millis(600),
        t0 + Duration::from_secs(4),
    );
    // Trip `a` has now waited past STARVED, but it was offered driver 0
    // already: freeing driver 0 again is not timed; driver 1 is.
    let later = t0 + Duration::from_millis(500) + STARVED + Duration::from_millis(100);
    ledger.let_go(0, fresh, later, Freed::Declined);
    ledger.offer_heard(
        0,
        fresh,
        later + Duration::from_millis(10),
        later + Duration::from_secs(3),
    );
    let b = Uuid::new_v4();
    ledger.requested(b, Area::Hotspot, false, 2, t0);
    ledger.offer_heard(1, b, t0, t0 + Duration::from_secs(3));
    ledger.let_go(1, b, later, Freed::Declined);
    ledger.offer_heard(
        1,
        a,
        later + Duration::from_millis(20),
        later + Duration::from_secs(3),
    );
    let tally = ledger.take_tally().unwrap();
    assert_eq!(tally.freed_to_offer.len(), 1);
    assert_eq!(tally.freed_by[&Freed::Declined].len(), 1);
}
