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
        test-wheel build build-ft build-gil venvs demo clean

test: test-rust test-lint test-loom test-py test-gil-disabled test-types test-wheel
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
