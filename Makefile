# govchain developer entry points. `make test` is the one CI runs (.ci/run).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEEDS ?= 200
FIRST_SEED ?= 0

.PHONY: demo kv-demo down sim-demo test lint sim protos clean system-deps bench-anchoring bench-disk

# Create the venv and install pinned deps only when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job: a 4-department testnet running the government applications, and the
# pesticide-permit kiosk demo with the one-click pull.
demo: $(STAMP)
	$(PY) scripts/kiosk_demo.py

# Load on a key-value testnet (./testnet-kv): committed tx/s and commit latency.
kv-demo: $(STAMP)
	$(PY) scripts/kv_demo.py

# Stop the testnets (and the web kiosk and console) the demos started.
down: $(STAMP)
	$(PY) scripts/kiosk_demo.py --stop-web
	$(PY) -m cli.main testnet down --dir testnet
	$(PY) -m cli.main testnet down --dir testnet-kv

# The consensus core alone on the deterministic simulator, primary cut off mid-run.
sim-demo: $(STAMP)
	$(PY) scripts/sim_demo.py

# Debian packages the tests need (a real browser for the web tests), where missing.
system-deps:
	scripts/system_deps.sh

test: $(STAMP) system-deps
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

# Long seeded simulation campaign: make sim SEEDS=1000 [FIRST_SEED=5000]
sim: $(STAMP)
	$(PY) scripts/sim_campaign.py --seeds $(SEEDS) --first-seed $(FIRST_SEED)

# The watcher's anchoring rate (a 100,000-row backlog) and lag (row committed in
# PostgreSQL -> license on chain): make bench-anchoring [ROWS=100000]
ROWS ?= 100000
bench-anchoring: $(STAMP) system-deps
	$(PY) -m bench.anchoring --rows $(ROWS)

# Disk per channel data dir after TXS committed txs, 2 validators pruning and 2 not
# (about 10 minutes of a saturated machine at the default): make bench-disk [TXS=1000000]
TXS ?= 1000000
bench-disk: $(STAMP)
	$(PY) -m bench.disk --txs $(TXS)

# Regenerate protobuf code after editing protos/*.proto (a test checks it is in sync).
protos: $(STAMP)
	$(PY) scripts/gen_protos.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
