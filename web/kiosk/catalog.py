"""The service items a kiosk offers, as the service chain has them: each item's name, its
department and the materials it needs, each marked on-chain (with the license type that
fulfils it) or scan-required. Read fresh for each visit: a department may change its
materials at any time, and the kiosk shows only what is committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.state import ChainState

# The departments' names in Chinese (their ids are what the chain knows them by).
DEPARTMENT_NAMES = {
    "public-security": "公安局",
    "market-regulation": "市场监督管理局",
    "civil-affairs": "民政局",
    "agriculture": "农业农村局",
    "human-resources": "人力资源和社会保障局",
    "health": "卫生健康委员会",
    "education": "教育委员会",
}


@dataclass(frozen=True)
class MaterialInfo:
    name: str
    required: bool
    scan: bool
    license_type: str = ""
    license_name: str = ""


@dataclass(frozen=True)
class ItemView:
    code: str
    name: str
    department: str
    materials: tuple[MaterialInfo, ...]
    published: bool = True

    @property
    def zh(self) -> str:
        """The Chinese part of a name written "中文 English"."""
        return split_name(self.name)[0]

    @property
    def en(self) -> str:
        return split_name(self.name)[1]


def split_name(name: str) -> tuple[str, str]:
    """ "营业执照 business license" -> ("营业执照", "business license")."""
    head, _, tail = name.partition(" ")
    if tail and not head.isascii() and tail[:1].isascii():
        return head, tail
    return name, ""


def read_item(state: ChainState, code: str) -> ItemView:
    """One service item and its materials (an item not on chain: published=False)."""
    item = state.service_item(code)
    materials = state.materials(code)
    if item is None or materials is None:
        return ItemView(code, code, "", (), published=False)
    names: dict[str, str] = {}
    infos = []
    for m in materials.materials:
        if m.license_type and m.license_type not in names:
            lt = state.license_type(m.license_type)
            names[m.license_type] = lt.name if lt is not None else m.license_type
        infos.append(
            MaterialInfo(m.name, m.required, m.scan, m.license_type, names.get(m.license_type, ""))
        )
    return ItemView(code, item.name, item.department, tuple(infos))


def read_items(state: ChainState, codes: tuple[str, ...]) -> list[ItemView]:
    return [read_item(state, code) for code in codes]
