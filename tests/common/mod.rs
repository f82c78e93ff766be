//! A typed wrapper over the engine's `AtomicDict` for tests: `u64` keys and values carried in
//! `Arc<Tracked>`, a pluggable (possibly degenerate) hasher, and a live-object counter that shows
//! every key and value the map took is released exactly once.
#![allow(dead_code)]

use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use lockless::engine::dict::{AtomicDict, KeyHash, Stats};
use lockless::engine::reclaim::{pin, Handle};

/// A value that counts how many of its kind are alive.
pub struct Tracked {
    pub n: u64,
    live: Arc<AtomicIsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

pub type Obj = Arc<Tracked>;

/// How the map's operations tag their keys (see `KeyHash`).
#[derive(Clone, Copy, Debug)]
pub enum Tags {
    /// From the hash alone, as for keys the caller cannot fingerprint.
    Hash,
    /// From the key's value, as the binding does for exact ints.
    Fingerprint,
    /// Alternately one and the other, call by call, as when int keys are looked up with equal
    /// floats: tags of the two kinds must still find each other's keys.
    Mixed,
}

pub struct Map {
    pub inner: AtomicDict<Obj, Obj>,
    hasher: fn(u64) -> u64,
    tags: Tags,
    calls: std::sync::atomic::AtomicU64,
    pub live: Arc<AtomicIsize>,
}

impl Map {
    pub fn new(hasher: fn(u64) -> u64) -> Self {
        Self::with_capacity(hasher, 0)
    }

    pub fn with_capacity(hasher: fn(u64) -> u64, cap: usize) -> Self {
        Self::with_tags(hasher, cap, Tags::Hash)
    }

    pub fn with_tags(hasher: fn(u64) -> u64, cap: usize, tags: Tags) -> Self {
        Map {
            inner: AtomicDict::with_capacity(cap).unwrap(),
            hasher,
            tags,
            calls: std::sync::atomic::AtomicU64::new(0),
            live: Arc::new(AtomicIsize::new(0)),
        }
    }

    /// Key `k`'s hash and tag for one call.
    fn kh(&self, k: u64) -> KeyHash {
        let hash = (self.hasher)(k);
        let fingerprint = match self.tags {
            Tags::Hash => false,
            Tags::Fingerprint => true,
            Tags::Mixed => self.calls.fetch_add(1, Ordering::Relaxed) % 2 == 0,
        };
        if fingerprint {
            KeyHash::with_fingerprint(hash, k)
        } else {
            KeyHash::new(hash)
        }
    }

    pub fn obj(&self, n: u64) -> Obj {
        self.live.fetch_add(1, Ordering::SeqCst);
        Arc::new(Tracked { n, live: self.live.clone() })
    }

    fn eq(k: u64) -> impl FnMut(&Obj) -> Result<bool, ()> {
        move |stored| Ok(stored.n == k)
    }

    pub fn get(&self, k: u64) -> Option<u64> {
        self.inner.get(self.kh(k), Self::eq(k)).unwrap().map(|v| v.n)
    }

    pub fn get_obj(&self, k: u64) -> Option<Obj> {
        self.inner.get(self.kh(k), Self::eq(k)).unwrap()
    }

    /// The stored keys with `k`'s hash, sorted (the engine gives them in probe order).
    pub fn keys_with_hash(&self, k: u64) -> Vec<u64> {
        let mut keys: Vec<u64> = self.inner.keys_with_hash(self.kh(k)).iter().map(|key| key.n).collect();
        keys.sort_unstable();
        keys
    }

    pub fn insert(&self, k: u64, v: u64) -> Option<u64> {
        let key = self.obj(k);
        let value = self.obj(v);
        self.inner.insert(self.kh(k), &key, Self::eq(k), value).unwrap().map(|v| v.n)
    }

    pub fn insert_if_absent(&self, k: u64, v: u64) -> Option<u64> {
        let key = self.obj(k);
        let value = self.obj(v);
        self.inner
            .insert_if_absent(self.kh(k), &key, Self::eq(k), value)
            .unwrap()
            .map(|v| v.n)
    }

    /// Inserts under a key object the caller keeps (so its reference count can be checked).
    pub fn insert_key(&self, key: &Obj, v: u64) -> Option<u64> {
        let value = self.obj(v);
        self.inner.insert(self.kh(key.n), key, Self::eq(key.n), value).unwrap().map(|v| v.n)
    }

    pub fn remove(&self, k: u64) -> Option<u64> {
        let key = self.obj(k);
        self.inner.remove(self.kh(k), &key, Self::eq(k)).unwrap().map(|v| v.n)
    }

    pub fn replace_if_present(&self, k: u64, v: u64) -> Option<u64> {
        let key = self.obj(k);
        let value = self.obj(v);
        self.inner
            .replace_if_present(self.kh(k), &key, Self::eq(k), value)
            .unwrap()
            .map(|v| v.n)
    }

    /// CAS by identity: `expected` is an object previously read from the map (or None).
    pub fn cas(&self, k: u64, expected: Option<&Obj>, desired: Option<u64>) -> bool {
        let key = self.obj(k);
        let desired = desired.map(|d| self.obj(d));
        self.inner
            .compare_and_set(self.kh(k), &key, Self::eq(k), expected.map(Handle::as_ptr), desired)
            .unwrap()
    }

    /// Adds `delta` to the key's value (absent counts as 0) through `compute`.
    pub fn add(&self, k: u64, delta: u64) -> u64 {
        let key = self.obj(k);
        self.inner
            .compute(self.kh(k), &key, Self::eq(k), |cur| {
                let cur = cur.map_or(0, |v| v.n);
                Ok(Some(self.obj(cur + delta)))
            })
            .unwrap()
            .unwrap()
            .n
    }

    pub fn compute_remove(&self, k: u64) -> Option<u64> {
        let key = self.obj(k);
        self.inner.compute(self.kh(k), &key, Self::eq(k), |_| Ok(None)).unwrap().map(|v| v.n)
    }

    pub fn pop_last(&self) -> Option<(u64, u64)> {
        self.inner.pop_last().map(|(k, v)| (k.n, v.n))
    }

    pub fn items(&self) -> Vec<(u64, u64)> {
        let mut it = self.inner.iter();
        let mut out = Vec::new();
        while let Some((k, v)) = it.next() {
            out.push((k.n, v.n));
        }
        out
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn clear(&self) {
        self.inner.clear();
    }

    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Objects created by this map's tests and not yet dropped.
    pub fn live_objects(&self) -> isize {
        self.live.load(Ordering::SeqCst)
    }
}

/// Runs the epoch until `done()` (for example: every tracked object released), or gives up
/// after 10 s. Other test threads share the collector and keep pinning, so collection may lag
/// behind; a real leak never reaches `done()`.
pub fn flush_epoch_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() && std::time::Instant::now() < deadline {
        for _ in 0..100 {
            pin().flush();
        }
        std::thread::yield_now();
    }
}

pub fn identity_hash(k: u64) -> u64 {
    k
}

pub fn one_hash(_: u64) -> u64 {
    42
}

pub fn two_bit_hash(k: u64) -> u64 {
    k & 3
}
