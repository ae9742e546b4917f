"""The report of a capture as text (docs/report-data.md).

format_run_summary(), format_report() and format_diff() write the dict that
heaplens._report.data builds as text for a terminal. The HTML page
(heaplens._report.html.run) renders the same dict.

Invariants of the text: every line is at most `width` columns (long paths are
shortened from the left and keep their file name and line; free text is cut
with "..." or wrapped), numbers are right-aligned in columns, sizes are in
human units and counts have thousands separators. Text taken from the capture
(paths, function names, the command) never reaches the terminal with control
characters: they are shown as escapes. The one exception to the width is a
command the user is told to run, which is printed whole so that it can be
copied.
"""

from __future__ import annotations

import os

from heaplens._report.lines import clean, cut, cut_left, frame_text, stack_line, wrap
from heaplens._report.units import format_bytes, format_count, format_percent, format_seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from heaplens._report.data import Change, Side, Site, Snap, Stack, Timeline
    from heaplens._report.lines import Frame
    from heaplens._report.protocol import JSON

    # A table row: its cells, and its last column (a stack's frames, or text).
    Row = tuple[Sequence[str], str | Sequence[Frame]]


# ---- tables --------------------------------------------------------------------


def _table(
    headers: Sequence[str],
    rows: Sequence[Row],
    width: int,
    indent: str = "  ",
    frames_per_row: int = 1,
) -> list[str]:
    """Lines of a table whose last column is a stack (a list of frame dicts)
    or plain text, and whose other columns are right-aligned strings.

    rows: [(cells, last)]; the header's last entry names the last column.
    A stack shows `frames_per_row` frames, one per line, in the last column
    (1: its one-line form), with a line saying how many were left out."""
    columns = len(headers) - 1
    widths = [len(h) for h in headers[:columns]]
    for cells, _ in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]
    prefix_width = len(indent) + sum(w + 2 for w in widths)
    room = max(width - prefix_width, 20)
    blank = " " * prefix_width

    def prefix(cells: Sequence[str]) -> str:
        return indent + "".join(c.rjust(w) + "  " for c, w in zip(cells, widths, strict=True))

    lines = [_fit(prefix(headers[:columns]) + headers[-1], width)]
    for cells, last in rows:
        if isinstance(last, str):
            lines.append(_fit(prefix(cells) + cut(clean(last), room), width))
        elif frames_per_row <= 1:
            lines.append(_fit(prefix(cells) + stack_line(last, room), width))
        else:
            texts = [frame_text(f, room) for f in last[:frames_per_row]] or ["(no traceback)"]
            left = len(last) - frames_per_row
            if left > 0:
                texts.append(f"... {format_count(left)} older frame{'s' if left != 1 else ''}")
            lines.append(_fit(prefix(cells) + texts[0], width))
            lines.extend(_fit(blank + text, width) for text in texts[1:])
    return lines


def _fit(line: str, width: int) -> str:
    """The line, trailing spaces removed, cut to `width` columns (a last
    resort for numbers so wide that the columns cannot fit)."""
    return cut(line.rstrip(), width)


def _heading(text: str, width: int) -> list[str]:
    """A section heading: a blank line, then the text."""
    return ["", cut(text, width)]


def _stack_rows(stacks: Sequence[Stack], total: int, ranked: bool = True) -> list[Row]:
    """Table rows [(cells, frames)] for report stacks: rank (when ranked),
    size, share of `total`, blocks."""
    rows: list[Row] = []
    for rank, stack in enumerate(stacks, 1):
        cells = [
            format_bytes(stack["bytes"]),
            format_percent(stack["bytes"], total),
            format_count(stack["blocks"]),
        ]
        rows.append(([f"{rank}."] + cells if ranked else cells, stack["frames"]))
    return rows


_STACK_HEADERS = ["#", "size", "share", "blocks", "allocated at (most recent call first)"]


