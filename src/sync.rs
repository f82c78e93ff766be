//! The one place atomics and epoch types are imported from: std and crossbeam normally, loom's
//! model-checked versions under `--cfg loom --cfg crossbeam_loom`.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU16, AtomicU64, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU16, AtomicU64, AtomicUsize, Ordering};

// The queue's wake-up protocol (src/engine/queue) also needs 32-bit atomics (a futex word), and
// fences (the queue's under loom; reclamation's check that a thread is alone, always).
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32};
