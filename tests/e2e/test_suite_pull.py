"""The one-click pull end to end on a government testnet of the national (国密) suite
(`testnet init --crypto-suite sm2-sm3`): the demo story takes the suite from the
testnet's genesis, so departments sign with SM2, watchers anchor SM3 commitments under an
HMAC-SM3 subject reference, providers seal each value to the kiosk's SM2 key, and the
kiosk opens and checks every pulled value against its SM3 commitment on chain. An evidence
bundle of a pull then verifies offline with SM3 and SM2, and not as an SHA-256 bundle.
"""

from __future__ import annotations

import hmac
import io
from pathlib import Path

from client.evidence import collect_evidence
from client.evidence_verify import verify_evidence
from client.hall import PullUpdate
from crypto import SuiteSigner, suite_by_name
from demo.specs import COMPANY_ID, SPECS
from demo.story import Demo
from tests.e2e.harness import Testnet

SM2 = suite_by_name("sm2-sm3")


def check_evidence(demo: Demo, update: PullUpdate) -> None:
    """The bundle names its suite, and every check passes with it (SM3 ids, proof and
    block hash, SM2 signatures of the tx, the commits and the pull request); read as an
    `ed25519-sha256` bundle, the tx does not even decode."""
    provider = update.material.provider
    net = demo.network
    bundle = collect_evidence(
        demo.stub, demo.chain_id, update.request, update.event, provider, net.genesis_dir, "sm2-sm3"
    )
    assert bundle["crypto_suite"] == "sm2-sm3"
    checks = verify_evidence(bundle)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert "sm2-sm3" in checks[0].detail
    as_default = {k: v for k, v in bundle.items() if k != "crypto_suite"}
    failed = {c.name for c in verify_evidence(as_default) if not c.ok}
    assert {"tx decodes", "tx id", "merkle proof", "block hash"} <= failed


def test_the_one_click_pull_runs_on_an_sm2_sm3_government_testnet(tmp_path: Path) -> None:
    net = Testnet(
        tmp_path / "net",
        app="government",
        crypto_suite="sm2-sm3",
        view_change_timeout_ticks=20,
        status_interval_ticks=5,
    )
    net.start_all()
    try:
        demo = Demo(net.root, out=io.StringIO())
        assert demo.suite is SM2 and isinstance(demo.keys["agriculture"], SuiteSigner)
        normalised = b"govchain-subject|" + "".join(COMPANY_ID.split()).upper().encode()
        assert demo.company == hmac.new(demo.subject_key, normalised, "sm3").digest()
        anchored = demo.seed()
        for lic in anchored.values():
            assert lic.items_root == SM2.merkle_root([c.commitment for c in lic.items])
        _, grant_id, case = demo.kiosk_session()
        demo.one_click_pull(grant_id, case, anchored)
        updates = demo.pulled[case]
        assert len(updates) == len(SPECS)
        for update in updates:
            assert update.items and all(item.verified for item in update.items)
        check_evidence(demo, updates[0])
        demo.finish_case(case)
        output = demo.out.getvalue()
        assert output.count("区块链获取") == 4 and "permit issued" in output
    finally:
        net.stop_all()
