//! Who gets which driver in a batch, pure. Two rules over the same input
//! (each trip's candidates with their pickup distances, trips in queue
//! order):
//!
//! - [`greedy`]: each trip, in queue order, takes its nearest driver no trip
//!   before it took. What the greedy matcher does, and the yardstick.
//! - [`batched`]: premium trips first, exactly as greedy would serve them
//!   (so a premium trip never gets a farther driver than under greedy, and
//!   no standard trip takes a driver a premium trip wanted), then likewise
//!   the trips first in line (their last batch's driver went away, or they
//!   have waited long: distance alone would starve them); then
//!   the other trips over the drivers left, as one min-cost assignment: as
//!   many trips matched as possible, and among those matchings the least
//!   total pickup distance (Kuhn-Munkres, `pathfinding`).
//!
//! The assignment is solved per connected group (trips linked by a shared
//! candidate), so its cost follows the crowds, not the batch: a batch of a
//! whole city is many small problems.
//!
//! What always holds (property-tested below): every driver goes to at most
//! one trip and only to a trip that found it; a premium trip gets what
//! greedy gives it; `batched` matches at least as many trips as `greedy`,
//! and with as many matched its total distance is never above greedy's;
//! it equals a brute-force optimum.

use std::collections::HashMap;

use pathfinding::{kuhn_munkres::kuhn_munkres_min, matrix::Matrix};
use uuid::Uuid;

/// One trip of a batch as the solver sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchTrip {
    pub premium: bool,
    /// Served right after the premium trips, as greedy would (its last
    /// batch's driver went away before the claim, or it has waited long).
    pub first_in_line: bool,
    /// The drivers its search found, with the pickup distance in metres.
    pub candidates: Vec<(Uuid, u32)>,
}

/// Each trip (in the order given, which is queue order) takes its nearest
/// candidate nobody before it took.
pub fn greedy(trips: &[BatchTrip]) -> Vec<Option<Uuid>> {
    let mut got = vec![None; trips.len()];
    let mut taken = std::collections::HashSet::new();
    for (k, trip) in trips.iter().enumerate() {
        got[k] = take_nearest(trip, &mut taken);
    }
    got
}

/// Premium trips as greedy serves them (then the trips first in line),
/// then the least total pickup distance for the other trips over the
/// drivers left (as many matched as possible first). `trips` in queue
/// order: premium, first in line, then oldest.
pub fn batched(trips: &[BatchTrip]) -> Vec<Option<Uuid>> {
    let mut got = vec![None; trips.len()];
    let mut taken = std::collections::HashSet::new();
    let served_first = |t: &BatchTrip| t.premium || t.first_in_line;
    for (k, trip) in trips.iter().enumerate().filter(|(_, t)| t.premium) {
        got[k] = take_nearest(trip, &mut taken);
    }
    for (k, trip) in trips
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.premium && t.first_in_line)
    {
        got[k] = take_nearest(trip, &mut taken);
    }
    // The other trips' candidates that are still free.
    let standard: Vec<(usize, Vec<(Uuid, u32)>)> = trips
        .iter()
        .enumerate()
        .filter(|(_, t)| !served_first(t))
        .map(|(k, t)| {
            let free = t
                .candidates
                .iter()
                .filter(|(d, _)| !taken.contains(d))
                .copied()
                .collect();
            (k, free)
        })
        .collect();
    for group in groups(&standard) {
        let rows: Vec<&(usize, Vec<(Uuid, u32)>)> = group.iter().map(|&i| &standard[i]).collect();
        for (k, driver) in solve(&rows) {
            got[k] = Some(driver);
        }
    }
    got
}

/// How many trips an assignment matched and their total pickup distance
/// (metres), for comparing two assignments of the same batch.
pub fn score(trips: &[BatchTrip], got: &[Option<Uuid>]) -> (usize, u64) {
    trips
        .iter()
        .zip(got)
        .filter_map(|(trip, got)| {
            let driver = (*got)?;
            trip.candidates
                .iter()
                .find(|(d, _)| *d == driver)
                .map(|(_, m)| u64::from(*m))
        })
        .fold((0, 0), |(n, sum), m| (n + 1, sum + m))
}

fn take_nearest(trip: &BatchTrip, taken: &mut std::collections::HashSet<Uuid>) -> Option<Uuid> {
    let (driver, _) = trip
        .candidates
        .iter()
        .filter(|(d, _)| !taken.contains(d))
        .min_by_key(|(_, metres)| *metres)?;
    taken.insert(*driver);
    Some(*driver)
}

/// The trips (indices into `trips`) linked by shared candidates, each group
/// solved on its own. Trips without candidates are in no group.
fn groups(trips: &[(usize, Vec<(Uuid, u32)>)]) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..trips.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first_trip_of: HashMap<Uuid, usize> = HashMap::new();
    for (i, (_, candidates)) in trips.iter().enumerate() {
        for (driver, _) in candidates {
            let other = *first_trip_of.entry(*driver).or_insert(i);
            let (a, b) = (root(&mut parent, i), root(&mut parent, other));
            parent[a] = b;
        }
    }
    let mut by_root: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in (0..trips.len()).filter(|&i| !trips[i].1.is_empty()) {
        let r = root(&mut parent, i);
        by_root.entry(r).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = by_root.into_values().collect();
    groups.sort_unstable();
    groups
}

/// One group's min-cost assignment: rows are its trips, columns its drivers
/// and one "nobody" column per trip. Nobody costs more than any set of real
/// pickups, so the solver first matches as many trips as it can, then
/// takes the least total distance; a pair that is no candidate costs more
/// still, so it is never chosen (a nobody column is always free).
fn solve(rows: &[&(usize, Vec<(Uuid, u32)>)]) -> Vec<(usize, Uuid)> {
    let mut drivers: Vec<Uuid> = rows
        .iter()
        .flat_map(|(_, c)| c.iter().map(|(d, _)| *d))
        .collect();
    drivers.sort_unstable();
    drivers.dedup();
    let column: HashMap<Uuid, usize> = drivers.iter().enumerate().map(|(j, d)| (*d, j)).collect();
    let longest = rows
        .iter()
        .flat_map(|(_, c)| c.iter().map(|(_, m)| i64::from(*m)))
        .max()
        .unwrap_or(0);
    let nobody = (longest + 1) * (rows.len() as i64 + 1);
    let forbidden = nobody * 2 + 1;
    let mut costs = Matrix::new(rows.len(), drivers.len() + rows.len(), forbidden);
    for (i, (_, candidates)) in rows.iter().enumerate() {
        for (driver, metres) in candidates {
            costs[(i, column[driver])] = i64::from(*metres);
        }
        for j in drivers.len()..drivers.len() + rows.len() {
            costs[(i, j)] = nobody;
        }
    }
    let (_, columns) = kuhn_munkres_min(&costs);
    rows.iter()
        .zip(columns)
        .filter(|(_, j)| *j < drivers.len())
        .map(|((k, _), j)| (*k, drivers[j]))
        .collect()
}

#[cfg(test)]
mod tests;
