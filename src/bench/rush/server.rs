//! What the stack says about itself, read before and after the run: the
//! trip process's Prometheus text (histograms as bucket counts, so a
//! quantile is known only to its bucket) and, when the bench may reach the
//! database, Postgres's own row-write counters and the trips it holds open.

use std::collections::BTreeMap;

use anyhow::Context;
use sqlx::PgPool;

/// One scrape: (name, labels, value) per sample line.
#[derive(Default)]
pub(super) struct Scrape(Vec<(String, BTreeMap<String, String>, f64)>);

impl Scrape {
    pub(super) async fn read(url: &str) -> anyhow::Result<Self> {
        let text = reqwest::get(url)
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("read {url} (--trip-metrics)"))?
            .text()
            .await?;
        Ok(Self::parse(&text))
    }

    pub(super) fn parse(text: &str) -> Self {
        Self(text.lines().filter_map(sample).collect())
    }

    /// The sum of `name` over the series whose labels include `filter`.
    pub(super) fn sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.matching(name, filter).map(|(_, v)| v).sum()
    }

    /// `name`'s cumulative buckets (upper bound, count), summed over the
    /// matching series, in increasing bound.
    pub(super) fn buckets(&self, name: &str, filter: &[(&str, &str)]) -> Vec<(f64, f64)> {
        let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for (labels, v) in self.matching(&format!("{name}_bucket"), filter) {
            let le = match labels.get("le").map(String::as_str) {
                Some("+Inf") => f64::INFINITY,
                Some(le) => le.parse().unwrap_or(f64::INFINITY),
                None => continue,
            };
            by_le.entry(le.to_bits()).or_insert((le, 0.0)).1 += v;
        }
        let mut buckets: Vec<(f64, f64)> = by_le.into_values().collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        buckets
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        filter: &'a [(&str, &str)],
    ) -> impl Iterator<Item = (&'a BTreeMap<String, String>, f64)> + 'a {
        self.0
            .iter()
            .filter(move |(n, labels, _)| {
                n == name
                    && filter
                        .iter()
                        .all(|(k, v)| labels.get(*k).is_some_and(|l| l == v))
            })
            .map(|(_, labels, v)| (labels, *v))
    }
}

/// `name{a="x",b="y"} 12.5` -> (name, labels, value); comments are skipped.
fn sample(line: &str) -> Option<(String, BTreeMap<String, String>, f64)> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.trim().parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, rest.trim_end_matches('}')),
        None => (series, ""),
    };
    let labels = labels
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim_matches('"').to_string()))
        .collect();
    Some((name.to_string(), labels, value))
}

/// The run's buckets: `after` minus `before`, bound by bound.
pub(super) fn bucket_delta(before: &[(f64, f64)], after: &[(f64, f64)]) -> Vec<(f64, f64)> {
    after
        .iter()
        .map(|&(le, n)| {
            let was = before
                .iter()
                .find(|(b, _)| *b == le)
                .map_or(0.0, |(_, n)| *n);
            (le, n - was)
        })
        .collect()
}

/// The upper bound of the bucket holding quantile `q` of cumulative
/// `buckets` (nearest rank), `None` without samples; infinite when it is
/// past the last finite bound.
pub(super) fn bucket_quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = (q * total).ceil().max(1.0);
    buckets.iter().find(|(_, n)| *n >= rank).map(|(le, _)| *le)
}

/// "<= 25 ms" for a bucket bound in seconds.
pub(super) fn bucket_ms(le: Option<f64>) -> String {
    match le {
        None => "n/a".into(),
        Some(le) if le.is_infinite() => "> 10 s (last bucket)".into(),
        Some(le) => format!("<= {} ms", le * 1000.0),
    }
}

/// What Postgres did to the rows of Hail's tables so far.
#[derive(Clone, Copy, Default)]
pub(super) struct RowCounters {
    /// Rows inserted, updated or deleted.
    pub writes: i64,
    /// Rows read by sequential scans: a plan that reads a whole table where
    /// an index would do shows here long before it shows in a latency.
    pub seq_reads: i64,
}

impl std::ops::Sub for RowCounters {
    type Output = Self;
    fn sub(self, was: Self) -> Self {
        Self {
            writes: self.writes - was.writes,
            seq_reads: self.seq_reads - was.seq_reads,
        }
    }
}

/// Rows written and rows read by sequential scans in Hail's schemas.
pub(super) async fn row_counters(pool: &PgPool) -> anyhow::Result<RowCounters> {
    let (writes, seq_reads): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT (sum(n_tup_ins + n_tup_upd + n_tup_del))::bigint, sum(seq_tup_read)::bigint
         FROM pg_stat_user_tables
         WHERE schemaname IN ('trip', 'driver', 'user')",
    )
    .fetch_one(pool)
    .await
    .context("read pg_stat_user_tables")?;
    Ok(RowCounters {
        writes: writes.unwrap_or(0),
        seq_reads: seq_reads.unwrap_or(0),
    })
}

/// Trips REQUESTED now, per Postgres (waiting, or holding an open offer).
pub(super) async fn requested_now(pool: &PgPool) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM trip.trips WHERE status = 'REQUESTED'")
        .fetch_one(pool)
        .await
        .context("count REQUESTED trips")
}

