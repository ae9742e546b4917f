"""The report of a capture, as data and as text (docs/report-data.md).

build_run_report() and build_diff_report() turn a Capture or two Snapshots
into a plain, JSON-ready dict; format_run_summary(), format_report() and
format_diff() write that dict as text for a terminal. The HTML page
(heaplens._report_html) renders the same dict.

Invariants of the text: every line is at most `width` columns (long paths are
shortened from the left and keep their file name and line; free text is cut
with "..." or wrapped), numbers are right-aligned in columns, sizes are in
human units and counts have thousands separators. Text taken from the capture
(paths, function names, the command) never reaches the terminal with control
characters: they are shown as escapes. The one exception to the width is a
command the user is told to run, which is printed whole so that it can be
copied.
"""

import os
import re
import textwrap
import time

# ---- numbers and units -----------------------------------------------------

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def format_bytes(size, sign=False):
    """A byte count in human units: '0 B', '1023 B', '1.50 KiB', '12.3 MiB',
    '512 GiB'. Three significant digits from KiB up (four below 1024 of a
    unit). With sign, a positive value gets a '+' (zero never has a sign)."""
    plus = "+" if sign and size > 0 else ""
    if abs(size) < 1024:
        return f"{plus}{round(size):d} B"
    value = float(size)
    for unit in _UNITS[1:]:
        value /= 1024
        text = _three_digits(value)
        if abs(float(text)) < 1024:
            return f"{plus}{text} {unit}"
    return f"{plus}{value:.3g} {_UNITS[-1]}"


def _three_digits(value):
    """value with 2, 1 or 0 decimals so that it shows three significant
    digits (four for 1000..1023): '1.50', '12.3', '123', '1000'."""
    for decimals, limit in ((2, 10), (1, 100)):
        text = f"{value:.{decimals}f}"
        if abs(float(text)) < limit:
            return text
    return f"{value:.0f}"


def format_count(count, sign=False):
    """An integer with thousands separators: '1,234,567' ('+1,234' with sign)."""
    return f"{count:+,d}" if sign and count else f"{count:,d}"


def format_percent(part, whole, sign=False):
    """part as a percentage of whole: '12.3%', '<0.1%', '>99.9%', '100%'; '' when whole
    is 0 (no meaningful share). With sign: '+12.3%' / '-4.0%'."""
    if not whole:
        return ""
    share = 100.0 * part / whole
    if sign:
        return ">+9999%" if share >= 10_000 else f"{share:+.1f}%"
    if 0 < share < 0.05:
        return "<0.1%"
    if 99.95 <= share < 100:
        return ">99.9%"
    return "100%" if share == 100 else f"{share:.1f}%"


