//! Tests of the counter dict: the packing, each operation's semantics, exact totals under racing
//! adds, and a differential model against a `HashMap<u64, i64>`.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::{tracked_live, AtomicCounterDict, Count, CountError, INLINE, INLINE_MAX, INLINE_MIN, TRACKED};
use crate::engine::dict::KeyHash;
use crate::engine::reclaim::{pin, Handle};

fn eq(k: u64) -> impl FnMut(&Arc<u64>) -> Result<bool, ()> {
    move |stored| Ok(**stored == k)
}

fn h(k: u64) -> KeyHash {
    KeyHash::new(k % 3) // few hashes: probes compare keys
}

type Counts = AtomicCounterDict<Arc<u64>>;

fn add(c: &Counts, k: u64, n: i64) -> Result<(i64, i64), CountError<()>> {
    c.add_count(h(k), &Arc::new(k), eq(k), n)
}

fn items(c: &Counts) -> Vec<(u64, i64)> {
    let mut out = Vec::new();
    let mut it = c.iter();
    while let Some((k, v)) = it.next() {
        out.push((*k, v.get()));
    }
    out
}

#[test]
fn counts_pack_into_the_word_when_they_fit_and_box_beyond_with_the_state_bits_clear() {
    for n in [0, 1, -1, 42, INLINE_MIN, INLINE_MAX, INLINE_MIN - 1, INLINE_MAX + 1, i64::MIN, i64::MAX] {
        let c = Count::new(n);
        assert_eq!(c.get(), n);
        let word = c.as_ptr().as_ptr() as usize;
        assert_eq!(word & 0b111, 0, "state bits of {n}");
        assert_eq!(c.is_boxed(), !(INLINE_MIN..=INLINE_MAX).contains(&n));
        assert_eq!(word & INLINE != 0, !c.is_boxed());
        assert_eq!(Count::needs_release(c.as_ptr()), c.is_boxed());
        assert!(!Count::is_traced(c.as_ptr()));
        // SAFETY: `c` keeps the object alive during the call.
        let copy = unsafe { Count::clone_raw(c.as_ptr()) };
        drop(c);
        assert_eq!(copy.get(), n, "a clone outlives the original");
        let raw = copy.into_raw();
        // SAFETY: `raw` carries the reference `into_raw` gave up.
        assert_eq!(unsafe { Count::from_raw(raw) }.get(), n);
    }
}

#[test]
fn a_missing_key_counts_zero_and_is_not_inserted_by_reading() {
    let c = Counts::new();
    assert_eq!(c.count(h(7), eq(7)), Ok(0));
    assert_eq!(c.len(), 0);
}

#[test]
fn add_inserts_at_zero_then_adds_and_returns_the_counts_before_and_after() {
    let c = Counts::new();
    assert_eq!(add(&c, 1, 5), Ok((0, 5)));
    assert_eq!(add(&c, 1, -7), Ok((5, -2)));
    assert_eq!(add(&c, 2, 0), Ok((0, 0)), "adding 0 inserts the key");
    assert_eq!(c.len(), 2);
    assert_eq!(items(&c), vec![(1, -2), (2, 0)]);
}

#[test]
fn add_crosses_between_packed_and_boxed_counts_and_overflow_changes_nothing() {
    let c = Counts::new();
    add(&c, 1, INLINE_MAX).unwrap();
    assert_eq!(add(&c, 1, 1), Ok((INLINE_MAX, INLINE_MAX + 1)));
    assert_eq!(add(&c, 1, i64::MAX - INLINE_MAX - 1), Ok((INLINE_MAX + 1, i64::MAX)));
    assert_eq!(add(&c, 1, 1), Err(CountError::Overflow));
    assert_eq!(c.count(h(1), eq(1)), Ok(i64::MAX));
    assert_eq!(add(&c, 1, i64::MIN), Ok((i64::MAX, -1)));
    assert_eq!(add(&c, 2, i64::MIN), Ok((0, i64::MIN)));
    assert_eq!(add(&c, 2, -1), Err(CountError::Overflow));
    assert_eq!(add(&c, 3, 1).unwrap(), (0, 1));
    assert_eq!(add(&c, 9, i64::MAX).unwrap(), (0, i64::MAX));
    assert_eq!(add(&c, 9, 1), Err(CountError::Overflow));
    assert_eq!(items(&c), vec![(1, -1), (2, i64::MIN), (3, 1), (9, i64::MAX)]);
}

