"""The `govchain` command: everything an operator or developer types, outside the node.

- main.py: the command and its subcommands (`node start` runs the validator daemon of
  node/; `status`, `tx`, `query`, `watch`, `demo`, `bench`);
- keygen.py: `govchain keygen`, a key file (hex or encrypted) or a key in a PKCS#11 token;
- ca.py: `govchain ca revoke|crl`, the consortium CA's certificate revocation list;
- testnet.py: `testnet init|up|down|status|add-node`;
- testnet_files.py: a testnet directory as a library (node dirs, addresses, TLS, keys),
  for the commands, bench/, scripts and the demos;
- processes.py: the one node process manager (`node_command`, start, wait until ready,
  stop, kill, restart, logs), used by `testnet up|down`, bench/ and the e2e/multi-host tests;
- governance.py, proposal_file.py, testnet_governance.py: validator-set and write-policy
  changes (`governance propose|approve|submit`, `testnet add-validator|remove-validator`);
- department.py: `department rotate-key`, a department's tx key replaced on every channel;
- status_view.py: `govchain status`, every node and channel at a glance;
- backup.py: `govchain backup|restore`, a running node backed up, restored into an empty
  data dir;
- evidence.py: `govchain verify-evidence FILE`, an evidence bundle checked offline;
- archive.py: `govchain archive export|verify`, a channel's blocks archived from a node
  and checked offline;
- kiosk_config.py: `govchain kiosk serve`, the kiosk web app configured from a testnet
  directory or a kiosk.toml;
- gateway_cli.py: `govchain gateway serve|token`, the JSON/HTTP gateway of web/gateway/;
- console_commands.py, console_proposals.py: `govchain console serve|sign-login`, a
  department's web console (web/console/) and the proposal files it approves;
- source_watch.py: `govchain source watch|status`, the department's watcher
  (sources/watcher.py) linked to its node over gRPC;
- terminal.py: `govchain terminal register|revoke`, a department's kiosk terminals and
  their own keys on the authentication chain;
- ports.py: free local ports for testnets made on one machine (tests, benchmark).

May import: client (the SDK), node (its config, TLS helpers and the daemon), chains,
storage, consensus, crypto (the testnet's keys), sources (the watcher), protos, web (the
faces it serves). Not bench/ or demo/: `govchain bench` and `govchain demo` run them as
their own processes, since both use this package's testnet files.
"""
