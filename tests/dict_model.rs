//! Differential tests: random operation sequences applied to the engine and to std's HashMap
//! (plus a Vec for insertion order) must agree at every step, with degenerate hashers and tiny
//! capacities so that migrations happen constantly; afterwards every key and value the map
//! took has been released exactly once. An iterator kept open across the operations checks
//! the iteration guarantee: only keys present when it began, in their order, none twice, each
//! with its current value, and every key present throughout.

mod common;

use std::collections::{HashMap, HashSet};

use common::{flush_epoch_until, identity_hash, one_hash, two_bit_hash, Map, Tags};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Get(u64),
    Insert(u64, u64),
    InsertIfAbsent(u64, u64),
    Remove(u64),
    Replace(u64, u64),
    CasCurrent(u64, u64),
    CasStale(u64, u64),
    CasAbsent(u64, u64),
    Add(u64, u64),
    ComputeRemove(u64),
    PopLast,
    Clear,
    Items,
    Len,
    KeysWithHash(u64),
    /// Replaces the open iterator with a new one.
    IterStart,
    /// Takes one item from the open iterator.
    IterStep,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..24u64;
    let v = 0..1000u64;
    prop_oneof![
        4 => k.clone().prop_map(Op::Get),
        6 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::InsertIfAbsent(k, v)),
        4 => k.clone().prop_map(Op::Remove),
        2 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::Replace(k, v)),
        2 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::CasCurrent(k, v)),
        1 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::CasStale(k, v)),
        1 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::CasAbsent(k, v)),
        2 => (k.clone(), 1..5u64).prop_map(|(k, d)| Op::Add(k, d)),
        1 => k.clone().prop_map(Op::ComputeRemove),
        1 => Just(Op::PopLast),
        1 => Just(Op::Clear),
        1 => Just(Op::Items),
        1 => Just(Op::Len),
        1 => k.clone().prop_map(Op::KeysWithHash),
        1 => Just(Op::IterStart),
        3 => Just(Op::IterStep),
    ]
}

/// The reference: a HashMap plus the keys in insertion order.
#[derive(Default)]
struct Model {
    map: HashMap<u64, u64>,
    order: Vec<u64>,
}

impl Model {
    fn insert(&mut self, k: u64, v: u64) -> Option<u64> {
        let old = self.map.insert(k, v);
        if old.is_none() {
            self.order.push(k);
        }
        old
    }
    fn remove(&mut self, k: u64) -> Option<u64> {
        let old = self.map.remove(&k);
        if old.is_some() {
            self.order.retain(|&x| x != k);
        }
        old
    }
    fn items(&self) -> Vec<(u64, u64)> {
        self.order.iter().map(|k| (*k, self.map[k])).collect()
    }
}

fn run(hasher: fn(u64) -> u64, cap: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    run_tagged(hasher, cap, Tags::Hash, ops)
}

/// An iterator kept open across operations, and what it may yield.
struct OpenIter<'m> {
    it: lockless::engine::dict::Iter<'m, common::Obj, common::Obj>,
    /// The keys when it began, in order: it yields only these, in this order.
    start: Vec<u64>,
    /// Keys present ever since it began: each must be yielded.
    stable: HashSet<u64>,
    yielded: HashSet<u64>,
    /// Index in `start` of the last key yielded.
    last: Option<usize>,
}

impl OpenIter<'_> {
    fn step(&mut self, model: &Model) -> Result<(), TestCaseError> {
        let Some((k, v)) = self.it.next() else {
            let missed: Vec<&u64> = self.stable.difference(&self.yielded).collect();
            prop_assert!(missed.is_empty(), "keys present throughout were not yielded: {:?}", missed);
            return Ok(());
        };
        let (k, v) = (k.n, v.n);
        prop_assert!(self.yielded.insert(k), "key {} yielded twice", k);
        let Some(at) = self.start.iter().position(|&x| x == k) else {
            return Err(TestCaseError::fail(format!("key {k} was not present when the iteration began")));
        };
        let from = self.last.map_or(0, |l| l + 1);
        prop_assert!(at >= from, "key {} out of insertion order", k);
        let skipped: Vec<u64> = self.start[from..at].iter().copied().filter(|x| self.stable.contains(x)).collect();
        prop_assert!(skipped.is_empty(), "keys present throughout were skipped: {:?}", skipped);
        self.last = Some(at);
        prop_assert_eq!(Some(v), model.map.get(&k).copied(), "key {}'s value", k);
        Ok(())
    }
}

