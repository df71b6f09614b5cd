"""The validator daemon: one OS process per department, serving every channel it holds.

`node/` owns all I/O around the pure consensus core: it decodes and verifies what
arrives, feeds events to each channel's `consensus.Replica`, and performs the actions
it gets back (persist to LevelDB, send to peers, execute blocks, set timers).

The modules by role:
- wiring: node.py (channels, one gRPC server, shared peers and verifier), server.py (that
  server: options, call guards, services, health), config.py,
  integrity.py (the ledger checks a node makes before it serves),
  runtime.py (one channel: event queue -> Replica.step -> actions in order);
- gRPC services, which decode, check and enqueue only: client_api.py, peer_api.py,
  datashare_api.py, backup.py (the Admin service: an online backup); guarded by
  call_limits.py, ratelimit.py, interceptors.py, grpc_decode.py;
- a tx's way in: `chains.tx` decodes it -> tx_signatures.py checks its signature
  (batched, each id verified once) -> admission.py admits it -> mempool.py holds it until
  it commits (regossip.py offers it again if it waits too long); verifier.py is the
  batched Ed25519 pool under all of these;
- between validators: transport.py (peer streams), fetching.py (block catch-up),
  compact_blocks.py (a pre-prepare's block sent as tx ids, rebuilt from the mempool),
  governance.py (validator-set changes on the node's side), tls.py (certificates bound to
  validator keys), crl.py (revoked certificates refused on every call);
- after commit: executor.py (applies blocks through chains/), pruning.py (old blocks
  deleted in the background when `retain_blocks` is set), archive_serving.py (pruned
  heights served again from a verified archive, `archive_dir`), snapshots.py (a
  channel's state cut into chunks at every N-th checkpoint and offered to joiners),
  state_sync.py (an empty channel installs a peer's snapshot instead of replaying); at
  pull time
  datashare_api.py reads a department's own records through `sources/`;
- staying well: supervise.py (no silent task death), stallwatch.py, malloc_arenas.py,
  logsampling.py, metrics.py.

May import: client (TLS identity and channel options), consensus, crypto (the channels'
suite), storage, chains, sources (the department's own records), protos.
"""
