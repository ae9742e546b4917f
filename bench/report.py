"""Summaries of benchmark results, rendered as aligned text or Markdown.

Results are the dict run.py saves as JSON: run metadata, the raw "runs" of the
overhead benchmark, and the "snapshot" runs. Everything shown is computed from
the raw runs here, so a saved file can be rendered again (run.py --load).
A run that failed carries an "error" and no numbers; its cell shows "error".
Times are wall times ("seconds") unless the report is asked for CPU times
("cpu_seconds", which run_one.py records since the deep_stack workload came).
"""

import statistics

import heapgraph_report
import tracers

ALLOC_HEAVY = "alloc_heavy"
WALL = "seconds"
CPU = "cpu_seconds"


def _median_of(runs, key):
    values = [run[key] for run in runs if "error" not in run]
    return statistics.median(values) if values else None


def _ratio(traced, untraced):
    return traced / untraced if traced is not None and untraced else None


def summarise(results, clock=WALL):
    """Return medians and ratios from results["runs"], of the times under key clock.

    The summary maps "workloads" to {workload: {"seconds", "peak_rss_kib",
    "ratio"} each keyed by tracer name, and "spread", the untraced runs'
    (max - min) / median, None with fewer than two}, "geomean" to {tracer: geometric mean of its ratios
    over the workloads where it has one}, and "peak_rss_ratio" to {tracer:
    median peak RSS on alloc_heavy over the untraced median}.
    """
    per_workload = {}
    for workload in results["workloads"]:
        runs = [run for run in results["runs"] if run["workload"] == workload]
        seconds, peak_rss = {}, {}
        for tracer in results["tracers"]:
            mine = [run for run in runs if run["tracer"] == tracer]
            seconds[tracer] = _median_of(mine, clock)
            peak_rss[tracer] = _median_of(mine, "peak_rss_kib")
        untraced = [run[clock] for run in runs if run["tracer"] == "none" and "error" not in run]
        spread = (max(untraced) - min(untraced)) / seconds["none"] if len(untraced) > 1 else None
        per_workload[workload] = {
            "seconds": seconds,
            "peak_rss_kib": peak_rss,
            "ratio": {
                tracer: _ratio(seconds[tracer], seconds["none"]) for tracer in results["tracers"]
            },
            "spread": spread,
        }

    geomean = {}
    for tracer in results["tracers"]:
        ratios = [
            summary["ratio"][tracer]
            for summary in per_workload.values()
            if summary["ratio"][tracer] is not None
        ]
        geomean[tracer] = statistics.geometric_mean(ratios) if ratios else None

    peak_rss_ratio = {}
    if ALLOC_HEAVY in per_workload:
        peak = per_workload[ALLOC_HEAVY]["peak_rss_kib"]
        peak_rss_ratio = {
            tracer: _ratio(peak[tracer], peak["none"]) for tracer in results["tracers"]
        }
    return {"workloads": per_workload, "geomean": geomean, "peak_rss_ratio": peak_rss_ratio}


def _seconds(value):
    return "error" if value is None else f"{value:.2f} s"


def _times(value):
    return "error" if value is None else f"{value:.2f}x"


def _percent(value):
    return "" if value is None else f"{100 * value:.1f}%"


def _mib(kib):
    return "error" if kib is None else f"{kib / 1024:.0f} MiB"


def _millions(count):
    return f"{count / 1e6:.1f}M"


def _overhead_rows(results, summary):
    traced = [name for name in results["tracers"] if name != "none"]
    labels = [tracers.TRACERS[name].label for name in traced]
    rows = [["workload", "untraced", "spread", *labels]]
    for workload, row in summary["workloads"].items():
        rows.append(
            [
                workload,
                _seconds(row["seconds"]["none"]),
                _percent(row["spread"]),
                *(_times(row["ratio"][name]) for name in traced),
            ]
        )
    if not traced:
        return rows
    rows.append(["geomean", "", "", *(_times(summary["geomean"][name]) for name in traced)])
    if summary["peak_rss_ratio"]:
        peak = summary["workloads"][ALLOC_HEAVY]["peak_rss_kib"]
        rows.append(
            [
                f"peak RSS ({ALLOC_HEAVY})",
                _mib(peak["none"]),
                "",
                *(_times(summary["peak_rss_ratio"][name]) for name in traced),
            ]
        )
    return rows


def _snapshot_label(name):
    tracer = tracers.TRACERS[name]
    return f"{tracer.module.partition('.')[0]}, nframe={tracer.nframe}"


