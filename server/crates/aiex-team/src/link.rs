//! The connection to Redis: every call bounded by a short deadline; when Redis is unreachable
//! the caller is told at once (and falls back to local state), the outage is logged once, and
//! a background task reconnects.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;

/// How long the background task waits between two attempts to reconnect, at most.
const RECONNECT_CEILING: Duration = Duration::from_secs(2);

enum State {
    /// Not connected yet: the first call connects.
    Fresh,
    Up(MultiplexedConnection),
    /// Unreachable; the reconnect task is on it.
    Down,
}

/// A connection to one Redis that is either usable now or reported missing now.
pub(crate) struct Link {
    client: redis::Client,
    /// The URL without credentials, for messages.
    shown_url: String,
    timeout: Duration,
    state: Mutex<State>,
    /// Serializes the first connection, so a burst of first requests connects once.
    first_connect: tokio::sync::Mutex<()>,
    reconnecting: AtomicBool,
}

impl Link {
    pub(crate) fn new(client: redis::Client, shown_url: String, timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            client,
            shown_url,
            timeout,
            state: Mutex::new(State::Fresh),
            first_connect: tokio::sync::Mutex::new(()),
            reconnecting: AtomicBool::new(false),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the last call reached Redis.
    pub(crate) fn is_up(&self) -> bool {
        matches!(*self.state(), State::Up(_))
    }

    /// Runs `call` on the connection within the deadline; `None` when Redis is down or the
    /// call failed (then it is marked down and reconnected in the background).
    pub(crate) async fn run<T, F, Fut>(self: &Arc<Self>, call: F) -> Option<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        match tokio::time::timeout(self.timeout, call(connection)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) if !is_connection_error(&error) => {
                // Redis answered: the link is fine, the command was not (a bug, or a Redis too
                // old for a command). Said each time; local state serves this request.
                tracing::warn!(url = %self.shown_url, %error, "team mode: Redis refused a command");
                None
            }
            Ok(Err(error)) => {
                self.mark_down(&error.to_string());
                None
            }
            Err(_) => {
                self.mark_down(&format!("no answer within {:?}", self.timeout));
                None
            }
        }
    }

    async fn connection(self: &Arc<Self>) -> Option<MultiplexedConnection> {
        match &*self.state() {
            State::Up(connection) => return Some(connection.clone()),
            State::Down => return None,
            State::Fresh => {}
        }
        let _first = self.first_connect.lock().await;
        match &*self.state() {
            State::Up(connection) => return Some(connection.clone()),
            State::Down => return None,
            State::Fresh => {}
        }
        match self.connect().await {
            Ok(connection) => {
                tracing::info!(url = %self.shown_url, "team mode: connected to Redis");
                *self.state() = State::Up(connection.clone());
                Some(connection)
            }
            Err(error) => {
                self.mark_down(&error);
                None
            }
        }
    }

    /// Connects and checks Redis answers, within the deadline (a Redis that accepts the
    /// connection but hangs counts as down).
    async fn connect(&self) -> Result<MultiplexedConnection, String> {
        let attempt = async {
            let mut connection = self.client.get_multiplexed_async_connection().await?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await?;
            Ok::<_, redis::RedisError>(connection)
        };
        // Connecting takes a few round trips: more than one call's deadline.
        match tokio::time::timeout(self.timeout * 5, attempt).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.timeout * 5)),
        }
    }

    fn mark_down(self: &Arc<Self>, reason: &str) {
        let was_up = {
            let mut state = self.state();
            let was_up = !matches!(*state, State::Down);
            *state = State::Down;
            was_up
        };
        if was_up {
            // Once per outage: the user learns it, the log is not flooded.
            tracing::warn!(
                url = %self.shown_url,
                "team mode: Redis is unreachable ({reason}); this process uses its own rate \
                 limits and cache until it returns"
            );
        }
        if !self.reconnecting.swap(true, Ordering::AcqRel) {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(reconnect(Arc::downgrade(self)));
            } else {
                self.reconnecting.store(false, Ordering::Release);
            }
        }
    }
}

/// Tries again, more slowly each time up to a ceiling, until Redis answers or the link is
/// dropped (a reconfiguration, the process ending).
async fn reconnect(link: Weak<Link>) {
    let mut delay = Duration::from_millis(100);
    loop {
        tokio::time::sleep(delay).await;
        let Some(link) = link.upgrade() else { return };
        match link.connect().await {
            Ok(connection) => {
                *link.state() = State::Up(connection);
                link.reconnecting.store(false, Ordering::Release);
                tracing::warn!(url = %link.shown_url, "team mode: Redis is back; shared limits and cache apply again");
                return;
            }
            Err(error) => {
                tracing::debug!(url = %link.shown_url, %error, "team mode: Redis still unreachable");
            }
        }
        delay = (delay * 2).min(RECONNECT_CEILING);
    }
}

fn is_connection_error(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
}
