//! SQL for the `user` schema.

use chrono::{DateTime, Utc};
use hail_shared::{
    api::{auth::User, Role},
    ApiError,
};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

impl UserRow {
    pub fn into_user(self) -> Result<User, ApiError> {
        let role: Role = self.role.parse().map_err(|_| {
            ApiError::internal(format!("user {} has role {:?}", self.id, self.role))
        })?;
        Ok(User {
            id: self.id,
            email: self.email,
            name: self.name,
            role,
            created_at: self.created_at,
        })
    }
}

pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error("email already registered")]
    EmailTaken,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Inserts a user; the unique index on `lower(email)` decides races.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewUser<'_>) -> Result<UserRow, InsertError> {
    sqlx::query_as!(
        UserRow,
        "INSERT INTO users (id, email, name, role, password_hash)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, email, name, role, password_hash, created_at",
        new.id,
        new.email,
        new.name,
        new.role.as_str(),
        new.password_hash,
    )
    .fetch_one(db)
    .await
    .map_err(|err| match err.as_database_error() {
        Some(db_err) if db_err.is_unique_violation() => InsertError::EmailTaken,
        _ => InsertError::Sql(err),
    })
}

pub async fn email_exists(pool: &PgPool, email: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1)) AS "exists!""#,
        email
    )
    .fetch_one(pool)
    .await
}

pub async fn find_by_email(pool: &PgPool, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "SELECT id, email, name, role, password_hash, created_at
         FROM users WHERE lower(email) = lower($1)",
        email
    )
    .fetch_optional(pool)
    .await
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "SELECT id, email, name, role, password_hash, created_at FROM users WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await
}
