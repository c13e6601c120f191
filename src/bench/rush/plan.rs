//! The rush hour's map and dice: where every driver stands, where each
//! request goes, and what a driver does with an offer or a rider with a
//! trip. Pure, so the proportions and distances are unit-tested.
//!
//! The map is the built-in city `sg` (the 30 x 30 km box; a pickup outside
//! it is refused), cut into areas more than the largest search radius
//! (10 km) apart, so a trip can only ever reach drivers of its own area:
//!
//! - hotspot: a disc in the north-west corner, its drivers watched on
//!   sockets, more requests than they can serve;
//! - free zone: a square in the south-east corner, its drivers watched;
//!   each request there stands at a driver the bench knows is free;
//! - background: every other driver, with no socket, in the north-east and
//!   south-west corners, more than 10 km from any request.

use std::{f64::consts::PI, time::Duration};

use rand::Rng;

use crate::simulate::geo::{BBox, LatLng};

/// km per degree of latitude on the sphere the services use.
const KM_PER_DEG: f64 = 111.195;
/// The hotspot's centre, km east and north of the box's south-west corner.
const HOTSPOT_CENTRE: (f64, f64) = (4.0, 26.0);
/// The free zone: x and y ranges in km (a 8 x 8 km square).
const FREE_ZONE: ((f64, f64), (f64, f64)) = ((21.0, 29.0), (1.0, 9.0));
/// The background's two rectangles, each > 10 km from the other areas.
const BACKGROUND: [((f64, f64), (f64, f64)); 2] =
    [((21.0, 29.0), (21.0, 29.0)), ((1.0, 9.0), (1.0, 12.0))];
/// The largest hotspot radius that keeps the areas 10 km apart.
pub(super) const MAX_HOTSPOT_KM: f64 = 2.5;

/// The part of the city a trip or a watched driver belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Area {
    Hotspot,
    Free,
}

/// A point `x` km east and `y` km north of the box's south-west corner.
fn at(x: f64, y: f64) -> LatLng {
    let b = BBox::SINGAPORE;
    let lat = b.min_lat + y / KM_PER_DEG;
    LatLng::new(lat, b.min_lng + x / (KM_PER_DEG * lat.to_radians().cos()))
}

fn in_rect(rng: &mut impl Rng, ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64))) -> LatLng {
    at(rng.gen_range(x0..=x1), rng.gen_range(y0..=y1))
}

/// A point uniformly in the hotspot disc of `radius_km`.
pub(super) fn hotspot_point(rng: &mut impl Rng, radius_km: f64) -> LatLng {
    let r = radius_km * rng.gen::<f64>().sqrt();
    let a = 2.0 * PI * rng.gen::<f64>();
    at(
        HOTSPOT_CENTRE.0 + r * a.cos(),
        HOTSPOT_CENTRE.1 + r * a.sin(),
    )
}

/// A point uniformly in the free zone.
pub(super) fn free_point(rng: &mut impl Rng) -> LatLng {
    in_rect(rng, FREE_ZONE)
}

/// Every driver's spot: `hotspot` in the disc, then `free` in the free
/// zone (these are the watched ones, in this order), then the rest of
/// `total` in the background.
pub(super) fn driver_spots(
    rng: &mut impl Rng,
    total: usize,
    hotspot: usize,
    free: usize,
    radius_km: f64,
) -> Vec<LatLng> {
    (0..total)
        .map(|i| match i {
            i if i < hotspot => hotspot_point(rng, radius_km),
            i if i < hotspot + free => free_point(rng),
            i => in_rect(rng, BACKGROUND[i % 2]),
        })
        .collect()
}

/// Request k of a run goes to the hotspot when the running share says so:
/// exactly `share` of any stretch of requests, evenly interleaved.
pub(super) fn is_hotspot_request(k: u64, share: f64) -> bool {
    ((k + 1) as f64 * share).floor() > (k as f64 * share).floor()
}

/// What a driver does with an offer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Reaction {
    /// Lets it run out (the offer timeout).
    Ignore,
    /// Declines after a human pause.
    Decline { after: Duration },
    /// Accepts after a human pause, starts at once, completes after `ride`.
    Accept { after: Duration, ride: Duration },
}

/// 30 % ignore, 20 % decline, 50 % accept; pauses 0.5-2 s, rides 5-15 s.
pub(super) fn draw_reaction(rng: &mut impl Rng) -> Reaction {
    let pause = |rng: &mut dyn rand::RngCore| Duration::from_millis(rng.gen_range(500..=2000));
    match rng.gen_range(0..100) {
        0..30 => Reaction::Ignore,
        30..50 => Reaction::Decline { after: pause(rng) },
        _ => Reaction::Accept {
            after: pause(rng),
            ride: Duration::from_millis(rng.gen_range(5_000..=15_000)),
        },
    }
}

