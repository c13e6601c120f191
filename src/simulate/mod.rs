//! `hail simulate`: a living city through Hail's public API only. Drivers
//! register (or log in: emails come from the seed), go online, drive around
//! the box pinging over Socket.IO and answer offers; riders request trips at
//! a steady rate. A progress line runs on stderr, a summary table ends the
//! run, and the exit code says whether every invariant held (see
//! [`invariants`]).

pub(crate) mod api;
mod driver;
pub mod geo;
pub mod invariants;
mod rider;
mod world;

use std::{
    io::{IsTerminal, Write},
    sync::Arc,
    time::Duration,
};

use anyhow::bail;
use futures::{stream, StreamExt};
use rand::{rngs::StdRng, Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

pub use self::invariants::Violation;
use self::{
    api::Api,
    geo::BBox,
    invariants::StuckRule,
    world::{Snapshot, World},
};

const LONG_ABOUT: &str = "\
Fills a city with simulated drivers and riders through the gateway's public API only.

Drivers register, or log in when a run with the same --seed made them (emails are
sim<seed>-driver-<n>@sim.hail.test), set a vehicle when they have none, go online, and drive around the box at 20 to 60 km/h,
pinging `driver:location` over Socket.IO every 2 to 4 s. An `offer` is acknowledged at once
(the Socket.IO ack the driver app gives), then accepted after a random --accept-delay,
declined (--decline-prob) or ignored (--ignore-prob); --unreachable gives a fraction of the
drivers phones that never answer (half never ack an offer, half drop their socket as it
arrives and reconnect 10 s later), which Hail should skip within HAIL_OFFER_ACK_MS or the
reconnect grace. An accepted
trip is driven to the pickup, arrived at (`arrive`), started (with the rider's pickup PIN
when the city asks for one: the driver asks the rider), driven to the dropoff and completed.
In auto match mode drivers learn their assignment from `trip:update`. Riders request trips
at --rate per minute between random points in the box; a rider with a trip still active
waits, and rates about half of the completed trips. The summary adds the mean final fare,
the mean error of the backend's pickup ETA (its first figure after assignment against the
time the driver took to arrive) and the starts refused for a wrong PIN (0 expected).

Invariants (any broken one makes the exit code 1, each is listed on stderr):
  - no driver is on two active trips at once (judged from the server's assigned_at and
    completed_at/cancelled_at), and no trip is accepted by two drivers;
  - no trip is stuck: REQUESTED for longer than --match-deadline + --offer-timeout + 15 s
    (the matcher must have assigned it or ended it NO_DRIVER by then), or ASSIGNED/ONGOING
    for more than 30 s with no simulated driver working on it.
Pass the stack's HAIL_MATCH_DEADLINE_SECS and HAIL_OFFER_TIMEOUT_SECS as --match-deadline
and --offer-timeout if it does not run with the defaults.

Runs until --duration or Ctrl-C, then prints the summary.";

#[derive(clap::Parser, Debug, Clone)]
#[command(name = "hail simulate", about = "Simulate drivers and riders against a running Hail", long_about = LONG_ABOUT)]
pub struct SimulateArgs {
    /// The gateway to drive.
    #[arg(long, default_value = "http://localhost:3000")]
    pub gateway: String,
    /// Simulated drivers.
    #[arg(long, default_value_t = 100)]
    pub drivers: usize,
    /// Simulated riders (each has at most one trip at a time).
    #[arg(long, default_value_t = 100)]
    pub riders: usize,
    /// Trip requests per minute, across all riders.
    #[arg(long, default_value_t = 30.0, value_parser = positive)]
    pub rate: f64,
    /// Seconds to run (default: until Ctrl-C).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub duration: Option<u64>,
    /// Same seed, same city: accounts, positions, trips and choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The box to play in: min_lat,min_lng,max_lat,max_lng (default: 30 km around Singapore).
    #[arg(long, default_value_t = BBox::SINGAPORE, allow_hyphen_values = true)]
    pub bbox: BBox,
    /// Seconds a driver waits before accepting: `MIN-MAX` (uniform) or one number.
    #[arg(long, default_value = "1-4", value_parser = delay_range)]
    pub accept_delay: (f64, f64),
    /// Chance a driver declines an offer.
    #[arg(long, default_value_t = 0.1, value_parser = probability)]
    pub decline_prob: f64,
    /// Chance a driver ignores an offer (it then times out).
    #[arg(long, default_value_t = 0.05, value_parser = probability)]
    pub ignore_prob: f64,
    /// Fraction of drivers whose phone does not answer offers: half never
    /// acknowledge one (a connected phone not listening), half lose their
    /// connection as it arrives. Hail should skip them within
    /// HAIL_OFFER_ACK_MS or the reconnect grace, not the offer timeout.
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub unreachable: f64,
    /// Simulated time runs this many times faster than real time when cars
    /// move (pings stay every 2 to 4 real seconds): trips end sooner.
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    pub speedup: f64,
    /// The stack's HAIL_MATCH_DEADLINE_SECS (for the stuck-trip rule).
    #[arg(long, default_value_t = 60)]
    pub match_deadline: u64,
    /// The stack's HAIL_OFFER_TIMEOUT_SECS (for the stuck-trip rule).
    #[arg(long, default_value_t = 15)]
    pub offer_timeout: u64,
    /// Sign-ups/logins in flight at once (each hashes a password on the server).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub setup_concurrency: u64,
    /// No live progress line.
    #[arg(long)]
    pub quiet: bool,
}

