#!/usr/bin/env python3
"""Long seeded simulation campaign for the consensus core (`make sim SEEDS=N`).

Runs the swarm (chaos for safety, then healing for liveness) over many seeds, shows
progress, and prints every failing seed with the command that replays it. Add a seed
that failed to FAILING_SEEDS in tests/sim/test_swarm.py once it is fixed.

    scripts/sim_campaign.py --seeds 1000 --first-seed 5000
    scripts/sim_campaign.py --replay 1234          # one seed, with its plan and result
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.swarm import SwarmPlan, run_swarm


def replay(seed: int) -> int:
    print(f"seed={seed}: {SwarmPlan.from_seed(seed).describe()}")
    try:
        result = run_swarm(seed)
    except AssertionError as e:
        print(e)
        return 1
    print(f"ok: {result}")
    return 0


def campaign(first: int, count: int) -> int:
    failures: list[str] = []
    steps = ticks = blocks = 0
    start = time.monotonic()
    for k, seed in enumerate(range(first, first + count), 1):
        try:
            r = run_swarm(seed)
            steps, ticks, blocks = steps + r.steps, ticks + r.ticks, blocks + r.height
        except AssertionError as e:
            failures.append(str(e))
            print(f"\nFAIL {str(e).splitlines()[0]}", flush=True)
        if k % 10 == 0 or k == count:
            rate = k / (time.monotonic() - start)
            print(
                f"\r{k}/{count} seeds, {len(failures)} failed, {rate:.1f} seeds/s",
                end="",
                flush=True,
            )
    print()
    print(
        f"seeds {first}..{first + count - 1}: {count - len(failures)} passed, "
        f"{len(failures)} failed; {steps} replica steps, {ticks} ticks, {blocks} blocks "
        f"in {time.monotonic() - start:.0f} s"
    )
    for failure in failures:
        print("\n" + failure)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=200, help="number of seeds (default 200)")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--replay", type=int, help="run one seed and show its plan")
    args = parser.parse_args()
    if args.replay is not None:
        return replay(args.replay)
    return campaign(args.first_seed, args.seeds)


if __name__ == "__main__":
    sys.exit(main())
