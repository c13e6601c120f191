//! Driver profiles, status and positions.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::UnknownValue;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DriverStatus {
    Offline,
    Online,
    Busy,
}

impl DriverStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "OFFLINE",
            Self::Online => "ONLINE",
            Self::Busy => "BUSY",
        }
    }
}

impl fmt::Display for DriverStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DriverStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "OFFLINE" => Ok(Self::Offline),
            "ONLINE" => Ok(Self::Online),
            "BUSY" => Ok(Self::Busy),
            _ => Err(UnknownValue(s.to_string())),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DriverLocation {
    pub lat: f64,
    pub lng: f64,
    pub updated_at: DateTime<Utc>,
}

/// `GET /api/v1/drivers/me`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DriverProfile {
    pub id: Uuid,
    /// The name given at registration, as riders see it.
    pub name: String,
    pub vehicle: Option<Vehicle>,
    /// The riders' ratings so far; null before the first.
    pub rating: Option<DriverRating>,
    pub status: DriverStatus,
    pub current_trip_id: Option<Uuid>,
    /// The open offer (the `offer` socket event's payload), or null.
    pub current_offer: Option<crate::api::trips::Offer>,
    pub location: Option<DriverLocation>,
    /// The id of the city the last ping lies in; null before the first
    /// ping, or when it lies in no city Hail serves.
    pub city: Option<String>,
}

/// `POST /internal/drivers`: the user service creating a new driver's profile.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateDriverProfile {
    pub driver_id: Uuid,
    /// The name registered with, shown to riders.
    #[serde(default)]
    pub name: Option<String>,
}

/// `PUT /api/v1/drivers/me/vehicle`, and the vehicle riders see.
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, validator::Validate, utoipa::ToSchema,
)]
pub struct Vehicle {
    #[schema(min_length = 1, max_length = 40, example = "Toyota")]
    #[validate(custom(function = "make_or_model"))]
    pub make: String,
    #[schema(min_length = 1, max_length = 40, example = "Corolla Altis")]
    #[validate(custom(function = "make_or_model"))]
    pub model: String,
    #[schema(min_length = 1, max_length = 20, example = "silver")]
    #[validate(custom(function = "color"))]
    pub color: String,
    /// Letters, digits, spaces and dashes.
    #[schema(min_length = 1, max_length = 16, example = "SGX 1234 A")]
    #[validate(custom(function = "plate"))]
    pub plate: String,
}

impl Vehicle {
    /// The same vehicle with surrounding spaces trimmed and the plate in
    /// capitals with single spaces, as riders read it off the car.
    pub fn tidied(&self) -> Self {
        Self {
            make: self.make.trim().to_string(),
            model: self.model.trim().to_string(),
            color: self.color.trim().to_string(),
            plate: self
                .plate
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_uppercase(),
        }
    }
}

fn text_of(value: &str, max: usize) -> Result<(), validator::ValidationError> {
    crate::api::no_control_chars(value)?;
    let chars = value.trim().chars().count();
    if chars == 0 || chars > max {
        let mut err = validator::ValidationError::new("length");
        err.message = Some(format!("must be 1 to {max} characters long").into());
        return Err(err);
    }
    Ok(())
}

fn make_or_model(value: &str) -> Result<(), validator::ValidationError> {
    text_of(value, 40)
}

fn color(value: &str) -> Result<(), validator::ValidationError> {
    text_of(value, 20)
}

fn plate(value: &str) -> Result<(), validator::ValidationError> {
    text_of(value, 16)?;
    if !value
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c == '-')
    {
        let mut err = validator::ValidationError::new("plate");
        err.message = Some("may hold only letters, digits, spaces and dashes".into());
        return Err(err);
    }
    Ok(())
}

/// A driver's ratings from riders.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DriverRating {
    /// Mean stars, rounded to 2 places.
    pub average: f64,
    pub count: u64,
}

impl DriverRating {
    /// From the sum and the number of stars given; `None` before the first.
    pub fn from_sum(stars_sum: i64, count: i64) -> Option<Self> {
        let count_u = u64::try_from(count).ok().filter(|c| *c > 0)?;
        let average = (stars_sum as f64 / count as f64 * 100.0).round() / 100.0;
        Some(Self {
            average,
            count: count_u,
        })
    }
}

