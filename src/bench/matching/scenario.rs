//! The rush-hour scenario every run of `hail bench matching` replays: the
//! same drivers at the same places and the same requests at the same
//! moments, from one seed. Pure, so two runs differ only in the strategy.
//!
//! The area is an 8 km square around central Singapore. Drivers start
//! spread evenly over it; requests come evenly through the run, a share of
//! them from two hotspots of 1 km radius 2.5 km either side of the centre,
//! where demand is several times what the few drivers there can serve, so
//! drivers are drawn in from around and the choice of who goes where counts.

use hail_shared::api::geo::LatLng;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// The square's centre.
const CENTRE: LatLng = LatLng {
    lat: 1.3521,
    lng: 103.8198,
};
/// Half the square's side, km.
const HALF_SIDE_KM: f64 = 4.0;
/// Hotspot centres, km east of the centre, and their radius.
const HOTSPOTS_EAST_KM: [f64; 2] = [-2.5, 2.5];
const HOTSPOT_RADIUS_KM: f64 = 1.0;
/// Shortest trip, km (a rider does not hail a car for 200 m).
const SHORTEST_TRIP_KM: f64 = 1.0;
/// Share of premium requests.
const PREMIUM_SHARE: f64 = 0.1;

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Request {
    /// Seconds from the run's start.
    pub at_secs: f64,
    pub pickup: LatLng,
    pub dropoff: LatLng,
    pub premium: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Scenario {
    pub drivers: Vec<LatLng>,
    /// In the order they are made.
    pub requests: Vec<Request>,
}

impl Scenario {
    /// `drivers` start positions and `requests` requests over `secs`
    /// seconds, `hotspot_share` of them from the hotspots.
    pub fn new(seed: u64, drivers: usize, requests: usize, secs: f64, hotspot_share: f64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let drivers = (0..drivers).map(|_| in_square(&mut rng)).collect();
        let mut requests: Vec<Request> = (0..requests)
            .map(|_| {
                let pickup = if rng.gen_bool(hotspot_share.clamp(0.0, 1.0)) {
                    let east = HOTSPOTS_EAST_KM[rng.gen_range(0..HOTSPOTS_EAST_KM.len())];
                    in_disc(&mut rng, offset(CENTRE, 0.0, east), HOTSPOT_RADIUS_KM)
                } else {
                    in_square(&mut rng)
                };
                let dropoff = loop {
                    let d = in_square(&mut rng);
                    if d.distance_km(&pickup) >= SHORTEST_TRIP_KM {
                        break d;
                    }
                };
                Request {
                    at_secs: rng.gen_range(0.0..secs.max(0.001)),
                    pickup,
                    dropoff,
                    premium: rng.gen_bool(PREMIUM_SHARE),
                }
            })
            .collect();
        requests.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
        Self { drivers, requests }
    }

    /// Whether `at` lies in a hotspot.
    pub fn in_hotspot(at: LatLng) -> bool {
        HOTSPOTS_EAST_KM
            .iter()
            .any(|east| offset(CENTRE, 0.0, *east).distance_km(&at) <= HOTSPOT_RADIUS_KM)
    }
}

/// The point `north` km north and `east` km east of `from`.
fn offset(from: LatLng, north: f64, east: f64) -> LatLng {
    const KM_PER_DEGREE: f64 = 111.195;
    LatLng::new(
        from.lat + north / KM_PER_DEGREE,
        from.lng + east / (KM_PER_DEGREE * from.lat.to_radians().cos()),
    )
}

fn in_square(rng: &mut StdRng) -> LatLng {
    offset(
        CENTRE,
        rng.gen_range(-HALF_SIDE_KM..HALF_SIDE_KM),
        rng.gen_range(-HALF_SIDE_KM..HALF_SIDE_KM),
    )
}

fn in_disc(rng: &mut StdRng, centre: LatLng, radius_km: f64) -> LatLng {
    // Uniform over the disc's area.
    let r = radius_km * rng.gen_range(0.0f64..1.0).sqrt();
    let angle = rng.gen_range(0.0..std::f64::consts::TAU);
    offset(centre, r * angle.sin(), r * angle.cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_gives_one_scenario() {
        let a = Scenario::new(7, 50, 100, 30.0, 0.6);
        assert_eq!(a, Scenario::new(7, 50, 100, 30.0, 0.6));
        assert_ne!(a, Scenario::new(8, 50, 100, 30.0, 0.6));
    }

    #[test]
    fn hotspots_get_their_share_and_few_drivers() {
        let s = Scenario::new(18, 2000, 2000, 60.0, 0.6);
        let hot_requests = s
            .requests
            .iter()
            .filter(|r| Scenario::in_hotspot(r.pickup))
            .count();
        let hot_drivers = s
            .drivers
            .iter()
            .filter(|d| Scenario::in_hotspot(**d))
            .count();
        // 60 % of requests, plus the even ones that fall there; about 10 %
        // of the drivers (two discs of pi km2 in 64 km2).
        assert!((1250..1450).contains(&hot_requests), "{hot_requests}");
        assert!((140..260).contains(&hot_drivers), "{hot_drivers}");
        assert!(s.requests.windows(2).all(|w| w[0].at_secs <= w[1].at_secs));
        assert!(s
            .requests
            .iter()
            .all(|r| r.at_secs < 60.0 && r.pickup.distance_km(&r.dropoff) >= SHORTEST_TRIP_KM));
    }
}
