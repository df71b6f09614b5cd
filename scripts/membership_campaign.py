#!/usr/bin/env python3
"""Long campaign of the grow-and-shrink chaos simulation (validator governance).

Runs `sim.governance.grow_and_shrink_under_chaos` (CI runs a handful of seeds of it in
tests/sim/test_membership.py) over many seeds, prints progress and every failing seed. To
replay one, add the seed to that test's parameter list and run it with pytest.

    scripts/membership_campaign.py --seeds 1000 --first-seed 5000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.governance import grow_and_shrink_under_chaos as run_seed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, default=200)
    p.add_argument("--first-seed", type=int, default=5000)
    args = p.parse_args()
    failed: list[int] = []
    start = time.monotonic()
    for i, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds), 1):
        try:
            run_seed(seed)
        except AssertionError as e:
            failed.append(seed)
            print(f"seed {seed} FAILED: {str(e)[:400]}", flush=True)
        if i % 50 == 0:
            print(f"{i}/{args.seeds} seeds, {len(failed)} failed", flush=True)
    took = time.monotonic() - start
    print(f"{args.seeds - len(failed)} passed, {len(failed)} failed {failed} in {took:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