def format_seconds(seconds):
    """A duration: '0.35 s', '12.5 s', '3 min 05 s', '2 h 03 min'."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


# ---- text from the capture -------------------------------------------------

# C0 and C1 controls, DEL, and the bidi overrides: a file name or a command
# must not move the cursor, clear the screen or reorder what follows. And
# surrogates, which no output encoding takes: a file name that is not valid
# UTF-8 (a module imported from such a directory) holds its odd bytes as
# U+DC80..U+DCFF, as os.fsdecode() makes them.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _visible(char):
    """The escape that shows char: '\\xe9' for the byte a surrogate of
    os.fsdecode() stands for, else as repr() writes it ('\\n', '\\x1b')."""
    if "\udc80" <= char <= "\udcff":
        return f"\\x{ord(char) - 0xDC00:02x}"
    return repr(char)[1:-1]


def _clean(text):
    """text (any object) as a str with control characters and surrogates
    made visible ('\\n', '\\x1b', '\\xe9' for a byte of a non-UTF-8 file
    name): safe on a terminal and in any output encoding."""
    return _UNSAFE.sub(lambda m: _visible(m.group()), str(text))


def _cut(text, width):
    """text cut to at most `width` columns, ending with '...' when cut."""
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    return text[: width - 3] + "..."


def _cut_left(text, width):
    """text cut to at most `width` columns, keeping its end: '...name.py'."""
    if len(text) <= width:
        return text
    if width <= 3:
        return text[len(text) - width :]
    return "..." + text[len(text) - width + 3 :]


def _wrap(text, width, indent=""):
    """text wrapped into lines of at most `width` columns, continuation lines
    indented by `indent`; a word longer than a line is broken."""
    return textwrap.wrap(
        text, width, subsequent_indent=indent, break_on_hyphens=False, drop_whitespace=True
    ) or [""]


def _relative_path(path):
    """path relative to the current directory when it lies under it."""
    try:
        cwd = os.getcwd() + os.sep
    except OSError:
        return path
    return path[len(cwd) :] if path.startswith(cwd) else path


def _shorten_path(path, width):
    """path in at most `width` columns: whole when it fits, else its end with
    '...' in front, cut at a directory boundary when one is close enough so
    that the file name stays whole."""
    if len(path) <= width:
        return path
    tail = _cut_left(path, width)
    cut = tail.find(os.sep, 3)
    # Prefer '.../dir/file.py' over '...ir/dir/file.py' when it costs little.
    if 0 < cut < len(tail) - 1 and cut <= width // 2:
        return "..." + tail[cut:]
    return tail


def frame_text(frame, width=100, full_path=True):
    """One frame as 'path/file.py:12 in function' in at most `width` columns.

    The line number always stays; the path is shortened from the left first
    (full_path=False keeps only the file name), then the function name is cut,
    then the file name is cut from the left."""
    path = _clean(frame["file"])
    path = _relative_path(path) if full_path else os.path.basename(path) or path
    where = f":{frame['line']}"
    function = _clean(frame["function"])
    in_function = f" in {function}" if function else ""
    room = width - len(where) - len(in_function)
    name = os.path.basename(path) or path
    if room >= min(len(path), len(name) + 4):
        return _shorten_path(path, room) + where + in_function
    # The function name gives way, down to a few characters, to keep
    # '.../name.py'; then the file name is cut from the left.
    if in_function:
        keep = max(width - len(where) - len(name) - 4, min(len(in_function), 12))
        in_function = _cut(in_function, keep) if keep > 4 else ""
    room = max(width - len(where) - len(in_function), 0)
    return _shorten_path(path, room) + where + in_function


def stack_line(frames, width=100):
    """A stack on one line: the allocating frame (file name, line and the
    whole function name when they fit) and its callers after '<-', file names
    only, as many as fit in `width` columns, then '<- ...' when some are left
    out."""
    if not frames:
        return _cut("(no traceback)", width)
    first_width = width if len(frames) == 1 else max(width - 7, min(width, 30))
    text = frame_text(frames[0], first_width, full_path=False)
    for index, caller in enumerate(frames[1:], 1):
        more = " <- ..." if index < len(frames) - 1 else ""
        part = " <- " + frame_text(caller, 40, full_path=False)
        if len(text) + len(part) + len(more) > width:
            return text + " <- ..." if len(text) + 7 <= width else text
        text += part
    return text


# ---- the report data ---------------------------------------------------------


def _int(info, key):
    """info[key] as an int, or None when missing or not a number."""
    try:
        return int(info[key])
    except (KeyError, TypeError, ValueError):
        return None


# Files of `heaplens run` itself (and runpy): outermost frames from them are
# the harness, not the program, and are left out of every stack.
_HARNESS_FILES = ("_run.py", "_cli.py", "__main__.py")


def is_harness_file(filename):
    """Whether a frame's file belongs to the heaplens run harness: runpy, the
    heaplens package's run, CLI and __main__ modules, or the console script.
    Decided by name only, so it holds for captures made on other machines."""
    if filename == "<frozen runpy>" or filename.endswith(os.sep + "runpy.py"):
        return True
    directory, name = os.path.split(filename)
    if os.path.basename(directory) == "heaplens" and name in _HARNESS_FILES:
        return True
    return name == "heaplens" and os.path.basename(directory) == "bin"


def _snapshot_data(snapshot, label, time_s, top):
    """The report's SNAP dict: totals, the `top` biggest stacks, and what the
    cut-off left out."""
    stats = [
        {"frames": _frame_dicts(frames), "bytes": size, "blocks": count}
        for frames, (size, count) in _by_stack(snapshot).items()
    ]
    stats.sort(key=lambda e: (-e["bytes"], -e["blocks"]))
    total_bytes = sum(e["bytes"] for e in stats)
    total_blocks = sum(e["blocks"] for e in stats)
    stacks = stats[:top]
    return {
        "label": label,
        "time_s": time_s,
        "total_bytes": total_bytes,
        "total_blocks": total_blocks,
        "stacks": stacks,
        "other_bytes": total_bytes - sum(s["bytes"] for s in stacks),
        "other_blocks": total_blocks - sum(s["blocks"] for s in stacks),
        "other_stacks": len(stats) - len(stacks),
    }


def _sites_by_line(snapshot):
    """{(filename, lineno, function): (bytes, blocks)} grouped by allocating
    line (and its function)."""
    if snapshot is None:
        return {}
    sites = {}
    for frames, size_, count_ in snapshot.stack_statistics():
        key = frames[0] if frames else ("<unknown>", 0, "")
        size, count = sites.get(key, (0, 0))
        sites[key] = (size + size_, count + count_)
    return sites


def _top_sites(peak, exit_, top):
    """The report's top_sites: allocating lines, biggest at the peak first
    (then biggest at exit), at most `top`."""
    at_peak, at_exit = _sites_by_line(peak), _sites_by_line(exit_)
    rows = []
    for key in at_peak.keys() | at_exit.keys():
        peak_bytes, peak_blocks = at_peak.get(key, (0, 0))
        exit_bytes, exit_blocks = at_exit.get(key, (0, 0))
        row = {"file": key[0], "line": key[1], "function": key[2]}
        row.update(
            peak_bytes=peak_bytes,
            peak_blocks=peak_blocks,
            exit_bytes=exit_bytes,
            exit_blocks=exit_blocks,
        )
        rows.append(row)
    rows.sort(key=lambda r: (-r["peak_bytes"], -r["exit_bytes"], r["file"], r["line"]))
    return rows[:top]


def _pick_snapshots(capture):
    """(peak, exit, lone): the peak and exit Snapshots of a capture (or None),
    and whether the capture holds snapshots that are neither, in which case
    the last of them stands in for exit (Snapshot.dump writes one named "")."""
    peak = capture.snapshots.get("peak")
    exit_ = capture.snapshots.get("exit")
    if peak is None and exit_ is None and capture.snapshots:
        return None, list(capture.snapshots.values())[-1], True
    return peak, exit_, False


def _timeline_data(capture, peak_t):
    """The report's timeline dict, or None when the capture has no points."""
    timeline = capture.timeline
    if timeline is None or not timeline.points:
        return None
    points = [
        {
            "t": p.t_ns / 1e9,
            "traced": p.traced,
            "traced_max": max(p.traced_max, p.traced),
            "rss": p.rss or None,
        }
        for p in timeline.points
    ]
    return {"points": points, "peak_t": peak_t}


