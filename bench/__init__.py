"""The block-throughput benchmark (scripts/bench.py, `govchain bench`).

Throughput and latency follow the Hyperledger Performance and Scale Working Group
definitions: throughput is committed txs per second over the steady window; latency is
the network-wide commit time (the tx seen committed on 2f+1 nodes) minus submit time.
Figures are for reports, never asserted in tests.

- run.py: the run (a testnet from cli/, load, figures out; `python -m bench.run`);
- figures.py: a run's figures (throughput, latency), its Markdown table and chart;
- load.py: load-client processes that pre-sign their txs and submit in batches;
- observe.py: commits seen on every node, and the nodes' CPU and memory;
- fault.py: the fault run (kill the primary under load, restart it, time what follows);
- anchoring.py: the watcher's anchoring rate for a backlog and its lag from a row
  committed in PostgreSQL to its license committed on chain (`python -m bench.anchoring`);
- rescan.py: the watcher's rescan of an unchanged table, in-process (`python -m
  bench.rescan`): the part of the anchoring lag that grows with the table;
- disk.py: disk per channel data dir per 1,000,000 committed txs, with and without
  `retain_blocks` (`make bench-disk`, `python -m bench.disk`);
- join.py: a wiped validator's join by snapshot versus by replay from genesis, paired on
  one network (`python -m bench.join --txs 1000000`);
- postgres.py: a throwaway PostgreSQL cluster (that benchmark, and the SQL source tests);
- messages.py: consensus messages per committed block as n grows, counted in the
  simulator running the real core (`python -m bench.messages`).

May import: cli (the testnet manager), client, node (config, verifier), chains (subject
references), crypto (the suite clients sign with), sim (messages per block), sources (the
watcher, for the rescan figure), protos.
"""
