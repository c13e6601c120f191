//! A small Socket.IO v4 client over a WebSocket, for Hail's own tools (the
//! simulator, the benches, the tests). It exists because the Rust client
//! these used (rust_socketio) cannot answer an acknowledgement the server
//! asks for, and the driver app must answer the `offer` event's (API.md,
//! "Offer delivery"). It speaks what Hail needs: Engine.IO's open, ping and
//! pong; Socket.IO's connect with `auth`, events with and without an ack
//! id both ways; and reconnecting after the connection drops, as browser
//! clients do.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::{protocol::WebSocketConfig, Message};

/// How the client behaves.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Answer every ack the server asks for at once with `{ok: true}` (the
    /// driver app does); `false` is a phone that is connected but not
    /// listening.
    pub answer_acks: bool,
    /// Answer the server's heartbeat pings; `false` is a connection that
    /// died without a goodbye (the server closes it after its ping
    /// timeout).
    pub answer_pings: bool,
    /// Connect again after the connection drops (not after
    /// [`SocketClient::disconnect`]).
    pub reconnect: bool,
}

/// Every server event arrives as (name, first argument); the client adds
/// `connect` (the namespace accepted it), `error` (a `connect_error`, with
/// its data) and `close` (the connection ended).
pub type Events = mpsc::UnboundedSender<(String, Value)>;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// Drops every ack still awaited: their waiters learn at once that the
/// connection is gone ([`NoAck::Closed`]) instead of waiting it out.
fn forget_pending(pending: &Pending) {
    if let Ok(mut pending) = pending.lock() {
        pending.clear();
    }
}

/// Why [`SocketClient::emit_with_ack`] got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAck {
    /// None came within the time given, on a connection still open.
    TimedOut,
    /// The connection ended (or a connect attempt failed) first.
    Closed,
}

pub struct SocketClient {
    /// Socket.IO packets to send (`2[...]` an event, `1` goodbye).
    outgoing: mpsc::UnboundedSender<String>,
    pending: Pending,
    next_id: AtomicU64,
    /// The connection's task (taken by [`SocketClient::disconnect`]).
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SocketClient {
    /// Connects to the gateway at `http_url` with `token` and waits (10 s at
    /// most) until the namespace accepts the socket; the refusal's data
    /// (e.g. `{"message": "unauthorized"}`) or why it never answered, if not.
    pub async fn connect(
        http_url: &str,
        token: &str,
        events: Events,
        options: Options,
    ) -> Result<SocketClient, String> {
        let (ready, answered) = oneshot::channel();
        let client = Self::start_with(http_url, token, events, options, Some(ready));
        match tokio::time::timeout(Duration::from_secs(10), answered).await {
            Ok(Ok(Ok(()))) => Ok(client),
            Ok(Ok(Err(refused))) => Err(format!("the gateway refused the socket: {refused}")),
            Ok(Err(_)) => Err(format!("could not connect a socket to {http_url}")),
            Err(_) => Err(format!("{http_url} did not accept a socket within 10 s")),
        }
    }

    /// Starts the client for the gateway at `http_url` with `token`. It
    /// connects in the background: wait for `connect` on `events`.
    pub fn start(http_url: &str, token: &str, events: Events, options: Options) -> SocketClient {
        Self::start_with(http_url, token, events, options, None)
    }

    fn start_with(
        http_url: &str,
        token: &str,
        events: Events,
        options: Options,
        ready: Option<oneshot::Sender<Result<(), Value>>>,
    ) -> SocketClient {
        let ws_url = format!(
            "{}/socket.io/?EIO=4&transport=websocket",
            http_url.trim_end_matches('/').replacen("http", "ws", 1)
        );
        let (outgoing, queued) = mpsc::unbounded_channel();
        let pending: Pending = Arc::default();
        let connection = Connection {
            ws_url,
            auth: json!({ "token": token }),
            events,
            options,
            pending: pending.clone(),
            ready: Mutex::new(ready),
        };
        SocketClient {
            outgoing,
            pending,
            next_id: AtomicU64::new(0),
            task: Some(tokio::spawn(connection.run(queued))),
        }
    }

    /// Sends `event` without asking for an answer.
    pub fn emit(&self, event: &str, data: &Value) {
        let _ = self.outgoing.send(event_packet(None, event, data));
    }

    /// Sends `event` and waits for the server's ack (its first argument).
    /// [`NoAck::Closed`] as soon as the connection it went out on (or was
    /// waiting for) ends: an ack can no longer come, as with a phone whose
    /// socket the server closed while the event was on its way.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        data: &Value,
        within: Duration,
    ) -> Result<Value, NoAck> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(id, answer);
        }
        let _ = self.outgoing.send(event_packet(Some(id), event, data));
        let value = match tokio::time::timeout(within, answered).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(NoAck::Closed),
            Err(_) => Err(NoAck::TimedOut),
        };
        if let Ok(mut pending) = self.pending.lock() {
            pending.remove(&id);
        }
        value
    }

    /// Closes the connection without a goodbye, as a phone losing its
    /// network does; no reconnect follows.
    pub fn drop_connection(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        forget_pending(&self.pending);
    }

    /// Says goodbye (Socket.IO disconnect) and stops, waiting a moment for
    /// the goodbye to be sent.
    pub async fn disconnect(mut self) {
        let _ = self.outgoing.send("1".to_string());
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for SocketClient {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

struct Connection {
    ws_url: String,
    auth: Value,
    events: Events,
    options: Options,
    pending: Pending,
    /// Told of the namespace's first answer ([`SocketClient::connect`]).
    ready: Mutex<Option<oneshot::Sender<Result<(), Value>>>>,
}

impl Connection {
    fn tell_ready(&self, answer: Result<(), Value>) {
        if let Some(ready) = self.ready.lock().ok().and_then(|mut r| r.take()) {
            let _ = ready.send(answer);
        }
    }
}

/// Socket.IO frames here are small (a ping, an offer, a trip). tungstenite
/// zeroes its whole read buffer's free room before every read, 128 KiB by
/// default: with a thousand bench sockets that memset was 40 % of the bench
/// client's CPU (a `perf` profile of `hail bench dense`'s socket ingest).
fn small_reads() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 * 1024)
}

