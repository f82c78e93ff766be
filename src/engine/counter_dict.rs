//! The counter dict: the dict's table holding signed 64-bit counts.
//!
//! An [`AtomicCounterDict`] is an [`AtomicDict`] whose values are [`Count`]s. There is no second
//! table: every operation below is one call of the dict's own `get` or `modify`, so the counter
//! inherits its algorithm, orderings and migration protocol unchanged (see `docs/design.md`).
//!
//! # The value word
//! A count is packed into the value word itself whenever it fits, so an increment is one CAS on
//! that word and allocates nothing:
//!
//! | bits of the word | meaning |
//! |---|---|
//! | `0..3` | the engine's state bits (`MOVED`, `PENDING`, `TOMBSTONE`): always clear in a handle |
//! | `3` ([`INLINE`]) set | the count is `word >> 4` (arithmetic shift): 60 bits on 64-bit targets |
//! | `3` clear | the address of a [`Wide`] count in an `Arc` (16-aligned), for counts beyond that |
//!
//! An inline word is never `0` (UNSET) nor `4` (TOMBSTONE), since bit 3 is set. Its handle
//! functions ignore memory: `clone_raw` copies the word, `release` does nothing and
//! [`Handle::needs_release`] is false, so replacing an inline count defers nothing. A wide count
//! is an ordinary reference-counted object, released through the epoch like any value, so a
//! reader that loaded its address before a writer replaced it still reads it safely. Neither
//! kind is shown to a garbage collector ([`Handle::is_traced`] is false).
//!
//! # Operations
//! Each is one linearizable step per key (the value word's CAS, or the read of it):
//! [`AtomicDict::count`] reads (absent is 0), [`AtomicDict::add_count`] adds (inserting an absent
//! key at 0 first; a sum outside `i64` is an error and changes nothing),
//! [`AtomicDict::compare_and_set_count`] (absent counts as 0), [`AtomicDict::swap_count`],
//! [`AtomicDict::reset_count`] (to 0, keeping the key). Keys are handled exactly as the dict's.

use std::ptr::NonNull;
use std::sync::Arc;

use super::dict::{Action, AtomicDict, CapacityError, KeyHash};
use super::reclaim::Handle;

/// A concurrent, insertion-ordered map from reference-counted keys to `i64` counts.
pub type AtomicCounterDict<K> = AtomicDict<K, Count>;

/// Bit 3 of a value word: the count is packed into the word (see the module docs).
pub const INLINE: usize = 0b1000;

/// Bits of a word below the packed count: the engine's three state bits and [`INLINE`].
const SHIFT: u32 = 4;

/// The smallest count packed inline.
pub const INLINE_MIN: i64 = (isize::MIN >> SHIFT) as i64;

/// The largest count packed inline.
pub const INLINE_MAX: i64 = (isize::MAX >> SHIFT) as i64;

/// A count too wide to pack: boxed in an `Arc`, 16-aligned so that bit 3 of its address is clear.
#[repr(align(16))]
struct Wide(i64);

/// Boxed counts of [`TRACKED`] or [`TRACKED`]` + 1` (test only: no other test uses them) made and
/// not yet dropped, so a test can see every boxed count released exactly once.
#[cfg(test)]
static TRACKED_LIVE: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

/// A boxed count that [`tracked_live`] counts.
#[cfg(test)]
const TRACKED: i64 = i64::MAX - 1000;

#[cfg(test)]
fn tracked_live() -> isize {
    TRACKED_LIVE.load(std::sync::atomic::Ordering::SeqCst)
}

