"""The service-hall kiosk flow as SDK calls: one call per step a citizen takes.

A kiosk (or an online hall, or a counter) is a registered terminal with its own key,
working for one requesting department (the one that implements the service item). The
steps, each recorded on chain before the next may start:

1. `start_session`: ID card + face check -> `authentication.record_auth`. The ID number
   never leaves this process except as its keyed hash (`chains.privacy.subject_ref`,
   with the consortium's subject key); it is never logged or stored here.
2. `plan`: the service item's materials, each on-chain (with the subject's license that
   fulfils it and the department that issued it) or scan-required.
3. `consent` -> `authorization.create_grant`: exactly the items the materials need.
4. `open_case` -> `service.open_case`.
5. `pull`: every on-chain material from its issuing department at once (a thread per
   material), each status event delivered the moment it arrives, with the time since the
   pull began; obtained values are opened and checked against the license commitments.
6. `attach_and_submit` -> `service.attach_material` per material, `service.submit_case`;
   it returns the block that holds the submission. An item with an approval rule (秒批)
   is decided in that very block: `decision` reads what the chain decided
   (client/approval.py).

Every step raises `client.txs.TxRejected` with a message fit for the citizen's screen if
the chain refuses it; `TerminalRevoked` (a TxRejected) if the refusal is because this very
terminal has been revoked (`govchain terminal revoke`): the kiosk can do nothing more.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf.message import Message

from chains.authentication import revocation
from chains.license import effective_status
from chains.privacy import subject_ref
from chains.tx import suite_hashing
from client.approval import Decision, decision_of
from client.connection import client_tls, connect
from client.kiosk import PulledItem, open_items, pull, sign_request
from client.state import ChainState
from client.tls import TlsFiles
from client.txs import TxKey, TxRefused, TxRejected, signed_tx, status_name, submit, wait_committed
from crypto import DEFAULT_SUITE, Suite, suite_by_name
from protos import api_pb2 as api
from protos import datashare_pb2 as ds
from protos import government_pb2 as government

SESSION_MS = 15 * 60_000
FINAL = frozenset({ds.OBTAINED, ds.SCAN_REQUIRED, ds.DENIED, ds.FAILED})


def genesis_suite(genesis_dir: Path) -> str:
    """The crypto suite a testnet's genesis files name (one per chain: every channel's
    genesis states the same), the default when there are none."""
    for path in sorted(genesis_dir.glob("*.json")) if genesis_dir.is_dir() else ():
        return str(json.loads(path.read_text()).get("crypto_suite", DEFAULT_SUITE))
    return DEFAULT_SUITE


@dataclass(frozen=True)
class Network:
    """Where the validators are and how to reach them: the chain id, each node's address
    by its department id (a department's node also serves its records to pulls), the
    client TLS identity, and the channels' genesis files if at hand (for evidence)."""

    chain_id: str
    nodes: dict[str, str]
    tls: TlsFiles | None = None
    genesis_dir: Path | None = None
    # The channels' crypto suite (their genesis `crypto_suite`): subject references,
    # commitments and the sealing of pulled values follow it.
    crypto_suite: str = DEFAULT_SUITE

    @property
    def suite(self) -> Suite:
        return suite_by_name(self.crypto_suite)

    def hash(self, data: bytes) -> bytes:
        """The channels' hash (SHA-256, or SM3 on `sm2-sm3`): the evidence hashes the hall
        records (face evidence, consent text, material pointers and scans)."""
        return suite_hashing(self.suite).hash(data)

    @classmethod
    def from_testnet(cls, root: Path, client: str = "client") -> Network:
        """A `govchain testnet init` directory: nodes.txt, tls/CLIENT.*, genesis/."""
        lines = (root / "nodes.txt").read_text().split("\n")
        nodes = dict(line.split() for line in lines if line.strip())
        first = next(iter(nodes))
        with open(root / first / "config.toml", "rb") as f:
            chain_id = tomllib.load(f)["chain_id"]
        tls = client_tls(root / "tls", client)
        genesis = root / "genesis"
        return cls(
            chain_id,
            nodes,
            tls if tls.cert.exists() else None,
            genesis if genesis.is_dir() else None,
            genesis_suite(genesis),
        )

    def any_node(self) -> str:
        return next(iter(self.nodes.values()))


@dataclass(frozen=True)
class Session:
    """A recorded identity check: `subject_ref` is the keyed hash of the ID number."""

    session_id: str
    subject_ref: bytes
    terminal_id: str
    expires_ms: int
    success: bool


# A pull's final status as the access record's outcome on an attachment.
PULL_OUTCOMES = {ds.OBTAINED: "granted", ds.DENIED: "denied"}


@dataclass(frozen=True)
class MaterialPlan:
    """One material of a service item, as the kiosk shows it before the pull. On-chain
    materials name the license type, the subject's newest valid license of it (None:
    the subject holds none, so it cannot be pulled) and its issuer (the provider)."""

    name: str
    required: bool
    scan: bool
    license_type: str = ""
    items: tuple[str, ...] = ()
    license: government.License | None = None

    @property
    def provider(self) -> str:
        return self.license.issuer if self.license else ""

    @property
    def pullable(self) -> bool:
        return not self.scan and self.license is not None

    def request(self) -> ds.MaterialRequest:
        license_id = self.license.license_id if self.license else ""
        return ds.MaterialRequest(name=self.name, license_id=license_id, items=list(self.items))


@dataclass(frozen=True)
class PullUpdate:
    """One status event of one material, `elapsed_s` after the pull began. `request` is the
    signed PullRequest it answers (an evidence bundle needs it); `items` holds the opened
    values of an OBTAINED event, each checked against the license's commitment."""

    material: MaterialPlan
    event: ds.PullEvent
    elapsed_s: float
    request: ds.PullRequest
    items: tuple[PulledItem, ...] = field(default=())

    @property
    def final(self) -> bool:
        """The material's last event (obtained, scan required, denied or failed)."""
        return self.event.status in FINAL

    @property
    def verified(self) -> bool:
        """Obtained, and every value matches its commitment on chain."""
        return self.event.status == ds.OBTAINED and all(i.verified for i in self.items)


class TerminalRevoked(TxRejected):
    """This kiosk's terminal is revoked on chain: nothing it signs is accepted any more."""


REVOKED_SCREEN = (
    "本终端已停用，请到其他终端或窗口办理 this kiosk is out of service; please use another kiosk"
    " or a counter"
)


def new_id(prefix: str) -> str:
    return f"{prefix}{os.urandom(6).hex()}"


class Hall:
    """The kiosk flow for one terminal, on behalf of one requesting department."""

    def __init__(
        self,
        network: Network,
        terminal_id: str,
        terminal_key: TxKey,
        requester: str,
        requester_key: TxKey,
        subject_key: bytes,
        pull_tls: TlsFiles | None = None,
    ) -> None:
        self.network = network
        self.terminal_id = terminal_id
        self._terminal_key = terminal_key
        self.requester = requester
        self._requester_key = requester_key
        self._subject_key = subject_key
        self.pull_tls = pull_tls or network.tls
        self.stub = connect(network.any_node(), network.tls)
        self.state = ChainState(self.stub)

    def __repr__(self) -> str:  # never print key material
        return f"Hall(terminal={self.terminal_id!r}, requester={self.requester!r})"

    def subject_ref(self, id_number: str) -> bytes:
        """The keyed hash a person or company is known by on chain."""
        return subject_ref(self._subject_key, id_number, self.network.suite)

    def _send(self, channel: str, tx_type: str, payload: Message) -> api.GetTransactionResponse:
        """Sign with the terminal's key, submit, wait for the commit; the committed tx
        (its height and result). Raises TxRejected, worded for the citizen's screen."""
        body = payload.SerializeToString(deterministic=True)
        raw = signed_tx(self._terminal_key, self.network.chain_id, channel, tx_type, body)
        try:
            (admitted,) = submit(self.stub, [raw])
        except grpc.RpcError as e:
            # A revoked terminal's key is out of every channel's registry: admission
            # refuses its grants and case steps (the whole call) before any application.
            if e.code() == grpc.StatusCode.PERMISSION_DENIED:
                self._raise_if_revoked(None)
            raise
        if admitted.status != api.ACCEPTED:
            self._raise_if_revoked(None)
            raise TxRejected(f"{tx_type}: {status_name(admitted.status)}: {admitted.detail}")
        try:
            committed = wait_committed(self.stub, channel, admitted.tx_id)
        except TxRefused as e:
            raise TxRejected(f"{tx_type}: {e}") from e
        if committed.result.code != 0:
            reason = committed.result.reason
            self._raise_if_revoked(committed.result.code)
            raise TxRejected(
                f"{tx_type} rejected by the {channel} application: {reason}",
                committed.result.code,
            )
        return committed

    def _raise_if_revoked(self, code: int | None) -> None:
        """A refusal because this very terminal is revoked gets the kiosk's clear screen."""
        revoked = self.revoked()
        if revoked:
            raise TerminalRevoked(f"{REVOKED_SCREEN} ({revoked})", code)

    def revoked(self) -> str | None:
        """Why this terminal is revoked on the authentication chain, or None."""
        return revocation(self.state.terminal(self.terminal_id))

    # ------------------------------------------------------------------ steps

    def start_session(
        self,
        id_number: str,
        face_ok: bool,
        session_id: str | None = None,
        method: str = "id_card_face",
        level: int = 3,
        face_evidence: bytes = b"face-match",
        valid_ms: int = SESSION_MS,
    ) -> Session:
        """Record the identity check (a failed face check is recorded too, unsuccessful)."""
        now = int(time.time() * 1000)
        session = Session(
            session_id or new_id("S"),
            self.subject_ref(id_number),
            self.terminal_id,
            now + valid_ms,
            face_ok,
        )
        record = government.AuthRecord(
            session_id=session.session_id,
            subject_ref=session.subject_ref,
            method=method,
            terminal_id=self.terminal_id,
            level=level,
            success=face_ok,
            evidence_hash=self.network.hash(face_evidence),
            time_ms=now,
            expires_ms=session.expires_ms,
        )
        self._send("authentication", "authentication.record_auth", record)
        return session

    def plan(self, item_code: str, subject: bytes) -> list[MaterialPlan]:
        """The service item's materials for this subject, in the item's order."""
        materials = self.state.materials(item_code)
        if materials is None:
            raise LookupError(f"service item {item_code!r} has no materials on chain")
        now = int(time.time() * 1000)
        out = []
        for m in materials.materials:
            found = None
            if not m.scan and m.license_type:
                valid = [
                    lic
                    for lic in self.state.licenses_of(subject, m.license_type)
                    if effective_status(lic, now) == government.VALID
                ]
                found = valid[-1] if valid else None
            out.append(
                MaterialPlan(m.name, m.required, m.scan, m.license_type, tuple(m.items), found)
            )
        return out

    def consent(
        self,
        session: Session,
        item_code: str,
        items_by_department: dict[str, list[str]],
        valid_ms: int,
        subject: bytes | None = None,
        purpose: str = "",
        consent_text: str = "",
        grant_id: str | None = None,
        case_number: str | None = None,
        max_uses: int | None = None,
    ) -> government.Grant:
        """Grant the requester exactly `items_by_department`'s items for one case of the
        service item. `subject` is whose data it is (a company the person represents);
        default: the person of the session. `max_uses` defaults to one use per department."""
        now = int(time.time() * 1000)
        grant = government.Grant(
            grant_id=grant_id or new_id("G"),
            subject_ref=subject or session.subject_ref,
            auth_session=session.session_id,
            grantee=self.requester,
            service_item=item_code,
            case_number=case_number or new_id("C"),
            purpose=purpose,
            legal_basis=government.CONSENT,
            items=[i for items in items_by_department.values() for i in items],
            valid_from_ms=now - 1000,
            valid_until_ms=now + valid_ms,
            max_uses=max_uses if max_uses is not None else len(items_by_department),
            consent_text_hash=self.network.hash(consent_text.encode()),
            terminal_id=self.terminal_id,
        )
        self._send("authorization", "authorization.create_grant", grant)
        return grant

    def open_case(self, grant: government.Grant, intake: str = "kiosk") -> str:
        """Open the case the grant names, for the grant's subject; returns its number."""
        case = government.Case(
            case_number=grant.case_number,
            item_code=grant.service_item,
            applicant_ref=grant.subject_ref,
            intake=intake,
        )
        self._send("service", "service.open_case", case)
        return grant.case_number

    def pull(
        self,
        grant: government.Grant | str,
        case_number: str,
        materials: Iterable[MaterialPlan],
        timeout_s: float = 30.0,
        on_update: Callable[[PullUpdate], None] | None = None,
    ) -> Iterator[PullUpdate]:
        """Pull every pullable material at once; yield each status event as it arrives
        (and hand it to `on_update` too, from the pulling thread, for a server that pushes
        it to a browser). Ends when every material has its final event; a stream that
        breaks yields a FAILED event with the reason. `grant`: the grant or its id."""
        grant_id = grant if isinstance(grant, str) else grant.grant_id
        start = time.monotonic()
        updates: queue.Queue[PullUpdate | None] = queue.Queue()
        plans = [m for m in materials if m.pullable]
        threads = [
            threading.Thread(
                target=self._pull_one,
                args=(grant_id, case_number, m, start, timeout_s, updates),
                daemon=True,
            )
            for m in plans
        ]
        for t in threads:
            t.start()
        running = len(threads)
        while running:
            update = updates.get()
            if update is None:
                running -= 1
                continue
            if on_update is not None:
                on_update(update)
            yield update

    def _pull_one(
        self,
        grant_id: str,
        case_number: str,
        plan: MaterialPlan,
        start: float,
        timeout_s: float,
        out: queue.Queue[PullUpdate | None],
    ) -> None:
        request = sign_request(
            ds.PullRequest(
                case_number=case_number,
                grant_id=grant_id,
                requester=self.requester,
                materials=[plan.request()],
            ),
            self._requester_key,
        )
        try:
            address = self.network.nodes[plan.provider]
            for ev in pull(address, request, timeout_s, self.pull_tls):
                items = ()
                if ev.status == ds.OBTAINED and plan.license is not None:
                    key, suite = self._requester_key, self.network.suite
                    items = tuple(open_items(ev, key, plan.license, suite))
                out.put(PullUpdate(plan, ev, time.monotonic() - start, request, items))
        except Exception as e:  # a provider's failure is that material's status, never a hang
            details = e.details() if isinstance(e, grpc.RpcError) else str(e)
            reason = f"{plan.provider}: {details or type(e).__name__}"
            failed = ds.PullEvent(
                material=plan.name,
                status=ds.FAILED,
                label_zh="失败",
                label_en="failed",
                reason=reason,
                license_id=plan.request().license_id,
            )
            out.put(PullUpdate(plan, failed, time.monotonic() - start, request))
        finally:
            out.put(None)

    def attach_and_submit(
        self, case_number: str, pulled: Iterable[PullUpdate], scanned: dict[str, bytes]
    ) -> int:
        """Attach each obtained material (its evidence: the hash of its access tx id, or of
        its access id) and each scanned one (the hash of the scan), then submit the case.
        A pull's facts (its access record and the license's validity window) go with it:
        an item's approval rule (秒批) judges them, as the service chain sees no other.
        Returns the height of the block that holds the submission (and, under a rule,
        the decision)."""
        for u in pulled:
            pointer = u.event.access_tx_id or u.event.access_id.encode()
            lic = u.material.license or government.License()
            outcome = PULL_OUTCOMES.get(u.event.status, "") if u.event.access_tx_id else ""
            self._send(
                "service",
                "service.attach_material",
                government.Attachment(
                    case_number=case_number,
                    material=u.material.name,
                    source="chain:license",
                    evidence_hash=self.network.hash(pointer),
                    access_tx_id=u.event.access_tx_id,
                    access_outcome=outcome,
                    valid_from_ms=lic.valid_from_ms,
                    valid_until_ms=lic.valid_until_ms,
                ),
            )
        for name, scan in scanned.items():
            self._send(
                "service",
                "service.attach_material",
                government.Attachment(
                    case_number=case_number,
                    material=name,
                    source="scan",
                    evidence_hash=self.network.hash(scan),
                ),
            )
        submitted = government.CaseStep(case_number=case_number, stage="submitted")
        return self._send("service", "service.submit_case", submitted).height

    def decision(self, case_number: str) -> Decision | None:
        """What the chain decided on submission: approved by the item's rule in that
        block (秒批), or left for a person, with the rule's failures in plain words."""
        return decision_of(self.state, case_number)
