"""What is on the heap, by type, and how it changed since a mark.

census() walks the whole heap graph (so strings, ints and other objects the
collector does not track are counted too); Mark and growth_since() use the
collector's view only, which takes one pass in C over gc.get_objects() and no
gc.collect() unless asked, so they are cheap enough to call in a loop.
"""

from __future__ import annotations

import gc
from typing import NamedTuple

from heaplens import _args, _core
from heaplens._graph.describe import type_name
from heaplens._report.protocol import Report
from heaplens._report.units import format_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from heaplens._report.protocol import JSON


class CensusRow(NamedTuple):
    type: type
    count: int  # type: ignore[assignment]  # the field shadows tuple.count: public API
    size: int

    @property
    def name(self) -> str:
        return type_name(self.type, shortnames=False)


class Census(Report, list[CensusRow]):
    """Rows of (type, count, size), largest total size first.

    to_dict(): {"total_count", "total_size", "rows": [{"type", "count",
    "size"}]}, the type by its qualified name."""

    DEFAULT_LIMIT = 20

    @property
    def total_count(self) -> int:
        return sum(row.count for row in self)

    @property
    def total_size(self) -> int:
        return sum(row.size for row in self)

    def _lines(self, limit: int | None, width: int | None) -> list[str]:
        rows = self if limit is None else self[:limit]
        name_width = max([len("type")] + [min(len(row.name), 60) for row in rows])
        lines = [f"{'type':<{name_width}}  {'count':>10}  {'size':>10}  {'share':>6}"]
        total = self.total_size or 1
        for row in rows:
            name = row.name if len(row.name) <= 60 else row.name[:57] + "..."
            share = 100.0 * row.size / total
            lines.append(
                f"{name:<{name_width}}  {row.count:>10,}  {format_bytes(row.size, decimals=1):>10}  {share:>5.1f}%"
            )
        lines.append(
            f"{'total':<{name_width}}  {self.total_count:>10,}  {format_bytes(self.total_size, decimals=1):>10}"
        )
        return lines

    def to_dict(self) -> dict[str, JSON]:
        return {
            "total_count": self.total_count,
            "total_size": self.total_size,
            "rows": [{"type": row.name, "count": row.count, "size": row.size} for row in self],
        }


def census(*, untracked: bool = True) -> Census:
    """Count and size every live object by type (a Census, largest first).

    With untracked=True (the default) the heap graph is walked, so objects the
    collector does not track (str, int, float, bytes, atomic tuples and dicts)
    are counted too. untracked=False counts only gc.get_objects(), as objgraph
    does, which is faster.
    """
    if untracked:
        rows = _core.build_graph(untracked=True).census()
    else:
        rows = _core.census_of(None)  # the collector's objects, walked in place
    return Census(sorted((CensusRow(*row) for row in rows), key=lambda r: (-r.size, -r.count)))


class TypeGrowth(NamedTuple):
    type: type
    count: int  # type: ignore[assignment]  # the field shadows tuple.count: public API
    count_delta: int
    size: int
    size_delta: int

    @property
    def name(self) -> str:
        return type_name(self.type, shortnames=False)


class Mark:
    """Counts and sizes by type of the collector's objects, taken now.

    mark = heaplens.Mark(); ...; heaplens.growth_since(mark) tells which types
    grew in between. collect=True runs gc.collect() first, as objgraph does, so
    that garbage waiting for the collector is not counted.
    """

    def __init__(self, collect: bool = False) -> None:
        if collect:
            gc.collect()
        # Keyed by id(type): hashing a class runs its metaclass's __hash__.
        # The mark holds each type, so no id is reused while it lives.
        self.rows: dict[int, tuple[type, int, int]] = {
            id(row[0]): row for row in _core.census_of(None)
        }

    def growth(self, limit: int | None = 10, collect: bool = False) -> Growth:
        return growth_since(self, limit=limit, collect=collect)


def growth_since(mark: Mark, limit: int | None = 10, collect: bool = False) -> Growth:
    """Types whose count grew since `mark`, most new objects first (a Growth:
    a list of TypeGrowth, with the report protocol).

    Types that shrank or stayed level are left out; limit=None returns them all.
    """
    _args.instance("growth_since", "mark", mark, Mark, "a heaplens.Mark")
    limit = _args.count_or_none("growth_since", "limit", limit)
    now = Mark(collect=collect)
    grown: list[TypeGrowth] = []
    for type_id, (tp, count, size) in now.rows.items():
        _, old_count, old_size = mark.rows.get(type_id, (None, 0, 0))
        if count > old_count:
            grown.append(TypeGrowth(tp, count, count - old_count, size, size - old_size))
    grown.sort(key=lambda g: (-g.count_delta, -g.size_delta, g.name))
    return Growth(grown if limit is None else grown[:limit])


class Growth(Report, list[TypeGrowth]):
    """The TypeGrowth rows of growth_since(), most new objects first.

    to_dict(): {"rows": [{"type", "count", "count_delta", "size",
    "size_delta"}]}, the type by its qualified name."""

    DEFAULT_LIMIT = None

    def _lines(self, limit: int | None, width: int | None) -> list[str]:
        return format_growth(self if limit is None else self[:limit]).split("\n")

    def to_dict(self) -> dict[str, JSON]:
        return {
            "rows": [
                {
                    "type": row.name,
                    "count": row.count,
                    "count_delta": row.count_delta,
                    "size": row.size,
                    "size_delta": row.size_delta,
                }
                for row in self
            ]
        }


def format_growth(rows: Sequence[TypeGrowth]) -> str:
    """A table of TypeGrowth rows."""
    if not rows:
        return "no type grew"
    width = max(len("type"), *(min(len(row.name), 60) for row in rows))
    lines = [f"{'type':<{width}}  {'count':>10}  {'new':>9}  {'size':>10}  {'new size':>10}"]
    for row in rows:
        name = row.name if len(row.name) <= 60 else row.name[:57] + "..."
        lines.append(
            f"{name:<{width}}  {row.count:>10,}  {row.count_delta:>+9,}  "
            f"{format_bytes(row.size, decimals=1):>10}  {format_bytes(row.size_delta, decimals=1):>10}"
        )
    return "\n".join(lines)
