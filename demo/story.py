"""The kiosk story `govchain demo` tells: a first-time pesticide business permit at a Haidian kiosk.

On a running testnet (made with `govchain testnet init --app government`): departments publish
their catalog and license types; the demo company's licenses are anchored (commitments on
chain, values in each issuing department's own records); agriculture publishes the
service item and its materials; the legal representative logs in at the kiosk with ID
card and face check, consents, and the kiosk pulls the four on-chain materials from the
four departments at once, showing each move from 拉取中 to 区块链获取; the fifth material is
scanned; the case is submitted and, under agriculture's approval rule (秒批), approved in
the very block that holds the submission (without a rule, or when the rule is not met,
agriculture approves it by hand); the permit is issued as a new license; finally the
audit trail answers "who used my data".
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import nacl.signing
from google.protobuf.message import Message

from chains.codes import ALREADY_EXISTS
from chains.privacy import SALT_BYTES, commit_item, items_root
from chains.service import get_rule
from cli.testnet_files import tls_of_testnet
from client.connection import client_tls, load_signing_key
from client.departments import publish_license_type
from client.hall import Hall, MaterialPlan, Network, PullUpdate
from client.state import ChainState
from client.txs import send_message
from demo.departments import connect_sources, issue, row_of
from demo.specs import COMPANY_ID, ITEM, KIOSK, REP_ID, RULE, SPECS, LicenseSpec
from protos import api_pb2 as api
from protos import datashare_pb2 as ds
from protos import government_pb2 as government

SCAN = "仓储设施照片 storage photos"


def public_key(key: object) -> bytes:
    """A signing key's public key: nacl's shape (`verify_key`) or a suite's signer."""
    verify_key = getattr(key, "verify_key", None)
    return bytes(verify_key) if verify_key is not None else key.public_key  # type: ignore[attr-defined]


