//! `hail simulate` against the real stack: a few drivers and riders for
//! about 20 s in a small box, offer mode with short timeouts. Trips must be
//! completed and every invariant must hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hail::simulate::{self, SimulateArgs};
use hail_testkit::spawn_app_with;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_simulation_completes_trips_and_holds_every_invariant() {
    short_simulation(None).await;
}

/// Tokens that run out twice during the run: every driver's socket is
/// closed at expiry and every rider's REST call turns 401, and the
/// simulator logs in again and goes on as the apps would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulation_outlives_its_tokens() {
    short_simulation(Some(Duration::from_secs(8))).await;
}

async fn short_simulation(token_ttl: Option<Duration>) {
    let app = spawn_app_with(|config| {
        config.dispatch.offer_timeout = Duration::from_secs(3);
        config.dispatch.match_deadline = Duration::from_secs(20);
        if let Some(ttl) = token_ttl {
            config.jwt_ttl = ttl;
        }
    })
    .await;
    let args = SimulateArgs::from_flags([
        "--gateway",
        &app.gateway_url,
        "--drivers",
        "4",
        "--riders",
        "4",
        "--rate",
        "40",
        "--duration",
        "20",
        "--seed",
        "7",
        // About 1.1 km square: every driver is in reach of every pickup.
        "--bbox",
        "1.300,103.800,1.310,103.810",
        "--speedup",
        "20",
        "--accept-delay",
        "0-1",
        "--decline-prob",
        "0.15",
        "--ignore-prob",
        "0.1",
        "--offer-timeout",
        "3",
        "--match-deadline",
        "20",
        "--quiet",
    ])
    .expect("valid flags");
    let report = simulate::run(args, CancellationToken::new())
        .await
        .expect("the simulation runs");
    println!("{}", report.table());
    assert!(
        report.violations.is_empty(),
        "invariants broken: {:?}",
        report.violations
    );
    assert!(report.figures.requested > 0, "{report:?}");
    assert!(
        report.figures.completed > 0,
        "no trip completed: {report:?}"
    );
    assert!(report.pings > 0, "{report:?}");
    assert_eq!(report.ping_errors, 0, "pings refused: {report:?}");
    // A ping on its way when the gateway closes an expired token's socket
    // is lost with it; only then.
    assert!(
        report.pings_lost <= report.sockets_closed,
        "pings lost on open sockets: {report:?}"
    );
    if token_ttl.is_none() {
        assert_eq!(report.pings_lost, 0, "{report:?}");
    }
    assert_eq!(report.unexpected, 0, "errors: {:?}", report.errors);
}

#[tokio::test]
async fn a_rerun_with_the_same_seed_logs_in_and_an_unreachable_gateway_is_a_clear_error() {
    let app = spawn_app_with(|_| {}).await;
    let flags = |gateway: &str| {
        SimulateArgs::from_flags([
            "--gateway",
            gateway,
            "--drivers",
            "1",
            "--riders",
            "1",
            "--duration",
            "1",
            "--seed",
            "11",
            "--quiet",
        ])
        .unwrap()
    };
    for _ in 0..2 {
        let report = simulate::run(flags(&app.gateway_url), CancellationToken::new())
            .await
            .expect("a second run logs in with the same accounts");
        assert!(report.violations.is_empty(), "{report:?}");
        assert_eq!(report.unexpected, 0, "errors: {:?}", report.errors);
    }
    let err = simulate::run(flags("http://127.0.0.1:9"), CancellationToken::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not answer"), "{err:#}");
}
