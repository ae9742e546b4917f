"""Time reading a snapshot with millions of live traced blocks, and report as JSON.

Usage: python bench/snapshot_one.py TRACER N_BLOCKS

TRACER is one of the tracemalloc-API tracers (tm1, tm25, hl1, hl25). With the
tracer running, this allocates N_BLOCKS small distinct objects from four source
lines, about twenty calls deep so that nframe=25 keeps real tracebacks, then
times take_snapshot(), Snapshot.statistics("lineno") and, when the tracer keeps
more than one frame, Snapshot.statistics("traceback"). It prints one JSON
object on stdout with those times in seconds (null for a step not run), the
number of objects allocated and the number of traces the snapshot holds.
"""

import argparse
import json
import tempfile
import time

import tracers

CALL_DEPTH = 20


def allocate(n_blocks):
    """Return n_blocks live objects of one block each, from four source lines."""
    quarter = n_blocks // 4
    return [
        [object() for _ in range(quarter)],
        [object() for _ in range(quarter)],
        [object() for _ in range(quarter)],
        [object() for _ in range(n_blocks - 3 * quarter)],
    ]


def allocate_nested(depth, n_blocks):
    """Call allocate(n_blocks) from depth nested frames."""
    if depth == 0:
        return allocate(n_blocks)
    return allocate_nested(depth - 1, n_blocks)


def timed(function, *args):
    """Return (function(*args), seconds it took)."""
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    snapshot_tracers = [
        name for name, tracer in tracers.TRACERS.items() if tracer.kind == tracers.TRACEMALLOC_API
    ]
    parser.add_argument("tracer", choices=snapshot_tracers)
    parser.add_argument("n_blocks", type=int)
    args = parser.parse_args()
    tracer = tracers.TRACERS[args.tracer]

    with (
        tempfile.TemporaryDirectory(prefix="heaplens-bench-") as scratch,
        tracers.tracing(tracer, scratch) as module,
    ):
        blocks = allocate_nested(CALL_DEPTH, args.n_blocks)
        snapshot, take_seconds = timed(module.take_snapshot)
        _, lineno_seconds = timed(snapshot.statistics, "lineno")
        traceback_seconds = None
        if tracer.nframe > 1:
            _, traceback_seconds = timed(snapshot.statistics, "traceback")

    print(
        json.dumps(
            {
                "tracer": args.tracer,
                "n_blocks": sum(len(part) for part in blocks),
                "n_traces": len(snapshot.traces),
                "take_snapshot": take_seconds,
                "stats_lineno": lineno_seconds,
                "stats_traceback": traceback_seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
