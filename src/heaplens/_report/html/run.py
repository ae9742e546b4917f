"""The self-contained HTML pages of `heaplens report --html` and `heaplens diff --html`.

render_run_report() and render_diff_report() take the dicts that heaplens._report.data
builds (docs/report-data.md) and return one HTML document each. The page of a run
shows memory over time (chart.py: a static SVG chart), icicle flame graphs of the
live heap at the peak and at exit (flame.py), the top allocation sites and what was
still alive at exit; the page of a diff shows the two totals, a flame graph of the
growth and the changes by stack. The invariants of the leak report page (leaks.py)
hold here too, and its look and text helpers are shared (page.py, base.css):

- Nothing from the data is ever markup: every string goes through page.text() or
  page.plain() (escaped, invisible characters spelled out, cut when too long), numbers
  are formatted here, and the one JSON block in a <script> holds numbers only and
  has `<`, `>` and `&` escaped anyway.
- The page reaches no network: a Content-Security-Policy forbids every fetch, and
  the CSS, the script and the charts are inline. The document is pure ASCII.
- Everything but the hover readout and the zoom works without JavaScript (run.js).
"""

from __future__ import annotations

from heaplens._report.html import chart, flame, page

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from heaplens._report.data import Change, Frame, Site, Snap, Stack, Timeline
    from heaplens._report.protocol import JSON

_ROWS_SHOWN = 15  # rows of a table shown at first; the others fold away
_MAX_ROWS = 100  # rows of a table in all; the rest is summed up in one line


_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def render_run_report(report: dict[str, JSON]) -> str:
    """The complete HTML document (a str) for the run report dict `report`
    (see docs/report-data.md): header, memory over time, flame graphs at the
    peak and at exit, top allocation sites and what was still alive at exit."""
    peak: Snap | None = report.get("peak")
    at_exit: Snap | None = report.get("exit")
    timeline: Timeline | None = report.get("timeline")
    palette = flame.Palette()
    sections = [
        ("timeline", "Memory over time", chart.render_timeline(timeline)),
        (
            "flame-peak",
            "Live memory at the peak",
            flame.render_snapshot_flame(peak, "peak", palette),
        ),
        (
            "flame-exit",
            "Live memory at exit",
            flame.render_snapshot_flame(at_exit, "exit", palette),
        ),
        ("sites", "Top allocation sites", _render_sites(report.get("top_sites") or [], peak)),
        ("leaks", "Still alive at exit", _render_leaks(report.get("leaks") or [], at_exit)),
    ]
    header = _render_run_header(report, peak, at_exit, timeline)
    return _document(report.get("title") or "heaplens run", "memory report", header, sections)


def render_diff_report(diff: dict[str, JSON]) -> str:
    """The complete HTML document (a str) for the diff report dict `diff`
    (see docs/report-data.md): the two totals, a flame graph of what grew and
    the changes by stack."""
    stacks: list[Change] = diff.get("stacks") or []
    sections = [
        ("flame-growth", "Where memory grew", flame.render_growth_flame(diff, flame.Palette())),
        ("changes", "Changes by stack", _render_changes(stacks, diff)),
    ]
    header = _render_diff_header(diff)
    return _document(diff.get("title") or "heaplens diff", "comparison", header, sections)


# -- The document -------------------------------------------------------------


def _document(title: str, kind: str, header: str, sections: list[tuple[str, str, str]]) -> str:
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
            f"<title>{page.plain(title)} - heaplens {kind}</title>",
            f"<style>{page.asset('base.css')}{page.asset('run.css')}</style>",
            "</head>",
            "<body>",
            *body,
            f"<script>{page.asset('run.js')}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
    return document.encode("ascii", "xmlcharrefreplace").decode("ascii")


# -- Header -------------------------------------------------------------------


def _render_run_header(
    report: dict[str, JSON], peak: Snap | None, at_exit: Snap | None, timeline: Timeline | None
) -> str:
    """The title, the exit status, the numbers at a glance, the facts about the
    run and the notes."""
    status = report.get("exit_status") or "unknown"
    ok = status == "exit status 0"
    peak_hint = ""
    if peak and peak.get("time_s") is not None:
        peak_hint = f"at {chart.seconds(peak['time_s'])}, "
    stats = [
        (
            "Peak traced memory",
            page.size(_peak_bytes(peak, timeline)) if peak or timeline else "&ndash;",
            peak_hint
            + (f"{page.count(peak['total_blocks'])} blocks" if peak else "highest traced")
            + _outside_hint(peak),
        ),
        (
            "Still alive at exit",
            page.size(at_exit["total_bytes"]) if at_exit else "&ndash;",
            (f"{page.count(at_exit['total_blocks'])} blocks" if at_exit else "no exit snapshot")
            + _outside_hint(at_exit),
        ),
        ("Peak RSS", page.size(_peak_rss(timeline)), "resident memory of the whole process"),
    ]
    status_class = "ok" if ok else "bad"
    return "\n".join(
        [
            '<header class="top"><div class="page">',
            '<p class="brand">heaplens &middot; memory report</p>',
            f"<h1>{page.text(report.get('title') or 'heaplens run', 400)}</h1>",
            f'<p class="exit {status_class}"><span class="label">Program ended:</span> '
            f"<strong>{page.text(status, 400)}</strong></p>",
            _render_notes(report.get("notes") or []),
            '<div class="glance">',
            _render_stats(stats),
            _render_meta(report.get("meta") or []),
            "</div>",
            "</div></header>",
        ]
    )


