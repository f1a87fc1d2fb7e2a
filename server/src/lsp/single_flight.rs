//! Identical requests share one computation. VS Code asks for `textDocument/completion` and
//! `textDocument/inlineCompletion` at the same place at the same moment; computed apart, the
//! second superseded the first (a newer completion request for a document answers the older
//! one empty), so the suggest widget lacked the AI item while the ghost text had it, and VS
//! Code hid the ghost text because it did not extend the widget's selected word.
//!
//! Only computations still running are shared: a finished one is never served again from here
//! (the suggestion cache does that, knowing when text changed). The table holds them weakly: a
//! computation every requester gave up on (`$/cancelRequest`) is dropped, and with it its
//! provider connection.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;

use futures::future::{BoxFuture, FutureExt, WeakShared};
use parking_lot::Mutex;

/// A key naming a computation, and the group it belongs to: starting a computation drops the
/// others of its group from the table (a new cursor position in a document supersedes the old).
pub trait Grouped {
    /// The group (e.g. the document).
    type Group: PartialEq;
    /// The group of this key.
    fn group(&self) -> &Self::Group;
}

/// A suggestion request: the document, its version and the cursor. The group is the document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SuggestionKey {
    /// The document's key.
    pub document: String,
    /// Its version.
    pub version: i32,
    /// The cursor's line and character, as the client sent them.
    pub position: (u32, u32),
}

impl Grouped for SuggestionKey {
    type Group = String;
    fn group(&self) -> &String {
        &self.document
    }
}

/// A computation in the table, held weakly.
type Weak<V> = WeakShared<BoxFuture<'static, V>>;

/// Computations in flight, by key.
pub struct SingleFlight<K, V: Clone> {
    /// Each computation, and whether later keys of its group wait for it (`settle`).
    pending: Mutex<HashMap<K, (Weak<V>, bool)>>,
}

impl<K, V: Clone> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, V: Clone> std::fmt::Debug for SingleFlight<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight")
            .field("pending", &self.pending.lock().len())
            .finish()
    }
}

