"""Hypothesis stateful tests of the catalog and license applications: random sequences of
valid and invalid txs from random departments (and an outsider). Each tx is drawn mostly
valid (signed by the record's owner, well formed) with one optional fault — a wrong
signer, a missing reference, a malformed field — and codes come from small pools, so
collisions, wrong owners and wrong states are frequent and accepted txs are too.

Invariants:
- a refused tx carries no writes, so it never changes state (`Harness.apply` checks
  every outcome; `send` compares the whole state);
- replaying the same txs with the same block contexts on a fresh state through a fresh
  application gives the same result codes and a byte-identical state (determinism);
- license: REVOKED, CANCELLED or EXPIRED never becomes VALID again; `effective_status`
  never reports VALID once valid_until_ms is reached; only the department that defines
  a license's type ever writes that license or its holder index;
- catalog: an entry is only ever written by its provider, and its version never goes back.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chains.base import Application, BlockContext
from chains.catalog import APPLIED, CatalogApplication, get_agreement, get_entry
from chains.codes import OK
from chains.license import (
    TERMINAL,
    LicenseApplication,
    effective_status,
    get_license,
    get_type,
    make_license_id,
)
from consensus.hashing import merkle_root
from protos import government_pb2 as government
from tests.apps import signed_tx
from tests.unit.test_catalog_app import DEPARTMENTS, KEYS, OUTSIDER, Harness

SETTINGS = settings(max_examples=50, stateful_step_count=30, deadline=None, derandomize=True)

DEPTS = sorted(KEYS)
OUTSIDE = "outsider"
ITEMS = ["a", "b", "c"]
SUBJECTS = [hashlib.sha256(bytes([i])).digest() for i in range(2)]
RESOURCES = st.sampled_from(["R1", "R2", "R3"])
TYPES = ["BL", "ID", "PT"]
Draw = Any  # hypothesis' data.draw


def fault(draw: Draw, *kinds: str) -> str | None:
    """None (a well-formed tx) about half the time, else one of `kinds`."""
    return draw(st.sampled_from([None] * len(kinds) + list(kinds)))


def other_dept(draw: Draw, dept: str | None) -> str:
    return draw(st.sampled_from([d for d in [*DEPTS, OUTSIDE] if d != dept]))


class AppMachine(RuleBasedStateMachine):
    """Sends txs through a Harness and checks the invariants every app shares."""

    channel = ""

    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(self.make_app(), self.channel)
        self.codes: list[int] = []

    def make_app(self) -> Application:
        raise NotImplementedError

    def send(self, signer: str, type_: str, payload: Any) -> dict[bytes, bytes | None]:
        """Apply one tx in its own block; the writes if accepted, else {} (and no change)."""
        before = dict(self.h.state)
        key = OUTSIDER if signer == OUTSIDE else KEYS[signer]
        tx = signed_tx(key, self.channel, type_, payload)
        out = self.h.apply(tx, BlockContext(len(self.h.log) + 1, self.h.now_ms, DEPARTMENTS))
        self.codes.append(out.code)
        if out.code != OK:
            assert self.h.state == before, f"refused {type_} changed state: {out.reason}"
            return {}
        return dict(out.writes)

    def teardown(self) -> None:
        """Determinism: the whole log, and the accepted txs alone, replayed on a fresh
        state through a fresh application give the same codes and the same bytes."""
        fresh = Harness(self.make_app(), self.channel)
        assert [fresh.apply(tx, ctx).code for tx, ctx in self.h.log] == self.codes
        assert fresh.state == self.h.state
        accepted = [entry for entry, code in zip(self.h.log, self.codes, strict=True) if code == OK]
        again = Harness(self.make_app(), self.channel)
        assert all(again.apply(tx, ctx).code == OK for tx, ctx in accepted)
        assert again.state == self.h.state


# ------------------------------------------------------------------ catalog


class CatalogMachine(AppMachine):
    channel = "catalog"

    def __init__(self) -> None:
        super().__init__()
        self.versions: dict[str, int] = {}

    def make_app(self) -> Application:
        return CatalogApplication()

    def owner_or_not(self, draw: Draw, code: str) -> str:
        """Mostly the entry's provider (if the entry exists), else any signer."""
        entry = get_entry(self.h, code)
        if entry is not None and draw(st.integers(0, 3)) < 3:
            return entry.provider
        return draw(st.sampled_from([*DEPTS, OUTSIDE]))

    @initialize()
    def seed(self) -> None:
        """Every department has duty D1 and one entry, so sharing rules are reached."""
        for dept, code in zip(DEPTS, ["R1", "R2", "R3"], strict=True):
            self.send(
                dept, "catalog.register_duty", government.RegisterDuty(code="D1", name="duty")
            )
            entry = government.CatalogEntry(
                resource_code=code,
                name="resource",
                provider=dept,
                duties=["D1"],
                items=[government.DataItem(code=i, name=i, sensitivity=2) for i in ITEMS],
                sharing=government.CONDITIONAL,
                sharing_conditions="when needed",
            )
            assert self.send(dept, "catalog.publish_entry", entry)

    @rule(signer=st.sampled_from([*DEPTS, OUTSIDE]), code=st.sampled_from(["D1", "D2", ""]))
    def register_duty(self, signer: str, code: str) -> None:
        self.send(signer, "catalog.register_duty", government.RegisterDuty(code=code, name="duty"))

    @rule(data=st.data(), code=RESOURCES, update=st.booleans())
    def publish(self, data: st.DataObject, code: str, update: bool) -> None:
        draw = data.draw
        signer = self.owner_or_not(draw, code)
        bad = fault(draw, "provider", "duty", "items", "sharing", "garbage")
        items = draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3, unique=True))
        entry = government.CatalogEntry(
            resource_code=code,
            name="resource",
            provider=other_dept(draw, signer) if bad == "provider" else signer,
            duties=["D9"] if bad == "duty" else ["D1"],
            items=[
                government.DataItem(code=i, name=i, sensitivity=2)
                for i in items * (1 + (bad == "items"))
            ],
            sharing=0 if bad == "sharing" else draw(st.sampled_from([1, 2, 2, 3])),  # type: ignore[arg-type]
            sharing_conditions="when needed",
        )
        type_ = "catalog.update_entry" if update else "catalog.publish_entry"
        payload = b"\xff\x01" if bad == "garbage" else entry
        for k in self.send(signer, type_, payload):
            if k.startswith(b"entry\x00"):
                stored = get_entry(self.h, code)
                assert stored is not None and stored.provider == signer

    @rule(data=st.data(), code=RESOURCES)
    def suspend(self, data: st.DataObject, code: str) -> None:
        # Mostly a random signer, so entries stay live long enough for sharing.
        if data.draw(st.integers(0, 3)) == 0:
            signer = self.owner_or_not(data.draw, code)
        else:
            signer = data.draw(st.sampled_from([*DEPTS, OUTSIDE]))
        self.send(
            signer, "catalog.suspend_entry", government.SuspendEntry(resource_code=code, reason="x")
        )

    @rule(
        data=st.data(),
        code=RESOURCES,
        items=st.lists(st.sampled_from([*ITEMS, *ITEMS, "z"]), min_size=1, max_size=2, unique=True),
    )
    def apply_share(self, data: st.DataObject, code: str, items: list[str]) -> None:
        entry = get_entry(self.h, code)
        provider = entry.provider if entry else None
        consumers = [d for d in DEPTS if d != provider]
        signer = data.draw(
            st.sampled_from([*consumers, *([provider] if provider else []), OUTSIDE])
        )
        msg = government.ApplyShare(resource_code=code, items=items, purpose="service")
        self.send(signer, "catalog.apply_share", msg)

    def pending(self, code: str) -> bool:
        return any(
            (a := get_agreement(self.h, code, d)) is not None and a.status == APPLIED for d in DEPTS
        )

    @rule(data=st.data(), approve=st.booleans())
    def decide(self, data: st.DataObject, approve: bool) -> None:
        codes = sorted(["R1", "R2", "R3"], key=lambda c: not self.pending(c))
        code = data.draw(st.sampled_from(codes))
        signer = self.owner_or_not(data.draw, code)
        applicants = sorted(DEPTS, key=lambda d: get_agreement(self.h, code, d) is None)
        consumer = data.draw(st.sampled_from(applicants))
        msg = government.DecideShare(resource_code=code, consumer=consumer, reason="decided")
        self.send(signer, "catalog.approve_share" if approve else "catalog.reject_share", msg)

    @rule(data=st.data(), code=RESOURCES, approve=st.booleans())
    def share_round(self, data: st.DataObject, code: str, approve: bool) -> None:
        """A consumer applies and the provider (mostly) decides at once: pending
        applications are otherwise rare by the time a decision is drawn."""
        entry = get_entry(self.h, code)
        if entry is None:
            return
        consumer = data.draw(st.sampled_from([d for d in DEPTS if d != entry.provider]))
        msg = government.ApplyShare(resource_code=code, items=ITEMS[:2], purpose="service")
        self.send(consumer, "catalog.apply_share", msg)
        signer = self.owner_or_not(data.draw, code)
        decision = government.DecideShare(resource_code=code, consumer=consumer, reason="decided")
        self.send(signer, "catalog.approve_share" if approve else "catalog.reject_share", decision)

    @invariant()
    def versions_never_go_back(self) -> None:
        for code in ("R1", "R2", "R3"):
            entry = get_entry(self.h, code)
            if entry is not None:
                assert entry.version >= self.versions.get(code, 1)
                self.versions[code] = entry.version


