//! Redis connections: one multiplexed, self-reconnecting connection per
//! service, cheap to clone and safe to share, to a single Redis or to a
//! Redis Cluster (`HAIL_REDIS_CLUSTER=true`, `REDIS_URL` listing nodes).
//!
//! Code above this module does not care which: [`RedisConn`] is a
//! `ConnectionLike`, every key a script touches shares one hash slot
//! (`keys.rs`), and [`RedisConn::each`] runs independent commands that may
//! live in different slots.

use std::time::Duration;

use futures::future::join_all;
use redis::{
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClientBuilder,
    cluster_async::ClusterConnection,
    Cmd, Pipeline, RedisFuture, Value,
};

use crate::startup::StartError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection to a single Redis or to a Redis Cluster.
#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Where Redis is: `url` is one URL, or with `cluster` a comma-separated
/// list of cluster nodes (any of them; the rest are discovered).
pub async fn connect(url: &str, cluster: bool) -> Result<RedisConn, StartError> {
    let fail = |source| StartError::Redis {
        url: crate::db::redact(url),
        source,
    };
    if cluster {
        let nodes: Vec<&str> = url.split(',').map(str::trim).collect();
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            // A failover takes a few seconds: retries cover it, and the
            // overall deadline keeps a request from hanging on it.
            .overall_response_timeout(Some(Duration::from_secs(3)))
            .retries(4)
            .build()
            .map_err(fail)?;
        let conn = client.get_async_connection().await.map_err(fail)?;
        return Ok(RedisConn::Cluster(conn));
    }
    let client = redis::Client::open(url).map_err(fail)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(2);
    ConnectionManager::new_with_config(client, config)
        .await
        .map(RedisConn::Single)
        .map_err(fail)
}

impl RedisConn {
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisConn::Cluster(_))
    }

    /// Runs independent commands (no atomicity between them) and returns
    /// their answers in order: one pipeline on a single Redis; side by side
    /// on a cluster, where they may live in different slots (the cluster
    /// connection still batches what goes to one node).
    pub async fn each(&mut self, commands: Vec<Cmd>) -> redis::RedisResult<Vec<Value>> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            RedisConn::Single(conn) => {
                let mut pipe = Pipeline::with_capacity(commands.len());
                for command in commands {
                    pipe.add_command(command);
                }
                pipe.query_async(conn).await
            }
            RedisConn::Cluster(conn) => join_all(commands.iter().map(|command| {
                let mut conn = conn.clone();
                async move { command.query_async::<Value>(&mut conn).await }
            }))
            .await
            .into_iter()
            .collect(),
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Single(conn) => conn.req_packed_command(cmd),
            RedisConn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Single(conn) => conn.req_packed_commands(cmd, offset, count),
            RedisConn::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Single(conn) => conn.get_db(),
            RedisConn::Cluster(conn) => conn.get_db(),
        }
    }
}

/// `PING`, for readiness checks (on a cluster, the node it is routed to).
pub async fn ping(conn: &mut RedisConn) -> Result<(), String> {
    redis::cmd("PING")
        .query_async::<String>(conn)
        .await
        .map(|_| ())
        .map_err(|e| format!("redis: {e}"))
}