impl<K, V> SingleFlight<K, V>
where
    K: Eq + Hash + Grouped,
    V: Clone + Send + Sync + 'static,
{
    /// The result of the computation named `key`: joins the one in flight, or starts
    /// `start()`. A joined computation keeps running while any of its requesters waits, even
    /// when the one that started it was cancelled. A `protected` computation is one that
    /// `settle` lets finish before a computation for another key of its group starts.
    pub async fn run<F>(&self, key: K, protected: bool, start: impl FnOnce() -> F) -> V
    where
        F: Future<Output = V> + Send + 'static,
    {
        let shared = {
            let mut pending = self.pending.lock();
            // Finished or abandoned computations and other keys of the same group leave the
            // table, so it holds at most one entry per group.
            pending.retain(|k, (weak, _)| {
                (k == &key || k.group() != key.group())
                    && weak.upgrade().is_some_and(|f| f.peek().is_none())
            });
            match pending.get_mut(&key) {
                Some((weak, protect)) if weak.upgrade().is_some() => {
                    *protect |= protected;
                    weak.upgrade().expect("upgraded just above, under the lock")
                }
                _ => {
                    let started = start().boxed().shared();
                    if let Some(weak) = started.downgrade() {
                        pending.insert(key, (weak, protected));
                    }
                    started
                }
            }
        };
        shared.await
    }

    /// Waits, at most `limit`, for the protected computations of `key`'s group under other
    /// keys: starting `key`'s own would supersede them. (VS Code stops asking for completion
    /// items once an answer came back empty; an inline request at the next keystroke must not
    /// empty the completion request still running.)
    pub async fn settle(&self, key: &K, limit: std::time::Duration) {
        let running: Vec<_> = self
            .pending
            .lock()
            .iter()
            .filter(|(k, (_, protected))| *protected && *k != key && k.group() == key.group())
            .filter_map(|(_, (weak, _))| weak.upgrade())
            .collect();
        if running.is_empty() {
            return;
        }
        let _ = tokio::time::timeout(limit, futures::future::join_all(running)).await;
    }

    /// How many computations are in the table (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.pending.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    struct Key(&'static str, u32);

    impl Grouped for Key {
        type Group = &'static str;
        fn group(&self) -> &&'static str {
            &self.0
        }
    }

    fn counted(runs: &Arc<AtomicUsize>, value: u32) -> impl FnOnce() -> BoxFuture<'static, u32> {
        let runs = Arc::clone(runs);
        move || {
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                value
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn two_requests_for_the_same_key_share_one_computation() {
        let flight = SingleFlight::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let (a, b) = tokio::join!(
            flight.run(Key("doc", 1), false, counted(&runs, 7)),
            flight.run(Key("doc", 1), false, counted(&runs, 8)),
        );
        assert_eq!((a, b), (7, 7));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_finished_computation_is_not_served_again() {
        let flight = SingleFlight::default();
        let runs = Arc::new(AtomicUsize::new(0));
        assert_eq!(flight.run(Key("doc", 1), false, counted(&runs, 1)).await, 1);
        assert_eq!(flight.run(Key("doc", 1), false, counted(&runs, 2)).await, 2);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_joined_computation_survives_the_cancelled_starter() {
        let flight = Arc::new(SingleFlight::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let starter = {
            let (flight, runs) = (Arc::clone(&flight), Arc::clone(&runs));
            tokio::spawn(async move { flight.run(Key("doc", 1), false, counted(&runs, 5)).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let joiner = flight.run(Key("doc", 1), false, counted(&runs, 6));
        starter.abort();
        assert_eq!(joiner.await, 5);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn settle_waits_for_a_protected_computation_of_the_group_up_to_the_limit() {
        let flight = Arc::new(SingleFlight::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let protected = {
            let (flight, runs) = (Arc::clone(&flight), Arc::clone(&runs));
            tokio::spawn(async move { flight.run(Key("doc", 1), true, counted(&runs, 5)).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let started = std::time::Instant::now();
        flight.settle(&Key("doc", 2), Duration::from_secs(5)).await;
        assert!(protected.is_finished() || runs.load(Ordering::SeqCst) == 1);
        assert!(started.elapsed() >= Duration::from_millis(30), "it waited");
        assert_eq!(protected.await.expect("joined"), 5);
        // Unprotected, or another group: no wait.
        let quick = std::time::Instant::now();
        flight
            .settle(&Key("other", 1), Duration::from_secs(5))
            .await;
        assert!(quick.elapsed() < Duration::from_millis(20));
    }

    #[tokio::test]
    async fn a_computation_every_requester_gave_up_on_is_dropped() {
        struct Dropped(Arc<AtomicUsize>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let flight = SingleFlight::default();
        let dropped = Arc::new(AtomicUsize::new(0));
        let guard = Dropped(Arc::clone(&dropped));
        let pending = flight.run(Key("doc", 1), false, move || {
            async move {
                let _guard = guard;
                tokio::time::sleep(Duration::from_secs(60)).await;
                0
            }
            .boxed()
        });
        let _ = tokio::time::timeout(Duration::from_millis(5), pending).await;
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "the computation was dropped"
        );
    }

    #[tokio::test]
    async fn a_new_key_in_a_group_drops_the_groups_other_keys_but_not_other_groups() {
        let flight = SingleFlight::default();
        let runs = Arc::new(AtomicUsize::new(0));
        // Left pending, and still awaited (held here).
        let mut held = Vec::new();
        for key in [Key("a", 1), Key("b", 1)] {
            let mut pending = Box::pin(flight.run(key, false, counted(&runs, 0)));
            let _ = tokio::time::timeout(Duration::from_millis(1), &mut pending).await;
            held.push(pending);
        }
        assert_eq!(flight.len(), 2);
        let mut newer = Box::pin(flight.run(Key("a", 2), false, counted(&runs, 0)));
        let _ = tokio::time::timeout(Duration::from_millis(1), &mut newer).await;
        assert_eq!(flight.len(), 2, "a/1 replaced by a/2, b/1 kept");
    }
}