/// Answer to `online` / `offline`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusResponse {
    pub status: DriverStatus,
}

/// `POST /api/v1/drivers/me/location` (and the `driver:location` socket event).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, validator::Validate, utoipa::ToSchema)]
pub struct LocationUpdate {
    #[schema(minimum = -85.051_128_78, maximum = 85.051_128_78)]
    #[validate(custom(function = "crate::api::geo::valid_lat"))]
    pub lat: f64,
    #[schema(minimum = -180.0, maximum = 180.0)]
    #[validate(custom(function = "crate::api::geo::valid_lng"))]
    pub lng: f64,
    #[schema(minimum = 0.0, maximum = 360.0)]
    #[validate(range(min = 0.0, max = 360.0, message = "must be between 0 and 360"))]
    pub heading: Option<f64>,
    #[schema(minimum = 0.0, maximum = 300.0)]
    #[validate(range(min = 0.0, max = 300.0, message = "must be between 0 and 300"))]
    pub speed_kmh: Option<f64>,
}

/// `POST /internal/drivers/locations` (the gateway's realtime side): the
/// pings that arrived over drivers' sockets, collected into one call so a
/// socket ping costs no HTTP request of its own.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PingBatch {
    pub pings: Vec<SocketPing>,
}

/// One socket ping of an authenticated driver.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct SocketPing {
    pub driver_id: Uuid,
    pub update: LocationUpdate,
}

/// One answer per ping, in order: `None` when recorded, else what the REST
/// call would have answered.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PingBatchResponse {
    pub outcomes: Vec<Option<PingRefusal>>,
}

/// A ping refused: the status and the error body its REST call answers, so
/// whoever relays it (a socket's ack, the gateway's REST answer) keeps no
/// table of codes of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PingRefusal {
    pub status: u16,
    pub error: crate::error::ErrorDetail,
}

impl From<crate::error::ApiError> for PingRefusal {
    fn from(err: crate::error::ApiError) -> Self {
        Self {
            status: err.status().as_u16(),
            error: err.body().error,
        }
    }
}

impl axum::response::IntoResponse for PingRefusal {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.status)
            .unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
        let body = crate::error::ErrorBody { error: self.error };
        crate::error::error_response(status, body, None)
    }
}

/// `GET /api/v1/drivers/nearby` query.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, validator::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearbyQuery {
    #[param(minimum = -85.051_128_78, maximum = 85.051_128_78)]
    #[validate(custom(function = "crate::api::geo::valid_lat"))]
    pub lat: f64,
    #[param(minimum = -180.0, maximum = 180.0)]
    #[validate(custom(function = "crate::api::geo::valid_lng"))]
    pub lng: f64,
    /// Search radius in km, more than 0 and at most 50.
    #[param(exclusive_minimum = 0.0, maximum = 50.0, default = 3.0)]
    #[serde(default = "default_radius_km")]
    #[validate(custom(function = "valid_radius"))]
    pub radius_km: f64,
    #[param(minimum = 1, maximum = 100, default = 10)]
    #[serde(default = "default_limit")]
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub limit: usize,
}

fn valid_radius(radius_km: f64) -> Result<(), validator::ValidationError> {
    if radius_km.is_finite() && radius_km > 0.0 && radius_km <= 50.0 {
        return Ok(());
    }
    let mut err = validator::ValidationError::new("range");
    err.message = Some("must be more than 0 and at most 50".into());
    Err(err)
}

fn default_radius_km() -> f64 {
    3.0
}

fn default_limit() -> usize {
    10
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NearbyDriver {
    pub driver_id: Uuid,
    pub lat: f64,
    pub lng: f64,
    pub distance_km: f64,
}

/// `POST /internal/drivers/candidates`: the searches of one matcher pass,
/// in one call (one HTTP request and one Redis pipeline for the whole pass,
/// not one per trip).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CandidatesRequest {
    pub searches: Vec<CandidateSearch>,
}

/// What `POST /internal/drivers/candidates` answers: each search's
/// matchable drivers, nearest first, in the request's order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CandidatesResponse {
    pub found: Vec<Vec<NearbyDriver>>,
}

