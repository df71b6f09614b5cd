"""A stolen kiosk terminal key, on a real government testnet.

Agriculture registers a second kiosk with its own key on every channel (`govchain
terminal prove` on the kiosk, `govchain terminal register` by the department), and the
kiosk, configured by a kiosk.toml as the web kiosk is (cli/kiosk_config.py), runs the
whole flow with that key: identity check, grant, case, pull, attachments, submission.
The kiosk is stolen and agriculture revokes it (`govchain terminal revoke`). From then
on the thief's identity checks are refused by the authentication chain, its grants and
case steps by the authorization and service channels, and every provider refuses pulls
under grants it brokered; the hall's first kiosk goes on working. Revoking the first
kiosk (a genesis "terminal" entry) then voids the grants it signed and its case steps.
"""

from __future__ import annotations

import io
from pathlib import Path

import grpc
import nacl.signing
import pytest

from chains.registry import terminal_proof
from cli.kiosk_config import settings_from_toml
from cli.main import main as govchain
from client.hall import REVOKED_SCREEN, Hall, Session, TerminalRevoked
from client.state import ChainState
from client.txs import signed_tx, submit
from demo.specs import ITEM, KIOSK, REP_ID, SPECS
from demo.story import SCAN, Demo
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


def register_second_kiosk(demo: Demo, key_file: Path, capsys: pytest.CaptureFixture) -> None:
    """The kiosk proves its key (on the kiosk); agriculture registers it everywhere."""
    prove = ["terminal", "prove", "--terminal-key", str(key_file), "--terminal-id", STOLEN]
    capsys.readouterr()
    assert govchain([*prove, "--department", "agriculture", "--chain-id", demo.chain_id]) == 0
    printed = dict(line.split() for line in capsys.readouterr().out.splitlines())
    register = ["register", "--terminal-id", STOLEN, "--department", "agriculture"]
    register += ["--public-key", printed["public_key"], "--proof", printed["proof"]]
    assert terminal_cli(demo, *register, "--location", "大厅 2") == 0
    out = capsys.readouterr().out
    for channel in ("authentication", "authorization", "service"):
        assert f"{channel}: registry.add_terminal: added" in out


def kiosk_toml(demo: Demo, key_file: Path) -> Hall:
    """The second kiosk as `govchain kiosk serve --config` would run it."""
    nodes = "\n".join(f'{d} = "{a}"' for d, a in demo.nodes.items())
    tls = (
        '[tls]\nca = "tls/ca.crt"\ncert = "tls/kiosk.crt"\nkey = "tls/kiosk.key"\n'
        if demo.tls
        else ""
    )
    path = demo.root / "kiosk-02.toml"
    path.write_text(
        f'chain_id = "{demo.chain_id}"\nterminal_id = "{STOLEN}"\n'
        f'terminal_key_file = "{key_file.name}"\nrequester = "agriculture"\n'
        'requester_key_file = "keys/agriculture.tx.key"\nsubject_key_file = "keys/subject.key"\n'
        f'items = ["{ITEM}"]\n{"" if demo.tls else "insecure = true"}\n'
        f"[nodes]\n{nodes}\n{tls}"
    )
    return settings_from_toml(path).hall()


def kiosk_of(demo: Demo, hall: Hall) -> Demo:
    """A demo driver whose kiosk steps run on `hall` (ids apart from `demo`'s)."""
    other = Demo(demo.root, out=io.StringIO())
    other.hall, other.serial = hall, demo.serial + 1
    return other


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


def refused_at_admission(hall: Hall, key: nacl.signing.SigningKey) -> list[str]:
    """A grant and a case step signed with `key`, sent as raw txs: why admission refuses
    each (the whole call, as no tx of it is admitted)."""
    grant = government.Grant(grant_id="G-thief", terminal_id=STOLEN).SerializeToString()
    case = government.Case(case_number="C-thief", item_code=ITEM).SerializeToString()
    chain_id = hall.network.chain_id
    raws = [
        signed_tx(key, chain_id, "authorization", "authorization.create_grant", grant),
        signed_tx(key, chain_id, "service", "service.open_case", case),
    ]
    details = []
    for raw in raws:
        with pytest.raises(grpc.RpcError) as refused:
            submit(hall.stub, [raw])
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        details.append(refused.value.details())
    return details


