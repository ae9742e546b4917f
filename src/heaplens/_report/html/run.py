"""The self-contained HTML pages of `heaplens report --html` and `heaplens diff --html`.

render_run_report() and render_diff_report() take the dicts that heaplens._report.text
builds (docs/report-data.md) and return one HTML document each. The page of a run
shows memory over time (a static SVG chart), icicle flame graphs of the live heap at
the peak and at exit, the top allocation sites and what was still alive at exit; the
page of a diff shows the two totals, a flame graph of the growth and the changes by
stack. The invariants of the leak report page (heaplens._report.html.leaks) hold here too,
and its look and text helpers are shared:

- Nothing from the data is ever markup: every string goes through _text() or
  _plain() (escaped, invisible characters spelled out, cut when too long), numbers
  are formatted here, and the one JSON block in a <script> holds numbers only and
  has `<`, `>` and `&` escaped anyway.
- The page reaches no network: a Content-Security-Policy forbids every fetch, and
  the CSS, the script and the charts are inline. The document is pure ASCII.
- Everything but the hover readout and the zoom works without JavaScript.

Flame graphs are built here: the stacks (most recent call first in the data) are
reversed and merged into a trie keyed by (file, line, function), so the outermost
call is the first row under the total. Each node is a <div> whose width is its share
of its parent's bytes; boxes under about 0.1% of the total are merged into one
"smaller" box per parent or left out, which bounds the page on big inputs.
"""

import html
import json
import math
import os

from heaplens._report.html.leaks import _CSS as _LEAK_CSS
from heaplens._report.html.leaks import _count, _plain, _size, _text
from heaplens._report.units import format_bytes

_MIN_SHARE = 0.001  # boxes narrower than this share of the total are merged away
_MAX_BOXES = 3000  # per flame graph; the cut-off share doubles until it fits
_MAX_DEPTH = 128  # rows of a flame graph; deeper frames count in their last shown box
_ROWS_SHOWN = 15  # rows of a table shown at first; the others fold away
_MAX_ROWS = 100  # rows of a table in all; the rest is summed up in one line
_MAX_POINTS = 1500  # timeline points drawn; longer timelines keep each bucket's maxima
_PALETTE = 10  # box colours, one per source file in order of first use

# The chart's geometry, in SVG user units.
_CHART_W, _CHART_H = 960, 300
_PLOT_LEFT, _PLOT_RIGHT, _PLOT_TOP, _PLOT_BOTTOM = 76, 944, 34, 262

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def render_run_report(report):
    """The complete HTML document (a str) for the run report dict `report`
    (see docs/report-data.md): header, memory over time, flame graphs at the
    peak and at exit, top allocation sites and what was still alive at exit."""
    peak, at_exit = report.get("peak"), report.get("exit")
    timeline = report.get("timeline")
    palette = _Palette()
    sections = [
        ("timeline", "Memory over time", _render_timeline(timeline)),
        ("flame-peak", "Live memory at the peak", _render_snapshot_flame(peak, "peak", palette)),
        ("flame-exit", "Live memory at exit", _render_snapshot_flame(at_exit, "exit", palette)),
        ("sites", "Top allocation sites", _render_sites(report.get("top_sites") or [], peak)),
        ("leaks", "Still alive at exit", _render_leaks(report.get("leaks") or [], at_exit)),
    ]
    header = _render_run_header(report, peak, at_exit, timeline)
    return _document(report.get("title") or "heaplens run", "memory report", header, sections)


def render_diff_report(diff):
    """The complete HTML document (a str) for the diff report dict `diff`
    (see docs/report-data.md): the two totals, a flame graph of what grew and
    the changes by stack."""
    stacks = diff.get("stacks") or []
    sections = [
        ("flame-growth", "Where memory grew", _render_growth_flame(diff, _Palette())),
        ("changes", "Changes by stack", _render_changes(stacks, diff)),
    ]
    header = _render_diff_header(diff)
    return _document(diff.get("title") or "heaplens diff", "comparison", header, sections)


# -- The document -------------------------------------------------------------


def _document(title, kind, header, sections):
    """The whole page as ASCII: head, header, a contents line, the sections."""
    contents = " &middot; ".join(f'<a href="#{key}">{name}</a>' for key, name, _ in sections)
    body = [
        header,
        '<main class="page">',
        f'<nav class="toc" aria-label="Contents">{contents}</nav>',
        *(section for _, _, section in sections),
        "</main>",
        '<footer class="page">Written by heaplens. This page is self-contained: '
        "it loads nothing from the network.</footer>",
    ]
    document = "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="heaplens">',
            '<link rel="icon" href="data:,">',
            f"<title>{_plain(title)} - heaplens {kind}</title>",
            f"<style>{_LEAK_CSS}{_CSS}</style>",
            "</head>",
            "<body>",
            *body,
            f"<script>{_JS}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
    return document.encode("ascii", "xmlcharrefreplace").decode("ascii")


def _section(key, heading, lead, *parts):
    """One <section> with its heading, the sentence saying what it shows, and parts."""
    return "\n".join(
        [
            f'<section id="{key}"><h2>{heading}</h2>',
            f'<p class="lead">{lead}</p>',
            *parts,
            "</section>",
        ]
    )


