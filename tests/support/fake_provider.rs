//! A fake model provider: a real HTTP/1.1 server on 127.0.0.1 that replays recorded responses
//! byte for byte and injects the faults real providers and networks produce.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::recordings::Recording;

/// What the fake does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Sends the recording at once.
    Recorded(Recording),
    /// Sends the recording's body in pieces of `piece` bytes, `every` apart (a slow stream).
    Drip {
        recording: Recording,
        piece: usize,
        every: Duration,
    },
    /// Sends the headers and the first `bytes` of the body, then closes the connection.
    CutAfter { recording: Recording, bytes: usize },
    /// Waits `delay` (a model thinking), then sends the recording at once.
    Delayed {
        recording: Recording,
        delay: Duration,
    },
    /// Sends the headers and the first `first` bytes of the body, then the rest only once
    /// `release` is notified: a stream a test holds open until it has seen its beginning
    /// arrive at the far end.
    Held {
        recording: Recording,
        first: usize,
        release: Arc<Notify>,
    },
    /// Reads the request and never answers (until the client goes away).
    Silence,
    /// Sends an endless SSE stream of OpenAI chunks, `piece` bytes of text each.
    Endless { piece: usize },
    /// A 200 whose body is `line` repeated to `total` bytes, with its Content-Length (a
    /// runaway answer, sent without holding it in memory).
    Flood {
        content_type: String,
        line: Vec<u8>,
        total: usize,
    },
}

impl Reply {
    /// A response with a status, a JSON body and extra headers.
    pub fn status(status: u16, body: &str, headers: &[(&str, &str)]) -> Self {
        let mut recording = Recording::new(status, "application/json", body.as_bytes().to_vec());
        for (name, value) in headers {
            recording = recording.with_header(name, value);
        }
        Self::Recorded(recording)
    }

    /// A 200 `text/event-stream` with this body.
    pub fn sse(body: &str) -> Self {
        Self::Recorded(Recording::new(
            200,
            "text/event-stream",
            body.as_bytes().to_vec(),
        ))
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// `POST`, `GET`.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl SeenRequest {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct State {
    routes: Mutex<Vec<(String, VecDeque<Reply>)>>,
    seen: Mutex<Vec<SeenRequest>>,
    request_arrived: Notify,
    closed_by_client: AtomicUsize,
    closed_notify: Notify,
}

/// A running fake provider. It stops when dropped.
pub struct FakeProvider {
    port: u16,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeProvider {
    /// Starts a fake on a random port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let state = Arc::new(State::default());
        let accept_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = Arc::clone(&accept_state);
                tokio::spawn(serve_connection(socket, state));
            }
        });
        Self { port, state, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers requests whose path starts with `path` with `replies` in turn; the last repeats.
    pub fn on(&self, path: &str, replies: Vec<Reply>) {
        assert!(!replies.is_empty(), "a route needs at least one reply");
        self.state
            .routes
            .lock()
            .unwrap()
            .push((path.to_owned(), replies.into()));
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.seen.lock().unwrap().clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    /// Waits until at least `count` requests arrived, or `timeout`.
    pub async fn wait_for_requests(&self, count: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.request_arrived.notified();
            if self.request_count() >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.request_count() >= count;
            }
        }
    }

    /// Waits until the client closed at least `count` connections in the middle of an
    /// exchange (a request pending or a body being sent), or `timeout`.
    pub async fn wait_for_client_close(&self, count: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.closed_notify.notified();
            if self.state.closed_by_client.load(Ordering::SeqCst) >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.state.closed_by_client.load(Ordering::SeqCst) >= count;
            }
        }
    }
}

/// A URL where nothing listens: connections are refused.
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn mark_closed(state: &State) {
    state.closed_by_client.fetch_add(1, Ordering::SeqCst);
    state.closed_notify.notify_waiters();
}

