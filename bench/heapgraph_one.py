"""Time one tool of one heap-graph row once, in this process, and report as JSON.

Usage: python bench/heapgraph_one.py ROW TOOL N_TRACKED

run.py starts a fresh interpreter for every run. This imports the tool, builds
the benchmark heap (heapshape.build, about N_TRACKED GC-tracked objects), then
runs the tool's job, which times itself (heapgraph.py). On success it prints
one JSON object on stdout: the row, the tool and the call it made ("label"),
"times" (seconds per measurement, "call" being the job itself), "info" (what
the job found, for sanity checks), "build_seconds" (building the heap),
"tracked" (len(gc.get_objects()) before timing) and "peak_rss_kib". A tool
whose heaplens names do not exist prints {"missing": NAME} instead. Whatever
the tool prints goes to stderr. The process then leaves with os._exit, so that
tearing down a heap of millions of objects costs no time.
"""

import argparse
import contextlib
import gc
import json
import os
import resource
import sys

import heapgraph
import heapshape


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("row", choices=heapgraph.ROWS)
    parser.add_argument("tool", choices=sorted({tool.name for tool in heapgraph.TOOLS}))
    parser.add_argument("n_tracked", type=int)
    args = parser.parse_args()
    tool = heapgraph.tool(args.row, args.tool)
    try:
        label, run = tool.resolve()
    except heapgraph.Missing as exc:
        return {"row": args.row, "tool": args.tool, "missing": str(exc)}

    build_seconds = heapshape.build(args.n_tracked)
    tracked = len(gc.get_objects())
    with contextlib.redirect_stdout(sys.stderr):
        result = run()
    result.update(
        row=args.row,
        tool=args.tool,
        label=label,
        n_tracked=args.n_tracked,
        tracked=tracked,
        build_seconds=build_seconds,
        peak_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )
    return result


if __name__ == "__main__":
    print(json.dumps(main()), flush=True)
    sys.stderr.flush()
    os._exit(0)