def _script_json(value):
    """`value` as JSON safe inside a <script> element: no `<`, `>` or `&`."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# -- Numbers and frames -------------------------------------------------------


def _share(part, whole):
    """part/whole as plain text: '45.2%', '<0.1%' for a sliver, '' when whole is 0."""
    if not whole:
        return ""
    share = 100.0 * part / whole
    if 0 < abs(share) < 0.1:
        return "<0.1%"
    return f"{share:.1f}%"


def _percent(part, whole):
    """_share() as HTML."""
    return html.escape(_share(part, whole))


def _signed_size(value):
    """A change in bytes: '+1.5 MiB', '&minus;300 B', '0 B', exact count on hover."""
    sign = "+" if value > 0 else "&minus;" if value < 0 else ""
    return f'<span title="{value:+,} bytes">{sign}{format_bytes(abs(value), decimals=1)}</span>'


def _signed_count(value):
    """A change in a count: '+12', '&minus;3', '0'."""
    sign = "+" if value > 0 else "&minus;" if value < 0 else ""
    return f"{sign}{abs(value):,}"


def _where(frame):
    """'file:line' of a frame dict, unescaped."""
    return f"{frame.get('file') or '?'}:{frame.get('line') or '?'}"


def _frame_label(frame):
    """'function (base.py:12)', the short label of a box, unescaped."""
    short = f"{os.path.basename(frame.get('file') or '') or '?'}:{frame.get('line') or '?'}"
    function = frame.get("function")
    return f"{function} ({short})" if function else short


def _site_cell(frame):
    """A table cell naming a frame: the function, then file:line below it."""
    function = frame.get("function")
    name = f'<code class="fn">{_text(function, 120)}</code>' if function else ""
    return f'{name}<span class="loc">{_text(_where(frame))}</span>'


# -- Header -------------------------------------------------------------------


def _render_run_header(report, peak, at_exit, timeline):
    """The title, the exit status, the numbers at a glance, the facts about the
    run and the notes."""
    status = report.get("exit_status") or "unknown"
    ok = status == "exit status 0"
    peak_hint = ""
    if peak and peak.get("time_s") is not None:
        peak_hint = f"at {_seconds(peak['time_s'])}, "
    stats = [
        (
            "Peak traced memory",
            _size(_peak_bytes(peak, timeline)) if peak or timeline else "&ndash;",
            peak_hint + (f"{_count(peak['total_blocks'])} blocks" if peak else "highest traced"),
        ),
        (
            "Still alive at exit",
            _size(at_exit["total_bytes"]) if at_exit else "&ndash;",
            f"{_count(at_exit['total_blocks'])} blocks" if at_exit else "no exit snapshot",
        ),
        ("Peak RSS", _size(_peak_rss(timeline)), "resident memory of the whole process"),
    ]
    status_class = "ok" if ok else "bad"
    return "\n".join(
        [
            '<header class="top"><div class="page">',
            '<p class="brand">heaplens &middot; memory report</p>',
            f"<h1>{_text(report.get('title') or 'heaplens run', 400)}</h1>",
            f'<p class="exit {status_class}"><span class="label">Program ended:</span> '
            f"<strong>{_text(status, 400)}</strong></p>",
            _render_notes(report.get("notes") or []),
            '<div class="glance">',
            _render_stats(stats),
            _render_meta(report.get("meta") or []),
            "</div>",
            "</div></header>",
        ]
    )


def _render_diff_header(diff):
    """The title, the two totals and the change, and the notes."""
    old, new = diff.get("old") or {}, diff.get("new") or {}
    old_bytes, new_bytes = old.get("total_bytes", 0), new.get("total_bytes", 0)
    change = new_bytes - old_bytes
    relative = ("+" if change > 0 else "") + _percent(change, old_bytes)
    blocks = _signed_count(new.get("total_blocks", 0) - old.get("total_blocks", 0))
    stats = [
        ("Before", _size(old_bytes), _text(old.get("label") or "old", 120)),
        ("After", _size(new_bytes), _text(new.get("label") or "new", 120)),
        (
            "Change",
            _signed_size(change),
            (f"{relative}, " if old_bytes else "") + f"{blocks} blocks",
        ),
    ]
    return "\n".join(
        [
            '<header class="top"><div class="page">',
            '<p class="brand">heaplens &middot; comparison of two captures</p>',
            f"<h1>{_text(diff.get('title') or 'heaplens diff', 400)}</h1>",
            '<p class="ran">The live memory of the second capture compared with the first, '
            "stack by stack.</p>",
            _render_notes(diff.get("notes") or []),
            _render_stats(stats),
            "</div></header>",
        ]
    )


def _render_stats(stats):
    """The numbers at a glance: (label, value html, hint html) cards."""
    cells = "".join(
        f'<div class="stat"><dt>{label}</dt><dd>{value}</dd><dd class="hint">{hint}</dd></div>'
        for label, value, hint in stats
    )
    return f'<dl class="stats">{cells}</dl>'


def _render_meta(meta):
    """The facts about the run, one row per [label, value] pair."""
    rows = "".join(
        f"<dt>{_text(str(label), 80)}</dt><dd>{_text(str(value), 600)}</dd>"
        for label, value in meta
    )
    return f'<dl class="meta">{rows}</dl>' if rows else ""


def _render_notes(notes):
    """The notes, shown where they cannot be missed, or '' when there are none."""
    if not notes:
        return ""
    items = "".join(f"<li>{_text(str(note), 1000)}</li>" for note in notes)
    return f'<div class="callout" role="note"><strong>Note</strong><ul>{items}</ul></div>'


def _peak_bytes(peak, timeline):
    """The highest traced size: the peak snapshot's total, else the timeline's maximum."""
    if peak:
        return peak.get("total_bytes", 0)
    return max((p["traced_max"] for p in timeline["points"]), default=0)


def _peak_rss(timeline):
    """The highest RSS of the timeline, or None when it is unknown."""
    if not timeline:
        return None
    return max((p["rss"] for p in timeline["points"] if p.get("rss") is not None), default=None)


# -- Memory over time ---------------------------------------------------------


def _render_timeline(timeline):
    """The section with the chart of traced bytes and RSS over time."""
    lead = (
        "The memory heaplens traced (allocated by Python and not yet freed) over the run, "
        "and the resident set size (RSS) of the whole process, which also counts the "
        "interpreter, C libraries and freed memory not yet returned to the system."
    )
    points = (timeline or {}).get("points") or []
    if not points:
        missing = (
            '<p class="missing">This capture has no timeline: '
            "memory over time was not recorded.</p>"
        )
        return _section("timeline", "Memory over time", lead, missing)
    points = _thin(points, _MAX_POINTS)
    peak_t = timeline.get("peak_t")
    return _section("timeline", "Memory over time", lead, _render_chart(points, peak_t))


def _thin(points, limit):
    """At most about `limit` points: each bucket of neighbours becomes one
    point with the bucket's maxima (a peak never disappears)."""
    if len(points) <= limit:
        return points
    size = math.ceil(len(points) / limit)
    thinned = []
    for start in range(0, len(points), size):
        bucket = points[start : start + size]
        rss = [p["rss"] for p in bucket if p.get("rss") is not None]
        thinned.append(
            {
                "t": bucket[0]["t"],
                "traced": max(p["traced"] for p in bucket),
                "traced_max": max(p["traced_max"] for p in bucket),
                "rss": max(rss) if rss else None,
            }
        )
    return thinned