def _peak_time(capture):
    """Seconds from the start of the timeline (or of the run) to the peak, or
    None: from info's peak_ns, else the timeline's highest point."""
    info, timeline = capture.info, capture.timeline
    peak_ns = _int(info, "peak_ns")
    if peak_ns is not None:
        started = _int(info, "started_ns")
        if timeline is not None and started is not None and timeline.start_ns:
            peak_ns += started - timeline.start_ns
        return max(peak_ns, 0) / 1e9
    if timeline is not None and timeline.points:
        best = max(timeline.points, key=lambda p: max(p.traced_max, p.traced))
        return best.t_ns / 1e9
    return None


def _tracing_text(info, sample_rate):
    """The 'Tracing' meta value: what was recorded and how deep."""
    nframe = _int(info, "nframe")
    depth = f", {nframe} frame{'s' if nframe != 1 else ''}" if nframe is not None else ""
    if sample_rate > 0:
        what = f"sampled, about one allocation per {format_bytes(sample_rate)} allocated"
    else:
        what = "every allocation"
    interval = _int(info, "interval_ms")
    every = f"; heap size every {interval} ms" if interval else ""
    return what + depth + every


def _meta(capture, sample_rate):
    """The report's meta rows [[name, value]], for the facts the capture has."""
    info = capture.info
    rows = []

    def add(name, value):
        if value not in (None, ""):
            rows.append([name, str(value)])

    add("Command", info.get("command"))
    if capture.path:
        add("Capture", os.fspath(capture.path))
    add("Python", info.get("python_version"))
    add("Platform", info.get("platform"))
    pid = info.get("pid")
    if pid and info.get("parent_pid"):
        pid = f"{pid} (child of {info['parent_pid']})"
    add("PID", pid)
    started = _int(info, "started_ns")
    if started is not None:
        add("Started", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started / 1e9)))
    duration = _int(info, "duration_ns")
    add("Duration", format_seconds(duration / 1e9) if duration is not None else None)
    add("Exit", info.get("exit"))
    if any(key in info for key in ("nframe", "sample_rate", "interval_ms")):
        add("Tracing", _tracing_text(info, sample_rate))
    add("heaplens", info.get("heaplens_version"))
    return rows


