//! An atomic reference to a reference-counted object (`AtomicRef` in Python).
//!
//! # Representation
//! One [`AtomicPtr`] holding a pointer from [`Handle::into_raw`], never null. The slot owns one
//! strong reference to the object it points to.
//!
//! # Read-then-clone
//! `get` loads the pointer and then takes a new reference with [`Handle::clone_raw`]. A writer
//! that swapped the pointer out in between must not have released the slot's reference yet, or
//! the reader would revive a freed object. So every path that unlinks a pointer (set, swap, a
//! successful compare-and-set) hands the slot's reference to [`reclaim::defer_release`], and
//! every path that reads a pointer it will clone does so while pinned: the release runs only
//! after every thread pinned at the time of the unlink has unpinned. Each method pins the
//! crate's collector for itself ([`reclaim::pinned`]), so no caller can pass a guard of
//! another collector.
//!
//! # Identity
//! `compare_and_set` compares addresses. The caller keeps `expected` alive for the duration of
//! the call (it holds a reference), so its address cannot be reused by another object and the
//! comparison cannot suffer ABA.
//!
//! # Ordering
//! Every access is `SeqCst`. Acquire/Release would be enough for memory safety (a reader must
//! see the object's contents that the writer initialized before publishing it); SeqCst adds
//! Java's `volatile` guarantee that all lockless atomics share one total order.
//!
//! # Progress
//! Every operation here is wait-free: one atomic instruction plus a clone or a deferred release.

use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::engine::reclaim::{self, Handle};

use crate::sync::{AtomicPtr, Ordering};

/// An atomic, shared reference to an `H`.
pub struct AtomicRef<H: Handle> {
    ptr: AtomicPtr<()>,
    _owns: PhantomData<H>,
}

// SAFETY: `Handle`'s contract says the objects behind handles may be referenced and released
// from any thread, and the slot itself is an atomic; so sharing or sending an `AtomicRef`
// between threads is sound whatever `H`'s auto traits say (a PyObject pointer is not `Send` to
// the compiler, but free-threaded CPython allows incref/decref from any attached thread).
unsafe impl<H: Handle> Send for AtomicRef<H> {}
// SAFETY: as for `Send`: every access to the slot goes through atomic operations.
unsafe impl<H: Handle> Sync for AtomicRef<H> {}

impl<H: Handle> AtomicRef<H> {
    /// A new reference holding `value`.
    pub fn new(value: H) -> Self {
        Self {
            ptr: AtomicPtr::new(value.into_raw().as_ptr()),
            _owns: PhantomData,
        }
    }

    /// The current pointer, unpinned and without taking a reference: only for identity checks
    /// and for a garbage collector's traversal, which must neither pin nor allocate.
    pub fn peek(&self) -> NonNull<()> {
        // SeqCst: as `get`'s load; the result is only compared or visited, never cloned here.
        let ptr = self.ptr.load(Ordering::SeqCst);
        // SAFETY: the slot never holds null: `new` and every store take `into_raw` pointers,
        // which `Handle` promises are non-null.
        unsafe { NonNull::new_unchecked(ptr) }
    }

    /// A new reference to the current object. Wait-free.
    pub fn get(&self) -> H {
        reclaim::pinned(|_guard| self.load_clone())
    }

    /// The body of [`AtomicRef::get`]; the caller is pinned.
    fn load_clone(&self) -> H {
        // The Acquire half pairs with the Release half of the swap/CAS that stored the pointer,
        // so the object's contents written before publication are visible to the clone.
        // SeqCst: that Acquire, plus the single total order of lockless atomics (module docs).
        let ptr = self.ptr.load(Ordering::SeqCst);
        // SAFETY: non-null by the slot invariant (see `peek`). The object is alive: the slot
        // owned a reference when we loaded it, and whoever unlinks it defers that release
        // through the epoch, which cannot run while our guard is pinned.
        unsafe { H::clone_raw(NonNull::new_unchecked(ptr)) }
    }

    /// Replaces the object; the old one is released once no reader can still see it.
    /// Wait-free.
    pub fn set(&self, value: H) {
        // The old pointer's release is already deferred; we need nothing else from it.
        reclaim::pinned(|guard| {
            let _ = self.swap_raw(value, guard);
        });
    }

    /// Replaces the object and returns (a new reference to) the old one. Wait-free.
    pub fn swap(&self, value: H) -> H {
        reclaim::pinned(|guard| {
            let old = self.swap_raw(value, guard);
            // SAFETY: `old` was just unlinked and its release deferred through the epoch; we
            // are pinned by `guard`, so it is alive now.
            unsafe { H::clone_raw(old) }
        })
    }

    /// Swaps in `value`, defers the release of the old pointer, and returns the old pointer
    /// (alive while `guard` is held).
    fn swap_raw(&self, value: H, guard: &reclaim::Guard) -> NonNull<()> {
        // The Release half publishes the new object's contents to readers' Acquire loads in
        // `get`; the Acquire half makes the old object's contents visible for our clone.
        // SeqCst: that Release/Acquire pair, plus the single total order (module docs).
        let old = self.ptr.swap(value.into_raw().as_ptr(), Ordering::SeqCst);
        // SAFETY: non-null by the slot invariant.
        let old = unsafe { NonNull::new_unchecked(old) };
        // SAFETY: the slot's reference to `old` is ours now that the swap unlinked it; no
        // shared slot points to it any more, and we never use that reference again.
        unsafe { reclaim::defer_release::<H>(guard, old) };
        old
    }

