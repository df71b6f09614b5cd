"""The demo's cast: the service item and its approval rule, the kiosk, the company, its
representative and the four licenses its permit needs (values stay with each issuing
department; only their commitments go on chain)."""

from __future__ import annotations

from dataclasses import dataclass

ITEM = "PEST-FIRST"
KIOSK = "haidian-kiosk-01"
# 秒批: agriculture's approval rule for ITEM (government.ApprovalRule's conditions). A case
# with every material attached, each license pulled from its chain with a granted access
# record and valid at the block time, is approved in the block that submits it.
RULE = {
    "require_all_materials": True,
    "require_chain_sources": True,
    "require_licenses_valid": True,
}


@dataclass(frozen=True)
class LicenseSpec:
    type_code: str
    name: str
    department: str
    holder: str
    values: dict[str, str]


COMPANY_ID = "91110108MA01XYZ12K"  # unified social credit code of the demo company
# The legal representative's ID number (a valid check digit: the kiosk checks it). Never on chain.
REP_ID = "110108198001011237"
SPECS = (
    LicenseSpec(
        "BL01",
        "营业执照 business license",
        "market-regulation",
        "company",
        {
            "name": "海淀绿丰农资有限公司",
            "uscc": COMPANY_ID,
            "legal_rep": "王芳",
            "capital": "500万元",
        },
    ),
    LicenseSpec(
        "RID01",
        "法定代表人身份证明 legal representative ID",
        "public-security",
        "person",
        {"name": "王芳", "id_number": REP_ID},
    ),
    LicenseSpec(
        "PREM01",
        "经营场所证明 premises certificate",
        "civil-affairs",
        "company",
        {"address": "北京市海淀区农大南路1号", "area": "320 m²"},
    ),
    LicenseSpec(
        "TECH01",
        "农药技术人员资格 technician qualification",
        "agriculture",
        "person",
        {"name": "李强", "certificate_no": "NJ-2024-0815"},
    ),
)
