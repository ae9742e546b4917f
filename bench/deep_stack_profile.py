"""Run the deep_stack workload once, at a chosen depth, for a profiler to watch.

Usage: python bench/deep_stack_profile.py TRACER [--depth D] [--rounds R] [--requests N]

The same objects as the deep_stack workload (workloads/deep_stack.py), built
D calls deep (default 20; 2 is the same work near the top of the stack), under
one tracer of tracers.py. Meant to run under `perf record` or
`valgrind --tool=callgrind`: it starts the tracer, runs the workload, stops
the tracer and prints one JSON line with the arguments, the wall seconds and
the CPU seconds (time.process_time()) of the workload.
Compare two sizes (--requests N and 2N) to take the start-up cost out of a
profile: what differs between them is the workload alone.
"""

import argparse
import json
import tempfile
import time

import tracers
from workloads import deep_stack


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("tracer", choices=tracers.TRACERS)
    parser.add_argument("--depth", type=int, default=deep_stack.CALL_DEPTH)
    parser.add_argument("--rounds", type=int, default=deep_stack.N_ROUNDS)
    parser.add_argument("--requests", type=int, default=deep_stack.N_REQUESTS)
    args = parser.parse_args()
    tracer = tracers.TRACERS[args.tracer]
    with (
        tempfile.TemporaryDirectory(prefix="heaplens-bench-") as scratch,
        tracers.tracing(tracer, scratch),
    ):
        cpu_start = time.process_time()
        seconds = deep_stack.run(args.depth, args.rounds, args.requests)
        cpu_seconds = time.process_time() - cpu_start
    print(
        json.dumps(
            {
                "tracer": args.tracer,
                "depth": args.depth,
                "rounds": args.rounds,
                "requests": args.requests,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
