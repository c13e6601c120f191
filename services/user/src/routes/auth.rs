//! Register, login and me.

use axum::{extract::State, http::StatusCode, Json};
use hail_shared::{
    api::{
        auth::{AuthResponse, LoginRequest, RegisterRequest, User},
        Role,
    },
    error::ErrorBody,
    extract::{Caller, ValidatedJson},
    ApiError, ApiResult,
};
use uuid::Uuid;

use crate::{
    domain::password,
    repo::{self, InsertError, NewUser},
    state::AppState,
};

/// Create an account. Emails are compared case-insensitively.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered; the token is ready to use", body = AuthResponse),
        (status = 409, description = "`email_taken`", body = ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ValidatedJson(body): ValidatedJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    let email = body.email.trim();
    // A cheap early answer; the unique index still decides concurrent attempts.
    if repo::email_exists(&state.pool, email).await? {
        return Err(email_taken());
    }
    let password_hash = hash_password(&state, body.password).await?;

    // A driver's profile is created first, under the id the account will
    // get, and the account after it in one statement. So no database
    // connection waits on the driver service, and a driver account never
    // exists without its profile. What a failure leaves is at most an
    // OFFLINE profile no account owns (the account's insert failing after
    // the profile, or a concurrent registration taking the email): it is never
    // online, so never matched, and the driver service's create is
    // idempotent for a retry.
    let id = Uuid::new_v4();
    let name = body.name.trim();
    if body.role == Role::Driver {
        state.drivers.create_profile(id, name).await?;
    }
    let new = NewUser {
        id,
        email,
        name,
        role: body.role,
        password_hash: &password_hash,
    };
    let row = repo::insert(&state.pool, &new)
        .await
        .map_err(|err| match err {
            InsertError::EmailTaken => email_taken(),
            InsertError::Sql(err) => err.into(),
        })?;

    let user = row.into_user()?;
    tracing::info!(user_id = %user.id, role = %user.role, "account registered");
    Ok((StatusCode::CREATED, Json(auth_response(&state, user)?)))
}

/// Log in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = AuthResponse),
        (status = 401, description = "`unauthorized`: wrong email or password", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ValidatedJson(body): ValidatedJson<LoginRequest>,
) -> ApiResult<Json<AuthResponse>> {
    let row = repo::find_by_email(&state.pool, body.email.trim()).await?;
    let stored = row.as_ref().map(|r| r.password_hash.clone());
    let matches = run_hashing(&state, move |memory| match stored {
        Some(stored) => password::verify(&body.password, &stored, memory),
        None => {
            password::verify_against_dummy(&body.password, memory);
            false
        }
    })
    .await?;
    match row {
        Some(row) if matches => Ok(Json(auth_response(&state, row.into_user()?)?)),
        _ => Err(ApiError::Unauthorized("wrong email or password".into())),
    }
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = User)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<User>> {
    let row = repo::find(&state.pool, caller.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("this account no longer exists".into()))?;
    Ok(Json(row.into_user()?))
}

fn email_taken() -> ApiError {
    ApiError::conflict("email_taken", "an account with this email already exists")
}

fn auth_response(state: &AppState, user: User) -> ApiResult<AuthResponse> {
    Ok(AuthResponse {
        access_token: state.tokens.issue(user.id, user.role)?,
        token_type: "Bearer".into(),
        expires_in: state.tokens.ttl().as_secs(),
        user,
    })
}

async fn hash_password(state: &AppState, password: String) -> ApiResult<String> {
    run_hashing(state, move |memory| password::hash(&password, memory))
        .await?
        .map_err(ApiError::internal)
}

/// Runs Argon2 work on the blocking pool, at most `hashing` permits at once.
/// Each run borrows one of the reused Argon2 working memories.
async fn run_hashing<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&mut password::Memory) -> T + Send + 'static,
) -> ApiResult<T> {
    let _permit = state.hashing.acquire().await.map_err(ApiError::internal)?;
    let pool = state.hashing_memory.clone();
    let mut memory = pool
        .lock()
        .map_err(ApiError::internal)?
        .pop()
        .unwrap_or_default();
    let (answer, memory) = tokio::task::spawn_blocking(move || {
        let answer = work(&mut memory);
        (answer, memory)
    })
    .await
    .map_err(ApiError::internal)?;
    pool.lock().map_err(ApiError::internal)?.push(memory);
    Ok(answer)
}
