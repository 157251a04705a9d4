# `make demo` and `make test` each create or refresh .venv, install asgbench, then run the main job / the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.asgbench-installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

CI_DIR := .asgbench/ci
CI_SWEEP := --models random-r18 --tasks rsna-lp,covidx-lp,chexpert-lp --fractions 10,100 --seeds 0 --cpus 2

.PHONY: demo test regression-check ci-reference bench venv clean

$(STAMP): setup.cfg pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/asgbench demo --workdir .asgbench/demo --out results/demo --update-readme README.md

test: $(STAMP)
	$(BIN)/python -m pytest
	$(MAKE) regression-check

# A small sweep on the tiny synthetic suite, compared with the committed reference (fails on a regression).
regression-check: $(STAMP)
	$(BIN)/asgbench data synth --out $(CI_DIR)/suite --size tiny --quiet
	$(BIN)/asgbench sweep $(CI_SWEEP) --data-root $(CI_DIR)/suite --out $(CI_DIR)/runs --cache-dir $(CI_DIR)/cache --quiet
	$(BIN)/asgbench check --reference results/reference/ci.json --results $(CI_DIR)/runs

# Rewrite the reference after an intended change of the numbers (commit results/reference/ci.json with it).
ci-reference: $(STAMP)
	rm -rf $(CI_DIR)/runs
	$(BIN)/asgbench data synth --out $(CI_DIR)/suite --size tiny --quiet
	$(BIN)/asgbench sweep $(CI_SWEEP) --data-root $(CI_DIR)/suite --out $(CI_DIR)/runs --cache-dir $(CI_DIR)/cache --quiet
	$(BIN)/asgbench check --write-reference results/reference/ci.json --results $(CI_DIR)/runs

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_store.py
	$(BIN)/python benchmarks/bench_linear_probe.py

clean:
	rm -rf $(VENV) .asgbench .pytest_cache
