"""The Python SDK: what a kiosk, a department's tool, the CLI or a benchmark uses to talk
to govchain validators from outside the node.

- tls.py: a party's TLS identity files (every connection is mutual TLS);
- connection.py: gRPC channel options, connecting, loading a signing key;
- keys.py, pkcs11_token.py: key custody behind one interface (a key file, plaintext or
  encrypted with a passphrase, or a key in a PKCS#11 token that signs and never lets the
  key out), for the node's validator and department keys and the CLI's;
- txs.py: build and sign txs, submit, wait for commit, follow a channel's blocks;
- state.py: typed reads of each application's committed state (`ChainState`: licenses,
  grants, sessions, service items and their materials, cases, catalog entries, access history,
  the validator-set history and pending change);
- departments.py: a department's setup for a license type (duty, catalog entry, type);
- pull_request.py, kiosk.py: the one-click pull seen from the requester (one provider);
- hall.py: the kiosk flow, one call per step (`Network`, `Hall.start_session`, `plan`,
  `consent`, `open_case`, `pull` — every material at once, events as they happen —
  `attach_and_submit`); what the kiosk, the console and the gateway build on;
- approval.py: what the chain decided on submission (秒批: approved in that block by the
  item's rule, or the rule's failures in plain Chinese and English: `Hall.decision`);
- evidence.py, evidence_verify.py: a pulled material's evidence bundle (`collect_evidence`,
  `read_evidence`, `write_evidence`) and its offline check (`verify_evidence`);
- archive.py, archive_verify.py: a channel's blocks exported into a block archive
  (chunks and a manifest) and its offline check (`verify_archive`);
- set_replay.py: a channel's validator sets replayed from genesis through certified
  governance blocks (the archive check and a joining node's snapshot check share it).

The API in one breath: `hall = Hall(Network.from_testnet(dir), terminal_id, terminal_key,
department, department_key, subject_key)`; `s = hall.start_session(id_number, True)`;
`g = hall.consent(s, item, {dept: items}, valid_ms, subject=...)`; `case =
hall.open_case(g)`; `for u in hall.pull(g, case, hall.plan(item, g.subject_ref)): ...`;
`hall.attach_and_submit(case, obtained, {name: scan})`; `collect_evidence(hall.stub,
chain_id, u.request, u.event, u.material.provider, genesis_dir)`. Refusals raise
`txs.TxRejected` with a message fit for a screen.

May import: chains (the tx type, the applications' key layouts and query helpers, the
privacy functions that open and check pulled values), consensus (hashing, canonical
decoding, certificates and membership: an evidence bundle is checked exactly as the
validators check blocks), crypto (signing with the channel's suite) and protos. Never
the node: a client runs where no validator does, and the node itself uses `tls` and
`connection` to dial its peers.
"""