#[test]
fn an_eq_error_propagates_and_changes_nothing() {
    let c = Counts::new();
    add(&c, 0, 1).unwrap();
    let k = Arc::new(3u64); // hash 0, like key 0: the probe compares it
    #[derive(Debug, PartialEq)]
    struct Boom;
    impl From<crate::engine::dict::CapacityError> for Boom {
        fn from(_: crate::engine::dict::CapacityError) -> Self {
            unreachable!("the table does not grow here")
        }
    }
    let r = c.add_count(h(3), &k, |_| Err::<bool, Boom>(Boom), 1);
    assert_eq!(r, Err(CountError::Key(Boom)));
    assert_eq!(items(&c), vec![(0, 1)]);
}

#[test]
fn compare_and_set_treats_absent_as_zero_and_desired_inserts() {
    let c = Counts::new();
    let k = Arc::new(5u64);
    assert_eq!(c.compare_and_set_count(h(5), &k, eq(5), 1, 9), Ok(false));
    assert_eq!(c.len(), 0, "a failed CAS of an absent key inserts nothing");
    assert_eq!(c.compare_and_set_count(h(5), &k, eq(5), 0, 9), Ok(true));
    assert_eq!(c.compare_and_set_count(h(5), &k, eq(5), 9, i64::MIN), Ok(true));
    assert_eq!(c.compare_and_set_count(h(5), &k, eq(5), 9, 1), Ok(false));
    assert_eq!(c.count(h(5), eq(5)), Ok(i64::MIN));
}

#[test]
fn swap_and_reset_return_the_previous_count_and_reset_keeps_the_key() {
    let c = Counts::new();
    let k = Arc::new(8u64);
    assert_eq!(c.reset_count(h(8), &k, eq(8)), Ok(0));
    assert_eq!(c.len(), 0, "resetting an absent key inserts nothing");
    assert_eq!(c.swap_count(h(8), &k, eq(8), 3), Ok(0));
    assert_eq!(c.swap_count(h(8), &k, eq(8), i64::MAX), Ok(3));
    assert_eq!(c.reset_count(h(8), &k, eq(8)), Ok(i64::MAX));
    assert_eq!(items(&c), vec![(8, 0)]);
    assert_eq!(c.insert_count_if_absent(h(8), &k, eq(8), 4), Ok(Some(0)));
    assert_eq!(c.insert_count_if_absent(h(9), &Arc::new(9), eq(9), 4), Ok(None));
    assert_eq!(items(&c), vec![(8, 0), (9, 4)]);
    let positive = |n: i64| n > 0;
    assert_eq!(c.remove_count_if(h(8), &k, eq(8), positive), Ok(None));
    assert_eq!(c.remove_count_if(h(9), &Arc::new(9), eq(9), positive), Ok(Some(4)));
    assert_eq!(c.remove_count_if(h(1), &Arc::new(1), eq(1), |_| true), Ok(None));
    assert_eq!(items(&c), vec![(8, 0)]);
}

#[test]
fn racing_adds_give_exact_totals_and_each_key_sees_every_count_once() {
    const THREADS: usize = 4;
    const ADDS: u64 = 2000;
    let c = Arc::new(Counts::new());
    let seen: Vec<Vec<(u64, i64)>> = (0..THREADS)
        .map(|_| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || (0..ADDS).map(|i| (i % 4, add(&c, i % 4, 1).unwrap().1)).collect())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let per_key = (THREADS as u64 * ADDS / 4) as i64;
    for k in 0..4 {
        assert_eq!(c.count(h(k), eq(k)), Ok(per_key));
        let mut results: Vec<i64> = seen.iter().flatten().filter(|(key, _)| *key == k).map(|(_, n)| *n).collect();
        results.sort_unstable();
        assert_eq!(results, (1..=per_key).collect::<Vec<_>>(), "add results of key {k} are a permutation");
    }
}

