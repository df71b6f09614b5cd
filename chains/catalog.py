"""目录链 — the catalog chain: which department holds which data resource, with which data
items, under which sharing conditions, and which consumer departments may use it.

The catalog is the consortium's shared answer to "who has this data and may I use it".
Every rule is enforced here, deterministically, on the channel's own state: a department
can only describe its own resources, under duties it declared itself, and only the
provider decides who gets a standing share agreement.

Transactions (`TxBody.type` → payload message):

| type                      | payload        | sent by                                  |
|---------------------------|----------------|------------------------------------------|
| `catalog.register_duty`   | `RegisterDuty` | any registered department (its own duty) |
| `catalog.publish_entry`   | `CatalogEntry` | the provider department                  |
| `catalog.update_entry`    | `CatalogEntry` | the provider department                  |
| `catalog.suspend_entry`   | `SuspendEntry` | the provider department                  |
| `catalog.apply_share`     | `ApplyShare`   | a consumer department (not the provider) |
| `catalog.approve_share`   | `DecideShare`  | the provider department                  |
| `catalog.reject_share`    | `DecideShare`  | the provider department                  |

State layout (keys built with `chains.base.key`, parts joined by 0x00; values are
deterministically serialized protobuf):

| key                                   | value            | why keyed so                      |
|---------------------------------------|------------------|-----------------------------------|
| `duty \\0 <department> \\0 <code>`     | `RegisterDuty`   | duty codes are per department: a  |
|                                       |                  | department cannot squat another's |
| `entry \\0 <resource_code>`            | `CatalogEntry`   | resource codes are consortium-wide|
| `share \\0 <resource_code> \\0 <consumer>` | `ShareAgreement` | one standing agreement per pair |

Identifiers (codes, department ids) must be 1..128 characters without NUL, so that every
key splits back into its parts. A suspended entry stays in state (suspension is a record,
not a deletion) and cannot be updated, shared or published again under the same code.
"""

from __future__ import annotations

from collections.abc import Iterable

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
from chains.codes import (
    ALREADY_EXISTS,
    BAD_PAYLOAD,
    INVALID_STATE,
    NOT_ALLOWED,
    NOT_FOUND,
    OUT_OF_SCOPE,
)
from chains.tx import DecodedTx
from protos import government_pb2 as government

IDENT_CHARS_MAX = 128
SENSITIVITY_MIN = 1
SENSITIVITY_MAX = 4

APPLIED = "applied"
APPROVED = "approved"
REJECTED = "rejected"

DUTY_PREFIX = "duty"
ENTRY_PREFIX = "entry"
SHARE_PREFIX = "share"


# ------------------------------------------------------------------ shared validation


def is_ident(value: str) -> bool:
    """A code or id usable as a key part: 1..128 characters, no NUL (the key separator)."""
    return 0 < len(value) <= IDENT_CHARS_MAX and "\x00" not in value


def check_unique_idents(values: Iterable[str], what: str) -> str | None:
    """None if every value is an identifier and none repeats, else the reason."""
    seen: set[str] = set()
    for v in values:
        if not is_ident(v):
            return f"{what} {v!r} must be 1..{IDENT_CHARS_MAX} characters without NUL"
        if v in seen:
            return f"{what} {v!r} is listed twice"
        seen.add(v)
    return None


def check_data_items(items: Iterable[government.DataItem]) -> str | None:
    """None if the data items are well formed, else the reason.

    - at least one item; codes are identifiers and unique; every item has a name
    - sensitivity is 1 (public) .. 4 (highly sensitive): a consumer's scope and the
      provider's handling depend on it, so it may not be left unset
    """
    items = list(items)
    if not items:
        return "at least one data item is required"
    reason = check_unique_idents((i.code for i in items), "item code")
    if reason:
        return reason
    for i in items:
        if not i.name:
            return f"item {i.code!r} has no name"
        if not SENSITIVITY_MIN <= i.sensitivity <= SENSITIVITY_MAX:
            return (
                f"item {i.code!r} sensitivity {i.sensitivity} is outside "
                f"{SENSITIVITY_MIN}..{SENSITIVITY_MAX}"
            )
    return None


# ------------------------------------------------------------------ keys and queries


def duty_key(department: str, code: str) -> bytes:
    return key(DUTY_PREFIX, department, code)


def entry_key(resource_code: str) -> bytes:
    return key(ENTRY_PREFIX, resource_code)


