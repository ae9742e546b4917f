"""The report of a leak hunt: LeakReport (format, show, to_dict, save_html),
its groups of leaked objects (LeakGroup), their holders (Holder) and, with
native=True, the native memory the calls left alive (NativeLeak). It keeps
names, numbers and text only: no reference to any object.
"""

from __future__ import annotations

import sys
from typing import List, NamedTuple, Optional

from heaplens import _core
from heaplens._report.lines import cut, relative_path, wrap
from heaplens._report.protocol import Report
from heaplens._report.units import format_bytes

# NumPy reports the data of its arrays with PyTraceMalloc_Track in this domain.
NUMPY_DOMAIN = 389047

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


class NativeLeak(NamedTuple):
    """Native memory that the measured calls allocated at one Python line (in
    one tracemalloc domain) and left alive, growing with the calls, beyond
    what the size of a leaked object already counts (find_leaks(native=True))."""

    site: Optional[str]  # 'app.py:12', the innermost frame; None without Python frames
    # [(filename, lineno, source line or None)], oldest call first
    traceback: list[tuple[str, int, Optional[str]]]
    domain: int  # heaplens.NATIVE_DOMAIN (malloc, mmap), or an extension's (NumPy's 389047)
    size: int  # bytes the measured calls left alive here
    blocks: int  # blocks the measured calls left alive here
    per_call: list[int]  # bytes each measured call added, in call order (negative: freed)
    bytes_per_call: float  # size / calls
    blocks_per_call: float  # blocks / calls
    held_by_objects: int  # bytes left alive here that leaked objects' sizes count: not in size
    excluded: Optional[str]  # why it is not counted as a leak (under a threshold), or None


def domain_name(domain: int) -> str:
    """How a report names a tracemalloc domain of native memory."""
    if domain == _core.NATIVE_DOMAIN:
        return "malloc/mmap"
    if domain == NUMPY_DOMAIN:
        return f"NumPy arrays, domain {domain}"
    return f"domain {domain}"


def native_sentence(leak: NativeLeak, calls: int) -> str:
    """The report's first line when this native leak is the biggest."""
    blocks = leak.blocks_per_call
    blocks_text = _number(blocks)
    after = f" ({format_bytes(leak.size, decimals=1)} after {calls} calls)" if calls > 1 else ""
    return (
        f"{leak.site or 'an unknown line (no Python frames)'}: "
        f"{format_bytes(round(leak.bytes_per_call), decimals=1)} of native memory "
        f"({domain_name(leak.domain)}) per call, {blocks_text} "
        f"{'block' if blocks == 1 else 'blocks'} per call, allocated here and still "
        f"alive{after}"
    )


def _number(value: float) -> str:
    """1, 2.5, 1,024: a per-call figure, with a decimal only when it has one."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


class LeakReport(Report):
    """What a leak hunt found: groups of leaked objects and what holds them.

    report.clean is True when nothing leaked. report.headline is one line that
    names the holder that leaks the most (or, with native=True, the line whose
    native memory leaks the most, when that is more); show() prints the whole
    report, to_dict() gives it as data and save_html(path) writes it as one page.
    report.native lists the native memory the calls left alive (NativeLeak
    rows) when the hunt checked it (report.native_checked).
    """

    def __init__(self, title: str, calls: int, warmup: int) -> None:
        self.title = title
        self.calls = calls
        self.warmup = warmup
        self.groups: List[LeakGroup] = []
        self.holders: List[Holder] = []
        self.notes: List[str] = []
        self.native_checked = False
        self.native: List[NativeLeak] = []
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
    def native_leaks(self) -> list[NativeLeak]:
        """The rows of native memory that count as leaks (not under a threshold)."""
        return [leak for leak in self.native if not leak.excluded]

    @property
    def clean(self) -> bool:
        return self.finished and not self.leaks and not self.native_leaks

    @property
    def headline(self) -> str:
        if not self.finished:
            return "the leak check has not finished yet (read the report after the block)"
        if self.clean:
            also = " (native memory included)" if self.native_checked else ""
            return f"no leaks: {self._what_ran()} left nothing alive that keeps accumulating{also}"
        counted = [holder for holder in self.holders if not holder.excluded]
        native = self.native_leaks
        if native and (not counted or native[0].size > counted[0].retained):
            return native_sentence(native[0], self.calls)
        if counted:
            return counted[0].sentence
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
        if self.native_leaks:
            native_size = sum(leak.size for leak in self.native_leaks)
            places = len(self.native_leaks)
            add(
                f"{format_bytes(native_size, decimals=1)} of native memory left alive at "
                f"{places} {'line' if places == 1 else 'lines'}, not counted in a leaked "
                "object's size"
            )
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
        if self.native:
            lines.append("")
            lines.append(
                "Native memory the calls left alive, not counted in a leaked object's size, "
                "most first:"
            )
        for rank, leak in enumerate(self.native[:limit], 1):
            steps = " ".join(format_bytes(n, decimals=1) for n in leak.per_call)
            blocks = leak.blocks_per_call
            add(
                f"{rank:>3}. {format_bytes(round(leak.bytes_per_call), decimals=1)} per call "
                f"({_number(blocks)} {'block' if blocks == 1 else 'blocks'} per call), {format_bytes(leak.size, decimals=1)} in all"
                f"{f' (per call: {steps})' if self.calls > 1 else ''}; "
                f"{domain_name(leak.domain)}",
                "     ",
            )
            if leak.excluded:
                add(f"     not counted: {leak.excluded}", "       ")
            if leak.traceback:
                lines.append("     allocated at (most recent call last):")
                for filename, lineno, source in leak.traceback[-6:]:
                    add(f"       {relative_path(filename)}:{lineno}", "         ")
                    if source:
                        lines.append(cut(f"         {source}", width))
            else:
                lines.append("     allocated at: unknown (no Python frames)")
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
                "native_size": sum(leak.size for leak in self.native_leaks),
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
            "native_checked": self.native_checked,
            "native": [
                {
                    "site": leak.site,
                    "traceback": [list(frame) for frame in leak.traceback],
                    "domain": leak.domain,
                    "domain_name": domain_name(leak.domain),
                    "size": leak.size,
                    "blocks": leak.blocks,
                    "per_call": list(leak.per_call),
                    "bytes_per_call": leak.bytes_per_call,
                    "blocks_per_call": leak.blocks_per_call,
                    "held_by_objects": leak.held_by_objects,
                    "excluded": leak.excluded,
                }
                for leak in self.native
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
