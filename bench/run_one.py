"""Run one workload once under one tracer, in this process, and report as JSON.

Usage: python bench/run_one.py WORKLOAD TRACER

run.py starts a fresh interpreter for every run, so that no run inherits the
heap, caches or tracer state of another. On success this prints one JSON
object on stdout: the workload and tracer names, "seconds" (wall time of the
part the workload measures, with the tracer running) and "peak_rss_kib" (the
process's peak resident set size, from getrusage; KiB on Linux). Whatever the
workload prints goes to stderr.
"""

import argparse
import contextlib
import json
import resource
import sys
import tempfile

import tracers
import workloads


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("workload", choices=workloads.NAMES)
    parser.add_argument("tracer", choices=tracers.TRACERS)
    args = parser.parse_args()
    tracer = tracers.TRACERS[args.tracer]

    with tempfile.TemporaryDirectory(prefix="heaplens-bench-") as scratch:
        run = workloads.prepare(args.workload, scratch)
        with contextlib.redirect_stdout(sys.stderr), tracers.tracing(tracer, scratch):
            seconds = run()

    peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "workload": args.workload,
                "tracer": args.tracer,
                "seconds": seconds,
                "peak_rss_kib": peak_rss_kib,
            }
        )
    )


if __name__ == "__main__":
    main()
