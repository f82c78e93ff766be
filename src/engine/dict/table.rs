//! One generation of the table: a compact index over an append-only entries array.
//!
//! # Layout
//! * `index`: `2^k` atomic `u64` slots. A slot is [`EMPTY`], [`DEAD`], or holds an entry number
//!   and a 16-bit tag (see [`KeyHash`]). [`FROZEN`] is or-ed into every slot when a
//!   migration starts. Within a generation a slot, once given to a key, belongs to that key:
//!   re-inserting a deleted key re-points the same slot at a new entry at the end (dict's order
//!   semantics), unless the delete already retired the slot to DEAD and released the key; then
//!   the key is inserted afresh at the first EMPTY slot of its probe sequence.
//! * `entries`: `cap` entries `{hash, key, value}` filled in reservation order, which is
//!   insertion order. `hash` and `key` are written before the entry is published and never
//!   change afterwards (an abandoned reservation resets its key to null, see below). The tag is
//!   kept only in the entry's slot.
//!
//! # Value word states (low 3 bits of an 8-aligned pointer)
//! | word | meaning |
//! |---|---|
//! | `0` ([`UNSET`]) | never written: a free or just-reserved entry |
//! | `ptr` | a live value |
//! | `ptr \| PENDING` | live, written by an inserter that may not have published it in the index yet |
//! | [`TOMBSTONE`] | deleted (terminal for the entry), or an abandoned reservation |
//! | any of the above `\| MOVED` | frozen by a migration: no more writes in this generation |
//!
//! A `PENDING` entry reached through the index is published (readers treat it as live). An
//! iterator or a migration that meets one scanning the entries asks the index whether a slot
//! points at it ([`Table::is_published`]).

use std::ptr::NonNull;
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use super::migrate::Migration;
use super::trail::Trail;
use crate::engine::reclaim::{Guard, Handle};
use crate::sync::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::atomic::AtomicIsize;

// Value words keep state in the low 3 bits of 8-aligned pointers, and index slots pack a 47-bit
// entry number with a tag and the FROZEN bit into 64 bits: both assume 64-bit pointers.
#[cfg(not(target_pointer_width = "64"))]
compile_error!("lockless's table needs a 64-bit target (pointer low bits and slot packing)");

/// An index slot no key has claimed.
pub(super) const EMPTY: u64 = 0;
/// A slot whose key was deleted and released: never claimed again in this generation (that
/// could give a key two slots); probes pass over it. Points at no entry.
pub(super) const DEAD: u64 = 1;
/// Or-ed into every index slot when a migration freezes the generation.
pub(super) const FROZEN: u64 = 1 << 63;
const TAG_BITS: u32 = 16;

/// Key word of an entry whose deleted key was released by `retire_slot`. Not null, so that a
/// late migration helper's CAS from null can never put a released key back.
pub(super) const RETIRED_KEY: usize = 1;

/// The key stored in a key word, if any (null: never written or abandoned; RETIRED_KEY:
/// deleted and released).
#[inline]
pub(super) fn key_ptr(word: *mut ()) -> Option<NonNull<()>> {
    if word as usize == RETIRED_KEY {
        None
    } else {
        NonNull::new(word)
    }
}

/// Value word of an entry that has never been written.
pub(super) const UNSET: usize = 0;
/// Or-ed into a value word when a migration freezes it.
pub(super) const MOVED: usize = 0b001;
/// Or-ed into a value word until its inserter knows the entry is published in the index.
pub(super) const PENDING: usize = 0b010;
/// Value word of a deleted entry or an abandoned reservation (not a valid pointer).
pub(super) const TOMBSTONE: usize = 0b100;

/// Smallest index; holds up to `MIN_INDEX * 2 / 3` entries.
pub(super) const MIN_INDEX: usize = 8;

