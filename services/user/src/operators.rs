//! What an operator does from the command line, never through the API:
//! making support accounts (`hail users add-support`). The same rules as
//! register (email, name and password checks, one account per email,
//! Argon2id) apply; only the role differs.

use hail_shared::{
    api::{
        auth::{RegisterRequest, User},
        Role,
    },
    config::Config,
    db,
};
use validator::Validate;

use crate::{
    domain::password,
    repo::{self, InsertError, NewUser},
    MIGRATOR, SCHEMA,
};

/// Why a support account was not made, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum AddSupportError {
    #[error("{0}")]
    Invalid(String),
    #[error("an account with the email {0:?} already exists; pick another email")]
    EmailTaken(String),
    #[error("cannot reach Postgres at DATABASE_URL ({0}); start it or point DATABASE_URL at it")]
    Database(String),
}

/// Makes a support account (the user schema is migrated first, so this
/// works on a fresh database too). The password is hashed here and never
/// logged.
pub async fn add_support(
    config: &Config,
    email: &str,
    name: &str,
    password: String,
) -> Result<User, AddSupportError> {
    // Register's own checks: the role given is only there to pass its
    // "not support" rule; the account made is support.
    let request = RegisterRequest {
        email: email.trim().to_string(),
        password,
        name: name.trim().to_string(),
        role: Role::Rider,
    };
    if let Err(errors) = request.validate() {
        let mut problems: Vec<String> = errors
            .field_errors()
            .iter()
            .map(|(field, errs)| {
                let what = errs
                    .iter()
                    .filter_map(|e| e.message.as_ref().map(|m| m.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("{field} {what}")
            })
            .collect();
        problems.sort();
        return Err(AddSupportError::Invalid(problems.join("; ")));
    }
    let database = |err: sqlx::Error| AddSupportError::Database(err.to_string());
    let pool = db::connect(
        &config.database_url,
        SCHEMA,
        2,
        config.database_acquire_timeout,
    )
    .await
    .map_err(|err| AddSupportError::Database(err.to_string()))?;
    db::migrate(&pool, SCHEMA, &MIGRATOR)
        .await
        .map_err(|err| AddSupportError::Database(err.to_string()))?;
    if repo::email_exists(&pool, &request.email)
        .await
        .map_err(database)?
    {
        return Err(AddSupportError::EmailTaken(request.email));
    }
    let RegisterRequest {
        email,
        password,
        name,
        ..
    } = request;
    let hash = tokio::task::spawn_blocking(move || {
        password::hash(&password, &mut password::Memory::new())
    })
    .await
    .map_err(|err| AddSupportError::Invalid(err.to_string()))?
    .map_err(|err| AddSupportError::Invalid(format!("could not hash the password: {err}")))?;
    let new = NewUser {
        id: uuid::Uuid::new_v4(),
        email: &email,
        name: &name,
        role: Role::Support,
        password_hash: &hash,
    };
    let row = repo::insert(&pool, &new).await.map_err(|err| match err {
        InsertError::EmailTaken => AddSupportError::EmailTaken(email.clone()),
        InsertError::Sql(err) => database(err),
    })?;
    row.into_user()
        .map_err(|err| AddSupportError::Database(err.to_string()))
}
