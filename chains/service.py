"""事项链 — the service-item chain: service items, the materials each needs, and cases.

A department publishes the service items it implements (e.g. the first-time pesticide
business permit) and, per item, the list of materials an application needs. Each
material is fulfilled by exactly one of: a license on the license chain, data items of
the catalog, or a scan at the counter or kiosk. Its `items` ("type_or_resource/item_code")
are the data items the material needs: `required_items` is their union, and the
data-sharing service refuses a grant asking for anything outside it (minimal disclosure
is enforced by the chain, not by politeness).

A case is the life of one application: opened by a terminal (kiosk, hall counter,
online app acting for the applicant) or the implementing department, materials attached
(pulled from a chain or scanned: only the evidence hash is recorded), submitted once
every required material is attached, then staged and decided by the implementing
department. Applicants are 32-byte refs (keyed hashes of their ID number), never names.

    open ──attach*──► open ──submit──► submitted ──record_stage*──► submitted
                            │               └──record_result──► approved | rejected
                            └── rule met (秒批) ──► approved, in the submitting block

秒批 (instant approval): the implementing department may set an approval rule on an item
(`service.set_rule`; each change bumps its version) and withdraw it
(`service.withdraw_rule`: a change too, with its own version, after which the item is
decided by hand again). `submit_case` then judges the case
by the rule in force, in the same tx, from the case's own record and the block context
only, so every validator decides alike: met, the case is approved with a result naming
the rule's version and hash and the block height; not met, it stays "submitted" for
manual review with the rule's failures recorded on it. The service channel cannot read
the license or authorization channels, so the rule judges the facts the kiosk committed
with each attachment (the access record's tx id and outcome, the license's validity
window), not those channels' state; the providing node checked the real state at pull
time, and the attachment's facts are the terminal's word on what it saw.

State layout (`chains.base.key` joins the parts with 0x00; codes are printable, so they
never contain it and two kinds of record never share a key):

    key("item", code)                 ServiceItem
    key("materials", item_code)       Materials: the current list (republishing replaces it)
    key("materials-version", code)    8-byte big-endian count of publications of that list
    key("case", case_number)          Case: status, attachments (one per material), stages
    key("result", case_number)        CaseResult: the decision and the issued license id
    key("rule", item_code)            ApprovalRule: the latest rule, with its version
                                      (`withdrawn`: no rule in force)

Every refusal returns a shared result code with a precise reason and no writes.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from chains.base import (
    BlockContext,
    Department,
    Refusal,
    StateReader,
    TxApplication,
    TxState,
    TxType,
    dispatch_table,
    key,
    read_record,
)
from chains.codes import ALREADY_EXISTS, INVALID_STATE, NOT_ALLOWED, NOT_FOUND, OUT_OF_SCOPE
from chains.service_shapes import (
    APPROVED,
    OPEN,
    STAGES_MAX,
    SUBMITTED,
    TERMINAL_ROLE,
    allowed_sources,
    rule_failures,
    shape_attachment,
    shape_case,
    shape_item,
    shape_materials,
    shape_result,
    shape_rule,
    shape_stage,
    shape_submit,
    shape_withdraw_rule,
)
from chains.tx import DecodedTx
from protos import government_pb2 as government

# ------------------------------------------------------------------ state keys and queries


def item_key(code: str) -> bytes:
    return key("item", code)


def materials_key(code: str) -> bytes:
    return key("materials", code)


def materials_version_key(code: str) -> bytes:
    return key("materials-version", code)


def case_key(case_number: str) -> bytes:
    return key("case", case_number)


def result_key(case_number: str) -> bytes:
    return key("result", case_number)


def rule_key(item_code: str) -> bytes:
    return key("rule", item_code)


def get_item(state: StateReader, code: str) -> government.ServiceItem | None:
    return read_record(state, item_key(code), government.ServiceItem)


def get_materials(state: StateReader, code: str) -> government.Materials | None:
    return read_record(state, materials_key(code), government.Materials)


def get_materials_version(state: StateReader, code: str) -> int:
    """How many times the item's materials were published (0: never)."""
    return int.from_bytes(state.get(materials_version_key(code)) or b"", "big")


def required_items(state: StateReader, code: str) -> set[str]:
    """Every data item the item's materials need: the most a grant for it may ask for."""
    materials = get_materials(state, code)
    if materials is None:
        return set()
    return {item for m in materials.materials for item in m.items}