/// Mixes the caller's hash (CPython's hash of a small int is the int itself) so that both the
/// slot position (low bits) and the tag (high bits) depend on every input bit. murmur3's fmix64.
#[inline]
pub(super) fn mix(hash: u64) -> u64 {
    let mut h = hash;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The tag bit that says a tag was taken from the hash (else from the caller's fingerprint).
const FROM_HASH: u64 = 1 << (TAG_BITS - 1);

/// A key's hash as the map takes it, with the tag its index slot carries.
///
/// The tag lets a probe pass a slot without reading its entry. It comes from the hash
/// ([`KeyHash::new`]), or, for keys whose equality the caller can summarize by a value, from
/// that value ([`KeyHash::with_fingerprint`]): then keys that share a hash (the many ints of one
/// hash an attacker can pick) still have different tags, and a probe through them reads only
/// the index. Equal keys must get equal tags unless one tag is from the hash and the other from
/// a fingerprint: tags of those two kinds always match each other (see [`tags_match`]), so a
/// caller may fingerprint some types (exact ints) and not others (floats equal to them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyHash {
    /// The caller's hash.
    pub hash: u64,
    /// `mix(hash)`, computed once: it places the key (low bits) and gives its hash tag.
    mixed: u64,
    tag: u64,
}

impl KeyHash {
    /// A key known by its hash alone.
    #[inline]
    pub fn new(hash: u64) -> Self {
        let mixed = mix(hash);
        KeyHash { hash, mixed, tag: FROM_HASH | (mixed >> (64 - TAG_BITS + 1)) }
    }

    /// A key whose equal keys of its kind all have this `fingerprint` (for an integer, its value).
    #[inline]
    pub fn with_fingerprint(hash: u64, fingerprint: u64) -> Self {
        KeyHash { hash, mixed: mix(hash), tag: mix(fingerprint ^ hash) >> (64 - TAG_BITS + 1) }
    }

    #[inline]
    pub(super) fn mixed(self) -> u64 {
        self.mixed
    }

    #[inline]
    pub(super) fn tag(self) -> u64 {
        self.tag
    }
}

/// Whether a slot with tag `slot` may hold the key with tag `probe`: same tag, or tags of two
/// kinds (one from a hash, one from a fingerprint), which say nothing about each other.
#[inline]
pub(super) fn tags_match(slot: u64, probe: u64) -> bool {
    slot == probe || (slot ^ probe) & FROM_HASH != 0
}

/// An index slot pointing at entry `entry` with tag `tag`.
#[inline]
pub(super) fn slot_for(entry: usize, tag: u64) -> u64 {
    ((entry as u64 + 1) << TAG_BITS) | tag
}

/// The entry number a slot points at, if any (ignores [`FROZEN`]).
#[inline]
pub(super) fn slot_entry(slot: u64) -> Option<usize> {
    match (slot & !FROZEN) >> TAG_BITS {
        0 => None,
        e => Some(e as usize - 1),
    }
}

#[inline]
pub(super) fn slot_tag(slot: u64) -> u64 {
    slot & ((1 << TAG_BITS) - 1)
}

/// If the value word holds a live value, its pointer (state bits stripped). `PENDING` words
/// count as live here; callers that scan entries rather than the index check publication.
#[inline]
pub(super) fn value_ptr(word: usize) -> Option<NonNull<()>> {
    let bare = word & !(MOVED | PENDING);
    if bare == UNSET || bare == TOMBSTONE {
        None
    } else {
        NonNull::new(bare as *mut ())
    }
}

/// `{hash, key, value}`; all atomic so that migration helpers and abandoned inserters can touch
/// the same entry without data races. The entry's tag lives only in its index slot: a migration
/// collects it from there while freezing the index (see `Job::tags`).
pub(super) struct Entry {
    pub hash: AtomicU64,
    pub key: AtomicPtr<()>,
    pub value: AtomicUsize,
}

/// How a generation came to be; decides who owns the objects of the generation before it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Origin {
    /// A new map.
    Fresh,
    /// A migration moved the live entries of the previous generation here: it now owns them.
    Copied,
    /// `clear`: nothing was moved; the previous generation keeps (and releases) everything.
    Cleared,
}

/// Why a capacity request cannot be met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacityError {
    /// The size does not fit in memory arithmetic (e.g. `2**62` entries).
    Overflow,
    /// The allocator refused the request.
    AllocFailed,
}

impl std::fmt::Display for CapacityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CapacityError::Overflow => f.write_str("capacity overflow"),
            CapacityError::AllocFailed => f.write_str("memory allocation failed"),
        }
    }
}

impl std::error::Error for CapacityError {}

/// For callers whose own errors carry nothing (`eq` closures that cannot fail, tests): a write
/// that could not grow the map fails with `()` too.
impl From<CapacityError> for () {
    fn from(_: CapacityError) -> Self {}
}