async fn serve_connection(mut socket: TcpStream, state: Arc<State>) {
    let _ = socket.set_nodelay(true);
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut socket, &mut buffer).await else {
            return;
        };
        let reply = {
            let mut routes = state.routes.lock().unwrap();
            routes
                .iter_mut()
                .find(|(prefix, _)| request.path.starts_with(prefix.as_str()))
                .map(|(_, replies)| {
                    if replies.len() > 1 {
                        replies.pop_front().unwrap()
                    } else {
                        replies[0].clone()
                    }
                })
        };
        state.seen.lock().unwrap().push(request);
        state.request_arrived.notify_waiters();
        let reply =
            reply.unwrap_or_else(|| Reply::status(404, r#"{"error":"no route in the fake"}"#, &[]));
        let keep_open = match reply {
            Reply::Recorded(recording) => {
                let head = head(&recording, Some(recording.body.len()));
                let mut bytes = head.into_bytes();
                bytes.extend_from_slice(&recording.body);
                socket.write_all(&bytes).await.is_ok()
            }
            Reply::Drip {
                recording,
                piece,
                every,
            } => {
                let pieces: Vec<&[u8]> = recording.body.chunks(piece.max(1)).collect();
                send_chunked(&mut socket, &state, &recording, pieces, Pace::Every(every)).await
            }
            Reply::Delayed { recording, delay } => {
                tokio::time::sleep(delay).await;
                let pieces = vec![recording.body.as_slice()];
                send_chunked(
                    &mut socket,
                    &state,
                    &recording,
                    pieces,
                    Pace::Every(Duration::ZERO),
                )
                .await
            }
            Reply::Held {
                recording,
                first,
                release,
            } => {
                let (head_part, rest) = recording.body.split_at(first.min(recording.body.len()));
                let pieces = vec![head_part, rest];
                send_chunked(
                    &mut socket,
                    &state,
                    &recording,
                    pieces,
                    Pace::HeldAfterFirst(&release),
                )
                .await
            }
            Reply::CutAfter { recording, bytes } => {
                let cut = &recording.body[..bytes.min(recording.body.len())];
                let _ = send_chunked(
                    &mut socket,
                    &state,
                    &recording,
                    vec![cut],
                    Pace::Every(Duration::ZERO),
                )
                .await;
                // Close without the terminating zero-size chunk.
                false
            }
            Reply::Silence => {
                let mut scratch = [0u8; 1024];
                // Wait for the client to give up; anything it sends is ignored.
                loop {
                    match socket.read(&mut scratch).await {
                        Ok(0) | Err(_) => {
                            mark_closed(&state);
                            return;
                        }
                        Ok(_) => {}
                    }
                }
            }
            Reply::Flood {
                content_type,
                line,
                total,
            } => {
                let recording = Recording::new(200, &content_type, Vec::new());
                if socket
                    .write_all(head(&recording, Some(total)).as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                // Whole lines per block, so the body is `line` after `line` throughout.
                let block = line.repeat((64 * 1024 / line.len().max(1)).max(1));
                let mut left = total;
                while left > 0 {
                    let piece = &block[..left.min(block.len())];
                    if socket.write_all(piece).await.is_err() {
                        mark_closed(&state);
                        return;
                    }
                    left -= piece.len();
                }
                true
            }
            Reply::Endless { piece } => {
                let recording = Recording::new(200, "text/event-stream", Vec::new());
                let text = "x".repeat(piece);
                let event = format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n");
                let mut head_sent = false;
                loop {
                    let ok = if head_sent {
                        write_chunk(&mut socket, event.as_bytes()).await
                    } else {
                        head_sent = true;
                        let mut bytes = head(&recording, None).into_bytes();
                        bytes.extend_from_slice(format!("{:x}\r\n", event.len()).as_bytes());
                        bytes.extend_from_slice(event.as_bytes());
                        bytes.extend_from_slice(b"\r\n");
                        socket.write_all(&bytes).await.is_ok()
                    };
                    if !ok {
                        mark_closed(&state);
                        return;
                    }
                }
            }
        };
        if !keep_open {
            return;
        }
    }
}

fn head(recording: &Recording, length: Option<usize>) -> String {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        recording.status,
        reason(recording.status)
    );
    for (name, value) in &recording.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match length {
        Some(length) => head.push_str(&format!("Content-Length: {length}\r\n")),
        None => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    head.push_str("\r\n");
    head
}

async fn write_chunk(socket: &mut TcpStream, data: &[u8]) -> bool {
    let mut bytes = format!("{:x}\r\n", data.len()).into_bytes();
    bytes.extend_from_slice(data);
    bytes.extend_from_slice(b"\r\n");
    socket.write_all(&bytes).await.is_ok()
}

/// When the pieces of a chunked body go out.
#[derive(Clone, Copy)]
enum Pace<'a> {
    /// Each piece `every` after the previous one.
    Every(Duration),
    /// The first piece at once, the others once the notify is notified.
    HeldAfterFirst(&'a Notify),
}

/// Sends the body in chunked encoding, one HTTP chunk per piece, watching for the client closing
/// the connection in between. Returns whether the connection can be reused.
async fn send_chunked(
    socket: &mut TcpStream,
    state: &State,
    recording: &Recording,
    pieces: Vec<&[u8]>,
    pace: Pace<'_>,
) -> bool {
    if socket
        .write_all(head(recording, None).as_bytes())
        .await
        .is_err()
    {
        return false;
    }
    for (index, piece) in pieces.into_iter().enumerate() {
        if piece.is_empty() {
            continue;
        }
        let every = match pace {
            Pace::Every(every) => every,
            Pace::HeldAfterFirst(release) => {
                if index > 0 {
                    release.notified().await;
                }
                Duration::ZERO
            }
        };
        if !every.is_zero() {
            let (mut reader, _) = socket.split();
            let mut scratch = [0u8; 64];
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                read = reader.read(&mut scratch) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        mark_closed(state);
                        return false;
                    }
                }
            }
        }
        if !write_chunk(socket, piece).await {
            mark_closed(state);
            return false;
        }
    }
    socket.write_all(b"0\r\n\r\n").await.is_ok()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

/// Reads one request (head and Content-Length body); `None` when the client closed.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<SeenRequest> {
    let mut scratch = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let read = socket.read(&mut scratch).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&scratch[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split_whitespace();
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let total = head_end + 4 + length;
    while buffer.len() < total {
        let read = socket.read(&mut scratch).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&scratch[..read]);
    }
    let body = buffer[head_end + 4..total].to_vec();
    buffer.drain(..total);
    Some(SeenRequest {
        method,
        path,
        headers,
        body,
    })
}

/// A fake provider for tests that are not async: the server and the runtime it runs on.
pub struct BlockingFake {
    /// The runtime serving the fake.
    pub runtime: tokio::runtime::Runtime,
    /// The fake itself.
    pub server: FakeProvider,
}

impl BlockingFake {
    /// Starts a fake on its own one-thread runtime.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let server = runtime.block_on(FakeProvider::start());
        Self { runtime, server }
    }

    /// Waits (up to 10 s) until `count` requests arrived in all.
    pub fn wait_for_requests(&self, count: usize) -> bool {
        self.runtime.block_on(
            self.server
                .wait_for_requests(count, Duration::from_secs(10)),
        )
    }

    /// Waits (up to 10 s) until the client closed `count` connections mid-exchange.
    pub fn wait_for_client_close(&self, count: usize) -> bool {
        self.runtime.block_on(
            self.server
                .wait_for_client_close(count, Duration::from_secs(10)),
        )
    }
}
