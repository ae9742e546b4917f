"""heaplens.objgraph: a drop-in replacement for objgraph 3.6.2.

The same functions, arguments, defaults, return values and printed text as
objgraph (https://mg.pov.lt/objgraph/), answered from heaplens's heap graph
(heaplens._core, see docs/heap-graph.md) instead of from gc.get_referrers(),
which scans the whole heap once per object it is asked about:
- counting by type (typestats, growth, show_growth, count...) is done in C;
- find_backref_chain(obj, is_proper_module) is one breadth-first search in C;
  any other predicate is a search in Python over the graph's reverse index,
  calling the predicate on each object reached, as objgraph does;
- show_refs / show_backrefs / show_chain walk the graph and label each edge
  with what the engine knows of it ("['key']", "[3]", ".attr"), falling back
  to objgraph's own labels for edges the engine cannot name.

The view is objgraph's: the objects the garbage collector tracks, and, in the
graphs drawn by show_refs, the untracked objects they refer to. Executing
frames are not referrers (objgraph cannot see them either), and heaplens's own
frames and bookkeeping are never part of an answer.

Differences from objgraph:
- Edge labels in .dot output are the engine's where it has one.
- Without graphviz, show_* says that graphviz was not found and where the .dot
  file is, instead of "not doing anything else".
- find_ref_chain / find_backref_chain may return a different chain of the same
  length when several shortest chains exist.
- refcounts=True shows the references an object has from outside heaplens
  (what sys.getrefcount(obj) says in the caller, less its own argument where
  that is counted: not from 3.14 on). objgraph's numbers also count some of its
  own temporaries, and vary with the Python version.

Longer than 500 lines on purpose: it is one public module that mirrors
objgraph's one module function for function, so that the two can be read side
by side; the heap-graph work it relies on lives in heaplens._graph.
"""

from __future__ import annotations

import collections
import gc
import io
import itertools
import operator
import sys
import tempfile
import types

from heaplens import _args, _core
from heaplens._graph import dot as _dot
from heaplens._graph import labels
from heaplens._graph.describe import GETREFCOUNT_ARGUMENT, PACKAGE_DIR, counted

# typing is not imported at run time (a memory tool imports no more than it
# needs); mypy reads TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable, Sequence
    from typing import Literal, TypedDict, TypeGuard, Unpack, cast

    from _typeshed import SupportsWrite

    from heaplens._core import HeapGraph

    # The argument types follow typeshed's stubs for objgraph (stubs/objgraph).
    _Filter = Callable[[object], bool]
    _ExtraInfo = Callable[[object], str]
    _ExtraNodeAttrs = Callable[[object], dict[str, str]]
    # What show_refs/show_backrefs return in a graphical IPython shell: a
    # graphviz.Source (graphviz has no type information), else None.
    _GraphvizSource = object
    # (highlight, extra_info, refcounts, shortnames, extra_node_attrs, single)
    _NodeOptions = tuple[
        _Filter | None, _ExtraInfo | None, bool, bool, _ExtraNodeAttrs | None, int | None
    ]

    class _NewIdsState(TypedDict, total=False):
        """get_new_ids()'s state, kept between calls."""

        old: collections.defaultdict[str, set[int]]
        current: collections.defaultdict[str, set[int]]
        new: collections.defaultdict[str, set[int]]
        shortnames: bool

    class _ShowKeywords(TypedDict, total=False):
        """The keyword arguments show_chain passes on to show_backrefs/show_refs."""

        extra_ignore: Iterable[int]
        too_many: int
        highlight: _Filter | None
        filename: str | None
        extra_info: _ExtraInfo | None
        refcounts: bool
        shortnames: bool
        output: SupportsWrite[str] | None
        extra_node_attrs: _ExtraNodeAttrs | None

    class _ChainKeywords(_ShowKeywords, total=False):
        """show_chain's keyword arguments."""

        backrefs: bool


__all__ = [
    "at",
    "at_addrs",
    "by_type",
    "count",
    "find_backref_chain",
    "find_ref_chain",
    "get_leaking_objects",
    "get_new_ids",
    "growth",
    "is_proper_module",
    "most_common_types",
    "show_backrefs",
    "show_chain",
    "show_growth",
    "show_most_common_types",
    "show_refs",
    "typestats",
]

__version__ = "3.6.2"  # the objgraph version whose behaviour this module follows

_short_typename = _dot.short_typename
_long_typename = _dot.long_typename


def _build_graph(untracked: bool, ignore: Iterable[object] = ()) -> HeapGraph:
    return _core.build_graph(ignore=ignore, skip_frames_under=PACKAGE_DIR, untracked=untracked)


