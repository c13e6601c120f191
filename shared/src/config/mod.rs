//! Settings, read once from the environment at start and passed down.
//!
//! Every variable has a working local default except the two secrets, which
//! outside `HAIL_ENV=dev` must be set: a service that would sign tokens with a
//! well-known key refuses to start instead, and says what to set.

mod read;

use std::{net::IpAddr, path::PathBuf, time::Duration};

use read::{at_least_one, list, parse, positive, rate_limit, secret};

/// The signing key and the internal token used when `HAIL_ENV=dev` and none is set.
/// Public on purpose: they protect nothing and must never be used elsewhere.
const DEV_JWT_SECRET: &str = "hail-dev-jwt-secret-do-not-use-in-production";
const DEV_INTERNAL_TOKEN: &str = "hail-dev-internal-token";
const MIN_SECRET_LEN: usize = 32;

/// What `HAIL_BATCH_WINDOW_MS` (and a city's `batch_window_ms`) may be.
pub const BATCH_WINDOW_MS: std::ops::RangeInclusive<u64> = 100..=60_000;
/// What `HAIL_BATCH_CANDIDATES` (and a city's `batch_candidates`) may be.
pub const BATCH_CANDIDATES: std::ops::RangeInclusive<usize> = 1..=50;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Dev,
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchMode {
    /// Offer the nearest driver and wait for an answer.
    Offer,
    /// Assign the nearest claimable driver directly.
    Auto,
}

/// How the due trips of a city are matched to its free drivers (API.md,
/// `HAIL_MATCH_STRATEGY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchStrategy {
    /// Each trip, in queue order, gets its nearest free driver.
    Greedy,
    /// The due trips of a window are matched together: least total pickup
    /// distance, premium trips first.
    Batched,
}

impl MatchStrategy {
    pub fn name(self) -> &'static str {
        match self {
            Self::Greedy => "greedy",
            Self::Batched => "batched",
        }
    }

    /// Reads `greedy` or `batched`; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "greedy" => Some(Self::Greedy),
            "batched" => Some(Self::Batched),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Ports {
    pub gateway: u16,
    pub user: u16,
    pub driver: u16,
    pub trip: u16,
}

/// Where the gateway and the trip service find the other services.
#[derive(Clone, Debug)]
pub struct Upstreams {
    pub user: String,
    pub driver: String,
    pub trip: String,
}

#[derive(Clone, Debug)]
pub struct DispatchConfig {
    pub mode: MatchMode,
    pub strategy: MatchStrategy,
    /// How long a batched city collects due trips before matching them
    /// together (`HAIL_BATCH_WINDOW_MS`): a trip's first offer waits at
    /// most this long.
    pub batch_window: Duration,
    /// How many nearest free drivers each trip of a batch brings to the
    /// assignment (`HAIL_BATCH_CANDIDATES`): enough for the solver to trade
    /// drivers between neighbouring trips.
    pub batch_candidates: usize,
    pub offer_timeout: Duration,
    pub search_radius_km: f64,
    pub max_search_radius_km: f64,
    pub match_deadline: Duration,
    pub candidate_overfetch: usize,
    /// How long a worker holds a trip it is dispatching; if it dies, the trip
    /// is picked again when this runs out.
    pub step_lease: Duration,
    /// Test failpoint: the worker stops dead right after a successful claim,
    /// as a crashed process would. Only with the `failpoints` feature, which
    /// only the test kit turns on; never set from the environment.
    #[cfg(feature = "failpoints")]
    pub crash_after_claim: bool,
    /// Test failpoint: a batch waits this long between solving and
    /// claiming, so a test can take an assigned driver away meanwhile.
    #[cfg(feature = "failpoints")]
    pub pause_before_batch_claim: Option<Duration>,
}

