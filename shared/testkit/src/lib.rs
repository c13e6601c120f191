//! hail-testkit: the real services for tests.
//!
//! [`spawn_app`] creates a fresh Postgres database and a fresh Redis key
//! prefix, starts the driver, user, trip and gateway services on free ports
//! in this test's runtime, and hands back a [`TestApp`] that talks to the
//! gateway like any client would. Dropping it stops the services and removes
//! the database and the keys. `DATABASE_URL` and `REDIS_URL` name the servers
//! (the test script sets them; the defaults are the local ones).
//! `HAIL_TEST_LOG=1` prints the services' logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashMap, time::Duration};

use hail::stack::Service;
use hail_shared::{
    api::Role,
    auth::{Claims, TokenKeys},
    config::{Config, RateLimits},
    db,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub mod acking;
mod api;
pub mod cluster;
pub mod faults;
pub mod socket;

pub use api::{assert_error, expired_claims};

pub use reqwest;
pub use serde_json::json;

pub struct TestApp {
    pub config: Config,
    pub gateway_url: String,
    pub client: reqwest::Client,
    running: HashMap<Service, Running>,
    extra: Vec<Running>,
    processes: HashMap<Service, faults::ServiceProcess>,
    /// A fleet's gateways ([`spawn_fleet`]): REST calls take them in turn.
    gateways: Vec<String>,
    next_gateway: std::sync::atomic::AtomicUsize,
    /// A fleet's processes, by service and instance number.
    instances: Vec<(Service, usize, Option<faults::ServiceProcess>)>,
    db_name: String,
    admin_url: String,
}

struct Running {
    shutdown: CancellationToken,
    handle: JoinHandle<std::io::Result<()>>,
}

/// A registered account and its token.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub password: String,
    pub role: Role,
    pub token: String,
}

/// The rate limits as `HAIL_RATE_LIMIT_*` / `HAIL_TRUSTED_PROXIES` variables.
fn rate_limit_env(limits: &RateLimits) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for (name, limit) in [
        ("USER", limits.per_user),
        ("IP", limits.per_ip),
        ("AUTH", limits.auth_per_ip),
        ("LOGIN_EMAIL", limits.login_per_email),
        ("SOCKET_EVENTS", limits.socket_events),
    ] {
        env.push((
            format!("HAIL_RATE_LIMIT_{name}_PER_MIN"),
            limit.per_minute.to_string(),
        ));
        env.push((
            format!("HAIL_RATE_LIMIT_{name}_BURST"),
            limit.burst.to_string(),
        ));
    }
    let proxies: Vec<String> = limits
        .trusted_proxies
        .iter()
        .map(|ip| ip.to_string())
        .collect();
    env.push(("HAIL_TRUSTED_PROXIES".into(), proxies.join(",")));
    env.push((
        "HAIL_SOCKETS_PER_USER".into(),
        limits.sockets_per_user.to_string(),
    ));
    env.push((
        "HAIL_RIDER_CANCEL_LIMIT".into(),
        limits.rider_cancel_limit.to_string(),
    ));
    env
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to change the configuration first
/// (short offer timeouts, auto match mode, ...).
pub async fn spawn_app_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(Servers::default(), customize).await
}

/// Which Postgres and Redis a test app uses; `None` is the shared ones
/// (`DATABASE_URL`, `REDIS_URL`). Fault tests point these at private
/// servers they can kill ([`faults`]).
#[derive(Clone, Debug, Default)]
pub struct Servers {
    pub admin_database_url: Option<String>,
    pub redis_url: Option<String>,
    /// `redis_url` lists the nodes of a Redis Cluster.
    pub redis_cluster: bool,
}

pub async fn spawn_app_on(servers: Servers, customize: impl FnOnce(&mut Config)) -> TestApp {
    let mut app = prepare(servers, customize).await;
    for service in Service::ALL {
        app.start(service).await;
    }
    app
}

