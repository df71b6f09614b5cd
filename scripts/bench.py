#!/usr/bin/env python3
"""Block-throughput benchmark: see bench/run.py and the README's benchmark section."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import main

if __name__ == "__main__":
    sys.exit(main())
