# govchain developer entry points. `make test` is the one CI runs (.ci/run).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEEDS ?= 200
FIRST_SEED ?= 0

.PHONY: demo down sim-demo test lint sim protos clean

# Create the venv and install pinned deps only when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job: a 4-validator testnet (real processes, all five channels) committing txs.
demo: $(STAMP)
	$(PY) scripts/demo.py

# Stop the testnet `make demo` started.
down: $(STAMP)
	$(PY) -m node.cli testnet down --dir testnet

# The consensus core alone on the deterministic simulator, primary cut off mid-run.
sim-demo: $(STAMP)
	$(PY) scripts/sim_demo.py

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

# Long seeded simulation campaign: make sim SEEDS=1000 [FIRST_SEED=5000]
sim: $(STAMP)
	$(PY) scripts/sim_campaign.py --seeds $(SEEDS) --first-seed $(FIRST_SEED)

# Regenerate protobuf code after editing protos/*.proto (a test checks it is in sync).
protos: $(STAMP)
	$(PY) scripts/gen_protos.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
