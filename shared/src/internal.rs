//! Service-to-service authentication, scoped per caller.
//!
//! Every caller presents a token of its own, derived from
//! `HAIL_INTERNAL_TOKEN` and its name ([`peer_token`], HMAC-SHA256), and every
//! route accepts only the callers that have business there: public routes
//! only the gateway's proxy, each `/internal/...` route only the sibling that
//! calls it. The gateway's proxy, which forwards whatever a client asks for,
//! therefore holds no token an internal route accepts: a path that slipped
//! past the gateway's route table would still meet a 401, and the
//! `x-user-*` headers a public handler reads can only have come from the
//! gateway.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::{self, Next},
    response::Response,
    Router,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{extract::INTERNAL_TOKEN_HEADER, ApiError};

/// Who presents a token to a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// The gateway's proxy: public routes, on behalf of a verified user
    /// (REST requests and Socket.IO events alike).
    Gateway,
    /// The gateway's realtime side, keeping a connected driver present.
    Realtime,
    /// The gateway's OpenAPI document, collecting each service's part
    /// (`crate::openapi`).
    OpenApi,
    /// The user service (creating a driver's profile).
    User,
    /// The driver service (asking which claims the trip service still holds).
    Driver,
    /// The trip service (candidates, claims, offers, releases).
    Trip,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Realtime => "realtime",
            Self::OpenApi => "openapi",
            Self::User => "user",
            Self::Driver => "driver",
            Self::Trip => "trip",
        }
    }
}

/// The token `peer` presents: hex HMAC-SHA256 of its name under the shared
/// secret. Knowing one peer's token tells nothing about another's.
pub fn peer_token(secret: &str, peer: Peer) -> String {
    // HMAC accepts keys of any length, so this cannot fail; the fallback
    // only keeps the signature infallible.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(b"hail internal token v1:");
    mac.update(peer.name().as_bytes());
    format!("{:x}", mac.finalize().into_bytes())
}

/// The tokens a group of routes accepts.
#[derive(Clone)]
struct Accepted(Arc<[String]>);

/// `routes`, answering 401 to any caller but `peers`.
pub fn only<S>(routes: Router<S>, secret: &str, peers: &[Peer]) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let accepted = Accepted(peers.iter().map(|p| peer_token(secret, *p)).collect());
    routes.route_layer(middleware::from_fn_with_state(accepted, require_peer))
}

async fn require_peer(
    State(accepted): State<Accepted>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(INTERNAL_TOKEN_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    // Compared in constant time, so the time taken does not tell an
    // attacker how much of a token they guessed.
    let known = accepted
        .0
        .iter()
        .any(|token| bool::from(token.as_bytes().ct_eq(presented)));
    if known {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::Unauthorized(
            "this is an internal service: call it through the gateway".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEERS: [Peer; 6] = [
        Peer::Gateway,
        Peer::Realtime,
        Peer::OpenApi,
        Peer::User,
        Peer::Driver,
        Peer::Trip,
    ];

    #[test]
    fn each_peer_has_its_own_token_and_none_is_the_secret() {
        let secret = "a-shared-secret-of-enough-length!!";
        let tokens: Vec<String> = PEERS.iter().map(|p| peer_token(secret, *p)).collect();
        for (i, a) in tokens.iter().enumerate() {
            assert_eq!(a.len(), 64);
            assert_ne!(a, secret);
            for b in &tokens[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(tokens[0], peer_token(secret, Peer::Gateway), "stable");
        assert_ne!(tokens[0], peer_token("another-secret", Peer::Gateway));
    }
}
