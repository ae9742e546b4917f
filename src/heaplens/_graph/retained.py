"""Retained size: how much memory would go away with an object.

The retained size of an object is the sum of the sizes of the objects it
dominates in the heap graph, itself included: those that every chain of
references from a root (a module, an object held from outside the graph, an
executing frame) passes through it to reach. They are freed with it.

What the instances of a type retain together is the size of the objects that
some instance dominates, each counted once: the sum of what the instances
that no other instance of the type dominates retain. It is a lower bound on
what would be freed if every instance went away at once: an object that two
instances hold, and nothing else does, is dominated by neither.
"""

from __future__ import annotations

import types
from typing import NamedTuple, Optional, cast

from heaplens import _args
from heaplens._graph.describe import allocation_site, type_name
from heaplens._report.protocol import Report
from heaplens._report.units import format_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from heaplens._graph.heap import Chain, HeapGraph
    from heaplens._report.protocol import JSON


class Retainer(NamedTuple):
    """One object that retains much, and why it is alive."""

    description: str
    type: type
    size: int  # its own sys.getsizeof size
    retained: int  # bytes freed with it
    chain: Chain  # a heaplens.Chain from a root
    site: Optional[str]  # where the tracer saw it allocated, when it was on


class TypeRetainer(NamedTuple):
    """One type whose instances, together, retain much."""

    type: type
    instances: int  # its instances reachable from a root
    retained: int  # bytes of the objects some instance dominates, each counted once
    top_instances: int  # the instances that no other instance of the type dominates


class RetainerReport(Report, list[Retainer]):
    """Retainers, largest retained size first; `types` lists the types whose
    instances retain the most together (TypeRetainer rows, largest first).

    to_dict(): {"retainers": [{"description", "type", "size", "retained",
    "site", "chain"}], "types": [{"type", "instances", "top_instances",
    "retained"}]}, types by qualified name, chains as Chain.to_dict()."""

    DEFAULT_LIMIT = None

    def __init__(self, rows: Iterable[Retainer] = (), types: Iterable[TypeRetainer] = ()) -> None:
        super().__init__(rows)
        self.types = list(types)

    def _lines(self, limit: int | None, width: int | None) -> list[str]:
        lines = [] if self else ["nothing retains memory (no object is reachable from a root)"]
        for rank, row in enumerate(self if limit is None else self[:limit], 1):
            head = f"{rank:>3}. {format_bytes(row.retained, decimals=1):>10} retained by {row.description}"
            lines.append(head + (f"  (allocated at {row.site})" if row.site else ""))
            lines.append(f"     why: {row.chain}".replace("\n", "\n          "))
        if self.types:
            lines.append("")
            lines.append("types that retain the most:")
        for rank, type_row in enumerate(self.types if limit is None else self.types[:limit], 1):
            count = f"{type_row.instances} instance{'' if type_row.instances == 1 else 's'}"
            inside = type_row.instances - type_row.top_instances
            if inside:
                count += f", {inside} of them inside another {type_name(type_row.type)}"
            name = type_name(type_row.type, shortnames=False)
            lines.append(
                f"{rank:>3}. {format_bytes(type_row.retained, decimals=1):>10} retained by {name} ({count})"
            )
        return lines

    def to_dict(self) -> dict[str, JSON]:
        return {
            "retainers": [
                {
                    "description": row.description,
                    "type": type_name(row.type, shortnames=False),
                    "size": row.size,
                    "retained": row.retained,
                    "site": row.site,
                    "chain": row.chain.to_dict(),
                }
                for row in self
            ],
            "types": [
                {
                    "type": type_name(row.type, shortnames=False),
                    "instances": row.instances,
                    "top_instances": row.top_instances,
                    "retained": row.retained,
                }
                for row in self.types
            ],
        }


def retained(obj: object, heap: HeapGraph | None = None) -> int:
    """Bytes that would be freed if obj went away (0 for garbage or a new object)."""
    from heaplens._graph.heap import HeapGraph

    heap = heap or HeapGraph()
    node = heap.graph.find(obj)
    return heap.graph.retained(node) if node >= 0 else 0


def type_retainers(n: int = 10, heap: HeapGraph | None = None) -> list[TypeRetainer]:
    """The n types whose instances retain the most together, as TypeRetainer
    rows, largest first. Classes and modules are not counted as instances of
    `type` or of a module type, nor modules' globals as dicts (they are the
    program's backbone, see top_retainers), so those types never appear."""
    from heaplens._graph.heap import HeapGraph

    n = _args.count("type_retainers", "n", n)
    heap = heap or HeapGraph()
    rows: list[TypeRetainer] = []
    for tp, instances, top_instances, size in heap.graph.retained_by_type():
        if len(rows) == n:
            break
        if issubclass(tp, (type, types.ModuleType)):
            continue
        rows.append(TypeRetainer(tp, instances, size, top_instances))
    return rows


def top_retainers(n: int = 10, heap: HeapGraph | None = None) -> RetainerReport:
    """The n objects that retain the most memory, each with its chain from a root,
    and (in `types`) the n types whose instances retain the most together.

    Modules, classes and their dicts are left out: each retains everything
    defined in it, which says nothing a user can act on. An object dominated by
    one already listed is left out too: its memory is counted there.
    """
    from heaplens._graph.heap import HeapGraph

    # More than there are objects is all of them (graph.top_retainers clamps).
    n = _args.count("top_retainers", "n", n)
    heap = heap or HeapGraph()
    graph = heap.graph
    report = RetainerReport()
    # The dominator tree picks them in one pass (graph.top_retainers): the
    # backbone (modules, classes and their dicts) is no candidate, and what a
    # listed object dominates is part of its retained size (a dict inside a
    # listed list adds nothing to read). An untracked object freed since the
    # walk cannot be shown: ask again without it, so that what it dominated
    # can be listed in its place.
    gone: list[int] = []
    while True:
        chosen: list[tuple[int, object]] = []
        gone_before = len(gone)
        for node in graph.top_retainers(n, gone):
            try:
                chosen.append((node, graph.object(node)))
            except LookupError:
                gone.append(node)
        if len(gone) == gone_before:
            break
    for node, obj in chosen:
        report.append(
            Retainer(
                heap.node_description(node),
                cast(type, graph.type(node)),  # an object's node: it has a type
                graph.size(node),
                graph.retained(node),
                heap.chain(graph.path_back(node) or [node]),
                allocation_site(obj),
            )
        )
    report.types = type_retainers(n, heap)
    return report
