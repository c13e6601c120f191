//! Postgres: one database, one schema per service. Each service's pool sets
//! `search_path` to its own schema, so its SQL names its tables unqualified
//! and cannot reach another service's by accident; its migrations (and their
//! bookkeeping table) live in that schema too.

use std::{str::FromStr, time::Duration};

use tokio_util::sync::CancellationToken;

use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, PgConnection, PgPool,
};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL is not a valid Postgres URL: {0}")]
    BadUrl(sqlx::Error),
    #[error("Postgres at {url} did not answer ({source}). Start it, or set DATABASE_URL; `scripts/run.sh` starts a private one when none answers")]
    Unreachable { url: String, source: sqlx::Error },
    #[error("migrating schema {schema}: {source}")]
    Migrate {
        schema: &'static str,
        source: sqlx::migrate::MigrateError,
    },
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// When a commit on a pool's connections returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commits {
    /// Once its WAL is on disk (`synchronous_commit = on`): what a request
    /// that answers a person (a trip requested, accepted, paid) needs.
    Durable,
    /// Once its WAL is written, before it is flushed (`synchronous_commit =
    /// off`; the WAL writer flushes within 3 x `wal_writer_delay`, 600 ms by
    /// default). Only for bookkeeping that the process re-derives when it
    /// is lost: a crash of the database's *host* (not of Postgres, not of
    /// Hail) can forget the last such commits, never a part of one, and
    /// never one that a later durable commit came after. Nothing is
    /// corrupted; the work is done again. At rush hour a durable commit
    /// waits 1.3 ms at p50 and 14-20 ms at p99 for the disk on this
    /// project's 2-core machine (BENCHMARKS.md, "ceiling" rows), and a
    /// dispatch makes several in a row.
    Relaxed,
}

/// Opens a pool whose connections see only `schema`, creating the schema if
/// needed. A caller waits at most `acquire_timeout` for a connection, then
/// gets `PoolTimedOut` (a 503 with `Retry-After` at the edge).
pub async fn connect(
    database_url: &str,
    schema: &'static str,
    pool_size: u32,
    acquire_timeout: Duration,
) -> Result<PgPool, DbError> {
    connect_with(
        database_url,
        schema,
        pool_size,
        acquire_timeout,
        Commits::Durable,
    )
    .await
}

/// [`connect`], saying when commits return ([`Commits`]).
pub async fn connect_with(
    database_url: &str,
    schema: &'static str,
    pool_size: u32,
    acquire_timeout: Duration,
    commits: Commits,
) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(database_url).map_err(DbError::BadUrl)?;
    let unreachable = |source| DbError::Unreachable {
        url: redact(database_url),
        source,
    };
    let mut conn = PgConnection::connect_with(&options)
        .await
        .map_err(unreachable)?;
    sqlx::query(&format!(
        "CREATE SCHEMA IF NOT EXISTS {}",
        quote_ident(schema)
    ))
    .execute(&mut conn)
    .await
    .or_else(ignore_concurrent_create)?;
    conn.close().await.ok();

    PgPoolOptions::new()
        .max_connections(pool_size)
        .acquire_timeout(acquire_timeout)
        .connect_with(
            options.options([
                ("search_path", quote_ident(schema)),
                (
                    "synchronous_commit",
                    match commits {
                        Commits::Durable => "on",
                        Commits::Relaxed => "off",
                    }
                    .to_string(),
                ),
            ]),
        )
        .await
        .map_err(unreachable)
}

/// Applies `migrator` to the pool's schema. Safe to run from several
/// processes at once: sqlx serialises them with an advisory lock.
pub async fn migrate(
    pool: &PgPool,
    schema: &'static str,
    migrator: &Migrator,
) -> Result<(), DbError> {
    migrator
        .run(pool)
        .await
        .map_err(|source| DbError::Migrate { schema, source })
}

