"""Benchmark heaplens's tracer and heap queries next to tracemalloc, memray, objgraph, guppy3.

What heaplens's allocation tracer costs next to tracemalloc and memray, and how
fast its heap-graph queries are next to objgraph and guppy3.

Every (workload, tracer) pair runs --repeat times, each run in a fresh
interpreter (run_one.py); rounds interleave the tracers, in a rotating order,
so that machine noise spreads over all of them. The report gives each
workload's untraced median time, and each tracer's median time as a ratio to
it; the geometric mean of those ratios; the peak RSS ratio on alloc_heavy; and
how long reading a snapshot takes with millions of live traces
(snapshot_one.py). The heap-graph rows (heapgraph.py) run each tool --repeat
times, also in fresh interpreters (heapgraph_one.py) and interleaved, on a heap
of millions of objects built before timing. Progress goes to stderr, the
report to stdout, and the raw results to bench/results/ as JSON.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import heapgraph
import report
import tracers
import workloads

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
SNAPSHOT = "snapshot"
SNAPSHOT_BLOCKS = 4_000_000
QUICK_SNAPSHOT_BLOCKS = 1_000_000
REPEAT = 5
QUICK_REPEAT = 3
HEAPGRAPH = "heapgraph"  # in --only: all the heap-graph rows; "heapgraph.ROW" for one
HEAPGRAPH_ROWS = tuple(f"{HEAPGRAPH}.{row}" for row in heapgraph.ROWS)
ONLY_CHOICES = (*workloads.NAMES, SNAPSHOT, HEAPGRAPH, *HEAPGRAPH_ROWS)
CHILD_TIMEOUT_SECONDS = 1800


def comma_list(choices):
    """Return an argparse type for a comma-separated subset of choices."""

    def parse(text):
        names = [name for name in text.split(",") if name]
        unknown = [name for name in names if name not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown)} (choose from {', '.join(choices)})"
            )
        return names

    return parse


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_REPEAT} runs per pair unless --repeat is given, "
        f"{QUICK_SNAPSHOT_BLOCKS:,} instead of {SNAPSHOT_BLOCKS:,} "
        "traced objects for the snapshot timing, and heaps of 200k instead of "
        "2M-10M objects for the heap-graph rows",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        help=f"runs per (workload, tracer) pair and per heap-graph tool (default {REPEAT})",
    )
    parser.add_argument(
        "--only",
        type=comma_list(ONLY_CHOICES),
        default=[*workloads.NAMES, SNAPSHOT, HEAPGRAPH],
        help=f"workloads to run, '{SNAPSHOT}' for the snapshot timing, '{HEAPGRAPH}' for "
        f"the heap-graph rows or '{HEAPGRAPH}.ROW' for one of them "
        f"({', '.join(heapgraph.ROWS)}) (default: all)",
    )
    parser.add_argument(
        "--tracers",
        type=comma_list(tuple(tracers.TRACERS)),
        default=list(tracers.TRACERS),
        help="tracers to compare (default: all); 'none' is always run",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the report as Markdown, for docs/performance.md",
    )
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="report CPU times instead of wall times (steadier on a busy machine; "
        "a pyperformance case's CPU time includes its setup)",
    )
    parser.add_argument(
        "--load",
        type=Path,
        metavar="JSON",
        help="render a saved results file instead of running anything",
    )
    args = parser.parse_args()
    args.heapgraph_rows = [
        row for row in heapgraph.ROWS if HEAPGRAPH in args.only or f"{HEAPGRAPH}.{row}" in args.only
    ]
    if args.repeat is None:
        args.repeat = QUICK_REPEAT if args.quick else REPEAT
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def progress(message):
    print(message, file=sys.stderr, flush=True)


def run_child(script, *arguments):
    """Run a bench script in a fresh interpreter and return its JSON output as a dict.

    On failure, return {"error": <why>} instead; the child's stderr goes to
    our stderr so that the whole traceback is visible.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONTRACEMALLOC"}
    command = [sys.executable, str(BENCH_DIR / script), *arguments]
    try:
        child = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=CHILD_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT_SECONDS} s"}
    if child.returncode != 0:
        sys.stderr.write(child.stderr)
        last_line = (child.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit status {child.returncode}: {last_line}"}
    return json.loads(child.stdout.strip().splitlines()[-1])


def available(names, unavailable_reason, skipped):
    """Return the names that can run; record why the others cannot in skipped."""
    kept = []
    for name in names:
        reason = unavailable_reason(name)
        if reason is None:
            kept.append(name)
        else:
            skipped[name] = reason
            progress(f"skipping {name}: {reason}")
    return kept


def measure_overhead(workload_names, tracer_names, repeat):
    """Run every pair repeat times, rotating the tracer order each round."""
    runs = []
    total = repeat * len(workload_names) * len(tracer_names)
    if not total:
        return runs
    for round_index in range(repeat):
        shift = round_index % len(tracer_names)
        order = tracer_names[shift:] + tracer_names[:shift]
        for workload in workload_names:
            for tracer in order:
                run = run_child("run_one.py", workload, tracer)
                run.update(workload=workload, tracer=tracer, round=round_index)
                runs.append(run)
                outcome = run.get("error") or f"{run['seconds']:.2f} s"
                progress(
                    f"[{len(runs)}/{total}] round {round_index + 1}/{repeat} "
                    f"{workload} {tracers.TRACERS[tracer].label}: {outcome}"
                )
    return runs


def measure_snapshots(tracer_names, n_blocks):
    """Time snapshot reading once per tracemalloc-API tracer, nframe=1 ones first."""
    chosen = [
        name for name in tracer_names if tracers.TRACERS[name].kind == tracers.TRACEMALLOC_API
    ]
    chosen.sort(key=lambda name: tracers.TRACERS[name].nframe)
    runs = []
    for tracer in chosen:
        progress(f"snapshot timing, {n_blocks:,} objects, {tracers.TRACERS[tracer].label} ...")
        run = run_child("snapshot_one.py", tracer, str(n_blocks))
        run["tracer"] = tracer
        runs.append(run)
    return runs


def measure_heapgraph(rows, repeat, quick):
    """Run every available tool of the heap-graph rows, interleaved, and return the section.

    Each round runs every row's tools once, in an order that rotates from
    round to round; a slow anchor capped at full size (guppy3) runs only in
    the first rounds. Tools that cannot run are listed with the reason.
    """
    sizes = heapgraph.sizes(quick)
    by_key = {tool.key: tool for tool in heapgraph.TOOLS if tool.row in rows}
    unavailable = {}
    usable = [
        by_key[key]
        for key in available(
            list(by_key), lambda key: heapgraph.unavailable_reason(by_key[key]), unavailable
        )
    ]
    total = sum(heapgraph.runs_for(tool, repeat, quick) for tool in usable)
    runs = []
    for round_index in range(repeat):
        for row in rows:
            mine = [
                tool
                for tool in usable
                if tool.row == row and round_index < heapgraph.runs_for(tool, repeat, quick)
            ]
            shift = round_index % len(mine) if mine else 0
            for tool in mine[shift:] + mine[:shift]:
                run = run_child("heapgraph_one.py", row, tool.name, str(sizes[row]))
                run.update(row=row, tool=tool.name, round=round_index, n_tracked=sizes[row])
                if "missing" in run:
                    run["error"] = f"missing: {run.pop('missing')}"
                runs.append(run)
                if "error" in run:
                    outcome = run["error"]
                else:
                    outcome = ", ".join(
                        f"{metric} {seconds:.3f} s" for metric, seconds in run["times"].items()
                    )
                    outcome += f" (heap built in {run['build_seconds']:.1f} s)"
                progress(
                    f"[{len(runs)}/{total}] heapgraph round {round_index + 1}/{repeat} "
                    f"{tool.key}, {sizes[row]:,} tracked: {outcome}"
                )
    return {
        "quick": quick,
        "repeat": repeat,
        "rows": list(rows),
        "sizes": {row: sizes[row] for row in rows},
        "unavailable": unavailable,
        "runs": runs,
    }


def run_benchmarks(args):
    """Run what args select and return the results dict report.py reads."""
    skipped = {}
    tracing = any(name in args.only for name in (*workloads.NAMES, SNAPSHOT))
    wanted = {"none", *args.tracers} if tracing else set()
    tracer_names = available(
        [name for name in tracers.TRACERS if name in wanted],
        lambda name: tracers.unavailable_reason(tracers.TRACERS[name]),
        skipped,
    )
    workload_names = available(
        [name for name in workloads.NAMES if name in args.only],
        workloads.unavailable_reason,
        skipped,
    )
    results = {
        "python": sys.version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": shlex.join(["python", *sys.argv]),
        "repeat": args.repeat,
        "tracers": tracer_names,
        "workloads": workload_names,
        "skipped": skipped,
        "runs": measure_overhead(workload_names, tracer_names, args.repeat),
        "snapshot": None,
    }
    if SNAPSHOT in args.only:
        n_blocks = QUICK_SNAPSHOT_BLOCKS if args.quick else SNAPSHOT_BLOCKS
        results["snapshot"] = {
            "n_blocks": n_blocks,
            "runs": measure_snapshots(tracer_names, n_blocks),
        }
    results["heapgraph"] = None
    if args.heapgraph_rows:
        results["heapgraph"] = measure_heapgraph(args.heapgraph_rows, args.repeat, args.quick)
    return results


def save(results):
    """Write results to a new JSON file in RESULTS_DIR and return its path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = results["started"].replace(":", "").replace("-", "")
    path = RESULTS_DIR / f"overhead-{stamp}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    return path


def main():
    args = parse_args()
    if args.load:
        results = json.loads(args.load.read_text())
    else:
        results = run_benchmarks(args)
        results["summary"] = report.summarise(results)
        progress(f"results saved to {save(results)}")
    clock = report.CPU if args.cpu_time else report.WALL
    try:
        text = report.render(results, markdown=args.markdown, clock=clock)
    except ValueError as exc:
        sys.exit(f"run.py: {exc}")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