impl DispatchConfig {
    /// These settings with what `city` sets for itself (API.md: any dispatch
    /// setting may be set per city; unset ones take the global value).
    pub fn for_city(&self, city: &crate::cities::CityDispatch) -> Self {
        let secs = |v: Option<f64>, global: Duration| v.map_or(global, Duration::from_secs_f64);
        Self {
            mode: city.match_mode.unwrap_or(self.mode),
            strategy: city.match_strategy.unwrap_or(self.strategy),
            batch_window: city
                .batch_window_ms
                .map_or(self.batch_window, Duration::from_millis),
            batch_candidates: city.batch_candidates.unwrap_or(self.batch_candidates),
            offer_timeout: secs(city.offer_timeout_secs, self.offer_timeout),
            search_radius_km: city.search_radius_km.unwrap_or(self.search_radius_km),
            max_search_radius_km: city
                .max_search_radius_km
                .unwrap_or(self.max_search_radius_km),
            match_deadline: secs(city.match_deadline_secs, self.match_deadline),
            ..self.clone()
        }
    }
}

/// A token bucket: `per_minute` sustained, up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

/// The gateway's REST rate limits (per gateway process).
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimits {
    /// Every authenticated request, keyed by the verified token's user.
    pub per_user: RateLimit,
    /// Requests without a valid token (unknown routes, bad tokens), per client IP.
    pub per_ip: RateLimit,
    /// `register` and `login`, per client IP.
    pub auth_per_ip: RateLimit,
    /// `login`, per email address (case-insensitive): guards one account
    /// against guessing from many IPs.
    pub login_per_email: RateLimit,
    /// Peers whose `X-Forwarded-For` is believed (a load balancer in front
    /// of the gateway). Empty: the socket address is the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Socket.IO client events, per user across all their sockets.
    pub socket_events: RateLimit,
    /// Open sockets one user may hold (`HAIL_SOCKETS_PER_USER`); a new one
    /// past it closes the user's oldest.
    pub sockets_per_user: usize,
    /// Trips a rider may cancel within 10 minutes before new requests are
    /// 429 (`HAIL_RIDER_CANCEL_LIMIT`).
    pub rider_cancel_limit: u32,
}

#[derive(Clone, Debug)]
pub struct RoomConfig {
    /// How long a selected rider has to answer (`HAIL_ROOM_CONFIRM_SECS`).
    pub confirm: Duration,
    /// How long a room outlives its departure (`HAIL_ROOM_GRACE_MINS`).
    pub grace: Duration,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub environment: Environment,
    pub database_url: String,
    /// Connections each service's request pool may open (`HAIL_DATABASE_POOL_SIZE`).
    pub database_pool_size: u32,
    /// Connections a service's background work (the matcher, the outbox
    /// relay, sweepers) has to itself, so request bursts never starve it
    /// (`HAIL_DATABASE_BACKGROUND_POOL_SIZE`).
    pub database_background_pool_size: u32,
    /// How long a request waits for a connection before it is refused with
    /// 503 and `Retry-After` (`HAIL_DATABASE_ACQUIRE_TIMEOUT_MS`).
    pub database_acquire_timeout: Duration,
    /// Requests the gateway has in flight to one service at most; past it,
    /// 503 at once (`HAIL_GATEWAY_MAX_IN_FLIGHT`).
    pub gateway_max_in_flight: usize,
    /// One Redis URL, or with `redis_cluster` a comma-separated list of
    /// cluster nodes (`REDIS_URL`).
    pub redis_url: String,
    /// Talk to a Redis Cluster (`HAIL_REDIS_CLUSTER=true`).
    pub redis_cluster: bool,
    /// Prepended to every Redis key and channel, so cities and tests can share a Redis.
    pub redis_prefix: String,
    pub jwt_secret: String,
    pub jwt_ttl: Duration,
    pub internal_token: String,
    /// Interface the public gateway binds to.
    pub gateway_host: IpAddr,
    /// Interface the internal services bind to (loopback unless told otherwise).
    pub service_host: IpAddr,
    pub ports: Ports,
    pub upstreams: Upstreams,
    /// The built web apps the gateway serves.
    pub static_dir: PathBuf,
    pub log_format: LogFormat,
    /// Deadline for one request, at the gateway and on every internal call.
    pub request_timeout: Duration,
    pub dispatch: DispatchConfig,
    /// The cities Hail serves (`HAIL_CITIES_FILE`, or the built-in `sg`).
    pub cities: std::sync::Arc<crate::cities::Cities>,
    pub rooms: RoomConfig,
    pub rate_limits: RateLimits,
    /// Browser origins allowed to call the REST API cross-origin (CORS).
    pub cors_origins: Vec<String>,
    /// How often the gateway refreshes the presence of a driver whose socket
    /// is open (`HAIL_PRESENCE_REFRESH_MS`); well under the presence TTL.
    pub presence_refresh: Duration,
    pub delivery: DeliveryConfig,
    /// How near the pickup (by the driver's last ping) `arrive` is allowed,
    /// in metres (`HAIL_ARRIVE_RADIUS_M`, 200).
    pub arrive_radius_m: f64,
}

