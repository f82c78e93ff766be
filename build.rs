//! With the `python` feature: PyO3's configuration cfgs (`Py_3_12`, `Py_GIL_DISABLED`, ...) for
//! the interpreter being built for, so that `src/python/key.rs` can read an int's compact
//! representation where CPython has one (3.12 and later). The engine alone needs nothing.

fn main() {
    #[cfg(feature = "python")]
    pyo3_build_config::use_pyo3_cfgs();
}