def _render_diff_header(diff: dict[str, JSON]) -> str:
    """The title, the two totals and the change, and the notes."""
    old, new = diff.get("old") or {}, diff.get("new") or {}
    old_bytes, new_bytes = old.get("total_bytes", 0), new.get("total_bytes", 0)
    change = new_bytes - old_bytes
    relative = ("+" if change > 0 else "") + page.percent(change, old_bytes)
    blocks = page.signed_count(new.get("total_blocks", 0) - old.get("total_blocks", 0))
    stats = [
        ("Before", page.size(old_bytes), page.text(old.get("label") or "old", 120)),
        ("After", page.size(new_bytes), page.text(new.get("label") or "new", 120)),
        (
            "Change",
            page.signed_size(change),
            (f"{relative}, " if old_bytes else "") + f"{blocks} blocks",
        ),
    ]
    return "\n".join(
        [
            '<header class="top"><div class="page">',
            '<p class="brand">heaplens &middot; comparison of two captures</p>',
            f"<h1>{page.text(diff.get('title') or 'heaplens diff', 400)}</h1>",
            '<p class="ran">The live memory of the second capture compared with the first, '
            "stack by stack.</p>",
            _render_notes(diff.get("notes") or []),
            _render_stats(stats),
            "</div></header>",
        ]
    )


def _render_stats(stats: list[tuple[str, str, str]]) -> str:
    """The numbers at a glance: (label, value html, hint html) cards."""
    cells = "".join(
        f'<div class="stat"><dt>{label}</dt><dd>{value}</dd><dd class="hint">{hint}</dd></div>'
        for label, value, hint in stats
    )
    return f'<dl class="stats">{cells}</dl>'


def _render_meta(meta: list[list[str]]) -> str:
    """The facts about the run, one row per [label, value] pair."""
    rows = "".join(
        f"<dt>{page.text(str(label), 80)}</dt><dd>{page.text(str(value), 600)}</dd>"
        for label, value in meta
    )
    return f'<dl class="meta">{rows}</dl>' if rows else ""


def _render_notes(notes: list[str]) -> str:
    """The notes, shown where they cannot be missed, or '' when there are none."""
    if not notes:
        return ""
    items = "".join(f"<li>{page.text(str(note), 1000)}</li>" for note in notes)
    return f'<div class="callout" role="note"><strong>Note</strong><ul>{items}</ul></div>'


def _outside_hint(snap: Snap | None) -> str:
    """', native 12.3 MiB': the part outside Python's allocators, or ''."""
    outside = snap.get("outside_bytes", 0) if snap else 0
    return f", native {page.size(outside)}" if outside else ""


def _peak_bytes(peak: Snap | None, timeline: Timeline | None) -> int:
    """The highest traced size: the peak snapshot's total, else the timeline's maximum."""
    if peak:
        return peak.get("total_bytes", 0)
    # Called with a timeline when there is no peak (see _render_run_header).
    return max((p["traced_max"] for p in timeline["points"]), default=0)  # type: ignore[index]


def _peak_rss(timeline: Timeline | None) -> int | None:
    """The highest RSS of the timeline, or None when it is unknown."""
    if not timeline:
        return None
    return max((r for p in timeline["points"] if (r := p.get("rss")) is not None), default=None)


# -- Tables -------------------------------------------------------------------


def _table(head: list[tuple[str, bool]], rows: list[str], last_row: str = "") -> str:
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


def _share_cell(size: float, whole: float) -> str:
    """A cell with size's share of `whole` as a percentage and a small bar."""
    width = min(100.0 * size / whole, 100.0) if whole else 0.0
    return (
        f'<td class="num share"><span class="meter"><i style="width:{width:.1f}%"></i></span>'
        f'<span class="pct">{page.percent(size, whole)}</span></td>'
    )


def _stack_cell(frames: Sequence[Frame]) -> str:
    """The cell naming where a stack allocated: its frames[0]; the callers,
    outermost first as Python prints a traceback, fold away under it."""
    if not frames:
        return '<td><span class="loc">unknown</span></td>'
    if len(frames) == 1:
        return f"<td>{page.site_cell(frames[0])}</td>"
    items: list[str] = []
    for i, frame in enumerate(reversed(frames)):
        function = frame.get("function")
        name = f" in <code>{page.text(function, 120)}</code>" if function else ""
        tag = ' <span class="badge alloc">allocated here</span>' if i == len(frames) - 1 else ""
        items.append(f"<li><code>{page.text(page.where(frame))}</code>{name}{tag}</li>")
    callers = len(frames) - 1
    return (
        f"<td><details><summary>{page.site_cell(frames[0])} "
        f'<span class="callers">+{callers} {"caller" if callers == 1 else "callers"}</span>'
        "</summary>"
        f'<ol class="stack">{"".join(items)}</ol></details></td>'
    )


