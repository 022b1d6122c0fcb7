# Two entry points, each sets itself up from nothing but Python and pip:
#   make demo  -- install, then compare January with July 2013 NYC flights (real data)
#   make test  -- install, then run the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

.PHONY: compiler install-dev install-demo browser postgres demo test lint

# The stream detectors' per-value update is a small C extension
# (src/shiftguard/stream/_native.c): pip builds it with the system's C compiler and Python's
# headers, installed here when missing and we are root.
HAVE_HEADERS := $(PY) -c 'import os, sys, sysconfig; \
	sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'
compiler:
	@command -v cc >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null; \
	  else echo "no C compiler found and not root: install gcc (or clang)"; exit 1; fi; }
	@$(HAVE_HEADERS) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-dev >/dev/null; \
	  else echo "Python.h not found and not root: install your Python's development headers"; exit 1; fi; }

# torch first and alone, pinned: pip then keeps this CPU wheel for the text extra instead
# of resolving a multi-GB CUDA build.
install-dev: compiler $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,text,dask,serve]'

install-demo: compiler $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'

# compare exits 1 when it finds drift (it does here): that is the expected outcome.
demo: install-demo
	$(BIN)/python examples/flights_data.py demo-data
	$(BIN)/shiftguard compare demo-data/flights_jan.parquet demo-data/flights_jul.parquet \
		--report drift.html; test $$? -le 1
	@echo "report written to drift.html"

# The report's browser test needs Debian's chromium; installed here when we are root.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found (not root): the browser test will be skipped"; fi; }

# The service tests run on SQLite and on a PostgreSQL server they start themselves from
# Debian's postgresql binaries; installed here when we are root (the package's own cluster
# is not used).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "postgresql not found (not root): the PostgreSQL service tests will be skipped"; fi; }

# Two test workers on two cores, one BLAS/OpenMP/numba thread each: more threads only wait
# for each other (the simulations of tests/validity ran 2.3x slower with the defaults).
test: install-dev browser postgres
	$(BIN)/python -m ruff check src tests bench examples
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
		$(BIN)/python -m pytest -n 2 tests

lint: install-dev
	$(BIN)/python -m ruff check src tests bench examples
