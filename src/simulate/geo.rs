//! Geometry for the simulator: the bounding box it plays in, and moving a
//! car toward a target at a given speed. Points, distances and the Earth's
//! radius are the project's one geometry (`hail_shared::api::geo`), so the
//! simulator measures a trip as the services do. Pure functions, unit-tested.

use std::{fmt, str::FromStr};

pub use hail_shared::api::geo::LatLng;
use hail_shared::api::geo::MAX_GEO_LAT;
use rand::Rng;

/// `min_lat,min_lng,max_lat,max_lng`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BBox {
    pub min_lat: f64,
    pub min_lng: f64,
    pub max_lat: f64,
    pub max_lng: f64,
}

impl BBox {
    /// About 30 km x 30 km around Singapore's centre (1.3521, 103.8198):
    /// the built-in city's area.
    pub const SINGAPORE: BBox = {
        let sg = hail_shared::cities::SINGAPORE_BBOX;
        BBox {
            min_lat: sg.min_lat,
            min_lng: sg.min_lng,
            max_lat: sg.max_lat,
            max_lng: sg.max_lng,
        }
    };

    pub fn random_point(&self, rng: &mut impl Rng) -> LatLng {
        LatLng::new(
            rng.gen_range(self.min_lat..=self.max_lat),
            rng.gen_range(self.min_lng..=self.max_lng),
        )
    }
}

impl fmt::Display for BBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{},{}",
            self.min_lat, self.min_lng, self.max_lat, self.max_lng
        )
    }
}

impl FromStr for BBox {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let [a, b, c, d] = parts.as_slice() else {
            return Err(format!(
                "expected 4 comma-separated numbers min_lat,min_lng,max_lat,max_lng, got {} value(s) in {s:?}",
                parts.len()
            ));
        };
        let num = |name: &str, v: &str| -> Result<f64, String> {
            let x: f64 = v
                .parse()
                .map_err(|_| format!("{name} {v:?} is not a number"))?;
            if x.is_finite() {
                Ok(x)
            } else {
                Err(format!("{name} {v:?} is not a finite number"))
            }
        };
        let bbox = BBox {
            min_lat: num("min_lat", a)?,
            min_lng: num("min_lng", b)?,
            max_lat: num("max_lat", c)?,
            max_lng: num("max_lng", d)?,
        };
        for (name, lat) in [("min_lat", bbox.min_lat), ("max_lat", bbox.max_lat)] {
            if lat.abs() > MAX_GEO_LAT {
                return Err(format!(
                    "{name} {lat} is outside -{MAX_GEO_LAT}..={MAX_GEO_LAT}, the band Redis GEO can index"
                ));
            }
        }
        for (name, lng) in [("min_lng", bbox.min_lng), ("max_lng", bbox.max_lng)] {
            if lng.abs() > 180.0 {
                return Err(format!("{name} {lng} is outside -180..=180"));
            }
        }
        if bbox.min_lat >= bbox.max_lat || bbox.min_lng >= bbox.max_lng {
            return Err(format!(
                "the box is empty: min_lat must be below max_lat and min_lng below max_lng (got {s:?})"
            ));
        }
        Ok(bbox)
    }
}

/// Initial bearing from `a` to `b` in degrees, 0..360 (0 = north).
pub fn heading(a: LatLng, b: LatLng) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlng = (b.lng - a.lng).to_radians();
    let y = dlng.sin() * la2.cos();
    let x = la1.cos() * la2.sin() - la1.sin() * la2.cos() * dlng.cos();
    (y.atan2(x).to_degrees() + 360.0) % 360.0
}

/// Moves from `from` toward `to` at `speed_kmh` for `secs`: the new point, and
/// whether it reached `to`. Over a city's distances a straight line in
/// lat/lng is as good as a great circle.
pub fn step(from: LatLng, to: LatLng, speed_kmh: f64, secs: f64) -> (LatLng, bool) {
    let left = from.distance_km(&to);
    let travel = speed_kmh.max(0.0) * secs.max(0.0) / 3600.0;
    if travel >= left || left == 0.0 {
        return (to, true);
    }
    let f = travel / left;
    (
        LatLng::new(
            from.lat + (to.lat - from.lat) * f,
            from.lng + (to.lng - from.lng) * f,
        ),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_parses_and_refuses_bad_boxes() {
        let b: BBox = "1.2, 103.6,1.5,104".parse().unwrap();
        assert_eq!(
            b,
            BBox {
                min_lat: 1.2,
                min_lng: 103.6,
                max_lat: 1.5,
                max_lng: 104.0
            }
        );
        assert_eq!(b.to_string().parse::<BBox>().unwrap(), b);
        for (bad, says) in [
            ("1,2,3", "4 comma-separated"),
            ("1,2,3,4,5", "4 comma-separated"),
            ("a,2,3,4", "min_lat \"a\" is not a number"),
            ("1,NaN,3,4", "not a finite number"),
            ("3,2,1,4", "empty"),
            ("1,4,3,4", "empty"),
            ("-89,0,0,1", "Redis GEO"),
            ("0,-181,1,1", "-180..=180"),
        ] {
            let err = bad.parse::<BBox>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn the_default_box_is_about_30_km_around_singapore() {
        let b = BBox::SINGAPORE;
        let width = LatLng::new(1.3521, b.min_lng).distance_km(&LatLng::new(1.3521, b.max_lng));
        let height =
            LatLng::new(b.min_lat, 103.8198).distance_km(&LatLng::new(b.max_lat, 103.8198));
        assert!((29.0..31.0).contains(&width), "{width}");
        assert!((29.0..31.0).contains(&height), "{height}");
    }

    #[test]
    fn a_step_covers_speed_times_time() {
        let from = LatLng::new(1.30, 103.80);
        let to = LatLng::new(1.40, 103.90);
        // 36 km/h for 10 s is 100 m.
        let (p, arrived) = step(from, to, 36.0, 10.0);
        assert!(!arrived);
        let moved = from.distance_km(&p);
        assert!((moved - 0.1).abs() < 0.001, "{moved}");
        // Still on the line toward the target.
        assert!((p.distance_km(&to) + moved - from.distance_km(&to)).abs() < 1e-6);
        // Overshooting stops at the target.
        let (p, arrived) = step(from, to, 60.0, 3600.0);
        assert!(arrived);
        assert_eq!(p, to);
        // Standing still.
        let (p, arrived) = step(from, to, 0.0, 10.0);
        assert!(!arrived);
        assert_eq!(p, from);
    }

    #[test]
    fn headings_point_the_right_way() {
        let o = LatLng::new(1.0, 103.0);
        let north = heading(o, LatLng::new(1.1, 103.0));
        let east = heading(o, LatLng::new(1.0, 103.1));
        assert!(!(0.1..=359.9).contains(&north), "{north}");
        assert!((east - 90.0).abs() < 0.1, "{east}");
    }
}
