"""Instructions per request of deep_stack, per tracer, under callgrind.

Usage: python bench/instructions.py [--tracers none,hl1,hl25] [--depths 2,20]
                                    [--requests N] [--rounds R]

The machine this project runs on is noisy (untraced runs spread 14-70%), so
wall-clock ratios cannot show a change of a few percent. Instruction counts
can: this runs bench/deep_stack_profile.py under `valgrind --tool=callgrind`
at N and 2N requests per round for each (tracer, depth), takes the
difference (what the extra N requests cost, start-up and tracer set-up
cancel out), and prints instructions per request and, for each tracer, the
ratio to the untraced count at the same depth. A request builds 20 items (
about 150 allocations on 3.14, 190 on 3.11).

The counts repeat to within a few instructions per request between runs, so
a change to the hot path shows as a change in these figures; they leave out
cache misses and branch mispredictions, which wall time does not.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOTALS = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def instructions(tracer, depth, requests, rounds, scratch):
    """Total instructions of one run of deep_stack_profile.py."""
    out = os.path.join(scratch, f"cg.{tracer}.{depth}.{requests}")
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            os.path.join(HERE, "deep_stack_profile.py"),
            tracer,
            "--depth",
            str(depth),
            "--requests",
            str(requests),
            "--rounds",
            str(rounds),
        ],
        check=True,
        capture_output=True,
    )
    with open(out, "rb") as profile:
        found = TOTALS.findall(profile.read())
    if not found:
        raise SystemExit(f"no instruction total in {out}")
    return int(found[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--tracers", default="none,hl1,hl25")
    parser.add_argument("--depths", default="2,20")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    tracers = args.tracers.split(",")
    depths = [int(d) for d in args.depths.split(",")]
    per_request = {}
    with tempfile.TemporaryDirectory(prefix="heaplens-cg-") as scratch:
        for depth in depths:
            for tracer in tracers:
                small = instructions(tracer, depth, args.requests, args.rounds, scratch)
                large = instructions(tracer, depth, 2 * args.requests, args.rounds, scratch)
                per_request[tracer, depth] = (large - small) / (args.requests * args.rounds)
    print(f"Python {sys.version.split()[0]}: instructions per request (20 items), callgrind")
    print(f"{'tracer':<8}" + "".join(f"{'depth ' + str(d):>14}{'ratio':>8}" for d in depths))
    for tracer in tracers:
        row = f"{tracer:<8}"
        for depth in depths:
            count = per_request[tracer, depth]
            base = per_request.get(("none", depth))
            ratio = f"{count / base:.3f}x" if base else ""
            row += f"{count:>14,.0f}{ratio:>8}"
        print(row)


if __name__ == "__main__":
    main()
