use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

fn driver(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn trip(premium: bool, candidates: &[(u8, u32)]) -> BatchTrip {
    BatchTrip {
        premium,
        first_in_line: false,
        candidates: candidates.iter().map(|(d, m)| (driver(*d), *m)).collect(),
    }
}

/// The case, on a line: rider A at 0 m, rider B at 900 m, driver M
/// at 300 m (between them), driver F at -400 m (beyond A). Greedy gives A
/// the middle driver and B the far one (1,600 m in all); swapped, 1,000 m.
fn two_riders_one_driver_between(a_premium: bool) -> Vec<BatchTrip> {
    const M: u8 = 1;
    const F: u8 = 2;
    vec![
        trip(a_premium, &[(M, 300), (F, 400)]),
        trip(false, &[(M, 600), (F, 1300)]),
    ]
}

#[test]
fn two_riders_with_a_driver_between_them_are_swapped() {
    let trips = two_riders_one_driver_between(false);
    assert_eq!(greedy(&trips), vec![Some(driver(1)), Some(driver(2))]);
    assert_eq!(score(&trips, &greedy(&trips)), (2, 1600));
    assert_eq!(batched(&trips), vec![Some(driver(2)), Some(driver(1))]);
    assert_eq!(score(&trips, &batched(&trips)), (2, 1000));
}

#[test]
fn a_premium_trip_keeps_its_nearest_driver() {
    let trips = two_riders_one_driver_between(true);
    assert_eq!(batched(&trips), greedy(&trips));
}

#[test]
fn a_premium_trip_is_served_first_whatever_its_place_in_the_batch() {
    // The standard trip is first in the list; the premium one still gets
    // the driver both want most.
    let trips = vec![trip(false, &[(1, 100)]), trip(true, &[(1, 200)])];
    assert_eq!(batched(&trips), vec![None, Some(driver(1))]);
}

#[test]
fn a_trip_first_in_line_is_served_before_the_assignment() {
    // Alone, the assignment gives the only driver to the nearer trip.
    let mut trips = vec![trip(false, &[(1, 900)]), trip(false, &[(1, 100)])];
    assert_eq!(batched(&trips), vec![None, Some(driver(1))]);
    // The first trip's last driver went away: it goes first.
    trips[0].first_in_line = true;
    assert_eq!(batched(&trips), vec![Some(driver(1)), None]);
}

#[test]
fn as_many_trips_as_possible_are_matched_before_distance_counts() {
    // Greedy gives the first trip driver 1 (nearest), and the second trip,
    // whose only candidate is driver 1, gets nobody. Batched serves both.
    let trips = vec![trip(false, &[(1, 100), (2, 900)]), trip(false, &[(1, 500)])];
    assert_eq!(score(&trips, &greedy(&trips)), (1, 100));
    assert_eq!(batched(&trips), vec![Some(driver(2)), Some(driver(1))]);
}

#[test]
fn more_trips_than_drivers_and_trips_with_nobody() {
    let trips = vec![
        trip(false, &[(1, 300)]),
        trip(false, &[]),
        trip(false, &[(1, 200)]),
        trip(false, &[(1, 100)]),
    ];
    assert_eq!(batched(&trips), vec![None, None, None, Some(driver(1))]);
    assert_eq!(batched(&[]), Vec::<Option<Uuid>>::new());
}

#[test]
fn separate_crowds_are_solved_apart_and_together_give_the_whole_optimum() {
    let mut trips = two_riders_one_driver_between(false);
    // A second crowd, the same shape, with other drivers.
    trips.push(trip(false, &[(11, 300), (12, 400)]));
    trips.push(trip(false, &[(11, 600), (12, 1300)]));
    assert_eq!(score(&trips, &batched(&trips)), (4, 2000));
    assert_eq!(
        groups(
            &trips
                .iter()
                .cloned()
                .enumerate()
                .map(|(k, t)| (k, t.candidates))
                .collect::<Vec<_>>()
        )
        .len(),
        2
    );
}

/// The best (most matched, then least distance) the other trips can do
/// with the drivers greedy leaves after the premium and first-in-line
/// trips, by trying every assignment.
fn brute_force(trips: &[BatchTrip]) -> (usize, u64) {
    let premium_got = greedy(
        &trips
            .iter()
            .map(|t| BatchTrip {
                candidates: if t.premium || t.first_in_line {
                    t.candidates.clone()
                } else {
                    Vec::new()
                },
                ..t.clone()
            })
            .collect::<Vec<_>>(),
    );
    let taken: HashSet<Uuid> = premium_got.iter().flatten().copied().collect();
    let (premium_n, premium_sum) = score(trips, &premium_got);
    let standard: Vec<&BatchTrip> = trips
        .iter()
        .filter(|t| !t.premium && !t.first_in_line)
        .collect();
    fn best(rest: &[&BatchTrip], used: &mut HashSet<Uuid>) -> (usize, u64) {
        let Some((first, rest)) = rest.split_first() else {
            return (0, 0);
        };
        let mut top = best(rest, used);
        for (d, m) in &first.candidates {
            if used.insert(*d) {
                let (n, sum) = best(rest, used);
                used.remove(d);
                let this = (n + 1, sum + u64::from(*m));
                if (this.0, std::cmp::Reverse(this.1)) > (top.0, std::cmp::Reverse(top.1)) {
                    top = this;
                }
            }
        }
        top
    }
    let mut used = taken;
    let (n, sum) = best(&standard, &mut used);
    (premium_n + n, premium_sum + sum)
}

/// Random batches in queue order, drivers shared between trips.
fn batch(max_trips: usize, max_drivers: u8) -> impl Strategy<Value = Vec<BatchTrip>> {
    prop::collection::vec(
        (
            prop::bool::weighted(0.25),
            prop::bool::weighted(0.1),
            prop::collection::btree_map(0..max_drivers, 0u32..5000, 0..5),
        ),
        0..max_trips,
    )
    .prop_map(|trips| {
        let mut trips: Vec<BatchTrip> = trips
            .into_iter()
            .map(|(premium, first_in_line, candidates)| BatchTrip {
                premium,
                first_in_line,
                candidates: candidates
                    .into_iter()
                    .map(|(d, m)| (driver(d), m))
                    .collect(),
            })
            .collect();
        // Queue order: premium, then first in line.
        trips.sort_by_key(|t| (!t.premium, !t.first_in_line));
        trips
    })
}

proptest! {
    #[test]
    fn every_driver_goes_to_one_trip_that_found_it(trips in batch(12, 10)) {
        let got = batched(&trips);
        prop_assert_eq!(got.len(), trips.len());
        let mut seen = HashSet::new();
        for (trip, got) in trips.iter().zip(&got) {
            if let Some(d) = got {
                prop_assert!(seen.insert(*d), "driver {} given twice", d);
                prop_assert!(trip.candidates.iter().any(|(c, _)| c == d));
            }
        }
    }

    #[test]
    fn never_worse_than_greedy(trips in batch(12, 10)) {
        let (n, sum) = score(&trips, &batched(&trips));
        let (greedy_n, greedy_sum) = score(&trips, &greedy(&trips));
        prop_assert!(n >= greedy_n);
        if n == greedy_n {
            prop_assert!(sum <= greedy_sum, "{} m against greedy's {} m", sum, greedy_sum);
        }
    }

    #[test]
    fn a_premium_trip_never_gets_a_farther_driver_than_under_greedy(trips in batch(12, 10)) {
        let (got, greedy_got) = (batched(&trips), greedy(&trips));
        let metres = |trip: &BatchTrip, d: &Option<Uuid>| {
            d.and_then(|d| trip.candidates.iter().find(|(c, _)| *c == d).map(|(_, m)| *m))
        };
        for (k, trip) in trips.iter().enumerate().filter(|(_, t)| t.premium) {
            match (metres(trip, &greedy_got[k]), metres(trip, &got[k])) {
                (Some(g), Some(b)) => prop_assert!(b <= g),
                (Some(_), None) => prop_assert!(false, "premium trip {} lost its driver", k),
                _ => {}
            }
        }
    }

    #[test]
    fn equals_the_brute_force_optimum(trips in batch(7, 6)) {
        prop_assert_eq!(score(&trips, &batched(&trips)), brute_force(&trips));
    }
}
