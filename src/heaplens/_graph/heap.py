"""Why an object is alive: chains of labelled references from a root.

A HeapGraph is one walk of the heap (see docs/heap-graph.md); why_alive,
referrers and refcount_report are queries on it. The module-level functions in
heaplens build a fresh graph per call; build one HeapGraph and query it many
times when asking about many objects.
"""

from __future__ import annotations

import sys
from typing import NamedTuple, Optional, cast

from heaplens import _args, _core
from heaplens._graph import labels
from heaplens._graph.census import Census, CensusRow
from heaplens._report.protocol import Report
from heaplens._graph.describe import (
    GETREFCOUNT_ARGUMENT,
    PACKAGE_DIR,
    allocation_site,
    counted,
    describe,
    describe_frame,
    type_name,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import EllipsisType
    from typing import Literal

    from heaplens._graph.labels import Label
    from heaplens._report.protocol import JSON

    # Where a chain starts (see Chain): None when no root leads to the object.
    RootKind = Literal["module", "frame", "external"]


class Step(NamedTuple):
    """One object on a chain and the reference it holds to the next one."""

    description: str
    label: Optional[str]  # the reference as text; None on the last step
    site: Optional[str]  # where the tracer saw it allocated, when it was on
    edge: Optional[Label] = None  # the reference as a (kind, key) label (heaplens._graph.labels)


class Chain(Report):
    """A chain of references from a root to an object.

    str(chain) is one line, `module app .__dict__['_cache'] -> list [0] -> OBJ`,
    or one line per object with its allocation site when the tracer knew them.
    root_kind is 'module', 'frame', 'external' (held by references the walk
    cannot see: C code, an interpreter stack) or None when no root leads to it.
    format(limit) shows at most `limit` hops (None: all, the default).

    to_dict(): {"root_kind", "note", "omitted", "steps": [{"description",
    "label", "edge", "site"}]}: `label` the reference as text, `edge` as
    [kind, key] (heaplens._graph.labels); a step for the middle of a long
    chain left out has label, edge and site None.
    """

    DEFAULT_LIMIT = None

    def __init__(
        self,
        steps: list[Step],
        root_kind: RootKind | None,
        note: str | None = None,
        path_index: list[int | None] | None = None,
    ) -> None:
        self.steps = steps
        self.root_kind = root_kind
        self.note = note
        # The index in the graph path of the node each step shows (None for
        # the step that stands for the middle of a long chain left out).
        self.path_index: list[int | None] = (
            list(range(len(steps))) if path_index is None else path_index
        )

    @property
    def omitted(self) -> int:
        """How many objects in the middle of a long chain are not shown."""
        index = self.path_index
        # The steps on either side of one left out (None) show nodes: their indices are ints.
        return sum(
            index[i + 1] - index[i - 1] - 1  # type: ignore[operator, misc]
            for i in range(1, len(index) - 1)
            if index[i] is None
        )

    def step_of(self, path_index: int | None) -> int | None:
        """The index of the step that shows node path[path_index], or None."""
        if path_index is None:
            return None
        try:
            return self.path_index.index(path_index)
        except ValueError:
            return None

    @property
    def found(self) -> bool:
        return self.root_kind is not None

    def hops(self) -> list[tuple[str, str | None, str | None, int]]:
        """The steps with an object and its own __dict__ as one hop, as
        `module app .__dict__['x']`: a list of (description, label, site,
        first step index) tuples."""
        hops: list[tuple[str, str | None, str | None, int]] = []
        steps = self.steps
        i = 0
        while i < len(steps):
            step = steps[i]
            label = step.label
            if (
                labels.is_instance_dict(step.edge)
                and i + 1 < len(steps)
                and steps[i + 1].label is not None
            ):
                label = ".__dict__" + cast(str, steps[i + 1].label)  # not None: tested above
                hops.append((step.description, label, step.site, i))
                i += 2
                continue
            hops.append((step.description, label, step.site, i))
            i += 1
        return hops

    def _parts(self) -> tuple[list[str], list[str | None]]:
        """Text of each hop (a description and the label of its reference),
        and its allocation site."""
        hops = self.hops()
        parts = [f"{text} {label}" if label else text for text, label, _, _ in hops]
        return parts, [site for _, _, site, _ in hops]

    def _lines(self, limit: int | None, width: int | None) -> list[str]:
        parts, sites = self._parts()
        if limit is not None and len(parts) > limit:
            left_out = len(parts) - limit
            parts = parts[:limit] + [f"... {left_out:,} more ..."]
            sites = sites[:limit] + [None]
        prefix = ""
        if self.root_kind == "external":
            prefix = "(held from outside the heap graph: C code or a stack) "
        if self.note:
            return [f"{' -> '.join(parts)}: {self.note}"]
        if not any(sites):
            return [prefix + " -> ".join(parts)]
        column = min(max(len(p) for p in parts) + 5, 70)
        lines: list[str] = []
        for index, (part, site) in enumerate(zip(parts, sites)):
            text = part if index == 0 else "  -> " + part
            text = prefix + text if index == 0 else text
            lines.append(f"{text:<{column}}  allocated at {site}" if site else text)
        return lines

    def to_dict(self) -> dict[str, JSON]:
        return {
            "root_kind": self.root_kind,
            "note": self.note,
            "omitted": self.omitted,
            "steps": [
                {
                    "description": step.description,
                    "label": step.label,
                    "edge": None if step.edge is None else list(step.edge),
                    "site": None if step.site is None else str(step.site),
                }
                for step in self.steps
            ],
        }

    def __repr__(self) -> str:
        return f"<heaplens.Chain {str(self)!r}>"


class OmittedSteps(Step):
    """The middle of a long chain, left out: `... 999,976 more ...`."""

    __slots__ = ()


# A chain longer than 2 * CHAIN_ENDS + 1 objects shows CHAIN_ENDS at each end
# (and a few around any step the caller asks to keep) and says how many it
# left out between: describing a million-long linked list would take minutes
# and say nothing more.
CHAIN_ENDS = 12


def shown_indices(length: int, keep: Iterable[int | None] = ()) -> list[int]:
    """The indices of a path of `length` nodes that a Chain shows, in order."""
    if length <= 2 * CHAIN_ENDS + 1:
        return list(range(length))
    shown = set(range(CHAIN_ENDS)) | set(range(length - CHAIN_ENDS, length))
    for index in keep:
        if index is not None:
            shown.update(i for i in range(index - 2, index + 3) if 0 <= i < length)
    return sorted(shown)


def join_label(description: str, label: str | None) -> str:
    """`module app .__dict__` + `['x']` -> `module app .__dict__['x']`."""
    if not label:
        return description
    if description.endswith(".__dict__") and label.startswith("["):
        return description + label
    return f"{description} {label}"


class Referrer(NamedTuple):
    """One reference to an object: who holds it and how."""

    description: str
    label: Optional[str]
    holder: object  # the referring object, or None for an executing frame

    def __str__(self) -> str:
        return join_label(self.description, self.label)

    def __repr__(self) -> str:
        return f"<heaplens.Referrer {str(self)!r}>"


class RefcountReport(Report):
    """sys.getrefcount(obj) against the references the heap graph can name.

    unexplained > 0 means something outside the graph holds references: C code
    (an extension that leaked a reference), or a value on an interpreter stack.
    format(limit) lists at most `limit` referrers (None: all, the default).

    to_dict(): {"description", "refcount", "explained", "unexplained",
    "immortal", "referrers": [{"description", "label"}]}.
    """

    DEFAULT_LIMIT = None

    def __repr__(self) -> str:
        return f"<heaplens.RefcountReport refcount={self.refcount} unexplained={self.unexplained}>"

    def __init__(
        self, description: str, refcount: int, referrers: list[Referrer], immortal: bool
    ) -> None:
        self.description = description
        self.refcount = refcount
        self.referrers = referrers
        self.immortal = immortal

    @property
    def explained(self) -> int:
        return len(self.referrers)

    @property
    def unexplained(self) -> int:
        return 0 if self.immortal else self.refcount - self.explained

    def _lines(self, limit: int | None, width: int | None) -> list[str]:
        if self.immortal:
            head = f"{self.description}: immortal (its refcount is not counted)"
        else:
            head = (
                f"{self.description}: refcount {self.refcount}, {self.explained} explained by "
                f"the heap graph, {self.unexplained} held from elsewhere (C code or a stack)"
            )
        lines = [head]
        for referrer in self.referrers if limit is None else self.referrers[:limit]:
            lines.append(f"  {referrer}")
        if limit is not None and len(self.referrers) > limit:
            lines.append(f"  ... and {len(self.referrers) - limit:,} more")
        return lines

    def to_dict(self) -> dict[str, JSON]:
        return {
            "description": self.description,
            "refcount": self.refcount,
            "explained": self.explained,
            "unexplained": self.unexplained,
            "immortal": bool(self.immortal),
            "referrers": [{"description": r.description, "label": r.label} for r in self.referrers],
        }


class HeapGraph:
    """The live heap as a graph, walked once now (see docs/heap-graph.md).

    It holds a reference to every object the collector tracks until it is
    dropped, so drop it when done.
    """

    def __init__(
        self,
        *,
        untracked: bool = True,
        ignore: Iterable[object] = (),
        include_heaplens_frames: bool = False,
    ) -> None:
        skip = None if include_heaplens_frames else PACKAGE_DIR
        if isinstance(ignore, (str, bytes)) or not hasattr(ignore, "__iter__"):
            raise TypeError(
                f"HeapGraph(): ignore must be an iterable of objects, not {type(ignore).__name__}"
            )
        self.graph = _core.build_graph(
            ignore=(self, *ignore), skip_frames_under=skip, untracked=untracked
        )

    def census(self) -> Census:
        rows = (CensusRow(*row) for row in self.graph.census())
        return Census(sorted(rows, key=lambda r: (-r.size, -r.count)))

    def node_description(self, node: int) -> str:
        graph = self.graph
        if graph.kind(node) == "frame":
            thread_id, code, lineno = graph.frame(node)
            return describe_frame(code, lineno, thread_id)
        try:
            return describe(graph.object(node))
        except LookupError:
            name = type_name(graph.type(node))
            if not graph.is_tracked(node):
                return name  # untracked, held by untracked objects: not found again
            return f"{name} (freed since the walk)"

    def holder_description(self, node: int) -> str:
        """Like node_description, but a dict that is some object's __dict__ is
        named after its owner: `module app .__dict__`, `Manager object at 0x.. .__dict__`."""
        graph = self.graph
        if graph.kind(node) == "object" and graph.type(node) is dict:
            for owner in dict.fromkeys(graph.referrers(node)):  # each holder once
                if graph.kind(owner) != "object":
                    continue
                try:
                    if labels.is_instance_dict(labels.label_of(graph, owner, node)):
                        return f"{self.node_description(owner)} .__dict__"
                except LookupError:
                    continue
        return self.node_description(node)

    def _site(self, node: int) -> str | None:
        if self.graph.kind(node) == "frame":
            return None
        try:
            return allocation_site(self.graph.object(node))
        except LookupError:
            return None

    def chain(
        self,
        path: Sequence[int],
        target_description: str | None = None,
        keep: Iterable[int | None] = (),
    ) -> Chain:
        """A Chain for a list of node ids in reference order. A long one shows
        its ends, the steps around the path indices in `keep`, and one
        OmittedSteps step for each run left out."""
        graph = self.graph
        steps: list[Step] = []
        path_index: list[int | None] = []
        previous = -1
        for index in shown_indices(len(path), keep):
            if index > previous + 1:
                steps.append(OmittedSteps(f"... {index - previous - 1:,} more ...", None, None))
                path_index.append(None)
            previous = index
            path_index.append(index)
            node = path[index]
            edge = None
            if index + 1 < len(path):
                try:
                    edge = labels.label_of(graph, node, path[index + 1])
                except LookupError:
                    edge = None
                description = self.node_description(node)
            else:
                description = target_description or self.node_description(node)
            label = labels.render(edge) if edge is not None else None
            steps.append(Step(description, label, self._site(node), edge))
        return Chain(steps, graph.root_kind(path[0]), path_index=path_index)

    def why_alive(self, obj: object, max_depth: int = -1) -> Chain:
        """The shortest chain of references from a root to obj (a Chain).

        Roots are modules in sys.modules, objects with more references than the
        heap graph can see (held from C code or a stack), and, only when nothing
        else holds obj, executing frames.
        """
        max_depth = _args.clamped(
            "why_alive", "max_depth", max_depth, minimum=-1, limit=sys.maxsize
        )
        graph = self.graph
        node = graph.find(obj)
        if node < 0:
            return Chain(
                [Step(describe(obj), None, allocation_site(obj))],
                None,
                note="not in the heap graph (created after the walk, or held only by "
                "heaplens's own frames)",
            )
        path = graph.path_back(node, max_depth=max_depth)
        if path is None:
            return Chain(
                [Step(describe(obj), None, allocation_site(obj))],
                None,
                note="no chain from a root: it is garbage waiting for the collector, or "
                "held only by objects the collector cannot see",
            )
        return self.chain(path)

    def referrers(self, obj: object) -> list[Referrer]:
        """Every reference to obj the graph knows, as Referrer tuples (one per reference)."""
        graph = self.graph
        node = graph.find(obj)
        if node < 0:
            return []
        sources = _not_ignored(graph, graph.referrers(node))
        texts = labels.texts_for_referrers(graph, sources, node)
        return [self.referrer(source, node, label=text) for source, text in zip(sources, texts)]

    def referrer(
        self,
        source: int,
        node: int,
        occurrence: int = 0,
        label: str | None | EllipsisType = ...,
    ) -> Referrer:
        """The Referrer for reference number `occurrence` (0: the first) from
        node `source` to node `node`; `label`, when given, is its text,
        already known (labels.texts_for_referrers)."""
        graph = self.graph
        if label is ...:
            try:
                label = labels.text_of(graph, source, node, occurrence)
            except LookupError:
                label = None
        holder: object = None
        if graph.kind(source) != "frame":
            try:
                holder = graph.object(source)
            except LookupError:
                pass  # an untracked holder that may be gone: described, not returned
        return Referrer(self.holder_description(source), label, holder)


def _not_ignored(graph: _core.HeapGraph, nodes: Iterable[int]) -> list[int]:
    """The nodes that are not of kind 'ignored'. A loop, not a comprehension
    in the caller: on 3.11 a comprehension that uses `graph` makes it a cell,
    which the heap walk sees, and the graph would then hold itself in a cycle
    and keep every object alive until the next collection."""
    kept: list[int] = []
    for node in nodes:
        if graph.kind(node) != "ignored":
            kept.append(node)
    return kept


def _frame_is_heaplens(graph: _core.HeapGraph, node: int) -> bool:
    if graph.kind(node) != "frame":
        return False
    _, code, _ = graph.frame(node)
    return code.co_filename.startswith(PACKAGE_DIR)


def refcount_report(obj: object) -> RefcountReport:
    """sys.getrefcount(obj) explained by the references the heap graph finds.

    The difference is held from outside the graph: C code (a reference leaked
    by an extension shows up here) or a value on an interpreter stack.
    """
    obj = counted(obj)  # the parameter may be lent by the caller, uncounted
    heap = HeapGraph(include_heaplens_frames=True)
    graph = heap.graph
    node = graph.find(obj)
    # Taken before anything else refers to obj. Minus getrefcount's own
    # argument and one for the graph's reference to a tracked object (and one
    # per frame local, below); this function's own local is a frame
    # reference the graph saw.
    refcount = sys.getrefcount(obj) - GETREFCOUNT_ARGUMENT
    refcount -= 1 if node >= 0 and graph.is_tracked(node) else 0
    immortal = _core.is_immortal(obj)
    referrers: list[Referrer] = []
    ours = 0
    if node >= 0:
        sources = _not_ignored(graph, graph.referrers(node))
        texts = labels.texts_for_referrers(graph, sources, node)  # once per reference
        for source, text in zip(sources, texts):
            if graph.kind(source) == "frame":
                refcount -= 1  # the graph holds each frame local once more
            if _frame_is_heaplens(graph, source):
                ours += 1
                continue
            referrers.append(heap.referrer(source, node, label=text))
    return RefcountReport(describe(obj), refcount - ours, referrers, immortal)
