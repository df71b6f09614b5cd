"""The JSON/HTTP gateway for application developers (`govchain gateway serve`).

An online hall, a mobile app or a department's own system does what a kiosk does —
sessions, consent, the one-click pull with live progress, case status, audit trails,
txs and blocks with their proofs — over plain JSON, without gRPC and without knowing
any key layout: the gateway is a client of the validators through the SDK (typed reads,
`client.hall` for the flow), signing with its own terminal key like a kiosk.

- config.py: the gateway's settings (testnet directory and/or TOML), clear errors;
- access.py: named, scoped API tokens (Bearer) and a token bucket per token;
- models.py: request and response shapes (the OpenAPI schemas);
- backend.py: the connection, one SDK `Hall` per department, the pulls;
- pulls.py: pulls in progress and their server-sent events;
- chain_view.py: txs and blocks as JSON, a tx's proof verified on the server;
- routes_read.py, routes_flow.py: the /v1 endpoints;
- app.py: the app (and /docs, a reference page); openapi.py: the committed document.
"""
