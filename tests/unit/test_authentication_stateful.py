"""The authentication application (chains.authentication) under random sequences of valid
and invalid txs, driven by a hypothesis state machine over a dict-backed state.

Departments register terminals (with the wrong department, an unknown department, a
stranger's key, a duplicate id, a malformed key, id, kind or location), and terminals
record identity checks (signed by the terminal's own key, by another terminal's key, by
a department key or by a key that was never registered; on unknown terminals; with
reused session ids; with a bad method, level, subject, evidence hash or an expiry not
after the check time; and with check times around the ±5 minute skew of the advancing
block timestamp). A small independent model predicts the result code of every tx.

Checked after every step:
- a refused tx writes nothing and leaves the state unchanged; an accepted one writes
  exactly its own record, as sent;
- the state holds exactly the terminals and sessions the model accepted;
- every stored session carries a valid signature by the public key of the terminal it
  names, and that terminal's registration was accepted before the session;
- session_valid(record, now) is True exactly for successful checks before their expiry;
- replaying the accepted txs on a fresh state gives byte-identical state.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.signing
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chains.authentication import (
    CLOCK_SKEW,
    CLOCK_SKEW_MS_MAX,
    RECORD_AUTH,
    REGISTER_TERMINAL,
    AuthenticationApplication,
    get_session,
    get_terminal,
    session_key,
    session_valid,
    terminal_key,
)
from chains.base import BlockContext, Outcome
from chains.codes import ALREADY_EXISTS, BAD_PAYLOAD, NOT_ALLOWED, NOT_FOUND, OK, UNKNOWN_TYPE
from chains.tx import DecodedTx
from protos import government_pb2 as government
from tests.apps import apply_outcome, signing_key
from tests.unit.test_authentication_app import CENTER, DEPARTMENTS, POLICE, STRANGER, signed

T0_MS = 1_700_000_000_000
MINUTE_MS = 60_000
SKEW = CLOCK_SKEW_MS_MAX

# Valid terminal ids; the last is exactly 128 bytes (64 two-byte characters).
TERMINAL_IDS = ("t-0", "t-1", "t-2", "终端-3", "é" * 64)
# Malformed ids: empty, with a NUL, 129 bytes, and 65 characters that are 130 bytes.
BAD_IDS = ("", "a\x00b", "x" * 129, "é" * 65)
TERMINAL_KEYS = {tid: signing_key(10 + i) for i, tid in enumerate(TERMINAL_IDS)}
LOOSE_KEY = signing_key(20)  # never registered as anything
DEPT_SIGNERS = {"center": CENTER, "police": POLICE, "stranger": STRANGER}
DEPT_OF = {"center": "service-center", "police": "public-security", "stranger": None}
OTHER_DEPT = {"center": "public-security", "police": "service-center", "stranger": "tax"}

REGISTER_FLAWS = (
    "wrong_department", "unknown_department", "empty_department", "short_key", "long_key",
    "no_key", "bad_kind", "bad_id", "long_location", "duplicate",
)  # fmt: skip
SHAPE_FLAWS_TERMINAL = frozenset(
    {"empty_department", "short_key", "long_key", "no_key", "bad_kind", "bad_id", "long_location"}
)
RECORD_FLAWS = (
    "bad_method", "empty_method", "level_zero", "level_five", "level_huge", "short_subject",
    "no_subject", "bad_evidence", "expires_at_time", "expires_before_time", "bad_session_id",
    "bad_terminal_id",
)  # fmt: skip
TIME_OFFSETS = (0, 0, -1, 1, -MINUTE_MS, MINUTE_MS, -SKEW, SKEW, -SKEW - 1, SKEW + 1, -T0_MS // 2)
LIFETIMES = (1, MINUTE_MS, 2 * MINUTE_MS, 30 * MINUTE_MS)


@dataclass
class ModelTerminal:
    public_key: bytes
    record: government.Terminal
    registered_at: int  # index in the accepted-tx log


@dataclass
class ModelSession:
    terminal_id: str
    signer: bytes
    success: bool
    expires_ms: int
    record: government.AuthRecord
    recorded_at: int  # index in the accepted-tx log


class AuthenticationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = AuthenticationApplication()
        self.state: dict[bytes, bytes] = {}
        self.now_ms = T0_MS
        self.height = 0
        self.accepted: list[tuple[DecodedTx, int, int]] = []  # (tx, height, timestamp)
        self.terminals: dict[str, ModelTerminal] = {}
        self.sessions: dict[str, ModelSession] = {}
        self.refused_session_ids: list[str] = []
        self.next_session = 0

    # -------------------------------------------------------------- driving

    def apply(self, tx: DecodedTx, expected: set[int]) -> Outcome:
        """Apply like the executor and compare with the model's expected refusal codes.

        `expected` is the set of codes of every rule the tx breaks (empty: it must be
        accepted); when it breaks several, any of them may be reported, except that a
        shape problem is always BAD_PAYLOAD (the stateless check runs first).
        """
        self.height += 1
        before = dict(self.state)
        ctx = BlockContext(height=self.height, timestamp_ms=self.now_ms, departments=DEPARTMENTS)
        out = self.app.apply(self.state, tx, ctx)
        assert self.state == before, "apply must not mutate the state it reads"
        admission = self.app.check(tx)
        assert (admission is None) == (BAD_PAYLOAD not in expected), (admission, expected)
        if expected:
            assert out.code != OK, f"accepted, but the model expected one of {expected}"
            assert out.code in expected, (out, expected)
            if BAD_PAYLOAD in expected:
                assert out.code == BAD_PAYLOAD, out
            return apply_outcome(self.state, out)
        assert out.code == OK, out
        apply_outcome(self.state, out)
        self.accepted.append((tx, self.height, self.now_ms))
        return out

    @rule(delta_ms=st.sampled_from([0, 1, 1000, MINUTE_MS, SKEW, SKEW + 1, 30 * MINUTE_MS]))
    def advance(self, delta_ms: int) -> None:
        self.now_ms += delta_ms

    @rule(data=st.data())
    def advance_to_an_expiry(self, data) -> None:
        """Block time lands on a session's last valid millisecond or its expiry."""
        edges = sorted(
            e
            for s in self.sessions.values()
            for e in (s.expires_ms - 1, s.expires_ms)
            if e >= self.now_ms
        )
        if edges:
            self.now_ms = data.draw(st.sampled_from(edges))

    # -------------------------------------------------------------- register_terminal

    @initialize(kind=st.sampled_from(["kiosk", "hall", "app"]))
    def first_terminal(self, kind: str) -> None:
        """Start with one registered terminal, so that short runs reach the record rules."""
        self.register_terminal("t-0", kind, "center", False, "", None, None)

    @rule(
        tid=st.sampled_from(TERMINAL_IDS),
        kind=st.sampled_from(["kiosk", "hall", "app"]),
        signer=st.sampled_from(["center", "center", "police", "police", "stranger"]),
        share_key=st.booleans(),
        location=st.sampled_from(["", "Haidian service hall", "大厅" * 85]),  # 510 bytes
        flaw=st.none() | st.none() | st.sampled_from(REGISTER_FLAWS),
        data=st.data(),
    )
    def register_terminal(
        self, tid, kind, signer, share_key, location, flaw, data
    ) -> None:  # fmt: skip
        department = DEPT_OF[signer] or "service-center"
        public_key = bytes(TERMINAL_KEYS[tid].verify_key)
        if share_key and self.terminals:  # allowed: a key may serve several terminals
            other = data.draw(st.sampled_from(sorted(self.terminals)))
            public_key = self.terminals[other].public_key
        if flaw == "wrong_department":
            department = OTHER_DEPT[signer]
        elif flaw == "unknown_department":
            department = "tax"
        elif flaw == "empty_department":
            department = ""
        elif flaw == "short_key":
            public_key = public_key[:31]
        elif flaw == "long_key":
            public_key += b"\x00"
        elif flaw == "no_key":
            public_key = b""
        elif flaw == "bad_kind":
            kind = data.draw(st.sampled_from(["atm", "", "Kiosk"]))
        elif flaw == "bad_id":
            tid = data.draw(st.sampled_from(BAD_IDS))
        elif flaw == "long_location":
            location = "大厅" * 85 + "x" * 3  # 513 bytes
        elif flaw == "duplicate" and self.terminals:
            tid = data.draw(st.sampled_from(sorted(self.terminals)))

        t = government.Terminal(
            terminal_id=tid,
            kind=kind,
            department=department,
            public_key=public_key,
            location=location,
        )
        expected: set[int] = set()
        if flaw in SHAPE_FLAWS_TERMINAL:
            expected.add(BAD_PAYLOAD)
        if DEPT_OF[signer] is None or department != DEPT_OF[signer]:
            expected.add(NOT_ALLOWED)
        if tid in self.terminals:
            expected.add(ALREADY_EXISTS)

        previous = get_terminal(self.state, tid) if tid in TERMINAL_IDS else None
        out = self.apply(signed(DEPT_SIGNERS[signer], REGISTER_TERMINAL, t), expected)
        if out.code != OK:
            if tid in TERMINAL_IDS:
                assert get_terminal(self.state, tid) == previous
            return
        assert set(out.writes) == {terminal_key(tid)}
        assert get_terminal(self.state, tid) == t, "a terminal is stored as sent"
        self.terminals[tid] = ModelTerminal(public_key, t, len(self.accepted) - 1)

    # -------------------------------------------------------------- record_auth

    @rule(
        signer=st.sampled_from(["own"] * 4 + ["other_terminal", "loose", "department"]),
        session_choice=st.sampled_from(["fresh"] * 4 + ["accepted", "refused"]),
        method=st.sampled_from(["id_card_face", "online_login"]),
        level=st.integers(1, 4),
        success=st.booleans(),
        evidence=st.sampled_from([b"", b"\x07" * 32]),
        time_offset_ms=st.sampled_from(TIME_OFFSETS),
        lifetime_ms=st.sampled_from(LIFETIMES),
        flaw=st.none() | st.none() | st.none() | st.sampled_from(RECORD_FLAWS),
        data=st.data(),
    )
    def record_auth(
        self, signer, session_choice, method, level, success, evidence, time_offset_ms,
        lifetime_ms, flaw, data,
    ) -> None:  # fmt: skip
        # Mostly a registered terminal, so that the rules past "not found" get exercised.
        unregistered = [t for t in TERMINAL_IDS if t not in self.terminals]
        tid = data.draw(st.sampled_from([*sorted(self.terminals) * 6, *unregistered, "t-nope"]))
        own = self.terminals[tid].public_key if tid in self.terminals else None

        key = TERMINAL_KEYS.get(tid, LOOSE_KEY)
        if signer == "own" and own is not None:
            key = next(k for k in TERMINAL_KEYS.values() if bytes(k.verify_key) == own)
        elif signer == "other_terminal":
            others = [k for t, k in TERMINAL_KEYS.items() if t != tid]
            key = data.draw(st.sampled_from(others))
        elif signer == "loose":
            key = LOOSE_KEY
        elif signer == "department":
            key = data.draw(st.sampled_from([CENTER, POLICE]))

        session_id = f"s-{self.next_session}"
        self.next_session += 1
        if session_choice == "accepted" and self.sessions:
            session_id = data.draw(st.sampled_from(sorted(self.sessions)))
        elif session_choice == "refused":
            reusable = [s for s in self.refused_session_ids if s not in self.sessions]
            if reusable:  # a refused record wrote nothing, so its id is still free
                session_id = data.draw(st.sampled_from(reusable))

        time_ms = self.now_ms + time_offset_ms
        r = government.AuthRecord(
            session_id=session_id,
            subject_ref=bytes(range(32)),
            method=method,
            terminal_id=tid,
            level=level,
            success=success,
            evidence_hash=evidence,
            time_ms=time_ms,
            expires_ms=time_ms + lifetime_ms,
        )
        if flaw == "bad_method":
            r.method = "password"
        elif flaw == "empty_method":
            r.method = ""
        elif flaw == "level_zero":
            r.level = 0
        elif flaw == "level_five":
            r.level = 5
        elif flaw == "level_huge":
            r.level = 2**32 - 1
        elif flaw == "short_subject":
            r.subject_ref = r.subject_ref[:31]
        elif flaw == "no_subject":
            r.subject_ref = b""
        elif flaw == "bad_evidence":
            r.evidence_hash = b"\x07" * 5
        elif flaw == "expires_at_time":
            r.expires_ms = time_ms
        elif flaw == "expires_before_time":
            r.expires_ms = time_ms - data.draw(st.sampled_from([1, MINUTE_MS]))
        elif flaw == "bad_session_id":
            r.session_id = data.draw(st.sampled_from(BAD_IDS))
        elif flaw == "bad_terminal_id":
            r.terminal_id = data.draw(st.sampled_from(BAD_IDS))

        signer_key = bytes(key.verify_key)
        expected: set[int] = set()
        if flaw is not None:
            expected.add(BAD_PAYLOAD)
        if r.terminal_id not in self.terminals:
            expected.add(NOT_FOUND)
        elif signer_key != self.terminals[r.terminal_id].public_key:
            expected.add(NOT_ALLOWED)
        if r.session_id in self.sessions:
            expected.add(ALREADY_EXISTS)
        if abs(r.time_ms - self.now_ms) > SKEW:
            expected.add(CLOCK_SKEW)

        previous = get_session(self.state, r.session_id) if r.session_id else None
        out = self.apply(signed(key, RECORD_AUTH, r), expected)
        if out.code != OK:
            if r.session_id:
                assert get_session(self.state, r.session_id) == previous
            if r.session_id not in self.sessions and r.session_id not in BAD_IDS:
                self.refused_session_ids.append(r.session_id)
            return
        assert set(out.writes) == {session_key(r.session_id)}
        assert get_session(self.state, r.session_id) == r, "a check is stored as sent"
        self.sessions[r.session_id] = ModelSession(
            tid, signer_key, success, r.expires_ms, r, len(self.accepted) - 1
        )

    @rule(
        session_choice=st.sampled_from(["fresh"] * 3 + ["accepted", "refused"]),
        method=st.sampled_from(["id_card_face", "online_login"]),
        level=st.integers(1, 4),
        success=st.booleans(),
        time_offset_ms=st.sampled_from(TIME_OFFSETS),
        lifetime_ms=st.sampled_from(LIFETIMES),
        data=st.data(),
    )
    def record_auth_by_its_terminal(
        self, session_choice, method, level, success, time_offset_ms, lifetime_ms, data
    ) -> None:  # fmt: skip
        """A well-formed check signed by the terminal's key (weights runs towards sessions)."""
        self.record_auth(
            "own", session_choice, method, level, success, b"\x07" * 32, time_offset_ms,
            lifetime_ms, None, data,
        )  # fmt: skip

    # -------------------------------------------------------------- junk

    @rule(
        signer=st.sampled_from([CENTER, TERMINAL_KEYS["t-0"], STRANGER]),
        junk=st.sampled_from(["unknown_type", "register_garbage", "record_garbage"]),
    )
    def junk(self, signer, junk: str) -> None:
        if junk == "unknown_type":
            tx = signed(signer, "authentication.delete_everything", government.Terminal())
            expected = UNKNOWN_TYPE
        else:
            type_ = REGISTER_TERMINAL if junk == "register_garbage" else RECORD_AUTH
            tx = signed(signer, type_, b"\x0a\x05ab")  # a length-5 field with 2 bytes
            expected = BAD_PAYLOAD
        self.height += 1
        before = dict(self.state)
        ctx = BlockContext(self.height, self.now_ms, DEPARTMENTS)
        out = self.app.apply(self.state, tx, ctx)
        assert out.code == expected, out
        assert not out.writes
        assert self.state == before
        assert self.app.check(tx) is not None

    # -------------------------------------------------------------- invariants

    @invariant()
    def state_holds_exactly_the_accepted_records(self) -> None:
        want = {terminal_key(t) for t in self.terminals} | {session_key(s) for s in self.sessions}
        assert set(self.state) == want
        for tid, t in self.terminals.items():
            assert get_terminal(self.state, tid) == t.record
        for sid, s in self.sessions.items():
            assert get_session(self.state, sid) == s.record

    @invariant()
    def every_session_is_signed_by_its_registered_terminal(self) -> None:
        registered_at: dict[str, int] = {}
        for index, (tx, _, _) in enumerate(self.accepted):
            if tx.body.type == REGISTER_TERMINAL:
                tid = government.Terminal.FromString(tx.body.payload).terminal_id
                registered_at.setdefault(tid, index)
                continue
            record = government.AuthRecord.FromString(tx.body.payload)
            stored = get_session(self.state, record.session_id)
            assert stored == record
            terminal = get_terminal(self.state, stored.terminal_id)
            assert terminal is not None, f"session {stored.session_id!r} names no terminal"
            assert registered_at.get(stored.terminal_id, index) < index
            assert tx.signer == terminal.public_key
            # the signature itself verifies under the terminal's key (raises if not)
            nacl.signing.VerifyKey(terminal.public_key).verify(tx.body_bytes, tx.signature)
            model = self.sessions[record.session_id]
            assert (model.recorded_at, model.signer) == (index, tx.signer)
            assert self.terminals[stored.terminal_id].registered_at < index

    @invariant()
    def session_valid_only_for_successful_unexpired_checks(self) -> None:
        for sid, model in self.sessions.items():
            record = get_session(self.state, sid)
            assert record is not None
            for now in {
                self.now_ms,
                record.time_ms,
                record.expires_ms - 1,
                record.expires_ms,
                record.expires_ms + 1,
            }:
                assert session_valid(record, now) == (model.success and now < model.expires_ms)

    @invariant()
    def replaying_accepted_txs_gives_identical_state(self) -> None:
        fresh: dict[bytes, bytes] = {}
        for tx, height, now_ms in self.accepted:
            out = self.app.apply(fresh, tx, BlockContext(height, now_ms, DEPARTMENTS))
            assert apply_outcome(fresh, out).code == OK, out
        assert fresh == self.state


AuthenticationMachine.TestCase.settings = settings(
    max_examples=50, stateful_step_count=30, deadline=None, derandomize=True, database=None
)
TestAuthenticationMachine = AuthenticationMachine.TestCase
