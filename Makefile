# radcycle: the two set-up commands are `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-output

.PHONY: demo test bench bench-qc bench-robustness lint install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test,dev,bench,batch,pacs,fl,service,models]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/radcycle demo --out $(DEMO_DIR) --force

test: $(STAMP)
	bash scripts/install-system-packages.sh
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	bash scripts/install-system-packages.sh
	$(BIN)/python -m benchmarks.run

# image QC against what each shared real series is known to be (docs/quality.md)
bench-qc: $(STAMP)
	$(BIN)/python -m benchmarks.run qc

# measured robustness: tables and degradation curves (docs/robustness.md)
bench-robustness: $(STAMP)
	RADCYCLE_BENCH_ROBUST_FIGURE=docs/robustness-curves.png \
		$(BIN)/python -m benchmarks.run robustness robustness-detect robustness-icc

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