def _render_chart(points, peak_t):
    """The <figure>: the SVG chart, its legend, the hover readout and the points as JSON."""
    has_rss = any(p.get("rss") is not None for p in points)
    top = max(max(p["traced_max"], p["traced"], p.get("rss") or 0) for p in points)
    y_ticks, y_max = _byte_ticks(top)
    t_end = max(points[-1]["t"], 1e-3)
    t_ticks, t_end = _time_ticks(t_end)
    scale = _Scale(t_end, y_max)
    svg = [
        f'<svg class="chart" viewBox="0 0 {_CHART_W} {_CHART_H}" role="img" '
        f'aria-label="memory over time" data-t-end="{t_end!r}" '
        f'data-x0="{_PLOT_LEFT}" data-x1="{_PLOT_RIGHT}">',
        _chart_axes(scale, y_ticks, t_ticks),
        _chart_band(scale, points),
        f'<path class="traced" d="{_line_path(scale, points, "traced")}"/>',
    ]
    if has_rss:
        svg.append(f'<path class="rss" d="{_line_path(scale, points, "rss")}"/>')
    svg.append(_chart_peak(scale, points, peak_t))
    svg.append(
        f'<line class="cursor" x1="0" x2="0" y1="{_PLOT_TOP}" y2="{_PLOT_BOTTOM}" '
        'visibility="hidden"/></svg>'
    )
    legend = [
        '<span><i class="sw traced"></i>traced by heaplens</span>',
        '<span><i class="sw band"></i>highest traced between two samples</span>',
    ]
    if has_rss:
        legend.append('<span><i class="sw rss"></i>RSS (whole process)</span>')
    data = {key: [p.get(key) for p in points] for key in ("t", "traced", "traced_max", "rss")}
    return "\n".join(
        [
            '<figure class="timeline card" data-source="timeline-data">',
            "".join(svg),
            f'<figcaption class="legend">{"".join(legend)}</figcaption>',
            '<p class="readout" aria-live="polite"></p>',
            '<script type="application/json" id="timeline-data">',
            _script_json(data),
            "</script></figure>",
        ]
    )


class _Scale:
    """Maps (seconds, bytes) to the chart's user units."""

    def __init__(self, t_end, y_max):
        self.t_end = t_end
        self.y_max = y_max or 1

    def x(self, t):
        """The x of time t (seconds)."""
        return _PLOT_LEFT + (_PLOT_RIGHT - _PLOT_LEFT) * t / self.t_end

    def y(self, size):
        """The y of a size in bytes."""
        return _PLOT_BOTTOM - (_PLOT_BOTTOM - _PLOT_TOP) * size / self.y_max


def _chart_axes(scale, y_ticks, t_ticks):
    """Grid lines with the byte labels on the left and the time labels below."""
    parts = []
    for value, label in y_ticks:
        y = scale.y(value)
        parts.append(
            f'<line class="grid" x1="{_PLOT_LEFT}" x2="{_PLOT_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_PLOT_LEFT - 8}" y="{y + 4:.1f}" '
            f'text-anchor="end">{label}</text>'
        )
    for value, label in t_ticks:
        x = scale.x(value)
        anchor = "end" if x > _PLOT_RIGHT - 20 else "middle"
        parts.append(
            f'<line class="tickmark" x1="{x:.1f}" x2="{x:.1f}" y1="{_PLOT_BOTTOM}" '
            f'y2="{_PLOT_BOTTOM + 5}"/><text class="tick" x="{x:.1f}" y="{_PLOT_BOTTOM + 19}" '
            f'text-anchor="{anchor}">{label}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{_PLOT_LEFT}" x2="{_PLOT_RIGHT}" y1="{_PLOT_BOTTOM}" '
        f'y2="{_PLOT_BOTTOM}"/><text class="axis-title" x="{(_PLOT_LEFT + _PLOT_RIGHT) / 2}" '
        f'y="{_CHART_H - 4}" text-anchor="middle">time since start</text>'
    )
    return "".join(parts)


def _chart_band(scale, points):
    """The faint band between the traced size at each sample and the highest
    traced size since the previous sample."""
    upper = [f"{scale.x(p['t']):.1f},{scale.y(p['traced_max']):.1f}" for p in points]
    lower = [f"{scale.x(p['t']):.1f},{scale.y(p['traced']):.1f}" for p in reversed(points)]
    return f'<polygon class="band" points="{" ".join(upper + lower)}"/>'


def _line_path(scale, points, key):
    """An SVG path through points[key], broken where the value is unknown."""
    parts, pen_down = [], False
    for p in points:
        value = p.get(key)
        if value is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{scale.x(p['t']):.1f},{scale.y(value):.1f}")
        pen_down = True
    return "".join(parts)


