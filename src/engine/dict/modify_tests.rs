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
