//! Cooperative, order-preserving migration from one generation to the next.
//!
//! A migration grows the table, compacts away dead entries, or (for `clear`) swaps in an empty
//! generation. It starts when a thread installs a [`Job`] (holding the already-allocated next
//! generation) in the old generation with one CAS. Any thread that then meets a frozen slot or
//! value helps; readers never help and never wait.
//!
//! # Phases
//! Each phase is cut into chunks of entries (or index slots). Helpers claim chunks with a
//! `fetch_add`; once every chunk is claimed, a helper that finds chunks not yet done redoes
//! them itself, so a descheduled helper never blocks the others (lock-free). Every chunk's work
//! is idempotent, so doing one twice is harmless:
//! 1. **Freeze**: or [`FROZEN`] into every index slot and [`MOVED`] into every entry's value
//!    word. After this no write succeeds in the old generation.
//! 2. **Count**: count the live entries of each chunk. Liveness is now fixed, so every helper
//!    computes the same numbers; their prefix sums give each live entry its position in the
//!    new generation (order kept, holes gone).
//! 3. **Copy**: write each live entry to its position (the value with a CAS from `UNSET`, so a
//!    late helper never overwrites a write made after publication) and claim a slot for it in
//!    the new index. Before each claim a helper checks that its chunk is not marked done: a
//!    late one must claim nothing (writers may have retired the slot it would look for). The new generation takes over the old one's references (no refcounting).
//! 4. **Publish**: set the new generation's entry count and length, then `published = true`.
//!    From then on writers work in the new generation; the map's root pointer is moved lazily.
//!
//! A reader that meets a frozen value checks `published` *after* reading it: if unpublished,
//! no write can have happened in the new generation yet, so the frozen value is current.

use std::sync::Arc;

use super::table::{
    into_raw, mix, slot_entry, slot_for, slot_tag, zeroed_slice, CapacityError, Origin, Table, EMPTY,
    FROZEN, MOVED, UNSET,
};
use crate::engine::reclaim::Handle;
use crate::sync::{AtomicBool, AtomicPtr, AtomicU16, AtomicU64, AtomicUsize, Ordering};

/// Migration state of one generation: empty until a migration starts.
pub(super) struct Migration<K: Handle, V: Handle> {
    job: AtomicPtr<Job<K, V>>,
    published: AtomicBool,
}

/// Everything a migration needs, allocated by the thread that starts it.
pub(super) struct Job<K: Handle, V: Handle> {
    next: Arc<Table<K, V>>,
    chunk: usize,
    index_chunks: usize,
    entry_chunks: usize,
    freeze: Phase,
    count: Phase,
    copy: Phase,
    /// Live entries per entry chunk (valid once the count phase is done).
    counts: Box<[AtomicUsize]>,
    /// The index tag of each old entry that a slot points at, collected by the freeze (valid
    /// once the freeze phase is done). Entries do not keep their tags: this takes 2 bytes per
    /// entry for the length of a migration instead of 8 for the life of the table. Empty for
    /// `clear`, which copies nothing.
    tags: Box<[AtomicU16]>,
}

/// A set of chunks that helpers claim, do, and mark done.
struct Phase {
    claimed: AtomicUsize,
    done: Box<[AtomicBool]>,
}