def share_key(resource_code: str, consumer: str) -> bytes:
    return key(SHARE_PREFIX, resource_code, consumer)


def get_duty(state: StateReader, department: str, code: str) -> government.RegisterDuty | None:
    """The duty `code` declared by `department`, or None."""
    if not (is_ident(department) and is_ident(code)):
        return None
    return read_record(state, duty_key(department, code), government.RegisterDuty)


def get_entry(state: StateReader, resource_code: str) -> government.CatalogEntry | None:
    """The catalog entry of a resource (suspended ones included), or None."""
    if not is_ident(resource_code):
        return None
    return read_record(state, entry_key(resource_code), government.CatalogEntry)


def get_agreement(
    state: StateReader, resource_code: str, consumer: str
) -> government.ShareAgreement | None:
    """The share agreement of `consumer` on a resource (any status), or None."""
    if not (is_ident(resource_code) and is_ident(consumer)):
        return None
    return read_record(state, share_key(resource_code, consumer), government.ShareAgreement)


def is_share_approved(
    state: StateReader, resource_code: str, consumer: str, items: list[str]
) -> bool:
    """True if `consumer` holds an approved agreement covering `items` on a live entry."""
    entry = get_entry(state, resource_code)
    agreement = get_agreement(state, resource_code, consumer)
    return (
        entry is not None
        and not entry.suspended
        and agreement is not None
        and agreement.status == APPROVED
        and set(items) <= set(agreement.items)
    )


# ------------------------------------------------------------------ handlers


def signer_department(tx: DecodedTx, ctx: BlockContext) -> Department:
    """The signer's department: only registered departments write to the catalog and
    license chains (`DepartmentApplication.gate` refuses anybody else up front)."""
    dept = ctx.departments.of_signer(tx.signer)
    if dept is None:
        raise Refusal(NOT_ALLOWED, f"signer {tx.signer.hex()} is no registered department's key")
    return dept


def process_register_duty(
    state: TxState, tx: DecodedTx, msg: government.RegisterDuty, ctx: BlockContext
) -> None:
    """Declare a duty (职责) of the signer's department.

    - code is an identifier; name is not empty
    - the same department has not declared this code yet (ALREADY_EXISTS); another
      department's duty of the same code is a different duty
    """
    dept = signer_department(tx, ctx)
    if not is_ident(msg.code):
        raise Refusal(BAD_PAYLOAD, f"duty code must be 1..{IDENT_CHARS_MAX} characters")
    if not msg.name:
        raise Refusal(BAD_PAYLOAD, f"duty {msg.code!r} has no name")
    k = duty_key(dept.id, msg.code)
    if state.get(k) is not None:
        raise Refusal(ALREADY_EXISTS, f"department {dept.id!r} already has duty {msg.code!r}")
    state.put(k, msg)


def _check_entry_body(state: TxState, dept: Department, msg: government.CatalogEntry) -> None:
    """The rules publish and update share; refuses unless the entry may be stored."""
    if not is_ident(msg.resource_code):
        raise Refusal(BAD_PAYLOAD, f"resource code must be 1..{IDENT_CHARS_MAX} characters")
    if msg.suspended or msg.version:
        raise Refusal(BAD_PAYLOAD, "suspended and version are kept by the chain; leave unset")
    if msg.provider != dept.id:
        raise Refusal(
            NOT_ALLOWED,
            f"provider {msg.provider!r} is not the signer's department {dept.id!r}",
        )
    if not msg.name:
        raise Refusal(BAD_PAYLOAD, f"resource {msg.resource_code!r} has no name")
    if not msg.duties:
        raise Refusal(BAD_PAYLOAD, "an entry must name at least one duty of its provider")
    reason = check_unique_idents(msg.duties, "duty")
    if reason:
        raise Refusal(BAD_PAYLOAD, reason)
    for duty in msg.duties:
        if state.get(duty_key(dept.id, duty)) is None:
            raise Refusal(NOT_FOUND, f"department {dept.id!r} has not registered duty {duty!r}")
    reason = check_data_items(msg.items)
    if reason:
        raise Refusal(BAD_PAYLOAD, reason)
    if msg.sharing not in (government.UNCONDITIONAL, government.CONDITIONAL, government.NOT_SHARED):
        raise Refusal(BAD_PAYLOAD, f"sharing type {msg.sharing} is not set or not known")
    if msg.sharing == government.CONDITIONAL and not msg.sharing_conditions:
        raise Refusal(BAD_PAYLOAD, "conditional sharing must state its sharing conditions")


