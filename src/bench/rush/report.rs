//! The rush bench's table: one row per figure, the target beside it where
//! the issue sets one. The stack's own figures are the run's deltas of its
//! /metrics and Postgres counters; histograms are read to their bucket.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use sqlx::PgPool;
use uuid::Uuid;

use super::{
    calls::Calls,
    drivers::Crew,
    ledger::{Freed, Ledger, Tally},
    plan::Area,
    server::{self, bucket_delta, bucket_ms, bucket_quantile, Scrape, StatementTotals},
    RushArgs,
};
use crate::{
    bench::{
        cpu::{per_unit, CpuMeter, CpuTimes},
        latency::{ms, Latencies},
    },
    simulate::api::{Api, Session},
};

/// Statements listed under the table, by Postgres time in the run.
const STATEMENTS_LISTED: usize = 8;

/// Doubles listed under the table by their trips (all are counted).
const MAX_DOUBLES_LISTED: usize = 5;

/// The stack's counters before the run.
pub(super) struct Before {
    scrape: Scrape,
    cpu: CpuTimes,
    at: Instant,
    rows: Option<server::RowCounters>,
    statements: Option<HashMap<i64, StatementTotals>>,
}

impl Before {
    pub(super) async fn read(
        args: &RushArgs,
        pool: Option<&PgPool>,
        cpu: &CpuMeter,
    ) -> anyhow::Result<Self> {
        let (rows, statements) = match pool {
            Some(pool) => (
                Some(server::row_counters(pool).await?),
                server::statement_totals(pool).await,
            ),
            None => (None, None),
        };
        Ok(Self {
            scrape: Scrape::read(&args.trip_metrics).await?,
            cpu: cpu.now(),
            at: Instant::now(),
            rows,
            statements,
        })
    }
}

/// Trips never offered, by what became of them.
#[derive(Default)]
pub(super) struct Lost {
    /// Free zone, still REQUESTED: a free driver stood at the pickup.
    pub(super) free_zone: usize,
    /// Hotspot, still REQUESTED past the match deadline.
    pub(super) hotspot: usize,
    /// Hotspot, given up by the stack (NO_DRIVER) without an offer.
    pub(super) no_driver: usize,
}

/// The run's figures from the stack.
pub(super) struct Run {
    stack: Vec<(String, String)>,
    /// Where Postgres spent the run (`pg_stat_statements`, when installed).
    statements: Vec<StatementTotals>,
    requested: usize,
    peak_db: Option<i64>,
    pub(super) lost: Lost,
}

