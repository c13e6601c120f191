//! Access tokens: HS256 JWTs with `sub`, `role`, `iat`, `exp` and `iss = "hail"`.
//! The user service signs them; the gateway verifies them on every request.
//! Verification pins the algorithm to HS256, so `alg: none` and
//! algorithm-confusion tokens are refused whatever their header says. It
//! also refuses (API.md, "Abuse limits") tokens over 8 KiB, an `nbf` in the
//! future, an `iat` more than a minute ahead, and a `sub` that is not a UUID
//! in its canonical hyphenated lower-case form: one user has one spelling.

use std::{sync::Arc, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{api::Role, ApiError};

pub const ISSUER: &str = "hail";

/// The longest token looked at; a real one is a few hundred bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// How far ahead of this clock an `iat` may be (other hosts' clocks drift).
const IAT_SKEW_SECS: i64 = 60;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(deserialize_with = "canonical_uuid")]
    pub sub: Uuid,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// Cheap to clone (every handler's state holds one, and socketioxide clones
/// the state for every event): the keys and the validation rules, with their
/// sets of names, are shared.
#[derive(Clone)]
pub struct TokenKeys(Arc<Keys>);

struct Keys {
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
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self(Arc::new(Keys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl,
        }))
    }

    pub fn ttl(&self) -> Duration {
        self.0.ttl
    }

    /// Signs a token for `user_id`, valid for the configured lifetime.
    pub fn issue(&self, user_id: Uuid, role: Role) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            role,
            iat: now,
            exp: now + self.0.ttl.as_secs() as i64,
            iss: ISSUER.into(),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims (tests use it for expired tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.0.encoding)
            .map_err(ApiError::internal)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        use jsonwebtoken::errors::ErrorKind;
        let invalid = || ApiError::Unauthorized("invalid token; log in again".into());
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid());
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.0.decoding, &self.0.validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::Unauthorized("the token has expired; log in again".into())
                }
                _ => invalid(),
            })?;
        if claims.iat > chrono::Utc::now().timestamp() + IAT_SKEW_SECS {
            return Err(invalid());
        }
        Ok(claims)
    }
}

/// A UUID only in the form this service writes: hyphenated, lower case.
fn canonical_uuid<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Uuid, D::Error> {
    let text = String::deserialize(deserializer)?;
    Uuid::parse_str(&text)
        .ok()
        .filter(|id| id.hyphenated().to_string() == text)
        .ok_or_else(|| serde::de::Error::custom("sub is not a canonical UUID"))
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

    /// Signs any JSON claims with the test secret.
    fn raw(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"a-test-secret-that-is-long-enough!!"),
        )
        .unwrap()
    }

    #[test]
    fn odd_but_signed_tokens_fail() {
        let now = chrono::Utc::now().timestamp();
        let id = Uuid::new_v4();
        let good = serde_json::json!({
            "sub": id.to_string(), "role": "rider", "iat": now, "exp": now + 60, "iss": ISSUER,
        });
        assert!(
            keys().verify(&raw(good.clone())).is_ok(),
            "the baseline verifies"
        );
        let with = |key: &str, value: serde_json::Value| {
            let mut claims = good.clone();
            claims[key] = value;
            raw(claims)
        };
        let refused = [
            ("nbf in the future", with("nbf", (now + 3600).into())),
            ("iat two minutes ahead", with("iat", (now + 120).into())),
            (
                "upper-case sub",
                with("sub", id.to_string().to_uppercase().into()),
            ),
            ("braced sub", with("sub", format!("{{{id}}}").into())),
            ("simple sub", with("sub", id.simple().to_string().into())),
            ("urn sub", with("sub", id.urn().to_string().into())),
            (
                "padded claims",
                with("pad", "x".repeat(MAX_TOKEN_BYTES).into()),
            ),
        ];
        for (what, token) in refused {
            assert!(keys().verify(&token).is_err(), "{what} was accepted");
        }
        assert!(
            keys().verify(&with("nbf", (now - 10).into())).is_ok(),
            "an nbf in the past is fine"
        );
        assert!(
            keys().verify(&with("iat", (now + 30).into())).is_ok(),
            "a little clock skew is fine"
        );
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
