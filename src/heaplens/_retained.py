"""Retained size: how much memory would go away with an object.

The retained size of an object is the sum of the sizes of the objects it
dominates in the heap graph, itself included: those that every chain of
references from a root (a module, an object held from outside the graph, an
executing frame) passes through it to reach. They are freed with it.
"""

import sys
import types
from typing import NamedTuple, Optional

from heaplens._describe import allocation_site, human_size


class Retainer(NamedTuple):
    """One object that retains much, and why it is alive."""

    description: str
    type: type
    size: int  # its own sys.getsizeof size
    retained: int  # bytes freed with it
    chain: object  # a heaplens.Chain from a root
    site: Optional[str]  # where the tracer saw it allocated, when it was on


class RetainerReport(list):
    """Retainers, largest retained size first."""

    def format(self):
        if not self:
            return "nothing retains memory (no object is reachable from a root)"
        lines = []
        for rank, row in enumerate(self, 1):
            head = f"{rank:>3}. {human_size(row.retained):>10} retained by {row.description}"
            lines.append(head + (f"  (allocated at {row.site})" if row.site else ""))
            lines.append(f"     why: {row.chain}".replace("\n", "\n          "))
        return "\n".join(lines)

    def __str__(self):
        return self.format()


def _backbone(heap):
    """Node ids of modules and their globals, which retain whole programs."""
    graph = heap.graph
    ids = set()
    for module in list(sys.modules.values()):
        for obj in (module, getattr(module, "__dict__", None)):
            node = graph.find(obj) if obj is not None else -1
            if node >= 0:
                ids.add(node)
    return ids


def _inside(graph, node, listed):
    """Whether a node of `listed` dominates `node`."""
    dominator = graph.idom(node)
    while dominator is not None and dominator >= 0:
        if dominator in listed:
            return True
        dominator = graph.idom(dominator)
    return False


def retained(obj, heap=None):
    """Bytes that would be freed if obj went away (0 for garbage or a new object)."""
    from heaplens._why import HeapGraph

    heap = heap or HeapGraph()
    node = heap.graph.find(obj)
    return heap.graph.retained(node) if node >= 0 else 0


def top_retainers(n=10, heap=None):
    """The n objects that retain the most memory, each with its chain from a root.

    Modules, their globals and classes are left out: each retains everything
    defined in it, which says nothing a user can act on. An object dominated by
    one already listed is left out too: its memory is counted there.
    """
    from heaplens._why import HeapGraph

    heap = heap or HeapGraph()
    graph = heap.graph
    skip = _backbone(heap)
    report = RetainerReport()
    listed = set()
    # Ask for more than n: the backbone is near the top and is skipped, and so
    # is what an object already listed dominates (its retained size is part of
    # that object's: a dict inside a listed list adds nothing to read).
    for node in graph.top_retainers(20 * n + len(skip) + 64):
        if len(report) == n:
            break
        if node in skip or graph.kind(node) != "object" or _inside(graph, node, listed):
            continue
        tp = graph.type(node)
        if tp is None or issubclass(tp, (type, types.ModuleType)):
            continue
        try:
            obj = graph.object(node)
        except LookupError:
            continue
        listed.add(node)
        report.append(
            Retainer(
                heap.node_description(node),
                tp,
                graph.size(node),
                graph.retained(node),
                heap.chain(graph.path_back(node) or [node]),
                allocation_site(obj),
            )
        )
    return report