def _chart_peak(scale, points, peak_t):
    """The peak: a dashed line at its time, a dot at its height and a label."""
    highest = max(points, key=lambda p: p["traced_max"])
    t = highest["t"] if peak_t is None else peak_t
    x, y = scale.x(t), scale.y(highest["traced_max"])
    anchor, dx = ("end", -8) if x > (_PLOT_LEFT + _PLOT_RIGHT) / 2 else ("start", 8)
    label = f"peak {format_bytes(highest['traced_max'], decimals=1)} at {_seconds(t)}"
    return (
        f'<g class="peak"><line x1="{x:.1f}" x2="{x:.1f}" y1="{_PLOT_TOP - 6}" '
        f'y2="{_PLOT_BOTTOM}"/>'
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5"/>'
        f'<text x="{x + dx:.1f}" y="{_PLOT_TOP - 12}" text-anchor="{anchor}">{label}</text></g>'
    )


def _nice_step(span, count):
    """A step of 1, 2, 2.5 or 5 times a power of ten that cuts `span` into
    at most about `count` parts."""
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if multiple * magnitude >= raw:
            return multiple * magnitude
    return 10 * magnitude


def _ticks(end, unit, name, count):
    """([(value, label)], top): ticks from 0 past `end`, labelled in `unit`s."""
    step = _nice_step(end / unit, count)
    n_steps = max(1, math.ceil(end / unit / step - 1e-9))
    ticks = [(i * step * unit, f"{_trim(i * step)} {name}") for i in range(n_steps + 1)]
    return ticks, n_steps * step * unit


def _trim(value):
    """2.0 -> '2', 2.5 -> '2.5', 0.30000000000000004 -> '0.3'."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _byte_ticks(top):
    """The y ticks of a chart whose highest value is `top` bytes, in the
    largest binary unit (KiB, MiB, GiB) that `top` reaches."""
    top = max(top, 1)
    for unit, name in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB"), (1, "B")):
        if top >= unit:
            return _ticks(top, unit, name, 5)
    return _ticks(top, 1, "B", 5)  # pragma: no cover - top >= 1


def _time_ticks(end):
    """The x ticks up to `end` seconds: in seconds, or minutes past 3 minutes."""
    if end > 180:
        return _ticks(end, 60, "min", 8)
    return _ticks(end, 1, "s", 8)


def _seconds(value):
    """1.5 -> '1.50 s', 125.2 -> '125.2 s'."""
    if value is None:
        return "?"
    return f"{value:.2f} s" if value < 100 else f"{value:.1f} s"


# -- Flame graphs -------------------------------------------------------------


class _Node:
    """One box of a flame graph: a frame on the path from the root, with the
    bytes and blocks of every stack passing through it."""

    __slots__ = ("frame", "kind", "bytes", "blocks", "children")

    def __init__(self, frame, kind="frame"):
        self.frame = frame  # {"file", "line", "function"}, or None for the root
        self.kind = kind  # "root", "frame", "other" (left out by the cut-off) or "small"
        self.bytes = 0
        self.blocks = 0
        self.children = {}


def _build_tree(stacks, root_label):
    """The trie of `stacks` [(frames most recent first, bytes, blocks)], the
    outermost call first; frames past _MAX_DEPTH count in their parent."""
    root = _Node({"function": root_label}, "root")
    for frames, size, blocks in stacks:
        node = root
        node.bytes += size
        node.blocks += blocks
        for frame in list(reversed(frames))[:_MAX_DEPTH]:
            key = (frame.get("file"), frame.get("line"), frame.get("function"))
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = _Node(frame)
            child.bytes += size
            child.blocks += blocks
            node = child
    return root


def _add_other(root, size, blocks, n_stacks):
    """Count what the report left out as one box under the root."""
    if size <= 0:
        return
    label = f"{n_stacks:,} smaller stacks" if n_stacks else "other stacks"
    other = _Node({"function": label}, "other")
    other.bytes, other.blocks = size, max(blocks, 0)
    root.children[("", 0, label)] = other
    root.bytes += size
    root.blocks += other.blocks


def _shown_children(node, min_bytes):
    """node's children to draw, biggest first: those of at least min_bytes,
    then one "smaller" box for the rest when together they reach min_bytes."""
    children = sorted(node.children.values(), key=lambda child: -child.bytes)
    big = [child for child in children if child.bytes >= min_bytes]
    small = children[len(big) :]
    rest = sum(child.bytes for child in small)
    if small and rest >= min_bytes:
        merged = _Node({"function": f"{len(small):,} smaller"}, "small")
        merged.bytes, merged.blocks = rest, sum(child.blocks for child in small)
        big.append(merged)
    return big


def _count_boxes(node, min_bytes):
    """How many boxes the graph of `node` draws at this cut-off."""
    return 1 + sum(_count_boxes(child, min_bytes) for child in _shown_children(node, min_bytes))


def _cut_off(root):
    """The smallest box size (bytes) drawn: _MIN_SHARE of the total, raised
    until the graph has at most _MAX_BOXES boxes."""
    share = _MIN_SHARE
    while True:
        min_bytes = max(1, root.bytes * share)
        if share >= 0.1 or _count_boxes(root, min_bytes) <= _MAX_BOXES:
            return min_bytes, share
        share *= 2


class _Palette:
    """Box colours: one per file, in order of first use on the page, so that
    the frames of one module look alike in every graph of the page."""

    def __init__(self):
        self.by_file = {}

    def colour(self, frame):
        """The palette index (0.._PALETTE-1) of frame's file."""
        file = frame.get("file") or ""
        if file not in self.by_file:
            self.by_file[file] = len(self.by_file) % _PALETTE
        return self.by_file[file]


