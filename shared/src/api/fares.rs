//! Money and fares (API.md, "Trips": `fare`, and `POST /trips/estimate`).
//!
//! Amounts are exact: [`Money`] holds hundredths of the currency's major
//! unit as an integer, and only turns into a decimal number at the edge, in
//! JSON, rounded to 2 places. No sum is ever made in floating point.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount in hundredths of the currency's major unit (SGD 12.40 is
/// `Money(1240)`). JSON shows it as the decimal number `12.4`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, utoipa::ToSchema)]
#[schema(value_type = f64, example = 12.4)]
pub struct Money(pub i64);

impl Money {
    pub fn hundredths(self) -> i64 {
        self.0
    }

    /// The decimal amount (for display and JSON only; never sum these).
    pub fn as_decimal(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_decimal())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let amount = f64::deserialize(deserializer)?;
        if !amount.is_finite() || amount.abs() > 1e15 {
            return Err(serde::de::Error::custom("not an amount"));
        }
        Ok(Self((amount * 100.0).round() as i64))
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// An amount with its currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FareAmount {
    /// ISO 4217 code.
    pub currency: String,
    pub amount: Money,
}

/// A trip's `fare`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TripFare {
    pub currency: String,
    /// Fixed at request time from the city's tariff.
    pub estimate: Money,
    /// Set at COMPLETED from the distance driven and the real duration.
    #[serde(rename = "final")]
    pub final_amount: Option<Money>,
    /// The estimate's until COMPLETED, then the trip's own.
    pub distance_km: f64,
    pub duration_secs: u64,
}

impl TripFare {
    /// The estimate with its currency (an offer's `fare_estimate`).
    pub fn amount_estimate(&self) -> FareAmount {
        FareAmount {
            currency: self.currency.clone(),
            amount: self.estimate,
        }
    }
}

/// `POST /api/v1/trips/estimate`: the same body as a trip request.
pub type EstimateRequest = super::trips::TripRequest;

/// What `POST /api/v1/trips/estimate` answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Estimate {
    /// The pickup's city.
    pub city: String,
    pub distance_km: f64,
    pub duration_secs: u64,
    pub fare: FareAmount,
    /// When the nearest matchable driver could be at the pickup; null when
    /// none is in reach.
    pub pickup_eta_secs: Option<u64>,
}

/// Rounds a distance in km to metres, for answers.
pub fn round_km(km: f64) -> f64 {
    (km * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_shows_two_places_and_reads_back_exactly() {
        assert_eq!(Money(1240).to_string(), "12.40");
        assert_eq!(Money(5).to_string(), "0.05");
        assert_eq!(Money(-5).to_string(), "-0.05");
        assert_eq!(serde_json::to_string(&Money(1240)).unwrap(), "12.4");
        assert_eq!(serde_json::to_string(&Money(1999)).unwrap(), "19.99");
        for cents in [0, 1, 10, 99, 101, 1999, 123_456_789] {
            let json = serde_json::to_string(&Money(cents)).unwrap();
            assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), Money(cents));
        }
    }
}
