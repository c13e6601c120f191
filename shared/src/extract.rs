//! Extractors that reject in the contract's error shape.
//!
//! - `ValidatedJson<T>`: content type checked (400), body capped at 64 KiB (413),
//!   syntax errors 400, wrong types or missing fields 422 naming the field,
//!   then `validator` rules 422 with per-field details.
//! - `ValidatedQuery<T>`: the same for query strings (unknown values 400).
//! - `Caller`: the identity the gateway vouched for in `x-user-id` /
//!   `x-user-role`. Only trustworthy behind the internal-token check, which
//!   every service router applies before any handler runs.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts},
};
use serde::de::DeserializeOwned;
use uuid::Uuid;
use validator::Validate;

use crate::{api::Role, ApiError};

pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const USER_ID_HEADER: &str = "x-user-id";
pub const USER_ROLE_HEADER: &str = "x-user-role";
pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const INTERNAL_TOKEN_HEADER: &str = "x-internal-token";

pub struct ValidatedJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidatedJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        expect_json(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(format!("could not read the request body: {rejection}"))
            }
        })?;
        let value = parse_json::<T>(&bytes)?;
        value.validate()?;
        Ok(Self(value))
    }
}

/// A body already read, held to [`ValidatedJson`]'s rules in its order
/// (content type, syntax, shape, validation): for a gateway that answers a
/// route itself, with the owner service's answers.
pub fn validated_json<T: DeserializeOwned + Validate>(
    headers: &http::HeaderMap,
    bytes: &[u8],
) -> Result<T, ApiError> {
    expect_json(headers)?;
    let value = parse_json::<T>(bytes)?;
    value.validate()?;
    Ok(value)
}

/// 400 unless the body is declared JSON.
fn expect_json(headers: &http::HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
        .unwrap_or(false);
    if is_json {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "expected a JSON body with `Content-Type: application/json`".into(),
        ))
    }
}

/// An optional body (`{reason}` on cancel): no body at all is `None`; a
/// body is held to the same rules as a required one.
impl<S, T> axum::extract::OptionalFromRequest<S> for ValidatedJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let (parts, body) = req.into_parts();
        // The size cap is the router's (`crate::server`): a longer body
        // fails as it is read.
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        <Self as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// Parses JSON, telling a syntax error (400) from a well-formed body of the
/// wrong shape (422, with the offending field named).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Well-formed at all? Checked on its own first, so a syntax error is a
    // 400 wherever it sits, even after a field that would fail validation.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|err| ApiError::BadRequest(format!("malformed JSON: {err}")))?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, T>(&mut de).map_err(shape_error)
}

/// [`parse_json`] for a payload already parsed (a Socket.IO event's): the
/// same 422 naming the offending field, without writing it out and reading
/// it again.
pub fn from_json_value<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(shape_error)
}

/// A well-formed body of the wrong shape: 422 naming the offending field.
fn shape_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let (field, message) = describe_shape_error(&err.path().to_string(), err.inner());
    ApiError::invalid_field(&field, message)
}

/// Turns serde's "missing field `email` at line 1" into `("email", "is required")`.
fn describe_shape_error(path: &str, err: &serde_json::Error) -> (String, String) {
    let text = err.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text).to_string();
    let base = if path == "." { "" } else { path };
    if let Some(rest) = text.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        let field = if base.is_empty() {
            name.to_string()
        } else {
            format!("{base}.{name}")
        };
        return (field, "is required".into());
    }
    let field = if base.is_empty() { "body" } else { base };
    (field.to_string(), text)
}

pub struct ValidatedQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidatedQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        let value: T = serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let field = if path == "." { "query" } else { path.as_str() };
            ApiError::BadRequest(format!("query parameter {field}: {}", err.inner()))
        })?;
        value.validate()?;
        Ok(Self(value))
    }
}

/// Who is calling, as vouched for by the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub role: Role,
}

impl Caller {
    /// The caller's id if it is a driver; 403 otherwise.
    pub fn driver(&self) -> Result<Uuid, ApiError> {
        self.require(Role::Driver)
    }

    /// The caller's id if it is a rider; 403 otherwise.
    pub fn rider(&self) -> Result<Uuid, ApiError> {
        self.require(Role::Rider)
    }

    /// The caller's id if it is support staff; 403 otherwise.
    pub fn support(&self) -> Result<Uuid, ApiError> {
        self.require(Role::Support)
    }

    fn require(&self, role: Role) -> Result<Uuid, ApiError> {
        if self.role == role {
            Ok(self.user_id)
        } else {
            Err(ApiError::Forbidden(format!(
                "this endpoint is for {} accounts",
                role.as_str()
            )))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let user_id = header(USER_ID_HEADER)
            .and_then(|v| Uuid::parse_str(v).ok())
            .ok_or_else(|| ApiError::Unauthorized("missing or invalid bearer token".into()))?;
        let role = header(USER_ROLE_HEADER)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ApiError::Unauthorized("missing or invalid bearer token".into()))?;
        Ok(Self { user_id, role })
    }
}

/// A UUID path segment; anything else is a 404, as an unknown id would be.
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound("no such resource".into()))?;
        Uuid::parse_str(&raw)
            .map(Self)
            .map_err(|_| ApiError::NotFound("no such resource".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Validate)]
    struct Point {
        #[validate(range(min = -90.0, max = 90.0))]
        lat: f64,
        #[allow(dead_code)]
        lng: f64,
    }

    #[derive(Debug, Deserialize, Validate)]
    struct Body {
        #[validate(nested)]
        pickup: Point,
    }

    #[test]
    fn syntax_errors_are_400() {
        let err = parse_json::<Body>(b"{\"pickup\": ").unwrap_err();
        assert_eq!(err.code(), "bad_request");
        let err = parse_json::<Body>(b"{} trailing").unwrap_err();
        assert_eq!(err.code(), "bad_request");
    }

    #[test]
    fn wrong_types_name_the_nested_field() {
        let err = parse_json::<Body>(br#"{"pickup": {"lat": "north", "lng": 1}}"#).unwrap_err();
        let body = serde_json::to_value(err.body()).unwrap();
        assert_eq!(body["error"]["code"], "validation_failed");
        assert!(body["error"]["details"]["pickup.lat"].is_array(), "{body}");
    }

    #[test]
    fn missing_fields_are_required() {
        let err = parse_json::<Body>(br#"{"pickup": {"lat": 1}}"#).unwrap_err();
        let body = serde_json::to_value(err.body()).unwrap();
        assert_eq!(body["error"]["details"]["pickup.lng"][0], "is required");
    }

    #[test]
    fn validator_rules_flatten_to_dotted_fields() {
        let body = parse_json::<Body>(br#"{"pickup": {"lat": 91, "lng": 1}}"#).unwrap();
        let err = ApiError::from(body.validate().unwrap_err());
        let body = serde_json::to_value(err.body()).unwrap();
        assert!(body["error"]["details"]["pickup.lat"].is_array(), "{body}");
    }
}