#[cfg(test)]
impl Wide {
    fn new(n: i64) -> Self {
        if n == TRACKED || n == TRACKED + 1 {
            TRACKED_LIVE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Wide(n)
    }
}

#[cfg(not(test))]
impl Wide {
    #[inline]
    fn new(n: i64) -> Self {
        Wide(n)
    }
}

#[cfg(test)]
impl Drop for Wide {
    fn drop(&mut self) {
        if self.0 == TRACKED || self.0 == TRACKED + 1 {
            TRACKED_LIVE.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// One count, as the table stores it: packed into the word, or a reference to a [`Wide`].
#[derive(Debug)]
pub struct Count {
    word: NonNull<()>,
}

// SAFETY: a `Count` is a plain value or a strong reference to an immutable `Arc<Wide>`, which
// any thread may read and release.
unsafe impl Send for Count {}
// SAFETY: as above; `&Count` only reads.
unsafe impl Sync for Count {}

impl Count {
    /// The count `n`: packed if it fits, else boxed (one allocation).
    pub fn new(n: i64) -> Self {
        let word = if (INLINE_MIN..=INLINE_MAX).contains(&n) {
            (((n as isize) << SHIFT) as usize) | INLINE
        } else {
            Arc::into_raw(Arc::new(Wide::new(n))) as usize
        };
        // SAFETY: an inline word has bit 3 set; an `Arc` pointer is never null.
        Count { word: unsafe { NonNull::new_unchecked(word as *mut ()) } }
    }

    /// The count.
    pub fn get(&self) -> i64 {
        let word = self.word.as_ptr() as usize;
        if word & INLINE != 0 {
            ((word as isize) >> SHIFT) as i64
        } else {
            // SAFETY: a word without INLINE is an `Arc<Wide>` this handle holds a reference to.
            unsafe { (*self.word.as_ptr().cast::<Wide>()).0 }
        }
    }

    /// Whether the count lives in an allocation of its own.
    pub fn is_boxed(&self) -> bool {
        is_wide(self.word)
    }
}

fn is_wide(word: NonNull<()>) -> bool {
    word.as_ptr() as usize & INLINE == 0
}

impl Drop for Count {
    fn drop(&mut self) {
        if is_wide(self.word) {
            // SAFETY: a wide word carries one strong reference of an `Arc<Wide>`, given up here.
            unsafe { Arc::decrement_strong_count(self.word.as_ptr().cast::<Wide>().cast_const()) };
        }
    }
}

// SAFETY:
// * `into_raw` returns the word without dropping: an inline word is non-null (bit 3) with the
//   three state bits clear; a wide one is an `Arc<Wide>` pointer, 16-aligned (`repr(align(16))`
//   makes the `ArcInner` 16-aligned and its two counters put the data at offset 16), and carries
//   the handle's strong reference;
// * `clone_raw` copies an inline word (a value) or takes a new strong reference to the `Arc`,
//   which the caller keeps alive;
// * `release` (through `from_raw` and `Drop`) gives up exactly that reference, or nothing;
// * `Wide` is immutable, so references may be read and released on any thread.
unsafe impl Handle for Count {
    #[inline]
    fn into_raw(self) -> NonNull<()> {
        std::mem::ManuallyDrop::new(self).word
    }

    #[inline]
    fn as_ptr(&self) -> NonNull<()> {
        self.word
    }

    #[inline]
    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        Count { word: ptr }
    }

    #[inline]
    unsafe fn clone_raw(ptr: NonNull<()>) -> Self {
        if is_wide(ptr) {
            // SAFETY: the caller keeps the `Arc` alive for the call, so its count is >= 1.
            unsafe { Arc::increment_strong_count(ptr.as_ptr().cast::<Wide>().cast_const()) };
        }
        Count { word: ptr }
    }

    #[inline]
    fn needs_release(ptr: NonNull<()>) -> bool {
        is_wide(ptr)
    }

    #[inline]
    fn is_traced(_ptr: NonNull<()>) -> bool {
        false
    }
}

/// Why a counting operation changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountError<E> {
    /// The caller's `eq` failed, or the table could not grow (a [`CapacityError`] converted to
    /// `E`, as every write of the engine reports it).
    Key(E),
    /// The result would not fit an `i64`.
    Overflow,
}

impl<E: From<CapacityError>> From<CapacityError> for CountError<E> {
    fn from(err: CapacityError) -> Self {
        CountError::Key(E::from(err))
    }
}

impl<K: Handle> AtomicDict<K, Count> {
    /// The key's count; 0 if absent (which does not insert it). Lock-free and linearizable.
    pub fn count<E>(&self, key_hash: KeyHash, eq: impl FnMut(&K) -> Result<bool, E>) -> Result<i64, E> {
        Ok(self.get(key_hash, eq)?.map_or(0, |c| c.get()))
    }