    /// Stores `desired` if the slot holds exactly the object at `expected` (identity: the
    /// address is compared, never dereferenced). On failure hands `desired` back. Wait-free.
    pub fn compare_and_set(&self, expected: NonNull<()>, desired: H) -> Result<(), H> {
        self.compare_exchange(expected, desired).map(drop).map_err(|(_, desired)| desired)
    }

    /// Stores `desired` if the slot holds exactly the object at `expected` (identity).
    /// Returns `Ok(old)` with a reference to the object replaced, or `Err((found, desired))`
    /// with a reference to the object found and `desired` handed back. Wait-free.
    pub fn compare_exchange(&self, expected: NonNull<()>, desired: H) -> Result<H, (H, H)> {
        reclaim::pinned(|guard| self.compare_exchange_pinned(expected, desired, guard))
    }

    /// The body of [`AtomicRef::compare_exchange`], pinned by `guard`.
    fn compare_exchange_pinned(
        &self,
        expected: NonNull<()>,
        desired: H,
        guard: &reclaim::Guard,
    ) -> Result<H, (H, H)> {
        let new = desired.into_raw();
        match self.ptr.compare_exchange(
            expected.as_ptr(),
            new.as_ptr(),
            // (success) Release publishes `desired`'s contents to `get`; Acquire lets us clone
            // the object we replaced.
            // SeqCst (success): that pair, plus the single total order.
            Ordering::SeqCst,
            // SeqCst (failure): Acquire on the object found, which we clone for the caller.
            Ordering::SeqCst,
        ) {
            Ok(old) => {
                // SAFETY: non-null by the slot invariant.
                let old = unsafe { NonNull::new_unchecked(old) };
                // SAFETY: pinned by `guard` and the release below is deferred, so it is alive.
                let out = unsafe { H::clone_raw(old) };
                // SAFETY: our CAS unlinked `old`; its slot reference is ours and unused again.
                unsafe { reclaim::defer_release::<H>(guard, old) };
                Ok(out)
            }
            Err(found) => {
                // SAFETY: non-null by the slot invariant; the slot owned a reference when we
                // read it and any unlink of it is deferred past our pin.
                let found = unsafe { H::clone_raw(NonNull::new_unchecked(found)) };
                // SAFETY: `new` came from `into_raw` just above and was never published.
                let desired = unsafe { H::from_raw(new) };
                Err((found, desired))
            }
        }
    }

    /// Replaces the object without deferring the old one's release, returning the slot's
    /// reference to it. For a collector clearing an unreachable object.
    ///
    /// # Safety
    /// No other thread may access this `AtomicRef` during the call, and no thread may be
    /// between loading the old pointer and cloning it (for example: the object that contains
    /// this `AtomicRef` is unreachable, so nothing can be calling a method on it).
    pub unsafe fn replace_exclusive(&self, value: H) -> H {
        // SeqCst: as in `swap_raw`; exclusivity is the caller's promise, not the ordering's.
        let old = self.ptr.swap(value.into_raw().as_ptr(), Ordering::SeqCst);
        // SAFETY: non-null by the slot invariant; the slot's reference is handed to the caller,
        // and by the caller's promise no reader can still clone `old` from the slot.
        unsafe { H::from_raw(NonNull::new_unchecked(old)) }
    }

    /// Replaces the object through exclusive access, returning the old one. No deferral is
    /// needed: `&mut self` proves no reader is in the middle of a `get`.
    pub fn replace_mut(&mut self, value: H) -> H {
        // SAFETY: `&mut self` gives exactly the exclusivity `replace_exclusive` requires.
        unsafe { self.replace_exclusive(value) }
    }
}

