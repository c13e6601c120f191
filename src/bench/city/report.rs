//! The city bench's one markdown table: a row per measure with Hail's
//! figure, the raw-Redis figure of the same run and their ratio where there
//! is one, then a line saying what the raw-Redis column ran.

use std::time::Duration;

use crate::bench::latency::{ms, Latencies};

/// The quantiles the trip phases report.
pub(super) const TRIP_QUANTILES: &[(f64, &str)] = &[(0.5, "p50"), (0.95, "p95"), (0.99, "p99")];

/// What the raw-Redis column ran, printed under the table.
const CEILING: &str = "Raw Redis: ingest runs the driver service's ping (ping.lua on the driver's slot: SET presence + HSET position, then index_sync.lua on the city's: ZADD last-seen + GEOADD; on a single Redis ping.lua does both in one script; PUBLISH only for a driver on a trip) through its Index on one multiplexed connection; dispatch/redispatch columns are the Index's candidate search for the five nearest (rings from at most 250 m, less in a dense city: GEOSEARCH, then the nearest members' presence/status/lock) + its claim over them (claim.lua on the driver's slot, then index_sync.lua on the city's; on a single Redis claim.lua does both), round trips in sequence; the release that puts the driver back is not timed.";

struct Row {
    measure: String,
    hail: String,
    redis: String,
    ratio: String,
}

#[derive(Default)]
pub(super) struct Report {
    rows: Vec<Row>,
}

impl Report {
    /// A figure Hail alone has.
    pub(super) fn row(&mut self, measure: impl Into<String>, hail: impl Into<String>) {
        self.compare(measure, hail, String::new(), String::new());
    }

    pub(super) fn compare(
        &mut self,
        measure: impl Into<String>,
        hail: impl Into<String>,
        redis: impl Into<String>,
        ratio: impl Into<String>,
    ) {
        self.rows.push(Row {
            measure: measure.into(),
            hail: hail.into(),
            redis: redis.into(),
            ratio: ratio.into(),
        });
    }

    /// One row per quantile, "`measure` p50" and so on, Hail beside Redis.
    pub(super) fn percentiles(
        &mut self,
        measure: &str,
        hail: &Latencies,
        redis: &Latencies,
        quantiles: &[(f64, &str)],
    ) {
        for &(q, name) in quantiles {
            let (h, r) = (hail.percentile(q), redis.percentile(q));
            self.compare(format!("{measure} {name}"), ms(h), ms(r), ratio(h, r));
        }
    }

    pub(super) fn print(self) {
        println!("\n| measure | Hail | raw Redis, same run | Hail vs Redis |\n|---|---|---|---|");
        for r in self.rows {
            println!("| {} | {} | {} | {} |", r.measure, r.hail, r.redis, r.ratio);
        }
        println!("\n{CEILING}");
    }
}

fn ratio(hail: Option<Duration>, redis: Option<Duration>) -> String {
    match (hail, redis) {
        (Some(h), Some(r)) if r > Duration::ZERO => {
            format!("{:.1}x", h.as_secs_f64() / r.as_secs_f64())
        }
        _ => String::new(),
    }
}
