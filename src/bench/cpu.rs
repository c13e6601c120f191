//! CPU time of the stack's processes during a phase, read from
//! `/proc/<pid>/stat` (user + system), for figures like "CPU-seconds per
//! 1,000 dispatches" per process (`--cpu gateway=1234 --cpu trip=5678`;
//! several processes may share a name, and their times add up).

use std::collections::BTreeMap;

use anyhow::Context;

#[derive(Clone, Debug, Default)]
pub(super) struct CpuMeter {
    processes: Vec<(String, u32)>,
}

/// CPU-seconds per name at one moment.
pub(super) type CpuTimes = BTreeMap<String, f64>;

impl CpuMeter {
    /// From `name=pid` pairs.
    pub(super) fn new(specs: &[String]) -> anyhow::Result<Self> {
        let mut processes = Vec::new();
        for spec in specs {
            let (name, pid) = spec
                .split_once('=')
                .with_context(|| format!("--cpu {spec:?}: write name=pid, e.g. --cpu trip=4242"))?;
            let pid: u32 = pid
                .parse()
                .with_context(|| format!("--cpu {spec:?}: {pid:?} is not a process id"))?;
            std::fs::metadata(format!("/proc/{pid}/stat"))
                .with_context(|| format!("--cpu {spec:?}: no process {pid} on this machine"))?;
            processes.push((name.to_string(), pid));
        }
        Ok(Self { processes })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }

    pub(super) fn now(&self) -> CpuTimes {
        let ticks = clock_ticks();
        let mut times = CpuTimes::new();
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

fn clock_ticks() -> f64 {
    // `getconf CLK_TCK` is 100 on every Linux Hail runs on.
    100.0
}

/// "gateway 1.23 s, trip 0.45 s" for what each name used per `per` units
/// of `done` work between two readings.
pub(super) fn per_unit(before: &CpuTimes, after: &CpuTimes, done: u64, per: f64) -> String {
    after
        .iter()
        .map(|(name, secs)| {
            let used = secs - before.get(name).copied().unwrap_or(0.0);
            format!("{name} {:.2} s", used * per / done.max(1) as f64)
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
    fn cpu_is_given_per_unit_of_work() {
        let before = CpuTimes::from([("trip".to_string(), 1.0)]);
        let after = CpuTimes::from([("trip".to_string(), 3.0)]);
        assert_eq!(per_unit(&before, &after, 4000, 1000.0), "trip 0.50 s");
    }
}
