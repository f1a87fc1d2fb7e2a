//! An in-memory LRU cache of complete, successful responses, keyed by a SHA-256 hash of the
//! normalized request, bounded in bytes and with a time to live.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use lru::LruCache;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::types::LlmResponse;

/// The hash of a normalized request. Built only from what changes the answer (provider, base
/// URL, model, prompt, sampling settings); never from an API key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl CacheKey {
    /// The whole hash in hex: how the team's shared cache names an answer.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// Hashes the parts, each length-prefixed so that no two part lists collide by concatenation.
    pub fn from_parts(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        Self(hasher.finalize().into())
    }
}

struct Entry {
    response: LlmResponse,
    stored: Instant,
    bytes: usize,
}

struct Inner {
    entries: LruCache<CacheKey, Entry>,
    bytes: usize,
}

/// Hit and size figures for `aiex.status`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CacheStats {
    /// Answers served from the cache.
    pub hits: u64,
    /// Look-ups that found nothing (or only an expired entry).
    pub misses: u64,
    /// `hits / (hits + misses)`, 0 when nothing was looked up.
    pub hit_rate: f64,
    /// Entries held.
    pub entries: usize,
    /// Approximate bytes held.
    pub bytes: usize,
}

/// The response cache, shared by all providers.
pub struct ResponseCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
    ttl: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ResponseCache {
    /// A cache holding at most `max_bytes` of responses, each for `ttl`. A zero bound disables it.
    pub fn new(max_bytes: usize, ttl: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
            max_bytes,
            ttl,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached answer to `key`, if fresh. Runs on every completion request: one hash-map
    /// look-up under a short lock.
    pub fn get(&self, key: &CacheKey) -> Option<LlmResponse> {
        if self.max_bytes == 0 {
            return None;
        }
        let mut inner = self.lock();
        let fresh = inner
            .entries
            .get(key)
            .map(|entry| entry.stored.elapsed() < self.ttl);
        let found = match fresh {
            Some(true) => inner.entries.get(key).map(|entry| entry.response.clone()),
            Some(false) => {
                if let Some(old) = inner.entries.pop(key) {
                    inner.bytes -= old.bytes;
                }
                None
            }
            None => None,
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores a complete, successful answer, evicting the least recently used ones to stay
    /// within the byte bound. An answer larger than the bound is not stored.
    pub fn insert(&self, key: CacheKey, response: LlmResponse) {
        let bytes = response.text.len() + response.model.len() + response.provider.len() + 128;
        if bytes > self.max_bytes {
            return;
        }
        let mut inner = self.lock();
        if let Some(old) = inner.entries.put(
            key,
            Entry {
                response,
                stored: Instant::now(),
                bytes,
            },
        ) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        while inner.bytes > self.max_bytes {
            match inner.entries.pop_lru() {
                Some((_, evicted)) => inner.bytes -= evicted.bytes,
                None => break,
            }
        }
    }

    /// Hit and size figures.
    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        let hits = self.hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        let total = hits + misses;
        CacheStats {
            hits,
            misses,
            hit_rate: if total == 0 {
                0.0
            } else {
                hits as f64 / total as f64
            },
            entries: inner.entries.len(),
            bytes: inner.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{FinishReason, Usage};

    fn response(text: &str) -> LlmResponse {
        LlmResponse {
            text: text.to_owned(),
            finish_reason: FinishReason::Stop,
            usage: Usage::default(),
            cost_usd: 0.0,
            provider: "p".into(),
            model: "m".into(),
            latency: Duration::ZERO,
            cached: false,
            team_cache: false,
            timings: None,
        }
    }

    #[test]
    fn keys_depend_on_every_part_and_not_on_concatenation() {
        assert_ne!(
            CacheKey::from_parts(&[b"ab", b"c"]),
            CacheKey::from_parts(&[b"a", b"bc"])
        );
        assert_eq!(CacheKey::from_parts(&[b"a"]), CacheKey::from_parts(&[b"a"]));
    }

    #[test]
    fn byte_bound_evicts_least_recently_used() {
        let cache = ResponseCache::new(3 * (130 + 100), Duration::from_secs(60));
        let keys: Vec<CacheKey> = (0u8..4).map(|i| CacheKey::from_parts(&[&[i]])).collect();
        for key in &keys[..3] {
            cache.insert(*key, response(&"x".repeat(100)));
        }
        assert!(cache.get(&keys[0]).is_some(), "touch 0 so 1 is the oldest");
        cache.insert(keys[3], response(&"y".repeat(100)));
        assert!(cache.get(&keys[1]).is_none());
        assert!(cache.get(&keys[0]).is_some());
        assert!(cache.stats().bytes <= 3 * 230);
    }

    #[test]
    fn expired_entries_are_misses() {
        let cache = ResponseCache::new(10_000, Duration::ZERO);
        let key = CacheKey::from_parts(&[b"k"]);
        cache.insert(key, response("a"));
        assert!(cache.get(&key).is_none());
        assert_eq!(cache.stats().entries, 0);
    }
}
