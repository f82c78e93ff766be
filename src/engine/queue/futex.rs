//! Sleeping on a 32-bit word until another thread wakes the sleepers of that word (a futex).
//!
//! # The contract
//! * [`wait`]`(word, expected, timeout)` sleeps only if `word` still holds `expected` when the
//!   sleep begins (checked atomically with going to sleep), and returns when woken by [`wake`],
//!   when the timeout passes, when a signal arrives, or spuriously. The caller re-checks
//!   whatever it waits for after every return.
//! * [`wake`]`(word, n)` wakes up to `n` threads sleeping on `word`.
//!
//! So a waker that changes the word before calling [`wake`] can never miss a sleeper: either
//! the sleeper's check sees the new value and it does not sleep, or it was asleep already and
//! is woken.
//!
//! # Implementations
//! * Linux: the `futex` system call (`FUTEX_WAIT` / `FUTEX_WAKE`, process-private). The kernel
//!   keeps the sleepers; nothing is allocated and no lock is taken in user space. A signal
//!   interrupts the sleep (`EINTR`), so a blocked call on the main thread can raise
//!   KeyboardInterrupt at once.
//! * Other platforms: a bounded nap ([`FALLBACK_NAP`]) after checking the word, and a `wake`
//!   that does nothing. Correct (callers re-check), lock-free, but a wake-up can take up to one
//!   nap.
//! * Under loom: a model of the kernel's futex (a loom `Mutex` standing in for the kernel's own
//!   hash-bucket lock, and loom's park/unpark for sleeping), so that the models explore exactly
//!   the interleavings the real system call allows. A timed wait is modelled as one that may
//!   return at once, as a timeout that expires immediately would.

#[cfg(not(loom))]
use std::time::Duration;

#[cfg(not(loom))]
use crate::sync::AtomicU32;

/// Upper bound on one sleep where the platform has no futex.
#[cfg(not(any(target_os = "linux", loom)))]
pub const FALLBACK_NAP: Duration = Duration::from_micros(500);

/// Sleeps while `word` holds `expected`, for at most `timeout` (forever if `None`); see the
/// module docs for when it returns.
#[cfg(all(target_os = "linux", not(loom)))]
pub fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let spec = timeout.map(|d| libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        // Below 10^9, so it fits every platform's c_long.
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let spec_ptr = spec.as_ref().map_or(std::ptr::null(), |s| s as *const libc::timespec);
    // SAFETY: `word` is a live, aligned 32-bit atomic for the duration of the call (the kernel
    // only reads it); `spec_ptr` is null or points to a timespec that outlives the call. The
    // result (woken, value changed, timed out, interrupted) is deliberately ignored: every
    // caller re-checks its condition after any return.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            spec_ptr,
        );
    }
}

/// Wakes up to `n` threads sleeping in [`wait`] on `word`.
#[cfg(all(target_os = "linux", not(loom)))]
pub fn wake(word: &AtomicU32, n: u32) {
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    // SAFETY: `word` is a live, aligned 32-bit atomic; FUTEX_WAKE does not dereference the
    // remaining arguments.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, n);
    }
}

/// Sleeps briefly if `word` holds `expected` (no futex on this platform: see the module docs).
#[cfg(not(any(target_os = "linux", loom)))]
pub fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    // Relaxed: a hint only; the caller re-checks its condition after we return.
    if word.load(crate::sync::Ordering::Relaxed) == expected {
        std::thread::sleep(timeout.map_or(FALLBACK_NAP, |t| t.min(FALLBACK_NAP)));
    }
}

/// Nothing to do where [`wait`] naps rather than sleeps until woken.
#[cfg(not(any(target_os = "linux", loom)))]
pub fn wake(_word: &AtomicU32, _n: u32) {}

#[cfg(loom)]
pub use model::{wait, wake};

/// The kernel's futex as loom sees it.
#[cfg(loom)]
mod model {
    use std::time::Duration;

    use loom::sync::atomic::AtomicBool;
    use loom::sync::{Arc, Mutex};
    use loom::thread::{self, Thread};

    use crate::sync::{AtomicU32, Ordering};

    /// One sleeping thread: the word it sleeps on, and how to wake it.
    struct Sleeper {
        word: usize,
        thread: Thread,
        woken: Arc<AtomicBool>,
    }

    loom::lazy_static! {
        /// The kernel's table of sleepers; the Mutex stands for the kernel's bucket lock.
        static ref SLEEPERS: Mutex<Vec<Sleeper>> = Mutex::new(Vec::new());
    }

    pub fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let woken = Arc::new(AtomicBool::new(false));
        {
            let mut sleepers = SLEEPERS.lock().unwrap();
            // SeqCst: the kernel reads the word under its bucket lock, after a full barrier.
            if word.load(Ordering::SeqCst) != expected || timeout.is_some() {
                // A timed wait is modelled as one whose timeout expires at once.
                return;
            }
            sleepers.push(Sleeper {
                word: word as *const AtomicU32 as usize,
                thread: thread::current(),
                woken: woken.clone(),
            });
        }
        // SeqCst: model bookkeeping, set under the lock by `wake`.
        while !woken.load(Ordering::SeqCst) {
            thread::park();
        }
    }

    pub fn wake(word: &AtomicU32, n: u32) {
        let addr = word as *const AtomicU32 as usize;
        let mut sleepers = SLEEPERS.lock().unwrap();
        let mut left = n;
        sleepers.retain(|s| {
            if left == 0 || s.word != addr {
                return true;
            }
            left -= 1;
            // SeqCst: model bookkeeping, read by the sleeper's park loop.
            s.woken.store(true, Ordering::SeqCst);
            s.thread.unpark();
            false
        });
    }
}