class _Flame:
    """What every box of one flame graph needs: the total (the root's bytes),
    the cut-off, what the total is called in tooltips, and the palette."""

    def __init__(self, root, unit_name, palette):
        self.root = root
        self.min_bytes, self.share = _cut_off(root)
        self.unit_name = unit_name
        self.palette = palette


def _render_flame(root, graph_id, unit_name, palette):
    """The flame graph <figure> of the trie `root` (whose bytes are the 100%).
    `unit_name` says what the percentages are of ('of the total')."""
    flame = _Flame(root, unit_name, palette)
    cut = f"{flame.share * 100:.1f}%".replace(".0%", "%")
    return "\n".join(
        [
            f'<figure class="flame card" id="{graph_id}" data-total="{root.bytes}">',
            '<div class="fg-bar"><span class="fg-zoom"></span>'
            '<button type="button" class="fg-reset" hidden>Reset zoom</button></div>',
            f'<div class="fg">{_render_node(flame, root, 100.0)}</div>',
            f'<figcaption class="fg-note">Boxes under {cut} of the total are merged into '
            "one &ldquo;smaller&rdquo; box or left out. Colours stand for source files."
            "</figcaption>",
            "</figure>",
        ]
    )


def _render_node(flame, node, width):
    """One box, `width` percent of its parent's, and below it the boxes of
    its children (recursively; the depth is at most _MAX_DEPTH)."""
    frame = node.frame
    is_frame = node.kind == "frame"
    label = _frame_label(frame) if is_frame else frame["function"]
    tooltip = (
        f"{_frame_tooltip_name(frame) if is_frame else label}\n"
        f"{format_bytes(node.bytes, decimals=1)} ({_share(node.bytes, flame.root.bytes)} {flame.unit_name}), "
        f"{node.blocks:,} blocks"
    )
    attrs = [
        f'class="fg-n k-{node.kind}" style="width:{width:.4f}%"',
        f'data-name="{_plain(frame.get("function") or "", 300)}"',
    ]
    if is_frame:
        attrs.append(f'data-file="{_plain(frame.get("file") or "", 1000)}"')
        attrs.append(f'data-line="{int(frame.get("line") or 0)}"')
    attrs.append(f'data-bytes="{node.bytes}" data-blocks="{node.blocks}"')
    colour = flame.palette.colour(frame) if is_frame else node.kind
    box = f'<div class="fg-b c-{colour}" title="{_plain(tooltip, 2000)}"><span>{_plain(label, 300)}</span></div>'
    kids = [
        _render_node(flame, child, 100.0 * child.bytes / node.bytes)
        for child in _shown_children(node, flame.min_bytes)
    ]
    inner = f'<div class="fg-k">{"".join(kids)}</div>' if kids else ""
    return f'<div {" ".join(attrs)}>{box}{inner}</div>'


def _frame_tooltip_name(frame):
    """'function (/full/path.py:12)', the long name of a box, unescaped."""
    function = frame.get("function")
    return f"{function} ({_where(frame)})" if function else _where(frame)


def _render_snapshot_flame(snap, which, palette):
    """The section with the flame graph of a run snapshot (`which`: 'peak' or 'exit')."""
    when = "when traced memory was highest" if which == "peak" else "when the program ended"
    heading = "Live memory at the peak" if which == "peak" else "Live memory at exit"
    lead = (
        f"Where the memory alive {when} was allocated. The top row is all of it; below "
        "each box are the calls it made, down to the line that allocated. A box's width is "
        "the memory allocated under it. Hover over a box for its size; click it to zoom in."
    )
    key = f"flame-{which}"
    if not snap:
        missing = f'<p class="missing">This capture has no snapshot {when}.</p>'
        return _section(key, heading, lead, missing)
    if not snap.get("stacks") and not snap.get("other_bytes"):
        empty = '<p class="missing">Nothing traced was alive then.</p>'
        return _section(key, heading, lead, empty)
    stacks = [(s["frames"], s["bytes"], s["blocks"]) for s in snap["stacks"]]
    root = _build_tree(stacks, f"all live memory ({format_bytes(snap['total_bytes'], decimals=1)})")
    _add_other(
        root, snap.get("other_bytes", 0), snap.get("other_blocks", 0), snap.get("other_stacks", 0)
    )
    _account_total(root, snap.get("total_bytes", 0), snap.get("total_blocks", 0))
    flame = _render_flame(root, f"fg-{which}", "of the total", palette)
    return _section(key, heading, lead, flame)


def _account_total(root, total_bytes, total_blocks):
    """Make the root the snapshot's total when the stacks add up to less (the
    difference shows as an empty end of the top row)."""
    root.bytes = max(root.bytes, total_bytes)
    root.blocks = max(root.blocks, total_blocks)


def _render_growth_flame(diff, palette):
    """The section with the flame graph of the stacks whose memory grew."""
    lead = (
        "Where memory grew between the two captures: each box's width is the growth under "
        "it. Stacks whose memory shrank are not drawn here; the table below lists them. "
        "Hover over a box for its size; click it to zoom in."
    )
    grown = [
        (s["frames"], s["diff_bytes"], max(s.get("diff_blocks", 0), 0))
        for s in diff.get("stacks") or []
        if s["diff_bytes"] > 0
    ]
    other = diff.get("other_diff_bytes", 0)
    if not grown and other <= 0:
        empty = '<p class="missing">No stack grew.</p>'
        return _section("flame-growth", "Where memory grew", lead, empty)
    growth = sum(size for _, size, _ in grown) + max(other, 0)
    root = _build_tree(grown, f"all growth ({format_bytes(growth, decimals=1)})")
    _add_other(root, other, 0, diff.get("other_stacks", 0))
    flame = _render_flame(root, "fg-growth", "of the growth", palette)
    return _section("flame-growth", "Where memory grew", lead, flame)


