"""The block-throughput benchmark (scripts/bench.py, `govchain bench`).

Throughput and latency follow the Hyperledger Performance and Scale Working Group
definitions: throughput is committed txs per second over the steady window; latency is
the network-wide commit time (the tx seen committed on 2f+1 nodes) minus submit time.
Figures are for reports, never asserted in tests.
"""
