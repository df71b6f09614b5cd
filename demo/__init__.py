"""The kiosk demo: a first-time pesticide business permit pulled at a Haidian kiosk, told
against a running testnet through the SDK.

- specs.py: the service item, the company and the licenses its permit needs;
- story.py: the story (anchor, consent, one-click pull, submit, approve, audit);
- __main__.py: `python -m demo --dir TESTNET`, which `govchain demo` runs.

May import: cli (reading a testnet directory), client, node (a department's config),
chains, sources (the department records the demo seeds), protos. The CLI runs the demo as its own
process rather than importing it, so the two packages never import each other.
"""