# -- Tables -------------------------------------------------------------------


def _table(head, rows, last_row=""):
    """A table in its scrolling wrapper; `head` is [(title, is_number)]. The
    first _ROWS_SHOWN rows are shown, the others (at most _MAX_ROWS in all)
    fold away in a second table; `last_row` ends whichever table is last."""
    cells = "".join(f"<th{' class=num' if number else ''}>{title}</th>" for title, number in head)
    thead = f"<thead><tr>{cells}</tr></thead>"
    shown, folded = rows[:_ROWS_SHOWN], rows[_ROWS_SHOWN:_MAX_ROWS]
    first = "".join(shown) + ("" if folded else last_row)
    parts = [f'<div class="table-wrap"><table>{thead}<tbody>{first}</tbody></table></div>']
    if folded:
        parts.append(
            f'<details class="more-rows"><summary>Show {len(folded):,} more</summary>'
            f'<div class="table-wrap"><table>{thead}<tbody>{"".join(folded)}{last_row}'
            "</tbody></table></div></details>"
        )
    return "\n".join(parts)


def _share_cell(size, whole):
    """A cell with size's share of `whole` as a percentage and a small bar."""
    width = min(100.0 * size / whole, 100.0) if whole else 0.0
    return (
        f'<td class="num share"><span class="meter"><i style="width:{width:.1f}%"></i></span>'
        f'<span class="pct">{_percent(size, whole)}</span></td>'
    )


def _stack_cell(frames):
    """The cell naming where a stack allocated: its frames[0]; the callers,
    outermost first as Python prints a traceback, fold away under it."""
    if not frames:
        return '<td><span class="loc">unknown</span></td>'
    if len(frames) == 1:
        return f"<td>{_site_cell(frames[0])}</td>"
    items = []
    for i, frame in enumerate(reversed(frames)):
        function = frame.get("function")
        name = f" in <code>{_text(function, 120)}</code>" if function else ""
        tag = ' <span class="badge alloc">allocated here</span>' if i == len(frames) - 1 else ""
        items.append(f"<li><code>{_text(_where(frame))}</code>{name}{tag}</li>")
    callers = len(frames) - 1
    return (
        f"<td><details><summary>{_site_cell(frames[0])} "
        f'<span class="callers">+{callers} {"caller" if callers == 1 else "callers"}</span>'
        "</summary>"
        f'<ol class="stack">{"".join(items)}</ol></details></td>'
    )


def _render_sites(sites, peak):
    """The section with the table of the lines that allocated the most."""
    lead = (
        "The lines that allocated the most memory alive at the peak (counting every stack "
        "through them), and how much of it was still alive when the program ended."
    )
    if not sites:
        empty = '<p class="missing">No allocation was traced.</p>'
        return _section("sites", "Top allocation sites", lead, empty)
    whole = (peak or {}).get("total_bytes") or sum(site.get("peak_bytes", 0) for site in sites)
    rows = [
        f'<tr><td class="num">{_size(site.get("peak_bytes", 0))}</td>'
        f"{_share_cell(site.get('peak_bytes', 0), whole)}"
        f'<td class="num">{_count(site.get("peak_blocks", 0))}</td>'
        f'<td class="num">{_size(site.get("exit_bytes", 0))}</td>'
        f'<td class="num">{_count(site.get("exit_blocks", 0))}</td>'
        f"<td>{_site_cell(site)}</td></tr>"
        for site in sites[:_MAX_ROWS]
    ]
    head = [
        ("At the peak", True),
        ("% of peak", True),
        ("Blocks", True),
        ("At exit", True),
        ("Blocks", True),
        ("Allocated at", False),
    ]
    more = _more_row(len(sites) - _MAX_ROWS, "sites", 6)
    return _section("sites", "Top allocation sites", lead, _table(head, rows, more))


def _more_row(n_more, what, n_columns):
    """A last row saying how many rows were left out, or ''."""
    if n_more <= 0:
        return ""
    return f'<tr class="more"><td colspan="{n_columns}">{n_more:,} more {what} not listed</td></tr>'


def _render_leaks(leaks, at_exit):
    """The section with the table of the stacks still alive at exit."""
    lead = (
        "Memory allocated during the run and never freed before the program ended, by the "
        "stack that allocated it. Module globals and caches are expected here; a large or "
        "surprising entry is where to look for a leak."
    )
    if not leaks:
        text = "Nothing traced was still alive at exit." if at_exit else "No exit snapshot."
        return _section("leaks", "Still alive at exit", lead, f'<p class="missing">{text}</p>')
    whole = at_exit.get("total_bytes", 0) if at_exit else 0
    whole = whole or max(leak.get("bytes", 0) for leak in leaks)
    rows = [
        f'<tr><td class="num">{_size(leak.get("bytes", 0))}</td>'
        f"{_share_cell(leak.get('bytes', 0), whole)}"
        f'<td class="num">{_count(leak.get("blocks", 0))}</td>'
        f"{_stack_cell(leak.get('frames') or [])}</tr>"
        for leak in leaks[:_MAX_ROWS]
    ]
    head = [("Size", True), ("% of exit", True), ("Blocks", True), ("Allocated at", False)]
    more = _more_row(len(leaks) - _MAX_ROWS, "stacks", 4)
    return _section("leaks", "Still alive at exit", lead, _table(head, rows, more))


