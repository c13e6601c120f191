//! A driver app's socket as far as offers go, for the delivery tests: Hail's
//! own client (`hail::socketio`), which answers the server's acks (or, as a
//! phone that is connected but not listening, never does), with the
//! suites' usual queue of events.

use std::time::Duration;

use hail::socketio::{Options, SocketClient};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::socket::EventQueue;

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
    events: EventQueue,
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
        AckingSocket {
            client: SocketClient::start(http_url, token, tx, options),
            events: EventQueue::after_handshake(events).await,
        }
    }

    /// The next event called `name` within `within`; other events stay
    /// queued, in order.
    pub async fn next(&mut self, name: &str, within: Duration) -> Option<Value> {
        self.events.next(name, within).await
    }

    /// Drops the connection without a goodbye, as a phone losing its
    /// network does (the server sees the transport close).
    pub fn drop_connection(self) {
        self.client.drop_connection();
    }
}