impl SimulateArgs {
    /// Parses the flags as `hail simulate` would (without the program name).
    pub fn from_flags<I, T>(flags: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        Self::try_parse_from(
            std::iter::once("hail simulate".into()).chain(flags.into_iter().map(Into::into)),
        )
    }
}

fn positive(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(format!("{s} must be a number above 0"))
    }
}

fn probability(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(format!(
            "{s} is not a probability: use a number from 0 to 1"
        ))
    }
}

fn delay_range(s: &str) -> Result<(f64, f64), String> {
    let secs = |v: &str| -> Result<f64, String> {
        let x: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("{v:?} is not a number of seconds"))?;
        if x.is_finite() && (0.0..=3600.0).contains(&x) {
            Ok(x)
        } else {
            Err(format!("{v} must be between 0 and 3600 seconds"))
        }
    };
    let (min, max) = match s.split_once('-') {
        Some((a, b)) => (secs(a)?, secs(b)?),
        None => (secs(s)?, secs(s)?),
    };
    if min > max {
        return Err(format!("{s}: MIN must not be above MAX (e.g. 1-4)"));
    }
    Ok((min, max))
}

/// What the actors need from the flags.
pub struct Settings {
    pub bbox: BBox,
    pub rate: f64,
    pub seed: u64,
    pub accept_delay: (f64, f64),
    pub decline_prob: f64,
    pub ignore_prob: f64,
    pub speedup: f64,
    /// Fraction of drivers whose phone does not answer offers.
    pub unreachable: f64,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct Report {
    pub figures: Snapshot,
    pub offers: u64,
    pub accepted: u64,
    pub declined: u64,
    pub ignored: u64,
    pub repeated_offers: u64,
    pub offers_while_busy: u64,
    pub offer_expired: u64,
    pub revoked_unreachable: u64,
    pub pings: u64,
    pub ping_errors: u64,
    pub pings_lost: u64,
    pub sockets_closed: u64,
    pub request_conflicts: u64,
    pub riders_all_busy: u64,
    pub unexpected: u64,
    pub pin_failures: u64,
    pub arrivals: u64,
    pub ratings: u64,
    pub errors: Vec<String>,
    pub violations: Vec<Violation>,
}

impl Report {
    /// The summary as a markdown table.
    pub fn table(&self) -> String {
        let f = &self.figures;
        let rows: Vec<(&str, String)> = vec![
            ("seconds run", format!("{:.0}", f.secs)),
            (
                "trips requested (or found active and resumed)",
                f.requested.to_string(),
            ),
            ("trips assigned", f.assigned.to_string()),
            ("trips completed", f.completed.to_string()),
            ("trips ended with no driver", f.no_driver.to_string()),
            ("trips cancelled", f.cancelled.to_string()),
            ("trips still active at the end", f.in_progress.to_string()),
            (
                "mean pickup distance",
                f.mean_pickup_km
                    .map_or("n/a".into(), |km| format!("{km:.2} km")),
            ),
            (
                "mean final fare",
                if f.mean_fares.is_empty() {
                    "n/a".into()
                } else {
                    f.mean_fares
                        .iter()
                        .map(|(currency, cents, n)| {
                            format!(
                                "{currency} {} ({n} trips)",
                                hail_shared::api::fares::Money(*cents)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
            (
                "mean pickup ETA error (backend ETA at assignment vs arrival)",
                f.mean_eta_error_secs.map_or("n/a".into(), |(secs, n)| {
                    format!("{secs:.0} s over {n} arrivals")
                }),
            ),
            (
                "arrivals / PIN failures (0 expected) / ratings given",
                format!(
                    "{} / {} / {}",
                    self.arrivals, self.pin_failures, self.ratings
                ),
            ),
            ("offers received", self.offers.to_string()),
            (
                "offers accepted / declined / ignored",
                format!("{} / {} / {}", self.accepted, self.declined, self.ignored),
            ),
            (
                "offers gone before the answer (409)",
                self.offer_expired.to_string(),
            ),
            (
                "offers revoked as unreachable (a phone that did not answer)",
                self.revoked_unreachable.to_string(),
            ),
            (
                "offers repeated for a trip already held",
                self.repeated_offers.to_string(),
            ),
            (
                "offers for another trip while holding one",
                self.offers_while_busy.to_string(),
            ),
            (
                "location pings (refused)",
                format!("{} ({})", self.pings, self.ping_errors),
            ),
            (
                "pings lost with their socket / driver sockets closed",
                format!("{} / {}", self.pings_lost, self.sockets_closed),
            ),
            (
                "requests refused active_trip_exists",
                self.request_conflicts.to_string(),
            ),
            (
                "request slots with every rider busy",
                self.riders_all_busy.to_string(),
            ),
            ("unexpected errors", self.unexpected.to_string()),
            ("invariant violations", self.violations.len().to_string()),
        ];
        let mut out = String::from("| measure | value |\n|---|---|\n");
        for (k, v) in rows {
            out.push_str(&format!("| {k} | {v} |\n"));
        }
        out
    }
}

fn progress_line(s: &Snapshot) -> String {
    format!(
        "[{:>5.0} s] drivers online {} | requested {} | assigned {} | completed {} | no driver {} | mean pickup {}",
        s.secs,
        s.drivers_online,
        s.requested,
        s.assigned,
        s.completed,
        s.no_driver,
        s.mean_pickup_km.map_or("n/a".into(), |km| format!("{km:.2} km")),
    )
}

/// Runs the simulation until `--duration` passes or `stop` is cancelled.
pub async fn run(args: SimulateArgs, stop: CancellationToken) -> anyhow::Result<Report> {
    if args.decline_prob + args.ignore_prob > 1.0 {
        bail!(
            "--decline-prob {} plus --ignore-prob {} is above 1: lower one of them",
            args.decline_prob,
            args.ignore_prob
        );
    }
    if args.drivers == 0 && args.riders == 0 {
        bail!("nothing to simulate: give --drivers and/or --riders above 0");
    }
    let api = Api::new(&args.gateway)?;
    api.ready().await?;
    let settings = Arc::new(Settings {
        bbox: args.bbox,
        rate: args.rate,
        seed: args.seed,
        accept_delay: args.accept_delay,
        decline_prob: args.decline_prob,
        ignore_prob: args.ignore_prob,
        speedup: args.speedup,
        unreachable: args.unreachable,
    });
    let rule = StuckRule::new(
        Duration::from_secs(args.match_deadline),
        Duration::from_secs(args.offer_timeout),
    );
    let say = |line: String| {
        if !args.quiet {
            eprintln!("{line}");
        }
    };

    say(format!(
        "hail simulate: signing in {} drivers and {} riders (seed {}; each sign-in hashes a password on the server)",
        args.drivers, args.riders, args.seed
    ));
    let password = format!("sim-{}-password", args.seed);
    let accounts: Vec<(bool, usize)> = (0..args.drivers)
        .map(|i| (true, i))
        .chain((0..args.riders).map(|i| (false, i)))
        .collect();
    let total = accounts.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let signed: Vec<anyhow::Result<(bool, api::Session)>> = stream::iter(accounts)
        .map(|(is_driver, i)| {
            let (api, password, done) = (&api, &password, &done);
            let seed = args.seed;
            let quiet = args.quiet;
            async move {
                let role = if is_driver { "driver" } else { "rider" };
                let email = format!("sim{seed}-{role}-{i}@sim.hail.test");
                let name = format!("Sim {role} {i}");
                let session = api.register_or_login(&email, password, &name, role).await?;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if !quiet && (n % 100 == 0 || n == total) {
                    eprintln!("  {n}/{total} signed in");
                }
                Ok((is_driver, session))
            }
        })
        .buffered(args.setup_concurrency as usize)
        .collect()
        .await;
    let mut drivers = Vec::with_capacity(args.drivers);
    let mut riders = Vec::with_capacity(args.riders);
    for result in signed {
        let (is_driver, session) = result?;
        if is_driver {
            drivers.push(session);
        } else {
            riders.push(session);
        }
    }

    let world = Arc::new(World::new(rule));
    let actors = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    say(format!(
        "hail simulate: {} drivers going online",
        drivers.len()
    ));
    for (i, session) in drivers.into_iter().enumerate() {
        let mut rng =
            StdRng::seed_from_u64(args.seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
        let pos = settings.bbox.random_point(&mut rng);
        let phone = if rng.gen::<f64>() >= settings.unreachable {
            driver::Phone::Healthy
        } else if rng.gen::<bool>() {
            driver::Phone::Silent
        } else {
            driver::Phone::Dropping
        };
        let me = driver::Driver {
            session,
            rng,
            pos,
            phone,
        };
        let (api, world, settings, stop) =
            (api.clone(), world.clone(), settings.clone(), actors.clone());
        tasks.spawn(async move {
            if let Err(err) = driver::run(me, api, world.clone(), settings, stop).await {
                world.error(format!("{err:#}"));
            }
        });
        // Spread connects and first pings so the gateway sees a city, not a storm.
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let tokens: std::collections::HashMap<uuid::Uuid, api::Session> =
        riders.iter().map(|r| (r.id, r.clone())).collect();
    if !riders.is_empty() {
        let (api, world, settings, stop) =
            (api.clone(), world.clone(), settings.clone(), actors.clone());
        tasks.spawn(rider::run(riders, api, world, settings, stop));
    }

    let tty = std::io::stderr().is_terminal();
    let deadline = args
        .duration
        .map(|d| tokio::time::Instant::now() + Duration::from_secs(d));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut ticks = 0u64;
    loop {
        let end = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => break,
            () = end => break,
            _ = tick.tick() => {
                ticks += 1;
                world.check_stuck();
                if !args.quiet {
                    let line = progress_line(&world.snapshot());
                    if tty {
                        eprint!("\r{line}\x1b[K");
                        let _ = std::io::stderr().flush();
                    } else if ticks.is_multiple_of(5) {
                        eprintln!("{line}");
                    }
                }
            }
        }
    }
    if tty && !args.quiet {
        eprintln!();
    }
    say("hail simulate: stopping".into());
    actors.cancel();
    while tasks.join_next().await.is_some() {}
    // One last look at every trip still open, so the checks judge the
    // server's final word rather than a poll from seconds ago.
    let open = world.open_trips();
    stream::iter(open)
        .for_each_concurrent(16, |(trip, rider)| {
            let (api, world, tokens) = (&api, &world, &tokens);
            async move {
                let Some(token) = tokens.get(&rider) else {
                    return;
                };
                if let Ok(now) = api.get(&format!("/trips/{trip}"), token).await {
                    world.observe(&now);
                }
            }
        })
        .await;
    world.check_stuck();

    let c = &world.counters;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    Ok(Report {
        figures: world.snapshot(),
        offers: load(&c.offers),
        accepted: load(&c.accepted),
        declined: load(&c.declined),
        ignored: load(&c.ignored),
        repeated_offers: load(&c.repeated_offers),
        offers_while_busy: load(&c.offers_while_busy),
        offer_expired: load(&c.offer_expired),
        revoked_unreachable: load(&c.revoked_unreachable),
        pings: load(&c.pings),
        ping_errors: load(&c.ping_errors),
        pings_lost: load(&c.pings_lost),
        sockets_closed: load(&c.sockets_closed),
        request_conflicts: load(&c.request_conflicts),
        riders_all_busy: load(&c.riders_all_busy),
        unexpected: load(&c.unexpected),
        pin_failures: load(&c.pin_failures),
        arrivals: load(&c.arrivals),
        ratings: load(&c.ratings),
        errors: world.errors(),
        violations: world.violations(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_issue() {
        let args = SimulateArgs::from_flags(Vec::<String>::new()).unwrap();
        assert_eq!(args.gateway, "http://localhost:3000");
        assert_eq!(args.bbox, BBox::SINGAPORE);
        assert_eq!(args.duration, None);
        let args =
            SimulateArgs::from_flags(["--bbox", "-1.5,-2,1,2", "--accept-delay", "3"]).unwrap();
        assert_eq!(args.bbox.min_lat, -1.5);
        assert_eq!(args.accept_delay, (3.0, 3.0));
    }

    #[test]
    fn bad_flags_say_what_is_wrong() {
        for (flags, says) in [
            (vec!["--bbox", "1,2,3"], "4 comma-separated"),
            (vec!["--rate", "0"], "above 0"),
            (vec!["--decline-prob", "1.5"], "probability"),
            (vec!["--accept-delay", "5-1"], "MIN must not be above MAX"),
            (vec!["--accept-delay", "x"], "not a number of seconds"),
            (vec!["--duration", "0"], "duration"),
            (
                vec!["--drivers", "many"],
                "invalid value 'many' for '--drivers",
            ),
        ] {
            let err = SimulateArgs::from_flags(flags.clone())
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{flags:?}: {err}");
        }
    }

    #[tokio::test]
    async fn probabilities_above_one_together_are_refused() {
        let args =
            SimulateArgs::from_flags(["--decline-prob", "0.7", "--ignore-prob", "0.5"]).unwrap();
        let err = run(args, CancellationToken::new()).await.unwrap_err();
        assert!(err.to_string().contains("above 1"), "{err}");
    }
}
