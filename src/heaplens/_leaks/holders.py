"""What holds leaked objects: the last object on the chain from a root that is
not itself part of a leak, named as a reader would write it (`module global
_cache (list)`, `self._items` in a frame, an lru_cache, gc.garbage, or a
reference from C), with a note on caches that are meant to grow.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
import sysconfig
import types
from typing import cast

from heaplens import _core
from heaplens._graph.describe import (
    describe,
    module_file,
    module_name,
    type_module,
    type_name,
)
from heaplens._graph import labels
from heaplens._graph.heap import shown_indices
from heaplens._report.units import format_bytes
from heaplens._leaks.report import Holder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from heaplens._graph.heap import HeapGraph
    from heaplens._graph.labels import Label
    from heaplens._leaks.analysis import Group, HolderEntry, HolderKey
    from heaplens._leaks.report import HolderKind

# The type of functools.lru_cache wrappers (C's; None with the pure Python
# fallback, whose wrappers are plain functions).
_LRU_CACHE_WRAPPER = getattr(functools, "_lru_cache_wrapper", None)
if type(_LRU_CACHE_WRAPPER) is not type:
    _LRU_CACHE_WRAPPER = None
_STDLIB_DIRS = tuple(
    os.path.normcase(os.path.realpath(sysconfig.get_paths()[name])) + os.sep
    for name in ("stdlib", "platstdlib")
)


def _ignored_owner(heap: HeapGraph, path: list[int], ignore: Sequence[str]) -> str | None:
    """The first of the `ignore` module prefixes that owns the holder, or None.

    The holder's owner is the node nearest to it on the chain, the holder
    included, that is a frame (its code's module), a module, or an object of a
    type defined outside builtins (that type's module). Lists, dicts, tuples,
    sets, cells, functions, methods and classes own nothing: the search goes
    on past them toward the root. So a list in a pytest LogCaptureHandler is
    pytest's, but the dict of an app's Manager that a pytest fixture keeps
    alive is the app's."""
    if not ignore:
        return None
    graph = heap.graph

    def ignored(name: str | None) -> bool:
        return isinstance(name, str) and any(
            name == prefix or name.startswith(prefix + ".") for prefix in ignore
        )

    for node in reversed(path):
        if graph.kind(node) == "frame":
            _, code, _ = graph.frame(node)
            module = _module_of_file(code.co_filename)
        elif graph.root_kind(node) == "module":
            try:
                module = _core.module_str(graph.object(node))
            except LookupError:
                module = None
        else:
            module = type_module(graph.type(node))
            if module == "builtins":
                continue
        return module if ignored(module) else None
    return None


def _module_of_file(filename: str) -> str | None:
    for name, module in list(sys.modules.items()):
        if module_file(module) == filename:  # read from the module's dict: no code runs
            return name
    return None


def holder_row(
    heap: HeapGraph,
    key: HolderKey,
    entry: HolderEntry,
    groups: list[Group],
    n_calls: int,
    ignore: Sequence[str],
) -> Holder:
    mine = [groups[i] for i in entry["groups"]]
    count = sum(len(g["members"]) for g in mine)
    types_count: dict[str, int] = {}
    for g in mine:
        name = _leaked_type_name(heap, g)
        types_count[name] = types_count.get(name, 0) + len(g["members"])
    type_rows = sorted(types_count.items(), key=lambda item: (-item[1], item[0]))
    path = entry["path"]
    # What the holder holds directly: the objects one step after it on the chains.
    direct = [
        g
        for g in mine
        if (g["holder_step"] is None and id(g["tp"]) == cast("tuple[str, int]", key)[1])
        or (
            g["holder_step"] is not None
            and len(g["path"]) > g["holder_step"] + 1
            and g["path"][g["holder_step"] + 1] in {m.node for m in g["members"]}
        )
    ]
    if not direct:
        direct = mine
    held = max(direct, key=lambda g: (len(g["members"]), g["retained"]))
    retained = sum(g["retained"] for g in direct)
    held_name = _leaked_type_name(heap, held)
    amount = _amount(held_name, len(held["members"]), held["per_call"], n_calls)
    others = [(name, n) for name, n in type_rows if name != held_name][:3]
    per = n_calls if n_calls > 1 and all(n % n_calls == 0 for _, n in others) else 1
    retaining = ", ".join(f"{n // per:,} {name}" for name, n in others)
    each = " per call" if per > 1 else ""
    size_text = format_bytes(retained / per, decimals=1) + each
    tail = f", with {retaining}{each} ({size_text})" if retaining else f" ({size_text})"

    if isinstance(key, tuple):  # nothing in the graph explains the references
        ref = _refcount_note(heap, held)
        return Holder(
            holder="nothing in the heap (held from C code)",
            where=None,
            kind="external",
            objects=count,
            per_call=count / n_calls,
            retained=retained,
            types=type_rows,
            sentence=(
                f"held from C: {amount}, with no referrer in the heap{ref} "
                "(a reference leaked by C code, such as a missing Py_DECREF)"
            ),
            note=f"no object refers to them{ref}: something outside the heap graph holds them",
            excluded=None,
        )
    description, where, kind = _holder_name(heap, path)
    note, library_cache = _cache_note(heap, key, path)
    excluded = "a bounded cache of the standard library" if library_cache else None
    owner = _ignored_owner(heap, path, ignore)
    if owner:
        excluded = f"held by {owner}, which the hunt was told to ignore"
        note = f"{note}; {excluded}" if note else excluded
    if kind == "uncollectable":
        sentence = (
            f"gc.garbage (list) holds {amount}{tail}: reference cycles the "
            "collector found but could not free (a finalizer it cannot run), left in gc.garbage"
        )
    else:
        sentence = f"{where + ': ' if where else ''}{description} holds {amount}{tail}"
    if note:
        sentence += f"; {note}"
    return Holder(
        holder=description,
        where=where,
        kind=kind,
        objects=count,
        per_call=count / n_calls,
        retained=retained,
        types=type_rows,
        sentence=sentence,
        note=note,
        excluded=excluded,
    )


def _amount(held_name: str, count: int, per_call: list[int], n_calls: int) -> str:
    """'5 new Request per call', '2.4 new Request per call on average', '3 new Request'."""
    if n_calls == 1:
        return f"{count:,} new {held_name}"
    if len(set(per_call)) == 1:
        return f"{per_call[0]:,} new {held_name} per call"
    return f"{count / n_calls:.1f} new {held_name} per call on average"


def _leaked_type_name(heap: HeapGraph, group: Group) -> str:
    """'Request', or 'bound method Listener.on_event' and 'function
    make.<locals>.on_done' for methods and functions."""
    tp = group["tp"]
    if tp is types.MethodType or tp is types.FunctionType:  # `in` would run __eq__
        try:
            return describe(heap.graph.object(group["example"]))
        except LookupError:
            pass
    return type_name(tp)


def _refcount_note(heap: HeapGraph, group: Group) -> str:
    try:
        obj = heap.graph.object(group["example"])
    except LookupError:
        return ""
    # Minus getrefcount's argument and the graph's own reference to tracked objects.
    extra = sys.getrefcount(obj) - 1 - (1 if heap.graph.is_tracked(group["example"]) else 0)
    del obj
    return f" (refcount {extra - 1} above what the heap explains)" if extra > 1 else ""


def _holder_name(heap: HeapGraph, path: list[int]) -> tuple[str, str | None, HolderKind]:
    """(description, file, kind) of the last node of `path`, named from its root:
    ('module global _cache (list)', 'app.py', 'object')."""
    graph = heap.graph
    holder = path[-1]
    holder_type = type_name(graph.type(holder)) if graph.kind(holder) == "object" else "frame"
    try:
        if graph.object(holder) is gc.garbage:
            return "gc.garbage (list)", None, "uncollectable"
    except LookupError:
        pass
    root = path[0]
    if graph.root_kind(root) == "module":
        try:
            module = graph.object(root)
        except LookupError:
            module = None
        name = module_name(module)
        filename = module_file(module)
        where = os.path.basename(filename) if filename is not None else f"module {name}"
        expression = _expression(graph, path, start=0)
        if not expression:
            return f"module {name}", where, "object"
        if expression[:1].isidentifier():
            return f"module global {expression} ({holder_type})", where, "object"
        return f"module {name}{expression} ({holder_type})", where, "object"
    framed = _frame_local(heap, path, holder_type)
    if framed is not None:
        return framed
    # Held from outside the heap (C code, an interpreter stack): say so.
    expression = _expression(graph, path, start=0, first_is_root=False)
    text = heap.node_description(root) + (expression or "")
    return f"{text} ({holder_type}), held from outside the heap", None, "object"


def _frame_local(
    heap: HeapGraph, path: list[int], holder_type: str
) -> tuple[str, str, HolderKind] | None:
    """('local pending of run() (list)', 'app.py', 'frame') when an executing
    frame holds a node of `path` (the holder or an object on the way to it) in
    a local variable, else None. The walk prefers other roots, but a local of
    the code that called the hunt names the holder best."""
    graph = heap.graph
    for index in range(len(path) - 1, -1, -1):
        node = path[index]
        for source in graph.referrers(node):
            if graph.kind(source) != "frame":
                continue
            try:
                label = labels.label_of(graph, source, node)
            except LookupError:
                continue
            if label is None or not labels.is_variable(label):
                continue
            name = label[1]
            rest = _expression(graph, path[index:], start=0, first_is_root=False) or ""
            if rest.startswith(".cell_contents"):
                rest = rest[len(".cell_contents") :]
            _, code, _ = graph.frame(source)
            where = os.path.basename(code.co_filename)
            return f"local {name}{rest} of {code.co_qualname}() ({holder_type})", where, "frame"
    return None


def _expression(
    graph: _core.HeapGraph, path: Sequence[int], start: int, first_is_root: bool = True
) -> str | None:
    """Python-like text for the references along path[start:]: `manager._connections[3]`.

    A module's `.__dict__['x']` and an object's `.__dict__['x']` read as `x` and
    `.x`; other labels are kept as they are. None when a label is unknown."""
    # Labels, and for each run of references left out, how many.
    parts: list[Label | int] = []
    label: Label | int | None  # a label, then (below) one of the parts
    nodes = path[start:]
    previous = -1
    # A long chain reads as its ends and how many references are left out.
    for index in shown_indices(len(nodes) - 1):
        if index > previous + 1:
            parts.append(index - previous - 1)
        previous = index
        try:
            label = labels.label_of(graph, nodes[index], nodes[index + 1])
        except LookupError:
            return None
        if label is None:
            return None
        parts.append(label)
    text = ""
    i = 0
    while i < len(parts):
        label = parts[i]
        if isinstance(label, int):
            text += f" ...{label:,} more... "
            i += 1
            continue
        if (
            labels.is_instance_dict(label)
            and i + 1 < len(parts)
            and not isinstance(following := parts[i + 1], int)
            and following[0] == labels.VALUE
        ):
            key = labels.identifier_key(following)
            if key is not None:
                text += ("" if (i == 0 and first_is_root) else ".") + key
            else:
                text += ".__dict__" + labels.render(following)
            i += 2
            continue
        rendered = labels.render(label)
        if i == 0 and first_is_root and label[0] == labels.ATTRIBUTE:
            rendered = rendered[1:]
        text += rendered
        i += 1
    return text


def _cache_note(heap: HeapGraph, key: int, path: list[int]) -> tuple[str | None, bool]:
    """(note, library_cache) when the holder is a cache with a size limit."""
    graph = heap.graph
    try:
        holder = graph.object(key)
    except LookupError:
        return None, False
    maxsize = None
    owner_file = None
    # An lru_cache wrapper is known by its type: hasattr() on the holder
    # would run a user's __getattr__.
    if _LRU_CACHE_WRAPPER is not None and type(holder) is _LRU_CACHE_WRAPPER:
        try:
            maxsize = holder.cache_parameters().get("maxsize")
        except Exception:
            maxsize = None
        wrapped = getattr(holder, "__wrapped__", None)
        if type(wrapped) is types.FunctionType:
            owner_file = wrapped.__code__.co_filename
        note = (
            f"an lru_cache with maxsize={maxsize}: it keeps up to {maxsize} entries"
            if maxsize is not None
            else "an lru_cache with no maxsize: it grows without limit"
        )
        return note, maxsize is not None and _in_stdlib(owner_file)
    root = path[0]
    if graph.root_kind(root) == "module":
        try:
            module = graph.object(root)
        except LookupError:
            return None, False
        name = _core.module_str(module)
        if name == "re" and len(path) == 3 and module is sys.modules.get("re"):
            limit = getattr(module, "_MAXCACHE", None)
            return f"re's cache of compiled patterns (at most {limit} entries)", True
        if name == "typing" and _in_stdlib(module_file(module)):
            return "a cache of the typing module", True
    del holder
    return None, False


def _in_stdlib(filename: str | None) -> bool:
    if not isinstance(filename, str):
        return False
    path = os.path.normcase(os.path.realpath(filename))
    return path.startswith(_STDLIB_DIRS) and "site-packages" not in path
