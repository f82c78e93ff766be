//! `lockless.AtomicQueue`: a lock-free MPMC FIFO with `queue.Queue`'s interface (engine:
//! `engine::queue`).
//!
//! Items are `Py<PyAny>`: a put moves a strong reference into the queue and a get moves it out,
//! so no reference is ever shared between threads and nothing needs the epoch. Every method
//! runs attached, so an item dropped here (a discarded one, or the queue's own at deallocation)
//! is decref'd at once. Blocking calls sleep detached from the interpreter, in slices on the
//! main thread so that Ctrl-C is seen even if the signal went to another thread.

use std::cell::Cell;
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyGenericAlias, PyType};
use pyo3::{PyTraverseError, PyVisit};

use crate::engine::queue::{AtomicQueue, GetError, PutError, Sleep, SPIN_TRIES};
use crate::python::fastcall::{fallback_slot, FastMethod};

/// A lock-free multi-producer multi-consumer FIFO queue with `queue.Queue`'s interface.
#[pyclass(name = "AtomicQueue", module = "lockless", frozen, weakref)]
pub(crate) struct PyAtomicQueue {
    /// Boxed: the queue's cache-padded counters ask for 128-byte alignment, which the heap
    /// gives and CPython's object allocator (16 bytes) does not.
    inner: Box<AtomicQueue<Py<PyAny>>>,
    /// The `maxsize` argument as given (`queue.Queue.maxsize` keeps it too, even if negative).
    maxsize: i64,
}

/// A boolean argument taken by truth value, as `queue.Queue` takes `block` and `immediate`.
struct Truthy(bool);

impl<'a, 'py> FromPyObject<'a, 'py> for Truthy {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Truthy(obj.is_truthy()?))
    }
}

// --- the stdlib's exceptions --------------------------------------------------------------------

static EMPTY: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static FULL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SHUT_DOWN: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn empty(py: Python<'_>) -> PyErr {
    match EMPTY.import(py, "queue", "Empty") {
        Ok(ty) => PyErr::from_type(ty.clone(), ()),
        Err(e) => e,
    }
}

fn full(py: Python<'_>) -> PyErr {
    match FULL.import(py, "queue", "Full") {
        Ok(ty) => PyErr::from_type(ty.clone(), ()),
        Err(e) => e,
    }
}

/// The class of [`shut_down`]'s error, exported as `lockless.ShutDown`: `queue.ShutDown`
/// (Python 3.13+); before 3.13, a class of our own of the same name.
pub(crate) fn shut_down_type(py: Python<'_>) -> PyResult<&Py<PyType>> {
    SHUT_DOWN.get_or_try_init(py, || -> PyResult<Py<PyType>> {
        let queue = py.import("queue")?;
        match queue.getattr("ShutDown") {
            Ok(ty) => Ok(ty.cast_into::<PyType>()?.unbind()),
            Err(_) => Ok(PyErr::new_type(
                py,
                c"lockless.ShutDown",
                Some(c"Raised by put and get on a shut-down AtomicQueue (queue.ShutDown from Python 3.13)."),
                Some(&py.get_type::<PyException>()),
                None,
            )?),
        }
    })
}

/// The error of a put or get refused after shutdown.
fn shut_down(py: Python<'_>) -> PyErr {
    match shut_down_type(py) {
        Ok(ty) => PyErr::from_type(ty.bind(py).clone(), ()),
        Err(e) => e,
    }
}

fn put_error(py: Python<'_>, err: &PutError<Py<PyAny>>) -> PyErr {
    match err {
        PutError::Full(_) => full(py),
        PutError::ShutDown(_) => shut_down(py),
    }
}

fn get_error(py: Python<'_>, err: GetError) -> PyErr {
    match err {
        GetError::Empty => empty(py),
        GetError::ShutDown => shut_down(py),
    }
}

// --- sleeping -----------------------------------------------------------------------------------

