"""How long the watcher takes to rescan a table whose rows have not changed
(`python -m bench.rescan --rows 100000`): the part of the anchoring lag that grows with
the department's table. In-process, on SQLite, no chain: the rows are read through
`SqlSource.scan` and each is recognised as already handled by `Watcher._plan`, exactly as
in a watcher's pass. Prints the median of `--runs` rescans."""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.anchoring import MAPPING, T_YYZZ
from sources.mapping import parse_mapping
from sources.sidecar import RowState, Sidecar
from sources.sql import SqlSource
from sources.watcher import Watcher


class _NoChain:
    """The watcher asks the chain who defines the type, once; nothing else here."""

    def type_owner(self, type_code: str) -> str:
        return "market-regulation"


def rescan_seconds(rows: int, runs: int) -> list[float]:
    work = Path(tempfile.mkdtemp(prefix="govchain-rescan-"))
    with sqlite3.connect(work / "scjg.db") as db:
        db.execute(T_YYZZ)
        db.executemany(
            "INSERT INTO t_yyzz VALUES (?, ?, ?, ?, ?, ?)",
            (
                (f"91110108MB{n:08d}", f"企业{n}", "法人", n * 100, "1", "2040-01-01")
                for n in range(rows)
            ),
        )
    mapping = parse_mapping(MAPPING.format(url=f"sqlite:///{work / 'scjg.db'}"))
    source = SqlSource(mapping, Sidecar(work / "sidecar.sqlite"))
    watcher = Watcher(source, _NoChain(), lambda *_: b"", bytes(32), lambda *_, **__: None)  # type: ignore[arg-type]
    ctx = watcher._context("BL01")
    states = {}
    for record in source.scan("BL01"):
        _, seen = watcher._plan(record, None, ctx)
        states[record.key] = RowState("anchored", "VALID", b"", 0, seen)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        for record in source.scan("BL01"):
            planned, _ = watcher._plan(record, states[record.key], ctx)
            assert planned is None, "an unchanged row was planned again"
        times.append(time.perf_counter() - began)
    source.close()
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.rescan", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    times = rescan_seconds(args.rows, args.runs)
    shown = ", ".join(f"{t:.2f}" for t in times)
    print(
        f"rescan of {args.rows:,} unchanged rows: median {statistics.median(times):.2f} s ({shown})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
