# lockless — build and test.
#
#   make test    everything CI runs: engine tests, both Python builds, GIL check, a pass under
#                pytest-run-parallel, the wheels and the sdist installed and tested
#   make wheel   portable wheels (manylinux2014) for 3.13t and for python3, in dist/
#   make sdist   the source distribution, in dist/
#   make demo    threads incrementing an int vs AtomicInt vs AtomicCounter
#   make clean   removes build output and the venvs
#
# .venv      free-threaded CPython 3.13t (from scripts/python-ft, built and cached if needed)
# .venv-gil  the machine's python3 (a GIL build), for the compatibility run
#
# Each venv gets its own cargo target directory, so building for one interpreter does not
# invalidate the other's PyO3 build. Stamp files keep reruns fast: a venv is created only if
# missing, and the extension is rebuilt only when a source file changed.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test
.ONESHELL:

VENV_FT   := .venv
VENV_GIL  := .venv-gil
# hypothesis>=6.140 and mypy>=2 (its ast-serialize needs a PyO3 without 3.13t support) do not
# install on the free-threaded 3.13 here. pytest-run-parallel is pinned: `make test-parallel`
# depends on its command line and its marker.
PARALLEL_DEP := 'pytest-run-parallel==0.10.0'
TEST_DEPS := pytest 'hypothesis<6.140' $(PARALLEL_DEP)
PY_DEPS   := maturin $(TEST_DEPS) 'mypy<2'
SOURCES   := Cargo.toml pyproject.toml $(shell find src python -type f \( -name '*.rs' -o -name '*.py' -o -name '*.pyi' \) 2>/dev/null)
ROOT      := $(CURDIR)
TARGET    := $(or $(CARGO_TARGET_DIR),$(ROOT)/target)

.PHONY: test test-rust test-lint test-loom test-py test-py-ft test-py-gil test-gil-disabled test-types \
        test-parallel test-wheel test-sdist test-artefacts suite-wheel-ft suite-wheel-gil suite-sdist \
        wheel wheel-ft wheel-gil sdist build build-ft build-gil venvs demo clean bench-rust

test: test-rust test-lint test-loom test-py test-gil-disabled test-types test-parallel test-artefacts test-bench
	@echo "make test: all green"

# --- venvs --------------------------------------------------------------------------------------

$(VENV_FT)/.deps-stamp:
	py=$$(scripts/python-ft)
	[ -x $(VENV_FT)/bin/python ] || "$$py" -m venv $(VENV_FT)
	$(VENV_FT)/bin/python -c 'import sysconfig, sys; sys.exit(0 if sysconfig.get_config_var("Py_GIL_DISABLED") else "$(VENV_FT) is not free-threaded: rm -rf $(VENV_FT) and rerun")'
	$(VENV_FT)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_FT)/bin/python -m pip install --quiet $(PY_DEPS)
	touch $@

$(VENV_GIL)/.deps-stamp:
	[ -x $(VENV_GIL)/bin/python ] || python3 -m venv $(VENV_GIL)
	$(VENV_GIL)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_GIL)/bin/python -m pip install --quiet $(PY_DEPS)
	touch $@

venvs: $(VENV_FT)/.deps-stamp $(VENV_GIL)/.deps-stamp

# --- the extension, built in release mode into each venv ----------------------------------------

# $(call develop,VENV,TARGET-SUBDIR): `maturin develop --release` with VENV activated and PyO3
# pointed at VENV's interpreter.
define develop
	VIRTUAL_ENV=$(ROOT)/$(1) PATH=$(ROOT)/$(1)/bin:$$PATH PYO3_PYTHON=$(ROOT)/$(1)/bin/python \
	CARGO_TARGET_DIR=$(TARGET)/$(2) \
	    $(1)/bin/maturin develop --release --quiet
endef

$(VENV_FT)/.build-stamp: $(VENV_FT)/.deps-stamp $(SOURCES)
	$(call develop,$(VENV_FT),py-ft)
	touch $@

$(VENV_GIL)/.build-stamp: $(VENV_GIL)/.deps-stamp $(SOURCES)
	$(call develop,$(VENV_GIL),py-gil)
	touch $@

build-ft: $(VENV_FT)/.build-stamp
build-gil: $(VENV_GIL)/.build-stamp

# `$(MAKE) $(SIDE_BY_SIDE) a b`: make a and b two at a time, each one's output printed whole
# when it ends. For steps that each keep one core busy, or wait on the network.
SIDE_BY_SIDE := -j2 --output-sync=target --no-print-directory