def process_publish_entry(
    state: TxState, tx: DecodedTx, msg: government.CatalogEntry, ctx: BlockContext
) -> None:
    """Publish a data resource of the signer's department.

    - resource code is an identifier, not yet in the catalog (ALREADY_EXISTS)
    - provider is the signer's department (NOT_ALLOWED)
    - name set; at least one duty, each a registered duty of the provider (NOT_FOUND)
    - data items well formed (see `check_data_items`); sharing type set, conditions
      stated when conditional; `suspended` and `version` unset (the chain keeps them)
    - stored with version 1
    """
    dept = signer_department(tx, ctx)
    _check_entry_body(state, dept, msg)
    if state.get(entry_key(msg.resource_code)) is not None:
        raise Refusal(ALREADY_EXISTS, f"resource {msg.resource_code!r} is already published")
    entry = government.CatalogEntry()
    entry.CopyFrom(msg)
    entry.version = 1
    state.put(entry_key(msg.resource_code), entry)


def process_update_entry(
    state: TxState, tx: DecodedTx, msg: government.CatalogEntry, ctx: BlockContext
) -> None:
    """Replace a published entry's description.

    - the entry exists (NOT_FOUND) and the signer's department is its provider
      (NOT_ALLOWED)
    - it is not suspended (INVALID_STATE)
    - the new body follows the publish rules; version is bumped by one
    - existing share agreements stay as they are; approval re-checks their items
    """
    dept = signer_department(tx, ctx)
    current = get_entry(state, msg.resource_code)
    if current is None:
        raise Refusal(NOT_FOUND, f"resource {msg.resource_code!r} is not in the catalog")
    if current.provider != dept.id:
        raise Refusal(NOT_ALLOWED, f"only provider {current.provider!r} may update it")
    if current.suspended:
        raise Refusal(INVALID_STATE, f"resource {msg.resource_code!r} is suspended")
    _check_entry_body(state, dept, msg)
    entry = government.CatalogEntry()
    entry.CopyFrom(msg)
    entry.version = current.version + 1
    state.put(entry_key(msg.resource_code), entry)


def process_suspend_entry(
    state: TxState, tx: DecodedTx, msg: government.SuspendEntry, ctx: BlockContext
) -> None:
    """Suspend a resource: it can no longer be updated, applied for or approved.

    - the entry exists (NOT_FOUND); the signer's department is its provider (NOT_ALLOWED)
    - a reason is given; the entry is not already suspended (INVALID_STATE)
    """
    dept = signer_department(tx, ctx)
    entry = get_entry(state, msg.resource_code)
    if entry is None:
        raise Refusal(NOT_FOUND, f"resource {msg.resource_code!r} is not in the catalog")
    if entry.provider != dept.id:
        raise Refusal(NOT_ALLOWED, f"only provider {entry.provider!r} may suspend it")
    if not msg.reason:
        raise Refusal(BAD_PAYLOAD, "a suspension must state its reason")
    if entry.suspended:
        raise Refusal(INVALID_STATE, f"resource {msg.resource_code!r} is already suspended")
    entry.suspended = True
    state.put(entry_key(msg.resource_code), entry)


def process_apply_share(
    state: TxState, tx: DecodedTx, msg: government.ApplyShare, ctx: BlockContext
) -> None:
    """A consumer department asks for a standing share agreement.

    - the entry exists (NOT_FOUND); the signer is not its provider (NOT_ALLOWED)
    - the entry is not suspended (INVALID_STATE) and its sharing is not NOT_SHARED
      (NOT_ALLOWED)
    - at least one item, unique, all among the entry's items (OUT_OF_SCOPE); a purpose
    - no agreement of this consumer is applied or approved already (ALREADY_EXISTS); a
      rejected one may be applied for again
    - stored with status "applied" (unconditional sharing too: the provider still
      records who uses its data)
    """
    dept = signer_department(tx, ctx)
    entry = get_entry(state, msg.resource_code)
    if entry is None:
        raise Refusal(NOT_FOUND, f"resource {msg.resource_code!r} is not in the catalog")
    if entry.provider == dept.id:
        raise Refusal(NOT_ALLOWED, "a provider does not apply to share its own resource")
    if entry.suspended:
        raise Refusal(INVALID_STATE, f"resource {msg.resource_code!r} is suspended")
    if entry.sharing == government.NOT_SHARED:
        raise Refusal(NOT_ALLOWED, f"resource {msg.resource_code!r} is not shared")
    if not msg.items:
        raise Refusal(BAD_PAYLOAD, "a share application names at least one item")
    reason = check_unique_idents(msg.items, "item")
    if reason:
        raise Refusal(BAD_PAYLOAD, reason)
    outside = sorted(set(msg.items) - {i.code for i in entry.items})
    if outside:
        raise Refusal(OUT_OF_SCOPE, f"items {outside} are not in resource {entry.resource_code!r}")
    if not msg.purpose:
        raise Refusal(BAD_PAYLOAD, "a share application states its purpose")
    k = share_key(msg.resource_code, dept.id)
    existing = state.read(k, government.ShareAgreement)
    if existing is not None and existing.status != REJECTED:
        raise Refusal(
            ALREADY_EXISTS, f"department {dept.id!r} already has an agreement ({existing.status})"
        )
    agreement = government.ShareAgreement(
        resource_code=msg.resource_code,
        consumer=dept.id,
        items=list(msg.items),
        purpose=msg.purpose,
        status=APPLIED,
    )
    state.put(k, agreement)


