//! Latency figures for the bench tables: an HDR histogram of durations
//! (microseconds, three significant figures, so a figure is within 0.1 % of
//! the exact nearest-rank value) and their one rendering, "1.23 ms".

use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;

/// The longest latency told apart from longer ones; beyond it a sample
/// counts as this long.
const LONGEST_US: u64 = 3_600_000_000;

pub(super) struct Latencies(Histogram<u64>);

impl Latencies {
    pub(super) fn new() -> anyhow::Result<Self> {
        Histogram::new_with_bounds(1, LONGEST_US, 3)
            .map(Self)
            .context("a latency histogram")
    }

    pub(super) fn of(samples: impl IntoIterator<Item = Duration>) -> anyhow::Result<Self> {
        let mut latencies = Self::new()?;
        for sample in samples {
            latencies.record(sample);
        }
        Ok(latencies)
    }

    pub(super) fn record(&mut self, sample: Duration) {
        let us = u64::try_from(sample.as_micros()).unwrap_or(u64::MAX);
        self.0.saturating_record(us);
    }

    pub(super) fn len(&self) -> u64 {
        self.0.len()
    }

    /// The sample at quantile `q` (0.5 for p50), `None` without samples.
    pub(super) fn percentile(&self, q: f64) -> Option<Duration> {
        (!self.0.is_empty()).then(|| Duration::from_micros(self.0.value_at_quantile(q)))
    }

    pub(super) fn max(&self) -> Option<Duration> {
        (!self.0.is_empty()).then(|| Duration::from_micros(self.0.max()))
    }
}

pub(super) fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2} ms", d.as_secs_f64() * 1000.0))
        .unwrap_or_else(|| "n/a".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(got: Option<Duration>, want_ms: u64) -> bool {
        let want = Duration::from_millis(want_ms).as_secs_f64();
        got.is_some_and(|got| (got.as_secs_f64() - want).abs() <= want * 0.001)
    }

    #[test]
    fn percentiles_pick_the_nearest_rank_within_a_tenth_of_a_percent() {
        let latencies = Latencies::of((1..=100).map(Duration::from_millis)).unwrap();
        assert_eq!(latencies.len(), 100);
        assert!(near(latencies.percentile(0.50), 50));
        assert!(near(latencies.percentile(0.99), 99));
        assert!(near(latencies.percentile(1.0), 100));
        assert!(near(latencies.max(), 100));
    }

    #[test]
    fn no_samples_read_as_n_a() {
        let latencies = Latencies::new().unwrap();
        assert_eq!(latencies.percentile(0.5), None);
        assert_eq!(ms(latencies.max()), "n/a");
        assert_eq!(ms(Some(Duration::from_micros(1234))), "1.23 ms");
    }
}