/// Every service as `instances` processes of `hail serve` (`binary`), each
/// knowing every instance of the others (`hail_shared::upstream`), as a
/// fleet behind load balancers would run. REST calls take the gateways in
/// turn; [`TestApp::gateway`] names one for a socket.
pub async fn spawn_fleet(
    binary: &std::path::Path,
    servers: Servers,
    instances: usize,
    customize: impl FnOnce(&mut Config),
) -> TestApp {
    let mut app = prepare(servers, customize).await;
    let ports: HashMap<Service, Vec<u16>> = Service::ALL
        .iter()
        .map(|s| (*s, (0..instances).map(|_| faults::free_port()).collect()))
        .collect();
    let list = |service: Service| {
        ports[&service]
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    app.config.upstreams.user = list(Service::User);
    app.config.upstreams.driver = list(Service::Driver);
    app.config.upstreams.trip = list(Service::Trip);
    app.gateways = list(Service::Gateway)
        .split(',')
        .map(String::from)
        .collect();
    app.gateway_url = app.gateways[0].clone();
    let log = std::env::temp_dir().join(format!("{}.log", app.db_name));
    for service in Service::ALL {
        for (number, port) in ports[&service].iter().enumerate() {
            let mut env = app.env();
            let name = format!("HAIL_{}_PORT", service.to_string().to_uppercase());
            env.retain(|(k, _)| *k != name);
            env.push((name, port.to_string()));
            let process =
                faults::ServiceProcess::spawn(binary, &service.to_string(), &env, Some(&log));
            app.instances.push((service, number, Some(process)));
        }
    }
    for port in ports.values().flatten() {
        assert!(
            faults::wait_for_port(*port, Duration::from_secs(60)).await,
            "a fleet instance did not listen on {port}; see {}",
            log.display()
        );
    }
    app
}

/// A fresh database and Redis prefix, and the configuration for them;
/// nothing running yet.
async fn prepare(servers: Servers, customize: impl FnOnce(&mut Config)) -> TestApp {
    // `HAIL_TEST_LOG=1` shows the services' logs (filter with RUST_LOG).
    if std::env::var_os("HAIL_TEST_LOG").is_some() {
        hail_shared::telemetry::init_tracing(hail_shared::config::LogFormat::Pretty);
    }
    let admin_url = servers.admin_database_url.clone().unwrap_or_else(|| {
        std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    });
    let db_name = format!("hail_test_{}", Uuid::new_v4().simple());
    let mut url = reqwest::Url::parse(&admin_url).expect("DATABASE_URL is a URL");
    url.set_path(&format!("/{db_name}"));
    db::ensure_database(url.as_str())
        .await
        .expect("create the test database (is Postgres running? scripts/test.sh starts one)");

    let secret = format!("test-secret-{}", Uuid::new_v4().simple());
    let mut config = Config::from_lookup(|name| match name {
        "HAIL_ENV" => Some("dev".into()),
        "DATABASE_URL" => Some(url.to_string()),
        "REDIS_URL" => servers
            .redis_url
            .clone()
            .or_else(|| std::env::var("REDIS_URL").ok()),
        // `HAIL_REDIS_CLUSTER=true` with REDIS_URL listing the nodes runs
        // a suite against a Redis Cluster (scripts/test.sh does).
        "HAIL_REDIS_CLUSTER" if servers.redis_url.is_none() => {
            std::env::var("HAIL_REDIS_CLUSTER").ok()
        }
        "HAIL_REDIS_CLUSTER" => Some(servers.redis_cluster.to_string()),
        "HAIL_JWT_SECRET" => Some(secret.clone()),
        "HAIL_INTERNAL_TOKEN" => Some(format!("internal-{}", Uuid::new_v4().simple())),
        "HAIL_REDIS_PREFIX" => Some(format!("test:{}:", Uuid::new_v4().simple())),
        "HAIL_GATEWAY_HOST" => Some("127.0.0.1".into()),
        // Tests run side by side against one Postgres (100 connections by
        // default): small pools keep them from starving each other.
        "HAIL_DATABASE_POOL_SIZE" => Some("6".into()),
        "HAIL_STATIC_DIR" => {
            Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../../frontend/public").into())
        }
        name if name.ends_with("_PORT") => Some("0".into()),
        // Tests fire far more requests per user and per IP than a person
        // would; the rate-limit tests set their own limits.
        name if name.starts_with("HAIL_RATE_LIMIT_") => Some("1000000".into()),
        // The suites' sockets (rust_socketio) cannot answer a server's ack,
        // so they would all look unreachable: delivery checks are off
        // unless a test turns them on (the delivery suite, with
        // [`acking::AckingSocket`], does).
        "HAIL_OFFER_ACK_MS" => Some("0".into()),
        _ => None,
    })
    .expect("test configuration");
    customize(&mut config);

    let mut app = TestApp {
        gateway_url: String::new(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        config,
        running: HashMap::new(),
        extra: Vec::new(),
        processes: HashMap::new(),
        gateways: Vec::new(),
        next_gateway: Default::default(),
        instances: Vec::new(),
        db_name,
        admin_url,
    };
    // The driver service calls the trip service, which starts after it: the
    // trip service's port is chosen up front (below the ephemeral range, so
    // no parallel test's bind(0) takes it meanwhile).
    if app.config.ports.trip == 0 {
        let port = faults::free_port();
        app.config.ports.trip = port;
        app.config.upstreams.trip = format!("http://127.0.0.1:{port}");
    }
    app
}

impl TestApp {
    /// Starts `service` (again, after [`TestApp::stop`]) on its port, and
    /// points the others at it.
    pub async fn start(&mut self, service: Service) {
        let built = service
            .build(&self.config)
            .await
            .unwrap_or_else(|e| panic!("start the {service} service: {e}"));
        let port = built.port();
        let local = format!("http://127.0.0.1:{port}");
        match service {
            Service::Gateway => {
                self.config.ports.gateway = port;
                self.gateway_url = local;
            }
            Service::User => {
                self.config.ports.user = port;
                self.config.upstreams.user = local;
            }
            Service::Driver => {
                self.config.ports.driver = port;
                self.config.upstreams.driver = local;
            }
            Service::Trip => {
                self.config.ports.trip = port;
                self.config.upstreams.trip = local;
            }
        }
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(built.run_until_stopped(shutdown.clone()));
        self.running.insert(service, Running { shutdown, handle });
    }

    /// Moves `service` into a process of its own (`hail serve <service>` from
    /// `binary`) on the same port, so a test can SIGKILL it. Call again to
    /// restart it after [`TestApp::kill`].
    pub async fn run_as_process(&mut self, service: Service, binary: &std::path::Path) {
        self.run_as_process_logged(service, binary, None).await;
    }

    /// Like [`TestApp::run_as_process`], its output appended to `log`.
    pub async fn run_as_process_logged(
        &mut self,
        service: Service,
        binary: &std::path::Path,
        log: Option<&std::path::Path>,
    ) {
        self.stop(service).await;
        let port = match service {
            Service::Gateway => self.config.ports.gateway,
            Service::User => self.config.ports.user,
            Service::Driver => self.config.ports.driver,
            Service::Trip => self.config.ports.trip,
        };
        let process = faults::ServiceProcess::spawn(binary, &service.to_string(), &self.env(), log);
        self.processes.insert(service, process);
        assert!(
            faults::wait_for_port(port, Duration::from_secs(30)).await,
            "hail serve {service} did not listen on {port}"
        );
    }

    /// SIGKILLs a service started with [`TestApp::run_as_process`].
    pub fn kill(&mut self, service: Service) {
        if let Some(mut process) = self.processes.remove(&service) {
            process.kill();
        }
    }

    /// This app's configuration as the environment a `hail serve` process reads.
    pub fn env(&self) -> Vec<(String, String)> {
        let c = &self.config;
        let d = &c.dispatch;
        let secs = |d: Duration| d.as_secs_f64().to_string();
        [
            ("HAIL_ENV", "dev".to_string()),
            ("DATABASE_URL", c.database_url.clone()),
            ("REDIS_URL", c.redis_url.clone()),
            ("HAIL_REDIS_CLUSTER", c.redis_cluster.to_string()),
            ("HAIL_DATABASE_POOL_SIZE", c.database_pool_size.to_string()),
            ("HAIL_REDIS_PREFIX", c.redis_prefix.clone()),
            ("HAIL_JWT_SECRET", c.jwt_secret.clone()),
            ("HAIL_INTERNAL_TOKEN", c.internal_token.clone()),
            ("HAIL_GATEWAY_HOST", "127.0.0.1".into()),
            ("HAIL_GATEWAY_PORT", c.ports.gateway.to_string()),
            ("HAIL_USER_PORT", c.ports.user.to_string()),
            ("HAIL_DRIVER_PORT", c.ports.driver.to_string()),
            ("HAIL_TRIP_PORT", c.ports.trip.to_string()),
            ("HAIL_USER_URL", c.upstreams.user.clone()),
            ("HAIL_DRIVER_URL", c.upstreams.driver.clone()),
            ("HAIL_TRIP_URL", c.upstreams.trip.clone()),
            ("HAIL_MATCH_MODE", format!("{:?}", d.mode).to_lowercase()),
            ("HAIL_MATCH_STRATEGY", d.strategy.name().to_string()),
            (
                "HAIL_BATCH_WINDOW_MS",
                d.batch_window.as_millis().to_string(),
            ),
            ("HAIL_BATCH_CANDIDATES", d.batch_candidates.to_string()),
            ("HAIL_OFFER_TIMEOUT_SECS", secs(d.offer_timeout)),
            ("HAIL_SEARCH_RADIUS_KM", d.search_radius_km.to_string()),
            (
                "HAIL_MAX_SEARCH_RADIUS_KM",
                d.max_search_radius_km.to_string(),
            ),
            ("HAIL_MATCH_DEADLINE_SECS", secs(d.match_deadline)),
            ("HAIL_DISPATCH_LEASE_SECS", secs(d.step_lease)),
            ("HAIL_REQUEST_TIMEOUT_SECS", secs(c.request_timeout)),
            (
                "HAIL_PRESENCE_REFRESH_MS",
                c.presence_refresh.as_millis().to_string(),
            ),
            (
                "HAIL_OFFER_ACK_MS",
                c.delivery
                    .ack_window
                    .map_or(0, |w| w.as_millis())
                    .to_string(),
            ),
            (
                "HAIL_OFFER_RECONNECT_GRACE_SECS",
                secs(c.delivery.reconnect_grace),
            ),
            (
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(rate_limit_env(&c.rate_limits))
        .chain([(
            "HAIL_CORS_ORIGINS".to_string(),
            if c.cors_origins.is_empty() {
                "none".to_string()
            } else {
                c.cors_origins.join(",")
            },
        )])
        .collect()
    }

    /// Stops `service` as SIGTERM would, and waits until it has.
    pub async fn stop(&mut self, service: Service) {
        if let Some(running) = self.running.remove(&service) {
            running.shutdown.cancel();
            let _ = running.handle.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        if self.gateways.is_empty() {
            return format!("{}{path}", self.gateway_url);
        }
        let next = self
            .next_gateway
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{}{path}", self.gateways[next % self.gateways.len()])
    }

    /// A fleet's gateway number `n` (for a socket there).
    pub fn gateway(&self, n: usize) -> &str {
        &self.gateways[n % self.gateways.len()]
    }

    /// SIGKILLs a fleet's instance number `n` of `service`.
    pub fn kill_instance(&mut self, service: Service, n: usize) {
        for (s, number, process) in &mut self.instances {
            if *s == service && *number == n {
                if let Some(mut process) = process.take() {
                    process.kill();
                }
            }
        }
    }

    /// The token `peer` presents to the services (`hail_shared::internal`).
    pub fn peer_token(&self, peer: hail_shared::internal::Peer) -> String {
        hail_shared::internal::peer_token(&self.config.internal_token, peer)
    }

    /// The address of an internal service, for tests that go around the gateway.
    pub fn service_url(&self, service: Service, path: &str) -> String {
        let base = match service {
            Service::Gateway => &self.gateway_url,
            Service::User => &self.config.upstreams.user,
            Service::Driver => &self.config.upstreams.driver,
            Service::Trip => &self.config.upstreams.trip,
        };
        format!("{base}{path}")
    }

    /// Starts one more trip service (another instance on the same database
    /// and Redis, with its own matchers). It stops with the app.
    pub async fn start_second_trip_service(&mut self) {
        let mut config = self.config.clone();
        config.ports.trip = 0;
        let built = Service::Trip
            .build(&config)
            .await
            .expect("second trip service");
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(built.run_until_stopped(shutdown.clone()));
        self.extra.push(Running { shutdown, handle });
    }

    /// Starts one more gateway (as behind a load balancer) sharing this
    /// app's services and Redis; returns its URL. It stops with the app.
    pub async fn start_second_gateway(&mut self) -> String {
        let mut config = self.config.clone();
        config.ports.gateway = 0;
        let built = Service::Gateway
            .build(&config)
            .await
            .expect("second gateway");
        let url = format!("http://127.0.0.1:{}", built.port());
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(built.run_until_stopped(shutdown.clone()));
        self.extra.push(Running { shutdown, handle });
        url
    }

    /// A Socket.IO client connected to the gateway with `token`.
    pub async fn socket(&self, token: &str) -> socket::TestSocket {
        socket::TestSocket::connect(&self.gateway_url, Some(json!({"token": token}))).await
    }

    /// A driver app's socket as far as offers go: it answers every `offer`
    /// ack at once ([`acking::Acks::Always`]), or never (a phone that is
    /// connected but not listening).
    pub async fn acking_socket(&self, token: &str, acks: acking::Acks) -> acking::AckingSocket {
        acking::AckingSocket::connect(&self.gateway_url, token, acks).await
    }

    /// A socket that reconnects by itself when the gateway comes back.
    pub async fn reconnecting_socket(&self, token: &str) -> socket::TestSocket {
        let auth = Some(json!({"token": token}));
        socket::TestSocket::connect_with(&self.gateway_url, auth, true).await
    }

    /// Signs claims with this app's secret (expired tokens and the like).
    pub fn sign(&self, claims: &Claims) -> String {
        TokenKeys::new(&self.config.jwt_secret, self.config.jwt_ttl)
            .sign(claims)
            .unwrap()
    }

    /// The GEO index of a city's matchable drivers (the first city's when
    /// `city` is `None`), for tests that inspect or seed it.
    pub fn city_index(&self, city: Option<&str>) -> String {
        let city = city.unwrap_or(&self.config.cities.default_city().id);
        hail_shared::keys::Keys::new(self.config.redis_prefix.clone()).driver_locations(city)
    }

    /// A Redis connection for tests that inspect or seed keys (to the
    /// cluster, when the app runs on one).
    pub async fn redis(&self) -> hail_shared::redis_conn::RedisConn {
        hail_shared::redis_conn::connect(&self.config.redis_url, self.config.redis_cluster)
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for (_, _, process) in &mut self.instances {
            if let Some(mut process) = process.take() {
                process.kill();
            }
        }
        for running in self.running.values().chain(&self.extra) {
            running.shutdown.cancel();
        }
        let admin_url = self.admin_url.clone();
        let db_name = self.db_name.clone();
        let redis_url = self.config.redis_url.clone();
        let cluster = self.config.redis_cluster;
        let prefix = self.config.redis_prefix.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // clean up from a thread with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sqlx::Connection;
                // The server's `postgres` database, as `db::ensure_database`
                // uses to create it: DATABASE_URL may name a database that
                // does not exist (scripts/test.sh's `.../hail`), and every
                // test database was left behind then (289 in one CI run).
                let admin =
                    <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&admin_url)
                        .map(|options| options.database("postgres"));
                let conn = match admin {
                    Ok(options) => sqlx::PgConnection::connect_with(&options).await,
                    Err(err) => Err(err),
                };
                if let Ok(mut conn) = conn {
                    let _ = sqlx::query(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        db::quote_ident(&db_name)
                    ))
                    .execute(&mut conn)
                    .await;
                }
                if let Ok(mut conn) = hail_shared::redis_conn::connect(&redis_url, cluster).await {
                    // On a cluster KEYS asks every master, and DEL goes
                    // to each key's own slot.
                    let keys: Vec<String> = redis::cmd("KEYS")
                        .arg(format!("{prefix}*"))
                        .query_async(&mut conn)
                        .await
                        .unwrap_or_default();
                    if !keys.is_empty() {
                        let _: Result<(), _> =
                            redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}
