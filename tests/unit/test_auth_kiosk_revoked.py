"""A revoked kiosk at its face: the identity step the chain refuses because this very
terminal was revoked shows the citizen a clear "out of service, use another kiosk"
page (a 409 with the reason), never a traceback or the ID number."""

from __future__ import annotations

from typing import Any

from client.hall import REVOKED_SCREEN, Session, TerminalRevoked
from tests.unit.test_kiosk_web import (
    ID_NUMBER,
    FakeHall,
    assert_clean,
    kiosk,  # noqa: F401 (the fixture)
    post,
    to_identity,
)

WHY = "terminal 'kiosk-1' was revoked by 'agriculture' at height 12: stolen"


class RevokedHall(FakeHall):
    def start_session(self, id_number: str, face_ok: bool, **_: Any) -> Session:
        raise TerminalRevoked(f"{REVOKED_SCREEN} ({WHY})", 102)


def test_a_revoked_kiosk_says_so_at_the_identity_step(kiosk) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    client, _, _ = kiosk
    client.app.state.kiosk.hall = RevokedHall()  # the kiosk's SDK flow, now revoked
    csrf = to_identity(client)
    data = {"id_number": ID_NUMBER, "face_match": "yes", "csrf_token": csrf}
    r = post(client, "/identity", data)
    assert r.status_code == 409
    assert "本终端已停用" in r.text and "please use another kiosk" in r.text
    assert "height 12" in r.text
    assert_clean(r)
