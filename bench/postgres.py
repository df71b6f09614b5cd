"""A throwaway PostgreSQL server for the SQL source tests and the anchoring benchmark:
Debian's `postgresql` (scripts/system_deps.sh),
a cluster in a temp dir listening only on a unix socket in that dir, on a free port
number (the socket's name), stopped and removed after.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` system
user (`runuser -u postgres`); as anyone else it is the caller's own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")


def pg_bin() -> Path:
    versions = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise RuntimeError("no PostgreSQL in /usr/lib/postgresql: run scripts/system_deps.sh")
    return versions[-1].parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class PgServer:
    socket_dir: Path
    port: int
    superuser: str

    def url(self, user: str, database: str = "postgres") -> str:
        """An SQLAlchemy URL over the unix socket."""
        return f"postgresql+psycopg://{user}@/{database}?host={self.socket_dir}&port={self.port}"

    def psql(self, sql: str, database: str = "postgres") -> None:
        """Run SQL as the superuser (the department's own administrator)."""
        import psycopg

        conninfo = f"host={self.socket_dir} port={self.port} user={self.superuser}"
        with psycopg.connect(f"{conninfo} dbname={database}", autocommit=True) as conn:
            conn.execute(sql)


def _run(argv: list[str], as_postgres: bool) -> None:
    if as_postgres:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)


@contextmanager
def pg_server(fsync: bool = False) -> Iterator[PgServer]:
    """A running cluster, removed after. Tests run without fsync (nothing to keep); the
    benchmark with it, as a department's server runs."""
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="govchain-pg-"))
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    data, bin_dir, port = root / "data", pg_bin(), _free_port()
    superuser = "postgres"
    _run([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", superuser], as_postgres)
    options = f"-p {port} -k {root} -c listen_addresses='' -c fsync={'on' if fsync else 'off'}"
    start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-t", "60"]
    _run([*start, "-l", str(root / "log"), "start"], as_postgres)
    try:
        yield PgServer(root, port, superuser)
    finally:
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], as_postgres)
        shutil.rmtree(root, ignore_errors=True)
