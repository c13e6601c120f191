//! A driver app's socket as far as offers go, for the delivery tests: Hail's
//! own client (`hail::socketio`), which answers the server's acks (or, as a
//! phone that is connected but not listening, never does), with the
//! suites' usual queue of events.

use std::time::Duration;

use hail::socketio::{Options, SocketClient};
use serde_json::Value;
use tokio::sync::mpsc;

/// Whether the socket answers the server's acks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    /// At once, with `{ok: true}`, as the driver app does.
    Always,
    /// Never: a connected phone that is not listening.
    Never,
    /// Offers' acks at once, but never the server's heartbeat pings: a
    /// connection that died silently a moment after the offer reached it
    /// (the server finds out only by its heartbeat).
    ThenSilence,
}

pub struct AckingSocket {
    client: SocketClient,
    events: mpsc::UnboundedReceiver<(String, Value)>,
    /// Events received but not asked for yet, in order.
    early: Vec<(String, Value)>,
}

impl AckingSocket {
    /// Connects to the gateway at `http_url` with `token` and waits for the
    /// namespace's answer (`connect`, or `connect_error` as `error`).
    pub async fn connect(http_url: &str, token: &str, acks: Acks) -> AckingSocket {
        let (tx, events) = mpsc::unbounded_channel();
        let options = Options {
            answer_acks: acks != Acks::Never,
            answer_pings: acks != Acks::ThenSilence,
            reconnect: false,
        };
        let mut socket = AckingSocket {
            client: SocketClient::start(http_url, token, tx, options),
            events,
            early: Vec::new(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(Some((event, value))) =
            tokio::time::timeout_at(deadline, socket.events.recv()).await
        {
            let done = event == "connect" || event == "error";
            socket.early.push((event, value));
            if done {
                break;
            }
        }
        socket
    }

    /// The next event called `name` within `within`; other events stay
    /// queued, in order.
    pub async fn next(&mut self, name: &str, within: Duration) -> Option<Value> {
        if let Some(i) = self.early.iter().position(|(e, _)| e == name) {
            return Some(self.early.remove(i).1);
        }
        let deadline = tokio::time::Instant::now() + within;
        while let Ok(Some((event, value))) =
            tokio::time::timeout_at(deadline, self.events.recv()).await
        {
            if event == name {
                return Some(value);
            }
            self.early.push((event, value));
        }
        None
    }

    /// Drops the connection without a goodbye, as a phone losing its
    /// network does (the server sees the transport close).
    pub fn drop_connection(self) {
        self.client.drop_connection();
    }
}
