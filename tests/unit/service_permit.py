"""What the service-chain tests share: the departments' keys, a `Ledger` that applies
accepted writes to a dict and asserts that a refused tx writes nothing (so every refusal
test also checks "no writes"), and the first-time pesticide business permit
(首次申请农药经营许可): its item, materials, a case and attachments. The `published`,
`opened` and `submitted` fixtures are in tests/unit/conftest.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nacl.signing
from google.protobuf.message import Message

from chains.base import BlockContext, Outcome
from chains.codes import OK
from chains.service import (
    ServiceApplication,
    get_case,
)
from chains.tx import DecodedTx
from protos import government_pb2 as government
from tests.apps import NOW_MS, apply_outcome, departments, signed_tx, signing_key

CHANNEL = "service"

AGRICULTURE = signing_key(1)  # implements the permit
MARKET = signing_key(2)  # another department
KIOSK = signing_key(3)  # the service centre's kiosks
STRANGER = signing_key(9)  # in no department


DEPARTMENTS = departments(
    ("agriculture", [AGRICULTURE], ["issuer"]),
    ("market-regulation", [MARKET], ["issuer"]),
    ("service-center", [KIOSK], ["terminal"]),
)
CTX = BlockContext(height=7, timestamp_ms=NOW_MS, departments=DEPARTMENTS)
APP = ServiceApplication()

PERMIT = "pesticide-business-permit-first"
APPLICANT = bytes(range(32))  # a keyed hash of the company's credit code, never the code
EVIDENCE = bytes([0xE5]) * 32


def make_tx(
    signer: nacl.signing.SigningKey, tx_type: str, msg: Message | None, payload: bytes = b""
) -> DecodedTx:
    return signed_tx(signer, CHANNEL, tx_type, msg if msg is not None else payload)


@dataclass
class Ledger:
    """A dict-backed world state that applies accepted txs as the executor would."""

    state: dict[bytes, bytes] = field(default_factory=dict)
    accepted: list[DecodedTx] = field(default_factory=list)

    def get(self, key: bytes) -> bytes | None:
        return self.state.get(key)

    def apply_tx(self, tx: DecodedTx) -> Outcome:
        out = apply_outcome(self.state, APP.apply(self, tx, CTX))
        if out.code == OK:
            self.accepted.append(tx)
        return out

    def send(self, signer: nacl.signing.SigningKey, tx_type: str, msg: Message) -> Outcome:
        return self.apply_tx(make_tx(signer, tx_type, msg))

    def ok(self, signer: nacl.signing.SigningKey, tx_type: str, msg: Message) -> None:
        out = self.send(signer, tx_type, msg)
        assert out.code == OK, out.reason

    def refused(
        self, code: int, signer: nacl.signing.SigningKey, tx_type: str, msg: Message, part: str = ""
    ) -> Outcome:
        before = dict(self.state)
        out = self.send(signer, tx_type, msg)
        assert (out.code, part in out.reason) == (code, True), (out.code, out.reason)
        assert self.state == before
        return out


# ------------------------------------------------------------------ the pesticide permit


def permit_item(**changes: object) -> government.ServiceItem:
    fields: dict[str, object] = {
        "code": PERMIT,
        "name": "首次申请农药经营许可",
        "department": "agriculture",
        "legal_basis": "《农药管理条例》第二十四条、《农药经营许可管理办法》",
        "acceptance_conditions": "有农药经营场所和仓储场所，有熟悉农药管理规定的经营人员",
        "time_limit_days": 20,
    }
    fields.update(changes)
    return government.ServiceItem(**fields)  # type: ignore[arg-type]


BUSINESS_LICENSE = government.Material(
    name="营业执照 business license",
    required=True,
    license_type="business-license",
    items=[
        "business-license/name",
        "business-license/legal_representative",
        "business-license/registered_capital",
        "business-license/unified_social_credit_code",
    ],
)
LEGAL_REP_ID = government.Material(
    name="法定代表人身份证 legal representative's ID",
    required=True,
    license_type="resident-id",
    items=["resident-id/name", "resident-id/id_number"],
)
PREMISES = government.Material(
    name="经营场所证明 premises certificate",
    required=True,
    catalog_items=["housing-registry"],
    items=["housing-registry/address", "housing-registry/area", "housing-registry/owner"],
)
STORAGE_PHOTOS = government.Material(
    name="农药仓储场所照片 pesticide storage photos", required=True, scan=True
)
PERMIT_MATERIALS = [BUSINESS_LICENSE, LEGAL_REP_ID, PREMISES, STORAGE_PHOTOS]


def permit_materials(*materials: government.Material) -> government.Materials:
    return government.Materials(item_code=PERMIT, materials=list(materials or PERMIT_MATERIALS))


def new_case(number: str = "C-2024-0001", **changes: object) -> government.Case:
    fields: dict[str, object] = {
        "case_number": number,
        "item_code": PERMIT,
        "applicant_ref": APPLICANT,
        "intake": "kiosk",
    }
    fields.update(changes)
    return government.Case(**fields)  # type: ignore[arg-type]


def attachment(
    material: government.Material, source: str, number: str = "C-2024-0001"
) -> government.Attachment:
    return government.Attachment(
        case_number=number, material=material.name, source=source, evidence_hash=EVIDENCE
    )


CHAIN_SOURCES = {
    BUSINESS_LICENSE.name: "chain:license",
    LEGAL_REP_ID.name: "chain:license",
    PREMISES.name: "chain:catalog",
    STORAGE_PHOTOS.name: "scan",
}


def status(ledger: Ledger, number: str = "C-2024-0001") -> str:
    case = get_case(ledger, number)
    assert case is not None
    return case.status