#[test]
fn boxed_counts_are_released_and_keys_released_exactly_once() {
    let keys: Vec<Arc<u64>> = (0..500).map(Arc::new).collect();
    {
        let c = Counts::new();
        for k in &keys {
            c.add_count(h(**k), k, eq(**k), TRACKED).unwrap(); // boxed
            c.add_count(h(**k), k, eq(**k), 1).unwrap(); // boxed, replaces the first
            if **k % 2 == 0 {
                c.swap_count(h(**k), k, eq(**k), 1).unwrap(); // back to packed
            }
            if **k % 3 == 0 {
                c.remove(h(**k), k, eq(**k)).unwrap();
            }
        }
        assert_eq!(c.count(h(1), eq(1)), Ok(TRACKED + 1));
        assert!(tracked_live() > 0);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let pending = || keys.iter().any(|k| Arc::strong_count(k) != 1) || tracked_live() != 0;
    while pending() && std::time::Instant::now() < deadline {
        pin().flush();
        std::thread::yield_now();
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(Arc::strong_count(k), 1, "key {i} released more or fewer times than taken");
    }
    assert_eq!(tracked_live(), 0, "every boxed count released once");
}

#[test]
fn a_collector_traversal_visits_the_keys_and_no_count() {
    let c = Counts::new();
    for k in 0..50 {
        add(&c, k, if k % 2 == 0 { 1 } else { i64::MAX }).unwrap();
    }
    let mut visited = 0;
    // SAFETY: no other thread uses the map.
    unsafe { c.for_each_owned(|_| visited += 1) };
    assert_eq!(visited, 50);
}

#[derive(Debug, Clone)]
enum Op {
    Add(u64, i64),
    Cas(u64, i64, i64),
    CasCurrent(u64, i64),
    Swap(u64, i64),
    Reset(u64),
    Remove(u64),
    PopLast,
    Clear,
}

fn count() -> impl Strategy<Value = i64> {
    prop_oneof![-3..4i64, Just(INLINE_MAX), Just(INLINE_MIN), Just(i64::MAX), Just(i64::MIN), any::<i64>()]
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..12u64;
    prop_oneof![
        6 => (k.clone(), count()).prop_map(|(k, n)| Op::Add(k, n)),
        1 => (k.clone(), count(), count()).prop_map(|(k, e, d)| Op::Cas(k, e, d)),
        2 => (k.clone(), count()).prop_map(|(k, d)| Op::CasCurrent(k, d)),
        1 => (k.clone(), count()).prop_map(|(k, n)| Op::Swap(k, n)),
        1 => k.clone().prop_map(Op::Reset),
        2 => k.clone().prop_map(Op::Remove),
        1 => Just(Op::PopLast),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #[test]
    fn every_operation_agrees_with_a_hashmap_of_i64(ops in proptest::collection::vec(op(), 1..200)) {
        let c = Counts::new();
        let mut model: HashMap<u64, i64> = HashMap::new();
        let mut order: Vec<u64> = Vec::new();
        for op in ops {
            // A CAS from the current count, which random counts would rarely hit.
            let op = match op {
                Op::CasCurrent(k, d) => Op::Cas(k, model.get(&k).copied().unwrap_or(0), d),
                other => other,
            };
            match op {
                Op::Add(k, n) => {
                    let old = model.get(&k).copied().unwrap_or(0);
                    match old.checked_add(n) {
                        Some(new) => {
                            prop_assert_eq!(add(&c, k, n), Ok((old, new)));
                            if model.insert(k, new).is_none() {
                                order.push(k);
                            }
                        }
                        None => prop_assert_eq!(add(&c, k, n), Err(CountError::Overflow)),
                    }
                }
                Op::Cas(k, e, d) => {
                    let hit = model.get(&k).copied().unwrap_or(0) == e;
                    prop_assert_eq!(c.compare_and_set_count(h(k), &Arc::new(k), eq(k), e, d), Ok(hit));
                    if hit && model.insert(k, d).is_none() {
                        order.push(k);
                    }
                }
                Op::Swap(k, n) => {
                    prop_assert_eq!(c.swap_count(h(k), &Arc::new(k), eq(k), n), Ok(model.get(&k).copied().unwrap_or(0)));
                    if model.insert(k, n).is_none() {
                        order.push(k);
                    }
                }
                Op::Reset(k) => {
                    prop_assert_eq!(c.reset_count(h(k), &Arc::new(k), eq(k)), Ok(model.get(&k).copied().unwrap_or(0)));
                    if let Some(v) = model.get_mut(&k) {
                        *v = 0;
                    }
                }
                Op::Remove(k) => {
                    let got = c.remove(h(k), &Arc::new(k), eq(k)).unwrap().map(|v| v.get());
                    prop_assert_eq!(got, model.remove(&k));
                    order.retain(|&x| x != k);
                }
                Op::PopLast => {
                    let got = c.pop_last().map(|(k, v)| (*k, v.get()));
                    let want = order.pop().map(|k| (k, model.remove(&k).unwrap()));
                    prop_assert_eq!(got, want);
                }
                Op::CasCurrent(..) => unreachable!("made a Cas above"),
                Op::Clear => {
                    c.clear();
                    model.clear();
                    order.clear();
                }
            }
            prop_assert_eq!(c.len(), model.len());
        }
        let want: Vec<(u64, i64)> = order.iter().map(|k| (*k, model[k])).collect();
        prop_assert_eq!(items(&c), want);
    }
}
