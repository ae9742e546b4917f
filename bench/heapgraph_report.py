"""The heap-graph part of the report: medians, ratios and targets from raw runs.

The section is results["heapgraph"] as run.py saves it: "quick", "repeat",
"rows", "sizes" (tracked objects per row), "unavailable" (tool key -> why) and
"runs", one per fresh process: the JSON heapgraph_one.py printed, plus "row",
"tool" and "round", or an "error". Everything shown is computed here from the
runs, so a saved file renders again with run.py --load.
"""

import statistics

import heapgraph


def _size(count):
    if count >= 1_000_000:
        return f"{count / 1e6:.1f}M"
    return f"{count / 1e3:.0f}k"


def _seconds(value):
    if value is None:
        return "error"
    if value < 0.1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def _ratio(value):
    return "" if value is None else f"{value:.3g}x"


def _percent(value):
    return "" if value is None else f"{100 * value:.0f}%"


def _mib(n_bytes):
    return f"{n_bytes / 2**20:,.0f} MiB"


def _spread(values):
    if len(values) < 2:
        return None
    return (max(values) - min(values)) / statistics.median(values)


def summarise(section):
    """Return {tool key: summary} for every tool that ran at least once.

    A summary has "label" (the call the runs made), "labels" (the runs' own
    labels of some measurements), "n_tracked", "runs" (how
    many succeeded), "errors", "times" and "spread" ({metric: median seconds},
    {metric: (max - min) / median}), "build_seconds" (median heap build),
    "tracked" (median len(gc.get_objects())) and "info" (the last run's).
    """
    by_key = {}
    for run in section["runs"]:
        by_key.setdefault(f"{run['row']}/{run['tool']}", []).append(run)
    summaries = {}
    for key, runs in by_key.items():
        good = [run for run in runs if "error" not in run and "missing" not in run]
        metrics = [
            metric for metric in heapgraph.METRICS if any(metric in r["times"] for r in good)
        ]
        values = {
            metric: [r["times"][metric] for r in good if metric in r["times"]] for metric in metrics
        }
        summaries[key] = {
            "label": good[-1]["label"] if good else None,
            "labels": good[-1].get("labels", {}) if good else {},
            "n_tracked": runs[0].get("n_tracked"),
            "runs": len(good),
            "errors": [run["error"] for run in runs if "error" in run],
            "times": {metric: statistics.median(v) for metric, v in values.items()},
            "spread": {metric: _spread(v) for metric, v in values.items()},
            "build_seconds": statistics.median([r["build_seconds"] for r in good])
            if good
            else None,
            "tracked": statistics.median([r["tracked"] for r in good]) if good else None,
            "info": good[-1]["info"] if good else {},
        }
    return summaries


def _target_line(tool, summary):
    """Return (metric, text) for the tool's target, or (None, "") when it has none."""
    if tool.target is None or summary is None or tool.target_metric not in summary["times"]:
        return None, ""
    met = summary["times"][tool.target_metric] <= tool.target
    return tool.target_metric, f"<= {tool.target:g} s: {'met' if met else 'NOT met'}"


def _anchor_seconds(summaries, row, name):
    summary = summaries.get(f"{row}/{name}")
    return summary["times"].get(heapgraph.CALL) if summary else None


def _table_rows(section, summaries):
    rows = [
        ["row", "tool", "heap", "runs", "median", "spread", "hl/objgraph", "hl/guppy", "target"]
    ]
    for row in section["rows"]:
        size = _size(section["sizes"][row])
        objgraph_seconds = _anchor_seconds(summaries, row, "objgraph")
        guppy_seconds = _anchor_seconds(summaries, row, "guppy3")
        for tool in heapgraph.TOOLS:
            if tool.row != row:
                continue
            reason = section["unavailable"].get(tool.key)
            if reason is not None:
                rows.append([row, tool.label, size, "", f"n/a ({reason})", "", "", "", ""])
                continue
            summary = summaries.get(tool.key)
            if summary is None:
                continue
            if not summary["runs"]:
                rows.append([row, tool.label, size, "0", "error", "", "", "", ""])
                continue
            target_metric, target_text = _target_line(tool, summary)
            for metric, seconds in summary["times"].items():
                ratios = ["", ""]
                if tool.side == heapgraph.HEAPLENS:
                    ratios = [
                        _ratio(seconds / objgraph_seconds if objgraph_seconds else None),
                        _ratio(seconds / guppy_seconds if guppy_seconds else None),
                    ]
                rows.append(
                    [
                        row,
                        summary["labels"].get(metric)
                        or summary["label"] + heapgraph.METRICS[metric],
                        _size(summary["n_tracked"]),
                        str(summary["runs"]),
                        _seconds(seconds),
                        _percent(summary["spread"][metric]),
                        *ratios,
                        target_text if metric == target_metric else "",
                    ]
                )
    return rows


