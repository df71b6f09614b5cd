"""What the service chain decided when a case was submitted (秒批), in words for a person.

An item with an approval rule has each case judged in the block that holds its
`service.submit_case` tx (chains/service.py): approved there, with a `CaseResult` naming
the rule's version and the block; or left for a person, with the rule's failures on the
case. The chain writes those failures for auditors ("营业执照 business license: scanned,
not pulled from its chain"); a kiosk screen and a department's console want them in
plain Chinese and English, with dates instead of milliseconds. `explain` does that; a
failure it does not know is still shown, as the chain wrote it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from client.state import ChainState
from protos import government_pb2 as government


@dataclass(frozen=True)
class Failure:
    """One reason the rule did not approve the case: the material and the why, twice."""

    material: str
    zh: str
    en: str


@dataclass(frozen=True)
class Decision:
    """A case as submission left it: `status`, the rule that judged it (`rule_version`, 0:
    none in force) and, when that rule approved it, the result with the block height."""

    case_number: str
    status: str
    rule_version: int
    failures: tuple[Failure, ...]
    result: government.CaseResult | None

    @property
    def instant(self) -> bool:
        """Approved by the rule in the submitting block (秒批), not by a person."""
        return self.result is not None and self.result.rule_version > 0

    @property
    def height(self) -> int:
        return self.result.height if self.result is not None else 0


def day(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


# The chain's wording (chains/service_shapes.py, rule_failures) -> (中文, English).
FIXED = {
    "not attached": ("未提交", "not handed in"),
    "a refusal is recorded for its pull": ("调取被拒绝", "its pull was refused"),
    "scanned, not pulled from its chain": (
        "为扫描件，未从区块链调取",
        "a scanned copy, not pulled from the blockchain",
    ),
    "no granted access record for its pull": (
        "没有获准的调取记录",
        "no approved pull of it is recorded",
    ),
    "no license validity recorded": ("未记录证照有效期", "the license's validity is not recorded"),
}
NOT_YET = re.compile(r"^license valid only from (\d+), block time \d+$")
ENDED = re.compile(r"^license validity ended at (\d+), block time \d+$")


def explain(failure: str) -> Failure:
    """One of the chain's failure strings ("<material>: <why>") in plain words."""
    material, sep, why = failure.rpartition(": ")
    if not sep:
        material, why = "", failure
    if why in FIXED:
        return Failure(material, *FIXED[why])
    if match := NOT_YET.match(why):
        when = day(int(match[1]))
        zh, en = f"证照尚未生效（{when} 起有效）", f"the license is valid only from {when}"
        return Failure(material, zh, en)
    if match := ENDED.match(why):
        when = day(int(match[1]))
        return Failure(material, f"证照已于 {when} 失效", f"the license expired on {when}")
    return Failure(material, "不符合审批规则", why)


def decision_from(case: government.Case, result: government.CaseResult | None) -> Decision:
    failures = tuple(explain(f) for f in case.rule_failures)
    return Decision(case.case_number, case.status, case.rule_version, failures, result)


def decision_of(state: ChainState, case_number: str) -> Decision | None:
    """The case's decision as the service chain holds it (None: no such case)."""
    case = state.case(case_number)
    if case is None:
        return None
    return decision_from(case, state.case_result(case_number))
