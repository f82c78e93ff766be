//! Iteration: what an idle iterator retains, how chains of generations are freed, the end bound,
//! and cursors shared between threads.

use std::collections::HashSet;
use std::sync::Arc;

use crate::engine::dict::{AtomicDict, KeyHash};
use crate::engine::reclaim::pin;

type Map = AtomicDict<Arc<u64>, Arc<u64>>;

fn eq(k: u64) -> impl FnMut(&Arc<u64>) -> Result<bool, ()> {
    move |stored| Ok(**stored == k)
}

fn insert(map: &Map, k: u64, v: &Arc<u64>) {
    map.insert(KeyHash::new(k), &Arc::new(k), eq(k), Arc::clone(v)).unwrap();
}

fn remove(map: &Map, k: u64) {
    map.remove(KeyHash::new(k), &Arc::new(k), eq(k)).unwrap();
}

fn keys(it: &mut super::Iter<'_, Arc<u64>, Arc<u64>>) -> Vec<u64> {
    std::iter::from_fn(|| it.next().map(|(k, _)| *k)).collect()
}

/// Runs the epoch's deferred functions until `done()`, or gives up after 10 s (other tests
/// share the collector and may hold it back for a while; a real leak never gets there).
fn flush_until(done: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    while !done() {
        if start.elapsed().as_secs() > 10 {
            return false;
        }
        pin().flush();
        std::thread::yield_now();
    }
    true
}

/// Issue 11's reproducer: an iterator kept through 10^5 clears held every later generation
/// (159 MB) and its drop overflowed the stack. A clear leaves nothing for an older iterator to
/// visit, so now it keeps no generation and at most two small records.
#[test]
fn an_iterator_kept_idle_through_100_000_clears_keeps_no_generation_and_drops_cleanly() {
    let map = Map::new();
    let value = Arc::new(0);
    insert(&map, 0, &value);
    insert(&map, 1, &value);
    let mut it = map.iter();
    assert!(it.next().is_some());
    for _ in 0..100_000 {
        insert(&map, 0, &value);
        map.clear();
    }
    // Every cleared generation's values were released: none is kept for the iterator.
    assert!(flush_until(|| Arc::strong_count(&value) == 1), "{} references left", Arc::strong_count(&value));
    let kept = it.cursor().trail().map_or(0, |t| t.chain_len());
    assert!(kept <= 2, "the idle iterator keeps {kept} trails");
    // Everything present when it began was cleared: nothing is left to yield.
    insert(&map, 5, &value);
    assert_eq!(it.next(), None);
    assert!(it.cursor().trail().is_none(), "an exhausted iterator keeps nothing");
    drop(it);
}

/// Compactions carry the live keys, so an idle iterator must keep what maps its position
/// through them: one bit per entry of each generation, in a small record, never the table.
/// Dropping a chain of 10^5 of them must not recurse once per record.
#[test]
fn an_iterator_kept_idle_through_100_000_compactions_keeps_a_bit_per_entry_and_drops_cleanly() {
    let map = Map::new();
    let value = Arc::new(0);
    insert(&map, 0, &value);
    insert(&map, 1, &value);
    let mut resumed = map.iter();
    assert_eq!(resumed.next().map(|(k, _)| *k), Some(0));
    let idle = map.iter();
    remove(&map, 0);
    // One live key in the smallest table: each fourth insert compacts it.
    let mut n = 100;
    while map.stats().migrations < 100_000 {
        for _ in 0..100 {
            insert(&map, n, &value);
            remove(&map, n);
            n += 1;
        }
    }
    let migrations = usize::try_from(map.stats().migrations).unwrap();
    let trail = idle.cursor().trail().expect("key 1 is still to come");
    assert_eq!(trail.chain_len(), migrations + 1);
    let per_migration = trail.chain_bytes() / migrations;
    drop(trail);
    assert!(per_migration <= 96, "{per_migration} bytes kept per migration");
    // The tables themselves are gone: only the live key's value is referenced.
    assert!(flush_until(|| Arc::strong_count(&value) == 1 + 1));
    // The other iterator goes on where it was, and meets none of the keys inserted since.
    assert_eq!(keys(&mut resumed), vec![1]);
    drop(idle); // 10^5 records, freed without recursion
}

/// A chain of generations, each owning the next through its migration job, kept by a
/// reference to the oldest: dropping it frees them one after another, not recursively.
#[test]
fn dropping_the_oldest_of_a_long_chain_of_generations_does_not_recurse() {
    let map = Map::new();
    let value = Arc::new(0);
    let oldest = map.hold_current();
    for _ in 0..100_000 {
        insert(&map, 0, &value);
        map.clear();
    }
    drop(map);
    drop(oldest);
    assert!(flush_until(|| Arc::strong_count(&value) == 1));
}

