"""What the application tests share: applying an outcome the way the executor does.

The executor (node/executor.py) stages an application's writes only when the tx
succeeds; a refused tx keeps its place with a code and a reason and changes nothing.
The app tests and their state machines hold every outcome to that here, in one place.
"""

from __future__ import annotations

from chains.base import OK, Outcome


def apply_outcome(state: dict[bytes, bytes], out: Outcome) -> Outcome:
    """Write `out` into `state` like the executor; a refusal must carry a reason and no
    writes (else the test fails here, naming the code)."""
    if out.code != OK:
        assert not out.writes, f"refusal {out.code} ({out.reason}) carries writes"
        assert out.reason, f"refusal {out.code} without a reason"
        return out
    for key, value in out.writes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    return out
