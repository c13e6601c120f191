//! The internal-token check. Every internal service applies it to all routes
//! except health and metrics, so only the gateway and sibling services (which
//! hold `HAIL_INTERNAL_TOKEN`) can reach handlers, and the `x-user-*` headers a
//! handler reads were set by the gateway, not by a client.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};

use crate::{extract::INTERNAL_TOKEN_HEADER, ApiError};

#[derive(Clone)]
pub struct InternalToken(pub std::sync::Arc<str>);

pub async fn require_internal_token(
    State(expected): State<InternalToken>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(INTERNAL_TOKEN_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if constant_time_eq(presented, expected.0.as_bytes()) {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::Unauthorized(
            "this is an internal service: call it through the gateway".into(),
        ))
    }
}

/// Compares without stopping at the first differing byte, so the time taken
/// does not tell an attacker how much of the token they guessed.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn equal_only_when_identical() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
