"""The kiosk demo: a first-time pesticide business permit pulled at a Haidian kiosk, told
against a running testnet through the SDK.

- specs.py: the service item, the company and the licenses its permit needs;
- departments.py: the four departments' own systems (a SQLite database each, in that
  department's own table and column names) and the `source.toml` mapping each for its node;
- story.py: the story (records issued in the departments' systems and anchored by their
  watchers, consent, one-click pull, submit, 秒批, audit);
- __main__.py: `python -m demo --dir TESTNET`, which `govchain demo` runs.

May import: cli (reading a testnet directory), client, node (a department's config),
chains, protos. The CLI runs the demo as its own process rather than importing it, so the
two packages never import each other; the watchers run as `govchain source watch`
processes, as a department runs them.
"""
