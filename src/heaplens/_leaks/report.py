"""The report of a leak hunt: LeakReport (format, show, to_dict, save_html),
its groups of leaked objects (LeakGroup) and their holders (Holder). It keeps
names, numbers and text only: no reference to any object.
"""

from __future__ import annotations

import sys
from typing import List, NamedTuple, Optional

from heaplens._report.lines import cut, relative_path, wrap
from heaplens._report.protocol import Report
from heaplens._report.units import format_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Sequence
    from typing import Literal, TypeVar

    from heaplens._report.protocol import JSON

    # What holds leaked objects: see Holder.kind.
    HolderKind = Literal["object", "external", "uncollectable", "frame"]
    _PathT = TypeVar("_PathT", bound="str | os.PathLike[str]")


class Holder(NamedTuple):
    """What keeps leaked objects alive."""

    holder: str  # 'module global _cache (list)'
    where: Optional[str]  # the file of the module or frame it hangs from
    kind: HolderKind  # 'object', 'external' (held from C), 'uncollectable' (gc.garbage), 'frame'
    objects: int  # leaked objects it holds, directly or through other leaked objects
    per_call: float
    retained: int  # bytes that would be freed with the leaked objects it holds
    types: list[tuple[str, int]]  # [(type name, count)], most first
    sentence: str  # the report's first line when this holder leaks the most
    note: Optional[str]  # e.g. 'a bounded cache: at most 128 entries'
    excluded: Optional[str]  # why it is not counted as the program's leak, or None


class LeakGroup(NamedTuple):
    """Leaked objects of one type allocated at one site."""

    type: str
    module: Optional[str]
    count: int  # type: ignore[assignment]  # the field shadows tuple.count: public API
    per_call: list[int]  # survivors each measured call created, in call order
    size: int  # their own sys.getsizeof bytes
    retained: int  # bytes freed if they all went away
    site: Optional[str]  # 'app.py:12', the innermost frame; None when not traced
    # [(filename, lineno, source line or None)], oldest call first
    traceback: list[tuple[str, int, Optional[str]]]
    # [(description, label of the reference to the next step)], root first
    chain: list[tuple[str, Optional[str]]]
    holder: Optional[int]  # index into LeakReport.holders
    holder_step: Optional[int]  # index into chain of the holder
    example: str  # the object the chain leads to


