//! The dispatch phase: `--requests` trips at `--rate`, request k at watched
//! driver k's exact spot (so it is the nearest), each timed from sending the
//! request to that driver's socket hearing its `offer`, or, against a stack
//! in auto mode, `trip:update` ASSIGNED. A trip its driver never heard of is
//! looked up in its audit trail: offered to someone else, or lost.
//!
//! Also what both trip phases use: placing a request and cancelling trips.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use hail_shared::api::trips::{DispatchEvent, Trip};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    report::{Report, TRIP_QUANTILES},
    TripPhase,
};
use crate::{
    bench::{cpu::CpuTimes, latency::Latencies},
    simulate::{
        api::{Api, Session},
        geo::LatLng,
    },
};

/// How long a watched socket is given to hear of its trip.
pub(super) const HEARING_WAIT: Duration = Duration::from_secs(5);

/// A trip phase's result.
pub(super) struct Outcome {
    /// Every trip made, with its rider's index.
    pub(super) trips: Vec<(Uuid, usize)>,
    pub(super) latencies: Latencies,
    pub(super) elsewhere: usize,
    pub(super) lost: usize,
    /// The stack assigns without offers (auto match mode).
    pub(super) auto: bool,
}

impl Outcome {
    pub(super) fn new() -> anyhow::Result<Self> {
        Ok(Self {
            trips: Vec::new(),
            latencies: Latencies::new()?,
            elsewhere: 0,
            lost: 0,
            auto: false,
        })
    }
}

pub(super) async fn run(phase: &TripPhase<'_>, report: &mut Report) -> anyhow::Result<()> {
    let args = phase.args;
    eprintln!("[dispatch] {} requests at {}/s", args.requests, args.rate);
    let idle = idle_window(phase).await;
    let before = phase.cpu.now();
    let started = Instant::now();
    let (sent, achieved_rate) = request_all(phase).await;
    let d = settle(phase, &sent).await?;
    if let Some((idle_before, idle_after)) = idle {
        let after = phase.cpu.now();
        let done = d.trips.len() as u64;
        report.row(
            "CPU-seconds per 1,000 dispatches (request to offer; the fleet's keep-alive pings included)",
            crate::bench::cpu::per_unit(&before, &after, done, 1_000.0),
        );
        report.row(
            format!(
                "CPU-seconds per 1,000 dispatches, keep-alive pings taken out (at their rate over {} s before)",
                IDLE_WINDOW.as_secs()
            ),
            crate::bench::cpu::per_unit_net(
                (&before, &after, started.elapsed().as_secs_f64()),
                (&idle_before, &idle_after, IDLE_WINDOW.as_secs_f64()),
                done,
                1_000.0,
            ),
        );
    }
    let what = if d.auto {
        "request -> ASSIGNED on the driver's socket (auto mode)"
    } else {
        "request -> offer on the driver's socket"
    };
    report.row(
        format!("{what}: requests (achieved rate)"),
        format!("{} ({:.0}/s)", d.trips.len(), achieved_rate),
    );
    report.percentiles(what, &d.latencies, phase.redis_step, TRIP_QUANTILES);
    report.row(
        "dispatch: offered to an unwatched driver instead",
        d.elsewhere.to_string(),
    );
    report.row(
        "dispatch: double assignments (a watched driver offered/assigned 2 trips)",
        phase.heard.doubles().to_string(),
    );
    report.row(
        "dispatch: lost requests (never offered or assigned)",
        d.lost.to_string(),
    );
    eprintln!("[dispatch] cancelling its trips");
    cancel_all(phase.api, &phase.tokens(&d.trips)).await;
    phase.heard.clear_holds();
    Ok(())
}

/// How long the CPU of the stack is read with only the fleet's keep-alive
/// pings running, before the requests: their cost per second is then taken
/// out of the phase's, for what the dispatches alone cost.
const IDLE_WINDOW: Duration = Duration::from_secs(5);

/// The CPU readings around [`IDLE_WINDOW`] (`None` without `--cpu`).
async fn idle_window(phase: &TripPhase<'_>) -> Option<(CpuTimes, CpuTimes)> {
    if phase.cpu.is_empty() {
        return None;
    }
    eprintln!(
        "[dispatch] {} s of keep-alive pings alone, to take their CPU out",
        IDLE_WINDOW.as_secs()
    );
    let before = phase.cpu.now();
    tokio::time::sleep(IDLE_WINDOW).await;
    Some((before, phase.cpu.now()))
}