# ------------------------------------------------------------------ license


class LicenseMachine(AppMachine):
    channel = "license"

    def __init__(self) -> None:
        super().__init__()
        self.ever_dead: set[str] = set()
        self.ids: list[str] = []

    def make_app(self) -> Application:
        return LicenseApplication()

    def definer_or_not(self, draw: Draw, type_code: str) -> str:
        ltype = get_type(self.h, type_code)
        if ltype is not None and draw(st.integers(0, 3)) < 3:
            return ltype.department
        return draw(st.sampled_from([*DEPTS, OUTSIDE]))

    def send(self, signer: str, type_: str, payload: Any) -> dict[bytes, bytes | None]:
        writes = super().send(signer, type_, payload)
        for k in writes:  # only the defining department writes a license or its index
            parts = k.split(b"\x00")
            if parts[0] == b"license":
                lic = get_license(self.h, parts[1].decode())
                assert lic is not None
                type_code = lic.type_code
            elif parts[0] == b"holder":
                type_code = parts[2].decode()
            else:
                continue
            ltype = get_type(self.h, type_code)
            assert ltype is not None and ltype.department == signer
        return writes

    def license_type(self, code: str, dept: str) -> government.LicenseType:
        items = [government.DataItem(code=i, name=i, sensitivity=1) for i in ITEMS]
        return government.LicenseType(
            code=code, name="type", department=dept, holder_type="company", items=items
        )

    @initialize(data=st.data())
    def seed(self, data: st.DataObject) -> None:
        """Two types of two departments and a license of each, so status rules are reached."""
        for dept, code in [(DEPTS[0], "BL"), (DEPTS[1], "ID")]:
            assert self.send(dept, "license.register_type", self.license_type(code, dept))
            assert self.send(dept, "license.anchor", self.license(data.draw, code, dept, False))

    @rule(signer=st.sampled_from([*DEPTS, OUTSIDE]), code=st.sampled_from([*TYPES, "B-"]))
    def register_type(self, signer: str, code: str) -> None:
        dept = DEPTS[0] if signer == OUTSIDE else signer
        self.send(signer, "license.register_type", self.license_type(code, dept))

    def license(
        self, draw: Draw, type_code: str, issuer: str, faulty: bool = True
    ) -> government.License:
        bad = fault(draw, "root", "item", "expired", "id", "subject") if faulty else None
        serial = draw(st.integers(1, 4))
        codes = draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3, unique=True))
        codes += ["z"] if bad == "item" else []
        items = [
            government.ItemCommitment(code=c, commitment=hashlib.sha256(c.encode()).digest())
            for c in codes
        ]
        until = draw(st.sampled_from([0, 1_000, 5_000]))
        license_id = make_license_id(type_code, issuer, 2024, serial)
        self.ids.append(license_id)
        return government.License(
            license_id=license_id + "x" * (bad == "id"),
            type_code=type_code,
            issuer=issuer,
            subject_ref=draw(st.sampled_from(SUBJECTS))[: 31 if bad == "subject" else 32],
            valid_from_ms=self.h.now_ms - 10,
            valid_until_ms=self.h.now_ms - 5
            if bad == "expired"
            else until and self.h.now_ms + until,
            items=items,
            items_root=bytes(32) if bad == "root" else merkle_root([c.commitment for c in items]),
        )

    @rule(data=st.data(), type_code=st.sampled_from(TYPES))
    def anchor(self, data: st.DataObject, type_code: str) -> None:
        signer = self.definer_or_not(data.draw, type_code)
        issuer = other_dept(data.draw, signer) if data.draw(st.integers(0, 5)) == 5 else signer
        self.send(signer, "license.anchor", self.license(data.draw, type_code, issuer))

    def pick(self, draw: Draw) -> tuple[str, str]:
        """A license id seen so far and a signer, mostly its type's department."""
        anchored = [i for i in dict.fromkeys(self.ids) if get_license(self.h, i) is not None]
        license_id = draw(st.sampled_from([*anchored, "BL-nobody-2024-1"]))
        type_code = license_id.split("-")[0]
        return license_id, self.definer_or_not(draw, type_code)

    @rule(data=st.data(), to=st.integers(0, 6))
    def set_status(self, data: st.DataObject, to: int) -> None:
        license_id, signer = self.pick(data.draw)
        msg = government.SetLicenseStatus(license_id=license_id, status=to, reason="because")  # type: ignore[arg-type]
        self.send(signer, "license.set_status", msg)

    @rule(data=st.data())
    def supersede(self, data: st.DataObject) -> None:
        old, signer = self.pick(data.draw)
        msg = government.Supersede(license_id=old)
        stored = get_license(self.h, old)
        if stored is not None:
            msg.successor.CopyFrom(self.license(data.draw, stored.type_code, signer))
            if data.draw(st.integers(0, 3)) < 3:
                msg.successor.subject_ref = stored.subject_ref
        self.send(signer, "license.supersede", msg)

    @rule(ms=st.sampled_from([1, 999, 2_000, 6_000]))
    def advance_time(self, ms: int) -> None:
        self.h.now_ms += ms

    @invariant()
    def dead_licenses_stay_dead(self) -> None:
        now = self.h.now_ms
        for license_id in set(self.ids):
            lic = get_license(self.h, license_id)
            if lic is None:
                continue
            status = effective_status(lic, now)
            if lic.valid_until_ms and now >= lic.valid_until_ms:
                assert status != government.VALID
            if license_id in self.ever_dead:
                assert status in TERMINAL, f"{license_id} came back as {status}"
            if status in TERMINAL:
                self.ever_dead.add(license_id)


CatalogMachine.TestCase.settings = SETTINGS
LicenseMachine.TestCase.settings = SETTINGS
TestCatalogStateful = CatalogMachine.TestCase
TestLicenseStateful = LicenseMachine.TestCase
