"""PBFT consensus core of govchain: a pure, deterministic state machine per channel.

`Replica.step(event) -> list[Action]` is the whole interface. The core does no I/O, reads
no clock, draws no randomness and starts no threads: time arrives as `Tick` events for the
timers it asked for, messages arrive already signature-checked by the node, and every
effect (persist, send, execute, fetch, set a timer) is an action the caller performs in
order. The same code runs in the deterministic simulator (sim/) and in the node.

The modules:
- the interface: events.py (what happens to a replica), actions.py (what it asks for),
  status.py (the one snapshot the node reads), reasons.py (why an input was refused),
  config.py (the validator set and every limit of a channel);
- the replica, one module per concern over state declared once in replica_state.py:
  replica.py (dispatch, request timer, read surface), replica_normal_case.py,
  replica_proposals.py, replica_execution.py, replica_checkpoints.py,
  replica_catchup.py, replica_view_change.py, replica_membership.py, replica_recovery.py;
- pure rules the replica applies: messages.py, blocks.py, certificates.py,
  view_change.py, membership.py, catchup.py, block_time.py, buffers.py, log.py,
  persisted.py (what must survive a crash);
- bytes: canonical.py (one encoding per signed thing), hashing.py (digests, Merkle),
  crypto.py (the signing and verification interfaces the core is given).

May import: protos only (and the standard library; no I/O, clock, randomness or threads).
"""
