//! The engine: pure Rust, no PyO3.
//!
//! * [`reclaim`]: the crate's epoch collector and the [`reclaim::Handle`] trait for the
//!   reference-counted pointers (Arc in Rust, PyObject in the binding) the engine stores.
//! * [`dict`]: the lock-free, insertion-ordered hash table behind `AtomicDict`.
//! * [`set`]: that table holding keys only, behind `AtomicSet`.
//! * [`counter_dict`]: that table holding `i64` counts in its value words, behind
//!   `AtomicCounterDict`.
//! * [`atomic_int`], [`atomic_ref`], [`counter`]: the scalar atomics.
//! * [`queue`]: the MPMC FIFO behind `AtomicQueue`, with its futex-based wake-up protocol.

pub mod atomic_int;
pub mod atomic_ref;
pub mod counter;
pub mod counter_dict;
pub mod dict;
pub mod queue;
pub mod reclaim;
pub mod set;