/// Row counters are flushed by each backend now and then: a second's wait
/// lets the run's last writes show.
pub(super) async fn settled_row_counters(pool: &PgPool) -> anyhow::Result<RowCounters> {
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    row_counters(pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# TYPE dispatch_pass_duration_seconds histogram
dispatch_pass_duration_seconds_bucket{service="trip",le="0.001"} 10
dispatch_pass_duration_seconds_bucket{service="trip",le="0.005"} 20
dispatch_pass_duration_seconds_bucket{service="trip",le="0.01"} 20
dispatch_pass_duration_seconds_bucket{service="trip",le="+Inf"} 20
db_statements_total 1000
db_pool_wait_duration_seconds_bucket{service="trip",pool="trip",le="0.001"} 5
db_pool_wait_duration_seconds_bucket{service="trip",pool="trip_background",le="0.001"} 7
"#;

    const AFTER: &str = r#"dispatch_pass_duration_seconds_bucket{service="trip",le="0.001"} 10
dispatch_pass_duration_seconds_bucket{service="trip",le="0.005"} 70
dispatch_pass_duration_seconds_bucket{service="trip",le="0.01"} 119
dispatch_pass_duration_seconds_bucket{service="trip",le="+Inf"} 120
db_statements_total 4000
"#;

    #[test]
    fn a_quantile_is_the_bound_of_the_bucket_holding_its_rank() {
        let name = "dispatch_pass_duration_seconds";
        let (before, after) = (Scrape::parse(BEFORE), Scrape::parse(AFTER));
        let run = bucket_delta(&before.buckets(name, &[]), &after.buckets(name, &[]));
        assert_eq!(
            run,
            vec![
                (0.001, 0.0),
                (0.005, 50.0),
                (0.01, 99.0),
                (f64::INFINITY, 100.0)
            ]
        );
        assert_eq!(bucket_quantile(&run, 0.5), Some(0.005));
        assert_eq!(bucket_quantile(&run, 0.99), Some(0.01));
        assert_eq!(bucket_quantile(&run, 1.0), Some(f64::INFINITY));
        assert_eq!(bucket_ms(Some(0.005)), "<= 5 ms");
        assert_eq!(bucket_quantile(&[(0.001, 0.0)], 0.5), None);
    }

    #[test]
    fn counters_and_labels_filter() {
        let s = Scrape::parse(BEFORE);
        assert_eq!(s.sum("db_statements_total", &[]), 1000.0);
        let trip = s.buckets("db_pool_wait_duration_seconds", &[("pool", "trip")]);
        assert_eq!(trip, vec![(0.001, 5.0)]);
        let all = s.buckets("db_pool_wait_duration_seconds", &[]);
        assert_eq!(all, vec![(0.001, 12.0)]);
    }
}

/// One statement's totals in `pg_stat_statements`, this database only.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct StatementTotals {
    pub(super) query: String,
    pub(super) calls: i64,
    pub(super) total_ms: f64,
}

/// What `pg_stat_statements` holds for the bench's database, by query id;
/// `None` when the extension is not installed there (it needs
/// `shared_preload_libraries`, so the bench never installs it).
pub(super) async fn statement_totals(
    pool: &PgPool,
) -> Option<std::collections::HashMap<i64, StatementTotals>> {
    let rows: Vec<(i64, String, i64, f64)> = sqlx::query_as(
        "SELECT queryid, min(query), sum(calls)::bigint, sum(total_exec_time)
         FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND queryid IS NOT NULL
         GROUP BY queryid",
    )
    .fetch_all(pool)
    .await
    .ok()?;
    Some(
        rows.into_iter()
            .map(|(id, query, calls, total_ms)| {
                let totals = StatementTotals {
                    query,
                    calls,
                    total_ms,
                };
                (id, totals)
            })
            .collect(),
    )
}

/// The statements that took Postgres the most time between two readings,
/// most first, at most `limit`.
pub(super) fn busiest_statements(
    before: &std::collections::HashMap<i64, StatementTotals>,
    after: std::collections::HashMap<i64, StatementTotals>,
    limit: usize,
) -> Vec<StatementTotals> {
    let mut run: Vec<StatementTotals> = after
        .into_iter()
        .map(|(id, now)| {
            let (calls, ms) = before
                .get(&id)
                .map_or((0, 0.0), |was| (was.calls, was.total_ms));
            StatementTotals {
                query: now.query,
                calls: now.calls - calls,
                total_ms: now.total_ms - ms,
            }
        })
        .filter(|s| s.calls > 0)
        .collect();
    run.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));
    run.truncate(limit);
    run
}

#[cfg(test)]
mod statement_tests {
    use super::*;

    fn totals(query: &str, calls: i64, total_ms: f64) -> StatementTotals {
        StatementTotals {
            query: query.into(),
            calls,
            total_ms,
        }
    }

    #[test]
    fn the_busiest_statements_are_the_runs_deltas_most_first() {
        let before = [(1, totals("a", 10, 100.0)), (2, totals("b", 5, 5.0))]
            .into_iter()
            .collect();
        let after = [
            (1, totals("a", 12, 110.0)),
            (2, totals("b", 5, 5.0)),
            (3, totals("c", 4, 40.0)),
        ]
        .into_iter()
        .collect();
        let run = busiest_statements(&before, after, 5);
        assert_eq!(run, vec![totals("c", 4, 40.0), totals("a", 2, 10.0)]);
        let after_again = [(3, totals("c", 4, 40.0)), (1, totals("a", 12, 110.0))]
            .into_iter()
            .collect();
        assert_eq!(busiest_statements(&before, after_again, 1).len(), 1);
    }
}
