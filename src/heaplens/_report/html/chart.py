"""Memory over time on the run page: a static SVG chart of the traced heap
(the band of each interval's maxima and the line of its samples), the RSS,
the peak marked, axes with round ticks. Long timelines are thinned to
_MAX_POINTS, keeping each bucket's maxima. No script is needed to read it.
"""

from __future__ import annotations

import math

from heaplens._report.html import page
from heaplens._report.units import format_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    from heaplens._report.data import Point, Timeline

    # Ticks of an axis: (value, label).
    Ticks = list[tuple[float, str]]

_MAX_POINTS = 1500  # timeline points drawn; longer timelines keep each bucket's maxima
# The chart's geometry, in SVG user units.
_CHART_W, _CHART_H = 960, 300
_PLOT_LEFT, _PLOT_RIGHT, _PLOT_TOP, _PLOT_BOTTOM = 76, 944, 34, 262


def render_timeline(timeline: Timeline | None) -> str:
    """The section with the chart of traced bytes and RSS over time."""
    lead = (
        "The memory heaplens traced (allocated by Python and not yet freed) over the run, "
        "and the resident set size (RSS) of the whole process, which also counts the "
        "interpreter, C libraries and freed memory not yet returned to the system."
    )
    points = (timeline.get("points") if timeline else None) or []
    if not timeline or not points:
        missing = (
            '<p class="missing">This capture has no timeline: '
            "memory over time was not recorded.</p>"
        )
        return page.section("timeline", "Memory over time", lead, missing)
    points = _thin(points, _MAX_POINTS)
    peak_t = timeline.get("peak_t")
    return page.section("timeline", "Memory over time", lead, _render_chart(points, peak_t))


def _thin(points: list[Point], limit: int) -> list[Point]:
    """At most about `limit` points: each bucket of neighbours becomes one
    point with the bucket's maxima (a peak never disappears)."""
    if len(points) <= limit:
        return points
    size = math.ceil(len(points) / limit)
    thinned: list[Point] = []
    for start in range(0, len(points), size):
        bucket = points[start : start + size]
        rss = [r for p in bucket if (r := p.get("rss")) is not None]
        thinned.append(
            {
                "t": bucket[0]["t"],
                "traced": max(p["traced"] for p in bucket),
                "traced_max": max(p["traced_max"] for p in bucket),
                "rss": max(rss) if rss else None,
            }
        )
    return thinned


def _render_chart(points: list[Point], peak_t: float | None) -> str:
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
            page.script_json(data),
            "</script></figure>",
        ]
    )


class _Scale:
    """Maps (seconds, bytes) to the chart's user units."""

    def __init__(self, t_end: float, y_max: float) -> None:
        self.t_end = t_end
        self.y_max = y_max or 1

    def x(self, t: float) -> float:
        """The x of time t (seconds)."""
        return _PLOT_LEFT + (_PLOT_RIGHT - _PLOT_LEFT) * t / self.t_end

    def y(self, size: float) -> float:
        """The y of a size in bytes."""
        return _PLOT_BOTTOM - (_PLOT_BOTTOM - _PLOT_TOP) * size / self.y_max


def _chart_axes(scale: _Scale, y_ticks: Ticks, t_ticks: Ticks) -> str:
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


def _chart_band(scale: _Scale, points: list[Point]) -> str:
    """The faint band between the traced size at each sample and the highest
    traced size since the previous sample."""
    upper = [f"{scale.x(p['t']):.1f},{scale.y(p['traced_max']):.1f}" for p in points]
    lower = [f"{scale.x(p['t']):.1f},{scale.y(p['traced']):.1f}" for p in reversed(points)]
    return f'<polygon class="band" points="{" ".join(upper + lower)}"/>'


def _line_path(scale: _Scale, points: list[Point], key: Literal["traced", "rss"]) -> str:
    """An SVG path through points[key], broken where the value is unknown."""
    parts: list[str] = []
    pen_down = False
    for p in points:
        value = p.get(key)
        if value is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{scale.x(p['t']):.1f},{scale.y(value):.1f}")
        pen_down = True
    return "".join(parts)


def _chart_peak(scale: _Scale, points: list[Point], peak_t: float | None) -> str:
    """The peak: a dashed line at its time, a dot at its height and a label."""
    highest = max(points, key=lambda p: p["traced_max"])
    t = highest["t"] if peak_t is None else peak_t
    x, y = scale.x(t), scale.y(highest["traced_max"])
    anchor, dx = ("end", -8) if x > (_PLOT_LEFT + _PLOT_RIGHT) / 2 else ("start", 8)
    label = f"peak {format_bytes(highest['traced_max'], decimals=1)} at {seconds(t)}"
    return (
        f'<g class="peak"><line x1="{x:.1f}" x2="{x:.1f}" y1="{_PLOT_TOP - 6}" '
        f'y2="{_PLOT_BOTTOM}"/>'
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5"/>'
        f'<text x="{x + dx:.1f}" y="{_PLOT_TOP - 12}" text-anchor="{anchor}">{label}</text></g>'
    )


def _nice_step(span: float, count: int) -> float:
    """A step of 1, 2, 2.5 or 5 times a power of ten that cuts `span` into
    at most about `count` parts."""
    raw = span / count
    magnitude: float = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if multiple * magnitude >= raw:
            return multiple * magnitude
    return 10 * magnitude


def _ticks(end: float, unit: int, name: str, count: int) -> tuple[Ticks, float]:
    """([(value, label)], top): ticks from 0 past `end`, labelled in `unit`s."""
    step = _nice_step(end / unit, count)
    n_steps = max(1, math.ceil(end / unit / step - 1e-9))
    ticks = [(i * step * unit, f"{_trim(i * step)} {name}") for i in range(n_steps + 1)]
    return ticks, n_steps * step * unit


def _trim(value: float) -> str:
    """2.0 -> '2', 2.5 -> '2.5', 0.30000000000000004 -> '0.3'."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _byte_ticks(top: float) -> tuple[Ticks, float]:
    """The y ticks of a chart whose highest value is `top` bytes, in the
    largest binary unit (KiB, MiB, GiB) that `top` reaches."""
    top = max(top, 1)
    for unit, name in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB"), (1, "B")):
        if top >= unit:
            return _ticks(top, unit, name, 5)
    return _ticks(top, 1, "B", 5)  # pragma: no cover - top >= 1


def _time_ticks(end: float) -> tuple[Ticks, float]:
    """The x ticks up to `end` seconds: in seconds, or minutes past 3 minutes."""
    if end > 180:
        return _ticks(end, 60, "min", 8)
    return _ticks(end, 1, "s", 8)


def seconds(value: float | None) -> str:
    """1.5 -> '1.50 s', 125.2 -> '125.2 s'."""
    if value is None:
        return "?"
    return f"{value:.2f} s" if value < 100 else f"{value:.1f} s"
