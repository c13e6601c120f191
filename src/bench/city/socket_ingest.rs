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

use futures::future::join_all;
use serde_json::json;
use tokio::sync::mpsc;

use super::{ceiling::Ceiling, fleet::Fleet, report::Report};
use crate::{
    bench::cpu::{per_unit, CpuMeter},
    simulate::api::{connected_socket, Api},
};

/// Pings awaiting their ack on one socket, at most: one, as a phone sends
/// its next position after the last was taken (and as earlier runs did).
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
    cpu: &CpuMeter,
    report: &mut Report,
) -> anyhow::Result<()> {
    let sockets = sockets.clamp(1, fleet.drivers.len().max(1));
    eprintln!(
        "[socket ingest] {sockets} driver sockets, {IN_FLIGHT_PER_SOCKET} ping in flight each, {secs} s"
    );
    let mut clients = Vec::with_capacity(sockets);
    for (session, _) in fleet.drivers.iter().take(sockets) {
        let (events, _) = mpsc::unbounded_channel();
        clients.push(connected_socket(&api.gateway, &session.token(), events, true).await?);
    }
    let counts = Arc::new(Counts::default());
    let before = cpu.now();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    join_all(clients.iter().zip(&fleet.drivers).map(|(client, (_, at))| {
        let counts = counts.clone();
        let at = *at;
        async move {
            // A driver parked at its point: the same position every time.
            let body = json!({"lat": at.lat, "lng": at.lng});
            while Instant::now() < deadline {
                let answer = client
                    .emit_with_ack("driver:location", &body, Duration::from_secs(10))
                    .await;
                let ok = answer.is_ok_and(|a| a["ok"] == true);
                let counter = if ok { &counts.ok } else { &counts.refused };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }))
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let after = cpu.now();
    for client in clients {
        client.disconnect().await;
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
    if !cpu.is_empty() {
        report.row(
            "CPU-seconds per 100,000 socket pings",
            per_unit(&before, &after, ok as u64, 100_000.0),
        );
    }
    Ok(())
}
