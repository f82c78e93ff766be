//! Every write as one primitive: find the key's slot, show the current value to a decision
//! closure, and apply its [`Action`] with a CAS, retrying (and asking again) on conflict.
//!
//! # Steps
//! 1. Probe the index from the mixed hash. A frozen slot: help the migration, retry in the next
//!    generation.
//! 2. An empty slot: the key is absent. Ask the closure. To insert: reserve the next entry,
//!    write hash and key, claim the value word (`UNSET -> value|PENDING`, Release), then claim
//!    the slot (`EMPTY -> entry`, Release). If the slot was taken meanwhile, abandon the entry
//!    (value to TOMBSTONE, key back to null) and look at the slot again.
//! 3. A slot whose tag, hash and key match: the key's slot for this generation. Read the value
//!    word; frozen: help and retry. Ask the closure with the current value (or none for a
//!    tombstone). Replace or delete with a CAS on the value word; a deleted key is re-inserted
//!    by a new entry at the end and a CAS of the slot from the dead entry to the new one.
//!
//! No user code (the closure, `eq`) runs while a reservation is filled but unpublished, so an
//! error or a re-entrant call never leaves a half-made entry behind.

use std::ptr::NonNull;


use super::table::{
    key_ptr, slot_entry, slot_for, slot_tag, tags_match, value_ptr, CapacityError, KeyHash, Table, DEAD, EMPTY, FROZEN, MOVED, PENDING,
    TOMBSTONE, UNSET,
};
use super::raw::RawDict;
use crate::engine::reclaim::{defer_release, lend, Guard, Handle};
use crate::sync::{AtomicU64, Ordering};

/// What the decision closure of [`AtomicDict::modify`] wants done.
pub enum Action<V> {
    /// Leave the map as it is.
    Keep,
    /// Store this value (insert if absent, replace if present).
    Set(V),
    /// Delete the key if present.
    Remove,
}

/// What [`AtomicDict::modify`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing changed.
    Unchanged,
    /// The key was absent and is now present.
    Inserted,
    /// The key's value was replaced.
    Replaced,
    /// The key was deleted.
    Removed,
}

/// The result of probing for a key.
enum Probe {
    At(Found),
    /// The generation is frozen by a migration.
    Frozen,
    /// No empty slot and no match.
    Full,
}

/// Where a key was found: its slot and the entry the slot pointed at.
struct Found {
    pos: usize,
    slot: u64,
}

