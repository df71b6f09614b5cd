"""A stolen kiosk terminal key, on a real government testnet.

Agriculture registers a second kiosk with its own key (`govchain terminal register`);
that kiosk is stolen and agriculture revokes it (`govchain terminal revoke`). From then
on the thief's identity checks are refused by the authentication chain, and every
provider refuses pulls under a grant the stolen kiosk brokered; the hall's first kiosk
goes on working. Revoking the first kiosk (the genesis "terminal" entry that signs
grants) then voids the grants it signed, too.
"""

from __future__ import annotations

import io
from pathlib import Path

import nacl.signing
import pytest

from cli.main import main as govchain
from client.hall import REVOKED_SCREEN, Hall, Session, TerminalRevoked
from client.state import ChainState
from demo.specs import ITEM, KIOSK, REP_ID, SPECS
from demo.story import Demo
from protos import datashare_pb2 as ds
from protos import government_pb2 as government
from tests.e2e.harness import Testnet, wait_for
from tests.e2e.test_one_click_pull import government_net, material, pull_one  # noqa: F401

STOLEN = "haidian-kiosk-02"


@pytest.fixture(scope="module")
def demo(government_net: Testnet) -> Demo:  # noqa: F811 (the imported fixture)
    """A fresh government testnet of its own (this module's), driven as in the demo."""
    return Demo(government_net.root, out=io.StringIO())


def terminal_cli(demo: Demo, *args: str) -> int:
    """`govchain terminal …` as agriculture's operator types it, against its own node."""
    common = ["--node", demo.nodes["agriculture"], "--chain-id", demo.chain_id]
    common += ["--tls", str(demo.root / "tls")] if demo.tls else []
    key = str(demo.root / "keys" / "agriculture.tx.key")
    return govchain(["terminal", *args, *common, "--department-key", key])


def wait_revoked_at(demo: Demo, department: str, terminal_id: str) -> None:
    """The provider judges on its own committed ledger: wait until it holds the revocation
    (the window docs/applications.md describes)."""
    state = ChainState.connect(demo.nodes[department], demo.tls)
    wait_for(
        lambda: (state.terminal(terminal_id) or government.Terminal()).status == "revoked",
        15,
        f"{department}'s node to commit the revocation of {terminal_id}",
    )


def grant_on(demo: Demo, session: Session) -> str:
    """A grant (signed by the hall's first kiosk) for the demo company's first material,
    resting on `session`, an identity check another kiosk may have recorded."""
    spec = SPECS[0]
    items = {spec.department: [f"{spec.type_code}/{c}" for c in spec.values]}
    grant = demo.hall.consent(session, ITEM, items, 30 * 60_000, subject=demo.company, max_uses=9)
    return grant.grant_id


def test_a_stolen_terminal_key_is_refused_after_revocation(demo: Demo) -> None:
    anchored = demo.seed()
    spec = SPECS[0]
    stolen_key = nacl.signing.SigningKey.generate()
    public = bytes(stolen_key.verify_key).hex()
    register = ["register", "--terminal-id", STOLEN, "--department", "agriculture"]
    assert terminal_cli(demo, *register, "--public-key", public, "--location", "大厅 2") == 0
    stolen = Hall(
        demo.network,
        STOLEN,
        stolen_key,
        "agriculture",
        demo.keys["agriculture"],
        demo.subject_key,
        pull_tls=demo.kiosk_tls,
    )

    # Before the theft: the second kiosk checks an identity; a grant rests on it and pulls.
    session = stolen.start_session(REP_ID, face_ok=True)
    brokered = grant_on(demo, session)
    events = pull_one(demo, brokered, material(0, anchored), spec.department)
    assert events[-1].status == ds.OBTAINED

    # Stolen: agriculture revokes it, with a reason; a second revocation is refused.
    revoke = ["revoke", "--terminal-id", STOLEN, "--reason", "stolen from the Haidian hall"]
    assert terminal_cli(demo, *revoke) == 0
    assert terminal_cli(demo, *revoke) == 1
    revoked = demo.hall.state.terminal(STOLEN)
    assert revoked.status == "revoked" and revoked.revoke_reason.startswith("stolen")
    assert revoked.revoked_height > 0

    # The thief's identity check is refused, with the kiosk's clear message.
    with pytest.raises(TerminalRevoked) as refused:
        stolen.start_session(REP_ID, face_ok=True)
    assert REVOKED_SCREEN in str(refused.value) and f"height {revoked.revoked_height}" in str(
        refused.value
    )
    assert stolen.revoked() is not None and demo.hall.revoked() is None

    # The grant it brokered is void at every provider, once that provider has the block.
    wait_revoked_at(demo, spec.department, STOLEN)
    events = pull_one(demo, brokered, material(0, anchored), spec.department)
    assert events[-1].status == ds.DENIED
    assert f"terminal '{STOLEN}' was revoked" in events[-1].reason
    assert "recorded the grant's identity check" in events[-1].reason
    thief = pull_one(demo, brokered, material(0, anchored), spec.department, stolen_key)
    assert thief[-1].status == ds.DENIED and "not signed by a key" in thief[-1].reason

    # The hall's other kiosk goes on: identity check, consent, case, pull.
    _, grant_id, _ = demo.kiosk_session()
    events = pull_one(demo, grant_id, material(0, anchored), spec.department)
    assert events[-1].status == ds.OBTAINED

    # Revoking that kiosk too voids the grants it brokered, although the authorization
    # chain cannot know, and its own next identity check is refused.
    reason = ["--reason", "decommissioned"]
    assert terminal_cli(demo, "revoke", "--terminal-id", KIOSK, *reason) == 0
    wait_revoked_at(demo, spec.department, KIOSK)
    events = pull_one(demo, grant_id, material(0, anchored), spec.department)
    assert events[-1].status == ds.DENIED and f"terminal '{KIOSK}' was revoked" in events[-1].reason
    with pytest.raises(TerminalRevoked):
        demo.hall.start_session(REP_ID, face_ok=True)


def test_the_cli_refuses_bad_input_without_a_node(tmp_path: Path) -> None:
    key = tmp_path / "dept.key"
    key.write_text("00" * 32)
    args = ["terminal", "register", "--terminal-id", "k", "--department", "d"]
    args += ["--public-key", "zz", "--department-key", str(key)]
    assert govchain(args) == 2
