//! `GET /metrics` on `[telemetry] prometheus_addr`: the text `aiex metrics` prints, plus the
//! breakers of this server's providers, for a Prometheus on the same machine.
//!
//! Invariants: never on the message loop (one small tokio task accepts, each connection is a
//! task of its own, the audit log is read on the blocking pool); bounded (a request head of at
//! most 8 KiB, at most 4 connections at once, 5 s per connection); loopback only (the
//! configuration refuses any other address); nothing but `GET /metrics` is answered (404).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the endpoint serves: the exposition, or why it cannot be had. Called on the blocking
/// pool (it reads the audit log).
pub(crate) type MetricsSource = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// The most a request head may take; a scraper's is a few hundred bytes.
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Connections answered at once; more are closed at once.
const MAX_CONNECTIONS: usize = 4;
/// How long one connection may take, from accept to the last byte of the answer.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(5);

/// The listener serving metrics, if the configuration asks for one.
#[derive(Default)]
pub(crate) struct MetricsEndpoint {
    serving: Mutex<Option<Serving>>,
}

#[derive(Debug)]
struct Serving {
    address: SocketAddr,
    task: tokio::task::AbortHandle,
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let serving = self.serving.lock();
        f.debug_struct("MetricsEndpoint")
            .field("address", &serving.as_ref().map(|s| s.address))
            .finish()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MetricsEndpoint {
    /// Serves metrics on `address` (a loopback address the configuration checked), or stops
    /// serving when it is `None`. Keeps the listener when the address did not change. Returns
    /// the problem to show the user when the address cannot be listened on. Must be called
    /// within the runtime; binding a local socket does not wait.
    pub(crate) fn apply(
        &self,
        address: Option<SocketAddr>,
        source: impl FnOnce() -> MetricsSource,
    ) -> Option<String> {
        let mut serving = self.serving.lock();
        if serving.as_ref().map(|s| s.address) == address {
            return None;
        }
        // The old listener closes before a new one binds: the same port may be asked again.
        *serving = None;
        let address = address?;
        let listener = match bind(address) {
            Ok(listener) => listener,
            Err(error) => {
                return Some(format!(
                    "telemetry.prometheus_addr: cannot listen on {address}: {error}; metrics \
                     are not served"
                ))
            }
        };
        tracing::info!(%address, "serving Prometheus metrics at /metrics");
        let task = tokio::spawn(accept(listener, source())).abort_handle();
        *serving = Some(Serving { address, task });
        None
    }
}

fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = std::net::TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

async fn accept(listener: TcpListener, source: MetricsSource) {
    let turns = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::warn!("metrics endpoint: cannot accept a connection: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(turn) = Arc::clone(&turns).try_acquire_owned() else {
            continue;
        };
        let source = Arc::clone(&source);
        tokio::spawn(async move {
            let _turn = turn;
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, answer(stream, source)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, source: MetricsSource) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let response = match route(&head) {
        Route::Metrics => match tokio::task::spawn_blocking(move || source()).await {
            Ok(Ok(text)) => response("200 OK", "text/plain; version=0.0.4; charset=utf-8", &text),
            Ok(Err(error)) => {
                tracing::warn!("metrics endpoint: {error}");
                response(
                    "500 Internal Server Error",
                    "text/plain; charset=utf-8",
                    &format!("{error}\n"),
                )
            }
            Err(_) => response(
                "500 Internal Server Error",
                "text/plain; charset=utf-8",
                "the metrics could not be computed\n",
            ),
        },
        Route::NotFound => response(
            "404 Not Found",
            "text/plain; charset=utf-8",
            "only GET /metrics is served here\n",
        ),
        Route::TooLarge => response(
            "431 Request Header Fields Too Large",
            "text/plain; charset=utf-8",
            "request head too large\n",
        ),
    };
    stream.write_all(&response).await?;
    stream.shutdown().await
}

/// Reads the request head (up to the blank line), at most [`MAX_HEAD_BYTES`] of it; a client
/// that closes early leaves what it sent.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buffer = [0u8; 1024];
    while !ends_head(&head) && head.len() <= MAX_HEAD_BYTES {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(head)
}

fn ends_head(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    NotFound,
    TooLarge,
}

fn route(head: &[u8]) -> Route {
    if head.len() > MAX_HEAD_BYTES {
        return Route::TooLarge;
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Route::NotFound;
    };
    let path = target.split('?').next().unwrap_or_default();
    if method == "GET"
        && path == "/metrics"
        && version.starts_with("HTTP/1.")
        && parts.next().is_none()
    {
        Route::Metrics
    } else {
        Route::NotFound
    }
}

fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: \
         close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_metrics_is_routed_to_the_metrics() {
        let cases: &[(&[u8], Route)] = &[
            (b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", Route::Metrics),
            (b"GET /metrics?name[]=x HTTP/1.0\r\n\r\n", Route::Metrics),
            (b"GET /metrics HTTP/1.1\n\n", Route::Metrics),
            (b"POST /metrics HTTP/1.1\r\n\r\n", Route::NotFound),
            (b"HEAD /metrics HTTP/1.1\r\n\r\n", Route::NotFound),
            (b"GET / HTTP/1.1\r\n\r\n", Route::NotFound),
            (b"GET /metrics/x HTTP/1.1\r\n\r\n", Route::NotFound),
            (b"GET /metrics\r\n\r\n", Route::NotFound),
            (b"GET /metrics SSH-2.0 extra\r\n\r\n", Route::NotFound),
            (b"\xff\xfe\r\n\r\n", Route::NotFound),
            (b"", Route::NotFound),
        ];
        for (head, expected) in cases {
            assert_eq!(route(head), *expected, "{}", String::from_utf8_lossy(head));
        }
        let huge = [
            b"GET /metrics HTTP/1.1\r\nX: ".as_slice(),
            &[b'a'; MAX_HEAD_BYTES],
        ]
        .concat();
        assert_eq!(route(&huge), Route::TooLarge);
    }

    #[test]
    fn a_response_states_its_length_and_closes() {
        let text = String::from_utf8(response("200 OK", "text/plain", "é\n")).expect("utf-8");
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\né\n"
        );
    }

    #[tokio::test]
    async fn the_endpoint_answers_over_tcp_and_moves_when_the_address_changes() {
        let source = || -> MetricsSource {
            Arc::new(|| Ok("# TYPE aiex_requests_total counter\n".to_owned()))
        };
        let endpoint = MetricsEndpoint::default();
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
        };
        let first = free();
        assert_eq!(endpoint.apply(Some(first), source), None);
        // Applying the same address again keeps the listener (no "address in use").
        assert_eq!(endpoint.apply(Some(first), source), None);
        let get = |address: SocketAddr, request: &'static str| async move {
            let mut stream = TcpStream::connect(address).await?;
            stream.write_all(request.as_bytes()).await?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await?;
            std::io::Result::Ok(answer)
        };
        let ok = get(first, "GET /metrics HTTP/1.1\r\n\r\n")
            .await
            .expect("answer");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("# TYPE aiex_requests_total counter"), "{ok}");
        let missing = get(first, "GET /other HTTP/1.1\r\n\r\n")
            .await
            .expect("answer");
        assert!(
            missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{missing}"
        );

        let second = free();
        assert_eq!(endpoint.apply(Some(second), source), None);
        assert!(get(second, "GET /metrics HTTP/1.1\r\n\r\n").await.is_ok());
        // The old listener closes once its task has seen the abort.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let old = tokio::time::timeout(
            Duration::from_secs(2),
            get(first, "GET /metrics HTTP/1.1\r\n\r\n"),
        )
        .await;
        assert!(!matches!(old, Ok(Ok(_))), "the old address still answers");
        assert_eq!(endpoint.apply(None, source), None);
    }
}
