//! Event payloads on Redis channels, which the gateway turns into Socket.IO
//! events. Each trip event carries the whole current trip (with its
//! `updated_at`), so a repeated or reordered delivery is harmless.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::trips::{Offer, Trip};

/// On `trip:events`: becomes `trip:update` to `trip:<id>` and the rider's
/// `user:<id>`. `trip` never holds the pickup PIN; the rider's copy gets
/// `rider_pin` put in, and only the rider's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TripEvent {
    pub trip: Trip,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rider_pin: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevokeReason {
    Expired,
    Cancelled,
    /// The driver's phone did not acknowledge the offer in time, or its
    /// socket dropped and did not come back within the grace.
    Unreachable,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OfferRevoked {
    pub trip_id: Uuid,
    pub reason: RevokeReason,
}

/// On `driver:offers`: becomes `offer` / `offer:revoked` to `driver:<id>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriverMessage {
    pub driver_id: Uuid,
    #[serde(flatten)]
    pub event: DriverEvent,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data")]
pub enum DriverEvent {
    #[serde(rename = "offer")]
    Offer(Offer),
    #[serde(rename = "offer:revoked")]
    OfferRevoked(OfferRevoked),
}

/// The socket's `driver:location`, to `trip:<id>` while the driver is on it
/// (and the message on the Redis channel of the same name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TripLocation {
    pub driver_id: Uuid,
    pub trip_id: Uuid,
    pub lat: f64,
    pub lng: f64,
    pub heading: Option<f64>,
    pub ts: DateTime<Utc>,
    /// The pickup ETA from this position while the trip is ASSIGNED (the
    /// straight line times the city's `route_factor`, at its
    /// `avg_speed_kmh`); null once the driver arrived or started.
    pub pickup_eta_secs: Option<u64>,
}

/// The outbox's logical channel names; the relay adds the Redis prefix.
pub mod channel {
    pub const TRIP_EVENTS: &str = "trip:events";
    pub const DRIVER_OFFERS: &str = "driver:offers";
}

/// A message on `room:events`, written by the trip service's room scripts.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RoomMessage {
    /// The room's whole state after a change: `room:state` to `room:<key>`.
    /// Kept as raw JSON: the gateway forwards it as it is.
    State { state: serde_json::Value },
    /// `room:match_request` to the selected rider's `user:<id>`.
    MatchRequest {
        rider_id: uuid::Uuid,
        request: crate::api::rooms::MatchRequest,
    },
}
