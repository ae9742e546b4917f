"""The leak hunt: run code, find what it left alive, and name what holds it.

find_leaks() calls a function warmup + repeat times; leak_check() wraps a
block. The tracer stamps each block with the measured call that allocated it
and the collector's young generation catches objects CPython reused from its
free lists (src/ext/leak_tags.h), so after a full collection the heap graph
can say which live objects each call created. A group of them (same type,
same allocation site) that survives from several calls keeps accumulating:
that is a leak. Its holder is the last object, on the shortest chain of
references from a root, that is not itself part of a leak: `module global
_cache (list)`, a dict inside a long-lived manager, an lru_cache, gc.garbage,
or nothing at all (a reference leaked by C code).

The report keeps names, numbers and text only: no reference to any object.
"""

import functools
import gc
import linecache
import os
import sys
import sysconfig
import types
from typing import List, NamedTuple, Optional

from heaplens import _args, _core
from heaplens._graph.describe import (
    PACKAGE_DIR,
    describe,
    function_name,
    module_file,
    module_name,
    type_module,
    type_name,
)
from heaplens._graph.heap import shown_indices
from heaplens._report.lines import cut, relative_path, wrap
from heaplens._report.units import format_bytes

DEFAULT_NFRAME = 32
# The type of functools.lru_cache wrappers (C's; None with the pure Python
# fallback, whose wrappers are plain functions).
_LRU_CACHE_WRAPPER = getattr(functools, "_lru_cache_wrapper", None)
if type(_LRU_CACHE_WRAPPER) is not type:
    _LRU_CACHE_WRAPPER = None
_STDLIB_DIRS = tuple(
    os.path.normcase(os.path.realpath(sysconfig.get_paths()[name])) + os.sep
    for name in ("stdlib", "platstdlib")
)


class Holder(NamedTuple):
    """What keeps leaked objects alive."""

    holder: str  # 'module global _cache (list)'
    where: Optional[str]  # the file of the module or frame it hangs from
    kind: str  # 'object', 'external' (held from C), 'uncollectable' (gc.garbage), 'frame'
    objects: int  # leaked objects it holds, directly or through other leaked objects
    per_call: float
    retained: int  # bytes that would be freed with the leaked objects it holds
    types: list  # [(type name, count)], most first
    sentence: str  # the report's first line when this holder leaks the most
    note: Optional[str]  # e.g. 'a bounded cache: at most 128 entries'
    excluded: Optional[str]  # why it is not counted as the program's leak, or None


class LeakGroup(NamedTuple):
    """Leaked objects of one type allocated at one site."""

    type: str
    module: Optional[str]
    count: int
    per_call: list  # survivors each measured call created, in call order
    size: int  # their own sys.getsizeof bytes
    retained: int  # bytes freed if they all went away
    site: Optional[str]  # 'app.py:12', the innermost frame; None when not traced
    traceback: list  # [(filename, lineno, source line or None)], oldest call first
    chain: list  # [(description, label of the reference to the next step)], root first
    holder: Optional[int]  # index into LeakReport.holders
    holder_step: Optional[int]  # index into chain of the holder
    example: str  # the object the chain leads to


class LeakReport:
    """What a leak hunt found: groups of leaked objects and what holds them.

    report.clean is True when nothing leaked. report.headline is one line that
    names the holder that leaks the most; show() prints the whole report,
    to_dict() gives it as data and save_html(path) writes it as one page.
    """

    def __init__(self, title, calls, warmup):
        self.title = title
        self.calls = calls
        self.warmup = warmup
        self.groups: List[LeakGroup] = []
        self.holders: List[Holder] = []
        self.notes: List[str] = []
        self.finished = False

    @property
    def leaks(self):
        """The groups that are the program's leaks (not a standard library cache)."""
        return [
            group
            for group in self.groups
            if group.holder is None or not self.holders[group.holder].excluded
        ]

    @property
    def clean(self):
        return self.finished and not self.leaks

    @property
    def headline(self):
        if not self.finished:
            return "the leak check has not finished yet (read the report after the block)"
        if self.clean:
            return f"no leaks: {self._what_ran()} left nothing alive that keeps accumulating"
        for holder in self.holders:
            if not holder.excluded:
                return holder.sentence
        return self.holders[0].sentence

    def _what_ran(self):
        if self.calls == 1:
            return self.title
        return f"{self.title} ({self.calls} calls after {self.warmup} warm-up)"

    def format(self, limit=10, width=100):
        """The report as text for a terminal, `width` columns wide: the
        headline first, then holders and groups (the first `limit` of each;
        None: all)."""
        limit = _args.count("LeakReport.format", "limit", limit, none=True)
        width = _args.count("LeakReport.format", "width", width, minimum=20)

        def add(text, indent=""):
            lines.extend(wrap(text, width, indent))

        lines = []
        add(self.headline, "    ")
        if not self.finished:
            return lines[0]
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
            add("     kept alive by: " + _chain_text(group.chain, group.holder_step), "       ")
        for note in self.notes:
            add(f"note: {note}", "      ")
        return "\n".join(lines)

    def show(self, limit=10, file=None):
        print(self.format(limit), file=file)

    def __str__(self):
        return self.format()

    def __repr__(self):
        return f"<heaplens.LeakReport {self.headline!r}>"

    def to_dict(self):
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

    def save_html(self, path):
        """Write the report as one self-contained HTML page (no network)."""
        from heaplens._report.html.leaks import render_leak_report

        page = render_leak_report(self.to_dict())
        with open(path, "w", encoding="utf-8") as out:
            out.write(page)
        return path


