//! Accounts: register, login, me.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use validator::{Validate, ValidationError};

use super::Role;

#[derive(Clone, Debug, Serialize, Deserialize, Validate, utoipa::ToSchema)]
pub struct RegisterRequest {
    #[schema(format = Email, max_length = 254)]
    #[validate(email(message = "must be a valid email address"), length(max = 254))]
    pub email: String,
    #[schema(min_length = 8, max_length = 128)]
    #[validate(length(min = 8, max = 128, message = "must be 8 to 128 characters long"))]
    pub password: String,
    #[schema(min_length = 1, max_length = 80)]
    #[validate(
        length(min = 1, max = 80, message = "must be 1 to 80 characters long"),
        custom(function = "printable_name")
    )]
    pub name: String,
    /// `rider` or `driver`: support accounts are made by an operator.
    #[validate(custom(function = "self_registrable"))]
    pub role: Role,
}

#[derive(Clone, Debug, Serialize, Deserialize, Validate, utoipa::ToSchema)]
pub struct LoginRequest {
    #[schema(min_length = 1, max_length = 254)]
    #[validate(
        length(min = 1, max = 254, message = "must be 1 to 254 characters long"),
        custom(function = "crate::api::no_control_chars")
    )]
    pub email: String,
    #[schema(min_length = 1, max_length = 128)]
    #[validate(length(min = 1, max = 128, message = "must be 1 to 128 characters long"))]
    pub password: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// What register and login answer.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthResponse {
    pub user: User,
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer", pattern = "^Bearer$")]
    pub token_type: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
}

/// Nobody makes themselves support staff.
fn self_registrable(role: &Role) -> Result<(), ValidationError> {
    if *role == Role::Support {
        let mut err = ValidationError::new("not_self_registrable");
        err.message = Some(
            "must be `rider` or `driver`: support accounts are made by an operator (`hail users add-support`)"
                .into(),
        );
        return Err(err);
    }
    Ok(())
}

fn printable_name(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        let mut err = ValidationError::new("blank");
        err.message = Some("must not be blank".into());
        return Err(err);
    }
    crate::api::no_control_chars(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(email: &str, password: &str, name: &str) -> RegisterRequest {
        RegisterRequest {
            email: email.into(),
            password: password.into(),
            name: name.into(),
            role: Role::Rider,
        }
    }

    #[test]
    fn password_length_counts_characters_not_bytes() {
        // Eight characters, 24 bytes.
        assert!(register("a@b.co", "ééééçççç", "A").validate().is_ok());
        assert!(register("a@b.co", "1234567", "A").validate().is_err());
        assert!(register("a@b.co", &"x".repeat(129), "A")
            .validate()
            .is_err());
        assert!(register("a@b.co", &"x".repeat(128), "A").validate().is_ok());
    }

    #[test]
    fn nobody_registers_as_support() {
        let mut support = register("a@b.co", "password1", "A");
        support.role = Role::Support;
        let err = support.validate().expect_err("support must be refused");
        assert!(err.field_errors().contains_key("role"), "{err:?}");
        let mut driver = register("a@b.co", "password1", "A");
        driver.role = Role::Driver;
        assert!(driver.validate().is_ok());
    }

    #[test]
    fn names_must_have_content() {
        assert!(register("a@b.co", "password1", "").validate().is_err());
        assert!(register("a@b.co", "password1", "   ").validate().is_err());
        assert!(register("a@b.co", "password1", &"n".repeat(81))
            .validate()
            .is_err());
    }

    #[test]
    fn control_characters_are_refused_before_postgres_sees_them() {
        // Postgres refuses NUL in text: unchecked, that was a 500.
        assert!(register("a@b.co", "password1", "Ada\u{0}")
            .validate()
            .is_err());
        assert!(register("a@b.co", "password1", "Ada\nLovelace")
            .validate()
            .is_err());
        assert!(register("a@b.co", "password1", "Adá Lovelace")
            .validate()
            .is_ok());
        let login = LoginRequest {
            email: "a\u{0}@b.co".into(),
            password: "password1".into(),
        };
        assert!(login.validate().is_err());
    }

    #[test]
    fn emails_are_checked() {
        assert!(register("not-an-email", "password1", "A")
            .validate()
            .is_err());
        assert!(register("rider@example.com", "password1", "A")
            .validate()
            .is_ok());
    }
}
