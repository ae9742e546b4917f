# heaplens - the README's commands.
#   make demo   build into .venv and run heaplens on examples/ (API, then the CLI)
#   make test   C unit tests (plain and ASan+UBSan), the fuzz target, then
#               pytest on python3 (3.11), on 3.12 and 3.13 (pyenv) and on 3.14
#               and 3.15 (a Debian sid root, tools/sid_run.sh), and pytest
#               again with the extension under ASan+UBSan and fault injection
#               built in (so the allocation-failure tests run there), then
#               make stress and make stress-asan. pytest runs PYTEST_JOBS
#               workers (default: one per core)
#   make demo PYTHON=python3.14   the demo on another interpreter, in its
#               own .venv-3.14 (in the sid root when this machine lacks it)
#   make stress the stress run (tests/stress/torture.py, STRESS_SECONDS per
#               version) and CPython's own tests untraced and traced
#               (tests/stress/stdlib_compare.py), on every version; make
#               stress-asan the stress run against the ASan+UBSan extension
#               (both are part of make test)
#   make bench  tracing overhead, snapshot speed and heap-graph queries
#               against the anchors
# Every target installs what it needs itself.

PYTHON      ?= python3
PY           = $(VENV)/bin/python
BUILD_DEPS  := meson-python meson ninja
TEST_DEPS   := pytest pytest-xdist objgraph==3.6.2 numpy pandas memray==1.20.0
# pytest's worker processes (pytest-xdist): one per core by default.
PYTEST_JOBS ?= auto
LINT_DEPS   := ruff==0.8.6 mypy==2.4.1
C_SOURCES   := $(wildcard src/core/*.[ch] src/ext/*.[ch] src/ext/cpython/*.[ch] tests/c/*.[ch] tests/fuzz/*.c tests/python/native/*.c tests/python/native_ext/*.c)
PY_SOURCES  := $(wildcard src/heaplens tests/python tests/stress tests/typing bench examples)
FUZZ_SECONDS ?= 30
EXTRA_VERSIONS := 3.12 3.13 3.14 3.15

# The venv, and RUN, the prefix that runs a command where PYTHON runs: python3
# goes into .venv here; any other PYTHON into .venv-3.X, and a python3.X this
# machine lacks (3.14, 3.15) runs in the Debian sid root (RUN is then
# tools/sid_run.sh). tools/find_python.sh tells, once, and only when needed.
ifeq ($(PYTHON),python3)
VENV = .venv
RUN  =
else
python_found = $(eval python_found := $(shell tools/find_python.sh '$(PYTHON)' || echo '!'))$(python_found)
python_where = $(if $(filter !,$(lastword $(python_found))),$(error PYTHON=$(PYTHON): $(filter-out !,$(python_found))),$(word $(1),$(python_found)))
VENV = .venv-$(call python_where,1)
RUN  = $(if $(filter sid,$(call python_where,2)),tools/sid_run.sh)
endif

.PHONY: demo test lint ctest fuzz pytest pytest-extra pytest-asan pytest-fault stress stress-asan asan-install bench install clean

# A virtual environment for one interpreter: $(call make_venv,DIR,PYTHON,RUN).
# The build finds meson and ninja on PATH: the venv's own, first.
define make_venv
	@$(3) test -x $(1)/bin/python || $(3) $(2) -m venv $(1)
	@$(3) $(1)/bin/python -m pip install -q --disable-pip-version-check $(BUILD_DEPS) $(TEST_DEPS)
	@PATH="$(abspath $(1))/bin:$$PATH" $(3) $(1)/bin/python -m pip install -q --disable-pip-version-check \
	  --no-build-isolation --no-deps --force-reinstall .
endef

install:
	$(call make_venv,$(VENV),$(PYTHON),$(RUN))

demo: install
	@$(RUN) $(PY) examples/demo.py
	@echo
	@echo "== heaplens run examples/memory_hog.py, then heaplens report --html"
	@mkdir -p build
	@$(RUN) $(VENV)/bin/heaplens run -o build/demo-run.hlc examples/memory_hog.py
	@$(RUN) $(VENV)/bin/heaplens report --html build/demo-run.html build/demo-run.hlc

test: lint ctest fuzz pytest pytest-extra pytest-asan stress stress-asan
	@if [ -s build/pytest-extra-skipped ]; then cat build/pytest-extra-skipped; fi
	@if [ -s build/stress-skipped ]; then cat build/stress-skipped; fi

# Within make test, pytest-extra and pytest-asan have just installed every
# venv: the stress targets use them as they are.
test: STRESS_REINSTALL = 0

# Style: clang-format (config in .clang-format) and ruff, both checked, never
# rewriting files here (`clang-format -i`, `ruff format` do that); types:
# mypy --strict over the package (tools/mypy.ini), then over
# tests/typing/public_api.py against the installed package, as a user's
# checker sees it (py.typed, the lazy names of `heaplens`); and the type stub
# of the C binding (src/heaplens/_core.pyi) checked against the built
# extension by mypy's stubtest (names and members; the C functions carry no
# signatures for it to compare).
lint: install
	@$(PY) -m pip install -q --disable-pip-version-check $(LINT_DEPS)
	$(PY) -m ruff check $(PY_SOURCES)
	$(PY) -m ruff format --check $(PY_SOURCES)
	$(PY) -m mypy --config-file tools/mypy.ini -p heaplens
	cd tests/typing && ../../$(PY) -m mypy --strict --cache-dir ../../build/mypy-cache-api public_api.py
	$(PY) -m mypy.stubtest --mypy-config-file tools/stubtest.ini heaplens._core
	@if tools/apt_ensure.sh clang-format clang-format; then \
	  clang-format --dry-run -Werror $(C_SOURCES) && echo "clang-format: C sources formatted"; \
	else echo "lint: clang-format could not be installed; C formatting not checked"; fi

# The core's unit tests, built with -Werror, plain and under ASan+UBSan; and
# the extension built with -Werror.
ctest: install
	@$(VENV)/bin/meson setup build/ctest -Dunit_tests=true -Dwerror=true --buildtype=debugoptimized --reconfigure >/dev/null 2>&1 || \
	 $(VENV)/bin/meson setup build/ctest -Dunit_tests=true -Dwerror=true --buildtype=debugoptimized >/dev/null
	$(VENV)/bin/meson test -C build/ctest --print-errorlogs
	@$(VENV)/bin/meson setup build/ext-werror -Dwerror=true --reconfigure >/dev/null 2>&1 || \
	 $(VENV)/bin/meson setup build/ext-werror -Dwerror=true >/dev/null
	@out=$$($(VENV)/bin/meson compile -C build/ext-werror 2>&1) || { echo "$$out" | grep -v '^\[' | tail -40; exit 1; }; \
	 echo "extension: built with -Werror"
	@$(VENV)/bin/meson setup build/ctest-asan -Dunit_tests=true -Dwerror=true --buildtype=debug \
	   -Db_sanitize=address,undefined -Db_lundef=false --reconfigure >/dev/null 2>&1 || \
	 $(VENV)/bin/meson setup build/ctest-asan -Dunit_tests=true -Dwerror=true --buildtype=debug \
	   -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(VENV)/bin/meson test -C build/ctest-asan --print-errorlogs

# The capture reader under libFuzzer (clang) for FUZZ_SECONDS, built by meson
# (-Dlibfuzzer=true) from the core's one list of sources; without clang the
# meson test above already ran the standalone mutation driver.
fuzz: install
	@MESON=$(VENV)/bin/meson bash tests/fuzz/run_libfuzzer.sh $(FUZZ_SECONDS)

# The browser test (tests/python/test_report_browser.py) needs Debian's
# chromium: installed here when missing, and required on this run only.
pytest: install
	@tools/apt_ensure.sh chromium chromium || echo "pytest: chromium is missing and could not be installed"
	HEAPLENS_REQUIRE_BROWSER=1 $(PY) -m pytest -q -n $(PYTEST_JOBS) tests/python

# pytest on each of EXTRA_VERSIONS in its own .venv-3.X, without the browser
# test: 3.12 and 3.13 from pyenv, 3.14 and 3.15 in the Debian sid root when
# this machine lacks them (tools/find_python.sh). Every version is tried, and
# the versions that failed are named at the end. A version that cannot be
# found fails under CI (CI=true); elsewhere it is skipped, and make test says
# so, and why, as its last words.
pytest-extra:
	@mkdir -p build && : > build/pytest-extra-skipped
	@failed=; for v in $(EXTRA_VERSIONS); do \
	  if ! found=$$(tools/find_python.sh $$v); then \
	    case "$$CI" in \
	      true|1) echo "pytest-extra: Python $$v is missing under CI: $$found"; failed="$$failed $$v";; \
	      *) echo "pytest-extra: skipped Python $$v: $$found" | tee -a build/pytest-extra-skipped;; \
	    esac; continue; \
	  fi; \
	  set -- $$found; run=; if [ "$$2" = sid ]; then run=tools/sid_run.sh; fi; \
	  echo "== pytest on Python $$v ($$3$${run:+ in the sid root})"; \
	  { $(MAKE) --no-print-directory VENV=.venv-$$v PYTHON=$$3 RUN=$$run install && \
	    HEAPLENS_SKIP_BROWSER=1 $$run .venv-$$v/bin/python -m pytest -q -n $(PYTEST_JOBS) tests/python; } || failed="$$failed $$v"; \
	done; \
	if [ -n "$$failed" ]; then echo "pytest-extra: failed on Python$$failed"; exit 1; fi

# The whole Python suite against an extension built with ASan+UBSan (the
# binding's code: hooks, heap walk, graph queries), in its own venv, with
# fault injection built in (so test_fault_injection.py runs under ASan too;
# disarmed, it costs one load per allocation of the core). The short
# torture runs of test_stress_torture.py are left to stress-asan, which runs
# the same facets under ASan for STRESS_SECONDS. The
# runtime is preloaded since the interpreter itself is not instrumented;
# leaks are not checked (CPython keeps memory until exit), and a test that
# provokes MemoryError needs the allocator to return NULL, not abort.
ASAN_VENV := .venv-asan
ASAN_LIBS = $(shell gcc -print-file-name=libasan.so):$(shell gcc -print-file-name=libubsan.so)
pytest-asan:
	$(install_asan)
	cd tests && $(ASAN_ENV) HEAPLENS_SKIP_BROWSER=1 \
	  ../$(ASAN_VENV)/bin/python -m pytest -q -n $(PYTEST_JOBS) -p no:cacheprovider python \
	  --ignore=python/test_stress_torture.py

define install_asan
	@test -x $(ASAN_VENV)/bin/python || $(PYTHON) -m venv $(ASAN_VENV)
	@$(ASAN_VENV)/bin/python -m pip install -q --disable-pip-version-check $(BUILD_DEPS) $(TEST_DEPS)
	@$(ASAN_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation \
	  --no-deps --force-reinstall . --config-settings=setup-args=-Db_sanitize=address,undefined \
	  --config-settings=setup-args=-Db_lundef=false --config-settings=setup-args=-Dbuildtype=debug \
	  --config-settings=setup-args=-Dfault_injection=true
endef
ASAN_ENV = LD_PRELOAD=$(ASAN_LIBS) ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# The stress run (tests/stress/torture.py: threads with and without the GIL
# or a thread state, fork, signals, subinterpreters, the stdlib tracemalloc,
# start/stop/clear/snapshot at random, all in one traced process) for
# STRESS_SECONDS on each version, then a selection of CPython's own
# regression tests run untraced and traced from the first line
# (tests/stress/stdlib_compare.py; a result that differs fails). Versions are
# found as pytest-extra finds them; each is tried, and the failed ones are
# named at the end. STRESS_REINSTALL=0 uses the venvs as they are when they
# hold heaplens (make test does, after pytest-extra).
STRESS_SECONDS ?= 8
STRESS_REINSTALL ?= 1
stress: install
	@mkdir -p build && : > build/stress-skipped
	@failed=; for v in 3.11 $(EXTRA_VERSIONS); do \
	  if [ $$v = 3.11 ]; then set -- 3.11 host $(PYTHON); venv=$(VENV); \
	  elif ! found=$$(tools/find_python.sh $$v); then \
	    case "$$CI" in \
	      true|1) echo "stress: Python $$v is missing under CI: $$found"; failed="$$failed $$v";; \
	      *) echo "stress: skipped Python $$v: $$found" | tee -a build/stress-skipped;; \
	    esac; continue; \
	  else set -- $$found; venv=.venv-$$v; fi; \
	  run=; if [ "$$2" = sid ]; then run=tools/sid_run.sh; fi; \
	  if [ $$v != 3.11 ] && { [ "$(STRESS_REINSTALL)" = 1 ] || ! $$run $$venv/bin/python -c 'import heaplens._core' 2>/dev/null; }; then \
	    $(MAKE) --no-print-directory VENV=$$venv PYTHON=$$3 RUN=$$run install || { failed="$$failed $$v"; continue; }; \
	  fi; \
	  echo "== stress on Python $$v"; start=$$(date +%s); \
	  $$run $$venv/bin/python tests/stress/torture.py --seconds $(STRESS_SECONDS) || failed="$$failed $$v(torture)"; \
	  $$run $$venv/bin/python tests/stress/stdlib_compare.py || failed="$$failed $$v(stdlib)"; \
	  echo "== stress on Python $$v took $$(( $$(date +%s) - start )) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "stress: failed on Python$$failed"; exit 1; fi

# The stress run against the extension built with ASan+UBSan (as pytest-asan).
stress-asan:
	@if [ "$(STRESS_REINSTALL)" = 1 ] || ! $(ASAN_VENV)/bin/python -c 'import heaplens._core' 2>/dev/null; then \
	  $(MAKE) --no-print-directory asan-install; fi
	$(ASAN_ENV) $(ASAN_VENV)/bin/python tests/stress/torture.py --seconds $(STRESS_SECONDS) --grace 120

asan-install:
	$(install_asan)

# The allocation-failure tests (tests/python/test_fault_injection.py, skipped
# elsewhere) against an extension built with -Dfault_injection=true, whose
# core can be told to fail its Nth allocation (src/core/hl_alloc.h), in its
# own venv, without ASan. make test runs them in pytest-asan's build instead.
FAULT_VENV := .venv-fault
pytest-fault:
	@test -x $(FAULT_VENV)/bin/python || $(PYTHON) -m venv $(FAULT_VENV)
	@$(FAULT_VENV)/bin/python -m pip install -q --disable-pip-version-check $(BUILD_DEPS) $(TEST_DEPS)
	@PATH="$(abspath $(FAULT_VENV))/bin:$$PATH" $(FAULT_VENV)/bin/python -m pip install -q \
	  --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall . \
	  --config-settings=setup-args=-Dfault_injection=true
	$(FAULT_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/python/test_fault_injection.py

# Side by side with the stdlib tracer, memray, objgraph and guppy3; see
# bench/README.md. BENCH_ARGS="--quick" for a shorter run, "--only heapgraph"
# for the heap-graph rows alone, "--markdown" for docs/performance.md. When
# guppy3 will not install, the rest is installed and its rows are skipped.
bench: install
	@$(PY) -m pip install -q --disable-pip-version-check -r bench/requirements.txt || { \
	  echo "bench: installing bench/requirements.txt without guppy3"; \
	  grep -v '^guppy3' bench/requirements.txt | \
	    $(PY) -m pip install -q --disable-pip-version-check -r /dev/stdin; }
	@$(PY) bench/run.py $(BENCH_ARGS)
	@$(PY) bench/gc_monitor.py

clean:
	rm -rf build .venv .venv-3.* $(ASAN_VENV) $(FAULT_VENV)
