//! Logs and metrics, set up the same way by every service.
//!
//! Logs: `tracing` with `RUST_LOG` (default `info`), pretty or JSON lines.
//! Each request runs in a span carrying its request id, so every line a
//! handler logs can be tied to the gateway request that caused it.
//! Metrics: one Prometheus recorder per process; every series is labelled
//! with the service, so `hail serve all` still tells the services apart
//! (except `db_statements_total`, every SQL statement the process ran).

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{
    filter::Targets, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer,
};

use crate::config::LogFormat;

/// Log levels no `RUST_LOG` setting can go below; see [`init_tracing`].
pub const SECRET_SAFE_CAPS: [&str; 2] = ["socketioxide=info", "engineioxide=info"];

/// Installs the global log subscriber. Call once, from `main`.
pub fn init_tracing(format: LogFormat) {
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,sqlx=warn"));
    // Below `info` these crates log raw handshake payloads, tokens included.
    // No `RUST_LOG` lifts them: a secret in a log file is a leak.
    for cap in SECRET_SAFE_CAPS {
        if let Ok(directive) = cap.parse() {
            filter = filter.add_directive(directive);
        }
    }
    // sqlx reports every statement it runs as a DEBUG event; this layer alone
    // listens to them (the log's filter still drops them) to count them.
    let statements = StatementCounter.with_filter(
        Targets::new().with_target("sqlx::query", tracing::level_filters::LevelFilter::DEBUG),
    );
    let registry = tracing_subscriber::registry().with(statements);
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_filter(filter))
            .try_init(),
    };
    // A second call (tests building several apps) keeps the first subscriber.
    let _ = result;
}

/// Counts the SQL statements the process runs (`db_statements_total`), so
/// a benchmark can say what a trip costs Postgres.
struct StatementCounter;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementCounter {
    fn on_event(
        &self,
        _event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        metrics::counter!("db_statements_total").increment(1);
    }
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (embedding Hail elsewhere):
                // keep a private one so /metrics still answers.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The longest client-supplied text written into one log field.
pub const MAX_LOGGED_BYTES: usize = 512;

/// `text` cut to at most `max` bytes (on a character boundary), so a value
/// a client controls can never make a log line large.
pub fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A method as a metrics label: the standard ones by name, anything a client
/// invented as `OTHER`, so labels stay a fixed, small set.
pub fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Middleware: counts requests and records their latency, by route template
/// (never the raw path, which would make one series per trip id).
pub async fn record_http_metrics(service: &'static str, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method()).to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    let labels = [
        ("service", service.to_string()),
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::method_label;

    #[test]
    fn clip_cuts_on_a_character_boundary() {
        assert_eq!(super::clip("short", 10), "short");
        assert_eq!(super::clip("abcdef", 3), "abc");
        assert_eq!(super::clip("aé", 2), "a", "é is two bytes");
        assert_eq!(super::clip(&"x".repeat(8 << 20), 512).len(), 512);
    }

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&http::Method::GET), "GET");
        assert_eq!(method_label(&http::Method::DELETE), "DELETE");
        for invented in ["FROB", "XYZZY123", "get"] {
            let method = http::Method::from_bytes(invented.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "OTHER", "{invented}");
        }
    }
}
