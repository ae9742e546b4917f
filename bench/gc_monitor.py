"""What heaplens.gc_monitor() costs a program, next to the usual gc.callbacks timer.

Two workloads, each run in a fresh interpreter per (workload, variant), the
variants interleaved in rotating order over --repeat rounds:

    loop  a loop that makes LOOP_OBJECTS self-referencing objects, each with a
          small list: many young collections, each freeing cyclic garbage
    full  three full collections (gc.collect()) of a heap of FULL_OBJECTS live
          objects in reference cycles that survive, and FULL_GARBAGE that do not

Variants:
    none            no monitoring
    callback        a Python gc.callbacks function recording (generation,
                    duration, collected) per collection: what people write today
    hl_timings      heaplens.gc_monitor(breakdown=False)
    hl_breakdown    heaplens.gc_monitor(): what was freed, by type
    tracer          heaplens.start(1) alone
    tracer_breakdown heaplens.start(1) and heaplens.gc_monitor(): by type and site

The report gives each workload's median time without monitoring and every
variant's median as a ratio to it; for "full", also the collector's own
median time as the monitor measured it and the monitor's own share.

    python bench/gc_monitor.py [--repeat N] [--quick]

Where heaplens does not import (a new CPython before its port), it prints
one line saying so and exits with status 0.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

import availability

LOOP_OBJECTS = 300_000
FULL_OBJECTS = 2_000_000
FULL_GARBAGE = 200_000
VARIANTS = ("none", "callback", "hl_timings", "hl_breakdown", "tracer", "tracer_breakdown")
WORKLOADS = ("loop", "full")


class Node:
    def __init__(self):
        self.me = self
        self.payload = [1, 2]


def _loop(n):
    for _ in range(n):
        Node()


def _full(n_live, n_garbage):
    import gc

    live = [Node() for _ in range(n_live // 2)]  # each Node is 2 tracked objects
    _loop(n_garbage // 2)
    start = time.perf_counter()
    for _ in range(3):
        gc.collect()
    return live, time.perf_counter() - start


def one(workload, variant, quick):
    """Run one workload under one variant here; return its measurements."""
    import gc

    import heaplens

    scale = 10 if quick else 1
    records = []

    def callback(phase, info):
        if phase == "start":
            records.append([info["generation"], time.perf_counter(), 0])
        else:
            records[-1][1] = time.perf_counter() - records[-1][1]
            records[-1][2] = info["collected"]

    gc.collect()
    if variant.startswith("tracer"):
        heaplens.start(1)
    monitor = None
    if variant == "callback":
        gc.callbacks.append(callback)
    elif variant in ("hl_timings", "hl_breakdown", "tracer_breakdown"):
        monitor = heaplens.gc_monitor(breakdown=variant != "hl_timings").start()
    start = time.perf_counter()
    if workload == "loop":
        _loop(LOOP_OBJECTS // scale)
        collect_seconds = None
    else:
        live, collect_seconds = _full(FULL_OBJECTS // scale, FULL_GARBAGE // scale)
    seconds = time.perf_counter() - start
    out = {"seconds": seconds, "collect_seconds": collect_seconds}
    if variant == "callback":
        gc.callbacks.remove(callback)
        out["collections"] = len(records)
    if monitor is not None:
        report = monitor.stop()
        out.update(
            collections=report.n_collections,
            gc_seconds=report.gc_seconds,
            own_seconds=report.own_seconds,
            peak_watch_bytes=report.peak_watch_bytes,
            freed_types=len(report.by_type()),
        )
    heaplens.stop()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="heaps ten times smaller")
    parser.add_argument("--one", nargs=2, metavar=("WORKLOAD", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.quick)))
        return
    try:
        import heaplens  # noqa: F401 - every variant but two measures it
    except Exception as exc:  # noqa: BLE001 - a broken build can raise more than ImportError
        reason = availability.import_failure("heaplens", "heaplens", exc)
        print(f"gc monitor overhead: skipped, {reason}")
        return
    runs = {(w, v): [] for w in WORKLOADS for v in VARIANTS}
    for round_index in range(args.repeat):
        for workload in WORKLOADS:
            shift = round_index % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                command = [sys.executable, __file__, "--one", workload, variant]
                if args.quick:
                    command.append("--quick")
                result = subprocess.run(command, capture_output=True, text=True, check=True)
                runs[workload, variant].append(json.loads(result.stdout))
                print(
                    f"[{round_index + 1}/{args.repeat}] {workload} {variant}: "
                    f"{runs[workload, variant][-1]['seconds']:.3f} s",
                    file=sys.stderr,
                    flush=True,
                )
    print(
        f"gc monitor overhead, median of {args.repeat} runs each, python {sys.version.split()[0]}"
    )
    for workload in WORKLOADS:
        base = statistics.median(r["seconds"] for r in runs[workload, "none"])
        print(f"\n{workload}: {base:.3f} s without monitoring")
        for variant in VARIANTS[1:]:
            rs = runs[workload, variant]
            median = statistics.median(r["seconds"] for r in rs)
            line = f"  {variant:<17} {median:7.3f} s  x{median / base:.2f}"
            if "own_seconds" in rs[0]:
                own = statistics.median(r["own_seconds"] for r in rs)
                gc_s = statistics.median(r["gc_seconds"] for r in rs)
                peak = max(r["peak_watch_bytes"] for r in rs)
                line += (
                    f"   collector {gc_s:.3f} s, monitor's own {own:.3f} s, "
                    f"tables {peak / 2**20:.1f} MiB at most"
                )
            if workload == "full":
                collect = statistics.median(r["collect_seconds"] for r in rs)
                line += f"   3 x gc.collect() {collect:.3f} s"
            print(line)
        if workload == "full":
            collect = statistics.median(r["collect_seconds"] for r in runs[workload, "none"])
            print(f"  (3 x gc.collect() without monitoring: {collect:.3f} s)")


if __name__ == "__main__":
    main()
