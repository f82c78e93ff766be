//! Stress tests with real threads behind a Barrier and tiny initial capacities, so that
//! migrations happen constantly while the threads work. Each checks an exact invariant.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use common::{flush_epoch_until, identity_hash, two_bit_hash, Map};

const THREADS: u64 = 4;

/// Runs `f(thread_index)` on THREADS threads started together; panics propagate.
fn together(f: impl Fn(u64) + Sync) {
    let barrier = Barrier::new(THREADS as usize);
    thread::scope(|s| {
        for t in 0..THREADS {
            let (f, barrier) = (&f, &barrier);
            s.spawn(move || {
                barrier.wait();
                f(t)
            });
        }
    });
}

#[test]
fn disjoint_inserts_give_an_exact_len_and_every_key() {
    let map = Map::new(identity_hash);
    const PER: u64 = 20_000;
    together(|t| {
        for i in 0..PER {
            assert_eq!(map.insert(t * PER + i, i), None);
        }
    });
    assert_eq!(map.len(), (THREADS * PER) as usize);
    for k in 0..THREADS * PER {
        assert_eq!(map.get(k), Some(k % PER), "key {k}");
    }
    assert!(map.stats().migrations > 5, "the test must exercise migrations");
}

#[test]
fn each_threads_inserts_keep_their_relative_order() {
    let map = Map::new(identity_hash);
    const PER: u64 = 5_000;
    together(|t| {
        for i in 0..PER {
            map.insert(t * PER + i, t);
        }
    });
    let items = map.items();
    for t in 0..THREADS {
        let mine: Vec<u64> = items.iter().filter(|(_, v)| *v == t).map(|(k, _)| *k).collect();
        let expected: Vec<u64> = (0..PER).map(|i| t * PER + i).collect();
        assert_eq!(mine, expected, "thread {t}'s keys out of order");
    }
}

#[test]
fn concurrent_compute_increments_give_exact_sums() {
    let map = Map::new(two_bit_hash);
    const ROUNDS: u64 = 5_000;
    const KEYS: u64 = 16;
    together(|t| {
        for i in 0..ROUNDS {
            map.add((i + t) % KEYS, 1);
        }
    });
    let total: u64 = (0..KEYS).map(|k| map.get(k).unwrap()).sum();
    assert_eq!(total, THREADS * ROUNDS);
}

#[test]
fn compare_and_set_from_one_expected_value_has_exactly_one_winner() {
    let map = Map::new(identity_hash);
    for round in 0..500 {
        map.insert(round, 0);
        let expected = map.get_obj(round).unwrap();
        let winners = AtomicUsize::new(0);
        together(|t| {
            if map.cas(round, Some(&expected), Some(100 + t)) {
                winners.fetch_add(1, Ordering::SeqCst);
            }
        });
        assert_eq!(winners.load(Ordering::SeqCst), 1, "round {round}");
    }
}

#[test]
fn insert_if_absent_races_have_one_winner() {
    let map = Map::new(identity_hash);
    for round in 0..500 {
        let winners = AtomicUsize::new(0);
        let seen = std::sync::Mutex::new(HashSet::new());
        together(|t| {
            let got = map.insert_if_absent(round, t);
            if got.is_none() {
                winners.fetch_add(1, Ordering::SeqCst);
            }
            seen.lock().unwrap().insert(got.unwrap_or(t));
        });
        assert_eq!(winners.load(Ordering::SeqCst), 1);
        assert_eq!(seen.lock().unwrap().len(), 1, "every caller sees the stored value");
    }
}

#[test]
fn readers_only_see_values_some_writer_wrote() {
    let map = Map::new(identity_hash);
    let stop = AtomicBool::new(false);
    together(|t| {
        if t == 0 {
            // The writer: key k only ever holds multiples of k+1, and grows the table.
            for round in 1..200u64 {
                for k in 0..64 {
                    map.insert(k, (k + 1) * round);
                }
                map.insert(1000 + round, 0);
            }
            stop.store(true, Ordering::SeqCst);
        } else {
            while !stop.load(Ordering::SeqCst) {
                for k in 0..64 {
                    if let Some(v) = map.get(k) {
                        assert_eq!(v % (k + 1), 0, "key {k} read {v}, which nobody wrote");
                    }
                }
            }
        }
    });
}

