//! Redis connections: one multiplexed, self-reconnecting connection per
//! service, cheap to clone and safe to share, to a single Redis or to a
//! Redis Cluster (`HAIL_REDIS_CLUSTER=true`, `REDIS_URL` listing nodes).
//!
//! Code above this module does not care which: [`RedisConn`] is a
//! `ConnectionLike`, every key a script touches shares one hash slot
//! (`keys.rs`), and [`RedisConn::each`] runs independent commands that may
//! live in different slots.

use std::time::Duration;

use futures::{future::join_all, stream::BoxStream, StreamExt};
use redis::{
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig},
    cluster_async::ClusterConnection,
    Cmd, Pipeline, PushKind, RedisFuture, Value,
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
        let conn = cluster_client(url)
            .map_err(fail)?
            .get_async_connection()
            .await
            .map_err(fail)?;
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

/// A cluster client for `url`'s comma-separated nodes, speaking RESP3 (the
/// protocol sharded pub/sub arrives on).
pub fn cluster_client(url: &str) -> redis::RedisResult<ClusterClient> {
    let nodes: Vec<&str> = url.split(',').map(str::trim).collect();
    ClusterClientBuilder::new(nodes)
        .use_protocol(redis::ProtocolVersion::RESP3)
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        // A failover takes a few seconds: retries cover it, and the
        // overall deadline keeps a request from hanging on it.
        .overall_response_timeout(Some(Duration::from_secs(3)))
        .retries(4)
        .build()
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

impl RedisConn {
    /// Publishes one event: classic pub/sub on a single Redis, sharded
    /// pub/sub (`SPUBLISH`) on a cluster, so only the channel's shard
    /// carries it rather than every node.
    pub async fn publish(&mut self, channel: &str, payload: &str) -> redis::RedisResult<()> {
        redis::cmd(publish_command(self.is_cluster()))
            .arg(channel)
            .arg(payload)
            .query_async::<i64>(self)
            .await
            .map(|_| ())
    }

    /// Publishes events in order per channel: one pipeline on a single
    /// Redis; on a cluster one pipeline per channel (each channel is one
    /// slot), side by side.
    pub async fn publish_all(&mut self, events: &[(String, String)]) -> redis::RedisResult<()> {
        let cluster = self.is_cluster();
        let command = publish_command(cluster);
        // One pipeline per channel on a cluster; one for all on a single Redis.
        let mut per_channel: Vec<(&str, Pipeline)> = Vec::new();
        for (channel, payload) in events {
            let group = if cluster { channel.as_str() } else { "" };
            let at = match per_channel.iter().position(|(g, _)| *g == group) {
                Some(at) => at,
                None => {
                    per_channel.push((group, redis::pipe()));
                    per_channel.len() - 1
                }
            };
            per_channel[at]
                .1
                .cmd(command)
                .arg(channel)
                .arg(payload)
                .ignore();
        }
        let sent = join_all(per_channel.iter().map(|(_, pipe)| {
            let mut conn = self.clone();
            async move { pipe.query_async::<()>(&mut conn).await }
        }))
        .await;
        sent.into_iter().collect()
    }
}

/// `PUBLISH`, or `SPUBLISH` on a cluster (also what room scripts call).
pub fn publish_command(cluster: bool) -> &'static str {
    if cluster {
        "SPUBLISH"
    } else {
        "PUBLISH"
    }
}

/// Messages on subscribed channels, as (channel, payload); the stream ends
/// when the connection is lost (what was published meanwhile is gone:
/// subscribe again and catch up).
pub type Messages = BoxStream<'static, (String, String)>;

/// Subscribes to `channels`: `SUBSCRIBE` on a single Redis, `SSUBSCRIBE` on
/// a cluster (each channel at the one shard that owns it).
pub async fn subscribe(
    url: &str,
    cluster: bool,
    channels: &[String],
) -> redis::RedisResult<Messages> {
    let (_, messages) = subscriber(url, cluster, channels).await?;
    Ok(messages)
}

/// A subscription that takes more channels (and drops them) while its
/// messages are read: one connection, so one stream, whatever it listens to.
#[derive(Clone)]
pub enum Subscriber {
    Single(redis::aio::PubSubSink),
    Cluster(ClusterConnection),
}

impl Subscriber {
    pub async fn add(&mut self, channel: &str) -> redis::RedisResult<()> {
        match self {
            Self::Single(sink) => sink.subscribe(channel).await,
            Self::Cluster(conn) => conn.ssubscribe(channel).await,
        }
    }

    pub async fn remove(&mut self, channel: &str) -> redis::RedisResult<()> {
        match self {
            Self::Single(sink) => sink.unsubscribe(channel).await,
            Self::Cluster(conn) => conn.sunsubscribe(channel).await,
        }
    }
}

/// [`subscribe`], and the [`Subscriber`] that changes what it listens to.
pub async fn subscriber(
    url: &str,
    cluster: bool,
    channels: &[String],
) -> redis::RedisResult<(Subscriber, Messages)> {
    if !cluster {
        let mut pubsub = redis::Client::open(url)?.get_async_pubsub().await?;
        for channel in channels {
            pubsub.subscribe(channel).await?;
        }
        let (sink, stream) = pubsub.split();
        let messages = stream
            .filter_map(|message| async move {
                let payload = message.get_payload::<String>().ok()?;
                Some((message.get_channel_name().to_string(), payload))
            })
            .boxed();
        return Ok((Subscriber::Single(sink), messages));
    }
    let (pushes, received) = tokio::sync::mpsc::unbounded_channel();
    let config = ClusterConfig::new().set_push_sender(pushes);
    let mut conn = cluster_client(url)?
        .get_async_connection_with_config(config)
        .await?;
    for channel in channels {
        conn.ssubscribe(channel).await?;
    }
    let handle = Subscriber::Cluster(conn.clone());
    let messages = tokio_stream_of(received)
        .take_while(|push| std::future::ready(push.kind != PushKind::Disconnection));
    let messages = messages
        .filter_map(move |push| {
            // The connection lives as long as the stream: it holds the
            // subscriptions (and renews them after a failover).
            let _alive = &conn;
            async move {
                if push.kind != PushKind::SMessage {
                    return None;
                }
                let [channel, payload] = push.data.as_slice() else {
                    return None;
                };
                let channel: String = redis::from_redis_value_ref(channel).ok()?;
                let payload: String = redis::from_redis_value_ref(payload).ok()?;
                Some((channel, payload))
            }
        })
        .boxed();
    Ok((handle, messages))
}

fn tokio_stream_of<T: Send + 'static>(
    mut received: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> BoxStream<'static, T> {
    futures::stream::poll_fn(move |cx| received.poll_recv(cx)).boxed()
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
