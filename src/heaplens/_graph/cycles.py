"""Reference cycles among live objects, grouped by shape.

A cycle is a strongly connected component of the heap graph: objects that
keep one another alive, which reference counting alone never frees. Cycles of
the same shape (the same types around them) are counted together, with one
example drawn as labelled references and the members that have finalizers.
"""

from __future__ import annotations

from typing import NamedTuple, cast

from heaplens import _args, _core
from heaplens._graph import labels
from heaplens._graph.describe import allocation_site, type_module, type_name
from heaplens._graph.heap import shown_indices
from heaplens._report.protocol import Report
from heaplens._report.units import format_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import Any

    from heaplens._graph.heap import HeapGraph
    from heaplens._report.protocol import JSON


class CycleGroup(NamedTuple):
    """Cycles of one shape: how many, their total size, one drawn."""

    shape: str  # e.g. "Node x2" or "Parent + Child + dict x2"
    count: int  # type: ignore[assignment]  # the field shadows tuple.count: public API
    size: int
    objects: int  # members of all cycles of this shape
    example: str  # one cycle as labelled references, back to its start
    # (type name, kind) of members with finalizers, in the example's shape
    finalizers: tuple[tuple[str, str], ...]
    # (site, cycles) where the cycles' first class instance was allocated
    sites: tuple[tuple[str, int], ...] = ()


class CycleReport(Report, list[CycleGroup]):
    """CycleGroups, largest total size first.

    to_dict(): {"total_cycles", "total_size", "groups": [{"shape", "count",
    "size", "objects", "example", "finalizers": [{"type", "kind"}],
    "sites": [{"site", "cycles"}]}]}."""

    @property
    def total_size(self) -> int:
        return sum(group.size for group in self)

    @property
    def total_cycles(self) -> int:
        return sum(group.count for group in self)

    def _lines(self, limit: int | None, width: int | None) -> list[str]:
        if not self:
            return ["no reference cycles among live objects"]
        limit = len(self) if limit is None else limit
        lines = [
            f"{self.total_cycles:,} reference cycles, {format_bytes(self.total_size, decimals=1)} in all; "
            f"{len(self)} shapes, largest first:"
        ]
        for group in self[:limit]:
            head = (
                f"  {group.count:>8,} x {group.shape}: {format_bytes(group.size, decimals=1)}, "
                f"{group.objects:,} objects"
            )
            lines.append(head)
            lines.append(f"      e.g. {group.example}")
            for name, kind in group.finalizers:
                lines.append(f"      finalizer: {name} ({kind})")
            for site, n in group.sites[:3]:
                lines.append(f"      allocated at {site}: {n:,} cycles")
        if len(self) > limit:
            lines.append(f"  ... and {len(self) - limit} more shapes")
        return lines

    def to_dict(self) -> dict[str, JSON]:
        return {
            "total_cycles": self.total_cycles,
            "total_size": self.total_size,
            "groups": [
                {
                    "shape": group.shape,
                    "count": group.count,
                    "size": group.size,
                    "objects": group.objects,
                    "example": group.example,
                    "finalizers": [{"type": name, "kind": kind} for name, kind in group.finalizers],
                    "sites": [{"site": str(site), "cycles": n} for site, n in group.sites],
                }
                for group in self
            ],
        }


def _shape(graph: _core.HeapGraph, members: list[int]) -> str:
    """`Parent + Child + dict x2`: the types around a cycle, each named once
    (a million-member cycle costs a million type lookups, not as many names)."""
    # Keyed by id(): hashing a class can run its metaclass's __hash__.
    by_type: dict[int, int] = {}
    types: dict[int, type | None] = {}
    for tp in map(graph.type, members):
        key = id(tp)
        by_type[key] = by_type.get(key, 0) + 1
        types[key] = tp
    counts: dict[str, int] = {}
    for key, n in by_type.items():
        name = type_name(types[key], shortnames=False)
        counts[name] = counts.get(name, 0) + n
    return " + ".join(name if n == 1 else f"{name} x{n}" for name, n in sorted(counts.items()))


def cycles(heap: HeapGraph | None = None) -> CycleReport:
    """Every reference cycle among live objects, grouped by shape (a CycleReport).

    `heap`: a heaplens.HeapGraph to reuse; by default the heap is walked now.
    """
    from heaplens._graph.heap import HeapGraph

    heap = heap or HeapGraph()
    graph = heap.graph
    tracing = _core.is_tracing()
    # shape -> [cycles, size, objects, a cycle's members, {allocation site: cycles}]
    groups: dict[str, list[Any]] = {}
    for members in graph.cycles():
        key = _shape(graph, members)
        size = sum(map(graph.size, members))
        entry = groups.get(key)
        if entry is None:
            entry = groups[key] = [0, 0, 0, members, {}]
        entry[0] += 1
        entry[1] += size
        entry[2] += len(members)
        if tracing:
            site = _cycle_site(graph, members)
            entry[4][site] = entry[4].get(site, 0) + 1
    report = CycleReport()
    for shape, (count, size, objects, members, sites) in groups.items():
        ranked = tuple(
            sorted(((s, n) for s, n in sites.items() if s), key=lambda item: (-item[1], item[0]))
        )
        report.append(
            CycleGroup(
                shape,
                count,
                size,
                objects,
                _draw(heap, members[0]),
                _finalizers(graph, members),
                ranked,
            )
        )
    report.sort(key=lambda g: (-g.size, -g.count, g.shape))
    return report