/// Sends the requests at `--rate`: (trip, k, sent at) for each the stack
/// took, and the rate achieved.
async fn request_all(phase: &TripPhase<'_>) -> (Vec<(Uuid, usize, Instant)>, f64) {
    let args = phase.args;
    let gap = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
    let mut ticker = tokio::time::interval(gap);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let errors = Arc::new(AtomicUsize::new(0));
    for (k, rider) in phase.riders.iter().enumerate().take(args.requests) {
        ticker.tick().await;
        let (api, rider, at, errors) = (
            phase.api.clone(),
            rider.clone(),
            phase.fleet.drivers[k].1,
            errors.clone(),
        );
        tasks.spawn(async move {
            let t0 = Instant::now();
            match request_at(&api, &rider, at).await {
                Ok(trip) => Some((trip.id, k, t0)),
                Err(err) => {
                    if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("[dispatch] request failed: {err}");
                    }
                    None
                }
            }
        });
        if k % 200 == 199 {
            eprintln!("      {} requested", k + 1);
        }
    }
    let achieved_rate = args.requests as f64 / started.elapsed().as_secs_f64();
    let sent = tasks.join_all().await.into_iter().flatten().collect();
    (sent, achieved_rate)
}

/// Waits for each sent trip on its driver's socket; a request the stack
/// refused counts as lost.
async fn settle(phase: &TripPhase<'_>, sent: &[(Uuid, usize, Instant)]) -> anyhow::Result<Outcome> {
    let mut out = Outcome::new()?;
    let mut assigned: u64 = 0;
    for &(trip, k, t0) in sent {
        out.trips.push((trip, k));
        match phase.heard.wait(trip, HEARING_WAIT, |d| d == k).await {
            Some((_, at)) => {
                out.latencies.record(at.saturating_duration_since(t0));
                if phase.heard.assigned(trip) {
                    assigned += 1;
                }
            }
            None if offered_anyone(phase.api, &phase.riders[k], trip).await => out.elsewhere += 1,
            None => out.lost += 1,
        }
    }
    out.lost += phase.args.requests - sent.len();
    out.auto = assigned > 0 && assigned * 2 >= out.latencies.len();
    Ok(out)
}

/// Was the trip offered or assigned to anyone, per its audit trail?
async fn offered_anyone(api: &Api, rider: &Session, trip: Uuid) -> bool {
    dispatch_events(api, rider, trip)
        .await
        .iter()
        .any(|e| e.kind == "OFFER_SENT" || e.kind == "ASSIGNED")
}

/// The trip's audit trail (empty if it cannot be read).
pub(super) async fn dispatch_events(api: &Api, rider: &Session, trip: Uuid) -> Vec<DispatchEvent> {
    api.get::<Vec<DispatchEvent>>(&format!("/trips/{trip}/events"), rider)
        .await
        .unwrap_or_default()
}

/// Requests a trip at `at`; a rider left with an active trip by an earlier
/// run cancels it first.
pub(in crate::bench) async fn request_at(
    api: &Api,
    rider: &Session,
    at: LatLng,
) -> Result<Trip, String> {
    let body = json!({"pickup": {"lat": at.lat, "lng": at.lng}, "dropoff": {"lat": at.lat + 0.01, "lng": at.lng}});
    match api.post::<Trip>("/trips", rider, body.clone()).await {
        Ok(trip) => Ok(trip),
        Err(err) if err.is("active_trip_exists") => {
            let trips: Vec<Trip> = api
                .get("/trips?limit=5", rider)
                .await
                .map_err(|e| e.to_string())?;
            for t in trips.iter().filter(|t| t.status.is_active()) {
                let _ = api
                    .post::<Value>(&format!("/trips/{}/cancel", t.id), rider, json!({}))
                    .await;
            }
            api.post::<Trip>("/trips", rider, body)
                .await
                .map_err(|e| e.to_string())
        }
        Err(err) => Err(err.to_string()),
    }
}

/// Cancels each trip as its rider, 32 at a time (best effort).
pub(in crate::bench) async fn cancel_all(api: &Api, trips: &[(Uuid, String)]) {
    stream::iter(trips)
        .for_each_concurrent(32, |(trip, token)| async move {
            // A fast 503 is retried after its Retry-After, as a client
            // would, so a run leaves no trip dispatching behind it.
            for _ in 0..10 {
                let answer = api
                    .call::<Value>(
                        reqwest::Method::POST,
                        &format!("/trips/{trip}/cancel"),
                        Some(token),
                        Some(json!({"reason": "bench done"})),
                    )
                    .await;
                match answer {
                    Err(err) if err.status == 503 => {
                        let wait = err.retry_after.unwrap_or(1).clamp(1, 10);
                        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
                    }
                    _ => return,
                }
            }
        })
        .await;
}