class LeakReport(Report):
    """What a leak hunt found: groups of leaked objects and what holds them.

    report.clean is True when nothing leaked. report.headline is one line that
    names the holder that leaks the most; show() prints the whole report,
    to_dict() gives it as data and save_html(path) writes it as one page.
    """

    def __init__(self, title: str, calls: int, warmup: int) -> None:
        self.title = title
        self.calls = calls
        self.warmup = warmup
        self.groups: List[LeakGroup] = []
        self.holders: List[Holder] = []
        self.notes: List[str] = []
        self.finished = False

    @property
    def leaks(self) -> list[LeakGroup]:
        """The groups that are the program's leaks (not a standard library cache)."""
        return [
            group
            for group in self.groups
            if group.holder is None or not self.holders[group.holder].excluded
        ]

    @property
    def clean(self) -> bool:
        return self.finished and not self.leaks

    @property
    def headline(self) -> str:
        if not self.finished:
            return "the leak check has not finished yet (read the report after the block)"
        if self.clean:
            return f"no leaks: {self._what_ran()} left nothing alive that keeps accumulating"
        for holder in self.holders:
            if not holder.excluded:
                return holder.sentence
        return self.holders[0].sentence

    def _what_ran(self) -> str:
        if self.calls == 1:
            return self.title
        return f"{self.title} ({self.calls} calls after {self.warmup} warm-up)"

    DEFAULT_LIMIT = 10
    DEFAULT_WIDTH = 100

    def _lines(self, limit: int | None, width: int | None) -> list[str]:
        """The report as text for a terminal, `width` columns wide (None: 100):
        the headline first, then holders and groups (the first `limit` of
        each; None: all)."""
        width = 100 if width is None else width

        def add(text: str, indent: str = "") -> None:
            lines.extend(wrap(text, width, indent))

        lines: list[str] = []
        add(self.headline, "    ")
        if not self.finished:
            return lines[:1]
        add(f"{self._what_ran()}; Python {sys.version.split()[0]}")
        if self.groups:
            total = sum(g.count for g in self.leaks)
            size = sum(g.size for g in self.leaks)
            add(f"{total:,} leaked objects, {format_bytes(size, decimals=1)} of their own")
        if self.holders:
            lines.append("")
            lines.append("What holds them, most memory first:")
        for rank, holder in enumerate(self.holders[:limit], 1):
            kinds = ", ".join(f"{count:,} {name}" for name, count in holder.types[:4])
            where = f" in {holder.where}" if holder.where else ""
            add(
                f"{rank:>3}. {holder.holder}{where}: {kinds}; "
                f"{format_bytes(holder.retained, decimals=1)} retained",
                "     ",
            )
            if holder.note:
                add(f"     {holder.note}", "     ")
        if self.groups:
            lines.append("")
            lines.append("Leaked objects by type and allocation site:")
        for rank, group in enumerate(self.groups[:limit], 1):
            counts = " ".join(str(n) for n in group.per_call)
            add(
                f"{rank:>3}. {group.count:,} {group.type}"
                f"{f' (per call: {counts})' if self.calls > 1 else ''}, "
                f"{format_bytes(group.size, decimals=1)}, {format_bytes(group.retained, decimals=1)} retained",
                "     ",
            )
            if group.traceback:
                lines.append("     allocated at (most recent call last):")
                for filename, lineno, source in group.traceback[-6:]:
                    add(f"       {relative_path(filename)}:{lineno}", "         ")
                    if source:
                        lines.append(cut(f"         {source}", width))
            else:
                lines.append("     allocated at: unknown (not traced)")
            add("     kept alive by: " + chain_text(group.chain, group.holder_step), "       ")
        for note in self.notes:
            add(f"note: {note}", "      ")
        return lines

    def __repr__(self) -> str:
        return f"<heaplens.LeakReport {self.headline!r}>"

    def to_dict(self) -> dict[str, JSON]:
        """The report as plain data (JSON-ready): see docs/leak-hunt.md."""
        from heaplens import __version__

        leaks = self.leaks
        return {
            "format": "heaplens-leak-report",
            "version": 1,
            "heaplens": __version__,
            "python": sys.version.split()[0],
            "title": self.title,
            "calls": self.calls,
            "warmup": self.warmup,
            "clean": self.clean,
            "headline": self.headline,
            "summary": {
                "objects": sum(g.count for g in leaks),
                "size": sum(g.size for g in leaks),
                "retained": sum(h.retained for h in self.holders if not h.excluded),
            },
            "holders": [
                {
                    "holder": h.holder,
                    "where": h.where,
                    "kind": h.kind,
                    "objects": h.objects,
                    "per_call": h.per_call,
                    "retained": h.retained,
                    "types": [list(row) for row in h.types],
                    "sentence": h.sentence,
                    "note": h.note,
                }
                for h in self.holders
            ],
            "groups": [
                {
                    "type": g.type,
                    "module": g.module,
                    "count": g.count,
                    "per_call": list(g.per_call),
                    "size": g.size,
                    "retained": g.retained,
                    "site": g.site,
                    "traceback": [list(frame) for frame in g.traceback],
                    "chain": [list(step) for step in g.chain],
                    "holder": g.holder,
                    "holder_step": g.holder_step,
                    "example": g.example,
                }
                for g in self.groups
            ],
            "notes": list(self.notes),
        }

    def save_html(self, path: _PathT) -> _PathT:
        """Write the report as one self-contained HTML page (no network)."""
        from heaplens._report.html.leaks import render_leak_report

        page = render_leak_report(self.to_dict())
        with open(path, "w", encoding="utf-8") as out:
            out.write(page)
        return path


def chain_text(steps: Sequence[tuple[str, str | None]], holder_step: int | None) -> str:
    parts = []
    for index, (description, label) in enumerate(steps):
        if index == holder_step:
            description += " (the holder)"
        parts.append(description if not label else f"{description} {label}")
    return " -> ".join(parts)
