//! Carpool rooms: one room per departure slot, `<origin>:<day>:<HH:MM>`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use validator::Validate;

/// `GET /api/v1/rooms/{key}` and every room answer; also the `room:state`
/// socket event's payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomState {
    pub key: String,
    /// The departure this room is for: the next occurrence of the key's
    /// slot in its city's time zone (not in API.md's list; added for clients).
    pub departs_at: DateTime<Utc>,
    pub drivers: Vec<RoomDriver>,
    /// Riders waiting for a seat, first come first served.
    pub riders_waiting: Vec<Uuid>,
    pub pending: Vec<PendingMatch>,
    pub rides: Vec<Ride>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomDriver {
    pub driver_id: Uuid,
    pub seats_left: u8,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PendingMatch {
    pub rider_id: Uuid,
    pub driver_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RideStatus {
    Confirmed,
    Cancelled,
}

impl RideStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "CONFIRMED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ride {
    pub id: Uuid,
    pub rider_id: Uuid,
    pub driver_id: Uuid,
    pub status: RideStatus,
}

/// `POST /api/v1/rooms/{key}/drivers`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, Validate, utoipa::ToSchema)]
pub struct JoinAsDriver {
    #[schema(minimum = 1, maximum = 8)]
    #[validate(range(min = 1, max = 8, message = "must be between 1 and 8"))]
    pub seats: u8,
}

/// `POST /api/v1/rooms/{key}/select`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, Validate, utoipa::ToSchema)]
pub struct SelectRider {
    pub rider_id: Uuid,
}

/// `POST /api/v1/rooms/{key}/respond`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, Validate, utoipa::ToSchema)]
pub struct MatchResponse {
    pub accept: bool,
}

/// The `room:match_request` socket event, to the selected rider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MatchRequest {
    pub key: String,
    pub driver_id: Uuid,
    pub expires_at: DateTime<Utc>,
}
