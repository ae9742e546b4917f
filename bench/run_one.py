"""Run one workload once under one tracer, in this process, and report as JSON.

Usage: python bench/run_one.py WORKLOAD TRACER

run.py starts a fresh interpreter for every run, so that no run inherits the
heap, caches or tracer state of another. On success this prints one JSON
object on stdout: the workload and tracer names, "seconds" (wall time of the
part the workload measures, with the tracer running), "cpu_seconds" (the
process's CPU time, all threads, over the whole run call: for a pyperformance
case that includes the script's imports and setup) and "peak_rss_kib" (the
process's peak resident set size, from getrusage; KiB on Linux). Whatever the
workload prints goes to stderr. On a busy machine the CPU time is the steadier
of the two: a run that waits for a core loses wall time, not CPU time.
"""

import argparse
import contextlib
import json
import resource
import sys
import tempfile
import time

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
            cpu_start = time.process_time()
            seconds = run()
            cpu_seconds = time.process_time() - cpu_start

    peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "workload": args.workload,
                "tracer": args.tracer,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "peak_rss_kib": peak_rss_kib,
            }
        )
    )


if __name__ == "__main__":
    main()