# ---- counting by type --------------------------------------------------------


# Types are never hashed or compared here (a metaclass's __hash__ or __eq__
# is user code): counts come as (type, count) pairs and types are matched by
# id() while the pairs hold them.


def _type_counts(objects: Iterable[object] | None = None) -> list[tuple[type, int]]:
    """[(type, number of objects)] over `objects` (default: every object the
    collector tracks), counted in C, with types in the order they first
    appear (the order decides ties in every sorted table)."""
    if objects is not None and type(objects) is not list:
        objects = list(objects)
    return _core.count_types(objects)  # None: walked in place, no list built


def _filtered_type_counts(
    objects: Iterable[object] | None, filter: _Filter
) -> list[tuple[type, int]]:
    if objects is None:
        objects = gc.get_objects()
    kept = [o for o in objects if filter(o)]
    return _core.count_types(kept)


def _counts_by_name(counts: Iterable[tuple[type, int]], shortnames: bool) -> dict[str, int]:
    """{type name: count} from (type, count) pairs; types of the same name add up."""
    by_name: dict[str, int] = {}
    for tp, n in counts:
        name = _dot.type_name(tp, shortnames)
        by_name[name] = by_name.get(name, 0) + n
    return by_name


def _types_named(typename: str, counts: Iterable[tuple[type, int]]) -> dict[int, int]:
    """{id(type): count} of the types in `counts` whose short name (or, with
    a dot, full name) is `typename`."""
    shortnames = "." not in typename
    return {id(tp): n for tp, n in counts if _dot.type_name(tp, shortnames) == typename}


def count(typename: str, objects: Iterable[object] | None = None) -> int:
    """The number of objects tracked by the collector (or in `objects`) whose
    type is named `typename`, short ('MyClass') or qualified ('pkg.mod.MyClass')."""
    _args.text("count", "typename", typename)
    counts = _type_counts(objects)
    return sum(_types_named(typename, counts).values())


def typestats(
    objects: Iterable[object] | None = None,
    shortnames: bool = True,
    filter: _Filter | None = None,
) -> dict[str, int]:
    """{type name: number of instances} over the objects the collector tracks,
    or over `objects`. Types with the same name in different modules add up
    when `shortnames` is true. Objects for which filter(obj) is false are left out.
    """
    if filter:
        _args.callable_("typestats", "filter", filter, none=True)
        counts = _filtered_type_counts(objects, filter)
    else:
        counts = _type_counts(objects)
    return _counts_by_name(counts, shortnames)


