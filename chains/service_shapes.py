"""Payload shapes and limits of the service-item chain: stateless checks of every tx.

`check` (admission) and `apply` (execution) both run these, so a malformed tx is refused
before it reaches a block and again, identically, if a Byzantine primary includes it.
"""

from __future__ import annotations

from collections.abc import Callable

from protos import government_pb2 as government

TERMINAL_ROLE = "terminal"
# Limits: every field that lands in state is bounded.
CODE_CHARS_MAX = 64  # item codes, case numbers, license types, stage names
NAME_CHARS_MAX = 256  # item and material names
TEXT_CHARS_MAX = 4096  # legal basis, acceptance conditions, notes
MATERIALS_MAX = 64  # materials per item
ITEMS_PER_MATERIAL_MAX = 128  # data items (and catalog items) per material
STAGES_MAX = 32  # stages recorded per case
HASH_BYTES = 32  # applicant_ref, evidence_hash

OPEN, SUBMITTED, APPROVED = "open", "submitted", "approved"
RESULTS = frozenset({APPROVED, "rejected"})
# Statuses are set by their own txs, so a stage may not borrow their names.
RESERVED_STAGES = frozenset({OPEN, SUBMITTED}) | RESULTS
CASE_INTAKES = frozenset({"kiosk", "online", "counter"})
SCAN = "scan"
CHAIN_LICENSE, CHAIN_CATALOG = "chain:license", "chain:catalog"
GRANTED, DENIED = "granted", "denied"  # an access record's outcomes


# ------------------------------------------------------------------ payload shape (stateless)
#
# Each returns a reason or None. They run in `check` (before a tx reaches a block) and
# again in `apply`, since a Byzantine primary may include txs no node admitted.


def _bad_code(what: str, value: str) -> str | None:
    """Codes are key parts: non-empty, bounded, printable (so never 0x00)."""
    if not value:
        return f"{what} is empty"
    if len(value) > CODE_CHARS_MAX:
        return f"{what} is longer than {CODE_CHARS_MAX} characters"
    if not value.isprintable():
        return f"{what} {value!r} has non-printable characters"
    return None


def _bad_name(what: str, value: str) -> str | None:
    if not value.strip():
        return f"{what} is empty"
    if len(value) > NAME_CHARS_MAX:
        return f"{what} is longer than {NAME_CHARS_MAX} characters"
    if not value.isprintable():
        return f"{what} {value!r} has non-printable characters"
    return None


def _bad_text(what: str, value: str) -> str | None:
    if len(value) > TEXT_CHARS_MAX:
        return f"{what} is longer than {TEXT_CHARS_MAX} characters"
    return None


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p is not None), None)


def shape_item(item: government.ServiceItem) -> str | None:
    if item.time_limit_days < 1:
        return "time_limit_days must be at least 1"
    return _first(
        _bad_code("code", item.code),
        _bad_name("name", item.name),
        _bad_code("department", item.department),
        _bad_text("legal_basis", item.legal_basis),
        _bad_text("acceptance_conditions", item.acceptance_conditions),
    )


def _bad_data_item(where: str, item: str) -> str | None:
    """A data item is "type_or_resource/item_code", both parts codes."""
    source, slash, code = item.partition("/")
    if not slash:
        return f"{where}: data item {item!r} is not 'type_or_resource/item_code'"
    return _first(_bad_code(f"{where}: source of {item!r}", source), _bad_code(where, code))


def _bad_list(
    where: str, what: str, values: list[str], each: Callable[[str], str | None]
) -> str | None:
    if len(values) > ITEMS_PER_MATERIAL_MAX:
        return f"{where}: more than {ITEMS_PER_MATERIAL_MAX} {what}"
    if len(set(values)) != len(values):
        return f"{where}: duplicate {what}"
    return _first(*(each(v) for v in values))


def shape_material(m: government.Material) -> str | None:
    """Exactly one way to fulfil it; license/catalog materials name the items they need."""
    where = f"material {m.name!r}"
    ways = bool(m.license_type) + bool(m.catalog_items) + m.scan
    if ways != 1:
        return f"{where} must be fulfilled by exactly one of license_type, catalog_items, scan"
    if m.scan and m.items:
        return f"{where} is scanned, so it lists no data items"
    if not m.scan and not m.items:
        return f"{where} must list the data items it needs"
    problem = _first(
        _bad_list(where, "data items", list(m.items), lambda i: _bad_data_item(where, i)),
        _bad_list(where, "catalog items", list(m.catalog_items), lambda c: _bad_code(where, c)),
    )
    if problem is not None or not m.license_type:
        return problem
    problem = _bad_code(f"{where}: license_type", m.license_type)
    # A license-fulfilled material is pulled from licenses of that type, nothing else.
    foreign = [i for i in m.items if i.partition("/")[0] != m.license_type]
    if problem is None and foreign:
        problem = f"{where}: items {foreign} are not of license type {m.license_type!r}"
    return problem


def shape_materials(msg: government.Materials) -> str | None:
    if not msg.materials:
        return "no materials"
    if len(msg.materials) > MATERIALS_MAX:
        return f"more than {MATERIALS_MAX} materials"
    names = [m.name for m in msg.materials]
    if len(set(names)) != len(names):
        return "duplicate material names"
    return _first(
        _bad_code("item_code", msg.item_code),
        *(_first(_bad_name("material name", m.name), shape_material(m)) for m in msg.materials),
    )


def shape_case(case: government.Case) -> str | None:
    if len(case.applicant_ref) != HASH_BYTES:
        return f"applicant_ref must be {HASH_BYTES} bytes, not {len(case.applicant_ref)}"
    if case.intake not in CASE_INTAKES:
        return f"intake {case.intake!r} is not one of {sorted(CASE_INTAKES)}"
    if case.status or case.attachments or case.stages or case.rule_version or case.rule_failures:
        return "status, attachments, stages and the rule's verdict are state only"
    return _first(
        _bad_code("case_number", case.case_number), _bad_code("item_code", case.item_code)
    )