/// 20 % of riders cancel, at a moment 0-15 s after their request.
pub(super) fn draw_cancel(rng: &mut impl Rng) -> Option<Duration> {
    rng.gen_bool(0.2)
        .then(|| Duration::from_millis(rng.gen_range(0..=15_000)))
}

/// Trips/s `drivers` can serve with these reactions: an offer holds a
/// driver on average 0.3 x timeout + 0.2 x 1.25 s + 0.5 x (1.25 s + 10 s),
/// and one offer in two is accepted.
pub(super) fn capacity_per_sec(drivers: usize, offer_timeout_secs: f64) -> f64 {
    let per_offer = 0.3 * offer_timeout_secs + 0.2 * 1.25 + 0.5 * (1.25 + 10.0);
    drivers as f64 / (2.0 * per_offer)
}

#[cfg(test)]
mod tests {
    use rand::{rngs::StdRng, SeedableRng};

    use super::*;

    #[test]
    fn reactions_come_in_the_issue_s_proportions() {
        let mut rng = StdRng::seed_from_u64(7);
        let (mut ignore, mut decline, mut accept) = (0, 0, 0);
        for _ in 0..20_000 {
            match draw_reaction(&mut rng) {
                Reaction::Ignore => ignore += 1,
                Reaction::Decline { after } => {
                    assert!((500..=2000).contains(&after.as_millis()));
                    decline += 1;
                }
                Reaction::Accept { after, ride } => {
                    assert!((500..=2000).contains(&after.as_millis()));
                    assert!((5_000..=15_000).contains(&ride.as_millis()));
                    accept += 1;
                }
            }
        }
        let share = |n: i32| f64::from(n) / 20_000.0;
        assert!((share(ignore) - 0.3).abs() < 0.015, "ignore {ignore}");
        assert!((share(decline) - 0.2).abs() < 0.015, "decline {decline}");
        assert!((share(accept) - 0.5).abs() < 0.015, "accept {accept}");
    }

    #[test]
    fn a_fifth_of_riders_cancel_within_fifteen_seconds() {
        let mut rng = StdRng::seed_from_u64(7);
        let cancels: Vec<Duration> = (0..20_000).filter_map(|_| draw_cancel(&mut rng)).collect();
        let share = cancels.len() as f64 / 20_000.0;
        assert!((share - 0.2).abs() < 0.015, "{share}");
        assert!(cancels.iter().all(|d| d.as_millis() <= 15_000));
    }

    #[test]
    fn the_hotspot_gets_exactly_its_share_evenly() {
        let hot = (0..100).filter(|&k| is_hotspot_request(k, 0.6)).count();
        assert_eq!(hot, 60);
        let first_ten = (0..10).filter(|&k| is_hotspot_request(k, 0.6)).count();
        assert_eq!(first_ten, 6);
    }

    #[test]
    fn every_area_is_more_than_the_largest_radius_from_the_others() {
        let mut rng = StdRng::seed_from_u64(1);
        let spots = driver_spots(&mut rng, 3000, 1000, 1000, MAX_HOTSPOT_KM);
        let (hot, rest) = spots.split_at(1000);
        let (free, background) = rest.split_at(1000);
        let apart = |a: &[LatLng], b: &[LatLng]| {
            a.iter()
                .flat_map(|p| b.iter().map(move |q| p.distance_km(q)))
                .fold(f64::MAX, f64::min)
        };
        assert!(apart(hot, free) > 10.5);
        assert!(apart(hot, background) > 10.5);
        assert!(apart(free, background) > 10.5);
        let b = BBox::SINGAPORE;
        let inside = |p: &LatLng| {
            p.lat > b.min_lat && p.lat < b.max_lat && p.lng > b.min_lng && p.lng < b.max_lng
        };
        assert!(spots.iter().all(inside));
        // A request's dropoff is 0.01 degree north of its pickup.
        assert!(hot.iter().chain(free).all(|p| inside(&p.north(1.2))));
    }

    #[test]
    fn capacity_counts_two_offers_per_served_trip() {
        // 0.9 + 0.25 + 5.625 = 6.775 s per offer, 13.55 s per served trip.
        let c = capacity_per_sec(400, 3.0);
        assert!((c - 400.0 / 13.55).abs() < 1e-9);
    }
}