impl Connection {
    async fn run(self, mut queued: mpsc::UnboundedReceiver<String>) {
        let mut backoff = Duration::from_millis(200);
        loop {
            let said_goodbye = match tokio_tungstenite::connect_async_with_config(
                &self.ws_url,
                Some(small_reads()),
                true,
            )
            .await
            {
                Ok((ws, _)) => {
                    backoff = Duration::from_millis(200);
                    self.serve(ws, &mut queued).await
                }
                Err(_) => false,
            };
            forget_pending(&self.pending);
            let _ = self.events.send(("close".into(), Value::Null));
            if said_goodbye || !self.options.reconnect || self.events.is_closed() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One connection, until it ends; `true` when this side said goodbye.
    async fn serve<S>(
        &self,
        ws: tokio_tungstenite::WebSocketStream<S>,
        queued: &mut mpsc::UnboundedReceiver<String>,
    ) -> bool
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let (mut sink, mut stream) = ws.split();
        let mut joined = false;
        loop {
            let reply = tokio::select! {
                message = stream.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        let (reply, ended) = self.on_packet(text.as_str(), &mut joined);
                        if ended {
                            return false;
                        }
                        reply
                    }
                    Some(Ok(_)) => None,
                    Some(Err(_)) | None => return false,
                },
                // Sent only once the namespace accepted the socket.
                out = queued.recv(), if joined => match out {
                    Some(out) => {
                        // Socket.IO packets, each in an Engine.IO message.
                        let goodbye = out == "1";
                        if sink.send(Message::text(format!("4{out}"))).await.is_err() {
                            return false;
                        }
                        if goodbye {
                            return true;
                        }
                        None
                    }
                    None => return true,
                },
            };
            if let Some(reply) = reply {
                if sink.send(Message::text(reply)).await.is_err() {
                    return false;
                }
            }
        }
    }

    /// One Engine.IO packet: what to answer, and whether the connection
    /// ended.
    fn on_packet(&self, text: &str, joined: &mut bool) -> (Option<String>, bool) {
        match text.as_bytes().first() {
            // Open: join the default namespace.
            Some(b'0') => (Some(format!("40{}", self.auth)), false),
            Some(b'1') => (None, true),
            // Ping: pong (unless this connection plays dead).
            Some(b'2') => (self.options.answer_pings.then(|| "3".to_string()), false),
            Some(b'4') => self.on_socketio(&text[1..], joined),
            _ => (None, false),
        }
    }

    fn on_socketio(&self, packet: &str, joined: &mut bool) -> (Option<String>, bool) {
        let Some((kind, rest)) = packet.split_at_checked(1) else {
            return (None, false);
        };
        match kind {
            "0" => {
                *joined = true;
                self.tell_ready(Ok(()));
                let _ = self.events.send(("connect".into(), parse(rest)));
                (None, false)
            }
            "1" => (None, true),
            "4" => {
                self.tell_ready(Err(parse(rest)));
                let _ = self.events.send(("error".into(), parse(rest)));
                (None, false)
            }
            "2" => {
                let (id, args) = split_id(rest);
                let mut args = args.into_iter();
                let name = args.next();
                let Some(name) = name.as_ref().and_then(Value::as_str) else {
                    return (None, false);
                };
                let _ = self
                    .events
                    .send((name.to_string(), args.next().unwrap_or(Value::Null)));
                match id {
                    Some(id) if self.options.answer_acks => {
                        (Some(format!("43{id}{}", json!([{"ok": true}]))), false)
                    }
                    _ => (None, false),
                }
            }
            "3" => {
                let (id, args) = split_id(rest);
                let answer = self
                    .pending
                    .lock()
                    .ok()
                    .and_then(|mut pending| pending.remove(&id?));
                if let Some(answer) = answer {
                    let _ = answer.send(args.into_iter().next().unwrap_or(Value::Null));
                }
                (None, false)
            }
            _ => (None, false),
        }
    }
}

