#!/usr/bin/env python3
"""Regenerate the protobuf/gRPC Python code in protos/ from protos/*.proto.

Generated files are committed so a node runs without grpcio-tools; a unit test
regenerates them into a temporary directory and fails if the committed copies differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent


def generate(out_dir: Path) -> None:
    """Compile every protos/*.proto into out_dir/protos/ (imports resolve as `protos.x_pb2`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "protos").mkdir(exist_ok=True)
    include = Path(protoc.__file__).resolve().parent / "_proto"
    for proto in sorted((ROOT / "protos").glob("*.proto")):
        args = [
            "protoc",
            f"-I{ROOT}",
            f"-I{include}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            str(proto.relative_to(ROOT)),
        ]
        if "\nservice " in proto.read_text():
            args.insert(-1, f"--grpc_python_out={out_dir}")
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {proto}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT, help="output root (default: repo)")
    generate(parser.parse_args().out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
