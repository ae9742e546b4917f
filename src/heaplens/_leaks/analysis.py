"""The analysis of a leak hunt: which live objects each measured call created,
grouped by type and allocation site, which groups kept accumulating, and the
chain of references from a root to each (heaplens._leaks.holders names the
object that holds them).
"""

from __future__ import annotations

import linecache
import os
from typing import NamedTuple

from heaplens import _core
from heaplens._graph.describe import (
    PACKAGE_DIR,
    type_module,
    type_name,
)
from heaplens._leaks.holders import holder_row
from heaplens._leaks.report import LeakGroup

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NotRequired, TypedDict

    from heaplens._graph.heap import Chain, HeapGraph
    from heaplens._leaks.report import Holder, LeakReport

    # A frame of an allocation traceback: (filename, lineno, source line or None).
    Frame = tuple[str, int, str | None]

    # What a holder is known by: its node, or ("external", id of the root's
    # type) when no object in the graph holds the leak.
    HolderKey = int | tuple[str, int]

    class Group(TypedDict):
        """A group of leaked objects (one type, one allocation site), as analyse() builds it."""

        tp: type
        site: str | None
        traceback: list[Frame]
        members: list[_Node]
        per_call: list[int]
        size: int
        retained: int
        path: list[int]
        holder_key: HolderKey
        holder_step: int | None
        example: int
        holder: NotRequired[int]  # the index of its holder in the report, set last

    class HolderEntry(TypedDict):
        """A holder, as analyse() gathers it: the chain to it and its groups."""

        path: list[int]
        groups: list[int]  # indices into the list of groups


class _Node(NamedTuple):
    node: int
    call: int
    stack: int


def analyse(
    heap: HeapGraph,
    rows: list[tuple[int, int, int]],
    n_calls: int,
    report: LeakReport,
    ignore: Sequence[str] = (),
) -> dict[int, list[int]]:
    """Group the new objects, keep those that accumulate, find their holders.

    Returns the sizes of the leaked objects by the tracer stack that
    allocated them: {stack id: [bytes of call 1, call 2, ...]} (the native
    analysis takes what these sizes count off the native memory there)."""
    graph = heap.graph
    by_key: dict[tuple[int, int], list[_Node]] = {}
    # Types are keyed by id(): hashing or comparing a class runs its
    # metaclass's __hash__ or __eq__. The graph holds every type it met.
    types_by_id: dict[int, type] = {}
    for node, call, stack in rows:
        tp = graph.type(node)
        if tp is None:
            continue
        types_by_id[id(tp)] = tp
        by_key.setdefault((id(tp), stack), []).append(_Node(node, call, stack))
    # Groups by type and innermost allocation line (stacks that differ only
    # further out are one site).
    sites: dict[tuple[int, str | None], tuple[list[_Node], list[Frame]]] = {}
    for (type_id, stack), members in by_key.items():
        site, traceback = _site_of(stack)
        sites.setdefault((type_id, site), ([], traceback))[0].extend(members)
    leaking: list[tuple[type, str | None, list[_Node], list[Frame]]] = []
    for (type_id, site), (members, traceback) in sites.items():
        tp = types_by_id[type_id]
        calls = {m.call for m in members}
        if n_calls > 1 and len(calls) < 2:
            continue  # made once and kept (a cache filled once, the last result): no growth
        leaking.append((tp, site, members, traceback))
    leaking_nodes = {m.node for _, _, members, _ in leaking for m in members}

    # What each group's members retain together, each object counted once
    # (one pass down the dominator tree, however the members nest).
    group_retained = [
        row[2]
        for row in graph.retained_by_group(
            [[m.node for m in members] for _, _, members, _ in leaking]
        )
    ]
    holders: dict[HolderKey, HolderEntry] = {}  # holder key -> data
    groups: list[Group] = []
    for tp, site, members, traceback in leaking:
        members.sort(key=lambda m: (m.call, m.node))
        per_call = [0] * n_calls
        for member in members:
            per_call[member.call - 1] += 1
        size = sum(graph.size(m.node) for m in members)
        retained = group_retained[len(groups)]
        example = members[0].node
        path = graph.path_back(example) or [example]
        holder_step = None
        for index in range(len(path) - 1, -1, -1):
            if path[index] not in leaking_nodes:
                holder_step = index
                break
        # With no old object on the chain, the leak starts at its root, an
        # object held from outside the heap: what it holds goes with it.
        key: HolderKey = (
            path[holder_step] if holder_step is not None else ("external", id(graph.type(path[0])))
        )
        entry = holders.setdefault(key, {"path": path[: (holder_step or 0) + 1], "groups": []})
        entry["groups"].append(len(groups))
        groups.append(
            {
                "tp": tp,
                "site": site,
                "traceback": traceback,
                "members": members,
                "per_call": per_call,
                "size": size,
                "retained": retained,
                "path": path,
                "holder_key": key,
                "holder_step": holder_step,
                "example": example,
            }
        )

    holder_rows: list[Holder] = []
    for key, entry in holders.items():
        holder_rows.append(holder_row(heap, key, entry, groups, n_calls, ignore))
    order = sorted(
        range(len(holder_rows)),
        key=lambda i: (bool(holder_rows[i].excluded), -holder_rows[i].retained),
    )
    position = {old: rank for rank, old in enumerate(order)}
    report.holders = [holder_rows[i] for i in order]
    index_of_key = {key: index for index, key in enumerate(holders)}
    for group in groups:
        group["holder"] = position[index_of_key[group["holder_key"]]]
    groups.sort(key=lambda g: (g["holder"], -g["retained"], -len(g["members"])))
    report.groups = [_group_row(heap, g) for g in groups]
    report.finished = True
    sizes_by_stack: dict[int, list[int]] = {}
    for group in groups:
        for member in group["members"]:
            if member.stack >= 0:
                per_call_size = sizes_by_stack.setdefault(member.stack, [0] * n_calls)
                per_call_size[member.call - 1] += graph.size(member.node)
    return sizes_by_stack


