"""The gateway's OpenAPI document, as committed in docs/openapi.json.

    python -m web.gateway.openapi > docs/openapi.json

regenerates it (no network needed: the routes are the same unconnected); a test checks
that a running gateway serves exactly the committed document.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from web.gateway.app import unconnected_app


def document() -> dict[str, Any]:
    return unconnected_app().openapi()


def text() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(text())