fn run_tagged(hasher: fn(u64) -> u64, cap: usize, tags: Tags, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let map = Map::with_tags(hasher, cap, tags);
    let mut model = Model::default();
    let mut open: Option<OpenIter<'_>> = None;
    for op in ops {
        if let Some(open) = &mut open {
            open.stable.retain(|k| model.map.contains_key(k));
        }
        match op {
            Op::IterStart => {
                open = Some(OpenIter {
                    it: map.inner.iter(),
                    start: model.order.clone(),
                    stable: model.order.iter().copied().collect(),
                    yielded: HashSet::new(),
                    last: None,
                });
            }
            Op::IterStep => {
                if let Some(open) = &mut open {
                    open.step(&model)?;
                }
            }
            Op::Get(k) => prop_assert_eq!(map.get(k), model.map.get(&k).copied()),
            Op::Insert(k, v) => prop_assert_eq!(map.insert(k, v), model.insert(k, v)),
            Op::InsertIfAbsent(k, v) => {
                let expected = model.map.get(&k).copied();
                if expected.is_none() {
                    model.insert(k, v);
                }
                prop_assert_eq!(map.insert_if_absent(k, v), expected);
            }
            Op::Remove(k) => prop_assert_eq!(map.remove(k), model.remove(k)),
            Op::Replace(k, v) => {
                let expected = model.map.get(&k).copied();
                if expected.is_some() {
                    model.map.insert(k, v);
                }
                prop_assert_eq!(map.replace_if_present(k, v), expected);
            }
            Op::CasCurrent(k, v) => {
                let current = map.get_obj(k);
                let swapped = map.cas(k, current.as_ref(), Some(v));
                prop_assert!(swapped, "CAS from the value just read must succeed");
                model.insert(k, v);
            }
            Op::CasStale(k, v) => {
                // An equal but distinct object: identity comparison must fail.
                let stale = map.obj(model.map.get(&k).copied().unwrap_or(0));
                prop_assert!(!map.cas(k, Some(&stale), Some(v)));
            }
            Op::CasAbsent(k, v) => {
                let absent = !model.map.contains_key(&k);
                prop_assert_eq!(map.cas(k, None, Some(v)), absent);
                if absent {
                    model.insert(k, v);
                }
            }
            Op::Add(k, d) => {
                let new = model.map.get(&k).copied().unwrap_or(0) + d;
                model.insert(k, new); // keeps an existing key's place
                prop_assert_eq!(map.add(k, d), new);
            }
            Op::ComputeRemove(k) => {
                model.remove(k);
                prop_assert_eq!(map.compute_remove(k), None);
            }
            Op::PopLast => {
                let expected = model.order.last().map(|&k| (k, model.map[&k]));
                if let Some((k, _)) = expected {
                    model.remove(k);
                }
                prop_assert_eq!(map.pop_last(), expected);
            }
            Op::Clear => {
                map.clear();
                model = Model::default();
            }
            Op::Items => prop_assert_eq!(map.items(), model.items()),
            Op::Len => prop_assert_eq!(map.len(), model.map.len()),
            Op::KeysWithHash(k) => {
                // The keys a lookup of k compares: every stored key of k's hash when tags come
                // from the hash; with fingerprints, k itself if stored (and perhaps a few whose
                // tags collide), never a key of another hash.
                let got = map.keys_with_hash(k);
                let same_hash: Vec<u64> = {
                    let mut v: Vec<u64> = model.map.keys().copied().filter(|&x| hasher(x) == hasher(k)).collect();
                    v.sort_unstable();
                    v
                };
                if matches!(tags, Tags::Hash) {
                    prop_assert_eq!(got, same_hash);
                } else {
                    prop_assert!(got.iter().all(|x| same_hash.contains(x)), "{:?} not all of hash {}", got, hasher(k));
                    prop_assert_eq!(got.contains(&k), model.map.contains_key(&k));
                }
            }
        }
    }
    prop_assert_eq!(map.items(), model.items());
    prop_assert_eq!(map.len(), model.map.len());
    drop(open);
    let live = map.live.clone();
    drop(map);
    flush_epoch_until(|| live.load(std::sync::atomic::Ordering::SeqCst) == 0);
    prop_assert_eq!(live.load(std::sync::atomic::Ordering::SeqCst), 0, "every object released once");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn matches_hashmap_with_identity_hash(ops in prop::collection::vec(op(), 1..200)) {
        run(identity_hash, 0, ops)?;
    }

    #[test]
    fn matches_hashmap_when_every_key_has_one_hash(ops in prop::collection::vec(op(), 1..200)) {
        run(one_hash, 0, ops)?;
    }

    #[test]
    fn matches_hashmap_with_two_bit_hashes(ops in prop::collection::vec(op(), 1..200)) {
        run(two_bit_hash, 0, ops)?;
    }

    #[test]
    fn matches_hashmap_with_a_larger_initial_capacity(ops in prop::collection::vec(op(), 1..200)) {
        run(identity_hash, 100, ops)?;
    }

    #[test]
    fn matches_hashmap_when_one_hash_keys_carry_fingerprints(ops in prop::collection::vec(op(), 1..200)) {
        run_tagged(one_hash, 0, Tags::Fingerprint, ops)?;
    }

    #[test]
    fn matches_hashmap_when_fingerprinted_and_hash_tagged_calls_alternate(
        ops in prop::collection::vec(op(), 1..200)
    ) {
        run_tagged(two_bit_hash, 0, Tags::Mixed, ops)?;
    }

    #[test]
    fn matches_hashmap_with_one_hash_and_alternating_tag_kinds(ops in prop::collection::vec(op(), 1..200)) {
        run_tagged(one_hash, 0, Tags::Mixed, ops)?;
    }
}

#[test]
fn a_long_run_of_one_hash_asks_for_fingerprints_and_ordinary_keys_do_not() {
    let crowded = Map::new(one_hash);
    for k in 0..100 {
        crowded.insert(k, k);
    }
    assert!(crowded.inner.wants_fingerprints());
    let ordinary = Map::new(identity_hash);
    for k in 0..10_000 {
        ordinary.insert(k, k);
    }
    assert!(!ordinary.inner.wants_fingerprints());
}