def _by_count(pairs: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(pairs, key=operator.itemgetter(1), reverse=True)


def most_common_types(
    limit: int | None = 10,
    objects: Iterable[object] | None = None,
    shortnames: bool = True,
    filter: _Filter | None = None,
) -> list[tuple[str, int]]:
    """[(type name, count)], most common first, at most `limit` of them
    (all when `limit` is None or 0)."""
    limit = _args.count_or_none("most_common_types", "limit", limit)
    stats = _by_count(typestats(objects, shortnames=shortnames, filter=filter).items())
    return stats[:limit] if limit else stats


def show_most_common_types(
    limit: int | None = 10,
    objects: Iterable[object] | None = None,
    shortnames: bool = True,
    file: SupportsWrite[str] | None = None,
    filter: _Filter | None = None,
) -> None:
    """Print most_common_types() as a table, one "name count" line per type."""
    if file is None:
        file = sys.stdout
    stats = most_common_types(limit, objects, shortnames=shortnames, filter=filter)
    width = max(len(name) for name, _ in stats)
    for name, n in stats:
        file.write(f"{name:<{width}} {n}\n")


def growth(
    limit: int | None = 10,
    peak_stats: dict[str, int] = {},
    shortnames: bool = True,
    filter: _Filter | None = None,
) -> list[tuple[str, int, int]]:
    """[(type name, count, increase)] for the types whose count rose above the
    peak recorded in `peak_stats`, largest increase first, at most `limit`.
    Collects garbage first and records the new peaks in `peak_stats` (by
    default a dictionary kept between calls)."""
    limit = _args.count_or_none("growth", "limit", limit)
    gc.collect()
    stats = typestats(shortnames=shortnames, filter=filter)
    deltas: dict[str, int] = {}
    for name, n in stats.items():
        peak = peak_stats.get(name, 0)
        if n > peak:
            deltas[name] = n - peak
            peak_stats[name] = n
    ranked = _by_count(deltas.items())
    if limit:
        ranked = ranked[:limit]
    return [(name, stats[name], delta) for name, delta in ranked]


def show_growth(
    limit: int | None = 10,
    peak_stats: dict[str, int] | None = None,
    shortnames: bool = True,
    file: SupportsWrite[str] | None = None,
    filter: _Filter | None = None,
) -> None:
    """Print growth() as "name  count  +increase" lines; nothing when nothing grew.
    With peak_stats None, growth()'s own dictionary keeps the peaks."""
    if peak_stats is None:
        rows = growth(limit, shortnames=shortnames, filter=filter)
    else:
        rows = growth(limit, peak_stats, shortnames, filter)
    if not rows:
        return
    if file is None:
        file = sys.stdout
    width = max(len(name) for name, _, _ in rows)
    for name, n, delta in rows:
        file.write(f"{name:<{width}}{n:9d} {delta:+9d}\n")


# ---- new objects since the last call -------------------------------------------


def _ids_by_name(objects: list[object], shortnames: bool) -> dict[str, set[int]]:
    """{type name: set of id()} of `objects`, names in first-seen order."""
    by_type: collections.defaultdict[int, set[int]] = collections.defaultdict(set)
    types_by_id: dict[int, type] = {}
    for tp, address in zip(map(type, objects), map(id, objects)):
        types_by_id[id(tp)] = tp
        by_type[id(tp)].add(address)
    by_name: dict[str, set[int]] = {}
    for type_id, ids in by_type.items():
        name = _dot.type_name(types_by_id[type_id], shortnames)
        if name in by_name:
            by_name[name] |= ids
        else:
            by_name[name] = ids
    return by_name


_GET_NEW_IDS_COLUMNS = {"old": 1, "current": 2, "new": 3, "deltas": 4}


def get_new_ids(
    skip_update: bool = False,
    limit: int | None = 10,
    sortby: Literal["old", "current", "new", "deltas"] = "deltas",
    shortnames: bool | None = None,
    file: SupportsWrite[str] | None = None,
    _state: _NewIdsState = {},
) -> collections.defaultdict[str, set[int]]:
    """{type name: set of id()} of the objects created since the previous call,
    printing a table of old, current and new counts per type (at most `limit`
    rows sorted by the `sortby` column: 'old', 'current', 'new' or 'deltas';
    limit=0 prints nothing, None prints every row). skip_update=True returns
    the previous answer unchanged. shortnames=None keeps the last choice
    (True at first). The same dictionary is returned, updated, each time."""
    limit = _args.count_or_none("get_new_ids", "limit", limit)
    _args.one_of("get_new_ids", "sortby", sortby, tuple(_GET_NEW_IDS_COLUMNS))
    if not _state:
        _state["old"] = collections.defaultdict(set)
        _state["current"] = collections.defaultdict(set)
        _state["new"] = collections.defaultdict(set)
        _state["shortnames"] = True
    new_ids = _state["new"]
    if skip_update:
        return new_ids
    old_ids, current_ids = _state["old"], _state["current"]
    if shortnames is None:
        shortnames = _state["shortnames"]
    else:
        _state["shortnames"] = shortnames

    gc.collect()
    seen_now = _ids_by_name(gc.get_objects(), shortnames)
    # The current sets become the old ones by swapping the two set objects of
    # each name (no copy of what can be millions of ids, and no new sets that
    # the next call would count as new objects).
    for name in current_ids:
        old_ids[name], current_ids[name] = current_ids[name], old_ids[name]
    for name, ids in seen_now.items():
        current = current_ids[name]
        current.clear()
        current |= ids
    for name in current_ids.keys() - seen_now.keys():
        current_ids[name].clear()
    del seen_now
    for ids in new_ids.values():
        ids.clear()

    rows: list[tuple[str, int, int, int, int]] = []
    gone: list[str] = []
    for name, current in current_ids.items():
        old = old_ids[name]
        if not old and not current:
            gone.append(name)
            continue
        new = current - old
        new_ids[name].update(new)
        rows.append((name, len(old), len(current), len(new), len(current) - len(old)))
    for name in gone:
        del old_ids[name], current_ids[name], new_ids[name]

    rows.sort(key=operator.itemgetter(_GET_NEW_IDS_COLUMNS[sortby], 0), reverse=True)
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        return new_ids
    if file is None:
        file = sys.stdout
    width = max(len(row[0]) for row in rows)
    rule = "=" * (width + 13 * 4)
    lines = [rule, f"{'Type':<{width}}{'Old_ids':>13}{'Current_ids':>13}{'New_ids':>13}"]
    lines[-1] += f"{'Count_Deltas':>13}"
    lines.append(rule)
    for name, n_old, n_current, n_new, delta in rows:
        lines.append(f"{name:<{width}}{n_old:13d}{n_current:13d}{n_new:+13d}{delta:+13d}")
    lines.append(rule)
    for line in lines:
        print(line, file=file)
    return new_ids


# ---- finding objects -----------------------------------------------------------


def get_leaking_objects(objects: Iterable[object] | None = None) -> list[object]:
    """The objects (default: every object the collector tracks, after a
    collection) that no other object among them refers to: held by C code, by
    an executing frame, or leaked by a reference-counting bug."""
    # No comprehensions here: in 3.11 they make cells of this function's
    # variables, cells that exist before the graph does and would be "leaking".
    if objects is not None:
        if not isinstance(objects, (list, tuple)):
            objects = list(objects)
        referred = set(map(id, gc.get_referents(*objects)))
        unreferred = map(operator.not_, map(referred.__contains__, map(id, objects)))
        return list(itertools.compress(objects, unreferred))
    gc.collect()
    graph = _build_graph(untracked=False)
    return list(map(graph.object, graph.unreferenced(tracked_only=True)))


def by_type(typename: str, objects: Iterable[object] | None = None) -> list[object]:
    """The objects tracked by the collector (or in `objects`) whose type is named
    `typename`, short or qualified, in the collector's order."""
    _args.text("by_type", "typename", typename)
    if objects is None:
        objects = gc.get_objects()
    elif type(objects) is not list and type(objects) is not tuple:
        objects = list(objects)
    counts = _type_counts(list(objects))  # holds the types while their ids are compared
    wanted = _types_named(typename, counts)
    if not wanted:
        return []
    return list(itertools.compress(objects, map(wanted.__contains__, map(id, map(type, objects)))))


def at(addr: int) -> object:
    """The object tracked by the collector whose id() is `addr`, or None."""
    _args.integer("at", "addr", addr)
    objects = gc.get_objects()
    matches = map(operator.eq, itertools.repeat(addr), map(id, objects))
    return next(itertools.compress(objects, matches), None)


def at_addrs(address_set: Container[int]) -> list[object]:
    """The objects tracked by the collector whose id() is in `address_set`."""
    objects = gc.get_objects()
    return list(itertools.compress(objects, map(address_set.__contains__, map(id, objects))))


def is_proper_module(obj: object) -> TypeGuard[types.ModuleType]:
    """True when `obj` is a module that is the value of its own name in
    sys.modules: a root the garbage collector cannot free."""
    # type(), not inspect.ismodule(): isinstance() asks obj.__class__, which a
    # proxy in sys.modules may answer by running code.
    if not issubclass(type(obj), types.ModuleType):
        return False
    name = _core.module_str(obj)
    return name is not None and obj is sys.modules.get(name)


def _is_module_predicate(predicate: object) -> bool:
    """Whether `predicate` is is_proper_module, ours or objgraph's."""
    if predicate is is_proper_module:
        return True
    if type(predicate) is not types.FunctionType:
        return False
    name, module = predicate.__name__, predicate.__module__
    if type(name) is not str or type(module) is not str:
        return False
    return name == "is_proper_module" and module in ("objgraph", __name__)


def _module_nodes(graph: HeapGraph) -> list[int]:
    """Node ids of the proper modules of sys.modules."""
    nodes = (graph.find(m) for m in list(sys.modules.values()) if is_proper_module(m))
    return [node for node in nodes if node >= 0]


# Functions that build a graph call these rather than use comprehensions over
# it: in 3.11 a comprehension makes its variables cells, created before the
# graph and so part of it.


def _objects(graph: HeapGraph, nodes: Iterable[int]) -> list[object]:
    return list(map(graph.object, nodes))


def _goes_through(graph: HeapGraph, path: Iterable[int], addresses: set[int]) -> bool:
    """Whether the objects at any of `addresses` are on `path`."""
    return bool(addresses) and not addresses.isdisjoint(map(graph.address, path))


def _tracked_at(addresses: Container[int]) -> list[object]:
    """The objects tracked by the collector whose id() is in `addresses`, in a
    list that also holds itself (so it can be given as build_graph's ignore)."""
    held = at_addrs(addresses)
    held.append(held)
    return held


def find_ref_chain(
    obj: object, predicate: _Filter, max_depth: int = 20, extra_ignore: Iterable[int] = ()
) -> list[object]:
    """A shortest chain of references [obj, ..., x] from `obj` to an object x
    for which predicate(x) is true, at most `max_depth` references long, not
    going through objects whose id() is in `extra_ignore`; [obj] when none."""
    _args.callable_("find_ref_chain", "predicate", predicate)
    max_depth = _args.clamped("find_ref_chain", "max_depth", max_depth, limit=sys.maxsize)
    fast = _is_module_predicate(predicate)
    if not fast:
        gc.collect()  # (see find_backref_chain)
    if predicate(obj):
        return [obj]
    ignore = set(extra_ignore)
    ignore.discard(id(obj))  # the start is never skipped, as in objgraph
    if fast:
        held = _tracked_at(ignore) if ignore else ()
        graph = _build_graph(untracked=True, ignore=held)
        start = graph.find(obj)
        if start >= 0:
            path = graph.path_forward(start, _module_nodes(graph), max_depth=max_depth)
            if path is None:
                return [obj]
            if not _goes_through(graph, path, ignore):
                return [obj] + _objects(graph, path[1:])
        del graph, held
    return _search_referents(obj, predicate, max_depth, ignore)


def _search_referents(
    obj: object, predicate: _Filter, max_depth: int, ignore: set[int]
) -> list[object]:
    """Breadth-first search along gc.get_referents() (objgraph's own walk)."""
    parent: dict[int, object] = {id(obj): None}
    depth = {id(obj): 0}
    queue: collections.deque[object] = collections.deque([obj])
    ignore.update(map(id, (parent, depth, queue, ignore)))
    while queue:
        target = queue.popleft()
        if predicate(target):
            chain = [target]
            while parent[id(target)] is not None:
                target = parent[id(target)]
                chain.append(target)
            return chain[::-1]
        level = depth[id(target)]
        if level >= max_depth:
            continue
        referents = gc.get_referents(target)
        ignore.add(id(referents))
        for referent in referents:
            key = id(referent)
            if key in ignore or key in depth:
                continue
            depth[key] = level + 1
            parent[key] = target
            queue.append(referent)
        del referents
    return [obj]


def find_backref_chain(
    obj: object, predicate: _Filter, max_depth: int = 20, extra_ignore: Iterable[int] = ()
) -> list[object]:
    """A shortest chain of references [x, ..., obj] from an object x for which
    predicate(x) is true down to `obj`, at most `max_depth` references long,
    not going through objects whose id() is in `extra_ignore`; [obj] when none.

    find_backref_chain(obj, is_proper_module) answers why `obj` is alive: which
    module holds it, and through what."""
    _args.callable_("find_backref_chain", "predicate", predicate)
    max_depth = _args.clamped("find_backref_chain", "max_depth", max_depth, limit=sys.maxsize)
    fast = _is_module_predicate(predicate)
    if not fast:
        # objgraph collects first so that no chain starts at garbage. A chain
        # from a module never goes through garbage (everything on it is
        # reachable from the module), so the module search skips the
        # collection, which on a big heap costs more than the search.
        gc.collect()
    if predicate(obj):
        return [obj]
    ignore = set(extra_ignore)
    ignore.discard(id(obj))  # the start is never skipped, as in objgraph
    held = _tracked_at(ignore) if fast and ignore else ()
    graph = _build_graph(untracked=not gc.is_tracked(obj), ignore=held)
    start = graph.find(obj)
    if start < 0:
        return [obj]  # no tracked object refers to it
    if fast:
        path = graph.path_back(
            start, targets=_module_nodes(graph), max_depth=max_depth, tracked_only=True
        )
        if path is None:
            return [obj]
        if not _goes_through(graph, path, ignore):
            return _objects(graph, path[:-1]) + [obj]
    return _search_referrers(graph, obj, start, predicate, max_depth, ignore)


def _search_referrers(
    graph: HeapGraph, obj: object, start: int, predicate: _Filter, max_depth: int, ignore: set[int]
) -> list[object]:
    """Breadth-first search along the graph's reverse index, calling
    predicate() on each object reached; only collector-tracked referrers, as
    gc.get_referrers() would give them."""
    n_tracked = graph.n_tracked
    parent = {start: -1}
    depth = {start: 0}
    queue = collections.deque([start])
    while queue:
        node = queue.popleft()
        if node != start and predicate(graph.object(node)):
            chain: list[object] = []
            while node != start:
                chain.append(graph.object(node))
                node = parent[node]
            chain.append(obj)
            return chain
        level = depth[node]
        if level >= max_depth:
            continue
        for referrer in graph.referrers(node):
            if referrer >= n_tracked or referrer in depth:
                continue
            if ignore and graph.address(referrer) in ignore:
                continue
            depth[referrer] = level + 1
            parent[referrer] = node
            queue.append(referrer)
    return [obj]


# ---- drawing the graph -----------------------------------------------------------


def show_backrefs(
    objs: object,
    max_depth: int = 3,
    extra_ignore: Iterable[int] = (),
    filter: _Filter | None = None,
    too_many: int = 10,
    highlight: _Filter | None = None,
    filename: str | None = None,
    extra_info: _ExtraInfo | None = None,
    refcounts: bool = False,
    shortnames: bool = True,
    output: SupportsWrite[str] | None = None,
    extra_node_attrs: _ExtraNodeAttrs | None = None,
) -> _GraphvizSource | None:
    """Draw the objects that refer to `objs` (one object or a list), directly
    and up to `max_depth` references away, as a Graphviz graph; the walk stops
    at modules of sys.modules. See show_refs for the arguments."""
    objs = counted(objs)  # a parameter lent by the caller would not be counted
    return _show_graph(
        objs,
        backward=True,
        max_depth=max_depth,
        extra_ignore=extra_ignore,
        filter=filter,
        too_many=too_many,
        highlight=highlight,
        filename=filename,
        extra_info=extra_info,
        refcounts=refcounts,
        shortnames=shortnames,
        output=output,
        extra_node_attrs=extra_node_attrs,
    )


def show_refs(
    objs: object,
    max_depth: int = 3,
    extra_ignore: Iterable[int] = (),
    filter: _Filter | None = None,
    too_many: int = 10,
    highlight: _Filter | None = None,
    filename: str | None = None,
    extra_info: _ExtraInfo | None = None,
    refcounts: bool = False,
    shortnames: bool = True,
    output: SupportsWrite[str] | None = None,
    extra_node_attrs: _ExtraNodeAttrs | None = None,
) -> _GraphvizSource | None:
    """Draw the objects `objs` (one object or a list) refers to, directly and up
    to `max_depth` references away, as a Graphviz graph.

    `filename` (.dot, or an image such as .png/.svg rendered by graphviz) or
    `output` (a file object; not both) says where the graph goes; without
    either, xdot shows it or a .png is made. At most `too_many` references
    are drawn per object; objects for which filter(obj) is false, or whose
    id() is in `extra_ignore`, are left out. highlight(obj) true colours a node
    blue; extra_info(obj) adds a line to its label and extra_node_attrs(obj)
    Graphviz attributes; refcounts=True shows reference counts and
    shortnames=False qualified type names."""
    objs = counted(objs)  # a parameter lent by the caller would not be counted
    return _show_graph(
        objs,
        backward=False,
        max_depth=max_depth,
        extra_ignore=extra_ignore,
        filter=filter,
        too_many=too_many,
        highlight=highlight,
        filename=filename,
        extra_info=extra_info,
        refcounts=refcounts,
        shortnames=shortnames,
        output=output,
        extra_node_attrs=extra_node_attrs,
    )


def show_chain(*chains: Sequence[object], **kw: Unpack[_ChainKeywords]) -> None:
    """Draw one or more chains from find_backref_chain (or, with backrefs=False,
    from find_ref_chain): only the objects on the chains. Takes show_backrefs's
    keyword arguments (highlight, extra_info, refcounts, filename, output...)."""
    backrefs = kw.pop("backrefs", True)
    shown: _ShowKeywords = kw  # the rest, for show_backrefs/show_refs
    drawn = [chain for chain in chains if chain]
    members = {id(o) for chain in drawn for o in chain}

    def in_chains(obj: object) -> bool:
        return id(obj) in members

    max_depth = max(len(chain) for chain in drawn) - 1
    if backrefs:
        ends = [chain[-1] for chain in drawn]
        show_backrefs(ends, max_depth=max_depth, filter=in_chains, **shown)
    else:
        starts = [chain[0] for chain in drawn]
        show_refs(starts, max_depth=max_depth, filter=in_chains, **shown)


# A neighbour not fetched from the graph yet, or one that could not be (it died).
# Not None: None is an object the graphs draw like any other.
_UNFETCHED = object()
_GONE = object()


class _Visit:
    """One node of a drawn graph, as the walk met it."""

    __slots__ = ("address", "depth", "edges", "skipped")

    def __init__(self, address: int, depth: int) -> None:
        self.address = address
        self.depth = depth
        # (source address, target address, edge attributes)
        self.edges: list[tuple[int, int, str]] = []
        self.skipped = 0


class _Walk:
    """The breadth-first walk behind show_refs/show_backrefs, on one heap graph.

    Objects are keyed by id(); `known` maps it to (object, node id or -1 for
    an object the graph does not hold). The walk keeps no other reference to
    the objects, so that reference counts can be read once the graph is gone.
    """

    def __init__(self, graph: HeapGraph, backward: bool, shortnames: bool) -> None:
        self.graph = graph
        self.backward = backward
        self.shortnames = shortnames
        self.known: dict[int, tuple[object, int]] = {}

    def add(self, obj: object, node: int | None = None) -> int:
        address = id(obj)
        if address not in self.known:
            if node is None:
                node = self.graph.find(obj)
            self.known[address] = (obj, node)
        return address

    def neighbours(self, address: int) -> list[tuple[int, int, object]]:
        """[(address, node id or -1, object or _UNFETCHED)] of the referents (or
        referrers) of the object at `address`, in gc.get_referents (or
        gc.get_referrers) order. Objects are fetched when they are needed."""
        obj, node = self.known[address]
        graph = self.graph
        if node < 0:
            if self.backward:
                return []  # no object the collector tracks refers to it
            return [(id(r), graph.find(r), r) for r in gc.get_referents(obj)]
        nodes: Iterable[int]
        if self.backward:
            n_tracked = graph.n_tracked
            nodes = dict.fromkeys(n for n in graph.referrers(node) if n < n_tracked)
        else:
            nodes = graph.referents(node)
        return [(graph.address(n), n, _UNFETCHED) for n in nodes]

    def fetch(self, address: int, node: int, obj: object) -> object:
        """The object of a neighbour, or _GONE when it died."""
        if obj is not _UNFETCHED:
            return obj
        if address in self.known:
            return self.known[address][0]
        try:
            return self.graph.object(node)
        except LookupError:
            return _GONE

    def edge_attrs(self, source: int, target: int) -> str:
        """' [label=...]' for the reference from one object to another."""
        source_obj, source_node = self.known[source]
        target_obj, target_node = self.known[target]
        if source_node >= 0 and target_node >= 0:
            label = labels.label_of(self.graph, source_node, target_node)
            if label is not None:
                return _dot.engine_edge_attrs(label)
        return _dot.objgraph_edge_label(source_obj, target_obj, self.shortnames)


def _show_graph(
    objs: object,
    backward: bool,
    max_depth: int,
    extra_ignore: Iterable[int],
    filter: _Filter | None,
    too_many: int,
    highlight: _Filter | None,
    filename: str | None,
    extra_info: _ExtraInfo | None,
    refcounts: bool,
    shortnames: bool,
    output: SupportsWrite[str] | None,
    extra_node_attrs: _ExtraNodeAttrs | None,
) -> _GraphvizSource | None:
    # A single object is held, while the labels are made, by the public
    # function's argument and by the list made here: the refcount takes them off.
    function = "show_backrefs" if backward else "show_refs"
    max_depth = _args.clamped(function, "max_depth", max_depth, limit=sys.maxsize)
    too_many = _args.clamped(function, "too_many", too_many, limit=sys.maxsize)
    _args.callable_(function, "filter", filter, none=True)
    _args.callable_(function, "highlight", highlight, none=True)
    _args.callable_(function, "extra_info", extra_info, none=True)
    _args.callable_(function, "extra_node_attrs", extra_node_attrs, none=True)
    _args.path(function, "filename", filename, none=True)
    single = None
    if not issubclass(type(objs), (list, tuple)):
        single = id(objs)
        objs = [objs]
    if TYPE_CHECKING:  # a list or tuple now (tested on type(): isinstance() asks __class__)
        objs = cast("list[object] | tuple[object, ...]", objs)
    if filename and output:
        raise ValueError("Cannot specify both output and filename.")
    ignore = set(extra_ignore)
    ignore.add(id(objs))
    ignore.add(id(extra_ignore))

    gc.collect()
    untracked = not backward or not all(map(gc.is_tracked, objs))
    walk = _Walk(_build_graph(untracked=untracked), backward, shortnames)
    visits = _walk_graph(walk, objs, max_depth, ignore, filter, too_many, backward)
    # Let the graph go before reference counts are read (the walk is over).
    walk.graph = None  # type: ignore[assignment]
    known = walk.known
    del walk

    options = (highlight, extra_info, refcounts, shortnames, extra_node_attrs, single)
    lines = [_dot.HEADER]
    lines.extend(f"  {_dot.node_id(id(obj))}[fontcolor=red];\n" for obj in objs)
    for visit in visits:
        lines.append(_node_lines(visit, known, max_depth, options))
        lines.extend(
            f"  {_dot.node_id(source)} -> {_dot.node_id(target)}{attrs};\n"
            for source, target, attrs in visit.edges
        )
        if visit.skipped:
            lines.append(_too_many_lines(visit, max_depth, backward))
    lines.append(_dot.FOOTER)
    text = "".join(lines)
    del known

    if output:
        output.write(text)
        return None
    if not filename:
        graphviz = _dot.in_ipython_with_graphviz()
        if graphviz is not None:
            return graphviz.Source(text)  # type: ignore[no-any-return]  # graphviz is untyped
    if filename and filename.endswith(".dot"):
        dot_filename = filename
        with open(dot_filename, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        fd, dot_filename = tempfile.mkstemp(prefix="objgraph-", suffix=".dot", text=True)
        with io.open(fd, "w", encoding="utf-8") as f:
            f.write(text)
    print(f"Graph written to {dot_filename} ({len(visits)} nodes)")
    _dot.present(dot_filename, filename)
    return None


def _walk_graph(
    walk: _Walk,
    objs: Iterable[object],
    max_depth: int,
    ignore: set[int],
    filter: _Filter | None,
    too_many: int,
    backward: bool,
) -> list[_Visit]:
    """The walk in objgraph's order: [_Visit], one per object taken off the queue."""
    depth: dict[int, int] = {}
    queue: collections.deque[int] = collections.deque()
    for obj in objs:
        address = walk.add(obj)
        depth[address] = 0
        queue.append(address)
    obj = None
    visits: list[_Visit] = []
    while queue:
        address = queue.popleft()
        visit = _Visit(address, depth[address])
        visits.append(visit)
        if visit.depth >= max_depth:
            continue
        if backward and is_proper_module(walk.known[address][0]):
            continue  # sys.modules holds every module: going on draws all of them
        drawn = 0
        for neighbour, node, obj in walk.neighbours(address):
            if neighbour in ignore:
                continue
            if filter or drawn < too_many:
                obj = walk.fetch(neighbour, node, obj)
                if obj is _GONE:
                    continue
            if filter and not filter(obj):
                continue
            if drawn >= too_many:
                visit.skipped += 1
                continue
            walk.add(obj, node)
            source, target = (neighbour, address) if backward else (address, neighbour)
            visit.edges.append((source, target, walk.edge_attrs(source, target)))
            if neighbour not in depth:
                depth[neighbour] = visit.depth + 1
                queue.append(neighbour)
            drawn += 1
        obj = None
    return visits


def _node_lines(
    visit: _Visit, known: dict[int, tuple[object, int]], max_depth: int, options: _NodeOptions
) -> str:
    highlight, extra_info, refcounts, shortnames, extra_node_attrs, single = options
    name = _dot.node_id(visit.address)
    obj = known[visit.address][0]
    refcount: int | None = None
    if refcounts:
        # Held here: the (object, node) pair in `known`, `obj` and the
        # argument, if counted; a single object also by the list made for it
        # and the public function's (counted) parameter.
        held = 2 + GETREFCOUNT_ARGUMENT + (2 if visit.address == single else 0)
        count = sys.getrefcount(obj)  # before `obj` is passed on, which holds it once more
        refcount = _dot.refcount_label(obj, count, held)
    label = _dot.node_label(obj, extra_info, refcount, shortnames)
    lines = [f'  {name}[label="{label}"{_dot.node_attrs(obj, extra_node_attrs)}];\n']
    h, s, v = _dot.node_colour(obj, visit.depth, max_depth, highlight)
    lines.append(f'  {name}[fillcolor="{h:g},{s:g},{v:g}"];\n')
    if v < 0.5:
        lines.append(f"  {name}[fontcolor=white];\n")
    if _core.finalizer_kind(obj) == "__del__":  # not obj.__class__: it may run code
        lines.append(f"  {name}->{name}_has_a_del[color=red,style=dotted,len=0.25,weight=10];\n")
        lines.append(
            f'  {name}_has_a_del[label="__del__",shape=doublecircle,'
            f'height=0.25,color=red,fillcolor="0,.5,1",fontsize=6];\n'
        )
    return "".join(lines)


def _too_many_lines(visit: _Visit, max_depth: int, backward: bool) -> str:
    name = _dot.node_id(visit.address)
    h, s, v = _dot.gradient(*_dot.TOO_MANY_GRADIENT, visit.depth + 1, max_depth)
    if backward:
        label = f"{visit.skipped} more backreferences"
        edge = f"too_many_{name}->{name}"
    else:
        label = f"{visit.skipped} more references"
        edge = f"{name}->too_many_{name}"
    return (
        f"  {edge}[color=red,style=dotted,len=0.25,weight=10];\n"
        f'  too_many_{name}[label="{label}",shape=box,height=0.25,'
        f'color=red,fillcolor="{h:g},{s:g},{v:g}",fontsize=6];\n'
        f"  too_many_{name}[fontcolor=white];\n"
    )
