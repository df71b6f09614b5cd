"""The `govchain` command: everything an operator or developer types, outside the node.

- main.py: the command and its subcommands (`node start` runs the validator daemon of
  node/; `status`, `tx`, `query`, `watch`, `keygen`, `demo`, `bench`);
- testnet.py: `testnet init|up|down|status|add-node`, the local testnet process manager
  (also used by bench/ and the demos);
- governance.py, proposal_file.py, testnet_governance.py: validator-set and write-policy
  changes (`governance propose|approve|submit`, `testnet add-validator|remove-validator`);
- status_view.py: `govchain status`, every node and channel at a glance;
- demo.py: `govchain demo`, the pesticide-permit kiosk flow on a running testnet.

May import: node (its config, client library, TLS helpers and the daemon), chains,
storage, consensus, protos. Not bench/: `govchain bench` runs the benchmark as its own
process, since bench/ uses this package's testnet manager.
"""
