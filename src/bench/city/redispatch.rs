//! The redispatch phase: `--redispatches` trips started at
//! `--redispatch-rate`, trip k at the spot of pair k's driver A (with its B
//! 22 m north, the next nearest). A declines over REST as soon as it hears
//! the offer; timed from sending the decline to another driver's `offer`.
//! A stack in auto mode makes no offers, so there is nothing to time.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    dispatch::{dispatch_events, request_at, Outcome, HEARING_WAIT},
    report::{Report, TRIP_QUANTILES},
    watch::Heard,
    TripPhase,
};
use crate::simulate::{
    api::{Api, Session},
    geo::LatLng,
};

/// One pair's decline.
struct Declined {
    trip: Uuid,
    /// The rider's index.
    k: usize,
    /// From the decline to the next offer, if one came.
    latency: Option<Duration>,
    /// A was assigned, not offered: the stack runs in auto mode.
    auto: bool,
}

/// Runs the phase with pair k's A at fleet index `first + 2k`; returns the
/// trips made, with their riders' tokens, for cancelling.
pub(super) async fn run(
    phase: &TripPhase<'_>,
    first: usize,
    report: &mut Report,
) -> anyhow::Result<Vec<(Uuid, String)>> {
    let args = phase.args;
    eprintln!(
        "[redispatch] {} declines, {} started per second",
        args.redispatches, args.redispatch_rate
    );
    let declined = decline_all(phase, first).await;
    let r = settle(phase, declined).await?;
    if r.auto {
        report.row(
            "decline -> next offer",
            "n/a: the stack runs in auto mode (no offers)",
        );
    } else {
        report.row(
            "decline -> next offer: declines timed",
            r.latencies.len().to_string(),
        );
        report.percentiles(
            "decline -> next offer",
            &r.latencies,
            phase.redis_step,
            TRIP_QUANTILES,
        );
        report.row(
            "redispatch: next offer went to an unwatched driver",
            r.elsewhere.to_string(),
        );
        report.row(
            "redispatch: double assignments",
            phase.heard.doubles().to_string(),
        );
        report.row(
            "redispatch: lost (no offer after the decline)",
            r.lost.to_string(),
        );
    }
    Ok(phase.tokens(&r.trips))
}

/// Starts one pair's trip per tick of `--redispatch-rate`, all at once in
/// flight; the declines of the trips the stack took.
async fn decline_all(phase: &TripPhase<'_>, first: usize) -> Vec<Declined> {
    let gap = Duration::from_secs_f64(1.0 / phase.args.redispatch_rate.max(0.001));
    let mut ticker = tokio::time::interval(gap);
    let mut tasks = tokio::task::JoinSet::new();
    for (k, rider) in phase
        .riders
        .iter()
        .enumerate()
        .take(phase.args.redispatches)
    {
        ticker.tick().await;
        let a = first + 2 * k;
        let (a_session, at) = phase.fleet.drivers[a].clone();
        let (api, rider, heard) = (phase.api.clone(), rider.clone(), phase.heard.clone());
        tasks.spawn(async move {
            let (trip, latency, auto) =
                decline_once(&api, &rider, &heard, a, &a_session, at).await?;
            Some(Declined {
                trip,
                k,
                latency,
                auto,
            })
        });
    }
    tasks.join_all().await.into_iter().flatten().collect()
}

/// Requests a trip at A's spot, waits for A's offer, declines it and times
/// the next offer: (trip, latency, assigned instead of offered).
async fn decline_once(
    api: &Api,
    rider: &Session,
    heard: &Arc<Heard>,
    a: usize,
    a_session: &Session,
    at: LatLng,
) -> Option<(Uuid, Option<Duration>, bool)> {
    let trip = request_at(api, rider, at).await.ok()?.id;
    if heard.wait(trip, HEARING_WAIT, |d| d == a).await.is_none() {
        return Some((trip, None, false));
    }
    if heard.assigned(trip) {
        return Some((trip, None, true));
    }
    let t0 = Instant::now();
    api.post::<Value>(&format!("/trips/{trip}/decline"), a_session, json!({}))
        .await
        .ok()?;
    heard.release(trip, a);
    let next = heard.wait(trip, HEARING_WAIT, |d| d != a).await;
    Some((
        trip,
        next.map(|(_, at)| at.saturating_duration_since(t0)),
        false,
    ))
}

/// Times the declines; one with no next offer on a watched socket went to
/// an unwatched driver if its audit trail shows a second offer, else it is
/// lost.
async fn settle(phase: &TripPhase<'_>, declined: Vec<Declined>) -> anyhow::Result<Outcome> {
    let mut out = Outcome::new()?;
    for d in declined {
        out.trips.push((d.trip, d.k));
        out.auto |= d.auto;
        match d.latency {
            Some(l) => out.latencies.record(l),
            None if d.auto => {}
            None => {
                let offers = dispatch_events(phase.api, &phase.riders[d.k], d.trip)
                    .await
                    .iter()
                    .filter(|e| e.kind == "OFFER_SENT")
                    .count();
                if offers >= 2 {
                    out.elsewhere += 1;
                } else {
                    out.lost += 1;
                }
            }
        }
    }
    Ok(out)
}
