//! Probing: what turns fingerprint mode on.

use std::sync::Arc;

use crate::engine::dict::{AtomicDict, KeyHash};

type Map = AtomicDict<Arc<u64>, Arc<u64>>;

fn eq(k: u64) -> impl FnMut(&Arc<u64>) -> Result<bool, ()> {
    move |stored| Ok(**stored == k)
}

/// Keys `k` that all share one hash (so one probe run), told apart by `eq` only.
fn insert_colliding(map: &Map, k: u64) {
    map.insert(KeyHash::new(7), &Arc::new(k), eq(k), Arc::new(k)).unwrap();
}

fn remove_colliding(map: &Map, k: u64) {
    map.remove(KeyHash::new(7), &Arc::new(k), eq(k)).unwrap();
}

/// Regression (issue 11 item 7): a retired (DEAD) slot's word matched every hash tag, so probes
/// through deleted keys counted as crowded, and delete churn alone turned fingerprint mode on
/// for good. 30 keys of one hash stay below the threshold (32) live; deleting them and inserting
/// 30 others of that hash made the probes pass 30 DEAD slots more.
#[test]
fn probes_through_deleted_keys_do_not_turn_fingerprint_mode_on() {
    let map = Map::with_capacity(1000).unwrap();
    for round in 0..3 {
        for k in 0..30 {
            insert_colliding(&map, round * 100 + k);
        }
        assert!(!map.wants_fingerprints(), "round {round}: 30 live keys of one hash are not crowded");
        for k in 0..30 {
            remove_colliding(&map, round * 100 + k);
        }
    }
    assert_eq!(map.stats().migrations, 0, "the churn stayed in one generation");
    assert!(!map.wants_fingerprints(), "deleted keys alone turned fingerprint mode on");
}

/// Delete churn of distinct keys (each hashed as itself) in one generation: the DEAD slots it
/// leaves make long runs, and none of it is a crowd of one hash.
#[test]
fn heavy_delete_churn_of_distinct_keys_leaves_fingerprint_mode_off() {
    let map = Map::with_capacity(1 << 16).unwrap();
    let cap = map.stats().capacity as u64;
    let mut next = 0;
    // Keep a tenth of the entries live while the rest churn, until the entries run out: most
    // of the index ends up DEAD, in long runs.
    while next + 1 < cap {
        map.insert(KeyHash::new(next), &Arc::new(next), eq(next), Arc::new(next)).unwrap();
        if next + 1 >= cap / 10 {
            let old = next + 1 - cap / 10;
            map.remove(KeyHash::new(old), &Arc::new(old), eq(old)).unwrap();
        }
        next += 1;
    }
    // Probes for absent keys walk the runs of DEAD and live slots to their end.
    for k in cap..cap + 10_000 {
        assert!(map.get(KeyHash::new(k), eq(k)).unwrap().is_none());
        map.remove(KeyHash::new(k), &Arc::new(k), eq(k)).unwrap();
    }
    assert!(!map.wants_fingerprints(), "delete churn of distinct keys turned fingerprint mode on");
}

/// Issue 11 item 2: a write that must grow the map while the allocator refuses the new table
/// fails with the error and leaves the map as it was: the write's key absent, every other key
/// readable, deletes and replacements working, and the next growth, once memory is back, fine.
#[test]
fn a_growth_that_cannot_allocate_fails_the_write_and_leaves_the_map_usable() {
    use crate::engine::dict::table::test_alloc_limit;
    use crate::engine::dict::CapacityError;

    fn eq_or_oom(k: u64) -> impl FnMut(&Arc<u64>) -> Result<bool, CapacityError> {
        move |stored| Ok(**stored == k)
    }
    let map = Map::new();
    let keys: Vec<Arc<u64>> = (0..1000).map(Arc::new).collect();
    let (mut k, mut refused) = (0, None);
    {
        // Room for small tables only: a growth past a few dozen keys fails.
        let _limit = test_alloc_limit::set(1024);
        while k < keys.len() {
            let key = &keys[k];
            match map.insert(KeyHash::new(**key), key, eq_or_oom(**key), Arc::new(**key)) {
                Ok(_) => k += 1,
                Err(err) => {
                    refused = Some(err);
                    break;
                }
            }
        }
        assert_eq!(refused, Some(CapacityError::AllocFailed), "a growth was refused");
        let stats = map.stats();
        assert_eq!((stats.len, stats.capacity), (k, k), "the table filled up first");
        // The refused key is absent and was not half-inserted: only the map's keys hold it.
        assert!(map.get(KeyHash::new(k as u64), eq(k as u64)).unwrap().is_none());
        assert_eq!(Arc::strong_count(&keys[k]), 1);
        // Every key in place; replacing and deleting need no growth.
        for (i, key) in keys[..k].iter().enumerate() {
            assert_eq!(map.get(KeyHash::new(**key), eq(**key)).unwrap().map(|v| *v), Some(i as u64));
        }
        map.insert(KeyHash::new(0), &keys[0], eq_or_oom(0), Arc::new(100)).unwrap();
        assert_eq!(map.remove(KeyHash::new(1), &keys[1], eq_or_oom(1)).unwrap().map(|v| *v), Some(1));
        // A new key still needs the growth, and still cannot have it.
        let key = &keys[k];
        assert_eq!(map.insert(KeyHash::new(**key), key, eq_or_oom(**key), Arc::new(0)), Err(CapacityError::AllocFailed));
        assert_eq!(map.len(), k - 1);
        assert_eq!(map.stats().migrations, stats.migrations, "no migration started");
    }
    // Memory is back: the growth happens and the rest go in.
    for key in &keys[k..] {
        map.insert(KeyHash::new(**key), key, eq_or_oom(**key), Arc::new(**key)).unwrap();
    }
    assert_eq!(map.len(), keys.len() - 1);
    assert_eq!(map.get(KeyHash::new(0), eq(0)).unwrap().map(|v| *v), Some(100));
    assert!(map.get(KeyHash::new(1), eq(1)).unwrap().is_none());
    drop(map);
    let start = std::time::Instant::now();
    while keys.iter().any(|k| Arc::strong_count(k) != 1) && start.elapsed().as_secs() < 10 {
        crate::engine::reclaim::pin().flush();
        std::thread::yield_now();
    }
    assert!(keys.iter().all(|k| Arc::strong_count(k) == 1), "every key released once");
}