# Both venvs and both develop builds, side by side: most of a
# build is the lockless crate's one codegen unit and its fat LTO, on one core, and most of a
# venv's set-up is pip waiting on the network. The test targets depend on `build`, not on
# build-ft or build-gil, so that only this sub-make builds them during `make test`. `make test`
# runs its steps in order and overlaps these pairs (and the artefact passes) itself: run it
# without -j.
build:
	$(MAKE) $(SIDE_BY_SIDE) build-ft build-gil

# --- tests --------------------------------------------------------------------------------------

# The engine alone (no PyO3), which also proves src/engine never uses PyO3.
test-rust:
	cargo test --no-default-features

# The engine's lints (undocumented unsafe blocks, missing # Safety docs) as errors, in the
# normal build and in the loom build (its own cfg and target directory, as scripts/loom-test).
test-lint:
	cargo clippy --no-default-features --lib --tests -- -D warnings
	RUSTFLAGS="--cfg loom --cfg crossbeam_loom" CARGO_TARGET_DIR="$${LOOM_TARGET_DIR:-$(ROOT)/target/loom}" \
	    cargo clippy --no-default-features --lib --tests -- -D warnings

# Loom models, when the script for them exists.
test-loom:
	if [ -x scripts/loom-test ]; then scripts/loom-test; fi

test-py: test-py-ft test-py-gil

test-py-ft: build
	$(VENV_FT)/bin/python -m pytest -W error -q

test-py-gil: build
	$(VENV_GIL)/bin/python -m pytest -W error -q

# Importing lockless must not re-enable the GIL on the free-threaded build.
test-gil-disabled: build
	$(VENV_FT)/bin/python -c 'import sys, lockless; sys.exit("error: importing lockless re-enabled the GIL" if sys._is_gil_enabled() else print("GIL stays disabled after import lockless"))'

# The stubs type-check, and so does typed code that uses them.
test-types: build
	$(VENV_FT)/bin/python -m mypy --strict python/lockless tests/typing_usage.py

# Every test once more, each run by 4 threads at once (pytest-run-parallel), to flush out state
# that tests share through lockless. Tests that cannot run beside themselves carry the plugin's
# `thread_unsafe(reason=...)` marker, and tests whose copies would share nothing (a subprocess,
# a private dict) its `parallel_threads(1)`; both run in one thread. Hypothesis takes a tenth of
# its examples (LOCKLESS_QUICK=1): this pass looks for sharing bugs, not for inputs.
test-parallel: build
	$(VENV_FT)/bin/python -c 'import pytest_run_parallel' 2>/dev/null || $(VENV_FT)/bin/python -m pip install --quiet $(PARALLEL_DEP)
	LOCKLESS_QUICK=1 $(VENV_FT)/bin/python -m pytest -W error -q -p no:cacheprovider --parallel-threads=4

# --- release artefacts: portable wheels and the sdist --------------------------------------------

DIST         := dist
VENV_WHL     := .venv-wheel
VENV_WHL_GIL := .venv-wheel-gil
VENV_SDIST   := .venv-sdist
# Zig (from PyPI's ziglang) links the extension against glibc 2.17's symbols, so the wheels are
# manylinux2014 whatever glibc this machine has; auditwheel checks the tag (scripts/check-wheels).
# Pinned, as maturin drives zig's command line.
WHEEL_TOOLS  := 'ziglang==0.15.2' 'auditwheel==6.8.2'

$(VENV_FT)/.wheel-tools-stamp: $(VENV_FT)/.deps-stamp
	$(VENV_FT)/bin/python -m pip install --quiet $(WHEEL_TOOLS)
	touch $@

# $(call wheel,PYTHON,TARGET-SUBDIR): a stripped release wheel for PYTHON in $(DIST)/. Each
# interpreter has its own target directory, as for `maturin develop`, and the zig build its own
# (it names the target triple, so cargo would not share it with the develop build anyway).
# .venv's bin goes first on PATH, where maturin finds `python -m ziglang`.
define wheel
	PATH=$(ROOT)/$(VENV_FT)/bin:$$PATH PYO3_PYTHON=$(1) CARGO_TARGET_DIR=$(TARGET)/$(2) \
	    $(VENV_FT)/bin/maturin build --release --strip --zig --compatibility manylinux2014 \
	        --quiet --interpreter $(1) --out $(DIST)
endef

