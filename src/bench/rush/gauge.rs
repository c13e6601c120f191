//! The run's ceiling: the raw round trips every step of dispatch is made
//! of, timed on this machine while the run loads it. Every 20 ms one Redis
//! `PING` on the stack's Redis and, with a database, one durable Postgres
//! commit (`BEGIN; SELECT txid_current(); COMMIT`: the WAL flush an offer's
//! transaction waits for). This machine is shared and its noise moves
//! figures by several times from one run to the next; a run whose raw round
//! trips were slow says so beside its own figures.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hail_shared::redis_conn;
use hail_shared::redis_conn::RedisConn;
use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;

use crate::bench::latency::{ms, Latencies};

const EVERY: Duration = Duration::from_millis(20);

/// The round trips timed so far.
pub(super) struct Gauge {
    redis: Mutex<Latencies>,
    commit: Mutex<Latencies>,
}

impl Gauge {
    /// Starts timing until `stop`; Redis at `redis_url`, Postgres (if any)
    /// on a connection of its own.
    pub(super) async fn start(
        redis_url: &str,
        database_url: Option<&str>,
        stop: CancellationToken,
    ) -> anyhow::Result<Arc<Self>> {
        let gauge = Arc::new(Self {
            redis: Mutex::new(Latencies::new()?),
            commit: Mutex::new(Latencies::new()?),
        });
        let redis = redis_conn::connect(redis_url, false).await.map_err(|err| {
            anyhow::anyhow!(
                "Redis does not answer at {redis_url} (pass --redis or REDIS_URL): {err}"
            )
        })?;
        tokio::spawn(time_redis(gauge.clone(), redis, stop.clone()));
        if let Some(url) = database_url {
            let conn = PgConnection::connect(url).await?;
            tokio::spawn(time_commits(gauge.clone(), conn, stop));
        }
        Ok(gauge)
    }

    /// The table's rows: p50 / p99 of each round trip.
    pub(super) fn rows(&self) -> Vec<(String, String)> {
        let figure = |l: &Mutex<Latencies>| match l.lock() {
            Ok(l) => format!(
                "{} / {} (n = {})",
                ms(l.percentile(0.5)),
                ms(l.percentile(0.99)),
                l.len()
            ),
            Err(_) => "n/a".into(),
        };
        let mut rows = vec![(
            "ceiling: raw Redis PING during the run p50 / p99".to_string(),
            figure(&self.redis),
        )];
        if self.commit.lock().is_ok_and(|l| l.len() > 0) {
            rows.push((
                "ceiling: raw Postgres durable commit during the run p50 / p99".to_string(),
                figure(&self.commit),
            ));
        }
        rows
    }
}

async fn time_redis(gauge: Arc<Gauge>, mut redis: RedisConn, stop: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    while !stop.is_cancelled() {
        tick.tick().await;
        let started = Instant::now();
        let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut redis).await;
        if pong.is_ok() {
            if let Ok(mut l) = gauge.redis.lock() {
                l.record(started.elapsed());
            }
        }
    }
}

async fn time_commits(gauge: Arc<Gauge>, mut conn: PgConnection, stop: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    while !stop.is_cancelled() {
        tick.tick().await;
        let started = Instant::now();
        let committed = async {
            let mut tx = conn.begin().await?;
            sqlx::query("SELECT txid_current()")
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
        .await;
        if committed.is_ok() {
            if let Ok(mut l) = gauge.commit.lock() {
                l.record(started.elapsed());
            }
        }
    }
}
