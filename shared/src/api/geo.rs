//! Coordinates and distances. Redis GEO only accepts |lat| <= 85.05112878, so
//! that is the band the API accepts: outside it is a 422, never a 500.

use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

pub const MAX_GEO_LAT: f64 = 85.051_128_78;
const EARTH_RADIUS_KM: f64 = 6_372.797_560_856;

/// A finite latitude inside Redis GEO's band.
pub fn valid_lat(lat: f64) -> Result<(), ValidationError> {
    check(
        lat.is_finite() && lat.abs() <= MAX_GEO_LAT,
        "must be a latitude between -85.05112878 and 85.05112878",
    )
}

/// A finite longitude in [-180, 180].
pub fn valid_lng(lng: f64) -> Result<(), ValidationError> {
    check(
        lng.is_finite() && lng.abs() <= 180.0,
        "must be a longitude between -180 and 180",
    )
}

fn check(ok: bool, message: &'static str) -> Result<(), ValidationError> {
    if ok {
        return Ok(());
    }
    let mut err = ValidationError::new("range");
    err.message = Some(message.into());
    Err(err)
}

/// A point; latitudes outside Redis GEO's band (|lat| > 85.05112878) are a 422.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
pub struct LatLng {
    #[schema(minimum = -85.051_128_78, maximum = 85.051_128_78)]
    #[validate(custom(function = "crate::api::geo::valid_lat"))]
    pub lat: f64,
    #[schema(minimum = -180.0, maximum = 180.0)]
    #[validate(custom(function = "crate::api::geo::valid_lng"))]
    pub lng: f64,
}

impl LatLng {
    pub fn new(lat: f64, lng: f64) -> Self {
        Self { lat, lng }
    }

    /// Great-circle distance in km (haversine, on the sphere Redis uses).
    pub fn distance_km(&self, other: &LatLng) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = lat2 - lat1;
        let dlng = (other.lng - self.lng).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
    }

    /// The point `km` due north (negative: south).
    pub fn north(&self, km: f64) -> LatLng {
        LatLng::new(self.lat + (km / EARTH_RADIUS_KM).to_degrees(), self.lng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_km_north_is_one_km_away() {
        let p = LatLng::new(1.3521, 103.8198);
        assert!((p.distance_km(&p.north(1.0)) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_band_is_validated() {
        assert!(LatLng::new(85.05, 0.0).validate().is_ok());
        assert!(LatLng::new(85.06, 0.0).validate().is_err());
        assert!(LatLng::new(0.0, 180.1).validate().is_err());
        assert!(LatLng::new(f64::NAN, 0.0).validate().is_err());
    }

    proptest! {
        #[test]
        fn distance_is_symmetric_and_non_negative(
            a in -85.0f64..85.0, b in -180.0f64..180.0, c in -85.0f64..85.0, d in -180.0f64..180.0
        ) {
            let p = LatLng::new(a, b);
            let q = LatLng::new(c, d);
            let pq = p.distance_km(&q);
            prop_assert!(pq >= 0.0);
            prop_assert!((pq - q.distance_km(&p)).abs() < 1e-6);
            prop_assert!(pq <= std::f64::consts::PI * EARTH_RADIUS_KM + 1e-6);
        }
    }
}