# ---- running the code --------------------------------------------------------


class _Hunt:
    """One leak hunt of n_calls measured calls; see leak_tags.h."""

    def __init__(self, n_calls, nframe, ignore=()):
        self.n_calls = n_calls
        self.ignore = tuple(ignore)
        self.started_tracer = not _core.is_tracing()
        if self.started_tracer:
            _core.start(nframe)
        self.nframe = _core.get_traceback_limit()
        self.call = 0
        self.begun = False

    def begin(self):
        _realize_log_streams()
        _collect()
        _core.leak_tags_begin(self.n_calls)
        self.begun = True
        gc.callbacks.append(_core.leak_tags_gc_callback)

    def enter_call(self):
        """Start the next measured call: after a full collection everything
        older is in the oldest generation and CPython's free lists are empty."""
        gc.collect()
        _core.leak_tags_young()  # what finalizers made during it: not the call's
        self.call += 1
        _core.leak_tags_set_call(self.call)

    def leave_call(self):
        _core.leak_tags_young()
        _core.leak_tags_set_call(0)

    def finish(self, report):
        """Collect, walk the heap and fill `report`; always ends the hunt."""
        try:
            self._remove_callback()
            _collect()
            from heaplens._graph.heap import HeapGraph

            # Whatever is young now was made after the calls (by the
            # collection's finalizers, or here): tag it as not the calls'.
            _core.leak_tags_young()
            heap = HeapGraph(ignore=(report,))
            # And what building the graph made (its arguments, such as the
            # ignore tuple and build_graph's keyword dict): a tracked object
            # from a free list would otherwise keep the stale tag of the
            # object that had its address during a call.
            _core.leak_tags_young()
            rows = heap.graph.leak_tags()
            _analyse(heap, rows, self.n_calls, report, self.ignore)
            if self.started_tracer:
                report.notes.append(
                    f"The tracer was started for this hunt with {self.nframe} frames and "
                    "stopped after it."
                )
        finally:
            self.end()

    def end(self):
        self._remove_callback()
        if self.begun:
            self.begun = False
            dropped = _core.leak_tags_end()
            if dropped:
                raise MemoryError(f"the leak hunt could not record {dropped} objects")
        if self.started_tracer:
            self.started_tracer = False
            _core.stop()

    @staticmethod
    def _remove_callback():
        while _core.leak_tags_gc_callback in gc.callbacks:
            gc.callbacks.remove(_core.leak_tags_gc_callback)


def _realize_log_streams():
    """On Python 3.11 an io.StringIO that is only written to keeps each write
    as a str in a list that only C code refers to (CPython's _PyAccu; 3.12
    writes into the StringIO's buffer). Log handlers, pytest's capture among
    them, write every record to one, and the hunt would report those strings
    as held from C. Reading at the end of a StringIO makes it keep its text in
    its buffer, and later writes go there; the text and position do not change."""
    if sys.version_info >= (3, 12):
        return
    import io
    import logging

    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        if type(stream) is io.StringIO and not stream.closed:
            position = stream.tell()
            stream.seek(0, io.SEEK_END)
            stream.readline()
            stream.seek(position)


def _collect():
    """Collect until nothing more goes (finalizers can free more next time)."""
    for _ in range(4):
        if gc.collect() == 0:
            break


def _name_of(func):
    """'app.handle' for a function, the type's name for another callable:
    read from C fields, as the callable may be a proxy."""
    if type(func) is types.FunctionType:
        module = func.__module__
        module = module if type(module) is str else None
    elif type(func) is types.MethodType and type(func.__func__) is types.FunctionType:
        module = func.__func__.__module__
        module = module if type(module) is str else None
        func = func.__func__
    else:
        module = None
    name = function_name(func)
    return f"{module}.{name}" if module and module != "__main__" else name


