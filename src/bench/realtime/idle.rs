//! The realtime bench's capacity figure: how many idle sockets one gateway
//! holds for one user, and the resident memory each costs the local
//! `hail serve` process.

use std::time::Duration;

use futures::{stream, StreamExt};
use rust_socketio::asynchronous::Client;

use super::{connect, RealtimeArgs};

/// Opens idle sockets; returns how many held and the server's memory per socket.
pub(super) async fn idle_sockets(
    args: &RealtimeArgs,
    token: &str,
) -> anyhow::Result<(usize, Option<f64>)> {
    let before = server_rss();
    let mut held = Vec::with_capacity(args.idle);
    let results: Vec<anyhow::Result<Client>> = stream::iter(0..args.idle)
        .map(|_| connect(args.gateways()[0], token, |_| {}))
        .buffer_unordered(100)
        .collect()
        .await;
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(client) => held.push(client),
            Err(err) => eprintln!("      socket {i} failed: {err:#}"),
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server_rss();
    let count = held.len();
    let per_socket = match (before, after) {
        (Some(b), Some(a)) if count > 0 => Some((a.saturating_sub(b)) as f64 / count as f64),
        _ => None,
    };
    for client in held {
        let _ = client.disconnect().await;
    }
    Ok((count, per_socket))
}

/// Resident memory (bytes) of the local `hail serve` process, if there is one.
fn server_rss() -> Option<u64> {
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("hail serve") {
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            let kb: u64 = status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            return Some(kb * 1024);
        }
    }
    None
}