def _cycle_site(graph: _core.HeapGraph, members: list[int]) -> str | None:
    """Where the tracer saw the cycle's first instance of a class allocated (the
    object a user wrote code for), else its first member; None when unknown."""
    chosen = members[0]
    for node in members:
        tp = graph.type(node)
        if tp is not None and type_module(tp) != "builtins":
            chosen = node
            break
    try:
        return allocation_site(graph.object(chosen))
    except LookupError:
        return None


def _draw(heap: HeapGraph, start: int) -> str:
    """One cycle through node `start`: `A .x -> B ['k'] -> (back to A)`; a
    long one shows its ends and how many members it leaves out between."""
    graph = heap.graph
    path = cast("list[int]", graph.cycle_through(start))  # start is in a cycle: not None
    parts: list[str] = []
    previous = -1
    for index in shown_indices(len(path) - 1):
        if index > previous + 1:
            parts.append(f"... {index - previous - 1:,} more ...")
        previous = index
        node = path[index]
        try:
            label = labels.text_of(graph, node, path[index + 1])
        except LookupError:
            label = None
        text = heap.node_description(node)
        parts.append(f"{text} {label}" if label else text)
    return " -> ".join(parts) + " -> (back to the first)"


def _finalizers(graph: _core.HeapGraph, members: list[int]) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for node in members:
        try:
            kind = _core.finalizer_kind(graph.object(node))
        except LookupError:
            continue
        if kind is not None:
            found.append((type_name(graph.type(node), shortnames=False), kind))
    return tuple(sorted(set(found)))


def show_cycle(
    obj: object,
    filename: str | bytes | os.PathLike[str] | os.PathLike[bytes] = "cycle.png",
) -> int:
    """Draw the shortest reference cycle through obj as a Graphviz graph.

    Each edge carries its label (`.attr`, `['key']`, `[3]`); members with
    finalizers are filled red and say which kind. With a .dot filename only
    the .dot file is written; with another extension (png, svg, pdf) `dot`
    renders it when installed, and without it the .dot file is kept and a line
    says so. Returns the number of objects drawn (0 when obj is in no cycle).
    """
    import os
    import tempfile

    from heaplens._graph import dot as _dot
    from heaplens._graph.heap import HeapGraph

    filename = os.fspath(_args.path("show_cycle", "filename", filename))
    if isinstance(filename, bytes):
        filename = os.fsdecode(filename)
    heap = HeapGraph()
    graph = heap.graph
    node = graph.find(obj)
    path = graph.cycle_through(node) if node >= 0 else None
    if path is None:
        print(f"{heap.node_description(node) if node >= 0 else 'the object'} is in no cycle")
        return 0
    lines = ["digraph Cycle {", "  node[shape=box, style=filled, fillcolor=white];"]
    members = path[:-1]
    for member in members:
        name = _dot.node_id(graph.address(member))
        try:
            target = graph.object(member)
        except LookupError:
            lines.append(f'  {name}[label="{_dot.quote(heap.node_description(member))}"];')
            continue
        label = _dot.node_label(target, shortnames=True)
        kind = _core.finalizer_kind(target)
        if kind is not None:
            label += _dot.quote(f"\nfinalizer: {kind}")
            lines.append(f'  {name}[label="{label}", fillcolor="#f4a6a6", color="#b00000"];')
        else:
            lines.append(f'  {name}[label="{label}"];')
    for index, member in enumerate(members):
        following = path[index + 1]
        try:
            edge = labels.label_of(graph, member, following)
        except LookupError:
            edge = None
        attrs = _dot.engine_edge_attrs(edge) if edge is not None else ""
        source, target = _dot.node_id(graph.address(member)), _dot.node_id(graph.address(following))
        lines.append(f"  {source} -> {target}{attrs};")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if filename.endswith(".dot"):
        dot_filename = filename
    else:
        handle, dot_filename = tempfile.mkstemp(prefix="heaplens-cycle-", suffix=".dot")
        os.close(handle)
    with open(dot_filename, "w", encoding="utf-8") as out:
        out.write(text)
    print(f"Cycle of {len(members)} objects written to {dot_filename}")
    _dot.present(dot_filename, filename)
    return len(members)