/// Says in the log, once at start, when the server does not vacuum on its
/// own. Hail's queue tables (trips, offers, outbox) turn over thousands of
/// rows a minute at rush hour; without autovacuum their dead rows and index
/// entries pile up for good and every dispatch query slows down run after
/// run. A check that cannot run is not worth a start-up failure.
pub async fn warn_if_autovacuum_off(pool: &PgPool) {
    let setting: Result<String, _> = sqlx::query_scalar("SELECT current_setting('autovacuum')")
        .fetch_one(pool)
        .await;
    if matches!(setting.as_deref(), Ok("off")) {
        tracing::warn!(
            "Postgres has autovacuum off: the dispatch tables will bloat and slow down under load; \
             turn it on (ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();)"
        );
    }
}

/// Creates the database named in `database_url` if it does not exist yet.
pub async fn ensure_database(database_url: &str) -> Result<(), DbError> {
    let options = PgConnectOptions::from_str(database_url).map_err(DbError::BadUrl)?;
    let Some(name) = options.get_database().map(str::to_string) else {
        return Ok(());
    };
    let admin = options.clone().database("postgres");
    let mut conn =
        PgConnection::connect_with(&admin)
            .await
            .map_err(|source| DbError::Unreachable {
                url: redact(database_url),
                source,
            })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .execute(&mut conn)
            .await
            .or_else(ignore_concurrent_create)?;
    }
    conn.close().await.ok();
    Ok(())
}

/// Two processes creating the same schema or database at once: the loser's
/// "already exists" (or the catalog's unique violation) is not an error.
fn ignore_concurrent_create<T: Default>(err: sqlx::Error) -> Result<T, sqlx::Error> {
    match err.as_database_error().and_then(|e| e.code()) {
        Some(code) if code == "42P04" || code == "42P06" || code == "23505" => Ok(T::default()),
        _ => Err(err),
    }
}

/// `"name"`, with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The URL without its password, for error messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://hail:s3cret@db:5432/hail"),
            "postgres://hail:***@db:5432/hail"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/hail"),
            "postgres://postgres@127.0.0.1/hail"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}

/// How often [`watch_pool`] measures the wait for a connection.
const POOL_PROBE_EVERY: Duration = Duration::from_millis(250);

/// Measures, until `stop`, how long a caller waits for a connection of
/// `pool` (histogram `db_pool_wait_duration_seconds{pool}`) and how many
/// connections are open and idle (gauges `db_pool_connections{pool,state}`).
/// A probe every 250 ms is the wait a request arriving then would see.
pub async fn watch_pool(pool: PgPool, name: &'static str, stop: CancellationToken) {
    let mut every = tokio::time::interval(POOL_PROBE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let started = std::time::Instant::now();
        let acquired = pool.acquire().await;
        let waited = started.elapsed();
        drop(acquired);
        metrics::histogram!("db_pool_wait_duration_seconds", "pool" => name)
            .record(waited.as_secs_f64());
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
        metrics::gauge!("db_pool_connections", "pool" => name, "state" => "open")
            .set(f64::from(pool.size()));
        metrics::gauge!("db_pool_connections", "pool" => name, "state" => "idle")
            .set(f64::from(idle));
    }
}

/// Stores an enum as Postgres `text` through its `as_str` and `FromStr`, so a
/// row field can be the enum itself: a value outside the enum is a decode
/// error at the row boundary (the schema's CHECK constraints make that a
/// bug), and Rust code never compares status strings.
#[macro_export]
macro_rules! text_column {
    ($ty:ty) => {
        impl ::sqlx::Type<::sqlx::Postgres> for $ty {
            fn type_info() -> ::sqlx::postgres::PgTypeInfo {
                <&str as ::sqlx::Type<::sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &::sqlx::postgres::PgTypeInfo) -> bool {
                <&str as ::sqlx::Type<::sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'q> ::sqlx::Encode<'q, ::sqlx::Postgres> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut ::sqlx::postgres::PgArgumentBuffer,
            ) -> Result<::sqlx::encode::IsNull, ::sqlx::error::BoxDynError> {
                <&str as ::sqlx::Encode<'q, ::sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> ::sqlx::Decode<'r, ::sqlx::Postgres> for $ty {
            fn decode(
                value: ::sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, ::sqlx::error::BoxDynError> {
                let text = <&str as ::sqlx::Decode<'r, ::sqlx::Postgres>>::decode(value)?;
                Ok(text.parse::<$ty>()?)
            }
        }
    };
}

text_column!(crate::api::trips::TripStatus);
text_column!(crate::api::trips::Tier);