def _notes(capture, report, lone):
    """Plain-words notes on how far to trust the numbers."""
    info, notes = capture.info, []
    rate = report["sample_rate"]
    if rate > 0:
        notes.append(
            f"Sizes and block counts are estimates: heaplens recorded about one allocation "
            f"per {format_bytes(rate)} allocated (--sample-rate {rate}) and scaled each "
            f"one up to stand for the memory around it. Big sites are close; small ones "
            f"may be missing."
        )
    dropped = _int(info, "dropped")
    if dropped:
        notes.append(
            f"The tracer could not record {format_count(dropped)} blocks (its tables "
            f"could not grow): the totals are a little low."
        )
    peak_traced, peak = _int(info, "peak_traced"), report["peak"]
    if peak_traced and peak is not None:
        total = peak["total_bytes"]
        if abs(total - peak_traced) > 0.01 * peak_traced:
            side = "less" if total < peak_traced else "more"
            share = format_percent(abs(total - peak_traced), peak_traced)
            notes.append(
                f"The tracer measured a peak of {format_bytes(peak_traced)}; the stacks "
                f"recorded at the peak add up to {format_bytes(total)} ({share} {side})."
            )
    if lone:
        notes.append(
            "This capture holds a snapshot taken by the API (Snapshot.dump), not a run: "
            "it shows what was alive when the snapshot was taken; there is no peak."
        )
    return notes


def _title(capture):
    """The report's title: the command line, else the capture's file name."""
    if capture.info.get("command"):
        return capture.info["command"]
    if capture.path:
        return os.path.basename(os.fspath(capture.path))
    return "heaplens capture"


def build_run_report(capture, top=2000, leaks_top=50, sites_top=50, progress=None):
    """The report data of a Capture (docs/report-data.md) as a JSON-ready dict.

    top: stacks kept per snapshot; leaks_top: stacks in "leaks"; sites_top:
    rows of "top_sites". progress: optional object with update(done, total),
    told after each step. Also adds "peak_bytes" (the highest traced size
    known, or None) and "peak_t" (seconds, or None) to the contract's keys.
    """
    steps = 4

    def step(done):
        if progress is not None:
            progress.update(done, steps)

    info = capture.info
    peak, exit_, lone = _pick_snapshots(capture)
    peak_t = None if lone else _peak_time(capture)
    duration = _int(info, "duration_ns")
    exit_label = "In the snapshot" if lone else "At exit"
    exit_t = duration / 1e9 if duration is not None else None
    step(0)
    peak_data = _snapshot_data(peak, "At the peak", peak_t, top) if peak is not None else None
    step(1)
    exit_data = _snapshot_data(exit_, exit_label, exit_t, top) if exit_ is not None else None
    step(2)
    sites = _top_sites(peak, exit_, sites_top)
    step(3)
    sample_rate = max(_int(info, "sample_rate") or 0, 0)
    peak_bytes = _int(info, "peak_traced")
    if peak_bytes is None and peak_data is not None:
        peak_bytes = peak_data["total_bytes"]
    report = {
        "kind": "run",
        "title": _title(capture),
        "meta": _meta(capture, sample_rate),
        "exit_status": info.get("exit"),
        "sample_rate": sample_rate,
        "peak": peak_data,
        "exit": exit_data,
        "timeline": _timeline_data(capture, peak_t),
        "top_sites": sites,
        "leaks": [dict(s) for s in exit_data["stacks"][:leaks_top]] if exit_data else [],
        "notes": [],
        "peak_bytes": peak_bytes,
        "peak_t": peak_t,
    }
    report["notes"] = _notes(capture, report, lone)
    step(4)
    return report


