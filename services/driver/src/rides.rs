//! The route a driver drove on a trip, from the pings it sent while on it.
//!
//! Pings of a driver on a ride are kept in Postgres (`ride_points`), so a
//! trip is priced by the distance actually covered even after Redis forgot
//! the positions. They are written off the ping's path: a ping hands its
//! point to [`RideLog`] (a bounded queue) and answers; one writer task
//! (per driver-service instance) gathers them for up to 200 ms and writes
//! them in one multi-row INSERT, so a fleet's pings cost a few statements a
//! second, and a slow Postgres delays fares, never positions. Asking for a route first
//! flushes the queue, so the last ping before `complete` counts.
//! The rule that turns points into a distance is pure ([`driven_km`]): a
//! point that would mean driving faster than [`MAX_PLAUSIBLE_KMH`] from the
//! last good point is a GPS jump and is left out, so one wild fix cannot
//! put kilometres on the rider's bill.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hail_shared::api::geo::LatLng;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::index::RidePoint;

/// Faster than this between two fixes is a GPS jump, not a car.
pub const MAX_PLAUSIBLE_KMH: f64 = 200.0;

/// The distance along `points` (oldest first), in km, leaving out every
/// point that could only be reached from the last good one above
/// [`MAX_PLAUSIBLE_KMH`]. `None` with fewer than two good points: too few
/// to tell, and the caller falls back to its estimate.
pub fn driven_km(points: &[(DateTime<Utc>, LatLng)]) -> Option<f64> {
    let mut iter = points.iter();
    let (mut last_at, mut last) = *iter.next()?;
    let mut km = 0.0;
    let mut good = 1;
    for &(at, p) in iter {
        let step = last.distance_km(&p);
        let hours = (at - last_at).num_milliseconds() as f64 / 3_600_000.0;
        let plausible = if hours > 0.0 {
            step / hours <= MAX_PLAUSIBLE_KMH
        } else {
            // Two fixes at the same instant: only the same place is believable.
            step < 0.001
        };
        if !plausible {
            continue;
        }
        km += step;
        last = p;
        last_at = at;
        good += 1;
    }
    (good >= 2).then_some(km)
}

/// Points waiting to be written, at most; past it a point is dropped (and
/// logged): its trip's fare then counts on the points around it.
const QUEUE: usize = 20_000;
/// The most points one INSERT carries.
const BATCH: usize = 2_000;
/// How long the writer gathers points before writing them.
const GATHER: Duration = Duration::from_millis(200);

enum Queued {
    Point(RidePoint),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// The ping path's handle on the writer.
#[derive(Clone)]
pub struct RideLog {
    queue: mpsc::Sender<Queued>,
}

/// The writer's end, run by [`write_points`].
pub struct RideWriter {
    queue: mpsc::Receiver<Queued>,
}

pub fn ride_log() -> (RideLog, RideWriter) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (RideLog { queue: tx }, RideWriter { queue: rx })
}

impl RideLog {
    /// Queues points to keep; never waits.
    pub fn keep(&self, points: &[RidePoint]) {
        for point in points {
            if self.queue.try_send(Queued::Point(*point)).is_err() {
                tracing::warn!(trip_id = %point.trip_id, "the ride point queue is full; a point is dropped");
            }
        }
    }

    /// Waits (at most `within`) until every point queued so far is written.
    pub async fn flush(&self, within: Duration) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Queued::Flush(done)).await.is_ok() {
            let _ = tokio::time::timeout(within, written).await;
        }
    }
}

/// Writes queued points until `stop`, then what is left.
pub async fn write_points(pool: PgPool, mut writer: RideWriter, stop: CancellationToken) {
    let mut points = Vec::with_capacity(BATCH);
    let mut flushes = Vec::new();
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => None,
            next = writer.queue.recv() => next,
        };
        let Some(first) = first else {
            // Stopping: what is already queued still gets written.
            writer.queue.close();
            while let Ok(queued) = writer.queue.try_recv() {
                take(queued, &mut points, &mut flushes);
            }
            write_batch(&pool, &mut points, &mut flushes).await;
            return;
        };
        take(first, &mut points, &mut flushes);
        // Gather for a moment: many points per INSERT cost Postgres far less
        // than one each. A route asked for (a flush) is written at once.
        let deadline = tokio::time::Instant::now() + GATHER;
        while points.len() < BATCH && flushes.is_empty() {
            match tokio::time::timeout_at(deadline, writer.queue.recv()).await {
                Ok(Some(queued)) => take(queued, &mut points, &mut flushes),
                Ok(None) | Err(_) => break,
            }
        }
        write_batch(&pool, &mut points, &mut flushes).await;
    }
}