/// One generation. Shared through `Arc` (the map's root, iterators, and the previous
/// generation's `next` each hold one) and retired through the epoch.
pub(super) struct Table<K: Handle, V: Handle> {
    pub mask: usize,
    pub index: Box<[AtomicU64]>,
    pub entries: Box<[Entry]>,
    /// Next entry number to reserve; may run past `entries.len()` (then the table is full).
    /// Every insert writes it, so it has a cache line of its own: sharing one with the fields
    /// every operation reads (mask, index, entries) would make each insert on one thread a
    /// cache miss for every operation on the others.
    pub next_entry: CachePadded<AtomicUsize>,
    /// Live entries when this generation was published, plus the striped deltas since.
    pub len_base: AtomicIsize,
    pub len_stripes: Box<[CachePadded<AtomicIsize>]>,
    pub origin: Origin,
    /// Migrations that led to this generation (for stats).
    pub migrations: u64,
    pub mig: Migration<K, V>,
    /// What iterators keep of this generation once it has migrated (see `trail.rs`): they hold
    /// this, never the table.
    pub trail: Arc<Trail>,
    /// Set by `release_owned` (from Drop, or from the iterative drop of a chain), so that the
    /// references this generation owns are released once.
    released: bool,
}

impl<K: Handle, V: Handle> Table<K, V> {
    /// A table whose entries hold at least `entries` (fallible: an error, never an abort).
    pub fn with_entries(
        entries: usize,
        origin: Origin,
        migrations: u64,
    ) -> Result<Self, CapacityError> {
        let index_len = index_len_for(entries)?;
        let cap = entries_for_index(index_len);
        // SAFETY: EMPTY is 0, and an entry of all-zero atomics is a zero hash, a null key and
        // an UNSET (0) value: the all-zero bit pattern is exactly what the closures build.
        let (index, entries) = unsafe {
            (
                zeroed_slice(index_len, || AtomicU64::new(EMPTY))?,
                zeroed_slice(cap, || Entry {
                    hash: AtomicU64::new(0),
                    key: AtomicPtr::new(std::ptr::null_mut()),
                    value: AtomicUsize::new(UNSET),
                })?,
            )
        };
        Ok(Table {
            mask: index_len - 1,
            index,
            entries,
            next_entry: CachePadded::new(AtomicUsize::new(0)),
            len_base: AtomicIsize::new(0),
            len_stripes: (0..stripe_count()).map(|_| CachePadded::new(AtomicIsize::new(0))).collect(),
            origin,
            migrations,
            mig: Migration::new(),
            trail: Arc::new(Trail::new(cap)?),
            released: false,
        })
    }

    /// The index slot at `pos & mask`, without a bounds check: probe loops load one per step.
    #[inline]
    pub fn slot(&self, pos: usize) -> &AtomicU64 {
        debug_assert_eq!(self.index.len(), self.mask + 1);
        // SAFETY: `with_entries` sets `mask` to the index's length minus one (a power of two)
        // and neither changes afterwards, so `pos & mask` is in bounds.
        unsafe { self.index.get_unchecked(pos & self.mask) }
    }

    #[inline]
    pub fn cap(&self) -> usize {
        self.entries.len()
    }

    /// Entries that may have been written: `[0, reserved())`.
    #[inline]
    pub fn reserved(&self) -> usize {
        // Acquire: pairs with nothing in particular (entries are read through their own
        // Acquire loads); Relaxed would do, but Acquire keeps the scan after the load.
        self.next_entry.load(Ordering::Acquire).min(self.cap())
    }

    /// Adds `delta` to the length, on the stripe of `guard`'s thread.
    #[inline]
    pub fn add_len(&self, guard: &Guard, delta: isize) {
        let stripe = &self.len_stripes[guard.thread_slot() & (self.len_stripes.len() - 1)];
        // Relaxed: len is a statistic, exact only when quiescent; nothing is published by it.
        stripe.fetch_add(delta, Ordering::Relaxed);
    }

    pub fn len(&self) -> usize {
        // Relaxed: see add_len.
        let base = self.len_base.load(Ordering::Relaxed);
        // Relaxed: see add_len.
        let sum: isize = self.len_stripes.iter().map(|s| s.load(Ordering::Relaxed)).sum();
        (base + sum).max(0) as usize
    }