def build_diff_report(old, new, old_label, new_label, top=2000, progress=None):
    """The diff data of two Snapshots (docs/report-data.md): what changed,
    by stack, biggest change in bytes first; unchanged stacks left out."""
    if progress is not None:
        progress.update(0, 2)
    old_stats = _by_stack(old)
    new_stats = _by_stack(new)
    if progress is not None:
        progress.update(1, 2)
    changes = _stack_changes(old_stats, new_stats)
    stacks = [_change_data(change) for change in changes[:top]]
    rest = changes[top:]
    n_stacks = len(old_stats.keys() | new_stats.keys())
    unchanged = n_stacks - len(changes)
    notes = []
    if unchanged:
        notes.append(
            f"{format_count(unchanged)} stack{'s' if unchanged != 1 else ''} held the same "
            f"memory in both and {'are' if unchanged != 1 else 'is'} not listed."
        )
    if stacks:
        notes.append(
            "Stacks are matched by their file names and line numbers: if the code changed "
            "between the two, a moved line shows as one stack gone and one new."
        )
    if progress is not None:
        progress.update(2, 2)
    return {
        "kind": "diff",
        "title": f"{old_label} -> {new_label}",
        "old": _side(old_label, old_stats),
        "new": _side(new_label, new_stats),
        "stacks": stacks,
        "other_stacks": len(rest),
        "other_diff_bytes": sum(new_bytes - old_bytes for _, old_bytes, new_bytes, _, _ in rest),
        "notes": notes,
    }


def _by_stack(snapshot):
    """{frames: (bytes, blocks)} of a Snapshot, keyed by its stacks'
    (filename, lineno, function) frames, most recent first, without the
    outermost frames of the run harness (stacks that differed only there
    become one; a stack made only of them is kept whole)."""
    stacks = {}
    for frames, size, count in snapshot.stack_statistics():
        end = len(frames)
        while end > 1 and is_harness_file(frames[end - 1][0]):
            end -= 1
        frames = tuple(frames[:end])
        old_size, old_count = stacks.get(frames, (0, 0))
        stacks[frames] = (old_size + size, old_count + count)
    return stacks


def _frame_dicts(frames):
    """The report's frame dicts of (filename, lineno, function) frames."""
    return [{"file": f, "line": n, "function": name} for f, n, name in frames]


def _stack_changes(old_by, new_by):
    """[(frames, old_bytes, new_bytes, old_blocks, new_blocks)] for the
    stacks whose bytes or blocks differ, biggest change in bytes first."""
    changes = []
    for frames in old_by.keys() | new_by.keys():
        old_bytes, old_blocks = old_by.get(frames, (0, 0))
        new_bytes, new_blocks = new_by.get(frames, (0, 0))
        if (old_bytes, old_blocks) != (new_bytes, new_blocks):
            changes.append((frames, old_bytes, new_bytes, old_blocks, new_blocks))
    changes.sort(key=lambda c: (abs(c[2] - c[1]), c[2], abs(c[4] - c[3]), c[4], c[0]), reverse=True)
    return changes


def _change_data(change):
    """The diff report's dict of one changed stack."""
    frames, old_bytes, new_bytes, old_blocks, new_blocks = change
    return {
        "frames": _frame_dicts(frames),
        "old_bytes": old_bytes,
        "new_bytes": new_bytes,
        "diff_bytes": new_bytes - old_bytes,
        "old_blocks": old_blocks,
        "new_blocks": new_blocks,
        "diff_blocks": new_blocks - old_blocks,
    }


def _side(label, stats):
    """One side of a diff: its label and totals ({frames: (bytes, blocks)})."""
    return {
        "label": label,
        "total_bytes": sum(size for size, _ in stats.values()),
        "total_blocks": sum(count for _, count in stats.values()),
    }


# ---- tables --------------------------------------------------------------------


def _table(headers, rows, width, indent="  ", frames_per_row=1):
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

    def prefix(cells):
        return indent + "".join(c.rjust(w) + "  " for c, w in zip(cells, widths, strict=True))

    lines = [_fit(prefix(headers[:columns]) + headers[-1], width)]
    for cells, last in rows:
        if isinstance(last, str):
            lines.append(_fit(prefix(cells) + _cut(_clean(last), room), width))
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


def _fit(line, width):
    """The line, trailing spaces removed, cut to `width` columns (a last
    resort for numbers so wide that the columns cannot fit)."""
    return _cut(line.rstrip(), width)


def _heading(text, width):
    """A section heading: a blank line, then the text."""
    return ["", _cut(text, width)]


