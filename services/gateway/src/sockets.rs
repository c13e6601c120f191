//! Which sockets each user holds, across every gateway (Redis, so the cap
//! holds behind a load balancer): at most `HAIL_SOCKETS_PER_USER`, and a
//! new socket past the cap closes the user's oldest.

use std::sync::Arc;

use hail_shared::redis_conn::RedisConn;
use redis::Script;
use uuid::Uuid;

use hail_shared::keys::Keys;

/// How long a user's socket list outlives its last connect (a token's
/// lifetime is the longest a socket can stay).
const LIST_TTL_SECS: u64 = 2 * 24 * 3600;

/// Cloned with the gateway's state, once per request: the script (whose
/// clone would copy its source) is shared.
#[derive(Clone)]
pub struct SocketRegistry {
    keys: Keys,
    register: Arc<Script>,
    cap: usize,
}

impl SocketRegistry {
    pub fn new(keys: Keys, cap: usize) -> Self {
        Self {
            keys,
            register: Arc::new(Script::new(include_str!("../scripts/register_socket.lua"))),
            cap: cap.max(1),
        }
    }

    /// Records `socket_id` as `user_id`'s newest socket; returns the ids of
    /// the user's sockets that must be disconnected to keep the cap.
    pub async fn register(
        &self,
        redis: &mut RedisConn,
        user_id: Uuid,
        socket_id: &str,
    ) -> redis::RedisResult<Vec<String>> {
        self.register
            .key(self.keys.user_sockets(user_id))
            .arg(socket_id)
            .arg(chrono::Utc::now().timestamp_millis())
            .arg(self.cap)
            .arg(LIST_TTL_SECS)
            .invoke_async(redis)
            .await
    }

    /// Forgets a closed socket; how many the user still holds (on any
    /// gateway).
    pub async fn forget(
        &self,
        redis: &mut RedisConn,
        user_id: Uuid,
        socket_id: &str,
    ) -> redis::RedisResult<usize> {
        let key = self.keys.user_sockets(user_id);
        let (left,): (usize,) = redis::pipe()
            .atomic()
            .zrem(&key, socket_id)
            .ignore()
            .zcard(&key)
            .query_async(redis)
            .await?;
        Ok(left)
    }
}
