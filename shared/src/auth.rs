//! Access tokens: HS256 JWTs with `sub`, `role`, `iat`, `exp` and `iss = "hail"`.
//! The user service signs them; the gateway verifies them on every request.
//! Verification pins the algorithm to HS256, so `alg: none` and
//! algorithm-confusion tokens are refused whatever their header says.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{api::Role, ApiError};

pub const ISSUER: &str = "hail";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenKeys {
    pub fn new(secret: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Signs a token for `user_id`, valid for the configured lifetime.
    pub fn issue(&self, user_id: Uuid, role: Role) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            role,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            iss: ISSUER.into(),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims (tests use it for expired tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| {
                ApiError::Unauthorized(match err.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired; log in again".into(),
                    _ => "invalid token; log in again".into(),
                })
            })
    }
}

/// The token in an `Authorization: Bearer <jwt>` header value.
pub fn bearer_token(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(
            "a-test-secret-that-is-long-enough!!",
            Duration::from_secs(60),
        )
    }

    #[test]
    fn a_signed_token_verifies() {
        let id = Uuid::new_v4();
        let claims = keys()
            .verify(&keys().issue(id, Role::Driver).unwrap())
            .unwrap();
        assert_eq!(claims.sub, id);
        assert_eq!(claims.role, Role::Driver);
        assert_eq!(claims.iss, ISSUER);
    }

    #[test]
    fn expired_wrong_secret_and_none_tokens_fail() {
        let now = chrono::Utc::now().timestamp();
        let expired = keys()
            .sign(&Claims {
                sub: Uuid::new_v4(),
                role: Role::Rider,
                iat: now - 7200,
                exp: now - 3600,
                iss: ISSUER.into(),
            })
            .unwrap();
        assert!(keys().verify(&expired).is_err());

        let other = TokenKeys::new(
            "another-secret-that-is-long-enough!",
            Duration::from_secs(60),
        );
        let forged = other.issue(Uuid::new_v4(), Role::Rider).unwrap();
        assert!(keys().verify(&forged).is_err());

        // {"alg":"none","typ":"JWT"} . claims . (no signature)
        let token = keys().issue(Uuid::new_v4(), Role::Rider).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert!(keys().verify(&none).is_err());
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
