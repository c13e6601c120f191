//! Wake-ups for the matchers ([`crate::dispatch`]), here and in every other
//! trip-service instance.
//!
//! Each instance runs two matchers, one per lane: [`Lane::Fresh`] takes new
//! trips, [`Lane::Queue`] every trip that has searched before (an offer
//! answered, declined or given up, a driver freed nearby, a driver who
//! cancelled). A change wakes only its lane's matcher: waking both would
//! make the other one run a pick that finds nothing.
//!
//! - Here: at once, in-process, after the commit.
//! - Elsewhere: a Postgres `NOTIFY` on the lane's channel, sent inside the
//!   change's transaction (so it is delivered at commit, never before),
//!   carrying this instance's id. Every instance hears every notification;
//!   the one that sent it ignores it, having woken its own matcher already.
//!
//! So a new trip costs one pick in the instance that took the request and
//! one in each other instance (there for load sharing: a busy matcher here
//! must not hold a trip another instance could start on). Wake-ups are
//! only ever early: a lost one costs at most a matcher's fallback poll.

use std::sync::Arc;

use sqlx::{postgres::PgListener, PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Which matcher a change concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// A new trip: its first search.
    Fresh,
    /// A trip that has searched before and is due again.
    Queue,
}

impl Lane {
    const ALL: [Lane; 2] = [Lane::Fresh, Lane::Queue];

    /// Its Postgres notification channel.
    fn channel(self) -> &'static str {
        match self {
            Lane::Fresh => "hail_dispatch_fresh",
            Lane::Queue => "hail_dispatch_queue",
        }
    }
}

#[derive(Clone)]
pub struct Wakes {
    fresh: Arc<Notify>,
    queue: Arc<Notify>,
    /// This instance, as its notifications name it.
    instance: Arc<str>,
}

impl Default for Wakes {
    fn default() -> Self {
        Self {
            fresh: Arc::default(),
            queue: Arc::default(),
            instance: Uuid::new_v4().to_string().into(),
        }
    }
}

impl Wakes {
    /// What `lane`'s matcher waits on.
    pub fn of(&self, lane: Lane) -> &Notify {
        match lane {
            Lane::Fresh => &self.fresh,
            Lane::Queue => &self.queue,
        }
    }

    /// Wakes `lane`'s matcher in this instance (call after the commit).
    pub fn here(&self, lane: Lane) {
        self.of(lane).notify_waiters();
    }

    /// Wakes `lane`'s matcher in every other instance when the transaction
    /// on `conn` commits.
    pub async fn elsewhere(&self, conn: &mut PgConnection, lane: Lane) -> Result<(), sqlx::Error> {
        sqlx::query!("SELECT pg_notify($1, $2)", lane.channel(), &*self.instance)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The lane a notification wakes here: none for this instance's own.
    pub fn heard(&self, channel: &str, sender: &str) -> Option<Lane> {
        if sender == &*self.instance {
            return None;
        }
        Lane::ALL.into_iter().find(|lane| lane.channel() == channel)
    }
}

/// Turns other instances' notifications into wake-ups here, until `stop`.
pub async fn run_listener(pool: PgPool, wakes: Wakes, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            Err(err) = listen(&pool, &wakes) => {
                tracing::warn!(error = %err, "dispatch listener lost Postgres; reconnecting");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// Wakes on every notification; returns only when Postgres is lost.
async fn listen(pool: &PgPool, wakes: &Wakes) -> Result<std::convert::Infallible, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen_all(Lane::ALL.map(Lane::channel)).await?;
    loop {
        let notification = listener.recv().await?;
        if let Some(lane) = wakes.heard(notification.channel(), notification.payload()) {
            wakes.here(lane);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_instances_notification_wakes_its_lane_only() {
        let (here, there) = (Wakes::default(), Wakes::default());
        for lane in Lane::ALL {
            assert_eq!(here.heard(lane.channel(), &there.instance), Some(lane));
        }
        assert_eq!(here.heard("hail_dispatch", &there.instance), None);
    }

    #[test]
    fn an_instance_ignores_its_own_notifications() {
        let here = Wakes::default();
        for lane in Lane::ALL {
            assert_eq!(here.heard(lane.channel(), &here.instance), None);
        }
    }
}