def get_case(state: StateReader, case_number: str) -> government.Case | None:
    return read_record(state, case_key(case_number), government.Case)


def get_result(state: StateReader, case_number: str) -> government.CaseResult | None:
    return read_record(state, result_key(case_number), government.CaseResult)


def get_rule(state: StateReader, item_code: str) -> government.ApprovalRule | None:
    """The item's latest rule record, a withdrawn one included (its version counts on)."""
    return read_record(state, rule_key(item_code), government.ApprovalRule)


def rule_in_force(state: StateReader, item_code: str) -> government.ApprovalRule | None:
    """The rule that judges the item's cases now (None: no rule, or it was withdrawn)."""
    rule = get_rule(state, item_code)
    return None if rule is None or rule.withdrawn else rule


def missing_materials(case: government.Case, materials: government.Materials) -> list[str]:
    """Required materials of the current list without an attachment, in list order."""
    attached = {a.material for a in case.attachments}
    return [m.name for m in materials.materials if m.required and m.name not in attached]


# ------------------------------------------------------------------ shared lookups


def _signer_department(tx: DecodedTx, ctx: BlockContext) -> Department:
    dept = ctx.departments.of_signer(tx.signer)
    if dept is None:
        raise Refusal(NOT_ALLOWED, f"signer {tx.signer.hex()[:16]}… is no department")
    return dept


def _item(state: TxState, code: str) -> government.ServiceItem:
    item = state.read(item_key(code), government.ServiceItem)
    if item is None:
        raise Refusal(NOT_FOUND, f"no service item {code!r}")
    return item


def _materials(state: TxState, code: str) -> government.Materials:
    materials = state.read(materials_key(code), government.Materials)
    if materials is None:
        raise Refusal(INVALID_STATE, f"service item {code!r} has no published materials")
    return materials


def _case(state: TxState, case_number: str) -> government.Case:
    case = state.read(case_key(case_number), government.Case)
    if case is None:
        raise Refusal(NOT_FOUND, f"no case {case_number!r}")
    return case


def _require_implementer(dept: Department, item: government.ServiceItem, action: str) -> None:
    if dept.id != item.department:
        raise Refusal(
            NOT_ALLOWED,
            f"only {item.department!r}, which implements {item.code!r}, may {action};"
            f" signer is {dept.id!r}",
        )


def _require_applicant_side(dept: Department, item: government.ServiceItem, action: str) -> None:
    """A terminal acts for the applicant; the implementing department may act at its counter."""
    if TERMINAL_ROLE not in dept.roles and dept.id != item.department:
        raise Refusal(
            NOT_ALLOWED,
            f"{dept.id!r} may not {action}: needs role {TERMINAL_ROLE!r}"
            f" or to implement {item.code!r}",
        )


def _require_status(case: government.Case, wanted: str, action: str) -> None:
    if case.status != wanted:
        raise Refusal(
            INVALID_STATE,
            f"case {case.case_number!r} is {case.status!r}; {action} needs {wanted!r}",
        )


# ------------------------------------------------------------------ handlers


def process_publish_item(state: TxState, tx: DecodedTx, msg: Any, ctx: BlockContext) -> None:
    """service.publish_item (ServiceItem).

    - the signer is a registered department, and `department` is that department
    - `code` is not yet used (items are never replaced: cases refer to them)
    - shape (see the shape_* checks): code, non-empty name, time_limit_days >= 1
    """
    dept = _signer_department(tx, ctx)
    if msg.department != dept.id:
        raise Refusal(
            NOT_ALLOWED,
            f"item names department {msg.department!r} but signer is {dept.id!r}",
        )
    if state.get(item_key(msg.code)) is not None:
        raise Refusal(ALREADY_EXISTS, f"service item {msg.code!r} already exists")
    state.put(item_key(msg.code), msg)


def process_publish_materials(state: TxState, tx: DecodedTx, msg: Any, ctx: BlockContext) -> None:
    """service.publish_materials (Materials).

    - the item exists, and the signer is its implementing department
    - shape (see the shape_* checks): unique non-empty names; exactly one of license_type,
      catalog_items, scan; `items` non-empty for license/catalog, empty for scan
    - republishing replaces the list and bumps the version; open cases are checked
      against the current list when they are submitted
    """
    dept = _signer_department(tx, ctx)
    item = _item(state, msg.item_code)
    _require_implementer(dept, item, "publish its materials")
    version = int.from_bytes(state.get(materials_version_key(msg.item_code)) or b"", "big") + 1
    state.put(materials_key(msg.item_code), msg)
    state.put_raw(materials_version_key(msg.item_code), version.to_bytes(8, "big"))


