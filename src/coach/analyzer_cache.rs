//! A bounded in-memory cache of analyzer verdicts (LRU).
//!
//! The key is a blake3 hash of the normalised message plus the last few turns, so "Should I
//! take the offer?" and "should i  take the offer?" share an answer, while the same words in
//! a different conversation do not. Only valid verdicts are stored: a failure is never cached.
//! [`cache_key`] is public so a SQLite layer can persist entries under the same key (store
//! the analyzer model next to it: a key does not name the model that answered).

use std::num::NonZeroUsize;

use lru::LruCache;

use crate::routing::analyzer::{AnalyzerVerdict, ResolvedAnalyzer};

/// Separates this hash from any other blake3 use; bump when the key layout changes.
const KEY_CONTEXT: &str = "grow analyzer cache key v1";

/// Trimmed, lowercased, every run of whitespace (any Unicode space, line breaks) one space.
pub fn normalise(text: &str) -> String {
    let lower = text.to_lowercase();
    let mut out = String::with_capacity(lower.len());
    for word in lower.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The cache key of `message` with `recent` turns (oldest first), all normalised. Each part
/// is length-prefixed, so moving text between the message and a turn changes the key.
pub fn cache_key(message: &str, recent: &[&str]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(KEY_CONTEXT);
    let mut part = |text: &str| {
        let text = normalise(text);
        hasher.update(&(text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    };
    part(message);
    for turn in recent {
        part(turn);
    }
    *hasher.finalize().as_bytes()
}

/// Verdicts by key, least recently used evicted first.
#[derive(Debug)]
pub struct AnalyzerCache {
    entries: LruCache<[u8; 32], AnalyzerVerdict>,
    context_turns: usize,
    hits: u64,
    misses: u64,
}

impl AnalyzerCache {
    /// A cache of at most `capacity` verdicts, keyed with the last `context_turns` turns.
    pub fn new(capacity: NonZeroUsize, context_turns: usize) -> Self {
        AnalyzerCache {
            entries: LruCache::new(capacity),
            context_turns,
            hits: 0,
            misses: 0,
        }
    }

    /// The cache a resolved `[analyzer]` section asks for; `None` when the analyzer or its
    /// cache is off.
    pub fn for_settings(settings: &ResolvedAnalyzer) -> Option<Self> {
        let capacity = settings.cache_size.filter(|_| settings.is_enabled())?;
        Some(AnalyzerCache::new(capacity, settings.context_turns))
    }

    /// The key of `message` given the conversation's turns so far (oldest first); only the
    /// last `context_turns` count, the same ones the analyzer is shown.
    pub fn key_for(&self, message: &str, turns: &[&str]) -> [u8; 32] {
        let start = turns.len().saturating_sub(self.context_turns);
        cache_key(message, &turns[start..])
    }

    /// The cached verdict, counted as a hit or a miss; a hit becomes the most recent entry.
    pub fn get(&mut self, key: &[u8; 32]) -> Option<AnalyzerVerdict> {
        let found = self.entries.get(key).cloned();
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    /// Stores a verdict, evicting the least recently used one when full.
    pub fn put(&mut self, key: [u8; 32], verdict: AnalyzerVerdict) {
        self.entries.put(key, verdict);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn capacity(&self) -> NonZeroUsize {
        self.entries.cap()
    }

    pub fn context_turns(&self) -> usize {
        self.context_turns
    }

    pub fn hits(&self) -> u64 {
        self.hits
    }

    pub fn misses(&self) -> u64 {
        self.misses
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