def _site_of(stack: int) -> tuple[str | None, list[Frame]]:
    """('app.py:12', [(filename, lineno, source)] oldest first) for a tracer
    stack id (None, [] for -1). Frames of heaplens and of its callers (the
    code that called find_leaks) are left out: the hunt's calls start there."""
    if stack < 0:
        return None, []
    try:
        frames, _ = _core.get_stack_traceback(stack)
    except (IndexError, MemoryError):
        return None, []
    return site_of_frames(frames)


def site_of_frames(frames: Sequence[tuple[str, int]]) -> tuple[str | None, list[Frame]]:
    """_site_of() for the frames of a stack, most recent first."""
    if not frames:
        return None, []
    filename, lineno = frames[0]
    traceback: list[Frame] = []
    for name, line in frames:  # most recent first
        if name.startswith(PACKAGE_DIR):
            break
        traceback.append((name, line, linecache.getline(name, line).strip() or None))
    traceback.reverse()
    return f"{os.path.basename(filename)}:{lineno}", traceback


def _group_row(heap: HeapGraph, group: Group) -> LeakGroup:
    tp = group["tp"]
    path = group["path"]
    chain = heap.chain(path, keep=(group["holder_step"],))
    steps, holder_step = _merged_steps(chain, chain.step_of(group["holder_step"]))
    return LeakGroup(
        type=type_name(tp),
        module=type_module(tp),
        count=len(group["members"]),
        per_call=group["per_call"],
        size=group["size"],
        retained=group["retained"],
        site=group["site"],
        traceback=group["traceback"],
        chain=steps,
        holder=group["holder"],
        holder_step=holder_step,
        example=heap.node_description(group["example"]),
    )


def _merged_steps(
    chain: Chain, holder_step: int | None
) -> tuple[list[tuple[str, str | None]], int | None]:
    """The chain's hops as (description, label) pairs, and the index of the
    hop that holds step `holder_step` (None stays None)."""
    hops = chain.hops()
    holder_hop = None
    for index, (_, _, _, first) in enumerate(hops):
        if holder_step is not None and first <= holder_step:
            holder_hop = index
    return [(description, label) for description, label, _, _ in hops], holder_hop