/// `<id?>[args...]` -> the ack id and the arguments.
/// A Socket.IO EVENT packet (`2[<id>]["event",data]`), written straight
/// from `data`: the benches send tens of thousands a second from this
/// machine, and an array built around a copy of `data` per event was
/// CPU taken from the stack they measure.
fn event_packet(ack_id: Option<u64>, event: &str, data: &Value) -> String {
    let id = ack_id.map(|id| id.to_string()).unwrap_or_default();
    format!("2{id}[{},{data}]", Value::from(event))
}

fn split_id(rest: &str) -> (Option<u64>, Vec<Value>) {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (id, body) = rest.split_at(digits);
    let args = match parse(body) {
        Value::Array(args) => args,
        _ => Vec::new(),
    };
    (id.parse().ok(), args)
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_packet_is_the_event_and_its_data_with_the_ack_id_first() {
        let data = json!({"lat": 1.5, "note": "a \"quoted\" word"});
        let packet = event_packet(Some(17), "driver:location", &data);
        assert_eq!(packet, format!("217{}", json!(["driver:location", data])));
        assert_eq!(
            event_packet(None, "trip:subscribe", &json!(7)),
            r#"2["trip:subscribe",7]"#
        );
        let (id, arguments) = split_id(packet.strip_prefix('2').unwrap_or_default());
        assert_eq!(id, Some(17));
        assert_eq!(arguments, vec![json!("driver:location"), data]);
    }

    #[test]
    fn ack_ids_and_arguments_are_split() {
        assert_eq!(split_id("12[\"offer\",{}]").0, Some(12));
        assert_eq!(split_id("[\"offer\",1]").0, None);
        assert_eq!(split_id("[\"offer\",1]").1, vec![json!("offer"), json!(1)]);
        assert!(split_id("7garbage").1.is_empty());
    }

    #[test]
    fn events_are_queued_and_acked_only_when_asked() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let connection = |answer_acks| Connection {
            ws_url: String::new(),
            auth: json!({"token": "t"}),
            events: tx.clone(),
            options: Options {
                answer_acks,
                answer_pings: true,
                reconnect: false,
            },
            pending: Arc::default(),
            ready: Mutex::new(None),
        };
        let mut joined = false;
        let (reply, ended) = connection(true).on_packet("0{\"sid\":\"x\"}", &mut joined);
        assert_eq!(reply.as_deref(), Some("40{\"token\":\"t\"}"));
        assert!(!ended);
        connection(true).on_packet("40{\"sid\":\"y\"}", &mut joined);
        assert!(joined);
        assert_eq!(rx.try_recv().map(|e| e.0).ok().as_deref(), Some("connect"));
        let (reply, _) = connection(true).on_packet("425[\"offer\",{\"trip_id\":1}]", &mut joined);
        assert_eq!(reply.as_deref(), Some("435[{\"ok\":true}]"));
        assert_eq!(
            rx.try_recv().ok(),
            Some(("offer".into(), json!({"trip_id": 1})))
        );
        let (reply, _) = connection(false).on_packet("426[\"offer\",{}]", &mut joined);
        assert_eq!(reply, None, "a phone not listening answers nothing");
        assert_eq!(
            connection(true).on_packet("2", &mut joined).0.as_deref(),
            Some("3")
        );
        assert!(
            connection(true).on_packet("41", &mut joined).1,
            "a server disconnect ends it"
        );
    }

    /// A server that accepts the socket, reads one event and closes the
    /// connection without answering it, as the gateway does to a socket
    /// whose token expired while a ping was on its way.
    #[tokio::test]
    async fn an_ack_awaited_when_the_connection_ends_is_closed_at_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let addr = listener.local_addr().expect("bound");
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("a client");
            let mut ws = tokio_tungstenite::accept_async(tcp)
                .await
                .expect("a websocket");
            let _ = ws.send(Message::text("0{\"sid\":\"s\"}")).await;
            while let Some(Ok(message)) = ws.next().await {
                let text = message.into_text().unwrap_or_default();
                if text.starts_with("40") {
                    let _ = ws.send(Message::text("40{\"sid\":\"n\"}")).await;
                } else if text.starts_with("42") {
                    break;
                }
            }
            let _ = ws.close(None).await;
        });
        let (events, _rx) = mpsc::unbounded_channel();
        let options = Options {
            answer_acks: true,
            answer_pings: true,
            reconnect: false,
        };
        let client = SocketClient::connect(&format!("http://{addr}"), "t", events, options)
            .await
            .expect("the test server accepts the socket");
        let started = std::time::Instant::now();
        let answer = client
            .emit_with_ack("driver:location", &json!({}), Duration::from_secs(30))
            .await;
        assert_eq!(answer, Err(NoAck::Closed));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "waited {:?} for an ack that could not come",
            started.elapsed()
        );
    }
}
