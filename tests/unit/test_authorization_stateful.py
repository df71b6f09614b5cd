"""The authorization application under random sequences of valid and invalid txs.

A hypothesis state machine creates, revokes and closes grants and records granted and
denied accesses, from the right and the wrong keys, while the block timestamp advances.
A small independent model predicts which txs must be accepted. Invariants: a "granted"
access is recorded only under a grant that was, at that moment, active, in its window,
in scope, for its grantee and below max uses; uses never exceed max uses; a refused tx
writes nothing; the access history lists every recorded access of a subject exactly once
in commit order; replaying the accepted txs on a fresh state gives byte-identical state.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.signing
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chains.authorization import (
    CLOSE_GRANT,
    CREATE_GRANT,
    RECORD_ACCESS,
    REVOKE_GRANT,
    AuthorizationApplication,
    access_history,
    get_grant,
)
from chains.base import BlockContext, Outcome
from chains.codes import OK
from chains.tx import DecodedTx
from protos import government_pb2 as government
from tests.apps import apply_outcome
from tests.unit.test_authorization_app import (
    AGRI,
    CENTER,
    DEPARTMENTS,
    KIOSK,
    MARKET,
    POLICE,
    STRANGER,
    signed,
)

T0_MS = 1_700_000_000_000
GRANT_IDS = ("g-0", "g-1", "g-2", "g-3")
SUBJECTS = (b"\x00" * 32, bytes(range(32)), b"\xff" * 32)
ITEM_POOL = ("license/name", "license/code", "id_card/name", "id_card/photo")
SIGNERS: dict[str, nacl.signing.SigningKey] = {
    "kiosk": KIOSK,
    "center": CENTER,
    "market": MARKET,
    "agri": AGRI,
    "police": POLICE,
    "stranger": STRANGER,
}
DEPT_OF = {
    "kiosk": "service-center",
    "center": "service-center",
    "market": "market",
    "agri": "agriculture",
    "police": "public-security",
    "stranger": None,
}


GRANT_FLAWS = (
    "no_items", "repeated_item", "bad_item", "empty_window", "zero_uses", "no_basis",
    "no_consent_hash", "unknown_grantee", "bad_subject", "not_terminal", "stranger",
)  # fmt: skip
PROVIDERS = ("agri", "police", "market")
ACCESS_FLAWS = (
    "reused_id", "stranger", "wrong_provider", "wrong_requester", "outside_items", "no_items",
)  # fmt: skip


def spoil_grant(grant: government.Grant, flaw: str | None) -> str | None:
    """Break one rule of a valid grant; returns a replacement signer for signer flaws."""
    if flaw == "no_items":
        del grant.items[:]
    elif flaw == "repeated_item":
        grant.items.append(grant.items[0])
    elif flaw == "bad_item":
        grant.items.append("no-slash")
    elif flaw == "empty_window":
        grant.valid_until_ms = grant.valid_from_ms
    elif flaw == "zero_uses":
        grant.max_uses = 0
    elif flaw == "no_basis":
        grant.legal_basis = government.LEGAL_BASIS_UNSPECIFIED
    elif flaw == "no_consent_hash":
        grant.legal_basis = government.CONSENT
        grant.consent_text_hash = b""
    elif flaw == "unknown_grantee":
        grant.grantee = "tax"
    elif flaw == "bad_subject":
        grant.subject_ref = grant.subject_ref[:31]
    elif flaw in ("not_terminal", "stranger"):
        return "market" if flaw == "not_terminal" else "stranger"
    return None


@dataclass
class ModelGrant:
    subject: bytes
    grantee: str
    issuer: str
    items: frozenset[str]
    from_ms: int
    until_ms: int
    max_uses: int
    uses: int = 0
    status: str = "active"

    def honours(self, requester: str, items: list[str], now_ms: int) -> bool:
        return (
            self.status == "active"
            and self.from_ms <= now_ms < self.until_ms
            and self.uses < self.max_uses
            and requester == self.grantee
            and bool(items)
            and set(items) <= self.items
        )


class AuthorizationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = AuthorizationApplication()
        self.state: dict[bytes, bytes] = {}
        self.now_ms = T0_MS
        self.accepted: list[tuple[DecodedTx, int]] = []
        self.grants: dict[str, ModelGrant] = {}
        self.history: dict[bytes, list[str]] = {s: [] for s in SUBJECTS}
        self.access_ids: list[str] = []

    def apply(self, tx: DecodedTx) -> Outcome:
        ctx = BlockContext(
            height=len(self.accepted) + 1, timestamp_ms=self.now_ms, departments=DEPARTMENTS
        )
        out = apply_outcome(self.state, self.app.apply(self.state, tx, ctx))
        if out.code == OK:
            self.accepted.append((tx, self.now_ms))
        return out

    @rule(delta_ms=st.sampled_from([0, 1, 250, 1000, 5000]))
    def advance(self, delta_ms: int) -> None:
        self.now_ms += delta_ms

    @rule(data=st.data())
    def advance_to_an_edge(self, data) -> None:
        """Block time lands exactly on a window edge (off-by-one checks); it never goes back."""
        edges = sorted(
            e
            for g in self.grants.values()
            for e in (g.from_ms - 1, g.from_ms, g.until_ms - 1, g.until_ms)
            if e >= self.now_ms
        )
        if edges:
            self.now_ms = data.draw(st.sampled_from(edges))

    @initialize(
        subject=st.sampled_from(SUBJECTS),
        items=st.lists(st.sampled_from(ITEM_POOL), min_size=1, max_size=3, unique=True),
        max_uses=st.integers(1, 3),
    )
    def first_grant(self, subject: bytes, items: list[str], max_uses: int) -> None:
        """Start with one usable grant, so that short runs reach the access rules."""
        self.create(
            "g-0", subject, "market", items, 0, 20_000, max_uses, government.CONSENT, "kiosk", None
        )

    @rule(
        gid=st.sampled_from(GRANT_IDS),
        subject=st.sampled_from(SUBJECTS),
        grantee=st.sampled_from(["market", "agriculture"]),
        items=st.lists(st.sampled_from(ITEM_POOL), min_size=1, max_size=3, unique=True),
        from_offset_ms=st.sampled_from([-2000, 0, 1000]),
        duration_ms=st.sampled_from([1, 1000, 4000, 60_000]),
        max_uses=st.integers(1, 3),
        basis=st.sampled_from([government.CONSENT, government.STATUTORY_DUTY]),
        signer=st.sampled_from(["kiosk", "center"]),
        flaw=st.none() | st.sampled_from(GRANT_FLAWS),
    )
    def create(
        self, gid, subject, grantee, items, from_offset_ms, duration_ms, max_uses, basis, signer,
        flaw,
    ) -> None:  # fmt: skip
        from_ms = self.now_ms + from_offset_ms
        grant = government.Grant(
            grant_id=gid,
            subject_ref=subject,
            grantee=grantee,
            items=items,
            valid_from_ms=from_ms,
            valid_until_ms=from_ms + duration_ms,
            max_uses=max_uses,
            legal_basis=basis,
            consent_text_hash=b"\x01" * 32,
        )
        signer = spoil_grant(grant, flaw) or signer
        out = self.apply(signed(SIGNERS[signer], CREATE_GRANT, grant))
        expected = flaw is None and gid not in self.grants
        assert (out.code == OK) == expected, out
        if expected:
            self.grants[gid] = ModelGrant(
                subject, grantee, DEPT_OF[signer], frozenset(items), from_ms,
                from_ms + duration_ms, max_uses,
            )  # fmt: skip

    def pick_grant(self, data) -> str:
        """Mostly a grant that exists, so that the rules past "not found" get exercised."""
        return data.draw(st.sampled_from([*sorted(self.grants) * 3, "g-never-created"]))

    @rule(signer=st.sampled_from(sorted(SIGNERS)), data=st.data())
    def revoke(self, signer: str, data) -> None:
        gid = self.pick_grant(data)
        out = self.apply(
            signed(SIGNERS[signer], REVOKE_GRANT, government.RevokeGrant(grant_id=gid))
        )
        g = self.grants.get(gid)
        dept = DEPT_OF[signer]
        expected = g is not None and g.status == "active" and dept in (g.issuer, g.grantee)
        assert (out.code == OK) == expected, out
        if expected:
            g.status = "revoked"

    @rule(signer=st.sampled_from(sorted(SIGNERS)), data=st.data())
    def close(self, signer: str, data) -> None:
        gid = self.pick_grant(data)
        out = self.apply(signed(SIGNERS[signer], CLOSE_GRANT, government.CloseGrant(grant_id=gid)))
        g = self.grants.get(gid)
        expected = g is not None and g.status == "active" and DEPT_OF[signer] == g.grantee
        assert (out.code == OK) == expected, out
        if expected:
            g.status = "closed"

    @rule(
        signer=st.sampled_from(PROVIDERS),
        flaw=st.none() | st.sampled_from(ACCESS_FLAWS),
        data=st.data(),
    )
    def record_granted(self, signer: str, flaw: str | None, data) -> None:
        self.record(signer, True, flaw, data)

    @rule(
        signer=st.sampled_from(PROVIDERS),
        flaw=st.none() | st.sampled_from(ACCESS_FLAWS),
        data=st.data(),
    )
    def record_denied(self, signer: str, flaw: str | None, data) -> None:
        self.record(signer, False, flaw, data)

    def record(self, signer: str, granted: bool, flaw: str | None, data) -> None:
        """A provider records an access; the model predicts whether it must be accepted."""
        gid = self.pick_grant(data)
        g = self.grants.get(gid)
        access_id = f"a-{len(self.access_ids) + 1000}"
        requester = g.grantee if g else "market"
        pool = sorted(g.items) if g else ["license/name"]
        items = data.draw(st.lists(st.sampled_from(pool), min_size=1, unique=True))
        provider = DEPT_OF[signer]
        if flaw == "reused_id" and self.access_ids:
            access_id = self.access_ids[-1]
        elif flaw == "stranger":
            signer = "stranger"
        elif flaw == "wrong_provider":
            provider = "market" if provider != "market" else "agriculture"
        elif flaw == "wrong_requester":
            requester = "public-security" if requester != "public-security" else "market"
        elif flaw == "outside_items":
            items = [*items, "other/x"]
        elif flaw == "no_items":
            items = []
        msg = government.AccessRecord(
            access_id=access_id,
            grant_id=gid,
            requester=requester,
            provider=provider,
            items=items,
            outcome="granted" if granted else "denied",
        )
        before = get_grant(self.state, gid)
        out = self.apply(signed(SIGNERS[signer], RECORD_ACCESS, msg))
        after = get_grant(self.state, gid)

        if out.code == OK and granted:
            # the safety invariant, checked on the stored grant, not the model
            assert before is not None and before.status == "active"
            assert before.valid_from_ms <= self.now_ms < before.valid_until_ms
            assert before.uses < before.max_uses
            assert requester == before.grantee
            assert items and set(items) <= set(before.items)
            assert after.uses == before.uses + 1
        else:
            assert after == before, "a denied or refused access uses nothing"

        expected = (
            DEPT_OF[signer] is not None
            and provider == DEPT_OF[signer]
            and access_id not in self.access_ids
            and (g is not None or not granted)
            and (not granted or g.honours(requester, items, self.now_ms))
        )
        assert (out.code == OK) == expected, out
        if not expected:
            return
        self.access_ids.append(access_id)
        if g is None:  # a denial under no grant: audited, but in no subject's history
            return
        self.history[g.subject].append(access_id)
        if granted:
            g.uses += 1
            if g.uses == g.max_uses:
                g.status = "exhausted"

    @invariant()
    def grants_match_the_model_and_never_exceed_max_uses(self) -> None:
        for gid in GRANT_IDS:
            stored = get_grant(self.state, gid)
            model = self.grants.get(gid)
            assert (stored is None) == (model is None)
            if stored is None:
                continue
            assert stored.uses <= stored.max_uses
            assert (stored.uses, stored.status) == (model.uses, model.status)

    @invariant()
    def access_history_lists_each_access_once_in_order(self) -> None:
        for subject in SUBJECTS:
            ids = [a.access_id for a in access_history(self.state, subject)]
            assert ids == self.history[subject]
            assert all(a.subject_ref == subject for a in access_history(self.state, subject))

    @invariant()
    def replaying_accepted_txs_gives_identical_state(self) -> None:
        fresh: dict[bytes, bytes] = {}
        for height, (tx, now_ms) in enumerate(self.accepted, start=1):
            out = self.app.apply(fresh, tx, BlockContext(height, now_ms, DEPARTMENTS))
            assert apply_outcome(fresh, out).code == OK, out
        assert fresh == self.state


AuthorizationMachine.TestCase.settings = settings(
    max_examples=50, stateful_step_count=30, deadline=None, derandomize=True
)
TestAuthorizationMachine = AuthorizationMachine.TestCase
