//! Driver profiles, status and positions.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::UnknownValue;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriverLocation {
    pub lat: f64,
    pub lng: f64,
    pub updated_at: DateTime<Utc>,
}

/// `GET /api/v1/drivers/me`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriverProfile {
    pub id: Uuid,
    pub status: DriverStatus,
    pub current_trip_id: Option<Uuid>,
    /// The open offer (the `offer` socket event's payload), or null.
    pub current_offer: Option<serde_json::Value>,
    pub location: Option<DriverLocation>,
}

/// `POST /internal/drivers`: the user service creating a new driver's profile.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateDriverProfile {
    pub driver_id: Uuid,
}

/// Answer to `online` / `offline`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub status: DriverStatus,
}