def _stack_rows(stacks, total, ranked=True):
    """Table rows [(cells, frames)] for report stacks: rank (when ranked),
    size, share of `total`, blocks."""
    rows = []
    for rank, stack in enumerate(stacks, 1):
        cells = [
            format_bytes(stack["bytes"]),
            format_percent(stack["bytes"], total),
            format_count(stack["blocks"]),
        ]
        rows.append(([f"{rank}."] + cells if ranked else cells, stack["frames"]))
    return rows


_STACK_HEADERS = ["#", "size", "share", "blocks", "allocated at (most recent call first)"]


def _snapshot_section(snap, heading, width, limit, frames_per_stack, stacks=None):
    """Lines for one snapshot: heading with totals, its biggest stacks, and
    a line for the stacks the table leaves out."""
    lines = _heading(heading, width)
    total = snap["total_bytes"]
    when = f", {format_seconds(snap['time_s'])} after start" if snap["time_s"] is not None else ""
    lines.append(
        _cut(
            f"  {format_bytes(total)} in {format_count(snap['total_blocks'])} blocks "
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
            _cut(
                f"  ... and {format_count(left_stacks)} smaller "
                f"stack{'s' if left_stacks != 1 else ''}: {format_bytes(left_bytes)} "
                f"in {format_count(left_blocks)} blocks "
                f"({format_percent(left_bytes, total)})",
                width,
            )
        )
    return lines


def _timeline_section(timeline, width, rows=12):
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
    table = []
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


def _sites_section(sites, width, limit, sides):
    """Lines of the table of allocating lines; sides: which of "peak" and
    "exit" have a snapshot (each gets a size and a blocks column)."""
    lines = _heading("Top allocation sites (by the line that allocated, biggest first)", width)
    titles = {"peak": "at peak", "exit": "at exit"} if len(sides) > 1 else {sides[0]: "size"}
    headers = ["#"]
    for side in sides:
        headers += [titles[side], "blocks"]
    rows = []
    for rank, site in enumerate(sites[:limit], 1):
        cells = [f"{rank}."]
        for side in sides:
            cells += [format_bytes(site[f"{side}_bytes"]), format_count(site[f"{side}_blocks"])]
        rows.append((cells, [site]))
    lines.append("")
    lines += _table(headers + ["allocating line"], rows, width)
    if len(sites) > limit:
        lines.append(f"  ... and {format_count(len(sites) - limit)} more sites")
    return lines


def _meta_lines(meta, width):
    """The meta rows as aligned 'Name   value' lines, long values wrapped."""
    if not meta:
        return []
    name_width = max(len(_clean(name)) for name, _ in meta)
    lines = []
    for name, value in meta:
        head = f"  {_clean(name):<{name_width}}  "
        body = _wrap(_clean(value), max(width - len(head), 20), "")
        lines.append(_fit(head + body[0], width))
        lines.extend(_fit(" " * len(head) + more, width) for more in body[1:])
    return lines


def _notes_lines(notes, width):
    """The notes as a wrapped bulleted list under a heading."""
    if not notes:
        return []
    lines = _heading("Notes", width)
    for note in notes:
        lines += ["  " + line for line in _wrap("- " + _clean(note), width - 2, "  ")]
    return lines


def _peak_sentence(report):
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
    return f"{format_bytes(peak_bytes)}{when}" + (f" (RSS then {format_bytes(rss)})" if rss else "")


def _peak_rss(report):
    """The RSS at the timeline point nearest the peak, or None."""
    timeline, peak_t = report["timeline"], report.get("peak_t")
    if timeline is None or peak_t is None:
        return None
    point = min(timeline["points"], key=lambda p: abs(p["t"] - peak_t))
    return point["rss"]


# ---- the texts -------------------------------------------------------------


def format_report(report, width=100, limit=10, frames_per_stack=6):
    """The text of `heaplens report FILE`: the run's facts, memory over time,
    the biggest stacks at the peak, what was still alive at exit (the
    possible leaks), the top allocation sites, and notes. `limit` rows per
    table, `frames_per_stack` frames per stack."""
    lines = [_cut(f"heaplens report: {_clean(report['title'])}", width)]
    lines += _meta_lines(report["meta"], width)
    peak_sentence = _peak_sentence(report)
    if peak_sentence is not None:
        lines += _heading("Peak", width)
        lines.append(_cut(f"  The traced heap peaked at {peak_sentence}.", width))
    if report["timeline"] is not None:
        lines += _timeline_section(report["timeline"], width)
    if report["peak"] is not None:
        heading = "Where the memory was at the peak (biggest stacks first)"
        lines += _snapshot_section(report["peak"], heading, width, limit, frames_per_stack)
    exit_ = report["exit"]
    if exit_ is not None:
        if exit_["label"] == "At exit":
            heading = "Still alive at exit (possible leaks; biggest stacks first)"
        else:
            heading = f"{_clean(exit_['label'])} (biggest stacks first)"
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


def format_run_summary(report, capture_path, report_command, width=100):
    """The short summary `heaplens run` prints when the program ends: the
    peak and when, the top 5 stacks at the peak, what was still alive at
    exit (total and top 3), notes, where the capture is and the command that
    opens the report. The capture path and the command are printed whole,
    even past `width`, so that they can be copied."""
    lines = [_summary_headline(report, width)]
    peak_sentence = _peak_sentence(report)
    if peak_sentence is not None:
        lines.append(_cut(f"Peak heap: {peak_sentence}", width))
    peak = report["peak"]
    if peak is not None and peak["stacks"]:
        lines.append("  Where it was allocated, biggest first:")
        lines += _short_table(peak["stacks"][:5], peak["total_bytes"], width)
    exit_ = report["exit"]
    if exit_ is not None:
        label = "Still alive at exit" if exit_["label"] == "At exit" else _clean(exit_["label"])
        lines.append(
            _cut(
                f"{label}: {format_bytes(exit_['total_bytes'])} in "
                f"{format_count(exit_['total_blocks'])} blocks",
                width,
            )
        )
        lines += _short_table((report["leaks"] or exit_["stacks"])[:3], exit_["total_bytes"], width)
    for note in report["notes"]:
        lines += _wrap("Note: " + _clean(note), width, "  ")
    lines.append(f"Capture: {_clean(os.fspath(capture_path))}")
    lines.append(f"Report:  {_clean(report_command)}")
    return "\n".join(lines)


def _summary_headline(report, width):
    """'heaplens: <command> (exit status 0, 3.52 s)', the command cut to fit."""
    exit_ = report["exit"]
    duration = exit_["time_s"] if exit_ is not None and exit_["label"] == "At exit" else None
    facts = [report["exit_status"], format_seconds(duration) if duration is not None else None]
    facts = [_clean(fact) for fact in facts if fact]
    tail = _cut(f" ({', '.join(facts)})", width // 2) if facts else ""
    return _cut(f"heaplens: {_clean(report['title'])}", width - len(tail)) + tail


def _short_table(stacks, total, width):
    """Lines of a compact, unranked table of stacks, one line each."""
    if not stacks:
        return []
    rows = _stack_rows(stacks, total, ranked=False)
    return _table(["size", "share", "blocks", ""], rows, width, indent="    ")[1:]


def _diff_totals(old, new, width):
    """Lines of the totals of both sides of a diff and their change, labels
    first (cut from the left to at most half the width)."""
    change_bytes = new["total_bytes"] - old["total_bytes"]
    rows = [
        ("old: ", old["label"], old["total_bytes"], old["total_blocks"], False),
        ("new: ", new["label"], new["total_bytes"], new["total_blocks"], False),
        ("change", "", change_bytes, new["total_blocks"] - old["total_blocks"], True),
    ]
    labels = [head + _cut_left(_clean(label), width // 2 - 5) for head, label, *_ in rows]
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
    return lines


def format_diff(diff, width=100, limit=15, frames_per_stack=4):
    """The text of `heaplens diff OLD NEW`: the totals of each side and their
    change, then the stacks that changed most (growth '+', shrinkage '-'),
    `limit` of them with `frames_per_stack` frames each, then notes."""
    old, new = diff["old"], diff["new"]
    lines = [_cut(f"heaplens diff: {_clean(diff['title'])}", width), ""]
    lines += _diff_totals(old, new, width)
    stacks = diff["stacks"]
    lines += _heading("What changed, biggest change first (+ grew, - shrank)", width)
    if not stacks:
        lines.append("  Nothing changed: both hold the same memory in the same stacks.")
    else:
        rows = []
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
                _cut(
                    f"  ... and {format_count(n_left)} smaller change"
                    f"{'s' if n_left != 1 else ''}: {format_bytes(left_bytes, sign=True)} in all",
                    width,
                )
            )
    lines += _notes_lines(diff["notes"], width)
    return "\n".join(lines)