/// While a map grows, an idle iterator's records add up to at most a few bits per entry of the
/// final table (each generation is at least twice the size of the one before).
#[test]
fn an_iterator_kept_idle_while_the_map_grows_keeps_a_few_bits_per_entry() {
    let map = Map::new();
    let value = Arc::new(0);
    insert(&map, 0, &value);
    let idle = map.iter();
    for k in 1..200_000 {
        insert(&map, k, &value);
    }
    let trail = idle.cursor().trail().expect("key 0 is still to come");
    let bytes = trail.chain_bytes();
    let cap = map.stats().capacity;
    assert!(bytes * 8 <= 3 * cap, "{bytes} bytes kept for a table of {cap} entries");
}

/// Issue 12: a key deleted and inserted again during an iteration is a new entry at the end; a
/// pass that already yielded it must not meet it again.
#[test]
fn an_iteration_never_yields_a_key_twice_even_when_it_is_deleted_and_inserted_again() {
    let map = Map::new();
    let value = Arc::new(0);
    for k in 0..3 {
        insert(&map, k, &value);
    }
    let mut it = map.iter();
    assert_eq!(it.next().map(|(k, _)| *k), Some(0));
    remove(&map, 0);
    insert(&map, 0, &value);
    assert_eq!(keys(&mut it), vec![1, 2]);
    // Across a migration too (the re-inserted key's entry is carried past the mapped end).
    let mut it = map.iter();
    assert_eq!(it.next().map(|(k, _)| *k), Some(1));
    remove(&map, 1);
    insert(&map, 1, &value);
    map.reserve(1_000).unwrap();
    assert_eq!(keys(&mut it), vec![2, 0]);
}

/// Issue 12: inserting a new key for every key met used to run forever (each insert is met in
/// turn); entries made after the iterator began are not visited.
#[test]
fn inserting_a_new_key_for_every_key_met_ends_and_yields_only_the_keys_present_at_the_start() {
    let map = Map::new();
    let value = Arc::new(0);
    for k in 0..100 {
        insert(&map, k, &value);
    }
    let mut it = map.iter();
    let mut seen = Vec::new();
    let mut next = 1_000;
    while let Some((k, _)) = it.next() {
        seen.push(*k);
        insert(&map, next, &value);
        next += 1;
    }
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    assert_eq!(map.len(), 200);
}

/// A cursor forked from another starts where it is and moves on its own.
#[test]
fn a_forked_cursor_yields_the_rest_without_advancing_the_original() {
    let map = Map::new();
    let value = Arc::new(0);
    for k in 0..5 {
        insert(&map, k, &value);
    }
    let cursor = map.cursor();
    assert_eq!(map.cursor_next(&cursor).map(|(_, k, _)| *k), Some(0));
    let fork = cursor.fork();
    map.reserve(100).unwrap();
    let rest: Vec<u64> = std::iter::from_fn(|| map.cursor_next(&fork).map(|(_, k, _)| *k)).collect();
    assert_eq!(rest, vec![1, 2, 3, 4]);
    assert_eq!(map.cursor_next(&cursor).map(|(_, k, _)| *k), Some(1));
}

/// Threads sharing one cursor, while another churns the map through migrations: together they
/// yield every stable key exactly once, and no key twice.
#[test]
fn threads_sharing_one_cursor_through_migrations_each_key_goes_to_exactly_one() {
    const STABLE: u64 = 2_000;
    for round in 0..20 {
        let map = Map::with_capacity(0).unwrap();
        let value = Arc::new(0);
        for k in 0..STABLE {
            insert(&map, k, &value);
        }
        let cursor = map.cursor();
        let barrier = std::sync::Barrier::new(3);
        let got: Vec<Vec<u64>> = std::thread::scope(|s| {
            let churn = s.spawn(|| {
                barrier.wait();
                for i in 0..3_000 {
                    let k = 1_000_000 + i % 500;
                    insert(&map, k, &value);
                    remove(&map, k);
                }
                Vec::new()
            });
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        std::iter::from_fn(|| map.cursor_next(&cursor).map(|(_, k, _)| *k)).collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut got: Vec<Vec<u64>> = readers.into_iter().map(|r| r.join().unwrap()).collect();
            got.push(churn.join().unwrap());
            got
        });
        let all: Vec<u64> = got.concat();
        let distinct: HashSet<u64> = all.iter().copied().collect();
        assert_eq!(distinct.len(), all.len(), "round {round}: a key was yielded twice");
        // The churned keys were all inserted after the cursor was made: not visited.
        assert_eq!(distinct, (0..STABLE).collect::<HashSet<u64>>(), "round {round}");
        for part in &got[..2] {
            let stable_part: Vec<u64> = part.iter().copied().filter(|k| *k < STABLE).collect();
            assert!(stable_part.windows(2).all(|w| w[0] < w[1]), "round {round}: out of order");
        }
    }
}
