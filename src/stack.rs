//! Builds and runs any set of the four services in one process. Each still
//! listens on its own port and talks to the others over HTTP, exactly as
//! when they run as separate processes.

use std::fmt;

use hail_shared::{
    config::Config,
    db,
    server::{Application, StartError},
};
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
        let pool = db::connect(&config.database_url, schema, 2).await?;
        db::migrate(&pool, schema, migrator).await?;
        pool.close().await;
    }
    Ok(())
}

/// Builds `services`, then runs them until `shutdown` is cancelled or one of
/// them stops (which then stops the others).
pub async fn run(
    config: &Config,
    services: &[Service],
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let mut tasks = tokio::task::JoinSet::new();
    for &service in services {
        let app = service.build(config).await?;
        tracing::info!(%service, port = app.port(), "listening");
        let token = shutdown.clone();
        tasks.spawn(async move {
            let result = app.run_until_stopped(token.clone()).await;
            // One service stopping takes the rest down: a half-running Hail
            // is worse than a stopped one.
            token.cancel();
            (service, result)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Ok((service, Err(err))) = joined {
            tracing::error!(%service, error = %err, "service stopped with an error");
        }
    }
    Ok(())
}
