//! Trips: the request, the trip object, its audit trail.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use validator::Validate;

use super::{
    drivers::{DriverRating, Vehicle},
    fares::{FareAmount, TripFare},
    geo::LatLng,
    UnknownValue,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TripStatus {
    Requested,
    Assigned,
    /// The driver is at the pickup (`POST /trips/{id}/arrive`).
    Arrived,
    Ongoing,
    Completed,
    Cancelled,
    NoDriver,
}

impl TripStatus {
    pub const ALL: [TripStatus; 7] = [
        Self::Requested,
        Self::Assigned,
        Self::Arrived,
        Self::Ongoing,
        Self::Completed,
        Self::Cancelled,
        Self::NoDriver,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Assigned => "ASSIGNED",
            Self::Arrived => "ARRIVED",
            Self::Ongoing => "ONGOING",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
            Self::NoDriver => "NO_DRIVER",
        }
    }

    /// REQUESTED, ASSIGNED, ARRIVED or ONGOING: the rider may not ask for another.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Self::Requested | Self::Assigned | Self::Arrived | Self::Ongoing
        )
    }
}

impl fmt::Display for TripStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TripStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_string()))
    }
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Standard,
    Premium,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Premium => "premium",
        }
    }
}

impl FromStr for Tier {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standard" => Ok(Self::Standard),
            "premium" => Ok(Self::Premium),
            _ => Err(UnknownValue(s.to_string())),
        }
    }
}

/// `POST /api/v1/trips`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
pub struct TripRequest {
    #[validate(nested)]
    pub pickup: LatLng,
    #[validate(nested)]
    pub dropoff: LatLng,
    #[serde(default)]
    pub tier: Tier,
}

/// The trip object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Trip {
    pub id: Uuid,
    pub rider_id: Uuid,
    pub driver_id: Option<Uuid>,
    pub status: TripStatus,
    pub tier: Tier,
    pub pickup: LatLng,
    pub dropoff: LatLng,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub arrived_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// The id of the city the pickup lies in (`GET /api/v1/cities`).
    pub city: String,
    /// Who is coming: from ASSIGNED on, else null.
    pub driver: Option<TripDriver>,
    pub fare: TripFare,
    /// Four digits the rider tells the driver at pickup, when the city asks
    /// for one; null for everyone but the trip's rider.
    pub pickup_pin: Option<String>,
    /// The rider's rating, once given (after COMPLETED).
    pub rating: Option<TripRating>,
}

/// A trip's `driver`: what the rider needs to find the car.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TripDriver {
    pub id: Uuid,
    pub name: String,
    pub vehicle: Option<Vehicle>,
    pub rating: Option<DriverRating>,
}

/// `POST /api/v1/trips/{id}/start`: the rider's PIN when the city asks for one.
#[derive(Clone, Debug, Default, Serialize, Deserialize, Validate, utoipa::ToSchema)]
pub struct StartRequest {
    #[schema(max_length = 16, example = "4821")]
    #[validate(length(max = 16, message = "must be at most 16 characters long"))]
    pub pin: Option<String>,
}

/// A rider's rating of a completed trip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TripRating {
    #[schema(minimum = 1, maximum = 5)]
    pub stars: u8,
    pub comment: Option<String>,
}

/// `POST /api/v1/trips/{id}/rating`
#[derive(Clone, Debug, Serialize, Deserialize, Validate, utoipa::ToSchema)]
pub struct RatingRequest {
    #[schema(minimum = 1, maximum = 5)]
    #[validate(range(min = 1, max = 5, message = "must be 1 to 5 stars"))]
    pub stars: u8,
    #[schema(max_length = 500)]
    #[validate(
        length(max = 500, message = "must be at most 500 characters long"),
        custom(function = "crate::api::no_control_chars")
    )]
    pub comment: Option<String>,
}

/// `POST /api/v1/trips/{id}/cancel`
#[derive(Clone, Debug, Default, Serialize, Deserialize, Validate, utoipa::ToSchema)]
pub struct CancelRequest {
    #[schema(max_length = 280)]
    #[validate(
        length(max = 280, message = "must be at most 280 characters long"),
        custom(function = "crate::api::no_control_chars")
    )]
    pub reason: Option<String>,
}

/// `GET /api/v1/trips?limit=`
#[derive(Clone, Copy, Debug, Serialize, Deserialize, Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TripListQuery {
    #[param(minimum = 1, maximum = 100, default = 20)]
    #[serde(default = "default_list_limit")]
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub limit: i64,
}

fn default_list_limit() -> i64 {
    20
}

/// `POST /api/v1/trips/{id}/decline`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeclineResponse {
    #[schema(pattern = "^declined$", example = "declined")]
    pub status: String,
}

/// One row of `GET /api/v1/trips/{id}/events`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DispatchEvent {
    pub seq: i64,
    pub at: DateTime<Utc>,
    #[serde(rename = "type")]
    #[schema(value_type = DispatchEventType)]
    pub kind: String,
    pub driver_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// The audit trail's `type`s (documentation only: rows carry them as text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DispatchEventType {
    Requested,
    OfferSent,
    OfferDelivered,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferUnreachable,
    Assigned,
    Arrived,
    DriverCancelled,
    Started,
    Completed,
    Cancelled,
    NoDriver,
}

/// The `offer` socket event, and a driver's `current_offer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Offer {
    pub trip_id: Uuid,
    pub pickup: LatLng,
    pub dropoff: LatLng,
    pub tier: Tier,
    pub distance_km: f64,
    pub expires_at: DateTime<Utc>,
    /// The trip's fare estimate.
    pub fare_estimate: FareAmount,
}