/// How long the main thread sleeps at most between checks for signals. A signal delivered to
/// the main thread interrupts the sleep at once; this bounds the wait when it went elsewhere.
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// Whether this is the interpreter's main thread (the one that runs signal handlers); computed
/// once per thread. Asking runs Python code, where a pending signal's handler may run and raise
/// (KeyboardInterrupt): that error is the blocking call's, not swallowed, or the interrupt
/// would be lost and the call would sleep on.
fn is_main_thread(py: Python<'_>) -> PyResult<bool> {
    std::thread_local! {
        static MAIN: Cell<Option<bool>> = const { Cell::new(None) };
    }
    if let Ok(Some(known)) = MAIN.try_with(Cell::get) {
        return Ok(known);
    }
    let threading = py.import("threading")?;
    let ident = threading.call_method0("get_ident")?;
    let main_ident = threading.call_method0("main_thread")?.getattr("ident")?;
    let main = ident.eq(main_ident)?;
    let _ = MAIN.try_with(|m| m.set(Some(main)));
    Ok(main)
}

/// The engine's `sleep` callback: sleep detached from the interpreter (so other threads and the
/// garbage collector run), then let pending signal handlers run; KeyboardInterrupt (or any
/// exception a handler raises) ends the call.
fn sleeper(py: Python<'_>) -> PyResult<impl FnMut(&Sleep<'_>) -> PyResult<()> + '_> {
    let slice = is_main_thread(py)?.then_some(SIGNAL_SLICE);
    Ok(move |sleep: &Sleep<'_>| {
        py.detach(|| sleep.wait(slice));
        py.check_signals()
    })
}

/// The deadline of a blocking call with a non-negative `timeout`: none if None, or if the
/// timeout is too large (or not a number) to be represented.
fn deadline(timeout: Option<f64>) -> Option<Instant> {
    let t = timeout?;
    Duration::try_from_secs_f64(t).ok().and_then(|d| Instant::now().checked_add(d))
}

fn negative_timeout() -> PyErr {
    PyValueError::new_err("'timeout' must be a non-negative number")
}

/// Whether this interpreter runs with a GIL (always before 3.13; on 3.13t, if it was turned
/// back on); checked once.
fn gil_enabled(py: Python<'_>) -> bool {
    static GIL: PyOnceLock<bool> = PyOnceLock::new();
    *GIL.get_or_init(py, || {
        py.import("sys")
            .and_then(|sys| sys.getattr("_is_gil_enabled"))
            .and_then(|f| f.call0())
            .and_then(|r| r.is_truthy())
            .unwrap_or(true)
    })
}

// --- the class ----------------------------------------------------------------------------------

impl PyAtomicQueue {
    fn put_impl(&self, py: Python<'_>, item: &Bound<'_, PyAny>, block: bool, timeout: Option<f64>) -> PyResult<()> {
        // queue.Queue looks at the timeout only for a blocking put on a bounded queue, and
        // only after checking for shutdown.
        let bounded_block = block && self.inner.maxsize() > 0;
        if bounded_block && timeout.is_some_and(|t| t < 0.0) {
            return Err(if self.inner.is_shutdown() { shut_down(py) } else { negative_timeout() });
        }
        let done = match self.inner.put_nowait(item.clone().unbind()) {
            Err(PutError::Full(item)) if bounded_block => {
                let deadline = deadline(timeout);
                match self.inner.put(item, deadline, sleeper(py)?) {
                    Ok(done) => done,
                    Err((err, _item)) => return Err(err),
                }
            }
            done => done,
        };
        done.map_err(|e| put_error(py, &e))
    }

    fn get_impl<'py>(&self, py: Python<'py>, block: bool, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        // queue.Queue answers ShutDown for a shut-down empty queue, then looks at the timeout
        // of a blocking get.
        if block && timeout.is_some_and(|t| t < 0.0) {
            return Err(if self.inner.is_shutdown() && self.inner.is_empty() { shut_down(py) } else { negative_timeout() });
        }
        let got = match self.inner.get_nowait() {
            // The common case, before anything else is computed.
            Ok(item) => return Ok(item.into_bound(py)),
            Err(GetError::Empty) if block => self.inner.get(deadline(timeout), sleeper(py)?)?,
            Err(e) => Err(e),
        };
        got.map(|item| item.into_bound(py)).map_err(|e| get_error(py, e))
    }

    /// Removes every item and releases them, after the queue is done with them.
    fn release_all(&self, py: Python<'_>) {
        let mut items = Vec::new();
        self.inner.drain(|item| items.push(item));
        drop(items); // decrefs here, attached, after the engine call: __del__ may re-enter
        let _ = py;
    }
}