def process_set_rule(state: TxState, tx: DecodedTx, msg: Any, ctx: BlockContext) -> None:
    """service.set_rule (ApprovalRule).

    - the item exists, and the signer is its implementing department
    - shape (see shape_rule): at least one condition; `version` is state only
    - the rule replaces the item's rule with version + 1 (1 for the first); cases are
      judged by the rule in force when they are submitted, so earlier decisions stand
    """
    dept = _signer_department(tx, ctx)
    item = _item(state, msg.item_code)
    _require_implementer(dept, item, "set its approval rule")
    previous = state.read(rule_key(item.code), government.ApprovalRule)
    rule = government.ApprovalRule()
    rule.CopyFrom(msg)
    rule.version = (previous.version if previous is not None else 0) + 1
    state.put(rule_key(item.code), rule)


def process_withdraw_rule(state: TxState, tx: DecodedTx, msg: Any, ctx: BlockContext) -> None:
    """service.withdraw_rule (WithdrawRule).

    - the item exists, and the signer is its implementing department
    - the item has a rule in force (not none, not already withdrawn)
    - the rule record becomes a withdrawn one with version + 1 and no conditions: the
      version counts every change, so a case's `rule_version` names one rule for good;
      later cases are decided by hand, earlier decisions stand; the reason is in the tx
    """
    dept = _signer_department(tx, ctx)
    item = _item(state, msg.item_code)
    _require_implementer(dept, item, "withdraw its approval rule")
    current = state.read(rule_key(item.code), government.ApprovalRule)
    if current is None or current.withdrawn:
        raise Refusal(INVALID_STATE, f"service item {item.code!r} has no approval rule in force")
    withdrawn = government.ApprovalRule(
        item_code=item.code, version=current.version + 1, withdrawn=True
    )
    state.put(rule_key(item.code), withdrawn)


def process_open_case(state: TxState, tx: DecodedTx, msg: Any, ctx: BlockContext) -> None:
    """service.open_case (Case).

    - the item exists and the signer is a terminal or its implementing department
    - `case_number` is not yet used
    - the item's materials are published
    - shape (see the shape_* checks): 32-byte applicant_ref, known intake, no state-only fields
    - the case starts "open", with no attachments and no stages
    """
    dept = _signer_department(tx, ctx)
    item = _item(state, msg.item_code)
    _require_applicant_side(dept, item, "open a case")
    if state.get(case_key(msg.case_number)) is not None:
        raise Refusal(ALREADY_EXISTS, f"case {msg.case_number!r} already exists")
    _materials(state, msg.item_code)
    case = government.Case()
    case.CopyFrom(msg)
    case.status = OPEN
    state.put(case_key(msg.case_number), case)


def process_attach_material(state: TxState, tx: DecodedTx, msg: Any, ctx: BlockContext) -> None:
    """service.attach_material (Attachment).

    - the case exists; the signer is a terminal or the implementing department
    - the case is "open"
    - the material is one of the item's current materials
    - "scan" fits any material (a citizen may always bring paper); "chain:license" only a
      license-fulfilled material, "chain:catalog" only a catalog-fulfilled one
    - re-attaching a material replaces its attachment in place
    """
    dept = _signer_department(tx, ctx)
    case = _case(state, msg.case_number)
    item = _item(state, case.item_code)
    _require_applicant_side(dept, item, "attach materials")
    _require_status(case, OPEN, "attaching")
    material = next(
        (m for m in _materials(state, item.code).materials if m.name == msg.material), None
    )
    if material is None:
        raise Refusal(NOT_FOUND, f"item {item.code!r} has no material {msg.material!r}")
    allowed = allowed_sources(material)
    if msg.source not in allowed:
        raise Refusal(
            OUT_OF_SCOPE,
            f"material {material.name!r} may come from {sorted(allowed)}, not {msg.source!r}",
        )
    for existing in case.attachments:
        if existing.material == msg.material:
            existing.CopyFrom(msg)
            break
    else:
        case.attachments.append(msg)
    state.put(case_key(case.case_number), case)


