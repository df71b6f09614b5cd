"""Per-channel applications: deterministic state machines the executor calls.

Each application sees one committed tx at a time with read access to the world state
as of that point in the block, and returns a result code and the writes to make. A
rejected tx keeps its place in the block with a code and reason and changes nothing.
Every application is dispatched the same way (`base.py`): it declares its tx types and
one `process_<type>(state, tx, msg, ctx)` handler per type, paired once at import.

`tx.py` is the signed client tx itself (decode with the canonical-encoding rule, shape
checks, id, encode): the type both the applications and the node work with, so it lives
here, below the node.

The applications, one per channel: license.py (证照链), authentication.py (认证链),
authorization.py (授权链), catalog.py (目录链), service.py (事项链, its payload checks in
service_shapes.py), and kv.py (a generic key-value app for tests and benchmarks).
Shared: base.py (the interface and dispatch), codes.py (result codes), registry.py
(which app a channel runs), policy.py (who may submit which tx type), governance.py (the
governance tx's format, shared by the node and the CLI), privacy.py (subject references,
salted commitments, sealing: personal data never goes on chain in plaintext).

May import: consensus (hashing, canonical encoding, membership types), crypto (the
suites' key and signature lengths), protos and the standard library. Never node/: the
node calls the applications, not the other way round.
"""
