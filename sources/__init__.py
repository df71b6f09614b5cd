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
  commitment), in a small SQLite file of the node's data dir, never in the department's
  tables;
- anchor.py: the commitments of a license read from its source (salts made and kept in
  the sidecar);
- opening.py: which adapter a node's data dir configures.

May import: chains (the privacy commitment formula, for anchoring).
"""
