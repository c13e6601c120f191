//! `hail`: one binary for every part of Hail.
//!
//! - `hail serve all|gateway|user|driver|trip` runs services (each on its own port)
//! - `hail migrate` creates the database if needed and applies all migrations
//! - `hail bench realtime|ingest|dispatch|redispatch|rush` measures a running stack
//! - `hail simulate` fills a running stack with simulated drivers and riders

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hail::{
    bench, simulate,
    stack::{self, Service},
};
use hail_shared::{config::Config, startup, telemetry};
use tokio_util::sync::CancellationToken;

/// glibc's malloc was 37 % of the driver service's CPU and ~18 % of the
/// gateway's under socket ingest (`perf`, `hail bench dense`): many small
/// short-lived buffers per ping, freed on other threads, and
/// `malloc_consolidate` whenever a larger body came by. mimalloc's
/// thread-local free lists take that away.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "hail", version, about = "Hail: a ride-hailing backend")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run services until SIGTERM or Ctrl-C. Configuration comes from the
    /// environment (see README.md).
    Serve {
        /// `all`, or one service.
        #[arg(default_value = "all")]
        which: Which,
    },
    /// Create the database if it is missing and apply every service's migrations.
    Migrate,
    /// Measure a running Hail through its public API; prints a markdown table.
    Bench {
        #[command(subcommand)]
        what: Bench,
    },
    /// Simulate drivers and riders against a running Hail (see `hail simulate --help`).
    Simulate(simulate::SimulateArgs),
    /// Accounts only an operator makes.
    Users {
        #[command(subcommand)]
        what: Users,
    },
}

#[derive(Subcommand)]
enum Users {
    /// Make a support account (reads any trip's audit trail and any
    /// driver's dispatches). The password is read from standard input
    /// (its first line), never from the command line:
    /// `printf '%s\n' "$PASSWORD" | hail users add-support --email ... --name ...`
    AddSupport {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// From a driver's ping to the rider's socket, and idle sockets per gateway.
    Realtime(bench::RealtimeArgs),
    /// Location pings/s through the gateway with a city of online drivers.
    Ingest(bench::CityArgs),
    /// Trip request -> `offer` on the driver's socket (offer mode), or ->
    /// ASSIGNED on it when the stack runs with HAIL_MATCH_MODE=auto: restart
    /// the stack in that mode and run this again for the auto row.
    Dispatch(bench::CityArgs),
    /// Decline -> the next driver's `offer` (offer mode only).
    Redispatch(bench::CityArgs),
    /// Ingest, dispatch and redispatch on one city, in one table.
    All(bench::CityArgs),
    /// A dense city (issue 16): filler drivers added straight into the
    /// stack's index and Postgres (10 k, 100 k, 1 M), the candidate search
    /// timed at each step, then the whole city bench and socket ingest.
    Dense(bench::DenseArgs),
    /// Rush hour (issue 21): offers ignored, declined and accepted, riders
    /// cancelling, a hotspot where trips wait (offer mode, 3 s offer timeout).
    Rush(bench::RushArgs),
    /// Greedy against batched matching (issue 18): one seeded rush hour
    /// replayed on a fresh in-process stack per strategy; no running Hail needed.
    Matching(bench::MatchingArgs),
    /// Unreachable phones with and without delivery acks (issue 19): one
    /// seeded city replayed on a fresh in-process stack per setting; no
    /// running Hail needed.
    Delivery(bench::DeliveryArgs),
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Which {
    All,
    Gateway,
    User,
    Driver,
    Trip,
}

impl Which {
    fn services(self) -> Vec<Service> {
        match self {
            Self::All => Service::ALL.to_vec(),
            Self::Gateway => vec![Service::Gateway],
            Self::User => vec![Service::User],
            Self::Driver => vec![Service::Driver],
            Self::Trip => vec![Service::Trip],
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Simulate(args) => run_simulation(args).await,
        Command::Bench { what } => run_bench(what).await,
        Command::Users {
            what: Users::AddSupport { email, name },
        } => add_support(&email, &name).await,
        Command::Migrate => run_stack(None).await,
        Command::Serve { which } => run_stack(Some(which)).await,
    }
}

async fn run_bench(what: Bench) -> ExitCode {
    let result = match what {
        Bench::Realtime(args) => bench::realtime(args).await,
        Bench::Ingest(args) => bench::city(bench::Scenario::Ingest, args).await,
        Bench::Dispatch(args) => bench::city(bench::Scenario::Dispatch, args).await,
        Bench::Redispatch(args) => bench::city(bench::Scenario::Redispatch, args).await,
        Bench::All(args) => bench::city(bench::Scenario::All, args).await,
        Bench::Rush(args) => bench::rush(args).await,
        Bench::Dense(args) => bench::dense(args).await,
        Bench::Matching(args) => bench::matching(args).await,
        Bench::Delivery(args) => bench::delivery(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hail bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `hail users add-support`: the password comes from standard input.
async fn add_support(email: &str, name: &str) -> ExitCode {
    use std::io::{BufRead, IsTerminal, Write};
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("hail: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password for {email} (8 to 128 characters; it is shown as you type, so prefer piping it in): ");
        let _ = std::io::stderr().flush();
    }
    let mut password = String::new();
    if let Err(err) = stdin.lock().read_line(&mut password) {
        eprintln!("hail users add-support: could not read the password from standard input: {err}");
        return ExitCode::from(2);
    }
    let password = password.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        eprintln!("hail users add-support: no password on standard input; pipe it in, e.g. `printf '%s\\n' \"$PASSWORD\" | hail users add-support --email ... --name ...`");
        return ExitCode::from(2);
    }
    match hail_user::operators::add_support(&config, email, name, password).await {
        Ok(user) => {
            println!(
                "hail: support account {} made for {} (id {})",
                user.name, user.email, user.id
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("hail users add-support: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `hail migrate` (no services to serve) or `hail serve <which>`.
async fn run_stack(serve: Option<Which>) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("hail: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_tracing(config.log_format);

    let result = match serve {
        None => stack::migrate(&config).await.map(|()| {
            println!("hail: migrations applied");
        }),
        Some(which) => {
            let shutdown = CancellationToken::new();
            startup::cancel_on_signal(shutdown.clone());
            stack::run(&config, &which.services(), shutdown).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hail: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `hail simulate`: Ctrl-C ends it with the summary; exit code 1 if an
/// invariant broke or the run could not start.
async fn run_simulation(args: simulate::SimulateArgs) -> ExitCode {
    let stop = CancellationToken::new();
    startup::cancel_on_signal(stop.clone());
    match simulate::run(args, stop).await {
        Ok(report) => {
            println!("\n{}", report.table());
            for error in &report.errors {
                eprintln!("hail simulate: unexpected error: {error}");
            }
            if report.violations.is_empty() {
                ExitCode::SUCCESS
            } else {
                for violation in &report.violations {
                    eprintln!("hail simulate: INVARIANT BROKEN: {violation}");
                }
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("hail simulate: {err:#}");
            ExitCode::FAILURE
        }
    }
}
