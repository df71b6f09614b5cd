"""The validator node: gRPC services, per-channel runtimes, batched verification.

`node/` owns all I/O around the pure consensus core: it decodes and verifies what
arrives, feeds events to each channel's `consensus.Replica`, and performs the actions
it gets back (persist to LevelDB, send to peers, execute blocks, set timers).
"""