class Demo:
    def __init__(self, root: Path, out=sys.stdout) -> None:
        self.root = root
        self.out = out
        self.network = Network.from_testnet(root)
        self.nodes = self.network.nodes
        self.chain_id = self.network.chain_id
        self.tls = self.network.tls
        # the kiosk pulls with its own certificate (a testnet's tls/kiosk.*), if it has TLS
        self.kiosk_tls = client_tls(root / "tls", "kiosk") if tls_of_testnet(root) else None
        # The testnet's crypto suite (its genesis): keys, commitments and sealing follow it.
        self.suite = self.network.suite
        suite = self.network.crypto_suite
        keys = root / "keys"
        self.keys = {d: load_signing_key(keys / f"{d}.tx.key", suite=suite) for d in self.nodes}
        self.kiosk = load_signing_key(keys / "kiosk.key", suite=suite)
        self.subject_key = bytes.fromhex((root / "keys" / "subject.key").read_text().strip())
        self.hall = Hall(
            self.network,
            KIOSK,
            self.kiosk,
            "agriculture",
            self.keys["agriculture"],
            self.subject_key,
            pull_tls=self.kiosk_tls,
        )
        self.stub = self.hall.stub
        self.company = self.hall.subject_ref(COMPANY_ID)
        self.year = time.strftime("%Y")
        self.serial = int(time.time()) % 10**8
        self.sessions = 0
        self.pulled: dict[str, list[PullUpdate]] = {}  # case -> its obtained materials

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # ------------------------------------------------------------------ txs

    def ensure(
        self, channel: str, tx_type: str, payload: Message, key: nacl.signing.SigningKey
    ) -> None:
        """Like `must`, but a record that already exists (a re-run of the demo) is fine."""
        send_message(self.stub, self.chain_id, channel, tx_type, payload, key, (0, ALREADY_EXISTS))

    def must(
        self, channel: str, tx_type: str, payload: Message, key: nacl.signing.SigningKey
    ) -> api.TxResult:
        """Commit one operation; a refusal (a RuntimeError) stops the demo with its reason."""
        return send_message(self.stub, self.chain_id, channel, tx_type, payload, key)

    # ------------------------------------------------------------------ steps

    def seed(self) -> dict[str, government.License]:
        """Everything on chain before the applicant arrives (steps 1-3). Returns the
        company's anchored licenses by type code."""
        self.say("1. departments publish their catalog entries and license types")
        for spec in SPECS:
            self.publish_license_type(spec)
        self.say("2. each department's own system (its own database and tables) records the")
        self.say("   company's license; its watcher anchors it: salted commitments on chain")
        anchored = self.anchor_company(COMPANY_ID, SPECS[0].values["name"])
        self.say("3. agriculture publishes the service item and the materials it needs")
        self.publish_service_item()
        return anchored

    def publish_license_type(self, spec: LicenseSpec) -> None:
        """The issuing department's duty, catalog entry and license type for one license."""
        publish_license_type(
            self.stub,
            self.chain_id,
            self.keys[spec.department],
            spec.department,
            spec.type_code,
            spec.name,
            spec.holder,
            list(spec.values),
        )

    def anchor_company(self, company_id: str, company_name: str) -> dict[str, government.License]:
        """Each issuing department's own system records one license for the company (a
        row in its own table), then each department's watcher anchors it; the company's
        licenses in force on chain, by type code."""
        connect_sources(self.root)
        serial = int.from_bytes(hashlib.sha256(company_id.encode()).digest()[:4], "big")
        for spec in SPECS:
            issue(self.root, spec, row_of(spec, company_id, company_name, serial))
        self.run_watchers()
        ref = self.hall.subject_ref(company_id)
        state = ChainState.connect(self.network.any_node(), self.tls)
        anchored = {}
        for spec in SPECS:
            live = [lic for lic in state.licenses_of(ref, spec.type_code) if lic.status == 1]
            if not live:
                raise RuntimeError(f"the watcher anchored no {spec.type_code} for the company")
            anchored[spec.type_code] = live[-1]
            self.say(f"   {spec.name:44} {live[-1].license_id}")
        return anchored

    def run_watchers(self) -> None:
        """`govchain source watch --once` for every issuing department, side by side."""
        procs = {
            department: subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cli.main",
                    "source",
                    "watch",
                    "--once",
                    "--config",
                    str(self.root / department / "config.toml"),
                    "--subject-key",
                    str(self.root / "keys" / "subject.key"),
                    "--interval",
                    "0.2",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for department in sorted({spec.department for spec in SPECS})
        }
        for department, proc in procs.items():
            out, _ = proc.communicate(timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"{department}'s watcher failed:\n{out[-2000:]}")

    def publish_service_item(self) -> None:
        """Agriculture's service item, the materials it needs (four from chain, one
        scanned), and the kiosk as a registered terminal."""
        agri = self.keys["agriculture"]
        self.ensure(
            "service",
            "service.publish_item",
            government.ServiceItem(
                code=ITEM,
                name="农药经营许可（首次申请） first-time pesticide business permit",
                department="agriculture",
                legal_basis="农药管理条例 第二十四条",
                acceptance_conditions="complete materials",
                time_limit_days=20,
            ),
            agri,
        )
        materials = [
            government.Material(
                name=spec.name,
                required=True,
                license_type=spec.type_code,
                items=[f"{spec.type_code}/{c}" for c in spec.values],
            )
            for spec in SPECS
        ] + [government.Material(name=SCAN, required=True, scan=True)]
        self.must(
            "service",
            "service.publish_materials",
            government.Materials(item_code=ITEM, materials=materials),
            agri,
        )
        self.ensure(
            "authentication",
            "authentication.register_terminal",
            government.Terminal(
                terminal_id=KIOSK,
                kind="kiosk",
                department="agriculture",
                public_key=public_key(self.kiosk),
                location="海淀区政务服务中心",
            ),
            agri,
        )

    def kiosk_session(
        self, items: list[str] | None = None, valid_ms: int = 30 * 60_000
    ) -> tuple[str, str, str]:
        """Steps 4-5 through the SDK's kiosk calls: identity check, consent, case."""
        self.sessions += 1
        tag = f"{self.serial}{self.sessions:03d}"
        self.say("4. kiosk: ID card + face check of the legal representative")
        session = self.hall.start_session(REP_ID, face_ok=True, session_id=f"S{tag}")
        self.say("5. consent: the company grants agriculture exactly the items the permit needs")
        by_department: dict[str, list[str]] = {}
        for s in SPECS:
            by_department.setdefault(s.department, []).extend(
                f"{s.type_code}/{c}" for c in s.values
            )
        if items:  # a narrower consent (the tests' refusals)
            by_department = {"agriculture": items}
        grant = self.hall.consent(
            session,
            ITEM,
            by_department,
            valid_ms,
            subject=self.company,
            purpose="首次申请农药经营许可",
            consent_text="我同意…",
            grant_id=f"G{tag}",
            case_number=f"C{tag}",
            max_uses=len(SPECS),
        )
        case = self.hall.open_case(grant)
        return session.session_id, grant.grant_id, case

    def one_click_pull(
        self, grant_id: str, case: str, anchored: dict[str, government.License]
    ) -> float:
        self.say("6. one-click pull (一键拉取): four materials from four departments at once")
        plans = [
            MaterialPlan(
                spec.name,
                True,
                False,
                spec.type_code,
                tuple(f"{spec.type_code}/{c}" for c in spec.values),
                anchored[spec.type_code],
            )
            for spec in SPECS
        ]
        results: dict[str, str] = {}
        obtained: list[PullUpdate] = []
        start = time.monotonic()
        for u in self.hall.pull(grant_id, case, plans):
            ev = u.event
            extra = f" — {ev.reason}" if ev.reason else ""
            if ev.status == ds.OBTAINED:
                ok = u.verified
                extra = f" ({len(u.items)} items, commitments {'verified' if ok else 'MISMATCH'})"
                obtained.append(u)
            self.say(f"   {ev.material:44} {ev.label_zh} {ev.label_en}{extra}")
            results[u.material.name] = ds.PullStatus.Name(ev.status)
        elapsed = time.monotonic() - start
        self.pulled[case] = obtained
        self.say(
            "   仓储设施照片 storage photos                    需扫描 not on chain — scan required"
        )
        if any(v != "OBTAINED" for v in results.values()):
            raise RuntimeError(f"pull did not obtain every material: {results}")
        self.say(f"   all four on-chain materials obtained in {elapsed:.2f} s")
        return elapsed

    def publish_rule(self) -> int:
        """Agriculture's approval rule for the item (秒批); returns its version (each
        change, a re-run of the demo too, bumps it)."""
        self.say("3b. agriculture sets the item's approval rule (秒批): every material,")
        self.say("    each license pulled from its chain and valid at the block time")
        rule = government.ApprovalRule(item_code=ITEM, **RULE)
        self.must("service", "service.set_rule", rule, self.keys["agriculture"])
        stored = get_rule(self.hall.state.on("service"), ITEM)
        assert stored is not None
        self.say(f"    rule v{stored.version} in force")
        return stored.version

    def finish_case(self, case: str) -> None:
        """Step 7: the kiosk attaches the pulled materials and the scan and submits the
        case. Under the item's rule the chain approves it in that block (秒批) and
        agriculture issues the permit; otherwise agriculture takes it through its
        stages by hand, issues the permit and records it."""
        self.say("7. attach materials, scan the photos, submit")
        height = self.hall.attach_and_submit(case, self.pulled.get(case, []), {SCAN: b"scan"})
        decision = self.hall.decision(case)
        if decision is not None and decision.instant:
            assert decision.result is not None
            self.say(
                f"   approved instantly (秒批) in block {decision.height}, the block that holds"
                f" the submission ({height}), by rule v{decision.result.rule_version}"
            )
            self.say(f"   permit issued: {self.issue_permit().license_id}")
            return
        if decision is not None:
            for f in decision.failures:
                self.say(f"   rule v{decision.rule_version} not met — {f.material}: {f.en}")
        self.say("   agriculture approves by hand and issues the permit")
        agri = self.keys["agriculture"]
        for stage in ("accepted", "reviewed"):
            self.must(
                "service",
                "service.record_stage",
                government.CaseStep(case_number=case, stage=stage),
                agri,
            )
        permit = self.issue_permit()
        self.must(
            "service",
            "service.record_result",
            government.CaseResult(
                case_number=case, result="approved", license_id=permit.license_id
            ),
            agri,
        )
        self.say(f"   permit issued: {permit.license_id}")

    def issue_permit(self) -> government.License:
        """Agriculture issues the permit as a new license on chain (its type first)."""
        agri = self.keys["agriculture"]
        now = int(time.time() * 1000)
        permit_type = government.LicenseType(
            code="PEST01",
            name="农药经营许可证 pesticide business permit",
            department="agriculture",
            holder_type="company",
            items=[government.DataItem(code="scope", name="scope", type="string", sensitivity=1)],
        )
        self.ensure("license", "license.register_type", permit_type, agri)
        salt = os.urandom(SALT_BYTES)
        c = government.ItemCommitment(
            code="scope", commitment=commit_item(salt, "scope", "农药零售".encode(), self.suite)
        )
        permit = government.License(
            license_id=f"PEST01-agriculture-{self.year}-{self.serial:08d}",
            type_code="PEST01",
            issuer="agriculture",
            subject_ref=self.company,
            valid_from_ms=now,
            valid_until_ms=now + 5 * 365 * 86_400_000,
            status=government.VALID,
            items=[c],
            items_root=items_root([c.commitment], self.suite),
            source_ref="agriculture:permits",
        )
        self.must("license", "license.anchor", permit, agri)
        return permit

    def audit(self) -> None:
        self.say("8. audit trail — who used the company's data, when, for what:")
        state = ChainState.connect(self.network.any_node(), self.tls)
        for r in state.access_history(self.company):
            when = time.strftime("%H:%M:%S", time.localtime(r.time_ms / 1000))
            self.say(f"   {when} {r.requester} ← {r.provider}: {r.outcome} {', '.join(r.items)}")

    def run(self) -> float:
        anchored = self.seed()
        self.publish_rule()
        _, grant_id, case = self.kiosk_session()
        elapsed = self.one_click_pull(grant_id, case, anchored)
        self.finish_case(case)
        self.audit()
        return elapsed
