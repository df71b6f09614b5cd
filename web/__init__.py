"""The web faces of govchain: the kiosk a citizen meets in a service hall, the console
department staff use, and the JSON gateway application developers call.

They are clients of the network like any other: they hold no ledger, sign with their own
terminal or department keys through the SDK, and show only what the validators have
committed. Shared here:

- app.py: the application factory every face starts from (sessions, CSRF, security
  headers, error pages without tracebacks, templates and vendored static files);
- security.py: CSRF tokens and the headers a public-facing page sends;
- errors.py: bad input answered with an HTTP status and a clear message, logged sampled
  and without personal values;
- serve.py: running an app under uvicorn until SIGTERM.

Each face is a subpackage (kiosk/, console/, gateway/) with its own routes and templates.
No front-end build step: templates are Jinja2, the little JavaScript there is and the
CSS are vendored in static/, since kiosks in government networks have no internet.

May import: client (the SDK: the kiosk flow, typed reads, evidence bundles) and protos
(the records the pages show).
"""