# The two wheels: CPython 3.13t (from scripts/python-ft, through .venv) and the machine's
# python3 (a GIL build), each tagged manylinux2014; then their tags, symbols and sizes checked.
# The two builds run side by side: most of each is the lockless crate's one codegen unit and
# its fat LTO, on one core.
wheel: $(VENV_FT)/.wheel-tools-stamp
	mkdir -p $(DIST) && rm -f $(DIST)/*.whl
	$(MAKE) $(SIDE_BY_SIDE) wheel-ft wheel-gil
	$(VENV_FT)/bin/python scripts/check-wheels $(DIST)/*.whl

# One wheel each, into $(DIST)/; run through `wheel`, which makes the venv and its tools first.
wheel-ft:
	$(call wheel,$(ROOT)/$(VENV_FT)/bin/python,wheel-ft)

wheel-gil:
	$(call wheel,$$(command -v python3),wheel-gil)

sdist: $(VENV_FT)/.deps-stamp
	mkdir -p $(DIST) && rm -f $(DIST)/*.tar.gz
	$(VENV_FT)/bin/maturin sdist --out $(DIST)

# $(call suite,VENV,PYTEST-ARGS): the test suite against the lockless installed in VENV, not the
# source tree: it runs in a scratch directory holding a copy of tests/ (with README.md and
# CHANGELOG.md, which tests read, and pyproject.toml for pytest's settings), so nothing else is
# on sys.path besides site-packages. Hypothesis takes a tenth of its examples (LOCKLESS_QUICK=1):
# these runs test the artefact; the develop build's runs search the inputs in full.
define suite
	( scratch=$$(mktemp -d)
	  trap 'rm -rf "$$scratch"' EXIT
	  cp -r tests README.md CHANGELOG.md pyproject.toml "$$scratch"/
	  cd "$$scratch"
	  $(ROOT)/$(1)/bin/python -c 'import lockless; assert lockless.__file__.startswith("$(ROOT)/$(1)/"), lockless.__file__; print("testing", lockless.__version__, "from", lockless.__file__)'
	  LOCKLESS_QUICK=1 $(ROOT)/$(1)/bin/python -m pytest -W error -q -p no:cacheprovider $(2) )
endef

# $(call fresh_venv,VENV,PYTHON): VENV anew from PYTHON, with the test suite's dependencies.
define fresh_venv
	rm -rf $(1)
	$(2) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet $(TEST_DEPS)
endef

# The artefact passes below each run the suite in one process, mostly on one core; `make test`
# runs all three (`test-artefacts`) two at a time, each pass's output printed when it ends.
# They share nothing but dist/, which they only read.

test-wheel: wheel
	$(MAKE) $(SIDE_BY_SIDE) suite-wheel-ft suite-wheel-gil

test-sdist: sdist
	$(MAKE) suite-sdist

# The sdist's pass first: it compiles as well, so it is the longest.
test-artefacts: wheel sdist
	@echo "make test-artefacts: the sdist's and both wheels' passes, two at a time (output as each ends)"
	$(MAKE) $(SIDE_BY_SIDE) suite-sdist suite-wheel-ft suite-wheel-gil

# Each wheel installed into a fresh venv of its interpreter (pip picks the wheel that matches),
# and the suite run there; on 3.13t, importing it must leave the GIL disabled. Run through
# `test-wheel` or `test-artefacts`, which build the wheels first.
suite-wheel-ft:
	$(call fresh_venv,$(VENV_WHL),$(ROOT)/$(VENV_FT)/bin/python)
	$(VENV_WHL)/bin/python -m pip install --quiet --no-index --find-links $(DIST) --only-binary :all: lockless
	$(call suite,$(VENV_WHL))
	$(VENV_WHL)/bin/python -c 'import sys, lockless; sys.exit("error: importing lockless re-enabled the GIL" if sys._is_gil_enabled() else None)'

suite-wheel-gil:
	$(call fresh_venv,$(VENV_WHL_GIL),python3)
	$(VENV_WHL_GIL)/bin/python -m pip install --quiet --no-index --find-links $(DIST) --only-binary :all: lockless
	$(call suite,$(VENV_WHL_GIL))

# The sdist built from source by pip in a fresh 3.13t venv, as a user without a matching wheel
# gets it (pip fetches maturin into an isolated build environment), and the suite run there.
# cargo compiles in an empty $(TARGET)/sdist: the sdist's files all carry one old timestamp
# (2006), so a build left there by an earlier run looks newer than any change and cargo would
# reuse it, testing the old code. Run through `test-sdist` or `test-artefacts`.
suite-sdist:
	$(call fresh_venv,$(VENV_SDIST),$(ROOT)/$(VENV_FT)/bin/python)
	rm -rf $(TARGET)/sdist
	CARGO_TARGET_DIR=$(TARGET)/sdist $(VENV_SDIST)/bin/python -m pip install --quiet --no-binary lockless $(DIST)/lockless-*.tar.gz
	$(call suite,$(VENV_SDIST))

# --- demo and cleanup ---------------------------------------------------------------------------

demo: build-ft
	$(VENV_FT)/bin/python examples/demo.py

clean:
	rm -rf target $(VENV_FT) $(VENV_GIL) $(VENV_WHL) $(VENV_WHL_GIL) $(VENV_SDIST) $(DIST) .hypothesis .pytest_cache .mypy_cache
	find python tests examples -name '__pycache__' -type d -prune -exec rm -rf {} +
	rm -f python/lockless/*.so

# --- benchmarks ---------------------------------------------------------------------------------

# Criterion benches of the dict engine vs Mutex<HashMap> and papaya (about 5 minutes). Uses the
# default target directory (or $CARGO_TARGET_DIR); reports land in $(TARGET)/criterion.
bench-rust:
	cargo bench --no-default-features --bench dict

# --- the Python benchmark harness (benches/harness.py; results in BENCHMARKS.md) ---------------

VENV_PEERS := .venv-peers
BENCH_OUT  := bench-results

.PHONY: bench bench-peers bench-instructions peers test-bench

# The harness on lockless, dict and dict + Lock in .venv: the table on stdout, JSON and plots in
# $(BENCH_OUT)/, the plots copied to docs/bench/ for BENCHMARKS.md (about 15 minutes).
bench: build-ft
	$(VENV_FT)/bin/python -c 'import matplotlib' 2>/dev/null || $(VENV_FT)/bin/python -m pip install --quiet --only-binary :all: matplotlib
	$(VENV_FT)/bin/python benches/harness.py --json $(BENCH_OUT)/results.json --plots $(BENCH_OUT)
	mkdir -p docs/bench && cp $(BENCH_OUT)/*.png docs/bench/

# .venv-peers: a venv of the free-threaded interpreter holding lockless (a wheel) and the
# published peers built from their sdists: cereggii (CMake) and ft-utils. `make peers` builds it;
# `bench-peers` and `bench-instructions` share it. A peer that fails to build is reported and
# left out; the benchmarks go on with the rest.
$(VENV_PEERS)/.deps-stamp:
	py=$$(scripts/python-ft)
	[ -x $(VENV_PEERS)/bin/python ] || "$$py" -m venv $(VENV_PEERS)
	$(VENV_PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_PEERS)/bin/python -m pip install --quiet --only-binary :all: maturin matplotlib
	touch $@

# A wheel installed into the venv (not `maturin develop`, which would replace the extension in
# python/lockless/ that .venv imports).
$(VENV_PEERS)/.build-stamp: $(VENV_PEERS)/.deps-stamp $(SOURCES)
	rm -rf $(TARGET)/wheels-peers
	PYO3_PYTHON=$(ROOT)/$(VENV_PEERS)/bin/python CARGO_TARGET_DIR=$(TARGET)/py-peers \
	    $(VENV_PEERS)/bin/maturin build --release --quiet --interpreter $(ROOT)/$(VENV_PEERS)/bin/python --out $(TARGET)/wheels-peers
	$(VENV_PEERS)/bin/python -m pip install --quiet --force-reinstall --no-deps $(TARGET)/wheels-peers/*.whl
	touch $@

# $(call peer,PYPI-NAME,IMPORT-NAME,VERSION): build one peer from its sdist, or say why not. The
# venv's and the free-threaded interpreter's bin directories go first on PATH, so that CMake's
# FindPython, and cereggii's CMakeLists (which runs `python` for the include directory), find
# the free-threaded interpreter rather than the machine's python. Pinned to the versions issue 17
# compared, so figures stay comparable across sittings.
define peer
	if $(VENV_PEERS)/bin/python -c 'import $(2)' 2>/dev/null; then
	    echo "bench-peers: $(1) already installed"
	elif PATH="$(ROOT)/$(VENV_PEERS)/bin:$$(dirname "$$(scripts/python-ft)"):$$PATH" \
	        $(VENV_PEERS)/bin/python -m pip install --quiet --no-binary $(1) '$(1)==$(3)' \
	        && $(VENV_PEERS)/bin/python -c 'import $(2)'; then
	    echo "bench-peers: built $(1) $(3) from its sdist"
	else
	    echo "bench-peers: *** $(1) FAILED to build or import; benchmarking without it ***"
	fi
endef

peers: $(VENV_PEERS)/.build-stamp
	command -v cmake >/dev/null || apt-get install -y -qq cmake || (apt-get update -qq && apt-get install -y -qq cmake) \
	    || echo "bench-peers: *** cmake missing and could not be installed; cereggii will fail ***"
	$(call peer,cereggii,cereggii,1.0.1)
	$(call peer,ft-utils,ft_utils,0.2.0)

# The map harness in .venv-peers, beside cereggii and ft_utils (about 25 minutes on an idle
# machine), then the queue benchmarks (benches/queue_bench.py: AtomicQueue against queue.Queue,
# SimpleQueue and ft_utils' ConcurrentQueue; about 10 minutes) and the set benchmarks
# (benches/set_bench.py: AtomicSet against set; a few minutes) and the counter benchmarks
# (benches/counter_bench.py: AtomicCounterDict against Counter, AtomicDict.add, ft_utils and
# cereggii; a few minutes). The harness's report includes
# issue 17's goal 4 when `make bench-instructions` has written its JSON. Plots (with the peers)
# also go to docs/bench/, replacing those of `make bench`.
bench-peers: peers
	$(VENV_PEERS)/bin/python benches/harness.py --json $(BENCH_OUT)/results-peers.json --plots $(BENCH_OUT)/peers \
	    --instructions $(BENCH_OUT)/instructions.json
	$(VENV_PEERS)/bin/python benches/queue_bench.py --json $(BENCH_OUT)/queue-peers.json --plot $(BENCH_OUT)/peers/queue.png
	$(VENV_PEERS)/bin/python benches/set_bench.py --json $(BENCH_OUT)/set-peers.json
	$(VENV_PEERS)/bin/python benches/counter_bench.py --json $(BENCH_OUT)/counter-peers.json
	mkdir -p docs/bench && cp $(BENCH_OUT)/peers/*.png docs/bench/

# Net instructions per operation under callgrind (benches/instructions.py) for dict, lockless,
# cereggii and ft_utils, and for AtomicSet, AtomicCounterDict and AtomicQueue beside set, Counter
# and SimpleQueue: the tables on stdout, JSON in $(BENCH_OUT)/ (a few minutes).
bench-instructions: peers
	command -v valgrind >/dev/null || apt-get install -y -qq valgrind || (apt-get update -qq && apt-get install -y -qq valgrind)
	$(VENV_PEERS)/bin/python benches/instructions.py --json $(BENCH_OUT)/instructions.json

# The harnesses once in their tiny configuration (seconds), to prove they run; they time nothing.
test-bench: build
	$(VENV_FT)/bin/python benches/harness.py --quick
	$(VENV_FT)/bin/python benches/queue_bench.py --quick
	$(VENV_FT)/bin/python benches/set_bench.py --quick
	$(VENV_FT)/bin/python benches/counter_bench.py --quick

# --- reliability: soak and the debug interpreter (neither is part of `make test`) ---------------

VENV_DBG := .venv-debug

.PHONY: soak test-debug build-debug

# Minutes of random operations from 8 threads with exact invariants (plain, beside a thread
# looping gc.collect(), beside a thread blocked in a key's __eq__, and with idle iterators kept
# through many migrations and clears), then thousands of linearizability histories. LOCKLESS_SOAK_OPS (operations per thread, default 1000000) and
# LOCKLESS_LIN_HISTORIES (default 3000 per type) scale it.
soak: build-ft
	$(VENV_FT)/bin/python tests/soak.py

# A --with-pydebug free-threaded CPython (scripts/python-ft builds and caches it, ~5 minutes the
# first time), so CPython's own refcount, GC and allocator assertions check the extension. The
# extension is optimized but keeps Rust's debug assertions and overflow checks.
$(VENV_DBG)/.deps-stamp:
	py=$$(LOCKLESS_PYDEBUG=1 scripts/python-ft)
	[ -x $(VENV_DBG)/bin/python ] || "$$py" -m venv $(VENV_DBG)
	$(VENV_DBG)/bin/python -c 'import sys; sys.exit(0 if hasattr(sys, "gettotalrefcount") and not sys._is_gil_enabled() else "$(VENV_DBG) is not a free-threaded debug build: rm -rf $(VENV_DBG) and rerun")'
	$(VENV_DBG)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_DBG)/bin/python -m pip install --quiet maturin pytest 'hypothesis<6.140'
	touch $@

$(VENV_DBG)/.build-stamp: export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS := true
$(VENV_DBG)/.build-stamp: export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS := true
$(VENV_DBG)/.build-stamp: $(VENV_DBG)/.deps-stamp $(SOURCES)
	$(call develop,$(VENV_DBG),py-debug)
	touch $@

build-debug: $(VENV_DBG)/.build-stamp

# The Python suite on the debug interpreter (-X dev adds faulthandler and more warnings). The
# stubs' mypy test is skipped there (mypy is not installed in this venv).
test-debug: build-debug
	$(VENV_DBG)/bin/python -X dev -m pytest -W error -q -p no:cacheprovider