    /// Whether some index slot points at entry `i` (so a `PENDING` entry there is published).
    /// Probing stops at the first empty slot: a slot is claimed only when every slot before it
    /// in the probe sequence is occupied, and slots never become empty again.
    /// Cold: only an entry whose insert is still in progress (`PENDING`) gets here.
    #[cold]
    pub fn is_published(&self, i: usize) -> bool {
        // Relaxed: the hash was written before the value word we already read with Acquire.
        let mixed = mix(self.entries[i].hash.load(Ordering::Relaxed));
        self.slot_of(i, mixed).is_some()
    }

    /// The position and contents of the slot pointing at entry `i` (whose mixed hash is
    /// `mixed`), if any.
    pub fn slot_of(&self, i: usize, mixed: u64) -> Option<(usize, u64)> {
        let mut pos = mixed as usize & self.mask;
        for _ in 0..self.index.len() {
            // Acquire: pairs with the inserter's Release CAS on the slot.
            let slot = self.index[pos].load(Ordering::Acquire);
            if slot & !FROZEN == EMPTY {
                return None;
            }
            if slot_entry(slot) == Some(i) {
                return Some((pos, slot));
            }
            pos = (pos + 1) & self.mask;
        }
        None
    }

    /// After deleting entry `e` (its value word is now TOMBSTONE, set by us), retires its slot
    /// (`slot`, at `pos`) to DEAD and releases the key now rather than at the next migration.
    /// If the slot changed (a re-insert re-pointed it, or a migration froze it), the key stays
    /// with the dead entry and is released when the generation is dropped.
    #[inline(always)]
    pub fn retire_slot(&self, guard: &Guard, pos: usize, slot: u64, e: usize) {
        // AcqRel on success: Acquire orders the key swap after it; Release makes DEAD visible
        // with our tombstone before it. Relaxed on failure: we give up, nothing to read.
        if self.index[pos].compare_exchange(slot, DEAD, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return;
        }
        // AcqRel: only the thread that retired the slot gets here; readers that load the key
        // afterwards see RETIRED_KEY (they treat the entry as gone), and so does a late
        // migration helper's CAS from null, which therefore cannot resurrect the key.
        let key = self.entries[e].key.swap(RETIRED_KEY as *mut (), Ordering::AcqRel);
        if let Some(key) = key_ptr(key) {
            // SAFETY: the key was owned by the entry, which no slot points at any more; readers
            // that loaded it before the swap are pinned, and the release waits for them.
            unsafe { crate::engine::reclaim::defer_release::<K>(guard, key) };
        }
    }

    /// The live value of entry `i` (frozen or not), checking publication of `PENDING` entries.
    #[inline]
    pub fn live_value(&self, i: usize) -> Option<NonNull<()>> {
        // Acquire: pairs with the Release that wrote the value (insert, update, or freeze).
        self.live_value_from(i, self.entries[i].value.load(Ordering::Acquire))
    }

    /// [`Table::live_value`] for a value word already loaded (with Acquire) from entry `i`.
    /// Inline: the migration's count and copy phases and every iterator step call it once per
    /// entry, and its common path is a few bit tests (rustc had kept it out of line).
    #[inline]
    pub fn live_value_from(&self, i: usize, word: usize) -> Option<NonNull<()>> {
        let ptr = value_ptr(word)?;
        if word & PENDING != 0 && !self.is_published(i) {
            return None;
        }
        Some(ptr)
    }
}

impl<K: Handle, V: Handle> Table<K, V> {
    /// Releases the references this generation still owns and frees its migration job; returns
    /// the job's reference to the next generation. Called once we are the last owner: no
    /// thread can read this generation any more (the root's reference was dropped through the
    /// epoch; iterators hold only its trail).
    fn release_owned(&mut self) -> Option<Arc<Table<K, V>>> {
        if std::mem::replace(&mut self.released, true) {
            return None;
        }
        let transferred = self.mig.moved_to().map(|next| next.origin) == Some(Origin::Copied);
        // Every entry live and now the next generation's (the common case after growth): skip
        // reading the whole table again.
        let all_moved = transferred && self.mig.moved_entries() == Some(self.reserved());
        for i in 0..if all_moved { 0 } else { self.reserved() } {
            let live = self.live_value(i);
            // Relaxed: we are the only owner; the Arc drop synchronized with every other.
            let key = self.entries[i].key.load(Ordering::Relaxed);
            if transferred && live.is_some() {
                continue; // the next generation owns this entry's key and value now
            }
            if let Some(key) = key_ptr(key) {
                // SAFETY: the entry owns one reference to its key (none if abandoned or
                // retired), not transferred and not yet released.
                unsafe { K::release(key) };
            }
            if let Some(value) = live {
                // SAFETY: a live entry owns one reference to its value.
                unsafe { V::release(value) };
            }
        }
        self.mig.take_next()
    }
}

