//! Offer delivery (API.md, "Offer delivery"): the receipts the gateway and
//! the driver service report to the trip service, and support's view of a
//! driver's offers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::trips::Offer;

/// How an offer reached the driver's phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveredVia {
    /// The app acknowledged the `offer` socket event.
    Socket,
    /// The driver read it as `current_offer` (`GET /api/v1/drivers/me`).
    Rest,
}

impl DeliveredVia {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Socket => "socket",
            Self::Rest => "rest",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "socket" => Some(Self::Socket),
            "rest" => Some(Self::Rest),
            _ => None,
        }
    }
}

/// `POST /internal/offers/delivered`: the driver's phone has the offer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OfferReceipt {
    pub trip_id: Uuid,
    pub driver_id: Uuid,
    pub via: DeliveredVia,
}

/// `POST /internal/offers/unacked`: none of the driver's sockets on one
/// gateway acknowledged the offer within `HAIL_OFFER_ACK_MS`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OfferUnacked {
    pub trip_id: Uuid,
    pub driver_id: Uuid,
}

/// `POST /internal/drivers/{id}/socket`: the driver's first socket
/// connected (`connected`), or its last one closed, at `at`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SocketChange {
    pub connected: bool,
    pub at: DateTime<Utc>,
}

/// The answer to a [`SocketChange`]: on a connect, the driver's open offer,
/// for the gateway to send again on the new socket.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SocketChanged {
    pub offer: Option<Offer>,
}

/// What became of an offer, as support sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OfferOutcome {
    Accepted,
    Declined,
    Expired,
    Unreachable,
    /// The rider cancelled while it was open.
    Revoked,
    /// Still waiting for the driver's answer.
    Open,
}

/// One row of `GET /api/v1/support/drivers/{driver_id}/dispatches`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DispatchRecord {
    pub trip_id: Uuid,
    pub offer_id: Uuid,
    pub sent_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub delivered_via: Option<DeliveredVia>,
    pub answered_at: Option<DateTime<Utc>>,
    pub outcome: OfferOutcome,
}

/// The query of support's dispatch history.
#[derive(Clone, Debug, Deserialize, validator::Validate, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DispatchesQuery {
    /// The day (UTC), `YYYY-MM-DD`.
    #[param(example = "2026-12-01", pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub date: Option<String>,
}
