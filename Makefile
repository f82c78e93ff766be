# lockless — build and test.
#
#   make test    everything CI runs: engine tests, both Python builds, GIL check, wheel
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
VENV_WHL  := .venv-wheel
# hypothesis>=6.140 and mypy>=2 (its ast-serialize needs a PyO3 without 3.13t support) do not
# install on the free-threaded 3.13 here.
PY_DEPS   := maturin pytest 'hypothesis<6.140' 'mypy<2'
SOURCES   := Cargo.toml pyproject.toml $(shell find src python -type f \( -name '*.rs' -o -name '*.py' -o -name '*.pyi' \) 2>/dev/null)
ROOT      := $(CURDIR)
TARGET    := $(or $(CARGO_TARGET_DIR),$(ROOT)/target)

.PHONY: test test-rust test-lint test-loom test-py test-py-ft test-py-gil test-gil-disabled test-types \
        test-wheel build build-ft build-gil venvs demo clean bench-rust

test: test-rust test-lint test-loom test-py test-gil-disabled test-types test-wheel test-bench
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
build: build-ft build-gil

# --- tests --------------------------------------------------------------------------------------

# The engine alone (no PyO3), which also proves src/engine never uses PyO3.
test-rust:
	cargo test --no-default-features

# The engine's lints (undocumented unsafe blocks, missing # Safety docs) as errors.
test-lint:
	cargo clippy --no-default-features --lib --tests -- -D warnings

# Loom models, when the script for them exists.
test-loom:
	if [ -x scripts/loom-test ]; then scripts/loom-test; fi

test-py: test-py-ft test-py-gil

test-py-ft: build-ft
	$(VENV_FT)/bin/python -m pytest -W error -q

test-py-gil: build-gil
	$(VENV_GIL)/bin/python -m pytest -W error -q

# Importing lockless must not re-enable the GIL on the free-threaded build.
test-gil-disabled: build-ft
	$(VENV_FT)/bin/python -c 'import sys, lockless; sys.exit("error: importing lockless re-enabled the GIL" if sys._is_gil_enabled() else print("GIL stays disabled after import lockless"))'

# The stubs type-check, and so does typed code that uses them.
test-types: build-ft
	$(VENV_FT)/bin/python -m mypy --strict python/lockless tests/typing_usage.py

# Packaging: a release wheel for the free-threaded interpreter, installed into a scratch venv.
test-wheel: $(VENV_FT)/.deps-stamp
	rm -rf $(TARGET)/wheels-ft $(VENV_WHL)
	PYO3_PYTHON=$(ROOT)/$(VENV_FT)/bin/python CARGO_TARGET_DIR=$(TARGET)/py-ft \
	    $(VENV_FT)/bin/maturin build --release --quiet --interpreter $(ROOT)/$(VENV_FT)/bin/python --out $(TARGET)/wheels-ft
	$(ROOT)/$(VENV_FT)/bin/python -m venv $(VENV_WHL)
	$(VENV_WHL)/bin/python -m pip install --quiet --no-index $(TARGET)/wheels-ft/*.whl
	cd "$$(mktemp -d)" && $(ROOT)/$(VENV_WHL)/bin/python -c 'import sys, lockless; assert "$(VENV_WHL)" in lockless.__file__, lockless.__file__; assert lockless.AtomicInt(41).increment_and_get() == 42; assert not sys._is_gil_enabled(); print("wheel ok:", lockless.__file__)'

# --- demo and cleanup ---------------------------------------------------------------------------

demo: build-ft
	$(VENV_FT)/bin/python examples/demo.py

clean:
	rm -rf target $(VENV_FT) $(VENV_GIL) $(VENV_WHL) dist .hypothesis .pytest_cache .mypy_cache
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
# cereggii and ft_utils: the table on stdout, JSON in $(BENCH_OUT)/ (a few minutes).
bench-instructions: peers
	command -v valgrind >/dev/null || apt-get install -y -qq valgrind || (apt-get update -qq && apt-get install -y -qq valgrind)
	$(VENV_PEERS)/bin/python benches/instructions.py --json $(BENCH_OUT)/instructions.json

# The harnesses once in their tiny configuration (seconds), to prove they run; they time nothing.
test-bench: build-ft
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