#[test]
fn iteration_under_churn_never_repeats_and_sees_every_stable_key() {
    let map = Map::new(identity_hash);
    const STABLE: u64 = 200;
    for k in 0..STABLE {
        map.insert(k, k);
    }
    let stop = AtomicBool::new(false);
    together(|t| {
        if t == 0 {
            for _ in 0..200 {
                let items = map.items();
                let keys: HashSet<u64> = items.iter().map(|(k, _)| *k).collect();
                assert_eq!(keys.len(), items.len(), "a key was yielded twice");
                for k in 0..STABLE {
                    assert!(keys.contains(&k), "stable key {k} missing");
                }
            }
            stop.store(true, Ordering::SeqCst);
        } else {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let k = STABLE + t * 1_000_000 + (i % 500);
                if i % 2 == 0 {
                    map.insert(k, i);
                } else {
                    map.remove(k);
                }
                if i % 1000 == 999 {
                    // Force compactions and growth while the iterator runs.
                    map.inner.reserve(64).unwrap();
                }
                i += 1;
            }
        }
    });
}

#[test]
fn clear_racing_with_inserts_leaves_a_consistent_map() {
    let map = Map::new(identity_hash);
    together(|t| {
        for i in 0..3_000u64 {
            if t == 0 && i % 100 == 0 {
                map.clear();
            } else {
                map.insert(t * 10_000 + i, i);
            }
        }
    });
    let items = map.items();
    assert_eq!(items.len(), map.len());
    for (k, v) in items {
        assert_eq!(map.get(k), Some(v));
    }
}

#[test]
fn every_object_is_released_exactly_once_after_concurrent_churn() {
    let map = Map::new(two_bit_hash);
    together(|t| {
        for i in 0..4_000u64 {
            let k = (i * 7 + t) % 300;
            match i % 5 {
                0 | 1 => {
                    map.insert(k, i);
                }
                2 => {
                    map.remove(k);
                }
                3 => {
                    map.add(k, 1);
                }
                _ => {
                    map.pop_last();
                }
            }
        }
    });
    let live = Arc::clone(&map.live);
    drop(map);
    flush_epoch_until(|| live.load(Ordering::SeqCst) == 0);
    assert_eq!(live.load(Ordering::SeqCst), 0);
}

#[test]
fn deletes_racing_reinserts_of_the_same_keys_never_duplicate_a_key_or_leak() {
    let map = Map::new(two_bit_hash);
    together(|t| {
        for i in 0..20_000u64 {
            let k = i % 4; // four keys, every thread on all of them
            if (i + t) % 2 == 0 {
                map.insert(k, t);
            } else {
                map.remove(k);
            }
            if i % 2_000 == 0 {
                let items = map.items();
                let keys: HashSet<u64> = items.iter().map(|(k, _)| *k).collect();
                assert_eq!(keys.len(), items.len(), "a key appeared twice: {items:?}");
            }
        }
    });
    let items = map.items();
    let keys: HashSet<u64> = items.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys.len(), items.len());
    assert_eq!(map.len(), items.len());
    let live = Arc::clone(&map.live);
    drop(map);
    flush_epoch_until(|| live.load(Ordering::SeqCst) == 0);
    assert_eq!(live.load(Ordering::SeqCst), 0, "every key and value released exactly once");
}

/// Write-heavy churn (with migrations) over persistent key objects the test holds two
/// references to, so that a key released twice shows as a count of 1 rather than as memory
/// corruption that may go unnoticed. (The deterministic regression test for the late-copy
/// double release is in `src/engine/dict/migrate.rs`; this is its statistical companion.)
#[test]
fn write_heavy_churn_releases_each_persistent_key_exactly_once() {
    let map = Map::new(identity_hash);
    const THREADS_HERE: u64 = 4;
    const KEYS: u64 = 16_384;
    let keys: Vec<_> = (0..KEYS).map(|k| map.obj(k)).collect();
    let extra: Vec<_> = keys.iter().map(Arc::clone).collect();
    for key in keys.iter().step_by(2) {
        map.insert_key(key, 0);
    }
    let barrier = Barrier::new(THREADS_HERE as usize);
    thread::scope(|s| {
        for t in 0..THREADS_HERE {
            let (map, barrier, keys) = (&map, &barrier, &keys);
            s.spawn(move || {
                barrier.wait();
                let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for _ in 0..100_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let k = x % KEYS;
                    match x % 4 {
                        0 | 1 => {
                            map.get(k);
                        }
                        2 => {
                            map.insert_key(&keys[k as usize], t);
                        }
                        _ => {
                            map.remove(k);
                        }
                    }
                }
            });
        }
    });
    drop(map);
    flush_epoch_until(|| keys.iter().all(|k| Arc::strong_count(k) == 2));
    for (k, key) in keys.iter().enumerate() {
        assert_eq!(Arc::strong_count(key), 2, "key {k} released more (or fewer) times than taken");
    }
    drop(extra);
}
