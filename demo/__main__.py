"""`python -m demo --dir TESTNET`: tell the kiosk story on a running testnet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc

from demo.story import Demo


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    p.add_argument("--dir", type=Path, default=Path("testnet"), help="the testnet directory")
    args = p.parse_args(argv)
    try:
        Demo(args.dir).run()
    except (RuntimeError, grpc.RpcError) as e:
        print(f"demo failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