def find_leaks(func, *args, repeat=5, warmup=2, **kwargs):
    """See heaplens.find_leaks."""
    _args.callable_("find_leaks", "func", func)
    return run_hunt(
        lambda: func(*args, **kwargs),
        repeat=repeat,
        warmup=warmup,
        title=f"find_leaks({_name_of(func)})",
    )


def run_hunt(call, *, repeat, warmup, title, ignore=()):
    """Call call() warmup + repeat times and return the LeakReport of the
    measured calls. Holders reached from a module, a frame or an object type
    of a package in `ignore` (module name prefixes such as '_pytest') are
    listed but not counted as leaks."""
    _args.count("find_leaks", "repeat", repeat, minimum=1, maximum=1000)
    _args.count("find_leaks", "warmup", warmup)
    report = LeakReport(title, repeat, warmup)
    hunt = _Hunt(repeat, DEFAULT_NFRAME, ignore)
    try:
        for _ in range(warmup):
            call()
        hunt.begin()
        for _ in range(repeat):
            hunt.enter_call()
            try:
                call()
            finally:
                hunt.leave_call()
    except BaseException:
        hunt.end()
        raise
    hunt.finish(report)
    return report


class leak_check:
    """See heaplens.leak_check."""

    def __init__(self, nframe=DEFAULT_NFRAME):
        _args.count("leak_check", "nframe", nframe, minimum=1, maximum=_core.MAX_NFRAME)
        self.report = LeakReport("the leak_check block", 1, 0)
        self.hunt = None
        self.nframe = nframe

    def __enter__(self):
        self.hunt = _Hunt(1, self.nframe)
        try:
            self.hunt.begin()
            self.hunt.enter_call()
        except BaseException:
            self.hunt.end()
            raise
        return self.report

    def __exit__(self, exc_type, exc, tb):
        hunt, self.hunt = self.hunt, None
        try:
            hunt.leave_call()
        except BaseException:
            hunt.end()
            raise
        del exc, tb  # the exception's frames would hold the block's objects
        hunt.finish(self.report)
        if exc_type is not None:
            self.report.notes.append(
                f"The block raised {type_name(exc_type)}; its traceback was dropped before the "
                "heap was walked, so what it held is not counted."
            )
        return False


# ---- reading the heap ----------------------------------------------------------


class _Node(NamedTuple):
    node: int
    call: int
    stack: int


