//! API.md in types: request and response bodies, shared by the services that
//! answer them, the gateway, the tests and the tools.

pub mod auth;
pub mod delivery;
pub mod drivers;
pub mod fares;
pub mod geo;
pub mod rooms;
pub mod trips;

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Rider,
    Driver,
    /// Reads any trip's audit trail and any driver's dispatches; made only
    /// by an operator (`hail users add-support`), never through the API.
    Support,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rider => "rider",
            Self::Driver => "driver",
            Self::Support => "support",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rider" => Ok(Self::Rider),
            "driver" => Ok(Self::Driver),
            "support" => Ok(Self::Support),
            _ => Err(UnknownValue(s.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

/// Text that goes into Postgres must hold no control characters: NUL is
/// refused by Postgres itself (a 500 if it got that far), the rest are
/// never meant in a name, an email or a reason.
pub fn no_control_chars(value: &str) -> Result<(), validator::ValidationError> {
    if value.chars().any(char::is_control) {
        let mut err = validator::ValidationError::new("control_characters");
        err.message = Some("must not contain control characters".into());
        return Err(err);
    }
    Ok(())
}
