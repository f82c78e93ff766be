//! Loom models of the counter dict (`engine::counter_dict`): every interleaving (up to the
//! preemption bound) of two threads adding to one key, in a table so small that the first add's
//! insert meets a migration, and with one sum crossing from a packed count to a boxed one.
//!
//! Run with `scripts/loom-test` (`RUSTFLAGS="--cfg loom --cfg crossbeam_loom"`). As in
//! `loom_dict.rs`, the model's main thread is one of the two racers.
#![cfg(loom)]

use std::sync::Arc as StdArc;

use lockless::engine::counter_dict::{AtomicCounterDict, INLINE_MAX};
use lockless::engine::dict::KeyHash;
use loom::sync::Arc;
use loom::thread;

type Counts = AtomicCounterDict<StdArc<u64>>;

fn add(c: &Counts, k: u64, n: i64) -> (i64, i64) {
    c.add_count(KeyHash::new(k), &StdArc::new(k), |stored| Ok::<_, ()>(**stored == k), n).unwrap()
}

fn count(c: &Counts, k: u64) -> i64 {
    c.count(KeyHash::new(k), |stored| Ok::<_, ()>(**stored == k)).unwrap()
}

/// The smallest table holds 5 entries; 4 keys inserted and removed leave it full of dead ones.
const OTHERS: [u64; 4] = [100, 101, 102, 103];
const KEY: u64 = 7;

/// Two adds to an absent key in a full table (the insert compacts it): both are counted, the
/// results match one order, and the sum, past the packed range, is boxed and read back.
#[test]
fn racing_adds_of_an_absent_key_across_a_compaction_are_both_counted() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.unwrap_or(2));
    builder.check(|| {
        let c = Arc::new(Counts::new());
        for k in OTHERS {
            add(&c, k, 1);
            c.remove(KeyHash::new(k), &StdArc::new(k), |stored| Ok::<_, ()>(**stored == k)).unwrap();
        }
        let other = {
            let c = c.clone();
            thread::spawn(move || add(&c, KEY, INLINE_MAX))
        };
        let mine = add(&c, KEY, 1);
        let theirs = other.join().unwrap();

        let mine_first = mine == (0, 1) && theirs == (1, INLINE_MAX + 1);
        let theirs_first = theirs == (0, INLINE_MAX) && mine == (INLINE_MAX, INLINE_MAX + 1);
        assert!(mine_first || theirs_first, "results {mine:?} and {theirs:?} match no order");
        assert_eq!(count(&c, KEY), INLINE_MAX + 1);
        assert_eq!(c.len(), 1);
    });
}

/// Two adds to a present key whose count is boxed: a reader of the replaced box is safe (the
/// epoch keeps it), and the total is exact.
#[test]
fn racing_adds_to_a_boxed_count_are_exact_and_a_reader_sees_a_count_some_add_made() {
    loom::model(|| {
        let c = Arc::new(Counts::new());
        add(&c, KEY, INLINE_MAX + 10);
        let other = {
            let c = c.clone();
            thread::spawn(move || {
                let seen = count(&c, KEY);
                add(&c, KEY, -20);
                seen
            })
        };
        add(&c, KEY, 1);
        let seen = other.join().unwrap();
        assert!([INLINE_MAX + 10, INLINE_MAX + 11].contains(&seen), "read {seen}");
        assert_eq!(count(&c, KEY), INLINE_MAX - 9);
    });
}
