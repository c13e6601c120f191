//! The socket-ingest phase (`hail bench dense`): `--ingest-sockets` of the
//! city's drivers each ping over their own Socket.IO connection, one ping
//! in flight per socket, for `--ingest-secs`; a ping counts when its
//! ack says ok. Beside it, the driver service's ping script straight against
//! Redis with the same number in flight.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::{future::join_all, FutureExt};
use rust_socketio::Payload;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};

use super::{ceiling::Ceiling, fleet::Fleet, report::Report};
use crate::simulate::api::{connect_socket, Api};

/// Pings awaiting their ack on one socket, at most: one, because
/// rust_socketio 0.6's async client panics when several acks are pending on
/// one socket (it removes an ack callback by a stale index).
const IN_FLIGHT_PER_SOCKET: usize = 1;

#[derive(Default)]
struct Counts {
    ok: AtomicUsize,
    refused: AtomicUsize,
}

pub(super) async fn run(
    api: &Api,
    fleet: &Fleet,
    ceiling: &Ceiling,
    sockets: usize,
    secs: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let sockets = sockets.clamp(1, fleet.drivers.len().max(1));
    eprintln!(
        "[socket ingest] {sockets} driver sockets, {IN_FLIGHT_PER_SOCKET} ping in flight each, {secs} s"
    );
    let mut clients = Vec::with_capacity(sockets);
    for (session, _) in fleet.drivers.iter().take(sockets) {
        let (events, _) = mpsc::unbounded_channel();
        clients.push(connect_socket(&api.gateway, &session.token(), &[], events).await?);
    }
    let counts = Arc::new(Counts::default());
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    join_all(clients.iter().zip(&fleet.drivers).map(|(client, (_, at))| {
        let counts = counts.clone();
        let at = *at;
        async move {
            let slots = Arc::new(Semaphore::new(IN_FLIGHT_PER_SOCKET));
            while Instant::now() < deadline {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                // The ack callback may be called again (FnMut): the
                // slot is given back once.
                let slot = std::sync::Mutex::new(Some(slot));
                let acks = counts.clone();
                let body = json!({"lat": at.lat, "lng": at.lng});
                let sent = client
                    .emit_with_ack(
                        "driver:location",
                        body,
                        Duration::from_secs(10),
                        move |payload: Payload, _| {
                            let ok = acked_ok(&payload);
                            let counter = if ok { &acks.ok } else { &acks.refused };
                            counter.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut slot) = slot.lock() {
                                slot.take();
                            }
                            async {}.boxed()
                        },
                    )
                    .await;
                if sent.is_err() {
                    counts.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            // The last acks (an ack that never comes is given up).
            let last = slots.acquire_many(IN_FLIGHT_PER_SOCKET as u32);
            let _ = tokio::time::timeout(Duration::from_secs(15), last).await;
        }
    }))
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    for client in clients {
        let _ = client.disconnect().await;
    }
    let ok = counts.ok.load(Ordering::Relaxed);
    let refused = counts.refused.load(Ordering::Relaxed);
    let rate = ok as f64 / elapsed;
    let in_flight = sockets * IN_FLIGHT_PER_SOCKET;
    eprintln!("[socket ingest] the same ping script straight against Redis, {in_flight} in flight");
    let (redis_rate, _) = ceiling.ingest(in_flight, Duration::from_secs(secs)).await?;
    report.compare(
        format!("location ingest over {sockets} driver sockets ({in_flight} in flight)"),
        format!("{rate:.0} pings/s"),
        format!("{redis_rate:.0} scripts/s"),
        format!("{:.1}%", 100.0 * rate / redis_rate.max(1.0)),
    );
    report.row(
        "socket pings refused or lost (rate limit, errors)",
        refused.to_string(),
    );
    Ok(())
}

/// Whether an ack's first argument says `ok: true`.
fn acked_ok(payload: &Payload) -> bool {
    let first = match payload {
        Payload::Text(values) => match values.first() {
            Some(Value::Array(args)) => args.first(),
            other => other,
        },
        _ => None,
    };
    first
        .and_then(|v| v.get("ok"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}
