//! Location pings, batched: a driver's `driver:location` over its socket,
//! and its `POST /api/v1/drivers/me/location` too, costs no HTTP request
//! between services of its own. Each ping (already checked here as the
//! driver service would check it; a socket's JWT was verified when it
//! connected, a REST ping's by the proxy) is queued; one worker takes whatever is queued, up to [`MAX_BATCH`], and
//! sends it to the driver service in one `POST /internal/drivers/locations`,
//! which records the pings side by side in Redis. Each ping's ack waits for
//! its own outcome, so the answer is the driver service's, status and all.
//!
//! No timer: a batch is whatever queued while the previous ones were in
//! flight, so a quiet gateway sends each ping at once and a busy one sends
//! fewer, larger calls. At most [`IN_FLIGHT`] batches are in flight; the
//! queue is bounded, and a ping waits for room in it (backpressure on the
//! socket) rather than being dropped.

use std::sync::Arc;

use hail_shared::{
    api::drivers::{LocationUpdate, PingBatch, PingBatchResponse, PingRefusal, SocketPing},
    extract::INTERNAL_TOKEN_HEADER,
    ApiError,
};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

/// The most pings one call carries: at most ~150 bytes each, well inside
/// the services' 64 KiB body limit (the driver service takes up to 400).
pub const MAX_BATCH: usize = 256;
/// Batches in flight at once. Two, not four: a ping that finds both in
/// flight joins the next batch, so batches are longer and each ping carries
/// less of a call's fixed cost (`./scripts/scaleout.sh` on a cluster: 9-12 %
/// less CPU per ping, ping latency no worse; BENCHMARKS.md, session 22).
const IN_FLIGHT: usize = 2;
/// Pings waiting for a batch, at most.
const QUEUE: usize = 8192;

/// A ping waiting for its batch, with where its outcome goes.
pub struct Queued {
    ping: SocketPing,
    answer: oneshot::Sender<Result<(), PingRefusal>>,
}

/// Where socket handlers hand their pings.
#[derive(Clone)]
pub struct Pings {
    queue: mpsc::Sender<Queued>,
}

/// What the worker needs to reach the driver service.
pub struct Upstream {
    pub http: reqwest::Client,
    /// The driver service's instances (`POST /internal/drivers/locations`).
    pub driver: hail_shared::upstream::Instances,
    /// The realtime side's token (the proxy's opens no internal route).
    pub token: Arc<str>,
}

/// The handlers' end and the worker's end of one queue.
pub fn channel() -> (Pings, mpsc::Receiver<Queued>) {
    let (queue, queued) = mpsc::channel(QUEUE);
    (Pings { queue }, queued)
}

/// How a ping waits when the queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// A socket ping waits for room (backpressure on the socket).
    Wait,
    /// A REST ping is refused at once (503): a REST client retries, and its
    /// request should not hold a connection meanwhile.
    Refuse,
}

impl Pings {
    /// Records one ping of `driver_id`; a refusal is REST's answer.
    pub async fn record(
        &self,
        driver_id: Uuid,
        update: LocationUpdate,
        when_full: WhenFull,
    ) -> Result<(), PingRefusal> {
        let (answer, outcome) = oneshot::channel();
        let queued = Queued {
            ping: SocketPing { driver_id, update },
            answer,
        };
        let sent = match when_full {
            WhenFull::Wait => self.queue.send(queued).await.map_err(|_| "shutting down"),
            WhenFull::Refuse => self.queue.try_send(queued).map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => "too many pings are waiting",
                mpsc::error::TrySendError::Closed(_) => "shutting down",
            }),
        };
        if let Err(why) = sent {
            return Err(unavailable(why));
        }
        outcome
            .await
            .unwrap_or_else(|_| Err(unavailable("the ping was not recorded")))
    }
}

/// The worker: batches what is queued and sends it, until `stop`.
pub async fn run(mut queued: mpsc::Receiver<Queued>, upstream: Upstream, stop: CancellationToken) {
    let upstream = Arc::new(upstream);
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let batches = TaskTracker::new();
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => break,
            next = queued.recv() => match next {
                Some(first) => first,
                None => break,
            },
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        // Whatever else queued meanwhile (the wait for a permit included)
        // goes in the same call.
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queued.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let upstream = upstream.clone();
        batches.spawn(async move {
            send(&upstream, batch).await;
            drop(permit);
        });
    }
    batches.close();
    batches.wait().await;
}

/// One call for the batch; each ping's outcome to its ack.
async fn send(upstream: &Upstream, batch: Vec<Queued>) {
    metrics::histogram!("gateway_ping_batch_size").record(batch.len() as f64);
    let body = PingBatch {
        pings: batch.iter().map(|q| q.ping).collect(),
    };
    let answered = async {
        let response = upstream
            .driver
            .send(|base| {
                upstream
                    .http
                    .post(format!("{base}/internal/drivers/locations"))
                    .header(INTERNAL_TOKEN_HEADER, &*upstream.token)
                    .json(&body)
            })
            .await?
            .error_for_status()?;
        response.json::<PingBatchResponse>().await
    }
    .await;
    let outcomes = match answered {
        Ok(answer) if answer.outcomes.len() == batch.len() => answer.outcomes,
        Ok(_) => {
            tracing::error!("the driver service answered a ping batch with the wrong count");
            vec![Some(unavailable("the driver service gave no answer")); batch.len()]
        }
        Err(err) => {
            tracing::warn!(pings = batch.len(), error = %err.without_url(), "a ping batch failed");
            vec![Some(unavailable("the driver service did not answer")); batch.len()]
        }
    };
    for (queued, outcome) in batch.into_iter().zip(outcomes) {
        let _ = queued.answer.send(outcome.map_or(Ok(()), Err));
    }
}

fn unavailable(why: &str) -> PingRefusal {
    ApiError::Unavailable(format!("the gateway could not record the ping: {why}")).into()
}