def _render_changes(stacks, diff):
    """The section with the table of the stacks whose memory changed."""
    lead = (
        "Every stack whose live memory changed, the largest change first: growth in red, "
        "shrinking in green."
    )
    if not stacks:
        empty = '<p class="missing">No stack changed.</p>'
        return _section("changes", "Changes by stack", lead, empty)
    rows = []
    for stack in stacks[:_MAX_ROWS]:
        change = stack.get("diff_bytes", 0)
        css = "grew" if change > 0 else "shrank" if change < 0 else ""
        rows.append(
            f'<tr><td class="num {css}">{_signed_size(change)}</td>'
            f'<td class="num">{_size(stack.get("old_bytes", 0))}</td>'
            f'<td class="num">{_size(stack.get("new_bytes", 0))}</td>'
            f'<td class="num">{_signed_count(stack.get("diff_blocks", 0))}</td>'
            f"{_stack_cell(stack.get('frames') or [])}</tr>"
        )
    head = [("Change", True), ("Before", True), ("After", True), ("Blocks", True)]
    head.append(("Allocated at", False))
    return _section(
        "changes", "Changes by stack", lead, _table(head, rows, _rest_row(stacks, diff))
    )


def _rest_row(stacks, diff):
    """The last row of the changes: the stacks not listed and their net change."""
    listed_out = stacks[_MAX_ROWS:]
    n_more = len(listed_out) + diff.get("other_stacks", 0)
    if n_more <= 0:
        return ""
    change = sum(s.get("diff_bytes", 0) for s in listed_out) + diff.get("other_diff_bytes", 0)
    return (
        f'<tr class="more"><td class="num">{_signed_size(change)}</td>'
        f'<td colspan="4">{n_more:,} more stacks not listed, changing this much together</td></tr>'
    )


_CSS = """
.toc { margin: 18px 0 0; font-size: 14px; color: var(--muted); }
.exit { margin: 0 0 12px; display: inline-block; padding: 4px 12px; border-radius: 6px;
  border-left: 4px solid; }
.exit.ok { background: var(--ok-bg); border-color: var(--ok); }
.exit.bad { background: var(--bad-bg); border-color: var(--bad); }
.exit .label { margin-right: 6px; }
.callout { background: var(--hold-bg); border: 1px solid #d4a72c;
  border-left: 4px solid var(--hold);
  border-radius: 6px; padding: 8px 14px; margin: 0 0 12px; }
.callout ul { margin: 2px 0 0; padding-left: 20px; }
.glance { display: flex; flex-wrap: wrap; gap: 14px 28px; align-items: flex-start; }
.glance .stats { margin: 0; flex: 1 1 460px; grid-template-columns: repeat(3, minmax(0, 1fr)); }
.meta { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 1px 18px;
  margin: 0; font-size: 14px; flex: 1 1 340px; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; font-family: var(--mono); font-size: 13px; }
.missing { background: var(--card); border: 1px dashed var(--line); border-radius: 8px;
  padding: 14px 16px; }
figure.card { margin: 0; }
svg.chart { display: block; width: 100%; height: auto; font: 12px system-ui, sans-serif; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .axis, svg.chart .tickmark { stroke: var(--muted); stroke-width: 1; }
svg.chart .tick { fill: var(--muted); }
svg.chart .axis-title { fill: var(--muted); font-size: 12px; }
svg.chart .traced { fill: none; stroke: #0969da; stroke-width: 2; stroke-linejoin: round; }
svg.chart .band { fill: #0969da; opacity: .16; }
svg.chart .rss { fill: none; stroke: #8250df; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg.chart .peak line { stroke: var(--bad); stroke-dasharray: 3 3; }
svg.chart .peak circle { fill: var(--bad); stroke: #fff; stroke-width: 2; }
svg.chart .peak text { fill: var(--bad); font-weight: 600; font-size: 13px; }
svg.chart .cursor { stroke: var(--ink); stroke-width: 1; opacity: .5; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 20px; font-size: 13px; color: var(--muted);
  margin-top: 4px; }
.sw { display: inline-block; width: 18px; height: 0; vertical-align: middle; margin-right: 6px;
  border-top: 2px solid #0969da; }
.sw.band { height: 10px; border: 0; background: #0969da; opacity: .2; }
.sw.rss { border-top: 2px dashed #8250df; }
.readout { margin: 4px 0 0; min-height: 1.5em; font-size: 13px;
  font-variant-numeric: tabular-nums; }
.fg-bar { display: flex; gap: 12px; align-items: center; min-height: 30px; margin-bottom: 6px;
  font-size: 13px; color: var(--muted); }
.fg-reset { font: inherit; color: var(--accent); background: var(--card); cursor: pointer;
  border: 1px solid var(--line); border-radius: 6px; padding: 2px 10px; }
.fg-reset[hidden] { display: none; }
.fg { width: 100%; overflow: hidden; }
.fg-k { display: flex; }
.fg-n { flex: none; min-width: 0; }
.fg-n.off { display: none; }
.fg-b { height: 20px; line-height: 20px; padding: 0 4px; font-size: 12px; font-family: var(--mono);
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; cursor: pointer;
  border-right: 1px solid #fff; border-bottom: 1px solid #fff; color: #1f2328; }
.fg-b:hover { filter: brightness(.9); }
.fg-b { container-type: inline-size; }
@container (max-width: 36px) { .fg-b > span { display: none; } }
.fg-n.anc > .fg-b { opacity: .55; }
.c-root { background: #d0d7de; font-weight: 600; }
.c-other, .c-small { background: #e6e8eb; color: var(--muted); font-style: italic; }
.c-0 { background: #f6c28b; } .c-1 { background: #a5d6a7; } .c-2 { background: #9ecbf0; }
.c-3 { background: #f4a9a8; } .c-4 { background: #d3b8f0; } .c-5 { background: #f5e08c; }
.c-6 { background: #8fd6cf; } .c-7 { background: #f1b6d6; } .c-8 { background: #c5d98c; }
.c-9 { background: #bfc8f5; }
.fg-note { margin-top: 8px; font-size: 12px; color: var(--muted); }
td .fn { font-weight: 600; margin-right: 8px; }
td .loc { color: var(--muted); font-family: var(--mono); font-size: 12px; }
.meter { display: inline-block; width: 60px; height: 8px; margin-right: 8px; background: var(--bg);
  border: 1px solid var(--line); border-radius: 2px; vertical-align: baseline; overflow: hidden; }
.pct { display: inline-block; min-width: 3.4em; }
.meter i { display: block; height: 100%; background: #54aeff; }
td details summary { color: inherit; font-size: inherit; padding: 0; }
td details[open] summary { margin-bottom: 4px; }
.callers { color: var(--muted); font-size: 12px; white-space: nowrap; }
.more-rows { margin-top: 8px; }
.more-rows > summary { font-size: 14px; }
td.grew { color: var(--bad); font-weight: 600; }
td.shrank { color: var(--ok); font-weight: 600; }
tr.more td { color: var(--muted); font-style: italic; }
.stack { margin: 4px 0 0; padding-left: 20px; font-size: 13px; }
.stack li { margin: 1px 0; }
@media print { .fg-bar { display: none; } }
"""

