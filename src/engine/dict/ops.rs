//! The named operations, each one call of [`AtomicDict::modify`] with its own decision (and, for
//! `insert_if_absent`, a lookup before it under the same pin).
//!
//! Every operation takes the key's hash, the caller's key (borrowed: the map takes its own
//! reference only if it inserts), and `eq` (see [`AtomicDict::get`]). Values handed back are
//! new references. All are lock-free and linearizable; closures may run more than once. Each
//! may have to grow the map, so each takes an error type that a [`CapacityError`] converts to:
//! out of memory is an error returned with the map unchanged, never an abort.

use std::ptr::NonNull;

use super::{Action, AtomicDict, CapacityError, KeyHash};
use crate::engine::reclaim::{self, Handle};

impl<K: Handle, V: Handle> AtomicDict<K, V> {
    /// Stores `value`; returns the previous value, if any.
    pub fn insert<E: From<CapacityError>>(
        &self,
        hash: KeyHash,
        key: &K,
        eq: impl FnMut(&K) -> Result<bool, E>,
        value: V,
    ) -> Result<Option<V>, E> {
        let mut value = Some(value);
        let mut previous = None;
        self.modify(hash, key, eq, |current, spare| {
            previous = current.map(Handle::clone_ref);
            Ok(Action::Set(spare.or_else(|| value.take()).expect("a value to store")))
        })?;
        Ok(previous)
    }

    /// Stores `value` only if the key is absent. Returns `None` if it inserted, else the
    /// value already present (and `value` is dropped).
    ///
    /// A present key costs a lookup (a read-only probe) rather than a write's probe: the write
    /// runs, under the same pin, only when the lookup found no key. The lookup that finds the
    /// key is then the operation's linearization point.
    pub fn insert_if_absent<E: From<CapacityError>>(
        &self,
        hash: KeyHash,
        key: &K,
        mut eq: impl FnMut(&K) -> Result<bool, E>,
        value: V,
    ) -> Result<Option<V>, E> {
        reclaim::pinned(#[inline(always)] |g| {
            if let Some(existing) = self.raw.get(g, hash, &mut eq)? {
                return Ok(Some(existing));
            }
            let mut value = Some(value);
            let mut existing = None;
            self.raw.modify(g, hash, key, eq, |current, spare| {
                existing = current.map(Handle::clone_ref);
                Ok(match current {
                    Some(_) => Action::Keep,
                    None => Action::Set(spare.or_else(|| value.take()).expect("a value to store")),
                })
            })?;
            Ok(existing)
        })
    }

    /// Deletes the key; returns its value, if it was present.
    pub fn remove<E: From<CapacityError>>(&self, hash: KeyHash, key: &K, eq: impl FnMut(&K) -> Result<bool, E>) -> Result<Option<V>, E> {
        let mut previous = None;
        self.modify(hash, key, eq, |current, _| {
            previous = current.map(Handle::clone_ref);
            Ok(Action::Remove)
        })?;
        Ok(previous)
    }

    /// If the key's value is the object at `expected` (by identity: the address is compared,
    /// never dereferenced; `None`: the key is absent), stores `desired` (`None`: deletes).
    /// Returns the value found (`None`: absent), whether or not it swapped; it swapped exactly
    /// when that is `expected`.
    pub fn compare_and_exchange<E: From<CapacityError>>(
        &self,
        hash: KeyHash,
        key: &K,
        eq: impl FnMut(&K) -> Result<bool, E>,
        expected: Option<NonNull<()>>,
        desired: Option<V>,
    ) -> Result<Option<V>, E> {
        let mut desired = desired;
        let mut witness = None;
        self.modify(hash, key, eq, |current, spare| {
            witness = current.map(Handle::clone_ref);
            if spare.is_some() {
                desired = spare;
            }
            if current.map(Handle::as_ptr) != expected {
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
    pub fn compare_and_set<E: From<CapacityError>>(
        &self,
        hash: KeyHash,
        key: &K,
        eq: impl FnMut(&K) -> Result<bool, E>,
        expected: Option<NonNull<()>>,
        desired: Option<V>,
    ) -> Result<bool, E> {
        let witness = self.compare_and_exchange(hash, key, eq, expected, desired)?;
        Ok(witness.as_ref().map(Handle::as_ptr) == expected)
    }

    /// Stores `value` only if the key is present; returns the value it replaced.
    pub fn replace_if_present<E: From<CapacityError>>(
        &self,
        hash: KeyHash,
        key: &K,
        eq: impl FnMut(&K) -> Result<bool, E>,
        value: V,
    ) -> Result<Option<V>, E> {
        let mut value = Some(value);
        let mut previous = None;
        self.modify(hash, key, eq, |current, spare| {
            if spare.is_some() {
                value = spare;
            }
            previous = current.map(Handle::clone_ref);
            Ok(match current {
                Some(_) => Action::Set(value.take().expect("a value to store")),
                None => Action::Keep,
            })
        })?;
        Ok(previous)
    }

    /// Sets the key to `f(current)` (`None`: absent / delete), retrying `f` on conflict.
    /// Returns the value stored (`None` if `f` deleted or kept the key absent).
    pub fn compute<E: From<CapacityError>>(
        &self,
        hash: KeyHash,
        key: &K,
        eq: impl FnMut(&K) -> Result<bool, E>,
        mut f: impl FnMut(Option<&V>) -> Result<Option<V>, E>,
    ) -> Result<Option<V>, E> {
        let mut stored = None;
        self.modify(hash, key, eq, |current, _spare| {
            let new = f(current)?;
            stored = new.as_ref().map(Handle::clone_ref);
            Ok(match new {
                Some(v) => Action::Set(v),
                None => Action::Remove,
            })
        })?;
        Ok(stored)
    }
}