/// One trip's search: matchable drivers near its pickup.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CandidateSearch {
    pub lat: f64,
    pub lng: f64,
    pub radius_km: f64,
    pub limit: usize,
    /// Drivers already tried for this trip.
    #[serde(default)]
    pub exclude: Vec<Uuid>,
}

/// `POST /internal/drivers/claims`: claims for a batch of trips, in queue
/// order. Each trip takes the first of its drivers (nearest first) that is
/// present, ONLINE and held by nobody, a trip earlier in the same batch
/// included, so a trip is never beaten to a driver by one behind it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClaimsRequest {
    pub ttl_secs: u64,
    pub claims: Vec<ClaimWish>,
}

/// One trip's wish: its candidates, nearest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClaimWish {
    pub trip_id: Uuid,
    /// The trip's city: a driver whose last ping lies elsewhere is not taken.
    pub city: String,
    pub drivers: Vec<Uuid>,
}

/// The driver each wish got, in the request's order (`None`: none of them).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClaimsResponse {
    pub claimed: Vec<Option<Uuid>>,
}

/// One opened offer to show a driver as `current_offer` for `ttl_secs`
/// (in a [`ShowOffers`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShowOffer {
    pub trip_id: Uuid,
    pub offer: crate::api::trips::Offer,
    pub ttl_secs: u64,
}

/// `POST /internal/drivers/offers`: the offers one matcher pass opened,
/// shown together (one call a pass, not one per offer).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShowOffers {
    pub offers: Vec<OfferToShow>,
}

/// One driver's offer in a [`ShowOffers`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OfferToShow {
    pub driver_id: Uuid,
    #[serde(flatten)]
    pub show: ShowOffer,
}

/// Per offer, in the request's order: whether it is shown (`false`: the
/// trip no longer holds that driver).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OffersShown {
    pub shown: Vec<bool>,
}

/// `POST /internal/drivers/{id}/offer/end`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TripRef {
    pub trip_id: Uuid,
}

/// `GET /internal/drivers/{id}`: whether the driver profile exists, and
/// what the trip service shows or checks of it (its card for the rider, its
/// last position for `arrive`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DriverRecord {
    pub exists: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub vehicle: Option<Vehicle>,
    #[serde(default)]
    pub location: Option<DriverLocation>,
}

/// `POST /internal/drivers/{id}/offer/end`: the driver is on the trip now;
/// with the pickup, its pings carry the pickup ETA until it arrives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StartRide {
    pub trip_id: Uuid,
    #[serde(default)]
    pub pickup: Option<super::geo::LatLng>,
}

/// `POST /internal/rides/{trip_id}/route`: how far the driver of a trip
/// drove between two moments (its pings, GPS jumps left out).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RouteQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// What `POST /internal/rides/{trip_id}/route` answers: `distance_km` is
/// null when too few pings were recorded to tell.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RouteDriven {
    pub distance_km: Option<f64>,
    pub points: usize,
}

/// `POST /internal/drivers/{id}/release`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReleaseRequest {
    pub trip_id: Uuid,
    /// The driver's phone did not confirm an offer: it leaves the index
    /// until its next ping rather than coming back at once.
    #[serde(default)]
    pub unreachable: bool,
}

/// What `POST /internal/drivers/{id}/release` answers: where the driver is
/// when the release made it matchable again (`None`: it was not this trip's
/// to release, or the driver has no position yet), so the trip service can
/// wake only the waiting trips near it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Released {
    pub freed_at: Option<super::geo::LatLng>,
}

/// `POST /internal/trips/holds` (driver service to trip service): do these
/// trips still hold these drivers? Asked about claims that ran out
/// unconfirmed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HoldsRequest {
    pub holds: Vec<Hold>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub driver_id: Uuid,
    pub trip_id: Uuid,
}

/// One answer per hold asked about, in order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HoldsResponse {
    pub holds: Vec<HoldState>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldState {
    /// The driver is on the trip (ASSIGNED, ARRIVED or ONGOING).
    Assigned,
    /// The trip is still deciding about the driver (an open offer or claim).
    Offered,
    /// The trip does not hold the driver (or does not exist): release.
    Released,
}
