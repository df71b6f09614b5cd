"""The anchoring benchmark: how fast `govchain source watch` puts a department's rows on
chain (`python -m bench.anchoring`, `make bench-anchoring`).

A throwaway PostgreSQL server holds market regulation's own business-license table; a
4-validator testnet runs the government applications; the watcher runs as its own process
beside the department's node, as in production. Two figures:

- rate: a backlog of `--rows` rows (100,000 by default) inserted at once, then the
  watcher started with `--once`: rows anchored per second, start to exit (scan, sign,
  journal, submit and wait for every commit);
- lag: with the watcher running (`--interval`), one row at a time is inserted and
  committed in PostgreSQL; the lag is the time from that commit until the row's license
  is readable in the department node's committed state (polled every 20 ms), over
  `--samples` rows. The table still holds the backlog, so each scan reads every row.

Figures are printed, never asserted (docs/benchmark.md keeps the measured ones).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.postgres import PgServer, pg_server
from bench.run import init_testnet, wait_ready
from chains.privacy import subject_ref
from cli.processes import NodeProcesses
from cli.testnet_files import tls_of_testnet
from client.connection import connect, load_signing_key
from client.departments import publish_license_type
from client.state import ChainState
from node.config import load_config

DEPARTMENT = "market-regulation"
TYPE = "BL01"
# Market regulation's own business-license table, in its own names (the SQL source tests
# use it too): 统一社会信用代码, 企业名称, 法定代表人, 注册资本, 登记状态, 有效期至.
T_YYZZ = """
CREATE TABLE t_yyzz (
    tyshxydm VARCHAR(18) PRIMARY KEY,
    qymc TEXT NOT NULL,
    fddbr TEXT,
    zczb NUMERIC(18, 2),
    djzt VARCHAR(2) NOT NULL,
    yxqz DATE
)"""
SCHEMA = f"""{T_YYZZ};
CREATE ROLE govchain_reader LOGIN;
GRANT SELECT ON t_yyzz TO govchain_reader;
"""
ITEMS = ["name", "uscc", "legal_rep", "capital"]
MAPPING = """database = "{url}"

[licenses.BL01]
table = "t_yyzz"
id = "tyshxydm"
holder = "qymc"
subject = "tyshxydm"
status = "djzt"
valid_until = "yxqz"

[licenses.BL01.items]
name = "qymc"
uscc = "tyshxydm"
legal_rep = "fddbr"
capital = "zczb"

[licenses.BL01.statuses]
"1" = "VALID"
"2" = "SUSPENDED"
"3" = "REVOKED"
"""
ROOT = Path(__file__).resolve().parents[1]


def uscc(n: int) -> str:
    return f"91110108MB{n:08d}"


def backlog_sql(first: int, count: int) -> str:
    return (
        "INSERT INTO t_yyzz SELECT '91110108MB' || lpad(n::text, 8, '0'), '企业' || n, "
        f"'法人' || n, n::numeric * 100, '1', DATE '2040-01-01' FROM generate_series({first}, "
        f"{first + count - 1}) AS n"
    )


def watcher(root: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "source",
            "watch",
            "--config",
            str(root / DEPARTMENT / "config.toml"),
            "--subject-key",
            str(root / "keys" / "subject.key"),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def measure_rate(root: Path, pg: PgServer, rows: int) -> dict[str, float]:
    print(f"backlog: inserting {rows:,} rows into t_yyzz ...", flush=True)
    pg.psql(backlog_sql(1, rows))
    began = time.monotonic()
    proc = watcher(root, "--once", "--interval", "0.5")
    assert proc.stdout is not None
    for line in proc.stdout:  # the watcher's own progress, passed through
        print("  watcher:", line.rstrip(), flush=True)
    if proc.wait() != 0:
        raise SystemExit("the watcher failed")
    seconds = time.monotonic() - began
    print(f"rate: {rows:,} rows anchored in {seconds:.1f} s = {rows / seconds:,.0f} rows/s")
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def measure_lag(
    root: Path, pg: PgServer, chain: ChainState, key: bytes, samples: int, interval: float
) -> dict[str, float]:
    proc = watcher(root, "--interval", str(interval))
    lags = []
    try:
        for i in range(samples):
            n = 90_000_000 + i
            committed = time.monotonic()
            pg.psql(backlog_sql(n, 1))  # autocommit: the row is committed when this returns
            ref = subject_ref(key, uscc(n))
            deadline = committed + 120
            while not chain.licenses_of(ref, TYPE):
                if time.monotonic() > deadline:
                    raise SystemExit(f"row {n} not anchored within 120 s")
                time.sleep(0.02)  # the poll granularity of the measurement
            lags.append(time.monotonic() - committed)
            print(f"  lag sample {i + 1}/{samples}: {lags[-1] * 1000:,.0f} ms", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lags.sort()
    figures = {
        "samples": samples,
        "interval_s": interval,
        "p50_ms": statistics.median(lags) * 1000,
        "p90_ms": lags[int(0.9 * (len(lags) - 1))] * 1000,
        "max_ms": lags[-1] * 1000,
    }
    print(
        f"lag (interval {interval} s): p50 {figures['p50_ms']:,.0f} ms, "
        f"p90 {figures['p90_ms']:,.0f} ms, max {figures['max_ms']:,.0f} ms"
    )
    return figures


def run(args: argparse.Namespace) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="govchain-anchoring-"))
    root = work / "net"
    with pg_server(fsync=True) as pg:
        pg.psql(SCHEMA)
        init_testnet(root, 4, ["license", "catalog"], 2000, app="government")
        config = load_config(root / DEPARTMENT / "config.toml")
        config.data_dir.mkdir(parents=True, exist_ok=True)
        (config.data_dir / "source.toml").write_text(MAPPING.format(url=pg.url("govchain_reader")))
        nodes = NodeProcesses.of_testnet(root)
        nodes.start_all()
        try:
            wait_ready(nodes)
            tls = tls_of_testnet(root)
            stub = connect(config.listen, tls)
            key = load_signing_key(root / "keys" / f"{DEPARTMENT}.tx.key")
            publish_license_type(
                stub,
                config.chain_id,
                key,
                DEPARTMENT,
                TYPE,
                "营业执照",
                "company",
                ITEMS,
            )
            subject_key = bytes.fromhex((root / "keys" / "subject.key").read_text().strip())
            rate = measure_rate(root, pg, args.rows)
            chain = ChainState.connect(config.listen, tls)
            lag = measure_lag(root, pg, chain, subject_key, args.samples, args.interval)
        finally:
            nodes.stop_all()
    return {"rate": rate, "lag": lag}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.anchoring", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000, help="backlog rows")
    p.add_argument("--samples", type=int, default=20, help="lag samples")
    p.add_argument("--interval", type=float, default=2.0, help="the watcher's scan interval")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    figures = run(parse(argv))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