_JS = r"""
(function () {
  'use strict';
  var UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  function human(size) {
    var value = size, i = 0;
    while (Math.abs(value) >= 1024 && i < UNITS.length - 1) { value /= 1024; i += 1; }
    return i === 0 ? value.toFixed(0) + ' B' : value.toFixed(1) + ' ' + UNITS[i];
  }
  function percent(part, whole) {
    return whole ? (100 * part / whole).toFixed(1) + '%' : '';
  }
  function nodeName(node) {
    var name = node.dataset.name || '';
    if (node.dataset.file !== undefined) {
      name += (name ? ' (' : '(') + node.dataset.file + ':' + node.dataset.line + ')';
    }
    return name;
  }
  function setupFlame(figure) {
    var graph = figure.querySelector('.fg');
    var caption = figure.querySelector('.fg-zoom');
    var button = figure.querySelector('.fg-reset');
    var hint = 'Click a box to zoom into it.';
    var total = Number(figure.dataset.total);
    function reset() {
      graph.querySelectorAll('.fg-n.off').forEach(function (n) { n.classList.remove('off'); });
      graph.querySelectorAll('.fg-n.anc').forEach(function (n) { n.classList.remove('anc'); });
      graph.querySelectorAll('.fg-n[data-width]').forEach(function (n) {
        n.style.width = n.dataset.width;
        delete n.dataset.width;
      });
      figure.classList.remove('zoomed');
      delete figure.dataset.zoom;
      caption.textContent = hint;
      button.hidden = true;
    }
    caption.textContent = hint;
    function zoom(node) {
      reset();
      if (node.classList.contains('k-root')) { return; }
      for (var n = node; n && !n.classList.contains('k-root');
           n = n.parentElement.closest('.fg-n')) {
        Array.prototype.forEach.call(n.parentElement.children, function (sibling) {
          if (sibling !== n) { sibling.classList.add('off'); }
        });
        n.dataset.width = n.style.width;
        n.style.width = '100%';
        if (n !== node) { n.classList.add('anc'); }
      }
      graph.querySelector('.k-root').classList.add('anc');
      var bytes = Number(node.dataset.bytes);
      caption.textContent = 'Zoomed into ' + nodeName(node) + ': ' + human(bytes) +
        ', ' + percent(bytes, total) + ' of the graph. Click a row above to zoom out.';
      figure.classList.add('zoomed');
      figure.dataset.zoom = node.dataset.name;
      button.hidden = false;
    }
    graph.addEventListener('click', function (event) {
      var box = event.target.closest('.fg-b');
      if (box) { zoom(box.parentElement); }
    });
    button.addEventListener('click', reset);
  }
  function setupTimeline(figure) {
    var data = JSON.parse(document.getElementById(figure.dataset.source).textContent);
    var svg = figure.querySelector('svg');
    var cursor = svg.querySelector('.cursor');
    var readout = figure.querySelector('.readout');
    var x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1);
    var tEnd = Number(svg.dataset.tEnd);
    var hint = 'Move the pointer over the chart to read the values at a moment.';
    readout.textContent = hint;
    function nearest(t) {
      var lo = 0, hi = data.t.length - 1;
      while (lo < hi) {
        var mid = (lo + hi) >> 1;
        if (data.t[mid] < t) { lo = mid + 1; } else { hi = mid; }
      }
      if (lo > 0 && t - data.t[lo - 1] < data.t[lo] - t) { lo -= 1; }
      return lo;
    }
    svg.addEventListener('mousemove', function (event) {
      var point = new DOMPoint(event.clientX, event.clientY)
        .matrixTransform(svg.getScreenCTM().inverse());
      var i = nearest((point.x - x0) / (x1 - x0) * tEnd);
      var x = x0 + (x1 - x0) * data.t[i] / tEnd;
      cursor.setAttribute('x1', x);
      cursor.setAttribute('x2', x);
      cursor.setAttribute('visibility', 'visible');
      var text = data.t[i].toFixed(2) + ' s: traced ' + human(data.traced[i]) +
        ' (highest since the previous sample ' + human(data.traced_max[i]) + ')';
      if (data.rss[i] !== null) { text += ', RSS ' + human(data.rss[i]); }
      readout.textContent = text;
    });
    svg.addEventListener('mouseleave', function () {
      cursor.setAttribute('visibility', 'hidden');
      readout.textContent = hint;
    });
  }
  document.querySelectorAll('figure.flame').forEach(setupFlame);
  document.querySelectorAll('figure.timeline').forEach(setupTimeline);
  document.documentElement.dataset.ready = '1';
})();
"""
