//! Expensive offline work (folding, outlines, workspace symbols, checks, reindexing) run off
//! the message loop, with a time budget, and cancelled when its request is.
//!
//! tower-lsp-server polls every handler inside one task: a handler that computes for a minute
//! holds up every other request, whatever document it is about. Work here runs on the blocking
//! pool instead; the handler only awaits it. The work checks [`Budget::expired`] as it goes and
//! returns what it has when the budget is spent or the request was cancelled (`$/cancelRequest`
//! drops the handler's future, which raises the flag).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tower_lsp_server::jsonrpc::Error;

/// How long folding, outlines and workspace symbols may compute before their result is cut.
pub const FEATURE_BUDGET: Duration = Duration::from_secs(2);

/// How long the built-in checks of one document may run before the request is answered empty
/// (the checks finish in the background and the next request gets them).
pub const CHECKS_BUDGET: Duration = Duration::from_secs(5);

/// A deadline and a cancellation flag, handed to the work.
#[derive(Debug, Clone)]
pub struct Budget {
    deadline: Instant,
    cancelled: Arc<AtomicBool>,
}

impl Budget {
    /// True once the deadline passed or the request was cancelled: stop and return what
    /// is done.
    pub fn expired(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }
}

/// Raises the flag when the awaiting handler goes away (cancelled or finished).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `work` on the blocking pool within `limit` and waits for it without blocking the
/// message loop. A panic in the work is answered as an internal error naming `what`.
pub async fn offload<T, F>(what: &'static str, limit: Duration, work: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce(&Budget) -> T + Send + 'static,
{
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel = CancelOnDrop(Arc::clone(&cancelled));
    let budget = Budget {
        deadline: Instant::now() + limit,
        cancelled,
    };
    tokio::task::spawn_blocking(move || work(&budget))
        .await
        .map_err(|error| {
            tracing::error!("{what} failed: {error}");
            let mut failure = Error::internal_error();
            failure.message = format!("{what} failed: {error}").into();
            failure
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_sees_its_budget_expire_and_returns_what_it_has() {
        let done = offload("counting", Duration::from_millis(50), |budget| {
            let mut count = 0u64;
            while !budget.expired() {
                count += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            count
        })
        .await
        .expect("no panic");
        assert!(done > 0);
    }

    #[tokio::test]
    async fn dropping_the_request_cancels_the_work() {
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let request = offload("waiting", Duration::from_secs(60), move |budget| {
            while !budget.expired() {
                std::thread::sleep(Duration::from_millis(1));
            }
            seen_tx.send(Instant::now()).expect("send");
        });
        // The request is dropped as `$/cancelRequest` drops a handler.
        let _ = tokio::time::timeout(Duration::from_millis(20), request).await;
        let stopped = tokio::task::spawn_blocking(move || {
            seen_rx.recv_timeout(Duration::from_secs(5)).is_ok()
        })
        .await
        .expect("join");
        assert!(stopped, "the work stopped long before its 60 s budget");
    }

    #[tokio::test]
    async fn a_panic_in_the_work_is_an_internal_error_naming_the_work() {
        let result: Result<(), Error> = offload("folding", FEATURE_BUDGET, |_| {
            panic!("boom");
        })
        .await;
        let error = result.expect_err("panicked");
        assert!(error.message.contains("folding failed"), "{error:?}");
    }
}