impl Run {
    pub(super) async fn after(
        args: &RushArgs,
        pool: Option<&PgPool>,
        before: Before,
        requested: usize,
        peak_db: Option<i64>,
        cpu: &CpuMeter,
    ) -> anyhow::Result<Self> {
        let cpu_now = cpu.now();
        let secs = before.at.elapsed().as_secs_f64();
        let rows = match (pool, before.rows) {
            (Some(pool), Some(was)) => Some(server::settled_row_counters(pool).await? - was),
            _ => None,
        };
        let statements = match (pool, &before.statements) {
            (Some(pool), Some(was)) => server::statement_totals(pool)
                .await
                .map(|now| server::busiest_statements(was, now, STATEMENTS_LISTED))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let after = Scrape::read(&args.trip_metrics).await?;
        let per_trip = |n: f64| format!("{:.1}", n / requested.max(1) as f64);
        let mut stack = Vec::new();
        let hist = |name: &str, filter: &[(&str, &str)], q: f64| {
            let run = bucket_delta(
                &before.scrape.buckets(name, filter),
                &after.buckets(name, filter),
            );
            bucket_ms(bucket_quantile(&run, q))
        };
        let p50_p99 = |name: &str, filter: &[(&str, &str)]| {
            format!("{} / {}", hist(name, filter, 0.5), hist(name, filter, 0.99))
        };
        let pass = "dispatch_pass_duration_seconds";
        stack.push(("matcher pass p50 (bucket)".into(), hist(pass, &[], 0.5)));
        stack.push(("matcher pass p99 (bucket)".into(), hist(pass, &[], 0.99)));
        for matcher in ["fresh", "queue"] {
            stack.push((
                format!("{matcher} matcher pass p50 / p99 (bucket)"),
                p50_p99(pass, &[("matcher", matcher)]),
            ));
        }
        for step in [
            "wake",
            "pick",
            "settle",
            "search",
            "queue_ahead",
            "claim",
            "reschedule",
            "commit",
            "finish_wait",
        ] {
            stack.push((
                format!("pass step {step} p50 / p99 (bucket)"),
                p50_p99("dispatch_step_duration_seconds", &[("step", step)]),
            ));
        }
        let passes = after.sum("dispatch_pass_duration_seconds_count", &[])
            - before
                .scrape
                .sum("dispatch_pass_duration_seconds_count", &[]);
        let picked = after.sum("dispatch_pass_trips_total", &[])
            - before.scrape.sum("dispatch_pass_trips_total", &[]);
        let misses = |kind: &str| {
            after.sum("dispatch_misses_total", &[("kind", kind)])
                - before
                    .scrape
                    .sum("dispatch_misses_total", &[("kind", kind)])
        };
        stack.push((
            "trips a pass found no driver for: yielded / contended / widened or backed off".into(),
            format!(
                "{:.0} / {:.0} / {:.0}",
                misses("yield"),
                misses("contended"),
                misses("widen")
            ),
        ));
        stack.push((
            "matcher passes / trips picked per pass (mean)".into(),
            format!("{passes:.0} / {:.1}", picked / passes.max(1.0)),
        ));
        for pool_name in ["trip", "trip_background"] {
            let wait = hist(
                "db_pool_wait_duration_seconds",
                &[("pool", pool_name)],
                0.99,
            );
            stack.push((format!("pool wait p99, pool {pool_name} (bucket)"), wait));
        }
        let delta = |name: &str| after.sum(name, &[]) - before.scrape.sum(name, &[]);
        stack.push((
            "dispatch_failures_total (run)".into(),
            format!("{:.0}", delta("dispatch_failures_total")),
        ));
        stack.push((
            "Postgres statements per trip (db_statements_total, whole process)".into(),
            per_trip(delta("db_statements_total")),
        ));
        if let Some(rows) = rows {
            stack.push((
                "Postgres row writes per trip (pg_stat_user_tables)".into(),
                per_trip(rows.writes as f64),
            ));
            stack.push((
                "Postgres rows read by sequential scans per trip (pg_stat_user_tables)".into(),
                per_trip(rows.seq_reads as f64),
            ));
        }
        stack.push((
            "CPU-seconds per 1,000 trips requested (run, from /proc)".into(),
            per_unit(&before.cpu, &cpu_now, requested as u64, 1_000.0),
        ));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let machine = cpu_now.get("machine").copied().unwrap_or(0.0)
            - before.cpu.get("machine").copied().unwrap_or(0.0);
        stack.push((
            "machine busy (all processes, share of every core)".into(),
            format!(
                "{:.0} % of {cores:.0} cores for {secs:.0} s",
                100.0 * machine / (secs * cores).max(f64::EPSILON)
            ),
        ));
        Ok(Self {
            stack,
            statements,
            requested,
            peak_db,
            lost: Lost::default(),
        })
    }

    /// Rows of the run's raw round trips, shown first among the stack's.
    pub(super) fn add_ceiling(&mut self, rows: Vec<(String, String)>) {
        self.stack.splice(0..0, rows);
    }

    pub(super) fn print(self, args: &RushArgs, crew: &Crew, keepalive_failures: usize) {
        let Some(tally) = crew.ledger.take_tally() else {
            eprintln!("[rush] the ledger was poisoned: no table");
            return;
        };
        let mut t = Table::default();
        self.demand(&mut t, args, &tally);
        latencies(&mut t, &tally);
        for (measure, value) in self.stack {
            t.row(measure, value, "");
        }
        answers(&mut t, &crew.calls, keepalive_failures);
        t.row(
            "double offers/assignments (a driver offered a trip while holding another)",
            tally.doubles.len().to_string(),
            "0",
        );
        t.row(
            "free-zone trips never offered, still REQUESTED at the end (starved or lost)",
            self.lost.free_zone.to_string(),
            "0",
        );
        t.row(
            "lost: hotspot trips never offered, still REQUESTED past the deadline",
            self.lost.hotspot.to_string(),
            "0",
        );
        t.print();
        print_statements(&self.statements);
        for d in tally.doubles.iter().take(MAX_DOUBLES_LISTED) {
            let held = match d.left {
                Some(left) => format!(
                    "holding an offer of {} ({} ms still to run)",
                    d.held,
                    left.as_millis()
                ),
                None => format!("riding {}", d.held),
            };
            println!(
                "double: watched driver {} heard an offer of {} while {held}",
                d.driver, d.offered
            );
        }
    }

    fn demand(&self, t: &mut Table, args: &RushArgs, tally: &Tally) {
        let n = |area| tally.requested.get(&area).copied().unwrap_or(0);
        t.row(
            "trips requested (hotspot / free zone)",
            format!(
                "{} of {} ({} / {})",
                n(Area::Hotspot) + n(Area::Free),
                self.requested,
                n(Area::Hotspot),
                n(Area::Free)
            ),
            format!("{}/s for {} s", args.rate, args.secs),
        );
        t.row(
            "offers heard by watched drivers",
            tally.offers.to_string(),
            "",
        );
        let peak = |area| tally.peak_waiting.get(&area).copied().unwrap_or(0);
        t.row(
            "peak trips waiting at once, hotspot (client: no open offer)",
            peak(Area::Hotspot).to_string(),
            ">= 1000",
        );
        if let Some(db) = self.peak_db {
            t.row(
                "peak trips REQUESTED at once (Postgres, sampled each second)",
                db.to_string(),
                "",
            );
        }
        t.row(
            "hotspot trips given up without an offer (NO_DRIVER)",
            format!(
                "{} (client saw {} wait past the deadline)",
                self.lost.no_driver, tally.past_deadline
            ),
            "",
        );
        t.row(
            "free-zone requests with no known-free driver (not timed)",
            tally.unplaced.to_string(),
            "",
        );
    }
}

fn latencies(t: &mut Table, tally: &Tally) {
    let q = |l: &Latencies, name: &str, target: &str, t: &mut Table| {
        t.row(
            format!("{name} p50 (n = {})", l.len()),
            ms(l.percentile(0.5)),
            "",
        );
        t.row(format!("{name} p99"), ms(l.percentile(0.99)), target);
    };
    if let Some(free) = tally.times.get(&Area::Free) {
        q(
            &free.first_offer,
            "request -> first offer, trip at a free driver",
            "< 50 ms",
            t,
        );
        q(
            &free.decline_next,
            "decline sent -> next offer, free zone",
            "",
            t,
        );
    }
    q(
        &tally.freed_to_offer,
        "hotspot driver freed -> its next offer, a starved trip could use it",
        "< 100 ms",
        t,
    );
    for why in Freed::ALL {
        if let Some(by) = tally.freed_by.get(&why).filter(|l| l.len() > 0) {
            q(by, &format!("... of which freed by: {}", why.name()), "", t);
        }
    }
    if let Some(hot) = tally.times.get(&Area::Hotspot) {
        q(
            &hot.first_offer,
            "request -> first offer, hotspot (queue wait)",
            "",
            t,
        );
        q(
            &hot.decline_next,
            "decline sent -> next offer, hotspot",
            "",
            t,
        );
    }
}

fn answers(t: &mut Table, calls: &Calls, keepalive_failures: usize) {
    let by_status: Vec<String> = calls
        .server_errors()
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    let shown = if by_status.is_empty() {
        "0".to_string()
    } else {
        by_status.join(", ")
    };
    t.row(
        "5xx answers to the bench's trip calls, by status",
        shown,
        "0 (except fast 503s)",
    );
    t.row(
        "503s that carried Retry-After",
        Calls::get(&calls.retry_after_503).to_string(),
        "",
    );
    t.row(
        "calls with no answer (transport)",
        Calls::get(&calls.transport).to_string(),
        "0",
    );
    t.row(
        "keep-alive pings failed (5xx or no answer)",
        keepalive_failures.to_string(),
        "0",
    );
    t.row(
        "trip requests refused",
        Calls::get(&calls.requests_refused).to_string(),
        "0",
    );
    t.row(
        "rider cancels answered / retried after 503 / lost",
        format!(
            "{} / {} / {}",
            Calls::get(&calls.cancels_answered),
            Calls::get(&calls.cancels_retried),
            Calls::get(&calls.cancels_lost)
        ),
        "lost 0",
    );
}

/// Looks up every trip never offered: REQUESTED in the free zone, or in
/// the hotspot past the match deadline (plus 5 s), is lost.
pub(super) async fn lost(api: &Api, riders: &[Session], ledger: &Ledger, args: &RushArgs) -> Lost {
    let mut lost = Lost::default();
    let deadline = Duration::from_secs(args.match_deadline_secs + 5);
    for (trip, rider, area, age) in ledger.never_offered() {
        let Some(rider) = riders.get(rider) else {
            continue;
        };
        let Ok(t) = api
            .get::<hail_shared::api::trips::Trip>(&format!("/trips/{trip}"), rider)
            .await
        else {
            continue;
        };
        match (t.status.as_str(), area) {
            ("REQUESTED", Area::Free) => lost.free_zone += 1,
            ("REQUESTED", Area::Hotspot) if age >= deadline => lost.hotspot += 1,
            ("NO_DRIVER", _) => lost.no_driver += 1,
            _ => {}
        }
    }
    lost
}

/// Each trip with its rider's token, for cancelling.
pub(super) fn with_tokens(riders: &[Session], open: Vec<(Uuid, usize)>) -> Vec<(Uuid, String)> {
    open.into_iter()
        .filter_map(|(trip, k)| riders.get(k).map(|r| (trip, r.token())))
        .collect()
}

/// Where Postgres spent the run, when `pg_stat_statements` could say.
fn print_statements(statements: &[StatementTotals]) {
    if statements.is_empty() {
        return;
    }
    println!(
        "\n| statement (pg_stat_statements, this run) | calls | total | mean |\n|---|---|---|---|"
    );
    for s in statements {
        let query = s.query.split_whitespace().collect::<Vec<_>>().join(" ");
        let query: String = query.chars().take(90).collect();
        println!(
            "| `{}` | {} | {:.0} ms | {:.2} ms |",
            query.replace('|', "\\|"),
            s.calls,
            s.total_ms,
            s.total_ms / s.calls.max(1) as f64
        );
    }
}

#[derive(Default)]
struct Table(Vec<[String; 3]>);

impl Table {
    fn row(
        &mut self,
        measure: impl Into<String>,
        value: impl Into<String>,
        target: impl Into<String>,
    ) {
        self.0.push([measure.into(), value.into(), target.into()]);
    }

    fn print(self) {
        println!("\n| measure | this run | target |\n|---|---|---|");
        for [m, v, t] in self.0 {
            println!("| {m} | {v} | {t} |");
        }
        println!("\nStack figures (matcher pass, pool wait) are bucket bounds of the run's histogram deltas (buckets 1, 2.5, 5, 10, 25, 50, 100, 250 ms ...). Decline and freed-driver times run from sending the decline or completion (so they include that call), or from an ignored offer's expires_at; a freed driver is timed only if a hotspot trip had waited {} s with no offer and was never offered it.", super::ledger::STARVED.as_secs());
    }
}
