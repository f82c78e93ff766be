//! lockless: lock-free concurrent collections for free-threaded Python.
//!
//! The crate has two layers:
//!
//! * [`engine`]: pure Rust, never uses PyO3. The lock-free hash table ([`engine::dict`]),
//!   the atomics, and epoch-based reclamation ([`engine::reclaim`]). Tested with proptest,
//!   loom and stress tests; benchmarked with criterion (`cargo test --no-default-features`).
//! * `python` (feature `python`, on by default): thin PyO3 bindings that convert arguments,
//!   call one engine operation and convert the result. Built by maturin as
//!   `lockless._lockless`.
//!
//! See `docs/design.md` for the algorithm and `docs/consistency.md` for the guarantees.

pub mod engine;
pub(crate) mod sync;

#[cfg(feature = "python")]
mod python;