def _decide(state: TxState, dept: Department, msg: government.DecideShare, status: str) -> None:
    """Approve or reject; see the two handlers for the rules."""
    entry = get_entry(state, msg.resource_code)
    if entry is None:
        raise Refusal(NOT_FOUND, f"resource {msg.resource_code!r} is not in the catalog")
    if entry.provider != dept.id:
        raise Refusal(NOT_ALLOWED, f"only provider {entry.provider!r} decides on shares")
    agreement = get_agreement(state, msg.resource_code, msg.consumer)
    if agreement is None:
        raise Refusal(NOT_FOUND, f"department {msg.consumer!r} has not applied")
    if agreement.status != APPLIED:
        raise Refusal(INVALID_STATE, f"the agreement is {agreement.status}, not {APPLIED}")
    if status == APPROVED:
        if entry.suspended:
            raise Refusal(INVALID_STATE, f"resource {msg.resource_code!r} is suspended")
        outside = sorted(set(agreement.items) - {i.code for i in entry.items})
        if outside:
            raise Refusal(OUT_OF_SCOPE, f"items {outside} were removed from the resource")
    elif not msg.reason:
        raise Refusal(BAD_PAYLOAD, "a rejection must state its reason")
    agreement.status = status
    state.put(share_key(msg.resource_code, msg.consumer), agreement)


def process_approve_share(
    state: TxState, tx: DecodedTx, msg: government.DecideShare, ctx: BlockContext
) -> None:
    """The provider approves a consumer's application.

    - the entry exists (NOT_FOUND); the signer's department is its provider (NOT_ALLOWED)
    - the consumer's agreement exists (NOT_FOUND) and is "applied" (INVALID_STATE)
    - the entry is not suspended (INVALID_STATE) and still has every applied item
      (OUT_OF_SCOPE): an update may have removed some
    """
    dept = signer_department(tx, ctx)
    _decide(state, dept, msg, APPROVED)


def process_reject_share(
    state: TxState, tx: DecodedTx, msg: government.DecideShare, ctx: BlockContext
) -> None:
    """The provider rejects a consumer's application.

    - the entry exists (NOT_FOUND); the signer's department is its provider (NOT_ALLOWED)
    - the consumer's agreement exists (NOT_FOUND) and is "applied" (INVALID_STATE)
    - a reason is given (it stays in the tx on chain)
    """
    dept = signer_department(tx, ctx)
    _decide(state, dept, msg, REJECTED)


TX_TYPES = (
    TxType("catalog.register_duty", government.RegisterDuty),
    TxType("catalog.publish_entry", government.CatalogEntry),
    TxType("catalog.update_entry", government.CatalogEntry),
    TxType("catalog.suspend_entry", government.SuspendEntry),
    TxType("catalog.apply_share", government.ApplyShare),
    TxType("catalog.approve_share", government.DecideShare),
    TxType("catalog.reject_share", government.DecideShare),
)
ROUTES = dispatch_table(TX_TYPES, globals())


class DepartmentApplication(TxApplication):
    """An application only registered departments write to (catalog, license). The
    signer is checked before the payload so that an outsider learns nothing about what
    the application would have made of its tx."""

    def gate(self, tx: DecodedTx, ctx: BlockContext) -> None:
        signer_department(tx, ctx)


class CatalogApplication(DepartmentApplication):
    """The catalog channel's application (see the module docstring for rules and keys)."""

    routes = ROUTES
