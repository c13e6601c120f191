//! `ApiError`: the one error type. Every service returns it from handlers and
//! it renders API.md's error shape, `{"error": {"code", "message", "details"?}}`,
//! with the status the contract gives each code. Handlers never build error
//! JSON by hand; a 500 is logged with its cause and tells the client nothing.

use std::collections::BTreeMap;

use crate::telemetry::{clip, MAX_LOGGED_BYTES};

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};

pub type ApiResult<T> = Result<T, ApiError>;

/// `{field: [messages]}` for a 422.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A 409; `code` is one of the contract's conflict codes.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("the request's path and query are longer than {0} bytes")]
    UriTooLong(usize),
    #[error("the request's headers are larger than {0} bytes")]
    HeadersTooLarge(usize),
    #[error("{message}")]
    Validation {
        message: String,
        details: FieldErrors,
    },
    /// A 422: a point (a pickup) that lies in no city Hail serves.
    #[error("{0}")]
    OutsideServiceArea(String),
    /// A 422: a start with a missing or wrong pickup PIN.
    #[error("{message}")]
    WrongPin { message: String, attempts_left: u32 },
    #[error("too many requests; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The wire shape of every error, for clients and tests to read back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// For a 422: `{field: [messages]}`.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// A 422 naming one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut details = FieldErrors::new();
        details.insert(field.to_string(), vec![message.clone()]);
        Self::Validation {
            message: format!("{field}: {message}"),
            details,
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Validation { .. } | Self::OutsideServiceArea(_) | Self::WrongPin { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict { code, .. } => code,
            Self::PayloadTooLarge => "payload_too_large",
            Self::UriTooLong(_) => "uri_too_long",
            Self::HeadersTooLarge(_) => "headers_too_large",
            Self::Validation { .. } => "validation_failed",
            Self::OutsideServiceArea(_) => "outside_service_area",
            Self::WrongPin { .. } => "wrong_pin",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    pub fn body(&self) -> ErrorBody {
        let message = match self {
            Self::Internal(_) => "something went wrong on our side; it has been logged".to_string(),
            other => other.to_string(),
        };
        let details = match self {
            Self::Validation { details, .. } => serde_json::to_value(details).ok(),
            Self::WrongPin { attempts_left, .. } => {
                Some(serde_json::json!({ "attempts_left": attempts_left }))
            }
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message,
                details,
            },
        }
    }
}

/// `Retry-After` on every 503: soon, but not in a busy loop.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(cause) => {
                tracing::error!(cause = %clip(cause, MAX_LOGGED_BYTES), "internal error")
            }
            Self::Unavailable(cause) => {
                tracing::warn!(cause = %clip(cause, MAX_LOGGED_BYTES), "dependency unavailable")
            }
            _ => {}
        }
        let retry_after_secs = match self {
            Self::RateLimited { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        };
        error_response(self.status(), self.body(), retry_after_secs)
    }
}

/// An error answer: its status, its body, and `Retry-After` when the client
/// should come back (`retry_after_secs`, or soon on any 503: overload or a
/// dependency away is worth trying again shortly).
pub fn error_response(
    status: StatusCode,
    body: ErrorBody,
    retry_after_secs: Option<u64>,
) -> Response {
    let mut response = (status, Json(body)).into_response();
    let retry_after_secs = retry_after_secs
        .or((status == StatusCode::SERVICE_UNAVAILABLE).then_some(UNAVAILABLE_RETRY_AFTER_SECS));
    if let Some(secs) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Self::Unavailable(format!("the database is unavailable: {err}"))
            }
            // Deadlock or serialization failure: transient, the client may retry.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("40P01") | Some("40001")) =>
            {
                Self::Unavailable(format!("a concurrent change got in the way; retry: {err}"))
            }
            // A uniqueness rule the schema keeps (one active trip per
            // driver, say) refused the write: the state forbids it.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
                tracing::warn!(cause = %clip(&err.to_string(), MAX_LOGGED_BYTES), "unique violation");
                Self::conflict(
                    "conflict",
                    "this conflicts with the current state; reload and try again",
                )
            }
            _ => Self::Internal(format!("database: {err}")),
        }
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(err: redis::RedisError) -> Self {
        // What passes with time is a 503: a lost connection, and on a
        // cluster a failover under way (MOVED to a dead master, CLUSTERDOWN,
        // TRYAGAIN, READONLY...), the errors Redis itself says to retry.
        // What never will (a script error, a cross-slot call) is a bug.
        if err.is_io_error()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
            || err.is_timeout()
            || !matches!(err.retry_method(), redis::RetryMethod::NoRetry)
        {
            Self::Unavailable(format!("redis is unavailable: {err}"))
        } else {
            Self::Internal(format!("redis: {err}"))
        }
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut details = FieldErrors::new();
        collect_validation_errors("", &errors, &mut details);
        let message = details
            .iter()
            .map(|(field, msgs)| format!("{field}: {}", msgs.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        Self::Validation { message, details }
    }
}

/// Flattens nested validator errors into `{"pickup.lat": [...]}`.
fn collect_validation_errors(
    prefix: &str,
    errors: &validator::ValidationErrors,
    out: &mut FieldErrors,
) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                let messages = list.iter().map(|e| {
                    e.message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| describe_validation(e))
                });
                out.entry(path).or_default().extend(messages);
            }
            ValidationErrorsKind::Struct(inner) => collect_validation_errors(&path, inner, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect_validation_errors(&format!("{path}[{index}]"), inner, out);
                }
            }
        }
    }
}

fn describe_validation(error: &validator::ValidationError) -> String {
    let param = |name: &str| error.params.get(name).map(|v| v.to_string());
    match error.code.as_ref() {
        "email" => "must be a valid email address".into(),
        "length" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be {min} to {max} characters long"),
            (Some(min), None) => format!("must be at least {min} characters long"),
            (None, Some(max)) => format!("must be at most {max} characters long"),
            _ => "has the wrong length".into(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "is out of range".into(),
        },
        other => format!("is invalid ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failover_is_a_503_and_a_broken_script_a_500() {
        use redis::{ErrorKind, ServerErrorKind};
        for kind in [
            ServerErrorKind::Moved,
            ServerErrorKind::ClusterDown,
            ServerErrorKind::TryAgain,
            ServerErrorKind::MasterDown,
            ServerErrorKind::ReadOnly,
        ] {
            let err = redis::RedisError::from((ErrorKind::Server(kind), "mid-failover"));
            assert_eq!(
                ApiError::from(err).status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{kind:?}"
            );
        }
        for kind in [ServerErrorKind::CrossSlot, ServerErrorKind::ResponseError] {
            let err = redis::RedisError::from((ErrorKind::Server(kind), "a bug"));
            assert_eq!(
                ApiError::from(err).status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn every_error_renders_the_contract_shape() {
        let err = ApiError::conflict("email_taken", "that email is registered");
        let body = serde_json::to_value(err.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "email_taken", "message": "that email is registered"}})
        );
        assert_eq!(err.status(), StatusCode::CONFLICT);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = ApiError::internal("password column missing");
        let body = err.body();
        assert_eq!(body.error.code, "internal");
        assert!(!body.error.message.contains("password"));
    }

    #[test]
    fn validation_details_list_each_field() {
        let err = ApiError::invalid_field("email", "must be a valid email address");
        let body = serde_json::to_value(err.body()).unwrap();
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(
            body["error"]["details"]["email"][0],
            "must be a valid email address"
        );
    }
}