def _build_lines(summaries):
    """Return the sentences on the graph build row: size, bytes, peak RSS."""
    summary = summaries.get("build/heaplens")
    if not summary or not summary["runs"]:
        return []
    info = summary["info"]
    nodes, edges, nbytes = info.get("n_nodes"), info.get("n_edges"), info.get("nbytes")
    if not (nodes and edges and nbytes is not None):
        return [f"graph build: the graph reports no n_nodes/n_edges/nbytes ({info})"]
    budget = heapgraph.BYTES_PER_NODE * nodes + heapgraph.BYTES_PER_EDGE * edges
    beyond_edges = (nbytes - heapgraph.BYTES_PER_EDGE * edges) / nodes
    rss = info.get("peak_rss_delta_kib")
    lines = [
        f"graph build: {_size(nodes)} nodes ({_size(info.get('n_tracked') or 0)} tracked), "
        f"{_size(edges)} edges ({edges / nodes:.2f} per node), "
        f"build_graph() {_seconds(summary['times'].get(heapgraph.CALL))} (median)",
        f"graph nbytes: {_mib(nbytes)} = {nbytes / nodes:.1f} B/node all-in, "
        f"{nbytes / edges:.1f} B/edge all-in, {beyond_edges:.1f} B/node after "
        f"{heapgraph.BYTES_PER_EDGE} B/edge; {100 * nbytes / budget:.0f}% of the budget "
        f"{heapgraph.BYTES_PER_NODE} B/node + {heapgraph.BYTES_PER_EDGE} B/edge "
        f"({_mib(budget)})",
    ]
    if rss is not None:
        how = "" if info.get("peak_rss_exact") else " (approximate: peak RSS could not be reset)"
        lines.append(f"peak RSS delta of the build: {_mib(rss * 1024)}{how}")
    return lines


def _heap_lines(section, summaries):
    """Return how long building each size of heap took, over all its processes."""
    by_size = {}
    for run in section["runs"]:
        if "build_seconds" in run:
            by_size.setdefault(run["n_tracked"], []).append(run)
    if not by_size:
        return []
    parts = []
    for n_tracked, runs in sorted(by_size.items()):
        seconds = statistics.median(run["build_seconds"] for run in runs)
        tracked = statistics.median(run["tracked"] for run in runs)
        parts.append(f"{_size(n_tracked)} ({tracked:,.0f} tracked in all) {seconds:.2f} s")
    return [
        "heap build (heapshape.build, with its gc.collect), median over processes: "
        + ", ".join(parts)
    ]


def _chain_lines(summaries):
    lines = []
    for tool in heapgraph.TOOLS:
        summary = summaries.get(tool.key)
        if tool.row != "backref" or not summary or not summary["runs"]:
            continue
        chain = summary["info"].get("chain")
        found = " -> ".join(chain) if chain else summary["info"].get("chain_text")
        lines.append(f"backref result, {summary['label']}: {found}")
    return lines


def render_lines(section, table, bullet):
    """Return the report lines of the heap-graph section.

    table(rows, left_columns) turns a list of rows (lists of cells) into
    lines, the first left_columns left-aligned; bullet prefixes
    each sentence ("- " for Markdown).
    """
    summaries = summarise(section)
    spreads = [
        value
        for summary in summaries.values()
        for value in summary["spread"].values()
        if value is not None
    ]
    mode = "--quick sizes" if section["quick"] else "full sizes"
    title = (
        f"heap-graph queries ({mode}): per tool, the median of its runs (up to "
        f"{section['repeat']}), each a fresh process that builds the heap before timing:"
    )
    notes = [
        "heap: tracked objects (gc.get_objects()) the heap was built with; "
        "hl/objgraph, hl/guppy: heaplens time over the anchor's, same row, below 1 is faster",
    ]
    if spreads:
        notes.append(
            f"noise: a tool's runs spread by {_percent(min(spreads))} to "
            f"{_percent(max(spreads))} of their median (column 'spread')"
        )
    notes += _heap_lines(section, summaries)
    notes += _build_lines(summaries)
    notes += _chain_lines(summaries)
    for key, summary in summaries.items():
        notes += [f"error in {key}: {error}" for error in summary["errors"]]
    lines = ["", title, "", *table(_table_rows(section, summaries), left_columns=2), ""]
    return lines + [bullet + note for note in notes]