#[pymethods]
impl PyAtomicQueue {
    #[new]
    #[pyo3(signature = (maxsize = 0))]
    fn new(py: Python<'_>, maxsize: i64) -> Self {
        let bound = usize::try_from(maxsize).unwrap_or(0);
        // Spinning before sleeping helps only when the other side runs meanwhile: not while
        // the spinner holds a GIL.
        let tries = if gil_enabled(py) { 0 } else { SPIN_TRIES };
        Self { inner: Box::new(AtomicQueue::with_spin_tries(bound, tries)), maxsize }
    }

    /// The bound given at construction; 0 or less means unbounded.
    #[getter]
    fn maxsize(&self) -> i64 {
        self.maxsize
    }

    /// Items put and not yet marked done with task_done().
    #[getter]
    fn unfinished_tasks(&self) -> u64 {
        self.inner.unfinished_tasks()
    }

    /// Whether shutdown() has been called.
    #[getter]
    fn is_shutdown(&self) -> bool {
        self.inner.is_shutdown()
    }

    /// Puts `item` at the tail. Lock-free on a queue with room; blocks (detached) while a
    /// bounded queue is full, at most `timeout` seconds (then Full). Without `block`, Full at
    /// once. ShutDown after shutdown().
    #[pyo3(signature = (item, block = Truthy(true), timeout = None),
           text_signature = "($self, item, block=True, timeout=None)")]
    fn put(&self, py: Python<'_>, item: &Bound<'_, PyAny>, block: Truthy, timeout: Option<f64>) -> PyResult<()> {
        self.put_impl(py, item, block.0, timeout)
    }

    /// Puts `item` if there is room now; otherwise Full. Lock-free.
    fn put_nowait(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<()> {
        self.put_impl(py, item, false, None)
    }

    /// Removes and returns the item at the head. Lock-free on a non-empty queue; blocks
    /// (detached) while empty, at most `timeout` seconds (then Empty). Without `block`, Empty
    /// at once. ShutDown once shut down and empty.
    #[pyo3(signature = (block = Truthy(true), timeout = None),
           text_signature = "($self, block=True, timeout=None)")]
    fn get<'py>(&self, py: Python<'py>, block: Truthy, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        self.get_impl(py, block.0, timeout)
    }

    /// Removes and returns the item at the head if there is one now; otherwise Empty.
    /// Lock-free.
    fn get_nowait<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.get_impl(py, false, None)
    }

    /// The number of items (exact when no put or get runs at the same time).
    fn qsize(&self) -> usize {
        self.inner.qsize()
    }

    /// Whether the queue holds no item (may change at once).
    fn empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Whether a bounded queue holds maxsize items (may change at once).
    fn full(&self) -> bool {
        self.inner.is_full()
    }

    /// Marks one task (an item got earlier) done. ValueError if called more times than items
    /// were put.
    fn task_done(&self) -> PyResult<()> {
        self.inner
            .task_done()
            .map_err(|_| PyValueError::new_err("task_done() called too many times"))
    }

    /// Blocks (detached) until every item put has been marked done with task_done().
    fn join(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.join(sleeper(py)?)
    }

    /// Shuts the queue down: puts raise ShutDown; gets raise ShutDown once the queue is empty
    /// (at once with `immediate`, which removes the items left and marks their tasks done).
    /// Wakes every blocked caller.
    #[pyo3(signature = (immediate = Truthy(false)), text_signature = "($self, immediate=False)")]
    fn shutdown(&self, py: Python<'_>, immediate: Truthy) {
        let mut discarded = Vec::new();
        self.inner.shutdown(immediate.0, |item| discarded.push(item));
        drop(discarded); // released after the engine call (a __del__ may use the queue)
        let _ = py;
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let name = slf.get_type().qualname()?;
        let q = slf.get();
        Ok(format!("<{name} maxsize={} qsize={}>", q.maxsize, q.inner.qsize()))
    }

    /// Not picklable, like queue.Queue (its items belong to the threads that use it).
    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err("cannot pickle 'AtomicQueue' object"))
    }

    /// `AtomicQueue[T]`, for type annotations.
    #[classmethod]
    fn __class_getitem__<'py>(cls: &Bound<'py, PyType>, item: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyGenericAlias>> {
        PyGenericAlias::new(cls.py(), cls.as_any(), item)
    }

    /// Visits every item, by rotating the queue once (see `AtomicQueue::rotate`). Touches no
    /// reference count and runs no Python code.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        let mut result = Ok(());
        self.inner.rotate(|item| {
            if result.is_ok() {
                result = visit.call(item);
            }
        });
        result
    }

    /// Removes and releases every item (the collector breaking a cycle). Idempotent.
    fn __clear__(&self, py: Python<'_>) {
        self.release_all(py);
    }
}

