//! The simulator's client for Hail's public API: one shared HTTP pool, typed
//! answers, and errors that keep the contract's `code` so callers can tell
//! an expected 409 from a real failure.

use std::{
    fmt,
    sync::{Arc, RwLock},
    time::Duration,
};

use anyhow::Context;
use hail_shared::{api::auth::AuthResponse, error::ErrorBody};
use reqwest::{Method, StatusCode};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::socketio::{Options, SocketClient};
use uuid::Uuid;

#[derive(Clone)]
pub struct Api {
    /// The first gateway (sockets connect there).
    pub gateway: String,
    /// Every gateway's `/api/v1`: calls take them in turn (`--gateway`
    /// may list several, as behind a load balancer).
    bases: Arc<[String]>,
    next: Arc<AtomicUsize>,
    http: reqwest::Client,
}

/// A failed call: the HTTP status and the contract's error code, or a
/// transport failure (status 0).
#[derive(Debug)]
pub struct CallError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// The answer's `Retry-After`, in seconds, when it had one.
    pub retry_after: Option<u64>,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.status == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{} {}: {}", self.status, self.code, self.message)
        }
    }
}

impl std::error::Error for CallError {}

impl CallError {
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }
}

/// A signed-in account. Clones share the token, so a renewal (after the
/// token expired) reaches every task acting for the account.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: Uuid,
    token: Arc<RwLock<String>>,
    email: String,
    password: String,
}

impl Session {
    pub fn new(id: Uuid, token: String, email: &str, password: &str) -> Self {
        Self {
            id,
            token: Arc::new(RwLock::new(token)),
            email: email.to_string(),
            password: password.to_string(),
        }
    }

    pub fn token(&self) -> String {
        self.token.read().map(|t| t.clone()).unwrap_or_default()
    }
}

impl Api {
    fn base(&self) -> &str {
        let next = self.next.fetch_add(1, Ordering::Relaxed);
        &self.bases[next % self.bases.len()]
    }

    pub fn new(gateways: &str) -> anyhow::Result<Self> {
        let gateways: Vec<String> = gateways
            .split(',')
            .map(|g| g.trim().trim_end_matches('/').to_string())
            .collect();
        for gateway in &gateways {
            reqwest::Url::parse(gateway).with_context(|| {
                format!("--gateway {gateway:?} is not a URL (e.g. http://localhost:3000, or several separated by commas)")
            })?;
        }
        let gateway = gateways[0].clone();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Self {
            bases: gateways.iter().map(|g| format!("{g}/api/v1")).collect(),
            next: Arc::new(AtomicUsize::new(0)),
            gateway,
            http,
        })
    }

    pub async fn ready(&self) -> anyhow::Result<()> {
        self.http
            .get(format!("{}/readyz", self.gateway))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| {
                format!(
                    "Hail does not answer at {}/readyz: start it (./scripts/run.sh) or pass --gateway",
                    self.gateway
                )
            })?;
        Ok(())
    }

    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<T, CallError> {
        let transport = |err: reqwest::Error| CallError {
            status: 0,
            code: "transport".into(),
            message: format!("{path}: {err}"),
            retry_after: None,
        };
        // A rate-limited call waits as long as `Retry-After` says and tries
        // again (a production gateway allows few sign-ups per minute per IP).
        let mut attempts = 0;
        let response = loop {
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base()));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(transport)?;
            attempts += 1;
            if response.status() != StatusCode::TOO_MANY_REQUESTS || attempts >= 20 {
                break response;
            }
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1)
                .clamp(1, 60);
            tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let bytes = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => (body.error.code, body.error.message),
                Err(_) => (
                    "unknown".into(),
                    String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                ),
            };
            return Err(CallError {
                status: status.as_u16(),
                code,
                message: format!("{path}: {message}"),
                retry_after,
            });
        }
        let bytes = if status == StatusCode::NO_CONTENT || bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes).map_err(|err| CallError {
            status: status.as_u16(),
            code: "unreadable".into(),
            message: format!("{path}: unexpected answer: {err}"),
            retry_after: None,
        })
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        who: &Session,
    ) -> Result<T, CallError> {
        self.call_as(Method::GET, path, who, None).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        who: &Session,
        body: Value,
    ) -> Result<T, CallError> {
        self.call_as(Method::POST, path, who, Some(body)).await
    }

    pub async fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        who: &Session,
        body: Value,
    ) -> Result<T, CallError> {
        self.call_as(Method::PUT, path, who, Some(body)).await
    }

    /// A call as `who`; a 401 (the token expired) logs in again and tries
    /// once more, as an app would without asking its user.
    async fn call_as<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        who: &Session,
        body: Option<Value>,
    ) -> Result<T, CallError> {
        let first = self
            .call(method.clone(), path, Some(&who.token()), body.clone())
            .await;
        match first {
            Err(err) if err.status == 401 && self.renew(who).await.is_ok() => {
                self.call(method, path, Some(&who.token()), body).await
            }
            other => other,
        }
    }

    /// Logs `who` in again for a fresh token.
    pub async fn renew(&self, who: &Session) -> anyhow::Result<()> {
        let body = json!({"email": who.email, "password": who.password});
        let answer: AuthResponse = self
            .call(Method::POST, "/auth/login", None, Some(body))
            .await
            .with_context(|| format!("log {} in again", who.email))?;
        if let Ok(mut token) = who.token.write() {
            *token = answer.access_token;
        }
        Ok(())
    }

    /// Registers `email`, or logs in when it is taken (a re-run with the
    /// same seed).
    pub async fn register_or_login(
        &self,
        email: &str,
        password: &str,
        name: &str,
        role: &str,
    ) -> anyhow::Result<Session> {
        let body = json!({"email": email, "password": password, "name": name, "role": role});
        let answer: AuthResponse = match self
            .call(Method::POST, "/auth/register", None, Some(body))
            .await
        {
            Ok(answer) => answer,
            Err(err) if err.is("email_taken") => self
                .call(
                    Method::POST,
                    "/auth/login",
                    None,
                    Some(json!({"email": email, "password": password})),
                )
                .await
                .with_context(|| {
                    format!("{email} exists but its password is not the simulator's: use another --seed")
                })?,
            Err(err) => return Err(err).with_context(|| format!("register {email}")),
        };
        if answer.user.role.as_str() != role {
            anyhow::bail!(
                "{email} exists as a {} account: use another --seed",
                answer.user.role.as_str()
            );
        }
        Ok(Session::new(
            answer.user.id,
            answer.access_token,
            email,
            password,
        ))
    }
}

/// Starts a Socket.IO client (Hail's own, `crate::socketio`) that forwards
/// every event (name, first argument) into `events`, reconnects after a
/// drop, and answers the server's acks (the `offer` event's) unless the
/// simulated phone is one that does not listen.
pub fn connect_socket(
    gateway: &str,
    token: &str,
    events: mpsc::UnboundedSender<(String, Value)>,
    answer_acks: bool,
) -> SocketClient {
    SocketClient::start(gateway, token, events, options(answer_acks))
}

/// Like [`connect_socket`], once the gateway has accepted the socket.
pub async fn connected_socket(
    gateway: &str,
    token: &str,
    events: mpsc::UnboundedSender<(String, Value)>,
    answer_acks: bool,
) -> anyhow::Result<SocketClient> {
    SocketClient::connect(gateway, token, events, options(answer_acks))
        .await
        .map_err(anyhow::Error::msg)
}

fn options(answer_acks: bool) -> Options {
    Options {
        answer_acks,
        answer_pings: true,
        reconnect: true,
    }
}
