"""What native tracing costs a C library that allocates in a hot loop:
instructions per malloc+free pair, under callgrind, per tracer.

Usage: python bench/native_cost.py [--tracers none,hlnat,hlnats,memray] [--calls N]

The library is tests/python/native/native_calls.c (nc_loop: malloc, touch,
free, N times), built for this interpreter and called once through ctypes
(the GIL released, as a C library's work runs). Each tracer runs N and 2N
calls under `valgrind --tool=callgrind`; the difference is what N more
pairs cost, start-up and set-up cancelled out. Instruction counts repeat
to within a few per pair, unlike wall time on a noisy machine.

  none    untraced
  hlnat   heaplens.start(5, native=True): every block recorded
  hlnats  heaplens.start(5, native=True, sample_rate=512K)
  hlnatf  heaplens.start(5, native_frames=True): every block, with its C frames
  hlnatfs the same, sampled at 512K
  memray  memray.Tracker (which sees every malloc), without native stacks
  memnat  memray.Tracker(native_traces=True): with native stacks
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOTALS = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)

CHILD = """
import ctypes, sys
sys.path.insert(0, {tests!r})
from native import build
lib = ctypes.CDLL(build("native_calls"))
lib.nc_loop.restype = ctypes.c_uint64
lib.nc_loop.argtypes = [ctypes.c_uint64, ctypes.c_size_t]
tracer, calls, scratch = {tracer!r}, {calls}, {scratch!r}
if tracer in ("memray", "memnat"):
    import memray
    with memray.Tracker(scratch + "/m.bin", native_traces=tracer == "memnat"):
        lib.nc_loop(calls, 64)
else:
    import heaplens
    if tracer != "none":
        heaplens.start(5, native=True, native_frames=tracer in ("hlnatf", "hlnatfs"),
                       sample_rate=512 * 1024 if tracer in ("hlnats", "hlnatfs") else 0)
    lib.nc_loop(calls, 64)
"""


def instructions(tracer, calls, scratch):
    """Total instructions of one run."""
    out = os.path.join(scratch, f"cg.{tracer}.{calls}")
    if os.path.exists(scratch + "/m.bin"):
        os.unlink(scratch + "/m.bin")
    code = CHILD.format(
        tests=os.path.join(HERE, "..", "tests", "python"),
        tracer=tracer,
        calls=calls,
        scratch=scratch,
    )
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", code],
        check=True,
        capture_output=True,
    )
    with open(out, "rb") as file:
        return int(TOTALS.search(file.read()).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracers", default="none,hlnat,hlnats,memray")
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for tracer in args.tracers.split(","):
            try:
                low = instructions(tracer, args.calls, scratch)
                high = instructions(tracer, 2 * args.calls, scratch)
            except subprocess.CalledProcessError as failed:
                print(f"{tracer}: failed: {failed.stderr.decode()[-500:]}", file=sys.stderr)
                continue
            rows.append((tracer, (high - low) / args.calls))
    base = dict(rows).get("none")
    print(f"instructions per malloc+free pair (callgrind, {args.calls} and {2 * args.calls} calls)")
    for tracer, per_pair in rows:
        ratio = f"{per_pair / base:.2f}x" if base else ""
        print(f"  {tracer:8} {per_pair:10.1f}  {ratio}")


if __name__ == "__main__":
    main()