impl Drop for PyAtomicQueue {
    fn drop(&mut self) {
        // Deallocation runs attached: release the items now (their __del__s run here).
        Python::attach(|py| self.release_all(py));
    }
}

// --- fast paths for put(item) and get() ---------------------------------------------------------

/// `q.put(item)`: one positional argument, block=True, no timeout.
pub(crate) struct FastPut;

impl FastMethod for FastPut {
    const NAME: &'static std::ffi::CStr = c"put";

    fallback_slot!();

    fn call<'py>(slf: &Bound<'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<PyResult<Bound<'py, PyAny>>> {
        let [item] = args else { return None };
        // SAFETY: the method descriptor only calls us with instances of AtomicQueue.
        let q = unsafe { slf.cast_unchecked::<PyAtomicQueue>() };
        let py = slf.py();
        Some(q.get().put_impl(py, item, true, None).map(|()| py.None().into_bound(py)))
    }

    /// A put that finds room (and no shutdown); a full or shut-down queue is left to `call`.
    fn direct<'py>(slf: Borrowed<'_, 'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<*mut pyo3::ffi::PyObject> {
        let [item] = args else { return None };
        // SAFETY: the method descriptor only calls us with instances of AtomicQueue.
        let q = unsafe { slf.cast_unchecked::<PyAtomicQueue>() };
        match q.get().inner.put_nowait((**item).clone().unbind()) {
            Ok(()) => Some(crate::python::fastcall::none()),
            Err(refused) => {
                // The reference taken above, given up without dropping a `Py` (see `direct`).
                // SAFETY: attached; we own this reference and never use it again.
                unsafe { pyo3::ffi::Py_DecRef(refused.into_inner().into_ptr()) };
                None
            }
        }
    }
}

/// `q.get()`: no arguments, block=True, no timeout.
pub(crate) struct FastGet;

impl FastMethod for FastGet {
    const NAME: &'static std::ffi::CStr = c"get";

    fallback_slot!();

    fn call<'py>(slf: &Bound<'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<PyResult<Bound<'py, PyAny>>> {
        if !args.is_empty() {
            return None;
        }
        // SAFETY: the method descriptor only calls us with instances of AtomicQueue.
        let q = unsafe { slf.cast_unchecked::<PyAtomicQueue>() };
        Some(q.get().get_impl(slf.py(), true, None))
    }

    /// A get that finds an item; an empty or shut-down queue is left to `call`.
    fn direct<'py>(slf: Borrowed<'_, 'py, PyAny>, args: &[Borrowed<'_, 'py, PyAny>]) -> Option<*mut pyo3::ffi::PyObject> {
        if !args.is_empty() {
            return None;
        }
        // SAFETY: the method descriptor only calls us with instances of AtomicQueue.
        let q = unsafe { slf.cast_unchecked::<PyAtomicQueue>() };
        q.get().inner.get_nowait().ok().map(Py::into_ptr)
    }
}
