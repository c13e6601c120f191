//! The stack each run of `hail bench matching` (and `delivery`) measures: all four services
//! in this process (each on its own runtime, as `hail serve all`), on free
//! ports, over the bench's own database and Redis key prefix, in auto match
//! mode (the assignment is the offer: no driver app needs to answer), with
//! the run's strategy and window. Every run uses the same database, so the
//! accounts made by the first run serve the others.

use std::collections::HashMap;

use anyhow::Context;
use hail_shared::config::Config;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::stack::{self, Service};

/// Where the runs keep their state, the same for every run.
pub(in crate::bench) struct Base {
    pub database_url: String,
    pub redis_url: String,
    pub redis_prefix: String,
    pub match_deadline_secs: u64,
}

/// How one run matches.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Strategy {
    pub name: String,
    pub window_ms: Option<u64>,
}

impl Strategy {
    /// `greedy`, `batched` (2000 ms) or `batched:<ms>`.
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let (name, window) = raw.trim().split_once(':').unwrap_or((raw.trim(), ""));
        match (name, window) {
            ("greedy", "") => Ok(Self {
                name: name.into(),
                window_ms: None,
            }),
            ("batched", window) => Ok(Self {
                name: name.into(),
                window_ms: Some(if window.is_empty() {
                    2000
                } else {
                    window.parse().with_context(|| {
                        format!("--runs: {raw:?}: the window is milliseconds, e.g. batched:2000")
                    })?
                }),
            }),
            _ => anyhow::bail!("--runs: {raw:?} is not `greedy`, `batched` or `batched:<ms>`"),
        }
    }

    pub fn label(&self) -> String {
        match self.window_ms {
            Some(ms) => format!("{} {:.1} s", self.name, ms as f64 / 1000.0),
            None => self.name.clone(),
        }
    }
}

/// A running stack; [`Running::stop`] shuts it down.
pub(in crate::bench) struct Running {
    pub gateway: String,
    shutdown: CancellationToken,
    handle: JoinHandle<Result<(), hail_shared::startup::StartError>>,
}

impl Running {
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.handle.await;
    }
}

/// A stack in auto mode with the run's strategy and window.
pub(super) async fn start(base: &Base, strategy: &Strategy) -> anyhow::Result<Running> {
    let mut settings = vec![
        ("HAIL_MATCH_MODE", "auto".to_string()),
        ("HAIL_MATCH_STRATEGY", strategy.name.clone()),
    ];
    if let Some(ms) = strategy.window_ms {
        settings.push(("HAIL_BATCH_WINDOW_MS", ms.to_string()));
    }
    start_with(base, &settings).await
}

/// A stack over `base` with these `HAIL_*` settings on top of the bench's
/// own (free ports, no rate limits: one bench client is every rider and
/// driver, and no limit may shape the figures).
pub(in crate::bench) async fn start_with(
    base: &Base,
    settings: &[(&str, String)],
) -> anyhow::Result<Running> {
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut set = |k: &str, v: String| {
        vars.insert(k.to_string(), v);
    };
    set("HAIL_ENV", "dev".into());
    set("DATABASE_URL", base.database_url.clone());
    set("REDIS_URL", base.redis_url.clone());
    set("HAIL_REDIS_PREFIX", base.redis_prefix.clone());
    set("HAIL_GATEWAY_HOST", "127.0.0.1".into());
    let mut gateway_port = 0;
    for service in ["GATEWAY", "USER", "DRIVER", "TRIP"] {
        let port = free_port()?;
        if service == "GATEWAY" {
            gateway_port = port;
        }
        set(&format!("HAIL_{service}_PORT"), port.to_string());
    }
    set(
        "HAIL_MATCH_DEADLINE_SECS",
        base.match_deadline_secs.to_string(),
    );
    for limit in ["USER", "IP", "AUTH", "LOGIN_EMAIL", "SOCKET_EVENTS"] {
        set(
            &format!("HAIL_RATE_LIMIT_{limit}_PER_MIN"),
            "100000000".into(),
        );
        set(
            &format!("HAIL_RATE_LIMIT_{limit}_BURST"),
            "100000000".into(),
        );
    }
    set("HAIL_RIDER_CANCEL_LIMIT", "1000000".into());
    for (name, value) in settings {
        set(name, value.clone());
    }
    let config = Config::from_lookup(|name| vars.get(name).cloned())
        .context("the bench stack's settings")?;
    stack::migrate(&config).await.with_context(|| {
        format!(
            "prepare the bench database (is Postgres running at {}? ./scripts/run.sh starts one)",
            base.database_url
        )
    })?;
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { stack::run(&config, &Service::ALL, shutdown).await }
    });
    Ok(Running {
        gateway: format!("http://127.0.0.1:{gateway_port}"),
        shutdown,
        handle,
    })
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_name_a_strategy_and_a_window() {
        assert_eq!(Strategy::parse("greedy").unwrap().label(), "greedy");
        assert_eq!(Strategy::parse("batched").unwrap().window_ms, Some(2000));
        assert_eq!(
            Strategy::parse("batched:1000").unwrap().label(),
            "batched 1.0 s"
        );
        assert!(Strategy::parse("greedy:10").is_err());
        assert!(Strategy::parse("batched:soon").is_err());
        assert!(Strategy::parse("best").is_err());
    }
}
