# `make demo` and `make test` each create or refresh .venv, install asgbench, then run the main job / the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.asgbench-installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

CI_DIR := .asgbench/ci
CI_SWEEP := --models random-r18 --tasks nih-lp --fractions 100 --seeds 0 --cpus 2 --cpus-per-trial 2 --group-by features

.PHONY: demo test regression-check ci-reference bench venv clean

# MedCLIP's own package goes in without its dependencies (download helpers its model code does not need), for the
# test that compares its PromptClassifier with asgbench's scorer.
$(STAMP): setup.cfg pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[test]"
	$(BIN)/python -m pip install --quiet --no-deps medclip==0.0.3
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/asgbench demo --workdir .asgbench/demo --out results/demo --update-readme README.md

# The regression gate first: tests/test_gate_drill.py reruns and degrades its runs (ASGBENCH_GATE_DIR).
test: $(STAMP)
	$(MAKE) regression-check
	ASGBENCH_GATE_DIR=$(CI_DIR) $(BIN)/python -m pytest

# A 1-run sweep on the gate's synthetic suite, compared run by run with the committed reference runs on the same
# test images (fails on a regression, and on a reference too small to detect a 0.05 drop).
regression-check: $(STAMP)
	$(BIN)/asgbench data synth --out $(CI_DIR)/suite --size gate --quiet
	$(BIN)/asgbench sweep $(CI_SWEEP) --data-root $(CI_DIR)/suite --out $(CI_DIR)/runs --cache-dir $(CI_DIR)/cache --quiet
	$(BIN)/asgbench check --reference results/reference/ci.json --results $(CI_DIR)/runs

# Rewrite the reference after an intended change of the numbers (commit results/reference/ci.json with it).
ci-reference: $(STAMP)
	rm -rf $(CI_DIR)/runs
	$(BIN)/asgbench data synth --out $(CI_DIR)/suite --size gate --quiet
	$(BIN)/asgbench sweep $(CI_SWEEP) --data-root $(CI_DIR)/suite --out $(CI_DIR)/runs --cache-dir $(CI_DIR)/cache --quiet
	$(BIN)/asgbench check --write-reference results/reference/ci.json --results $(CI_DIR)/runs

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_store.py
	$(BIN)/python benchmarks/bench_linear_probe.py

clean:
	rm -rf $(VENV) .asgbench .pytest_cache