def _render_sites(sites: list[Site], peak: Snap | None) -> str:
    """The section with the table of the lines that allocated the most."""
    lead = (
        "The lines that allocated the most memory alive at the peak (counting every stack "
        "through them), and how much of it was still alive when the program ended."
    )
    if not sites:
        empty = '<p class="missing">No allocation was traced.</p>'
        return page.section("sites", "Top allocation sites", lead, empty)
    whole = (peak.get("total_bytes") if peak else None) or sum(
        site.get("peak_bytes", 0) for site in sites
    )
    rows = [
        f'<tr><td class="num">{page.size(site.get("peak_bytes", 0))}</td>'
        f"{_share_cell(site.get('peak_bytes', 0), whole)}"
        f'<td class="num">{page.count(site.get("peak_blocks", 0))}</td>'
        f'<td class="num">{page.size(site.get("exit_bytes", 0))}</td>'
        f'<td class="num">{page.count(site.get("exit_blocks", 0))}</td>'
        f"<td>{page.site_cell(site)}</td></tr>"
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
    return page.section("sites", "Top allocation sites", lead, _table(head, rows, more))


def _more_row(n_more: int, what: str, n_columns: int) -> str:
    """A last row saying how many rows were left out, or ''."""
    if n_more <= 0:
        return ""
    return f'<tr class="more"><td colspan="{n_columns}">{n_more:,} more {what} not listed</td></tr>'


def _render_leaks(leaks: list[Stack], at_exit: Snap | None) -> str:
    """The section with the table of the stacks still alive at exit."""
    lead = (
        "Memory allocated during the run and never freed before the program ended, by the "
        "stack that allocated it. Module globals and caches are expected here; a large or "
        "surprising entry is where to look for a leak."
    )
    if not leaks:
        text = "Nothing traced was still alive at exit." if at_exit else "No exit snapshot."
        return page.section("leaks", "Still alive at exit", lead, f'<p class="missing">{text}</p>')
    whole = at_exit.get("total_bytes", 0) if at_exit else 0
    whole = whole or max(leak.get("bytes", 0) for leak in leaks)
    rows = [
        f'<tr><td class="num">{page.size(leak.get("bytes", 0))}</td>'
        f"{_share_cell(leak.get('bytes', 0), whole)}"
        f'<td class="num">{page.count(leak.get("blocks", 0))}</td>'
        f"{_stack_cell(leak.get('frames') or [])}</tr>"
        for leak in leaks[:_MAX_ROWS]
    ]
    head = [("Size", True), ("% of exit", True), ("Blocks", True), ("Allocated at", False)]
    more = _more_row(len(leaks) - _MAX_ROWS, "stacks", 4)
    return page.section("leaks", "Still alive at exit", lead, _table(head, rows, more))


def _render_changes(stacks: list[Change], diff: dict[str, JSON]) -> str:
    """The section with the table of the stacks whose memory changed."""
    lead = (
        "Every stack whose live memory changed, the largest change first: growth in red, "
        "shrinking in green."
    )
    if not stacks:
        empty = '<p class="missing">No stack changed.</p>'
        return page.section("changes", "Changes by stack", lead, empty)
    rows: list[str] = []
    for stack in stacks[:_MAX_ROWS]:
        change = stack.get("diff_bytes", 0)
        css = "grew" if change > 0 else "shrank" if change < 0 else ""
        rows.append(
            f'<tr><td class="num {css}">{page.signed_size(change)}</td>'
            f'<td class="num">{page.size(stack.get("old_bytes", 0))}</td>'
            f'<td class="num">{page.size(stack.get("new_bytes", 0))}</td>'
            f'<td class="num">{page.signed_count(stack.get("diff_blocks", 0))}</td>'
            f"{_stack_cell(stack.get('frames') or [])}</tr>"
        )
    head = [("Change", True), ("Before", True), ("After", True), ("Blocks", True)]
    head.append(("Allocated at", False))
    return page.section(
        "changes", "Changes by stack", lead, _table(head, rows, _rest_row(stacks, diff))
    )


def _rest_row(stacks: list[Change], diff: dict[str, JSON]) -> str:
    """The last row of the changes: the stacks not listed and their net change."""
    listed_out = stacks[_MAX_ROWS:]
    n_more = len(listed_out) + diff.get("other_stacks", 0)
    if n_more <= 0:
        return ""
    change = sum(s.get("diff_bytes", 0) for s in listed_out) + diff.get("other_diff_bytes", 0)
    return (
        f'<tr class="more"><td class="num">{page.signed_size(change)}</td>'
        f'<td colspan="4">{n_more:,} more stacks not listed, changing this much together</td></tr>'
    )