def _snapshot_section(
    snap: Snap,
    heading: str,
    width: int,
    limit: int,
    frames_per_stack: int,
    stacks: list[Stack] | None = None,
) -> list[str]:
    """Lines for one snapshot: heading with totals, its biggest stacks, and
    a line for the stacks the table leaves out."""
    lines = _heading(heading, width)
    total = snap["total_bytes"]
    when = f", {format_seconds(snap['time_s'])} after start" if snap["time_s"] is not None else ""
    lines.append(
        cut(
            f"  {format_bytes(total)}{_outside_text(snap)} in "
            f"{format_count(snap['total_blocks'])} blocks "
            f"from {format_count(len(snap['stacks']) + snap['other_stacks'])} stacks{when}",
            width,
        )
    )
    stacks = snap["stacks"] if stacks is None else stacks
    if not stacks:
        lines.append("  (nothing was alive)" if not total else "  (no stacks kept)")
        return lines
    shown = stacks[:limit]
    if len(shown) < len(stacks) + snap["other_stacks"]:
        lines.append(
            f"  The {len(shown)} biggest stacks"
            f" ({format_percent(sum(s['bytes'] for s in shown), total)} of it):"
        )
    lines.append("")
    lines += _table(
        _STACK_HEADERS, _stack_rows(shown, total), width, frames_per_row=frames_per_stack
    )
    left_stacks = len(stacks) - len(shown) + snap["other_stacks"]
    if left_stacks > 0:
        left_bytes = total - sum(s["bytes"] for s in shown)
        left_blocks = snap["total_blocks"] - sum(s["blocks"] for s in shown)
        lines.append(
            cut(
                f"  ... and {format_count(left_stacks)} smaller "
                f"stack{'s' if left_stacks != 1 else ''}: {format_bytes(left_bytes)} "
                f"in {format_count(left_blocks)} blocks "
                f"({format_percent(left_bytes, total)})",
                width,
            )
        )
    return lines