impl<K: Handle, V: Handle> RawDict<K, V> {
    /// The write primitive; see [`AtomicDict::modify`](super::AtomicDict::modify). `decide`
    /// sees the current value lent for the call (alive while `guard` is held).
    #[inline(always)]
    pub(super) fn modify<E: From<CapacityError>>(
        &self,
        guard: &Guard,
        key_hash: KeyHash,
        key: &K,
        mut eq: impl FnMut(&K) -> Result<bool, E>,
        mut decide: impl FnMut(Option<&V>, Option<V>) -> Result<Action<V>, E>,
    ) -> Result<Outcome, E> {
        let (hash, mixed, tag) = (key_hash.hash, key_hash.mixed(), key_hash.tag());
        let mut spare: Option<V> = None;
        let mut owned_key: Option<K> = None;
        let mut t = self.current(guard);
        'generation: loop {
            let found = match self.find(t, mixed, tag, hash, &mut eq)? {
                Probe::At(found) => found,
                Probe::Frozen => {
                    t = self.help(t, guard);
                    continue 'generation;
                }
                Probe::Full => {
                    t = self.grow(t, guard)?;
                    continue 'generation;
                }
            };
            let mut slot = found.slot;
            loop {
                if slot & FROZEN != 0 {
                    t = self.help(t, guard);
                    continue 'generation;
                }
                // The key's entry and its value word, or None: the key is absent (an EMPTY
                // slot, where it would go).
                let held = match slot_entry(slot) {
                    // Our key's slot was retired (DEAD) by a delete: probe again for the empty
                    // slot where the key now goes.
                    None if slot != EMPTY => continue 'generation,
                    None => None,
                    Some(e) => {
                        // Acquire: pairs with the Release that wrote the value word.
                        let word = t.entries[e].value.load(Ordering::Acquire);
                        if word & MOVED != 0 {
                            t = self.help(t, guard);
                            continue 'generation;
                        }
                        Some((e, word))
                    }
                };
                let current = held.and_then(|(_, word)| value_ptr(word));
                let action = match current {
                    // SAFETY: the value is owned by the entry (its release, if unlinked since,
                    // is deferred past `guard`), so it is alive while `decide` borrows it.
                    Some(p) => unsafe { lend(p, |v| decide(Some(v), spare.take())) }?,
                    None => decide(None, spare.take())?,
                };
                match (action, held, current) {
                    (Action::Keep, ..) | (Action::Remove, _, None) => return Ok(Outcome::Unchanged),
                    (Action::Remove, Some((e, word)), Some(old)) => {
                        // AcqRel on success: Release orders our earlier reads before the
                        // tombstone; Acquire pairs with the Release that stored `old`. Relaxed
                        // on failure: we re-read the word with Acquire.
                        if t.entries[e]
                            .value
                            .compare_exchange(word, TOMBSTONE, Ordering::AcqRel, Ordering::Relaxed)
                            .is_ok()
                        {
                            // SAFETY: `old` is unlinked and was owned by the entry.
                            unsafe { defer_release::<V>(guard, old) };
                            t.add_len(guard, -1);
                            t.retire_slot(guard, found.pos, slot, e);
                            return Ok(Outcome::Removed);
                        }
                    }
                    (Action::Set(value), Some((e, word)), Some(old)) => {
                        let new = value.into_raw().as_ptr() as usize;
                        // AcqRel on success: Release publishes the new value's object to
                        // readers' Acquire loads; Acquire pairs with the Release that stored
                        // `old`, which we release next. Relaxed on failure: we re-read.
                        match t.entries[e].value.compare_exchange(word, new, Ordering::AcqRel, Ordering::Relaxed) {
                            Ok(_) => {
                                // SAFETY: `old` is unlinked and was owned by the entry.
                                unsafe { defer_release::<V>(guard, old) };
                                return Ok(Outcome::Replaced);
                            }
                            // SAFETY: the CAS failed, so `new` is still only ours.
                            Err(_) => spare = Some(unsafe { V::from_raw(NonNull::new_unchecked(new as *mut ())) }),
                        }
                    }
                    (Action::Set(value), _, None) => {
                        // Absent (EMPTY slot) or deleted (tombstoned entry): a new entry at the
                        // end, claimed into this slot.
                        match self.publish_new(guard, t, found.pos, slot, tag, hash, key, &mut owned_key, value) {
                            Ok(()) => return Ok(Outcome::Inserted),
                            Err(Lost::Full(value)) => {
                                spare = Some(value);
                                // Out of memory: the error goes back with nothing of this
                                // write in the map (the reservation past the end is no entry).
                                t = self.grow(t, guard)?;
                                continue 'generation;
                            }
                            Err(Lost::Slot(value, now)) => {
                                spare = Some(value);
                                // A slot that held our key's entry still belongs to our key
                                // (re-pointed by another re-insert), or froze. An EMPTY slot
                                // may have gone to another key: then probe again.
                                if slot == EMPTY
                                    && now & FROZEN == 0
                                    && !(tags_match(slot_tag(now), tag) && is_key(t, now, hash, &mut eq)?)
                                {
                                    continue 'generation;
                                }
                                slot = now;
                                continue;
                            }
                        }
                    }
                    // A live value always comes with its entry.
                    (Action::Remove | Action::Set(_), None, Some(_)) => unreachable!("value without entry"),
                }
                // A CAS on the value word lost: look at the slot again (it may be frozen now).
                // Acquire: pairs with the Release CAS that last changed the slot.
                slot = t.index[found.pos].load(Ordering::Acquire);
            }
        }
    }

    /// Probes for the key: its slot (holding its entry), or the empty slot where it would go.
    #[inline(always)]
    fn find<E>(
        &self,
        t: &Table<K, V>,
        mixed: u64,
        tag: u64,
        hash: u64,
        eq: &mut impl FnMut(&K) -> Result<bool, E>,
    ) -> Result<Probe, E> {
        let start = mixed as usize & t.mask;
        // The probe sequence as two slices (to the end, then from the start), each walked by a
        // plain loop with no bounds checks: a long run of keys of one hash then goes at the
        // speed of the index.
        let (head, tail) = t.index.split_at(start);
        let mut passed = 0;
        let found = match probe_run(t, tail, start, tag, hash, eq, &mut passed)? {
            Some(found) => Some(found),
            None => probe_run(t, head, 0, tag, hash, eq, &mut passed)?,
        };
        self.note_passed(passed);
        if let Some(found) = found {
            return Ok(found);
        }
        // Every slot is claimed (only possible with many abandoned reservations): migrate.
        Ok(Probe::Full)
    }

    /// Reserves an entry for `value`, fills it, and CASes the slot at `pos` from `expected` to
    /// it. On failure everything is taken back and returned.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn publish_new(
        &self,
        guard: &Guard,
        t: &Table<K, V>,
        pos: usize,
        expected: u64,
        tag: u64,
        hash: u64,
        key: &K,
        owned_key: &mut Option<K>,
        value: V,
    ) -> Result<(), Lost<V>> {
        // Relaxed: entry numbers only need to be unique; the entry is published by the CASes.
        let e = t.next_entry.fetch_add(1, Ordering::Relaxed);
        if e >= t.cap() {
            return Err(Lost::Full(value));
        }
        let entry = &t.entries[e];
        let k = owned_key.take().unwrap_or_else(|| key.clone_ref()).into_raw();
        let v = value.into_raw();
        // Relaxed (hash, key): published by the Release CAS on the value word just below, which
        // pairs with the Acquire loads of readers, scanners and migration helpers.
        entry.hash.store(hash, Ordering::Relaxed);
        entry.key.store(k.as_ptr(), Ordering::Relaxed);
        // Release on success: publishes hash and key to anyone who Acquires the value word
        // (iterators, migration). Acquire on failure: the entry froze; pairs with the AcqRel
        // freeze in `Job::freeze_chunk`, so the job is visible to the `help` that follows.
        let claimed = entry
            .value
            .compare_exchange(UNSET, v.as_ptr() as usize | PENDING, Ordering::Release, Ordering::Acquire)
            .is_ok();
        let result = if claimed {
            // Release on success: publishes the entry to readers who Acquire the slot. Acquire
            // on failure: we go on to read the entry the winner published.
            t.index[pos].compare_exchange(expected, slot_for(e, tag), Ordering::Release, Ordering::Acquire)
        } else {
            // The entry froze before we claimed it: the generation is migrating.
            // Acquire: as for the slot CAS failure above.
            Err(t.index[pos].load(Ordering::Acquire) | FROZEN)
        };
        match result {
            Ok(_) => {
                // Relaxed (both): clearing PENDING is only a shortcut for later scanners; if a
                // write or a freeze got there first, they carry the value on.
                let _ = entry.value.compare_exchange(
                    v.as_ptr() as usize | PENDING,
                    v.as_ptr() as usize,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                t.add_len(guard, 1);
                Ok(())
            }
            Err(now) => {
                if claimed {
                    // Relaxed (both): scanners already treat an unpublished PENDING entry as
                    // dead; the tombstone only saves them the index check. Fails if frozen.
                    let _ = entry.value.compare_exchange(
                        v.as_ptr() as usize | PENDING,
                        TOMBSTONE,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
                // Relaxed: nobody reads the key of a dead entry until the generation is dropped,
                // which happens after we unpin.
                entry.key.store(std::ptr::null_mut(), Ordering::Relaxed);
                // SAFETY: the entry was never published, so its references are still ours.
                unsafe {
                    *owned_key = Some(K::from_raw(k));
                    Err(Lost::Slot(V::from_raw(v), now))
                }
            }
        }
    }
}

/// [`AtomicDict::find`] over one run of consecutive index slots, the first at position `first`:
/// the probe's outcome, or `None` to go on to the next run. Counts in `passed` the slots whose
/// tag matched but whose key was not ours.
#[inline]
fn probe_run<K: Handle, V: Handle, E>(
    t: &Table<K, V>,
    cells: &[AtomicU64],
    first: usize,
    tag: u64,
    hash: u64,
    eq: &mut impl FnMut(&K) -> Result<bool, E>,
    passed: &mut usize,
) -> Result<Option<Probe>, E> {
    for (i, cell) in cells.iter().enumerate() {
        // Acquire: pairs with the Release CAS that claimed the slot.
        let slot = cell.load(Ordering::Acquire);
        if slot & FROZEN != 0 {
            return Ok(Some(Probe::Frozen));
        }
        if slot == EMPTY {
            return Ok(Some(Probe::At(Found { pos: first + i, slot })));
        }
        // A retired slot holds no key. Its word's tag bits are not a tag (they would match any
        // hash tag): counting it as a tag match would let delete churn alone turn fingerprint
        // mode on for good.
        if slot == DEAD {
            continue;
        }
        // A slot whose tag rules the key out is passed without reading its entry.
        if !tags_match(slot_tag(slot), tag) {
            continue;
        }
        if is_key(t, slot, hash, eq)? {
            return Ok(Some(Probe::At(Found { pos: first + i, slot })));
        }
        *passed += 1;
    }
    Ok(None)
}

/// Whether `slot`, whose tag matches ours (the caller checked), points at an entry holding our
/// key.
#[inline]
fn is_key<K: Handle, V: Handle, E>(
    t: &Table<K, V>,
    slot: u64,
    hash: u64,
    eq: &mut impl FnMut(&K) -> Result<bool, E>,
) -> Result<bool, E> {
    let Some(e) = slot_entry(slot) else { return Ok(false) };
    let entry = &t.entries[e];
    // Relaxed (hash, key): visible through the Acquire load of the slot.
    if entry.hash.load(Ordering::Relaxed) != hash {
        return Ok(false);
    }
    // Acquire: pairs with the AcqRel swap in `retire_slot`.
    let Some(key) = key_ptr(entry.key.load(Ordering::Acquire)) else {
        return Ok(false); // deleted and retired meanwhile
    };
    // SAFETY: the key is owned by the generation, which the caller's guard keeps alive (a
    // retired key's release is deferred past it).
    unsafe { lend(key, eq) }
}

/// Why `publish_new` gave up; the value comes back for the retry.
enum Lost<V> {
    /// The generation has no free entry: migrate.
    Full(V),
    /// The slot changed (to this word) or the generation froze (the word has FROZEN).
    Slot(V, u64),
}

#[cfg(test)]
#[path = "modify_tests.rs"]
mod tests;