impl<K: Handle, V: Handle> Drop for Table<K, V> {
    fn drop(&mut self) {
        // Each generation's job owns the next one. Walk that chain here rather than let each
        // drop the next from inside its own Drop, which recursed once per generation (a stack
        // overflow after 10^5 clears kept alive by one idle iterator).
        let mut next = self.release_owned();
        while let Some(table) = next {
            // The last reference: release that generation here; its own Drop then finds it
            // released and its job gone.
            next = Arc::into_inner(table).and_then(|mut t| t.release_owned());
        }
    }
}

/// Index length for at least `entries` entries, at most 2/3 full.
fn index_len_for(entries: usize) -> Result<usize, CapacityError> {
    let want = entries.checked_mul(3).ok_or(CapacityError::Overflow)?.div_ceil(2);
    let len = want.max(MIN_INDEX).checked_next_power_of_two().ok_or(CapacityError::Overflow)?;
    // Entry numbers must fit the slot encoding (47 bits) and sizes must fit isize.
    if len > 1 << 46 {
        return Err(CapacityError::Overflow);
    }
    Ok(len)
}

fn entries_for_index(index_len: usize) -> usize {
    index_len * 2 / 3
}

/// A boxed slice of `n` elements whose all-zero bit pattern is their initial state, allocated
/// zeroed (so the pages of a large table are touched only when used), or an error if the
/// allocator refuses.
///
/// # Safety
/// The all-zero bit pattern is a valid `T`, equal to what `init` builds. (Under loom, whose
/// atomics are not plain memory, each element is built with `init` instead.)
#[cfg(not(loom))]
pub(super) unsafe fn zeroed_slice<T>(n: usize, init: impl Fn() -> T) -> Result<Box<[T]>, CapacityError> {
    use std::alloc::{alloc_zeroed, Layout};
    if n == 0 || std::mem::size_of::<T>() == 0 {
        return Ok((0..n).map(|_| init()).collect());
    }
    let layout = Layout::array::<T>(n).map_err(|_| CapacityError::Overflow)?;
    #[cfg(test)]
    if layout.size() > test_alloc_limit::get() {
        return Err(CapacityError::AllocFailed);
    }
    // SAFETY: the layout has non-zero size (checked above).
    let ptr = unsafe { alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        return Err(CapacityError::AllocFailed);
    }
    // SAFETY: `ptr` is a fresh allocation of `n` `T`s with `Layout::array`, as `Box<[T]>`
    // expects, and the caller guarantees all-zero bytes are a valid `T`.
    Ok(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, n)) })
}

/// Under loom, atomics are not plain memory: build each element.
///
/// # Safety
/// None beyond the non-loom version's, kept so that callers read the same.
#[cfg(loom)]
pub(super) unsafe fn zeroed_slice<T>(n: usize, init: impl Fn() -> T) -> Result<Box<[T]>, CapacityError> {
    Ok((0..n).map(|_| init()).collect())
}

fn stripe_count() -> usize {
    static COUNT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *COUNT.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
        (cpus * 2).next_power_of_two().clamp(2, 64)
    })
}

/// An `Arc<Table>` kept as a raw pointer in an atomic slot.
pub(super) fn into_raw<K: Handle, V: Handle>(t: Arc<Table<K, V>>) -> *mut Table<K, V> {
    Arc::into_raw(t).cast_mut()
}

/// Fault injection for the engine's tests: on this thread, [`zeroed_slice`] refuses any
/// allocation larger than the limit, as an allocator out of memory would.
#[cfg(test)]
pub(super) mod test_alloc_limit {
    use std::cell::Cell;

    thread_local!(static LIMIT: Cell<usize> = const { Cell::new(usize::MAX) });

    #[cfg(not(loom))] // read by `zeroed_slice`, which loom builds do not have
    pub fn get() -> usize {
        LIMIT.with(Cell::get)
    }

    /// Refuses allocations over `bytes` on this thread until the guard is dropped.
    pub fn set(bytes: usize) -> impl Drop {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                LIMIT.with(|l| l.set(usize::MAX));
            }
        }
        LIMIT.with(|l| l.set(bytes));
        Reset
    }
}