def allowed_sources(m: government.Material) -> frozenset[str]:
    """A scan is always possible; a chain pull only from the chain that fulfils it."""
    if m.license_type:
        return frozenset({SCAN, CHAIN_LICENSE})
    if m.catalog_items:
        return frozenset({SCAN, CHAIN_CATALOG})
    return frozenset({SCAN})


def shape_attachment(a: government.Attachment) -> str | None:
    if a.source not in (SCAN, CHAIN_LICENSE, CHAIN_CATALOG):
        return f"source {a.source!r} is not 'scan', 'chain:license' or 'chain:catalog'"
    if len(a.evidence_hash) != HASH_BYTES:
        return f"evidence_hash must be {HASH_BYTES} bytes, not {len(a.evidence_hash)}"
    return _first(
        _bad_pull_facts(a),
        _bad_code("case_number", a.case_number),
        _bad_name("material", a.material),
    )


def _bad_pull_facts(a: government.Attachment) -> str | None:
    """The facts of a pull: only on a chain attachment, well formed when given."""
    pulled = a.access_tx_id or a.access_outcome or a.valid_from_ms or a.valid_until_ms
    if a.source == SCAN and pulled:
        return "a scan carries no access record or license validity"
    if a.access_tx_id and len(a.access_tx_id) != HASH_BYTES:
        return f"access_tx_id must be {HASH_BYTES} bytes, not {len(a.access_tx_id)}"
    if a.access_outcome not in ("", GRANTED, DENIED):
        return f"access_outcome {a.access_outcome!r} is not {GRANTED!r} or {DENIED!r}"
    if a.valid_until_ms and a.valid_until_ms <= a.valid_from_ms:
        return "valid_until_ms must be after valid_from_ms"
    return None


def shape_submit(step: government.CaseStep) -> str | None:
    if step.stage not in ("", SUBMITTED):
        return f"submit_case takes no stage other than {SUBMITTED!r}, got {step.stage!r}"
    return _first(_bad_code("case_number", step.case_number), _bad_text("note", step.note))


def shape_stage(step: government.CaseStep) -> str | None:
    if step.stage in RESERVED_STAGES:
        return f"stage {step.stage!r} is a status set by its own tx type"
    return _first(
        _bad_code("case_number", step.case_number),
        _bad_code("stage", step.stage),
        _bad_text("note", step.note),
    )


def shape_result(r: government.CaseResult) -> str | None:
    if r.result not in RESULTS:
        return f"result {r.result!r} is not one of {sorted(RESULTS)}"
    if r.license_id and r.result != "approved":
        return "only an approved case issues a license"
    if r.decision or r.rule_version or r.rule_hash or r.height:
        return "decision, rule_version, rule_hash and height are state only"
    return _first(
        _bad_code("case_number", r.case_number),
        _bad_code("license_id", r.license_id) if r.license_id else None,
    )


def shape_rule(rule: government.ApprovalRule) -> str | None:
    """A rule checks something: a rule with no condition would approve every complete case
    by accident (a department that wants no rule withdraws it: service.withdraw_rule)."""
    if rule.version or rule.withdrawn:
        return "version and withdrawn are state only"
    conditions = (rule.require_all_materials, rule.require_chain_sources)
    if not any(conditions) and not rule.require_licenses_valid:
        return "a rule needs at least one condition"
    return _bad_code("item_code", rule.item_code)


def shape_withdraw_rule(msg: government.WithdrawRule) -> str | None:
    return _first(_bad_code("item_code", msg.item_code), _bad_text("reason", msg.reason))


# ------------------------------------------------------------------ approval rules (秒批)
#
# Stateless too: a rule is judged on the case's own record and the block time alone, so
# every validator reaches the same verdict.


def rule_failures(
    rule: government.ApprovalRule,
    case: government.Case,
    materials: government.Materials,
    now_ms: int,
) -> list[str]:
    """Why `rule` does not approve `case` at block time `now_ms`, in material-list order
    ([]: it does). At most three reasons per material, so bounded by MATERIALS_MAX."""
    attached = {a.material: a for a in case.attachments}
    failures = []
    for m in materials.materials:
        a = attached.get(m.name)
        if a is None:
            if rule.require_all_materials:
                failures.append(f"{m.name}: not attached")
            continue
        failures.extend(f"{m.name}: {why}" for why in _attachment_failures(rule, m, a, now_ms))
    return failures


def _attachment_failures(
    rule: government.ApprovalRule, m: government.Material, a: government.Attachment, now_ms: int
) -> list[str]:
    out = []
    if a.access_outcome == DENIED:  # "no refusal", whatever else the rule asks
        out.append("a refusal is recorded for its pull")
    pulled = a.source != SCAN and a.access_outcome == GRANTED and a.access_tx_id
    if rule.require_chain_sources and not m.scan and not pulled and a.access_outcome != DENIED:
        out.append(
            "scanned, not pulled from its chain"
            if a.source == SCAN
            else "no granted access record for its pull"
        )
    if rule.require_licenses_valid and m.license_type:
        if a.source != CHAIN_LICENSE or not a.valid_from_ms:
            out.append("no license validity recorded")
        elif now_ms < a.valid_from_ms:
            out.append(f"license valid only from {a.valid_from_ms}, block time {now_ms}")
        elif a.valid_until_ms and now_ms >= a.valid_until_ms:
            out.append(f"license validity ended at {a.valid_until_ms}, block time {now_ms}")
    return out