def _timeline_section(timeline: Timeline, width: int, rows: int = 12) -> list[str]:
    """Lines of a small chart of the heap over time: up to `rows` rows, each
    the highest heap size (and RSS) in its stretch of time, with a bar."""
    points = timeline["points"]
    lines = _heading(
        "Memory over time (the highest traced heap in each stretch; bars scaled to the peak)", width
    )
    n = min(rows, len(points))
    buckets = [points[i * len(points) // n : (i + 1) * len(points) // n] for i in range(n)]
    highest = [max(b, key=lambda p: p["traced_max"]) for b in buckets]
    top = max(p["traced_max"] for p in highest)
    has_rss = any(p["rss"] for p in points)
    table: list[tuple[list[str], int]] = []
    for bucket, point in zip(buckets, highest, strict=True):
        cells = [format_seconds(bucket[-1]["t"]), format_bytes(point["traced_max"])]
        if has_rss:
            rss = [p["rss"] for p in bucket if p["rss"]]
            cells.append(format_bytes(max(rss)) if rss else "")
        table.append((cells, point["traced_max"]))
    headers = ["until", "heap"] + (["RSS"] if has_rss else [])
    widths = [max(len(h), *(len(c[i]) for c, _ in table)) for i, h in enumerate(headers)]
    room = max(width - 2 - sum(w + 2 for w in widths) - len(" <- peak"), 1)
    header = "  " + "".join(h.rjust(w) + "  " for h, w in zip(headers, widths, strict=True))
    lines.append(_fit(header, width))
    marked = False
    for cells, value in table:
        bar = "#" * (round(room * value / top) if top else 0)
        if value == top and top and not marked:
            bar, marked = bar + " <- peak", True
        row = "  " + "".join(c.rjust(w) + "  " for c, w in zip(cells, widths, strict=True))
        lines.append(_fit(row + bar, width))
    return lines


def _sites_section(sites: list[Site], width: int, limit: int, sides: list[str]) -> list[str]:
    """Lines of the table of allocating lines; sides: which of "peak" and
    "exit" have a snapshot (each gets a size and a blocks column)."""
    lines = _heading("Top allocation sites (by the line that allocated, biggest first)", width)
    titles = {"peak": "at peak", "exit": "at exit"} if len(sides) > 1 else {sides[0]: "size"}
    headers = ["#"]
    for side in sides:
        headers += [titles[side], "blocks"]
    rows: list[Row] = []
    for rank, site in enumerate(sites[:limit], 1):
        cells = [f"{rank}."]
        for side in sides:
            # side is "peak" or "exit": the keys exist, but not as literals.
            cells += [
                format_bytes(site[f"{side}_bytes"]),  # type: ignore[literal-required]
                format_count(site[f"{side}_blocks"]),  # type: ignore[literal-required]
            ]
        rows.append((cells, [site]))
    lines.append("")
    lines += _table(headers + ["allocating line"], rows, width)
    if len(sites) > limit:
        lines.append(f"  ... and {format_count(len(sites) - limit)} more sites")
    return lines


def _meta_lines(meta: list[list[str]], width: int) -> list[str]:
    """The meta rows as aligned 'Name   value' lines, long values wrapped."""
    if not meta:
        return []
    name_width = max(len(clean(name)) for name, _ in meta)
    lines: list[str] = []
    for name, value in meta:
        head = f"  {clean(name):<{name_width}}  "
        body = wrap(clean(value), max(width - len(head), 20), "")
        lines.append(_fit(head + body[0], width))
        lines.extend(_fit(" " * len(head) + more, width) for more in body[1:])
    return lines


def _notes_lines(notes: list[str], width: int) -> list[str]:
    """The notes as a wrapped bulleted list under a heading."""
    if not notes:
        return []
    lines = _heading("Notes", width)
    for note in notes:
        lines += ["  " + line for line in wrap("- " + clean(note), width - 2, "  ")]
    return lines


def _peak_sentence(report: dict[str, JSON]) -> str | None:
    """'45.2 MiB at 1.52 s after start' for the peak, or None."""
    peak_bytes = report.get("peak_bytes")
    if peak_bytes is None and report["peak"] is not None:
        peak_bytes = report["peak"]["total_bytes"]
    if peak_bytes is None:
        return None
    peak_t = report.get("peak_t")
    if peak_t is None and report["timeline"] is not None:
        peak_t = report["timeline"]["peak_t"]
    when = f", {format_seconds(peak_t)} after start" if peak_t is not None else ""
    rss = _peak_rss(report)
    return f"{format_bytes(peak_bytes)}{_outside_text(report['peak'])}{when}" + (
        f" (RSS then {format_bytes(rss)})" if rss else ""
    )


def _outside_text(snap: Snap | None) -> str:
    """' (native 12.3 MiB)': the part of a snapshot's total outside Python's
    allocators (native blocks, NumPy's arrays), or '' when there is none."""
    outside = snap.get("outside_bytes", 0) if snap else 0
    return f" (native {format_bytes(outside)})" if outside else ""


def _peak_rss(report: dict[str, JSON]) -> int | None:
    """The RSS at the timeline point nearest the peak, or None."""
    timeline: Timeline | None = report["timeline"]
    peak_t: float | None = report.get("peak_t")
    if timeline is None or peak_t is None:
        return None
    point = min(timeline["points"], key=lambda p: abs(p["t"] - peak_t))
    return point["rss"]


# ---- the texts -------------------------------------------------------------


def format_report(
    report: dict[str, JSON], width: int = 100, limit: int = 10, frames_per_stack: int = 6
) -> str:
    """The text of `heaplens report FILE`: the run's facts, memory over time,
    the biggest stacks at the peak, what was still alive at exit (the
    possible leaks), the top allocation sites, and notes. `limit` rows per
    table, `frames_per_stack` frames per stack."""
    lines = [cut(f"heaplens report: {clean(report['title'])}", width)]
    lines += _meta_lines(report["meta"], width)
    peak_sentence = _peak_sentence(report)
    if peak_sentence is not None:
        lines += _heading("Peak", width)
        lines.append(cut(f"  The traced heap peaked at {peak_sentence}.", width))
    if report["timeline"] is not None:
        lines += _timeline_section(report["timeline"], width)
    if report["peak"] is not None:
        heading = "Where the memory was at the peak (biggest stacks first)"
        lines += _snapshot_section(report["peak"], heading, width, limit, frames_per_stack)
    exit_: Snap | None = report["exit"]
    if exit_ is not None:
        if exit_["label"] == "At exit":
            heading = "Still alive at exit (possible leaks; biggest stacks first)"
        else:
            heading = f"{clean(exit_['label'])} (biggest stacks first)"
        leaks = report["leaks"] if report["leaks"] else exit_["stacks"]
        lines += _snapshot_section(exit_, heading, width, limit, frames_per_stack, leaks)
    if report["peak"] is None and exit_ is None:
        lines += _heading("No snapshots", width)
        lines.append("  This capture holds no snapshot of the heap.")
    sides = [side for side in ("peak", "exit") if report[side] is not None]
    if report["top_sites"] and sides:
        lines += _sites_section(report["top_sites"], width, limit, sides)
    lines += _notes_lines(report["notes"], width)
    return "\n".join(lines)


def format_run_summary(
    report: dict[str, JSON],
    capture_path: str | os.PathLike[str],
    report_command: str,
    width: int = 100,
) -> str:
    """The short summary `heaplens run` prints when the program ends: the
    peak and when, the top 5 stacks at the peak, what was still alive at
    exit (total and top 3), notes, where the capture is and the command that
    opens the report. The capture path and the command are printed whole,
    even past `width`, so that they can be copied."""
    lines = [_summary_headline(report, width)]
    peak_sentence = _peak_sentence(report)
    if peak_sentence is not None:
        lines.append(cut(f"Peak heap: {peak_sentence}", width))
    peak: Snap | None = report["peak"]
    if peak is not None and peak["stacks"]:
        lines.append("  Where it was allocated, biggest first:")
        lines += _short_table(peak["stacks"][:5], peak["total_bytes"], width)
    exit_: Snap | None = report["exit"]
    if exit_ is not None:
        label = "Still alive at exit" if exit_["label"] == "At exit" else clean(exit_["label"])
        lines.append(
            cut(
                f"{label}: {format_bytes(exit_['total_bytes'])}{_outside_text(exit_)} in "
                f"{format_count(exit_['total_blocks'])} blocks",
                width,
            )
        )
        lines += _short_table((report["leaks"] or exit_["stacks"])[:3], exit_["total_bytes"], width)
    for note in report["notes"]:
        lines += wrap("Note: " + clean(note), width, "  ")
    lines.append(f"Capture: {clean(os.fspath(capture_path))}")
    lines.append(f"Report:  {clean(report_command)}")
    return "\n".join(lines)


def _summary_headline(report: dict[str, JSON], width: int) -> str:
    """'heaplens: <command> (exit status 0, 3.52 s)', the command cut to fit."""
    exit_: Snap | None = report["exit"]
    duration = exit_["time_s"] if exit_ is not None and exit_["label"] == "At exit" else None
    facts = [report["exit_status"], format_seconds(duration) if duration is not None else None]
    facts = [clean(fact) for fact in facts if fact]
    tail = cut(f" ({', '.join(facts)})", width // 2) if facts else ""
    return cut(f"heaplens: {clean(report['title'])}", width - len(tail)) + tail


def _short_table(stacks: Sequence[Stack], total: int, width: int) -> list[str]:
    """Lines of a compact, unranked table of stacks, one line each."""
    if not stacks:
        return []
    rows = _stack_rows(stacks, total, ranked=False)
    return _table(["size", "share", "blocks", ""], rows, width, indent="    ")[1:]


def _diff_totals(old: Side, new: Side, width: int) -> list[str]:
    """Lines of the totals of both sides of a diff and their change, labels
    first (cut from the left to at most half the width)."""
    change_bytes = new["total_bytes"] - old["total_bytes"]
    rows = [
        ("old: ", old["label"], old["total_bytes"], old["total_blocks"], False),
        ("new: ", new["label"], new["total_bytes"], new["total_blocks"], False),
        ("change", "", change_bytes, new["total_blocks"] - old["total_blocks"], True),
    ]
    labels = [head + cut_left(clean(label), width // 2 - 5) for head, label, *_ in rows]
    sizes = [format_bytes(size, sign) for *_, size, _, sign in rows]
    blocks = [format_count(count, sign) for *_, count, sign in rows]
    share = format_percent(change_bytes, old["total_bytes"], sign=True)
    label_width = max(map(len, labels))
    size_width = max(len("size"), *map(len, sizes))
    block_width = max(len("blocks"), *map(len, blocks))
    lines = [
        _fit(f"  {'':<{label_width}}  {'size':>{size_width}}  {'blocks':>{block_width}}", width)
    ]
    for label, size, count in zip(labels, sizes, blocks, strict=True):
        lines.append(
            _fit(f"  {label:<{label_width}}  {size:>{size_width}}  {count:>{block_width}}", width)
        )
    if share:
        lines[-1] = _fit(f"{lines[-1]}  ({share})", width)
    old_outside, new_outside = old.get("outside_bytes", 0), new.get("outside_bytes", 0)
    if old_outside or new_outside:
        lines.append(
            _fit(
                f"  native (outside Python's allocators): {format_bytes(old_outside)} -> "
                f"{format_bytes(new_outside)} "
                f"({format_bytes(new_outside - old_outside, sign=True)})",
                width,
            )
        )
    return lines


def format_diff(
    diff: dict[str, JSON], width: int = 100, limit: int = 15, frames_per_stack: int = 4
) -> str:
    """The text of `heaplens diff OLD NEW`: the totals of each side and their
    change, then the stacks that changed most (growth '+', shrinkage '-'),
    `limit` of them with `frames_per_stack` frames each, then notes."""
    old: Side = diff["old"]
    new: Side = diff["new"]
    lines = [cut(f"heaplens diff: {clean(diff['title'])}", width), ""]
    lines += _diff_totals(old, new, width)
    stacks: list[Change] = diff["stacks"]
    lines += _heading("What changed, biggest change first (+ grew, - shrank)", width)
    if not stacks:
        lines.append("  Nothing changed: both hold the same memory in the same stacks.")
    else:
        rows: list[Row] = []
        for rank, stack in enumerate(stacks[:limit], 1):
            cells = [
                f"{rank}.",
                format_bytes(stack["diff_bytes"], sign=True),
                format_bytes(stack["old_bytes"]),
                format_bytes(stack["new_bytes"]),
                format_count(stack["diff_blocks"], sign=True),
            ]
            rows.append((cells, stack["frames"]))
        headers = ["#", "change", "old", "new", "blocks", "allocated at (most recent call first)"]
        lines.append("")
        lines += _table(headers, rows, width, frames_per_row=frames_per_stack)
        left = stacks[limit:]
        n_left = len(left) + diff["other_stacks"]
        if n_left:
            left_bytes = sum(s["diff_bytes"] for s in left) + diff["other_diff_bytes"]
            lines.append(
                cut(
                    f"  ... and {format_count(n_left)} smaller change"
                    f"{'s' if n_left != 1 else ''}: {format_bytes(left_bytes, sign=True)} in all",
                    width,
                )
            )
    lines += _notes_lines(diff["notes"], width)
    return "\n".join(lines)
