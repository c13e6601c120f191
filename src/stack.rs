//! Builds and runs any set of the four services in one process. Each still
//! listens on its own port and talks to the others over HTTP, exactly as
//! when they run as separate processes.

use std::fmt;

use hail_shared::{
    config::Config,
    db,
    startup::{Application, StartError},
};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Service {
    Gateway,
    User,
    Driver,
    Trip,
}

impl Service {
    /// Start order: the driver service first (the others call it), the gateway last.
    pub const ALL: [Service; 4] = [Self::Driver, Self::User, Self::Trip, Self::Gateway];

    pub async fn build(self, config: &Config) -> Result<Application, StartError> {
        match self {
            Self::Gateway => hail_gateway::build(config).await,
            Self::User => hail_user::build(config).await,
            Self::Driver => hail_driver::build(config).await,
            Self::Trip => hail_trip::build(config).await,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gateway => "gateway",
            Self::User => "user",
            Self::Driver => "driver",
            Self::Trip => "trip",
        })
    }
}

/// Creates the database if needed and applies every service's migrations.
pub async fn migrate(config: &Config) -> Result<(), StartError> {
    db::ensure_database(&config.database_url).await?;
    for (schema, migrator) in [
        (hail_user::SCHEMA, &hail_user::MIGRATOR),
        (hail_driver::SCHEMA, &hail_driver::MIGRATOR),
        (hail_trip::SCHEMA, &hail_trip::MIGRATOR),
    ] {
        let pool = db::connect(
            &config.database_url,
            schema,
            2,
            config.database_acquire_timeout,
        )
        .await?;
        db::migrate(&pool, schema, migrator).await?;
        pool.close().await;
    }
    Ok(())
}

/// Builds `services`, then runs them until `shutdown` is cancelled or one of
/// them stops (which then stops the others).
///
/// Each service runs on a tokio runtime of its own, on its own threads, so
/// one process behaves like separate ones: the OS shares the cores between
/// the services, and a storm of socket work in the gateway cannot hold the
/// trip service's matcher back in one shared task queue. (Measured: with one
/// runtime of two workers for all four, dispatch at 200 requests/s had a
/// p99 of 107 to 338 ms; as four processes, 37 to 42 ms.)
pub async fn run(
    config: &Config,
    services: &[Service],
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let mut running = Vec::new();
    for &service in services {
        match start(service, config.clone(), shutdown.clone()).await {
            Ok(done) => running.push((service, done)),
            Err(err) => {
                shutdown.cancel();
                for (_, done) in running {
                    let _ = done.await;
                }
                return Err(err);
            }
        }
    }
    for (service, done) in running {
        if let Ok(Err(err)) = done.await {
            tracing::error!(%service, error = %err, "service stopped with an error");
        }
    }
    Ok(())
}

type Done = oneshot::Receiver<std::io::Result<()>>;

/// Starts `service` on its own runtime thread; returns once it listens.
async fn start(
    service: Service,
    config: Config,
    shutdown: CancellationToken,
) -> Result<Done, StartError> {
    let (started_tx, started) = oneshot::channel();
    let (done_tx, done) = oneshot::channel();
    let threads = |source| StartError::Threads {
        service: service.to_string(),
        source,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(format!("hail-{service}"))
        .build()
        .map_err(threads)?;
    std::thread::Builder::new()
        .name(format!("hail-{service}"))
        .spawn(move || {
            runtime.block_on(async move {
                let app = match service.build(&config).await {
                    Ok(app) => app,
                    Err(err) => {
                        let _ = started_tx.send(Err(err));
                        return;
                    }
                };
                tracing::info!(%service, port = app.port(), "listening");
                let _ = started_tx.send(Ok(()));
                let result = app.run_until_stopped(shutdown.clone()).await;
                // One service stopping takes the rest down: a half-running
                // Hail is worse than a stopped one.
                shutdown.cancel();
                let _ = done_tx.send(result);
            });
        })
        .map_err(threads)?;
    match started.await {
        Ok(Ok(())) => Ok(done),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(threads(std::io::Error::other(
            "the service's thread ended early",
        ))),
    }
}