def test_a_stolen_terminal_key_is_refused_after_revocation(
    demo: Demo, capsys: pytest.CaptureFixture
) -> None:
    anchored = demo.seed()
    spec = SPECS[0]
    stolen_key = nacl.signing.SigningKey.generate()
    key_file = demo.root / "kiosk-02.key"
    key_file.write_text(bytes(stolen_key).hex())
    register_second_kiosk(demo, key_file, capsys)
    stolen = kiosk_toml(demo, key_file)
    second = kiosk_of(demo, stolen)

    # Before the theft, the whole flow on the second kiosk's own key.
    session_id, grant_id, case = second.kiosk_session()
    assert stolen.state.grant(grant_id).terminal_id == STOLEN  # type: ignore[union-attr]
    second.one_click_pull(grant_id, case, anchored)
    assert stolen.attach_and_submit(case, second.pulled[case], {SCAN: b"scan"}) > 0
    assert stolen.state.case(case).status != "open"  # type: ignore[union-attr]
    # and a case it opened, and a session a grant of the first kiosk rests on
    _, open_grant, open_case = second.kiosk_session()
    session = stolen.start_session(REP_ID, face_ok=True)
    brokered = grant_on(demo, session)
    events = pull_one(demo, brokered, material(0, anchored), spec.department)
    assert events[-1].status == ds.OBTAINED

    # Stolen: agriculture revokes it, with a reason, on every channel; a second run finds
    # it all done already.
    revoke = ["revoke", "--terminal-id", STOLEN, "--reason", "stolen from the Haidian hall"]
    assert terminal_cli(demo, *revoke) == 0
    assert "service: registry.remove_terminal: removed" in capsys.readouterr().out
    assert terminal_cli(demo, *revoke) == 0
    again = capsys.readouterr().out
    assert (
        "revoked already" in again
        and "authorization: registry.remove_terminal: removed already" in again
    )
    wait_for(lambda: stolen.revoked() is not None, 15, "the kiosk's node to commit it")
    revoked = stolen.state.terminal(STOLEN)
    assert revoked.status == "revoked" and revoked.revoke_reason.startswith("stolen")
    assert revoked.revoked_height > 0

    # The thief's identity check, grants and case steps are refused, with the kiosk's
    # clear message; the chains refuse its key as no registered key any more.
    with pytest.raises(TerminalRevoked) as refused:
        stolen.start_session(REP_ID, face_ok=True)
    assert REVOKED_SCREEN in str(refused.value) and f"height {revoked.revoked_height}" in str(
        refused.value
    )
    earlier = Session(session_id, demo.company, STOLEN, session.expires_ms, True)
    with pytest.raises(TerminalRevoked):
        stolen.consent(earlier, ITEM, {"agriculture": ["x/y"]}, 60_000, subject=demo.company)
    with pytest.raises(TerminalRevoked):
        stolen.open_case(government.Grant(case_number="C-after", service_item=ITEM))
    with pytest.raises(TerminalRevoked):
        stolen.attach_and_submit(open_case, [], {SCAN: b"scan"})
    assert all(
        "not a registered department key" in d for d in refused_at_admission(stolen, stolen_key)
    )
    assert stolen.state.case(open_case).status == "open"  # type: ignore[union-attr]
    assert demo.hall.revoked() is None

    # The grants it brokered are void at every provider, once that provider has the block.
    wait_revoked_at(demo, spec.department, STOLEN)
    for grant in (brokered, open_grant):
        events = pull_one(demo, grant, material(0, anchored), spec.department)
        assert events[-1].status == ds.DENIED
        assert f"terminal '{STOLEN}' was revoked" in events[-1].reason
    thief = pull_one(demo, brokered, material(0, anchored), spec.department, stolen_key)
    assert thief[-1].status == ds.DENIED and "not signed by a key" in thief[-1].reason

    # The hall's other kiosk goes on: identity check, consent, case, pull, submission.
    _, grant_id, case = demo.kiosk_session()
    demo.one_click_pull(grant_id, case, anchored)
    assert demo.hall.attach_and_submit(case, demo.pulled[case], {SCAN: b"scan"}) > 0
    _, grant_id, case = demo.kiosk_session()

    # Revoking that kiosk too (a genesis entry) voids the grants it brokered, and its next
    # identity check and case step are refused.
    reason = ["--reason", "decommissioned"]
    assert terminal_cli(demo, "revoke", "--terminal-id", KIOSK, *reason) == 0
    wait_revoked_at(demo, spec.department, KIOSK)
    events = pull_one(demo, grant_id, material(0, anchored), spec.department)
    assert events[-1].status == ds.DENIED and f"terminal '{KIOSK}' was revoked" in events[-1].reason
    wait_for(lambda: demo.hall.revoked() is not None, 15, "the kiosk's node to commit it")
    with pytest.raises(TerminalRevoked):
        demo.hall.start_session(REP_ID, face_ok=True)
    with pytest.raises(TerminalRevoked):
        demo.hall.attach_and_submit(case, [], {SCAN: b"scan"})


def test_the_cli_refuses_bad_input_without_a_node(tmp_path: Path) -> None:
    key = tmp_path / "dept.key"
    key.write_text("00" * 32)
    args = ["terminal", "register", "--terminal-id", "k", "--department", "d"]
    args += ["--department-key", str(key), "--node", "127.0.0.1:1"]
    assert govchain([*args, "--public-key", "zz", "--proof", "00"]) == 2  # not hex
    assert govchain([*args, "--public-key", "00" * 32]) == 2  # no proof
    assert govchain([*args, "--terminal-key", str(key), "--proof", "00"]) == 2  # both ways
    missing = ["terminal", "prove", "--terminal-key", str(tmp_path / "none.key")]
    assert govchain([*missing, "--terminal-id", "k", "--department", "d"]) == 2


def test_prove_prints_what_the_registry_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    seed = bytes(range(32))
    (tmp_path / "kiosk.key").write_text(seed.hex())
    prove = ["terminal", "prove", "--terminal-key", str(tmp_path / "kiosk.key")]
    assert govchain([*prove, "--terminal-id", "k-9", "--department", "d", "--chain-id", "c"]) == 0
    printed = dict(line.split() for line in capsys.readouterr().out.splitlines())
    key = nacl.signing.SigningKey(seed)
    assert printed["public_key"] == bytes(key.verify_key).hex()
    assert printed["proof"] == terminal_proof(key, "c", "d", "k-9").hex()
