"""The four departments' own systems in the demo: one SQLite database each, shaped the way
that department keeps its records (its own table and column names, its own status codes),
and the `source.toml` that maps it for the department's node and watcher.

Nothing here is govchain's format: market regulation's 营业执照 table is keyed by the
unified social credit code, public security's 法定代表人身份证明 by a certificate number,
and so on. The demo "issues" a license the way the department's own software would, by
inserting a row; `govchain source watch` then anchors it (demo/story.py runs it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from demo.specs import SPECS, LicenseSpec
from node.config import load_config


@dataclass(frozen=True)
class DepartmentSystem:
    """One department's table for one license type."""

    type_code: str
    table: str
    key: str  # the department's own key column
    holder: str
    subject: str  # the company's credit code, as the department stores it
    status: str
    valid_until: str
    items: dict[str, str]  # item code -> column
    statuses: dict[str, str]  # the department's status code -> chain status
    live_code: str  # the code its software writes for a license in force
    extra: dict[str, str]  # further columns of its own (not anchored) -> SQL type

    def create_sql(self) -> str:
        columns = {self.key, self.holder, self.subject, self.status, *self.items.values()}
        defs = [f"{c} TEXT" for c in sorted(columns - {self.key, self.valid_until})]
        defs += [f"{c} {t}" for c, t in self.extra.items()]
        return (
            f"CREATE TABLE IF NOT EXISTS {self.table} ({self.key} TEXT PRIMARY KEY, "
            f"{', '.join(defs)}, {self.valid_until} DATE)"
        )

    def mapping_toml(self) -> str:
        items = "\n".join(f'{code} = "{col}"' for code, col in self.items.items())
        statuses = "\n".join(f'"{code}" = "{what}"' for code, what in self.statuses.items())
        t = self.type_code
        return (
            f'[licenses.{t}]\ntable = "{self.table}"\nid = "{self.key}"\n'
            f'holder = "{self.holder}"\nsubject = "{self.subject}"\nstatus = "{self.status}"\n'
            f'valid_until = "{self.valid_until}"\n\n[licenses.{t}.items]\n{items}\n\n'
            f"[licenses.{t}.statuses]\n{statuses}\n"
        )


SYSTEMS = {
    # 市场监管: 营业执照 in t_yyzz, keyed by 统一社会信用代码; 登记状态 in words
    "BL01": DepartmentSystem(
        "BL01",
        "t_yyzz",
        "tyshxydm",
        "qymc",
        "tyshxydm",
        "djzt",
        "yyqxz",
        {"name": "qymc", "uscc": "tyshxydm", "legal_rep": "fddbr", "capital": "zczb"},
        {"存续": "VALID", "停业": "SUSPENDED", "吊销": "REVOKED", "注销": "CANCELLED"},
        "存续",
        {"clrq": "DATE"},
    ),
    # 公安: 法定代表人身份证明 in rk_fddbrzm, keyed by 证明编号; zt 0 = 有效, 1 = 作废
    "RID01": DepartmentSystem(
        "RID01",
        "rk_fddbrzm",
        "zmbh",
        "xm",
        "qy_tyshxydm",
        "zt",
        "yxqz",
        {"name": "xm", "id_number": "gmsfhm"},
        {"0": "VALID", "1": "REVOKED"},
        "0",
        {"kjrq": "DATE"},
    ),
    # 民政: 经营场所证明 in mz_csz, keyed by 证明编号; zt Y/N
    "PREM01": DepartmentSystem(
        "PREM01",
        "mz_csz",
        "zmbh",
        "dwmc",
        "tyshxydm",
        "zt",
        "yxqz",
        {"address": "dz", "area": "mj"},
        {"Y": "VALID", "N": "CANCELLED"},
        "Y",
        {"djr": "TEXT"},
    ),
    # 农业农村: 农药技术人员资格 in ny_jsryzg, keyed by 证书编号; zszt 01 有效, 02 暂停, 03 撤销
    "TECH01": DepartmentSystem(
        "TECH01",
        "ny_jsryzg",
        "zsbh",
        "xm",
        "szdw_tyshxydm",
        "zszt",
        "yxqz",
        {"name": "xm", "certificate_no": "zsh"},
        {"01": "VALID", "02": "SUSPENDED", "03": "REVOKED"},
        "01",
        {"fzjg": "TEXT"},
    ),
}


def database_of(root: Path, department: str) -> Path:
    return root / "departments" / f"{department}.db"


def row_of(spec: LicenseSpec, company_id: str, company_name: str, serial: int) -> dict:
    """The row the department's software writes when it issues this company's license."""
    system = SYSTEMS[spec.type_code]
    row = {col: spec.values[code] for code, col in system.items.items()}
    row[system.subject] = company_id
    if system.key not in row:
        row[system.key] = f"{spec.type_code}{serial:010d}"
    row.setdefault(system.holder, company_name)
    row[system.status] = system.live_code
    row[system.valid_until] = "2031-12-31"
    return row


def issue(root: Path, spec: LicenseSpec, row: dict) -> None:
    """Insert the row in the department's own table (kept if it is there already)."""
    system = SYSTEMS[spec.type_code]
    with sqlite3.connect(_table(root, spec)) as db:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        db.execute(
            f"INSERT OR IGNORE INTO {system.table} ({columns}) VALUES ({marks})",
            list(row.values()),
        )


def connect_sources(root: Path) -> None:
    """Each department's node reads its own database: write its `source.toml` (the node
    picks it up without a restart) unless it says so already."""
    for department in sorted({spec.department for spec in SPECS}):
        specs = [s for s in SPECS if s.department == department]
        text = f'database = "sqlite:///{database_of(root, department).resolve()}"\n\n'
        text += "\n".join(SYSTEMS[s.type_code].mapping_toml() for s in specs)
        for spec in specs:
            _table(root, spec)
        data_dir = load_config(root / department / "config.toml").data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / "source.toml"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def _table(root: Path, spec: LicenseSpec) -> Path:
    """The department's database, with its table (empty until it issues something)."""
    path = database_of(root, spec.department)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(SYSTEMS[spec.type_code].create_sql())
    return path
