//! A real Socket.IO v4 client (rust_socketio) for tests: every event the
//! server sends lands in a queue the test reads in order.

use std::time::Duration;

use futures::FutureExt;
use rust_socketio::{
    asynchronous::{Client, ClientBuilder},
    Event, Payload,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

pub struct TestSocket {
    client: Client,
    events: EventQueue,
}

/// The events a test socket received, read by name in arrival order
/// (shared by [`TestSocket`] and `crate::acking::AckingSocket`).
pub(crate) struct EventQueue {
    events: mpsc::UnboundedReceiver<(String, Value)>,
    /// Events received but not asked for yet, in order.
    early: Vec<(String, Value)>,
}

impl EventQueue {
    /// A queue of `events`, once the handshake's answer (`connect`, or
    /// `error` for a refusal) is in it, or after 5 s.
    pub(crate) async fn after_handshake(
        events: mpsc::UnboundedReceiver<(String, Value)>,
    ) -> EventQueue {
        let mut queue = EventQueue {
            events,
            early: Vec::new(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(Some((event, value))) =
            tokio::time::timeout_at(deadline, queue.events.recv()).await
        {
            let done = event == "connect" || event == "error";
            queue.early.push((event, value));
            if done {
                break;
            }
        }
        queue
    }

    /// The next event called `name` within `within`; other events stay
    /// queued, in order.
    pub(crate) async fn next(&mut self, name: &str, within: Duration) -> Option<Value> {
        if let Some(i) = self.early.iter().position(|(e, _)| e == name) {
            return Some(self.early.remove(i).1);
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some((event, value))) if event == name => return Some(value),
                Ok(Some(other)) => self.early.push(other),
                _ => return None,
            }
        }
    }

    fn drain(&mut self) -> Vec<(String, Value)> {
        let mut out: Vec<_> = self.early.drain(..).collect();
        while let Ok(event) = self.events.try_recv() {
            out.push(event);
        }
        out
    }
}

fn first_value(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if !values.is_empty() => values.swap_remove(0),
        #[allow(deprecated)]
        Payload::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        _ => Value::Null,
    }
}

impl TestSocket {
    /// Connects to `gateway_url` with `auth` (e.g. `{"token": ...}`) and
    /// waits for the handshake's answer: `connect`, or `error` for a refusal
    /// (which [`TestSocket::next`] then returns).
    pub async fn connect(url: &str, auth: Option<Value>) -> TestSocket {
        Self::connect_with(url, auth, false).await
    }

    /// Like [`TestSocket::connect`]; with `reconnect` the client comes back by
    /// itself after the server goes away, as browsers' clients do.
    pub async fn connect_with(url: &str, auth: Option<Value>, reconnect: bool) -> TestSocket {
        let (tx, events) = mpsc::unbounded_channel();
        let forward = |tx: mpsc::UnboundedSender<(String, Value)>| {
            move |event: Event, payload: Payload, _: Client| {
                let name = match event {
                    Event::Custom(name) => name,
                    other => other.as_str().to_string(),
                };
                let _ = tx.send((name, first_value(payload)));
                async {}.boxed()
            }
        };
        let (on_error, on_connect, on_close) = (
            forward(tx.clone()),
            forward(tx.clone()),
            forward(tx.clone()),
        );
        let mut builder = ClientBuilder::new(url).namespace("/").reconnect(reconnect);
        if reconnect {
            builder = builder
                .reconnect_on_disconnect(true)
                .reconnect_delay(200, 1000)
                .max_reconnect_attempts(100);
        }
        if let Some(auth) = auth {
            builder = builder.auth(auth);
        }
        let client = builder
            .on(Event::Error, move |p, c| on_error(Event::Error, p, c))
            .on(Event::Connect, move |p, c| on_connect(Event::Connect, p, c))
            // The server closed the socket (a `close` in the queue).
            .on(Event::Close, move |p, c| on_close(Event::Close, p, c))
            .on_any(forward(tx))
            .connect()
            .await
            .expect("the gateway accepts Socket.IO connections");
        TestSocket {
            client,
            events: EventQueue::after_handshake(events).await,
        }
    }

    /// The next event called `name` within `within`. Other events stay
    /// queued, in order, for later calls.
    pub async fn next(&mut self, name: &str, within: Duration) -> Option<Value> {
        self.events.next(name, within).await
    }

    /// Every event received so far, without waiting.
    pub fn drain(&mut self) -> Vec<(String, Value)> {
        self.events.drain()
    }

    /// Emits `event` and waits for its ack.
    pub async fn call(&self, event: &str, data: Value) -> Value {
        let (tx, rx) = oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        self.client
            .emit_with_ack(event, data, Duration::from_secs(5), move |payload, _| {
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    // The ack's arguments arrive as one array: take the first.
                    let value = match first_value(payload) {
                        Value::Array(mut args) if !args.is_empty() => args.swap_remove(0),
                        other => other,
                    };
                    let _ = tx.send(value);
                }
                async {}.boxed()
            })
            .await
            .expect("emit");
        tokio::time::timeout(Duration::from_secs(6), rx)
            .await
            .expect("an ack within 6 s")
            .expect("ack")
    }

    /// One round trip to the gateway and back on this socket (an event it
    /// answers with an error ack). Every event the server sent this socket
    /// before it answered is in the queue afterwards, so "nothing arrived"
    /// can be checked once a sentinel (the same broadcast seen by another
    /// socket, or a later event) shows the server has settled, with no sleep.
    pub async fn round_trip(&self) {
        let answer = self
            .call(
                "trip:subscribe",
                serde_json::json!({"trip_id": uuid::Uuid::nil()}),
            )
            .await;
        assert_eq!(answer["ok"], false, "{answer}");
    }

    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
    }
}
