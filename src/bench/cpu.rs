//! CPU time of the stack's processes during a phase, read from
//! `/proc/<pid>/stat` (user + system), for figures like "CPU-seconds per
//! 1,000 dispatches" per process (`--cpu gateway=1234 --cpu trip=5678`;
//! several processes may share a name, and their times add up), or per
//! program (`--cpu postgres=comm:postgres`: every process of that command
//! name at each reading, so backends opened during the run count too).

use std::collections::BTreeMap;

use anyhow::Context;

#[derive(Clone, Debug, Default)]
pub(crate) struct CpuMeter {
    processes: Vec<(String, u32)>,
    /// (name, command name): every process whose `/proc/<pid>/comm` is it.
    programs: Vec<(String, String)>,
    machine: bool,
}

/// CPU-seconds per name at one moment.
pub(crate) type CpuTimes = BTreeMap<String, f64>;

impl CpuMeter {
    /// From `name=pid` and `name=comm:<command name>` pairs.
    pub(crate) fn new(specs: &[String]) -> anyhow::Result<Self> {
        let mut processes = Vec::new();
        let mut programs = Vec::new();
        for spec in specs {
            let (name, pid) = spec
                .split_once('=')
                .with_context(|| format!("--cpu {spec:?}: write name=pid, e.g. --cpu trip=4242"))?;
            if let Some(comm) = pid.strip_prefix("comm:") {
                programs.push((name.to_string(), comm.to_string()));
                continue;
            }
            let pid: u32 = pid
                .parse()
                .with_context(|| format!("--cpu {spec:?}: {pid:?} is not a process id"))?;
            std::fs::metadata(format!("/proc/{pid}/stat"))
                .with_context(|| format!("--cpu {spec:?}: no process {pid} on this machine"))?;
            processes.push((name.to_string(), pid));
        }
        Ok(Self {
            processes,
            programs,
            machine: false,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.processes.is_empty() && self.programs.is_empty()
    }

    /// Also times this process (`bench`) and the whole machine
    /// (`machine`, every core's busy time from `/proc/stat`), so a figure
    /// per process stands beside what the machine as a whole spent.
    pub(crate) fn with_bench_and_machine(mut self) -> Self {
        self.processes.push(("bench".into(), std::process::id()));
        self.machine = true;
        self
    }

    pub(crate) fn now(&self) -> CpuTimes {
        let ticks = clock_ticks();
        let mut times = CpuTimes::new();
        if !self.programs.is_empty() {
            for (pid, comm) in all_processes() {
                for (name, wanted) in &self.programs {
                    if *wanted == comm {
                        let secs = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                            .ok()
                            .and_then(|stat| cpu_ticks(&stat))
                            .map_or(0.0, |t| t as f64 / ticks);
                        *times.entry(name.clone()).or_default() += secs;
                    }
                }
            }
        }
        if self.machine {
            let busy = std::fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|stat| machine_busy_ticks(&stat))
                .map_or(0.0, |t| t as f64 / ticks);
            times.insert("machine".into(), busy);
        }
        for (name, pid) in &self.processes {
            let secs = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| cpu_ticks(&stat))
                .map_or(0.0, |t| t as f64 / ticks);
            *times.entry(name.clone()).or_default() += secs;
        }
        times
    }
}

/// `utime + stime` from a `/proc/<pid>/stat` line (fields 14 and 15; the
/// command name in field 2 may hold spaces, so count from its `)`).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Every process now: its pid and command name.
fn all_processes() -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            Some((pid, comm.trim_end().to_string()))
        })
        .collect()
}

/// Busy ticks of all cores (user, nice, system, irq, softirq, steal) from
/// the first line of `/proc/stat`.
fn machine_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    Some(at(0) + at(1) + at(2) + at(5) + at(6) + at(7))
}

fn clock_ticks() -> f64 {
    // `getconf CLK_TCK` is 100 on every Linux Hail runs on.
    100.0
}

/// "gateway 1.23 s, trip 0.45 s" for what each name used per `per` units
/// of `done` work between two readings.
pub(crate) fn per_unit(before: &CpuTimes, after: &CpuTimes, done: u64, per: f64) -> String {
    after
        .iter()
        .map(|(name, secs)| {
            let used = secs - before.get(name).copied().unwrap_or(0.0);
            format!("{name} {:.2} s", used * per / done.max(1) as f64)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Like [`per_unit`], with each name's background work taken out first:
/// `idle` is what it used over `idle_secs` with nothing but the background
/// running (a fleet's keep-alive pings), scaled to the `secs` the work took.
/// A negative figure is shown as measured: the background varied.
pub(crate) fn per_unit_net(
    window: (&CpuTimes, &CpuTimes, f64),
    idle: (&CpuTimes, &CpuTimes, f64),
    done: u64,
    per: f64,
) -> String {
    let (before, after, secs) = window;
    let (idle_before, idle_after, idle_secs) = idle;
    after
        .iter()
        .map(|(name, at)| {
            let used = at - before.get(name).copied().unwrap_or(0.0);
            let idle_used = idle_after.get(name).copied().unwrap_or(0.0)
                - idle_before.get(name).copied().unwrap_or(0.0);
            let background = idle_used / idle_secs.max(f64::EPSILON) * secs;
            format!(
                "{name} {:.2} s",
                (used - background) * per / done.max(1) as f64
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_system_time_are_read_past_a_name_with_spaces() {
        let stat = "4242 (hail serve) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn the_machine_busy_time_leaves_out_idle_and_iowait() {
        let stat = "cpu  100 5 20 9000 300 1 2 3 0 0\ncpu0 50 2 10 4500 150 0 1 1 0 0\n";
        assert_eq!(machine_busy_ticks(stat), Some(131));
        assert_eq!(machine_busy_ticks("intr 1 2 3"), None);
    }

    #[test]
    fn cpu_is_given_per_unit_of_work() {
        let before = CpuTimes::from([("trip".to_string(), 1.0)]);
        let after = CpuTimes::from([("trip".to_string(), 3.0)]);
        assert_eq!(per_unit(&before, &after, 4000, 1000.0), "trip 0.50 s");
    }

    #[test]
    fn background_work_is_taken_out_at_its_idle_rate() {
        let times = |pairs: &[(&str, f64)]| -> CpuTimes {
            pairs.iter().map(|(n, s)| (n.to_string(), *s)).collect()
        };
        // Idle: redis used 1 s in 5 s (0.2 s a second). The work took 10 s
        // and redis used 5 s over it: 3 s of it was the work.
        let idle = (&times(&[("redis", 10.0)]), &times(&[("redis", 11.0)]), 5.0);
        let before = times(&[("redis", 20.0), ("trip", 1.0)]);
        let after = times(&[("redis", 25.0), ("trip", 4.0)]);
        assert_eq!(
            per_unit_net((&before, &after, 10.0), idle, 1_000, 1_000.0),
            "redis 3.00 s, trip 3.00 s"
        );
        assert_eq!(
            per_unit(&before, &after, 1_000, 1_000.0),
            "redis 5.00 s, trip 3.00 s"
        );
    }
}