impl<H: Handle> Drop for AtomicRef<H> {
    fn drop(&mut self) {
        let ptr = self.peek();
        // SAFETY: `&mut self`: no reader can be cloning from the slot, so the slot's reference
        // can be released now; the slot is never read again.
        unsafe { H::release(ptr) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::engine::reclaim::pin;
    use std::sync::atomic::{AtomicUsize, Ordering as O};
    use std::sync::{Arc, Barrier};

    /// A value that counts its drops and says whether it is still alive.
    struct Tracked {
        id: usize,
        alive: std::sync::atomic::AtomicBool,
        drops: Arc<AtomicUsize>,
    }

    impl Tracked {
        fn new(id: usize, drops: &Arc<AtomicUsize>) -> Arc<Self> {
            Arc::new(Self {
                id,
                alive: true.into(),
                drops: Arc::clone(drops),
            })
        }
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            // SeqCst: test bookkeeping; pairs with the load in `is_alive`.
            self.alive.store(false, O::SeqCst);
            // SeqCst: test bookkeeping; pairs with the load in `dropped`.
            self.drops.fetch_add(1, O::SeqCst);
        }
    }

    /// How many `Tracked` values have been dropped.
    fn dropped(drops: &AtomicUsize) -> usize {
        // SeqCst: pairs with the increment in `Tracked::drop`.
        drops.load(O::SeqCst)
    }

    /// Whether `t` has not been dropped (a reader holding a released object would see false).
    fn is_alive(t: &Tracked) -> bool {
        // SeqCst: pairs with the store in `Tracked::drop`.
        t.alive.load(O::SeqCst)
    }

    /// Pins and flushes until `done()` or a generous bound: deferred releases run only once
    /// the epoch advances, which needs pins (other tests may be pinned meanwhile).
    fn drive_epoch_until(done: impl Fn() -> bool) -> bool {
        for _ in 0..1_000_000 {
            if done() {
                return true;
            }
            pin().flush();
        }
        done()
    }

    fn ptr_of(a: &Arc<Tracked>) -> NonNull<()> {
        NonNull::from(&**a).cast()
    }

    #[test]
    fn get_set_swap_and_identity_cas() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (a, b, c) = (
            Tracked::new(1, &drops),
            Tracked::new(2, &drops),
            Tracked::new(3, &drops),
        );
        let r = AtomicRef::new(Arc::clone(&a));
        assert_eq!(r.get().id, 1);
        assert!(r.compare_and_set(ptr_of(&b), Arc::clone(&c)).is_err());
        assert!(r.compare_and_set(ptr_of(&a), Arc::clone(&b)).is_ok());
        assert_eq!(r.get().id, 2);
        match r.compare_exchange(ptr_of(&a), Arc::clone(&c)) {
            Err((found, back)) => assert_eq!((found.id, back.id), (2, 3)),
            Ok(_) => panic!("CAS from a stale expected value must fail"),
        }
        assert_eq!(r.swap(Arc::clone(&c)).id, 2);
        r.set(Arc::clone(&a));
        assert_eq!(r.peek(), ptr_of(&a));
        drop(r);
        drop((a, b, c));
        assert!(
            drive_epoch_until(|| dropped(&drops) == 3),
            "every object dropped once"
        );
        assert_eq!(dropped(&drops), 3);
    }

    #[test]
    fn replace_mut_returns_the_old_object() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut r = AtomicRef::new(Tracked::new(1, &drops));
        let old = r.replace_mut(Tracked::new(2, &drops));
        assert_eq!(old.id, 1);
        drop(old);
        assert_eq!(dropped(&drops), 1);
        drop(r);
        assert_eq!(dropped(&drops), 2);
    }

    #[test]
    fn concurrent_cas_from_one_expected_object_has_exactly_one_winner() {
        const THREADS: usize = 6;
        let drops = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let first = Tracked::new(0, &drops);
            let r = Arc::new(AtomicRef::new(Arc::clone(&first)));
            let barrier = Arc::new(Barrier::new(THREADS));
            let handles: Vec<_> = (1..=THREADS)
                .map(|i| {
                    let (r, barrier, first, drops) = (
                        Arc::clone(&r),
                        Arc::clone(&barrier),
                        Arc::clone(&first),
                        Arc::clone(&drops),
                    );
                    std::thread::spawn(move || {
                        let mine = Tracked::new(i, &drops);
                        barrier.wait();
                        r.compare_and_set(ptr_of(&first), mine).is_ok()
                    })
                })
                .collect();
            let wins = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|&w| w)
                .count();
            assert_eq!(wins, 1);
            assert_ne!(r.get().id, 0);
        }
    }

    #[test]
    fn readers_racing_writers_only_see_live_objects_some_writer_set() {
        const WRITERS: usize = 2;
        const READERS: usize = 2;
        const WRITES: usize = 20_000;
        let drops = Arc::new(AtomicUsize::new(0));
        let r = Arc::new(AtomicRef::new(Tracked::new(usize::MAX, &drops)));
        let barrier = Arc::new(Barrier::new(WRITERS + READERS));
        let mut handles = Vec::new();
        for w in 0..WRITERS {
            let (r, barrier, drops) = (Arc::clone(&r), Arc::clone(&barrier), Arc::clone(&drops));
            handles.push(std::thread::spawn(move || {
                barrier.wait();
                for i in 0..WRITES {
                    // Writer w writes ids congruent to w modulo WRITERS.
                    r.set(Tracked::new(i * WRITERS + w, &drops));
                }
            }));
        }
        for _ in 0..READERS {
            let (r, barrier) = (Arc::clone(&r), Arc::clone(&barrier));
            handles.push(std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..WRITES {
                    let seen = r.get();
                    assert!(is_alive(&seen), "a reader saw a dropped object");
                    assert!(seen.id == usize::MAX || seen.id < WRITES * WRITERS);
                }
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
        drop(Arc::into_inner(r).expect("all threads joined"));
        let created = 1 + WRITERS * WRITES;
        assert!(drive_epoch_until(|| dropped(&drops) == created));
        assert_eq!(
            dropped(&drops),
            created,
            "every object released exactly once"
        );
    }
}