fn take(queued: Queued, points: &mut Vec<RidePoint>, flushes: &mut Vec<oneshot::Sender<()>>) {
    match queued {
        Queued::Point(point) => points.push(point),
        Queued::Flush(done) => flushes.push(done),
    }
}

async fn write_batch(
    pool: &PgPool,
    points: &mut Vec<RidePoint>,
    flushes: &mut Vec<oneshot::Sender<()>>,
) {
    if let Err(err) = keep(pool, points).await {
        // The positions are in the index and reached the riders; only the
        // fare's record of the route misses them (it falls back to the
        // estimate's distance when too few points are kept).
        tracing::warn!(error = %err, points = points.len(), "could not keep ride points");
    }
    points.clear();
    for done in flushes.drain(..) {
        let _ = done.send(());
    }
}

/// Keeps the points of drivers on rides, all in one statement.
async fn keep(pool: &PgPool, points: &[RidePoint]) -> Result<(), sqlx::Error> {
    if points.is_empty() {
        return Ok(());
    }
    let trips: Vec<Uuid> = points.iter().map(|p| p.trip_id).collect();
    let ats: Vec<DateTime<Utc>> = points.iter().map(|p| p.at).collect();
    let lats: Vec<f64> = points.iter().map(|p| p.point.lat).collect();
    let lngs: Vec<f64> = points.iter().map(|p| p.point.lng).collect();
    sqlx::query!(
        "INSERT INTO ride_points (trip_id, at, lat, lng)
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::float8[], $4::float8[])",
        &trips,
        &ats,
        &lats,
        &lngs
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The trip's kept points between `from` and `to`, oldest first, led by
/// the last one before `from` (where the driver was when the trip started:
/// its pings on the way to the pickup are kept too).
pub async fn points(
    pool: &PgPool,
    trip_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, LatLng)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT at AS "at!", lat AS "lat!", lng AS "lng!" FROM (
             (SELECT at, lat, lng FROM ride_points
              WHERE trip_id = $1 AND at < $2 ORDER BY at DESC LIMIT 1)
             UNION ALL
             (SELECT at, lat, lng FROM ride_points
              WHERE trip_id = $1 AND at BETWEEN $2 AND $3)
           ) route
           ORDER BY at"#,
        trip_id,
        from,
        to
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.at, LatLng::new(r.lat, r.lng)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn walk(start: LatLng, steps: &[(i64, f64)]) -> Vec<(DateTime<Utc>, LatLng)> {
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let mut at = t0;
        let mut p = start;
        let mut out = vec![(at, p)];
        for &(secs, km_north) in steps {
            at += Duration::seconds(secs);
            p = p.north(km_north);
            out.push((at, p));
        }
        out
    }

    #[test]
    fn a_steady_drive_adds_up() {
        // 10 fixes 4 s apart, 40 m each (36 km/h): 360 m.
        let points = walk(LatLng::new(1.30, 103.80), &[(4, 0.04); 9]);
        let km = driven_km(&points).unwrap();
        assert!((km - 0.36).abs() < 1e-6, "{km}");
    }

    #[test]
    fn a_gps_jump_is_left_out_and_the_drive_goes_on_from_the_last_good_fix() {
        let start = LatLng::new(1.30, 103.80);
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let a = start;
        let b = start.north(0.05);
        let jump = start.north(5.0); // 5 km in 4 s
        let c = start.north(0.10);
        let points = vec![
            (t0, a),
            (t0 + Duration::seconds(4), b),
            (t0 + Duration::seconds(8), jump),
            (t0 + Duration::seconds(12), c),
        ];
        let km = driven_km(&points).unwrap();
        assert!((km - 0.10).abs() < 1e-6, "{km}");
    }

    #[test]
    fn fewer_than_two_good_points_tell_nothing() {
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let p = LatLng::new(1.3, 103.8);
        assert_eq!(driven_km(&[]), None);
        assert_eq!(driven_km(&[(t0, p)]), None);
        assert_eq!(
            driven_km(&[(t0, p), (t0 + Duration::seconds(1), p.north(10.0))]),
            None
        );
    }

    proptest! {
        /// Whatever the fixes, the distance is never more than what 200 km/h
        /// allows over the time they span, and never negative.
        #[test]
        fn never_faster_than_a_car(
            steps in proptest::collection::vec((0i64..30, -3.0f64..3.0), 1..60)
        ) {
            let points = walk(LatLng::new(1.30, 103.80), &steps);
            let span_h = (points[points.len() - 1].0 - points[0].0).num_milliseconds() as f64 / 3_600_000.0;
            if let Some(km) = driven_km(&points) {
                prop_assert!(km >= 0.0);
                prop_assert!(km <= span_h * MAX_PLAUSIBLE_KMH + 0.001 * points.len() as f64, "{km} km in {span_h} h");
            }
        }
    }
}
