"""A department's own records, read where they already live ("no change to existing
systems"): the chain holds only salted commitments; the values stay with the issuing
department, and its node reads them through a source adapter at pull time.

The modules:
- base.py: the `SourceAdapter` interface and how a database value becomes item bytes;
- embedded.py: `EmbeddedSource`, one JSON file per license in `<data_dir>/source/`;
- mapping.py: the declarative TOML mapping of a department's existing tables to license
  types and item codes, checked with a clear error for each bad field;
- sql.py: `SqlSource`, read-only over SQLAlchemy Core (SQLite or PostgreSQL), SELECTs only;
- sidecar.py: govchain's own data beside the department's (the salt behind each item's
  commitment, which row each chain license stands for, the watcher's journal), in a small
  SQLite file of the node's data dir, never in the department's tables;
- sealing.py: the sidecar's encryption at rest (salts sealed, row keys hashed) under a key
  derived from the department's key, held however that key is held (file, token);
- validity.py: the department's validity dates as the chain's millisecond window;
- watch_plan.py: what a row asks of the license chain (anchor, supersede, set a status),
  as pure functions of the row, the sidecar's state of it and the time;
- watcher.py: the watcher's passes, its journaled submissions and its crash recovery,
  reaching the chain through a small interface the CLI implements over gRPC;
- opening.py: which adapter a node's data dir configures.

May import: chains (the privacy commitment formula, license ids), protos (the license
chain's messages the watcher builds).
"""