def process_submit_case(state: TxState, tx: DecodedTx, msg: Any, ctx: BlockContext) -> None:
    """service.submit_case (CaseStep).

    - the case exists; the signer is a terminal or the implementing department
    - the case is "open"
    - every required material of the current list has an attachment (the refusal lists
      the missing ones)
    - the case becomes "submitted"; if the item has an approval rule, the case is judged
      by it in this tx: met, it is "approved" with a result under result/<case number>
      (decision, rule version and hash, block height); not met, it stays "submitted"
      with `rule_version` and `rule_failures` recorded on it
    """
    dept = _signer_department(tx, ctx)
    case = _case(state, msg.case_number)
    item = _item(state, case.item_code)
    _require_applicant_side(dept, item, "submit a case")
    _require_status(case, OPEN, "submitting")
    materials = _materials(state, item.code)
    missing = missing_materials(case, materials)
    if missing:
        raise Refusal(
            INVALID_STATE,
            f"case {case.case_number!r} misses required materials: {', '.join(missing)}",
        )
    case.status = SUBMITTED
    rule = state.read(rule_key(item.code), government.ApprovalRule)
    if rule is not None and not rule.withdrawn:
        _judge(state, case, rule, rule_failures(rule, case, materials, ctx.timestamp_ms), ctx)
    state.put(case_key(case.case_number), case)


def _judge(
    state: TxState,
    case: government.Case,
    rule: government.ApprovalRule,
    failures: list[str],
    ctx: BlockContext,
) -> None:
    """秒批: a rule met approves the case now, with the result a manual decision writes plus
    the rule's version and hash and the block; a rule not met leaves it for a person."""
    case.rule_version = rule.version
    if failures:
        case.rule_failures.extend(failures)
        return
    case.status = APPROVED
    state.put(
        result_key(case.case_number),
        government.CaseResult(
            case_number=case.case_number,
            result=APPROVED,
            decision=f"auto-approved by rule v{rule.version}",
            rule_version=rule.version,
            # the channel's suite hash: SHA-256, or SM3 on an sm2-sm3 chain
            rule_hash=ctx.hashing.hash(rule.SerializeToString(deterministic=True)),
            height=ctx.height,
        ),
    )


def process_record_stage(state: TxState, tx: DecodedTx, msg: Any, ctx: BlockContext) -> None:
    """service.record_stage (CaseStep).

    - the case exists; the signer is the implementing department
    - the case is "submitted" (not before, and not once decided)
    - fewer than STAGES_MAX stages so far; the stage is appended, the status unchanged
    """
    dept = _signer_department(tx, ctx)
    case = _case(state, msg.case_number)
    item = _item(state, case.item_code)
    _require_implementer(dept, item, "record a stage")
    _require_status(case, SUBMITTED, "recording a stage")
    if len(case.stages) >= STAGES_MAX:
        raise Refusal(INVALID_STATE, f"case already has {STAGES_MAX} stages")
    case.stages.append(msg.stage)
    state.put(case_key(case.case_number), case)


def process_record_result(state: TxState, tx: DecodedTx, msg: Any, ctx: BlockContext) -> None:
    """service.record_result (CaseResult).

    - the case exists; the signer is the implementing department
    - the case is "submitted": a result is recorded at most once
    - the case's status becomes the result; the result (with the issued license id, if
      any) is kept under result/<case number>
    """
    dept = _signer_department(tx, ctx)
    case = _case(state, msg.case_number)
    item = _item(state, case.item_code)
    _require_implementer(dept, item, "record the result")
    _require_status(case, SUBMITTED, "recording the result")
    case.status = msg.result
    state.put(case_key(case.case_number), case)
    state.put(result_key(case.case_number), msg)


# ------------------------------------------------------------------ dispatch


TX_TYPES = (
    TxType("service.publish_item", government.ServiceItem, shape_item),
    TxType("service.publish_materials", government.Materials, shape_materials),
    TxType("service.set_rule", government.ApprovalRule, shape_rule),
    TxType("service.withdraw_rule", government.WithdrawRule, shape_withdraw_rule),
    TxType("service.open_case", government.Case, shape_case),
    TxType("service.attach_material", government.Attachment, shape_attachment),
    TxType("service.submit_case", government.CaseStep, shape_submit),
    TxType("service.record_stage", government.CaseStep, shape_stage),
    TxType("service.record_result", government.CaseResult, shape_result),
)
ROUTES = dispatch_table(TX_TYPES, globals())


class ServiceApplication(TxApplication):
    """The `service` channel's application (事项链)."""

    routes = ROUTES

    def unparsable(self, kind: type[Message], admission: bool) -> str | None:
        # Admission has always said only this; execution names the message.
        return "payload does not parse" if admission else super().unparsable(kind, admission)