def _analyse(heap, rows, n_calls, report, ignore=()):
    """Group the new objects, keep those that accumulate, find their holders."""
    graph = heap.graph
    by_key = {}
    # Types are keyed by id(): hashing or comparing a class runs its
    # metaclass's __hash__ or __eq__. The graph holds every type it met.
    types_by_id = {}
    for node, call, stack in rows:
        tp = graph.type(node)
        if tp is None:
            continue
        types_by_id[id(tp)] = tp
        by_key.setdefault((id(tp), stack), []).append(_Node(node, call, stack))
    # Groups by type and innermost allocation line (stacks that differ only
    # further out are one site).
    sites = {}
    for (type_id, stack), members in by_key.items():
        site, traceback = _site_of(stack)
        sites.setdefault((type_id, site), ([], traceback))[0].extend(members)
    leaking = []
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
    holders = {}  # holder key -> data
    groups = []
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
        key = (
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

    holder_rows = []
    for key, entry in holders.items():
        holder_rows.append(_holder_row(heap, key, entry, groups, n_calls, ignore))
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


def _site_of(stack):
    """('app.py:12', [(filename, lineno, source)] oldest first) for a tracer
    stack id (None, [] for -1). Frames of heaplens and of its callers (the
    code that called find_leaks) are left out: the hunt's calls start there."""
    if stack < 0:
        return None, []
    try:
        frames, _ = _core.get_stack_traceback(stack)
    except (IndexError, MemoryError):
        return None, []
    if not frames:
        return None, []
    filename, lineno = frames[0]
    traceback = []
    for name, line in frames:  # most recent first
        if name.startswith(PACKAGE_DIR):
            break
        traceback.append((name, line, linecache.getline(name, line).strip() or None))
    traceback.reverse()
    return f"{os.path.basename(filename)}:{lineno}", traceback


def _group_row(heap, group):
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


def _merged_steps(chain, holder_step):
    """The chain's hops as (description, label) pairs, and the index of the
    hop that holds step `holder_step` (None stays None)."""
    hops = chain.hops()
    holder_hop = None
    for index, (_, _, _, first) in enumerate(hops):
        if holder_step is not None and first <= holder_step:
            holder_hop = index
    return [(description, label) for description, label, _, _ in hops], holder_hop


def _ignored_owner(heap, path, ignore):
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

    def ignored(name):
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


def _module_of_file(filename):
    for name, module in list(sys.modules.items()):
        if module_file(module) == filename:  # read from the module's dict: no code runs
            return name
    return None


def _holder_row(heap, key, entry, groups, n_calls, ignore):
    mine = [groups[i] for i in entry["groups"]]
    count = sum(len(g["members"]) for g in mine)
    types_count = {}
    for g in mine:
        name = _leaked_type_name(heap, g)
        types_count[name] = types_count.get(name, 0) + len(g["members"])
    type_rows = sorted(types_count.items(), key=lambda item: (-item[1], item[0]))
    path = entry["path"]
    # What the holder holds directly: the objects one step after it on the chains.
    direct = [
        g
        for g in mine
        if (g["holder_step"] is None and id(g["tp"]) == key[1])
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


def _amount(held_name, count, per_call, n_calls):
    """'5 new Request per call', '2.4 new Request per call on average', '3 new Request'."""
    if n_calls == 1:
        return f"{count:,} new {held_name}"
    if len(set(per_call)) == 1:
        return f"{per_call[0]:,} new {held_name} per call"
    return f"{count / n_calls:.1f} new {held_name} per call on average"


def _leaked_type_name(heap, group):
    """'Request', or 'bound method Listener.on_event' and 'function
    make.<locals>.on_done' for methods and functions."""
    tp = group["tp"]
    if tp is types.MethodType or tp is types.FunctionType:  # `in` would run __eq__
        try:
            return describe(heap.graph.object(group["example"]))
        except LookupError:
            pass
    return type_name(tp)


def _refcount_note(heap, group):
    try:
        obj = heap.graph.object(group["example"])
    except LookupError:
        return ""
    # Minus getrefcount's argument and the graph's own reference to tracked objects.
    extra = sys.getrefcount(obj) - 1 - (1 if heap.graph.is_tracked(group["example"]) else 0)
    del obj
    return f" (refcount {extra - 1} above what the heap explains)" if extra > 1 else ""


def _holder_name(heap, path):
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


def _frame_local(heap, path, holder_type):
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
                label = graph.edge_label(source, node) or ""
            except LookupError:
                continue
            if not label.startswith(("local ", "cell ")):
                continue
            name = label.split(" ", 1)[1]
            rest = _expression(graph, path[index:], start=0, first_is_root=False) or ""
            if rest.startswith(".cell_contents"):
                rest = rest[len(".cell_contents") :]
            _, code, _ = graph.frame(source)
            where = os.path.basename(code.co_filename)
            return f"local {name}{rest} of {code.co_qualname}() ({holder_type})", where, "frame"
    return None


def _expression(graph, path, start, first_is_root=True):
    """Python-like text for the references along path[start:]: `manager._connections[3]`.

    A module's `.__dict__['x']` and an object's `.__dict__['x']` read as `x` and
    `.x`; other labels are kept as they are. None when a label is unknown."""
    parts = []
    nodes = path[start:]
    previous = -1
    # A long chain reads as its ends and how many references are left out.
    for index in shown_indices(len(nodes) - 1):
        if index > previous + 1:
            parts.append(index - previous - 1)
        previous = index
        try:
            label = graph.edge_label(nodes[index], nodes[index + 1])
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
            label == ".__dict__"
            and i + 1 < len(parts)
            and isinstance(parts[i + 1], str)
            and parts[i + 1].startswith("['")
        ):
            key = parts[i + 1][2:-2]
            if key.isidentifier():
                text += ("" if (i == 0 and first_is_root) else ".") + key
            else:
                text += ".__dict__" + parts[i + 1]
            i += 2
            continue
        if i == 0 and first_is_root and label.startswith("."):
            label = label[1:]
        text += label
        i += 1
    return text


def _cache_note(heap, key, path):
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


def _in_stdlib(filename):
    if not isinstance(filename, str):
        return False
    path = os.path.normcase(os.path.realpath(filename))
    return path.startswith(_STDLIB_DIRS) and "site-packages" not in path


def _chain_text(steps, holder_step):
    parts = []
    for index, (description, label) in enumerate(steps):
        if index == holder_step:
            description += " (the holder)"
        parts.append(description if not label else f"{description} {label}")
    return " -> ".join(parts)


__all__ = ["find_leaks", "leak_check", "LeakReport", "LeakGroup", "Holder"]
