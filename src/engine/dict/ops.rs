//! The named operations, each one call of [`AtomicDict::modify`] with its own decision.
//!
//! Every operation takes the key's hash, the caller's key as a borrowed pointer (the map takes
//! its own reference only if it inserts), and `eq` (see [`AtomicDict::get`]). Values handed
//! back are new references. All are lock-free and linearizable; closures may run more than once.

use std::ptr::NonNull;

use crossbeam_epoch::Guard;

use super::{Action, AtomicDict, KeyHash};
use crate::engine::reclaim::Handle;

/// A new reference to the object behind a pointer the map owns.
///
/// # Safety
/// `ptr` is a value pointer handed to a `modify` decision, which `guard` keeps alive.
unsafe fn clone<V: Handle>(ptr: NonNull<()>) -> V {
    // SAFETY: forwarded from the caller.
    unsafe { V::clone_raw(ptr) }
}

impl<K: Handle, V: Handle> AtomicDict<K, V> {
    /// Stores `value`; returns the previous value, if any.
    pub fn insert<E>(
        &self,
        guard: &Guard,
        hash: KeyHash,
        key: NonNull<()>,
        eq: impl FnMut(NonNull<()>) -> Result<bool, E>,
        value: V,
    ) -> Result<Option<V>, E> {
        let mut value = Some(value);
        let mut previous = None;
        self.modify(guard, hash, key, eq, |current, spare| {
            // SAFETY: `current` is alive under `guard` (modify's contract).
            previous = current.map(|p| unsafe { clone(p) });
            Ok(Action::Set(spare.or_else(|| value.take()).expect("a value to store")))
        })?;
        Ok(previous)
    }

    /// Stores `value` only if the key is absent. Returns `None` if it inserted, else the
    /// value already present (and `value` is dropped).
    pub fn insert_if_absent<E>(
        &self,
        guard: &Guard,
        hash: KeyHash,
        key: NonNull<()>,
        eq: impl FnMut(NonNull<()>) -> Result<bool, E>,
        value: V,
    ) -> Result<Option<V>, E> {
        let mut value = Some(value);
        let mut existing = None;
        self.modify(guard, hash, key, eq, |current, spare| match current {
            Some(p) => {
                // SAFETY: `current` is alive under `guard`.
                existing = Some(unsafe { clone(p) });
                Ok(Action::Keep)
            }
            None => {
                existing = None;
                Ok(Action::Set(spare.or_else(|| value.take()).expect("a value to store")))
            }
        })?;
        Ok(existing)
    }

    /// Deletes the key; returns its value, if it was present.
    pub fn remove<E>(
        &self,
        guard: &Guard,
        hash: KeyHash,
        key: NonNull<()>,
        eq: impl FnMut(NonNull<()>) -> Result<bool, E>,
    ) -> Result<Option<V>, E> {
        let mut previous = None;
        self.modify(guard, hash, key, eq, |current, _| {
            // SAFETY: `current` is alive under `guard`.
            previous = current.map(|p| unsafe { clone(p) });
            Ok(Action::Remove)
        })?;
        Ok(previous)
    }

    /// If the key's value is `expected` (by identity; `None`: the key is absent), stores
    /// `desired` (`None`: deletes). Returns the value found (`None`: absent), whether or not
    /// it swapped; it swapped exactly when that equals `expected`.
    pub fn compare_and_exchange<E>(
        &self,
        guard: &Guard,
        hash: KeyHash,
        key: NonNull<()>,
        eq: impl FnMut(NonNull<()>) -> Result<bool, E>,
        expected: Option<NonNull<()>>,
        desired: Option<V>,
    ) -> Result<Option<V>, E> {
        let mut desired = desired;
        let mut witness = None;
        self.modify(guard, hash, key, eq, |current, spare| {
            // SAFETY: `current` is alive under `guard`.
            witness = current.map(|p| unsafe { clone(p) });
            if spare.is_some() {
                desired = spare;
            }
            if current != expected {
                return Ok(Action::Keep);
            }
            Ok(match desired.take() {
                Some(v) => Action::Set(v),
                None => Action::Remove,
            })
        })?;
        Ok(witness)
    }

    /// [`AtomicDict::compare_and_exchange`] that only says whether it swapped.
    pub fn compare_and_set<E>(
        &self,
        guard: &Guard,
        hash: KeyHash,
        key: NonNull<()>,
        eq: impl FnMut(NonNull<()>) -> Result<bool, E>,
        expected: Option<NonNull<()>>,
        desired: Option<V>,
    ) -> Result<bool, E> {
        let witness = self.compare_and_exchange(guard, hash, key, eq, expected, desired)?;
        Ok(witness.as_ref().map(Handle::as_ptr) == expected)
    }

    /// Stores `value` only if the key is present; returns the value it replaced.
    pub fn replace_if_present<E>(
        &self,
        guard: &Guard,
        hash: KeyHash,
        key: NonNull<()>,
        eq: impl FnMut(NonNull<()>) -> Result<bool, E>,
        value: V,
    ) -> Result<Option<V>, E> {
        let mut value = Some(value);
        let mut previous = None;
        self.modify(guard, hash, key, eq, |current, spare| {
            if spare.is_some() {
                value = spare;
            }
            // SAFETY: `current` is alive under `guard`.
            previous = current.map(|p| unsafe { clone(p) });
            Ok(match current {
                Some(_) => Action::Set(value.take().expect("a value to store")),
                None => Action::Keep,
            })
        })?;
        Ok(previous)
    }

    /// Sets the key to `f(current)` (`None`: absent / delete), retrying `f` on conflict.
    /// Returns the value stored (`None` if `f` deleted or kept the key absent).
    pub fn compute<E>(
        &self,
        guard: &Guard,
        hash: KeyHash,
        key: NonNull<()>,
        eq: impl FnMut(NonNull<()>) -> Result<bool, E>,
        mut f: impl FnMut(Option<NonNull<()>>) -> Result<Option<V>, E>,
    ) -> Result<Option<V>, E> {
        let mut stored = None;
        self.modify(guard, hash, key, eq, |current, _spare| {
            let new = f(current)?;
            stored = new.as_ref().map(|v: &V| {
                // SAFETY: `v` is alive (we own it) while we take another reference.
                unsafe { V::clone_raw(v.as_ptr()) }
            });
            Ok(match new {
                Some(v) => Action::Set(v),
                None => Action::Remove,
            })
        })?;
        Ok(stored)
    }
}
