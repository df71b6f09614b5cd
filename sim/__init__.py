"""The deterministic simulator of govchain's real consensus core: a first-class tool, used
by the tests (tests/sim/), the campaigns (scripts/sim_campaign.py,
scripts/membership_campaign.py) and the demo (scripts/sim_demo.py).

n replicas of the real `consensus.Replica` run over an in-memory network with seeded
drops, duplicates, delays, partitions, crashes (between any two actions of a step) and
restarts, per-node clocks, and up to f Byzantine replicas; invariants are checked after
every step. The same seed gives the same run.

- cluster.py: the simulated nodes (the node's part: envelopes, timers, persistence,
  execution, block fetches) and the chaos/heal driver;
- network.py: the in-memory network and its faults;
- links.py: what the node tells its core about peer links (a crash, a flaky link);
- byzantine.py: Byzantine behaviours (they can sign only as themselves);
- invariants.py: safety checked after every step;
- swarm.py: one seed picks the cluster, the Byzantine set and every fault rate;
- governance.py: validator-set change helpers and the grow-and-shrink chaos scenario;
- crypto.py: cheap keyed-MAC signatures with the unforgeability the core relies on.

May import: consensus, crypto (a real suite for a few seeds), protos and the standard
library. Never node, storage, chains or
tests: the simulator stands in for the node around the same core.
"""
