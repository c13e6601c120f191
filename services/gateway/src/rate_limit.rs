//! REST rate limits at the gateway: token buckets (governor) per verified
//! user, per client IP for requests without a valid token, and tighter ones
//! per IP on register/login and per email on login.
//!
//! Authenticated traffic is limited per user only, so a fleet of drivers
//! behind one IP (the simulator, an office NAT) is never throttled as a
//! whole. The client IP is the socket peer; `X-Forwarded-For` is believed
//! only when the peer is a configured trusted proxy. Buckets live in this
//! process: with N gateways a client gets up to N times the limit.

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    time::Duration,
};

use axum::http::HeaderMap;
use governor::{
    clock::{Clock, DefaultClock},
    DefaultKeyedRateLimiter, Quota, RateLimiter,
};
use hail_shared::{
    config::{RateLimit, RateLimits},
    ApiError,
};
use uuid::Uuid;

pub struct Limiters {
    per_user: DefaultKeyedRateLimiter<Uuid>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    auth_per_ip: DefaultKeyedRateLimiter<IpAddr>,
    login_per_email: DefaultKeyedRateLimiter<String>,
    socket_events: DefaultKeyedRateLimiter<Uuid>,
    trusted_proxies: Vec<IpAddr>,
    clock: DefaultClock,
}

impl Limiters {
    pub fn new(config: &RateLimits) -> Self {
        Self {
            per_user: RateLimiter::keyed(quota(config.per_user)),
            per_ip: RateLimiter::keyed(quota(config.per_ip)),
            auth_per_ip: RateLimiter::keyed(quota(config.auth_per_ip)),
            login_per_email: RateLimiter::keyed(quota(config.login_per_email)),
            socket_events: RateLimiter::keyed(quota(config.socket_events)),
            trusted_proxies: config.trusted_proxies.clone(),
            clock: DefaultClock::default(),
        }
    }

    pub fn check_user(&self, user: Uuid) -> Result<(), ApiError> {
        self.answer(self.per_user.check_key(&user))
    }

    /// A request that carries no valid token (or asks for no known route).
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.answer(self.per_ip.check_key(&ip))
    }

    /// Register or login.
    pub fn check_auth(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.answer(self.auth_per_ip.check_key(&ip))
    }

    pub fn check_login_email(&self, email: &str) -> Result<(), ApiError> {
        self.answer(self.login_per_email.check_key(&email.trim().to_lowercase()))
    }

    /// A Socket.IO client event: one budget per user, whatever number of
    /// sockets they spread their events over.
    pub fn check_socket_event(&self, user: Uuid) -> Result<(), ApiError> {
        self.answer(self.socket_events.check_key(&user))
    }

    /// Forgets buckets that are full again, so memory follows active clients.
    pub fn forget_idle(&self) {
        self.per_user.retain_recent();
        self.per_ip.retain_recent();
        self.auth_per_ip.retain_recent();
        self.login_per_email.retain_recent();
        self.socket_events.retain_recent();
        self.socket_events.shrink_to_fit();
        self.per_user.shrink_to_fit();
        self.per_ip.shrink_to_fit();
        self.auth_per_ip.shrink_to_fit();
        self.login_per_email.shrink_to_fit();
    }

    /// The client's address: the peer, or, behind a trusted proxy, the
    /// rightmost `X-Forwarded-For` entry that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        client_ip(peer.ip(), headers, &self.trusted_proxies)
    }

    fn answer(
        &self,
        outcome: Result<(), governor::NotUntil<<DefaultClock as Clock>::Instant>>,
    ) -> Result<(), ApiError> {
        outcome.map_err(|not_until| ApiError::RateLimited {
            retry_after_secs: retry_after_secs(not_until.wait_time_from(self.clock.now())),
        })
    }
}

fn quota(limit: RateLimit) -> Quota {
    let per_minute = NonZeroU32::new(limit.per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

/// Whole seconds, at least 1: a `Retry-After: 0` invites a busy loop.
fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .map(|entry| entry.parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        // A garbled header is not evidence of anything: use the proxy itself.
        .unwrap_or_default();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let spoofed = headers("198.51.100.1, 203.0.113.7");
        // No trusted proxies: the header is ignored.
        assert_eq!(client_ip(client, &spoofed, &[]), client);
        // From a trusted proxy: the rightmost entry the proxy added, not the
        // client-written ones to its left.
        assert_eq!(client_ip(proxy, &spoofed, &[proxy]), client);
        // Two trusted hops.
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &headers("203.0.113.7, 10.0.0.2"), &[proxy, other]),
            client
        );
        // Garbage: the proxy itself.
        assert_eq!(client_ip(proxy, &headers("not-an-ip"), &[proxy]), proxy);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    #[test]
    fn retry_after_is_whole_seconds_and_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
    }

    #[test]
    fn a_bucket_runs_out_per_key() {
        let limit = RateLimit {
            per_minute: 1,
            burst: 2,
        };
        let limiters = Limiters::new(&RateLimits {
            per_user: limit,
            per_ip: limit,
            auth_per_ip: limit,
            login_per_email: limit,
            trusted_proxies: vec![],
            socket_events: limit,
            sockets_per_user: 5,
            rider_cancel_limit: 5,
        });
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(limiters.check_user(a).is_ok());
        assert!(limiters.check_user(a).is_ok());
        match limiters.check_user(a) {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("expected a 429, got {other:?}"),
        }
        assert!(limiters.check_user(b).is_ok(), "another user is unaffected");
        assert!(limiters.check_login_email("A@x.io").is_ok());
        assert!(limiters.check_login_email(" a@X.io").is_ok());
        assert!(
            limiters.check_login_email("a@x.io").is_err(),
            "emails are one bucket whatever their case"
        );
    }
}
