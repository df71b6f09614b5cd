"""The department console: what a department's staff use to watch the network, explore
blocks with their proofs checked, review the department's service cases, audit who used
whose data, and approve governance proposals (`govchain console serve`).

It is a client of the network like any other face: it reads only committed state through
the SDK, checks every Merkle proof and commit certificate it shows itself, and signs with
the department's own key (which stays on the console host). Staff log in by signing a
fresh challenge with that key (auth.py); personal ID numbers typed into the audit page
are hashed into subject references at once and never logged or stored (audit.py).

- config.py: the settings (command line or console.toml) with clear errors;
- auth.py: challenges, login signatures, sessions with an idle expiry;
- ledger.py: reads of blocks, txs, statuses and the department registry;
- verify.py: a tx's proof and its block's certificate checked, one verdict per check;
- records.py: cases with their pull outcomes, the audit trail, case decisions;
- proposals.py: governance proposal files waiting for approvals;
- app.py and routes_*.py: the pages.
"""
