"""The Python SDK: what a kiosk, a department's tool, the CLI or a benchmark uses to talk
to govchain validators from outside the node.

- tls.py: a party's TLS identity files (every connection is mutual TLS);
- connection.py: gRPC channel options, connecting, loading a signing key;
- txs.py: build and sign txs, submit, wait for commit, follow a channel's blocks;
- state.py: typed reads of each application's committed state (`ChainState`);
- pull_request.py, kiosk.py: the one-click pull seen from the requester.

May import: chains (the tx type, the applications' key layouts and query helpers, the
privacy functions that open and check pulled values) and protos. Never the node: a
client runs where no validator does, and the node itself uses `tls` and `connection` to
dial its peers.
"""