def _snapshot_rows(snapshot):
    rows = [["tracer", "take_snapshot", "stats(lineno)", "both", "stats(traceback)"]]
    for run in snapshot["runs"]:
        if "error" in run:
            rows.append([_snapshot_label(run["tracer"]), "error", "error", "error", "error"])
            continue
        both = run["take_snapshot"] + run["stats_lineno"]
        traceback = run["stats_traceback"]
        rows.append(
            [
                _snapshot_label(run["tracer"]),
                _seconds(run["take_snapshot"]),
                _seconds(run["stats_lineno"]),
                _seconds(both),
                "-" if traceback is None else _seconds(traceback),
            ]
        )
    return rows


def _snapshot_verdict(snapshot):
    """Return the one-line stdlib-versus-heaplens comparison at nframe=1, or None."""
    by_tracer = {run["tracer"]: run for run in snapshot["runs"] if "error" not in run}
    stdlib = by_tracer.get("tm1")
    if stdlib is None:
        return None
    stdlib_seconds = stdlib["take_snapshot"] + stdlib["stats_lineno"]
    line = (
        f"snapshot+stats(lineno), {_millions(stdlib['n_traces'])} traces: "
        f"tracemalloc {stdlib_seconds:.2f} s"
    )
    ours = by_tracer.get("hl1")
    if ours is None:
        return line + ", heaplens not run"
    ours_seconds = ours["take_snapshot"] + ours["stats_lineno"]
    speedup = stdlib_seconds / ours_seconds
    verdict = f"{speedup:.1f}x faster" if speedup >= 1 else f"{1 / speedup:.1f}x slower"
    return line + f", heaplens {ours_seconds:.2f} s ({verdict})"


def _header_lines(results, summary, clock):
    spreads = [row["spread"] for row in summary["workloads"].values() if row["spread"] is not None]
    python = results["python"].split()[0]
    lines = [
        f"Python {python} on {results['platform']}, {results['cpus']} CPUs, {results['started']}",
        f"command: {results['command']}",
    ]
    if not results["workloads"]:
        return lines
    lines += [
        f"runs per (workload, tracer): {results['repeat']}, in fresh processes, tracers interleaved",
        "medians; a ratio is traced / untraced time of the same workload in this benchmark run",
    ]
    if clock == CPU:
        lines.append(
            "times are CPU times of the process (all threads) over the workload's run call, "
            "not wall times; for a pyperformance case, its imports and setup too"
        )
    if spreads:
        lines.append(
            f"noise: untraced runs of a workload spread by {_percent(min(spreads))} to "
            f"{_percent(max(spreads))} of their median (column 'spread')"
        )
    return lines


def _footer_lines(results):
    lines = [f"skipped {name}: {reason}" for name, reason in results["skipped"].items()]
    failed = [
        run
        for run in results["runs"] + (results["snapshot"] or {}).get("runs", [])
        if "error" in run
    ]
    for run in failed:
        what = run.get("workload", "snapshot")
        lines.append(f"error in {what} under {run['tracer']}: {run['error']}")
    return lines


def _text_table(rows, left_columns=1):
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(width) if column < left_columns else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]


def _markdown_table(rows, left_columns=1):
    alignments = [":---"] * left_columns + ["---:"] * (len(rows[0]) - left_columns)
    lines = [
        "| " + " | ".join(rows[0]) + " |",
        "|" + "|".join(alignments) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return lines


def render(results, markdown=False, clock=WALL):
    """Return the report as one string, aligned text or Markdown.

    clock is WALL or CPU: which of each run's times the overhead table uses.
    Raises ValueError for CPU when a run lacks its CPU time (older results).
    """
    if clock == CPU and any(CPU not in run for run in results["runs"] if "error" not in run):
        raise ValueError("these results have no CPU times (recorded since the deep_stack workload)")
    summary = summarise(results, clock)
    table = _markdown_table if markdown else _text_table
    bullet = "- " if markdown else ""
    lines = [bullet + line for line in _header_lines(results, summary, clock)]
    if results["workloads"]:
        lines += ["", *table(_overhead_rows(results, summary))]
    snapshot = results["snapshot"]
    if snapshot and snapshot["runs"]:
        title = (
            f"snapshot speed, {_millions(snapshot['n_blocks'])} live traced objects, one run each:"
        )
        lines += ["", title, "", *table(_snapshot_rows(snapshot))]
        verdict = _snapshot_verdict(snapshot)
        if verdict:
            lines += ["", verdict]
    if results.get("heapgraph"):
        lines += heapgraph_report.render_lines(results["heapgraph"], table, bullet)
    footer = _footer_lines(results)
    if footer:
        lines += ["", *(bullet + line for line in footer)]
    return "\n".join(lines) + "\n"
