# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates and fills its own virtual environment (.venv) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXAMPLE := examples/quickstart/okr-sync.yaml
# The suite runs in parallel processes (pytest-xdist): two per core (many tests wait on
# sockets, timeouts and child processes), at most 8. Tests sharing a module-scoped
# fixture stay together (loadgroup) and the longest start first (tests/conftest.py
# orders them; no reordering by group size). Bytecode is written even where the
# environment says not to (PYTHONDONTWRITEBYTECODE): the okr-sync processes the suite
# starts and its workers would otherwise each compile okr-sync again and re-rewrite
# every test module's asserts (__pycache__ is ignored by git).
# The tests' throwaway files (tmp_path, SQLite stores, the PostgreSQL data directory, the
# crash tests' worlds: several hundred MB written and deleted) go to RAM when /dev/shm is
# writable with 2 GiB free: on disk, the kernel's block I/O cost a fifth of the suite's CPU.
TEST_TMPDIR ?= $(shell free=$$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $$4}'); \
	if [ -w /dev/shm ] && [ "$${free:-0}" -ge 2097152 ]; then echo /dev/shm; \
	else echo "$${TMPDIR:-/tmp}"; fi)
TEST_WORKERS ?= $(shell n=$$(( $$(nproc 2>/dev/null || echo 1) * 2 )); [ $$n -gt 8 ] && n=8; echo $$n)
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

$(BIN)/okr-sync: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/okr-sync

.PHONY: demo example test soak lint
demo: $(BIN)/okr-sync
	$(BIN)/okr-sync demo

example: $(BIN)/okr-sync
	$(BIN)/okr-sync validate --config $(EXAMPLE)
	$(BIN)/okr-sync plan --config $(EXAMPLE)
	$(BIN)/okr-sync sync --config $(EXAMPLE)

test: $(BIN)/okr-sync
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	scripts/ensure-postgresql
	scripts/ensure-chromium
	TMPDIR="$(TEST_TMPDIR)" PYTHONDONTWRITEBYTECODE= \
		OKR_SYNC_REQUIRE_POSTGRES=1 OKR_SYNC_REQUIRE_CHROMIUM=1 \
		$(BIN)/pytest $(PYTEST_PARALLEL)

# Opt-in: 300 scheduled runs against the sandboxes with faults (a few minutes).
soak: $(BIN)/okr-sync
	OKR_SYNC_SOAK=300 $(BIN)/pytest -s -m soak tests/reliability/test_soak.py