/// When an offer that did not reach the driver's phone is given up on
/// (API.md, "Offer delivery").
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// A connected driver must acknowledge an `offer` within this
    /// (`HAIL_OFFER_ACK_MS`, 2000); `None` (set to 0) turns the check off,
    /// and every driver has the whole offer timeout, as before delivery
    /// receipts existed.
    pub ack_window: Option<Duration>,
    /// A driver whose socket dropped while an offer was open must be back
    /// within this (`HAIL_OFFER_RECONNECT_GRACE_SECS`, 3).
    pub reconnect_grace: Duration,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can build a config without
    /// touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let environment = match var("HAIL_ENV").as_deref() {
            None | Some("production") | Some("prod") => Environment::Production,
            Some("dev") | Some("development") => Environment::Dev,
            Some(other) => {
                return Err(ConfigError(format!(
                    "HAIL_ENV={other:?} is not known: use `dev` or `production`"
                )))
            }
        };
        let jwt_secret = secret(&var, environment, "HAIL_JWT_SECRET", DEV_JWT_SECRET)?;
        let internal_token = secret(&var, environment, "HAIL_INTERNAL_TOKEN", DEV_INTERNAL_TOKEN)?;

        let ports = Ports {
            gateway: parse(&var, "HAIL_GATEWAY_PORT", 3000)?,
            user: parse(&var, "HAIL_USER_PORT", 3001)?,
            driver: parse(&var, "HAIL_DRIVER_PORT", 3002)?,
            trip: parse(&var, "HAIL_TRIP_PORT", 3003)?,
        };
        let upstreams = Upstreams {
            user: var("HAIL_USER_URL").unwrap_or(format!("http://127.0.0.1:{}", ports.user)),
            driver: var("HAIL_DRIVER_URL").unwrap_or(format!("http://127.0.0.1:{}", ports.driver)),
            trip: var("HAIL_TRIP_URL").unwrap_or(format!("http://127.0.0.1:{}", ports.trip)),
        };
        let static_dir = var("HAIL_STATIC_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                ["frontend/dist", "frontend/public"]
                    .iter()
                    .map(PathBuf::from)
                    .find(|p| p.is_dir())
                    .unwrap_or_else(|| PathBuf::from("frontend/dist"))
            });
        let log_format = match var("HAIL_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError(format!(
                    "HAIL_LOG_FORMAT={other:?} is not known: use `pretty` or `json`"
                )))
            }
        };
        let mode = match var("HAIL_MATCH_MODE").as_deref() {
            None | Some("offer") => MatchMode::Offer,
            Some("auto") => MatchMode::Auto,
            Some(other) => {
                return Err(ConfigError(format!(
                    "HAIL_MATCH_MODE={other:?} is not known: use `offer` or `auto`"
                )))
            }
        };
        let strategy = match var("HAIL_MATCH_STRATEGY") {
            None => MatchStrategy::Greedy,
            Some(raw) => MatchStrategy::parse(raw.trim()).ok_or_else(|| {
                ConfigError(format!(
                    "HAIL_MATCH_STRATEGY={raw:?} is not known: use `greedy` or `batched`"
                ))
            })?,
        };
        let batch_window_ms: u64 = parse(&var, "HAIL_BATCH_WINDOW_MS", 2000)?;
        if !BATCH_WINDOW_MS.contains(&batch_window_ms) {
            return Err(ConfigError(format!(
                "HAIL_BATCH_WINDOW_MS={batch_window_ms} is out of range: use {} to {} (milliseconds)",
                BATCH_WINDOW_MS.start(),
                BATCH_WINDOW_MS.end()
            )));
        }
        let batch_candidates: usize = parse(&var, "HAIL_BATCH_CANDIDATES", 8)?;
        if !BATCH_CANDIDATES.contains(&batch_candidates) {
            return Err(ConfigError(format!(
                "HAIL_BATCH_CANDIDATES={batch_candidates} is out of range: use {} to {}",
                BATCH_CANDIDATES.start(),
                BATCH_CANDIDATES.end()
            )));
        }
        let dispatch = DispatchConfig {
            mode,
            strategy,
            batch_window: Duration::from_millis(batch_window_ms),
            batch_candidates,
            offer_timeout: Duration::from_secs_f64(positive(
                &var,
                "HAIL_OFFER_TIMEOUT_SECS",
                15.0,
            )?),
            search_radius_km: positive(&var, "HAIL_SEARCH_RADIUS_KM", 3.0)?,
            max_search_radius_km: positive(&var, "HAIL_MAX_SEARCH_RADIUS_KM", 10.0)?,
            match_deadline: Duration::from_secs_f64(positive(
                &var,
                "HAIL_MATCH_DEADLINE_SECS",
                60.0,
            )?),
            candidate_overfetch: parse(&var, "HAIL_CANDIDATE_OVERFETCH", 4usize)?.max(1),
            step_lease: Duration::from_secs_f64(positive(&var, "HAIL_DISPATCH_LEASE_SECS", 10.0)?),
            #[cfg(feature = "failpoints")]
            crash_after_claim: false,
            #[cfg(feature = "failpoints")]
            pause_before_batch_claim: None,
        };
        if dispatch.max_search_radius_km < dispatch.search_radius_km {
            return Err(ConfigError(
                "HAIL_MAX_SEARCH_RADIUS_KM must be at least HAIL_SEARCH_RADIUS_KM".into(),
            ));
        }

        let cities = match var("HAIL_CITIES_FILE") {
            None => crate::cities::Cities::builtin(),
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|err| {
                    ConfigError(format!(
                        "HAIL_CITIES_FILE={path:?} cannot be read ({err}): point it at a TOML file like cities.example.toml, or unset it to serve the built-in `sg`"
                    ))
                })?;
                crate::cities::Cities::from_toml(&text, &format!("HAIL_CITIES_FILE={path}"))
                    .map_err(|err| ConfigError(err.to_string()))?
            }
        };

        for city in cities.all() {
            let own = dispatch.for_city(&city.dispatch);
            if own.max_search_radius_km < own.search_radius_km {
                return Err(ConfigError(format!(
                    "city {:?}: its max_search_radius_km ({}) is below its search_radius_km ({}); each city's (or the HAIL_ default it takes) must be at least the first",
                    city.id, own.max_search_radius_km, own.search_radius_km
                )));
            }
        }
        if let Some(name) = var("HAIL_TIMEZONE") {
            return Err(ConfigError(format!(
                "HAIL_TIMEZONE={name:?} is no longer read: a room's slot is in its city's time zone; set `timezone` per city in HAIL_CITIES_FILE (the built-in `sg` is Asia/Singapore), and unset HAIL_TIMEZONE"
            )));
        }
        let rooms = RoomConfig {
            confirm: Duration::from_secs_f64(positive(&var, "HAIL_ROOM_CONFIRM_SECS", 30.0)?),
            grace: Duration::from_secs(parse(&var, "HAIL_ROOM_GRACE_MINS", 30u64)? * 60),
        };
        // Register and login are argon2-bound and the target of guessing, so
        // production keeps them tight; dev is loose so the simulator and the
        // web apps' tests can create many accounts from one machine.
        let auth_default = match environment {
            Environment::Production => RateLimit {
                per_minute: 30,
                burst: 20,
            },
            Environment::Dev => RateLimit {
                per_minute: 6_000,
                burst: 1_000,
            },
        };
        let rate_limits = RateLimits {
            per_user: rate_limit(&var, "USER", RateLimit { per_minute: 600, burst: 100 })?,
            per_ip: rate_limit(&var, "IP", RateLimit { per_minute: 600, burst: 100 })?,
            auth_per_ip: rate_limit(&var, "AUTH", auth_default)?,
            login_per_email: rate_limit(&var, "LOGIN_EMAIL", RateLimit { per_minute: 10, burst: 5 })?,
            trusted_proxies: list(&var, "HAIL_TRUSTED_PROXIES")
                .iter()
                .map(|raw| {
                    raw.parse().map_err(|_| {
                        ConfigError(format!(
                            "HAIL_TRUSTED_PROXIES: {raw:?} is not an IP address (give a comma-separated list of proxy IPs)"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
            socket_events: rate_limit(&var, "SOCKET_EVENTS", RateLimit { per_minute: 600, burst: 20 })?,
            sockets_per_user: at_least_one(&var, "HAIL_SOCKETS_PER_USER", 5)?,
            rider_cancel_limit: at_least_one(&var, "HAIL_RIDER_CANCEL_LIMIT", 5)?,
        };
        let cors_origins = match var("HAIL_CORS_ORIGINS") {
            Some(raw) if raw.trim() == "none" => Vec::new(),
            Some(_) => list(&var, "HAIL_CORS_ORIGINS"),
            None if environment == Environment::Dev => vec!["http://localhost:5173".to_string()],
            None => Vec::new(),
        };
        for origin in &cors_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.ends_with('/')
                || http::HeaderValue::from_str(origin).is_err()
            {
                return Err(ConfigError(format!(
                    "HAIL_CORS_ORIGINS: {origin:?} is not an origin like `https://app.example.com` (scheme and host, no path)"
                )));
            }
        }

        Ok(Self {
            environment,
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/hail".into()),
            database_pool_size: parse(&var, "HAIL_DATABASE_POOL_SIZE", 16u32)?.max(2),
            database_background_pool_size: parse(&var, "HAIL_DATABASE_BACKGROUND_POOL_SIZE", 8u32)?
                .max(2),
            database_acquire_timeout: Duration::from_millis(at_least_one(
                &var,
                "HAIL_DATABASE_ACQUIRE_TIMEOUT_MS",
                500u64,
            )?),
            gateway_max_in_flight: at_least_one(&var, "HAIL_GATEWAY_MAX_IN_FLIGHT", 512usize)?,
            redis_url: var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            redis_cluster: parse(&var, "HAIL_REDIS_CLUSTER", false)?,
            redis_prefix: var("HAIL_REDIS_PREFIX").unwrap_or_default(),
            jwt_secret,
            jwt_ttl: Duration::from_secs(parse(&var, "HAIL_JWT_TTL_SECS", 86_400u64)?.max(60)),
            internal_token,
            gateway_host: parse(&var, "HAIL_GATEWAY_HOST", IpAddr::from([0, 0, 0, 0]))?,
            service_host: parse(&var, "HAIL_SERVICE_HOST", IpAddr::from([127, 0, 0, 1]))?,
            ports,
            upstreams,
            static_dir,
            log_format,
            request_timeout: Duration::from_secs_f64(positive(
                &var,
                "HAIL_REQUEST_TIMEOUT_SECS",
                10.0,
            )?),
            dispatch,
            cities: std::sync::Arc::new(cities),
            rooms,
            rate_limits,
            cors_origins,
            presence_refresh: Duration::from_millis(at_least_one(
                &var,
                "HAIL_PRESENCE_REFRESH_MS",
                10_000u64,
            )?),
            delivery: DeliveryConfig {
                ack_window: match parse(&var, "HAIL_OFFER_ACK_MS", 2000u64)? {
                    0 => None,
                    ms => Some(Duration::from_millis(ms)),
                },
                reconnect_grace: Duration::from_secs_f64(positive(
                    &var,
                    "HAIL_OFFER_RECONNECT_GRACE_SECS",
                    3.0,
                )?),
            },
            arrive_radius_m: positive(&var, "HAIL_ARRIVE_RADIUS_M", 200.0)?,
        })
    }
}

#[cfg(test)]
mod tests;