    /// Adds `n` to the key's count, inserting the key at 0 first if absent; returns the count
    /// before and after. One CAS on the value word (no allocation while the count packs); if
    /// the sum does not fit an `i64`, returns [`CountError::Overflow`] and changes nothing.
    pub fn add_count<E: From<CapacityError>>(
        &self,
        key_hash: KeyHash,
        key: &K,
        mut eq: impl FnMut(&K) -> Result<bool, E>,
        n: i64,
    ) -> Result<(i64, i64), CountError<E>> {
        let mut seen = (0, 0);
        self.modify(
            key_hash,
            key,
            |k| eq(k).map_err(CountError::Key),
            |current, _spare| {
                let old = current.map_or(0, Count::get);
                let new = old.checked_add(n).ok_or(CountError::Overflow)?;
                seen = (old, new);
                Ok(Action::Set(Count::new(new)))
            },
        )?;
        Ok(seen)
    }

    /// If the key's count is `expected` (an absent key counts as 0), sets it to `desired`
    /// (inserting the key if absent). Returns whether it did.
    pub fn compare_and_set_count<E: From<CapacityError>>(
        &self,
        key_hash: KeyHash,
        key: &K,
        eq: impl FnMut(&K) -> Result<bool, E>,
        expected: i64,
        desired: i64,
    ) -> Result<bool, E> {
        let mut swapped = false;
        self.modify(key_hash, key, eq, |current, _spare| {
            swapped = current.map_or(0, Count::get) == expected;
            Ok(if swapped { Action::Set(Count::new(desired)) } else { Action::Keep })
        })?;
        Ok(swapped)
    }

    /// Sets the key's count to `n` (inserting the key if absent); returns the previous count,
    /// 0 if it was absent.
    pub fn swap_count<E: From<CapacityError>>(
        &self,
        key_hash: KeyHash,
        key: &K,
        eq: impl FnMut(&K) -> Result<bool, E>,
        n: i64,
    ) -> Result<i64, E> {
        let mut old = 0;
        self.modify(key_hash, key, eq, |current, _spare| {
            old = current.map_or(0, Count::get);
            Ok(Action::Set(Count::new(n)))
        })?;
        Ok(old)
    }

    /// Sets a present key's count to 0, keeping the key; returns the previous count (0, and no
    /// insertion, if absent).
    pub fn reset_count<E: From<CapacityError>>(&self, key_hash: KeyHash, key: &K, eq: impl FnMut(&K) -> Result<bool, E>) -> Result<i64, E> {
        let mut old = 0;
        self.modify(key_hash, key, eq, |current, _spare| {
            old = current.map_or(0, Count::get);
            Ok(if current.is_some() { Action::Set(Count::new(0)) } else { Action::Keep })
        })?;
        Ok(old)
    }

    /// Removes the key if `remove(count)` is true, in one step; returns the count removed.
    pub fn remove_count_if<E: From<CapacityError>>(
        &self,
        key_hash: KeyHash,
        key: &K,
        eq: impl FnMut(&K) -> Result<bool, E>,
        mut remove: impl FnMut(i64) -> bool,
    ) -> Result<Option<i64>, E> {
        let mut removed = None;
        self.modify(key_hash, key, eq, |current, _spare| {
            removed = current.map(Count::get).filter(|&n| remove(n));
            Ok(if removed.is_some() { Action::Remove } else { Action::Keep })
        })?;
        Ok(removed)
    }

    /// Sets the key's count to `n` only if the key is absent; returns the count present, if any
    /// (then nothing changed).
    pub fn insert_count_if_absent<E: From<CapacityError>>(
        &self,
        key_hash: KeyHash,
        key: &K,
        eq: impl FnMut(&K) -> Result<bool, E>,
        n: i64,
    ) -> Result<Option<i64>, E> {
        Ok(self.insert_if_absent(key_hash, key, eq, Count::new(n))?.map(|c| c.get()))
    }
}

#[cfg(test)]
#[path = "counter_dict_tests.rs"]
mod tests;