impl Phase {
    fn new(chunks: usize) -> Self {
        Phase {
            claimed: AtomicUsize::new(0),
            done: (0..chunks).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Runs `work` on chunks until every chunk is done, by this thread or another.
    fn run(&self, work: impl Fn(usize)) {
        let n = self.done.len();
        loop {
            // Relaxed: the counter only hands out chunk numbers; results are published by
            // `finish`.
            let chunk = self.claimed.fetch_add(1, Ordering::Relaxed);
            if chunk >= n {
                break;
            }
            work(chunk);
            self.finish(chunk);
        }
        // Every chunk is claimed; some claimers may be descheduled. One pass redoes every chunk
        // not marked done; after it, each chunk's work is visible here (done by us, or marked
        // done by a finisher whose Release our Acquire saw), without waiting for anyone.
        for chunk in 0..n {
            // Acquire: pairs with the Release store in `finish`, so the chunk's work is visible.
            if !self.done[chunk].load(Ordering::Acquire) {
                work(chunk);
                self.finish(chunk);
            }
        }
    }

    fn finish(&self, chunk: usize) {
        // Release: publishes this chunk's work; pairs with the Acquire load in `run`.
        self.done[chunk].store(true, Ordering::Release);
    }
}

impl<K: Handle, V: Handle> Migration<K, V> {
    pub fn new() -> Self {
        Migration { job: AtomicPtr::new(std::ptr::null_mut()), published: AtomicBool::new(false) }
    }

    /// Whether the next generation is published (writes now go there).
    #[inline]
    pub fn is_published(&self) -> bool {
        // Acquire: pairs with the Release store in `help`, making the next generation's
        // contents (and the job pointer) visible.
        self.published.load(Ordering::Acquire)
    }

    fn job(&self) -> Option<&Job<K, V>> {
        // Acquire: pairs with the AcqRel CAS in `start` that installed the job.
        let job = self.job.load(Ordering::Acquire);
        // SAFETY: a job, once installed, lives as long as this generation (freed in
        // `take_next`, called from the generation's Drop).
        unsafe { job.as_ref() }
    }

    /// The next generation, if a migration has been published.
    pub fn moved_to(&self) -> Option<&Arc<Table<K, V>>> {
        if self.is_published() {
            self.job().map(|job| &job.next)
        } else {
            None
        }
    }

    /// How many entries a published migration moved to the next generation (none for `clear`).
    pub fn moved_entries(&self) -> Option<usize> {
        let job = self.job().filter(|_| self.is_published())?;
        Some(if job.next.origin == Origin::Cleared { 0 } else { job.prefix(job.entry_chunks) })
    }

    /// Frees the job and hands back its reference to the next generation (from the
    /// generation's Drop, which frees chains of generations iteratively).
    pub fn take_next(&mut self) -> Option<Arc<Table<K, V>>> {
        #[cfg(not(loom))]
        let job = std::mem::replace(self.job.get_mut(), std::ptr::null_mut());
        // loom's atomics have no `get_mut`; `with_mut` is its exclusive-access equivalent.
        #[cfg(loom)]
        let job = self.job.with_mut(|job| std::mem::replace(job, std::ptr::null_mut()));
        if job.is_null() {
            return None;
        }
        // SAFETY: the job was created by `Box::into_raw` in `start` and we are its only owner.
        let job = unsafe { Box::from_raw(job) };
        if !self.is_published() {
            // A migration that never finished (only possible if a helper panicked): the next
            // generation may hold copies of our pointers, which we are about to release. Leak
            // it rather than release anything twice.
            std::mem::forget(job.next.clone());
        }
        Some(job.next)
    }
}

/// Starts migrating `old` into `next` unless a migration is already under way, then helps
/// until the next generation is published. Returns whether `next` was the one installed (if
/// not, another migration was, and it is published now); an error, with nothing started, if
/// the migration's own bookkeeping cannot be allocated.
pub(super) fn start<K: Handle, V: Handle>(old: &Table<K, V>, next: Table<K, V>) -> Result<bool, CapacityError> {
    let mut ours = false;
    if old.mig.job().is_none() {
        let job = Box::into_raw(Box::new(Job::new(old, next)?));
        // AcqRel on success: Release publishes the job's contents to helpers (Acquire load in
        // `job()`). Acquire on failure: we read the winner's job in `help`.
        match old.mig.job.compare_exchange(
            std::ptr::null_mut(),
            job,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => ours = true,
            // SAFETY: our job was never shared; its table holds no objects yet.
            Err(_) => drop(unsafe { Box::from_raw(job) }),
        }
    }
    help(old);
    Ok(ours)
}

/// Helps the migration of `old` until the next generation is published; returns it.
///
/// Must only be called once a job is installed (a frozen slot or value implies one).
pub(super) fn help<K: Handle, V: Handle>(old: &Table<K, V>) -> &Table<K, V> {
    let job = old.mig.job().expect("help() called on a table that is not migrating");
    if !old.mig.is_published() {
        job.freeze.run(|chunk| job.freeze_chunk(old, chunk));
        let live = if job.next.origin == Origin::Cleared {
            0
        } else {
            job.count.run(|chunk| job.count_chunk(old, chunk));
            job.copy.run(|chunk| job.copy_chunk(old, chunk));
            job.prefix(job.entry_chunks)
        };
        // For iterators (see `trail.rs`): the count phase recorded which entries move; link
        // the next trail before publishing, so whoever reaches a later generation finds it.
        // Nothing carried (a clear, or every entry dead): no link, so iterators stop here and
        // keep nothing after.
        if live > 0 {
            old.trail.link(&job.next.trail);
        }
        // Relaxed: published by the Release store of `published` below.
        job.next.len_base.store(live as isize, Ordering::Relaxed);
        // Relaxed (both): published by the Release store below. A CAS from 0 rather than a
        // store, so a late helper cannot undo reservations made after publication.
        let _ = job.next.next_entry.compare_exchange(0, live, Ordering::Relaxed, Ordering::Relaxed);
        // Release: publishes the whole new generation; pairs with the Acquire load in
        // `is_published`.
        old.mig.published.store(true, Ordering::Release);
    }
    &job.next
}

impl<K: Handle, V: Handle> Job<K, V> {
    fn new(old: &Table<K, V>, next: Table<K, V>) -> Result<Self, CapacityError> {
        // Chunks of at least 256, at most ~128 of them per array, so prefix sums stay cheap;
        // a multiple of 64 entries, so each count chunk owns whole words of the trail's bits.
        let chunk = old.cap().div_ceil(128).max(256).next_multiple_of(64);
        let index_chunks = old.index.len().div_ceil(chunk);
        let entry_chunks = old.cap().div_ceil(chunk);
        let tags = if next.origin == Origin::Cleared { 0 } else { old.cap() };
        Ok(Job {
            // SAFETY: a zero AtomicU16 is all-zero bytes.
            tags: unsafe { zeroed_slice(tags, || AtomicU16::new(0)) }?,
            next: Arc::new(next),
            chunk,
            index_chunks,
            entry_chunks,
            freeze: Phase::new(index_chunks + entry_chunks),
            count: Phase::new(entry_chunks),
            copy: Phase::new(entry_chunks),
            counts: (0..entry_chunks).map(|_| AtomicUsize::new(0)).collect(),
        })
    }

    fn range(&self, chunk: usize, len: usize) -> std::ops::Range<usize> {
        (chunk * self.chunk).min(len)..((chunk + 1) * self.chunk).min(len)
    }

    fn freeze_chunk(&self, old: &Table<K, V>, unit: usize) {
        if unit < self.index_chunks {
            for slot in &old.index[self.range(unit, old.index.len())] {
                // AcqRel: Acquire pairs with the Release CAS that filled the slot, so the copy
                // phase sees the entry it points at; Release publishes the job (which we
                // Acquired in `job()`) to whoever sees FROZEN and goes on to `help`.
                let was = slot.fetch_or(FROZEN, Ordering::AcqRel);
                // A frozen slot never changes again, so every helper (and a late redo) stores
                // the same tag. Every live entry has a slot: an entry whose slot claim lost to
                // the freeze stays unpublished, which the count phase treats as dead.
                // A `clear` copies nothing and keeps no tags: `get` finds no cell.
                if let Some(tag) = slot_entry(was).and_then(|e| self.tags.get(e)) {
                    // Relaxed: published to the copy phase by this phase's `finish` (Release),
                    // which pairs with the Acquire in `Phase::run`.
                    tag.store(slot_tag(was) as u16, Ordering::Relaxed);
                }
            }
        } else {
            for entry in &old.entries[self.range(unit - self.index_chunks, old.cap())] {
                // AcqRel: Acquire pairs with the Release that wrote the value (and the hash and
                // key before it); Release continues that release sequence for later readers and
                // publishes the job to whoever sees MOVED and goes on to `help`.
                entry.value.fetch_or(MOVED, Ordering::AcqRel);
            }
        }
    }

    fn count_chunk(&self, old: &Table<K, V>, chunk: usize) {
        let (slots, chunks) = (self.next.index.len(), self.entry_chunks);
        prefault(&self.next.index[chunk * slots / chunks..(chunk + 1) * slots / chunks]);
        let range = self.range(chunk, old.cap());
        let mut live = 0;
        // A word of the trail at a time (chunks are multiples of 64 entries, so a chunk starts
        // a word), rather than testing for a word's end at every entry.
        for start in range.clone().step_by(64) {
            let mut bits = 0u64;
            for i in start..(start + 64).min(range.end) {
                if old.live_value(i).is_some() {
                    bits |= 1 << (i % 64);
                }
            }
            old.trail.set_word(start / 64, bits);
            live += bits.count_ones() as usize;
        }
        // Relaxed: published to other helpers by the phase's `finish`.
        self.counts[chunk].store(live, Ordering::Relaxed);
    }

    /// Live entries in chunks `[0, chunk)`: where chunk `chunk`'s first live entry goes.
    fn prefix(&self, chunk: usize) -> usize {
        // Relaxed: the count phase is done (Acquire in Phase::run) before anyone reads these.
        self.counts[..chunk].iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn copy_chunk(&self, old: &Table<K, V>, chunk: usize) {
        if old.mig.is_published() {
            return; // a late redo: every chunk is done and writers may be using `new`
        }
        // A helper may still be descheduled right here and copy after publication: the copy
        // below must not undo anything a writer did since (see the CASes).
        self.copy_entries(old, chunk);
    }

    fn copy_entries(&self, old: &Table<K, V>, chunk: usize) {
        let new = &*self.next;
        let mut pos = self.prefix(chunk);
        // Where the last entry of this chunk went, by its home slot: the next entry with the
        // same home probes on from there, since every slot in between is taken (slots of the new
        // index are never emptied), and our chunk's entries land in order. Without this, a run
        // of keys of one hash would cost a migration time quadratic in its length.
        let mut last: Option<(usize, usize)> = None;
        // Looked up once: the flag's bounds check would otherwise run for every entry (the
        // Acquire load keeps the compiler from hoisting it).
        let copied = self.chunk_copied(chunk);
        for i in self.range(chunk, old.cap()) {
            prefetch_home(old, new, i + PREFETCH_AHEAD);
            let Some(value) = old.live_value(i) else { continue };
            if copied() {
                return; // a late helper: see `Job::chunk_copied`
            }
            let from = &old.entries[i];
            let to = &new.entries[pos];
            // Relaxed (hash, both stores): the hash and key are visible to us through the Acquire
            // in live_value, which pairs with the inserter's Release on the value word; the new
            // generation is published by the Release store of `published`, which pairs with the
            // Acquire in `is_published`.
            let hash = from.hash.load(Ordering::Relaxed);
            to.hash.store(hash, Ordering::Relaxed);
            // Relaxed: written in the freeze phase, whose `finish` (Release) our phase start
            // Acquired.
            let tag = u64::from(self.tags[i].load(Ordering::Relaxed));
            // Relaxed: as above. A CAS from null: a late helper must not put back a key that a
            // delete after publication retired (and released).
            let _ = to.key.compare_exchange(
                std::ptr::null_mut(),
                from.key.load(Ordering::Relaxed),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            // Relaxed: as above. A CAS from UNSET: a late helper must not overwrite a value
            // written (or deleted) after publication.
            let _ = to.value.compare_exchange(
                UNSET,
                value.as_ptr() as usize,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            let home = mix(hash) as usize & new.mask;
            let from = match last {
                Some((h, at)) if h == home => (at + 1) & new.mask,
                _ => home,
            };
            last = Some((home, claim_slot(new, (home, from), slot_for(pos, tag), copied)));
            pos += 1;
        }
    }

    /// A test of whether copy chunk `chunk` is marked done (the flag looked up once): every
    /// entry of it has its slot in the new index, claimed by whoever finished it. A helper that
    /// finds this mid-chunk is late, and must claim nothing more: once the next generation is
    /// published (which needs every chunk done), writers retire and re-point its slots, so a
    /// slot this helper does not find where it expects may be a retired one, and an EMPTY slot
    /// it claimed would be a second slot for the entry, or (probing on from it for the next key
    /// of the same hash) for a live one.
    fn chunk_copied(&self, chunk: usize) -> impl Fn() -> bool + Copy + '_ {
        let done = &self.copy.done[chunk];
        // Acquire: pairs with the Release in `Phase::finish`. A helper that has synchronized
        // with a post-publication write (see `claim_slot`) is guaranteed to see `true`.
        move || done.load(Ordering::Acquire)
    }
}

/// Makes each page of `slots` present and writable with a locked write that changes nothing,
/// so that the copy's first access to a page is not a read.
///
/// The next generation's index is allocated zeroed, so a large one is fresh pages that the
/// kernel maps on first touch. The copy's first touch of an index page is `claim_slot`'s load,
/// which maps the shared zero page; the claim's CAS right after it then replaces that mapping,
/// and replacing a mapping means flushing it from every other core's TLB, an interrupt to each
/// core that runs one of the process's threads. perf, two threads inserting 3M int keys: 30%
/// of the inserting threads' time was in those flushes. Touching one slot per page with a write
/// first maps each page once, writable, with nothing to flush. Each helper prefaults its count
/// chunk's share of the index, so the faults are taken in parallel. No-op semantically (a CAS
/// of EMPTY to EMPTY, or a failed CAS), hence skipped under loom, whose models it would only
/// lengthen. A CAS and not `fetch_or(0)`, which rustc compiles to nothing on x86-64.
fn prefault(slots: &[AtomicU64]) {
    const SLOTS_PER_PAGE: usize = 4096 / std::mem::size_of::<AtomicU64>();
    #[cfg(not(loom))]
    for slot in slots.iter().step_by(SLOTS_PER_PAGE) {
        // Relaxed: changes nothing and pairs with nothing; only the write access matters.
        let _ = slot.compare_exchange(EMPTY, EMPTY, Ordering::Relaxed, Ordering::Relaxed);
    }
    #[cfg(loom)]
    let _ = (slots, SLOTS_PER_PAGE);
}

/// How far ahead of the copy [`prefetch_home`] looks, in entries.
const PREFETCH_AHEAD: usize = 8;

/// Starts loading the cache line of `new`'s index that old entry `i` will be claimed in.
///
/// The copy walks the old entries in order but claims slots of the new index at random, and
/// each claim is a locked instruction, which keeps the next entry's index load from starting
/// early: in a table larger than the cache every copied entry waited for one memory access in
/// turn (perf: two thirds of the copy's time on that load). Asking a few entries ahead lets
/// those accesses overlap. Only a hint: the hash is read without synchronization (a stale one
/// fetches a useless line), and nothing is read through the prefetched address.
#[inline]
fn prefetch_home<K: Handle, V: Handle>(old: &Table<K, V>, new: &Table<K, V>, i: usize) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    if let Some(ahead) = old.entries.get(i) {
        // Relaxed: a hint, see above.
        let home = mix(ahead.hash.load(Ordering::Relaxed)) as usize & new.mask;
        let line = new.index[home].as_ptr().cast::<i8>().cast_const();
        // SAFETY: a prefetch reads nothing and cannot fault; `line` is in bounds anyway.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line) };
    }
    #[cfg(not(all(target_arch = "x86_64", not(loom))))]
    let _ = (old, new, i);
}

/// Sets a slot of `new`'s index to `want`, probing from slot `from` (idempotent: another helper
/// may have done it), unless `late()` says, before a claim, that the chunk is done. Returns the
/// slot's position. In debug builds, checks that the entry's key (home slot `home`) has no other
/// slot: see [`debug_check_one_slot`].
fn claim_slot<K: Handle, V: Handle>(
    new: &Table<K, V>,
    (home, from): (usize, usize),
    want: u64,
    late: impl Fn() -> bool,
) -> usize {
    let mut i = from;
    for _ in 0..new.index.len() {
        // Acquire: pairs with the Release CAS of a writer that retired or re-pointed this slot
        // after publication (`retire_slot`, `publish_new`). A helper that passes such a slot
        // has seen a write made after publication, so `late()` then sees the chunk done (the
        // done flag was stored before `published`, which that writer Acquired): it never
        // claims an EMPTY slot further on. (Relaxed let a late helper read a DEAD slot and a
        // stale done flag, and claim: the loom model of a late helper found it.)
        let slot = new.slot(i).load(Ordering::Acquire);
        if slot == want || slot & FROZEN != 0 {
            // Done, or we are a late helper: `new` was published (every chunk done) and is
            // already migrating onwards, so this copy is moot.
            return i;
        }
        if slot == EMPTY {
            if late() {
                return i;
            }
            // Relaxed (both): the new index is only read by helpers (who agree on its contents
            // through the phase's done flags) until `published` is stored with Release; on
            // failure we re-read the slot (with Acquire, above).
            match new.slot(i).compare_exchange(EMPTY, want, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    debug_check_one_slot(new, home, i, want);
                    return i;
                }
                Err(_) => continue,
            }
        }
        i = (i + 1) & new.mask;
    }
    i // unreachable: the new index always has room for every live entry
}

/// Debug builds (and loom models): asserts that none of the (up to 64) slots before `claimed`
/// (which now holds `slot`), back to the key's `home`, points at an entry with the same key word
/// (one slot per key). Bounded so that a long run of keys of one hash stays linear in debug
/// builds too. Release builds return before reading anything: an atomic load is not removed as
/// dead code, and the key word used to be loaded for every moved entry.
fn debug_check_one_slot<K: Handle, V: Handle>(new: &Table<K, V>, home: usize, claimed: usize, slot: u64) {
    if !(cfg!(debug_assertions) || cfg!(loom)) {
        return;
    }
    let Some(entry) = slot_entry(slot) else { return };
    // Relaxed: this helper stored or saw the key (the copy's CAS) before claiming the slot.
    let key = new.entries[entry].key.load(Ordering::Relaxed) as usize;
    if key <= super::table::RETIRED_KEY {
        return;
    }
    let before = ((claimed.wrapping_sub(home)) & new.mask).min(64);
    for back in 1..=before {
        let pos = claimed.wrapping_sub(back) & new.mask;
        // Relaxed: a check; another helper's stores may not be visible yet (then a miss).
        let Some(e) = slot_entry(new.index[pos].load(Ordering::Relaxed)) else { continue };
        // Relaxed: as above.
        let other = new.entries[e].key.load(Ordering::Relaxed) as usize;
        assert!(other != key, "a second slot for one key: slots {pos} and {claimed}");
    }
}

/// The job of a migrating generation.
pub(super) fn job_of<K: Handle, V: Handle>(t: &Table<K, V>) -> Option<&Job<K, V>> {
    t.mig.job()
}

/// An extra `Arc` reference to the next generation, kept as a raw pointer by the map's root.
pub(super) fn next_raw<K: Handle, V: Handle>(job: &Job<K, V>) -> *mut Table<K, V> {
    into_raw(job.next.clone())
}

impl<K: Handle, V: Handle> Job<K, V> {
    pub fn next(&self) -> &Arc<Table<K, V>> {
        &self.next
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::job_of;
    use crate::engine::dict::table::{slot_entry, value_ptr, TOMBSTONE};
    use crate::engine::dict::{AtomicDict, KeyHash};
    use crate::engine::reclaim::{pin, Handle};
    use crate::sync::Ordering;

    type Map = AtomicDict<Arc<u64>, Arc<u64>>;

    fn eq(k: u64) -> impl FnMut(&Arc<u64>) -> Result<bool, ()> {
        move |stored| Ok(**stored == k)
    }

    /// A map holding keys 0..4 (in one small generation), and the keys.
    fn map_of_four() -> (Map, Vec<Arc<u64>>) {
        let map = Map::new();
        let keys: Vec<Arc<u64>> = (0..4).map(Arc::new).collect();
        for k in &keys {
            map.insert(KeyHash::new(**k), k, eq(**k), Arc::new(0)).unwrap();
        }
        (map, keys)
    }

    /// Runs the epoch's deferred releases, then checks each key is referenced by `keys` alone.
    /// Other tests share the collector and may hold the epoch back for a while (threads that
    /// pin constantly), so it flushes until the counts settle or 10 s pass.
    fn assert_each_key_released_once(keys: &[Arc<u64>]) {
        let start = std::time::Instant::now();
        while keys.iter().any(|k| Arc::strong_count(k) != 1) && start.elapsed().as_secs() < 10 {
            pin().flush();
            std::thread::yield_now();
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(Arc::strong_count(k), 1, "key {i} released more or fewer times than taken");
        }
    }

    /// Regression: a helper descheduled in the copy phase, copying after publication, put back
    /// the key of an entry whose delete had retired (and released) it: a double release.
    #[test]
    fn late_copy_after_publication_does_not_resurrect_a_retired_key() {
        let (map, keys) = map_of_four();
        // Keep the old generation, migrate it (published), then delete key 0 in the new one.
        let old = map.hold_current();
        map.reserve(1000).unwrap();
        assert!(old.mig.is_published());
        map.remove(KeyHash::new(0), &keys[0], eq(0)).unwrap();
        // The descheduled helper wakes up and copies its chunk.
        job_of(&old).unwrap().copy_entries(&old, 0);
        drop((old, map));
        assert_each_key_released_once(&keys);
    }

    /// How many slots of `t`'s index point at each entry.
    fn slots_per_entry(t: &crate::engine::dict::table::Table<Arc<u64>, Arc<u64>>) -> Vec<usize> {
        let mut count = vec![0; t.cap()];
        for slot in &t.index[..] {
            // Relaxed: the test is alone with the map.
            if let Some(e) = slot_entry(slot.load(Ordering::Relaxed)) {
                count[e] += 1;
            }
        }
        count
    }

    /// Regression (issue 11 item 7): a helper descheduled in the copy phase, copying after
    /// publication, probed past the slot of an entry that a delete had meanwhile retired and
    /// claimed a fresh EMPTY slot for it; the next entry of the same hash then probed on from
    /// there, past its own slot, and got a second one while live.
    #[test]
    fn late_copy_after_publication_claims_no_slot_for_a_retired_or_live_entry() {
        let map = Map::new();
        let keys: Vec<Arc<u64>> = (0..2).map(Arc::new).collect();
        // Both keys of one hash: one probe run, the second key's slot right after the first's.
        for k in &keys {
            map.insert(KeyHash::new(7), k, eq(**k), Arc::new(0)).unwrap();
        }
        let old = map.hold_current();
        map.reserve(1000).unwrap();
        assert!(old.mig.is_published());
        map.remove(KeyHash::new(7), &keys[0], eq(0)).unwrap();
        let new = map.hold_current();
        let before = slots_per_entry(&new);
        assert_eq!(&before[..2], &[0, 1], "key 0's slot retired, key 1's in place");
        // The descheduled helper wakes up and copies its chunk.
        job_of(&old).unwrap().copy_entries(&old, 0);
        assert_eq!(&slots_per_entry(&new)[..2], &before[..2], "the late copy claimed slots");
        // Key 1 is found, deleted once, and gone.
        assert!(map.get(KeyHash::new(7), eq(1)).unwrap().is_some());
        assert!(map.remove(KeyHash::new(7), &keys[1], eq(1)).unwrap().is_some());
        assert!(map.get(KeyHash::new(7), eq(1)).unwrap().is_none());
        assert_eq!(map.len(), 0);
        drop((old, new, map));
        assert_each_key_released_once(&keys);
    }

    /// A delete descheduled between its tombstone and retiring its slot, meanwhile frozen by a
    /// migration: the retire fails, so the dead entry keeps its key, and the old generation must
    /// release it when freed (it was not moved, and a live-only shortcut must not skip it).
    #[test]
    fn a_key_left_in_a_dead_entry_by_a_failed_retire_is_released_with_its_generation() {
        let (map, keys) = map_of_four();
        let old = map.hold_current();
        // The delete of key 0: its value CAS to TOMBSTONE succeeds...
        let (pos, slot) = (0..=old.mask)
            // Acquire: as a delete's probe reads the slot (pairs with the claim's Release).
            .map(|p| (p, old.index[p].load(Ordering::Acquire)))
            .find(|&(_, s)| slot_entry(s) == Some(0))
            .expect("key 0 has a slot");
        // AcqRel: as the delete's tombstone CAS (pairs with the insert's Release of the value).
        let word = old.entries[0].value.swap(TOMBSTONE, Ordering::AcqRel);
        old.add_len(&pin(), -1);
        // SAFETY: the word held entry 0's value, a reference the entry owned; we unlinked it.
        drop(unsafe { <Arc<u64> as Handle>::from_raw(value_ptr(word).unwrap()) });
        // ...then, before it retires the slot, a migration freezes and moves the rest.
        map.reserve(1000).unwrap();
        assert!(old.mig.is_published());
        old.retire_slot(&pin(), pos, slot, 0);
        // Acquire: pairs with the AcqRel swap a successful retire would have made.
        let key = old.entries[0].key.load(Ordering::Acquire);
        assert_ne!(key, std::ptr::null_mut(), "the retire must have failed");
        drop((old, map));
        assert_each_key_released_once(&keys);
    }
}
