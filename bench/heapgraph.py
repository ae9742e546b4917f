"""The heap-graph rows: heaplens's heap queries next to objgraph and guppy3.

Each row is one job a memory debugger does on a whole heap, timed on the heap
that heapshape.build() makes. A tool is one way to do the row's job: a heaplens
call, or an anchor (objgraph 3.6.2, guppy3 3.1.7, a bare gc.collect()). Every
run of a tool is a fresh interpreter (heapgraph_one.py) that imports the tool,
builds the heap, then calls the tool's run function, which times the job.

    census        heaplens.census(untracked=False and True), heaplens.objgraph.typestats(),
                  objgraph.typestats(), guppy3 hpy().heap()
    growth        second show_growth() after GROW_BY new objects, and
                  heaplens.growth_since(mark); also a bare gc.collect()
    common_types  show_most_common_types()
    build         heaplens._core.build_graph(): time, nbytes, peak RSS delta
    backref       find_backref_chain(obj, is_proper_module), heaplens.why_alive(obj),
                  HeapGraph().why_alive(obj) after the build
    cycles        the strongly connected components of a built graph
    retained      dominators and retained sizes of every object (the first
                  retained() of a built graph) / guppy3's domisize of one object
    top_retainers heaplens.top_retainers(10) on a built graph (the dominators
                  included), on the 10M-object heap
    chain         heap queries on a linked list of DEEP_OBJECTS objects (and the
                  same list closed into one cycle): why_alive(tail),
                  top_retainers(10), cycles(), each after one build; the run
                  builds the list itself, next to a small heapshape heap

A heaplens name that does not exist yet (the engine is young) makes its tool
unavailable with the reason "missing: <name>"; the report then shows
"n/a (missing: <name>)" instead of a time.
"""

import contextlib
import importlib
import inspect
import io
import time
from dataclasses import dataclass

import availability
import heapshape

ROWS = (
    "census",
    "growth",
    "common_types",
    "build",
    "backref",
    "cycles",
    "retained",
    "top_retainers",
    "chain",
)

# Tracked objects in the heap of each row. The build row is sized in objects
# of any kind (10M, with the strings and ints the tracked ones hold), the
# others in GC-tracked objects, as objgraph counts them.
SIZES = {
    "census": 10_000_000,
    "growth": 2_000_000,
    "common_types": 2_000_000,
    "build": heapshape.tracked_for_objects(10_000_000),
    "backref": 10_000_000,
    "cycles": heapshape.tracked_for_objects(10_000_000),
    "retained": heapshape.tracked_for_objects(10_000_000),
    "top_retainers": heapshape.tracked_for_objects(10_000_000),
    "chain": 10_000,  # the list of DEEP_OBJECTS is the heap that counts
}
QUICK_SIZES = {
    "census": 200_000,
    "growth": 200_000,
    "common_types": 200_000,
    "build": heapshape.tracked_for_objects(200_000),
    "backref": 200_000,
    "cycles": heapshape.tracked_for_objects(200_000),
    "retained": heapshape.tracked_for_objects(200_000),
    "top_retainers": heapshape.tracked_for_objects(200_000),
    "chain": 10_000,
}
# Objects in the chain row's linked list (and cycle): one quadratic step per
# object would never finish.
DEEP_OBJECTS = 10_000_000
GROW_BY = 5_000  # tracked objects added between the two growth calls

HEAPLENS = "heaplens"
OBJGRAPH = "objgraph"
GUPPY = "guppy3"
REFERENCE = "reference"
# Each side's package, as pip names it, and its top-level module.
PACKAGES = {
    HEAPLENS: ("heaplens", "heaplens"),
    OBJGRAPH: ("objgraph", "objgraph"),
    GUPPY: ("guppy3", "guppy"),
}

# The measurements a run may report, in the order the report lists them, and
# what the report appends to the tool's label for each. CALL is the job itself.
# A run may name a measurement's call itself ("labels" in its result).
CALL = "call"
AFTER_BUILD = "after_build"
PARTITION = "partition"
METRICS = {
    CALL: "",
    AFTER_BUILD: ", after one build",
    PARTITION: ", then str() of it",
}


class Missing(Exception):
    """A heaplens name a tool needs does not exist (yet); str() is the name."""


@dataclass(frozen=True)
class Tool:
    row: str
    name: str  # unique in its row; given to heapgraph_one.py
    side: str  # HEAPLENS, OBJGRAPH, GUPPY or REFERENCE
    label: str  # what the report calls it until a run says which call it made
    resolve: object  # () -> (label, run); raises Missing or ImportError
    target: float | None = None  # seconds, for the heaplens tools that have one
    target_metric: str = "call"  # the measurement the target is for
    full_size_runs: int | None = None  # at most this many runs at full size

    @property
    def key(self):
        return f"{self.row}/{self.name}"


def _timed(function, *args):
    """Return (function(*args), the seconds it took)."""
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def _printing(function):
    """Return a no-argument call of a show_* function that returns what it printed.

    The text goes to a StringIO, through the function's file= parameter when it
    has one, else through a redirected stdout.
    """
    if "file" in inspect.signature(function).parameters:

        def call():
            sink = io.StringIO()
            function(file=sink)
            return sink.getvalue()

    else:

        def call():
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink):
                function()
            return sink.getvalue()

    return call


def _attribute(value, path):
    """Return value.<path> (dotted); raise Missing("heaplens.<...>") when absent."""
    shown = value.__name__
    for part in path.split("."):
        shown += "." + part
        if not hasattr(value, part):
            raise Missing(shown)
        value = getattr(value, part)
    return value


def _heaplens():
    return importlib.import_module("heaplens")


def _heaplens_objgraph():
    try:
        return importlib.import_module("heaplens.objgraph")
    except ModuleNotFoundError as exc:
        if exc.name == "heaplens.objgraph":
            raise Missing("heaplens.objgraph") from None
        raise


def _describe(result):
    """Return a short, JSON-able description of a query's result, for sanity checks."""
    if isinstance(result, (list, tuple)):
        return {"type": type(result).__name__, "len": len(result)}
    if isinstance(result, dict):
        return {"type": "dict", "len": len(result)}
    return {"type": type(result).__name__, "text": str(result)[:200]}


# census -------------------------------------------------------------------


def _census_heaplens(untracked):
    """heaplens.census(untracked=...) in its own process: untracked=False is the
    collector's view (what objgraph.typestats() counts), True every object."""

    def resolve():
        heaplens = _heaplens()
        if not hasattr(heaplens, "census"):
            raise Missing("heaplens.census")
        census = heaplens.census

        def run():
            result, seconds = _timed(lambda: census(untracked=untracked))
            return {"times": {CALL: seconds}, "info": {"result": _describe(result)}}

        return f"heaplens.census(untracked={untracked})", run

    return resolve


def census_heaplens_objgraph():
    objgraph = _heaplens_objgraph()

    def run():
        result, seconds = _timed(objgraph.typestats)
        return {"times": {CALL: seconds}, "info": {"types": len(result)}}

    return "heaplens.objgraph.typestats()", run


def census_objgraph():
    objgraph = importlib.import_module("objgraph")

    def run():
        result, seconds = _timed(objgraph.typestats)
        return {"times": {CALL: seconds}, "info": {"types": len(result)}}

    return "objgraph.typestats()", run


def census_guppy():
    from guppy import hpy

    def run():
        heap, seconds = _timed(lambda: hpy().heap())
        table, partition_seconds = _timed(str, heap)
        return {
            "times": {CALL: seconds, PARTITION: partition_seconds},
            "info": {"objects": heap.count, "first_lines": table.splitlines()[:2]},
        }

    return "guppy3 hpy().heap()", run


# growth -------------------------------------------------------------------


def _second_growth(show_growth):
    """Return a run: call show_growth, add GROW_BY objects, time a second call."""
    call = _printing(show_growth)

    def run():
        call()  # records the peak counts
        heapshape.grow(GROW_BY)
        text, seconds = _timed(call)
        return {"times": {CALL: seconds}, "info": {"printed": text.splitlines()[:3]}}

    return run


def growth_heaplens_objgraph():
    module = _heaplens_objgraph()
    show_growth = _attribute(module, "show_growth")
    return "heaplens.objgraph.show_growth()", _second_growth(show_growth)


def growth_heaplens_mark():
    heaplens = _heaplens()
    growth_since = _attribute(heaplens, "growth_since")
    if hasattr(heaplens, "mark"):
        make_mark, label = heaplens.mark, "heaplens.growth_since(heaplens.mark())"
    elif hasattr(heaplens, "Mark"):
        make_mark, label = heaplens.Mark, "heaplens.growth_since(heaplens.Mark())"
    else:
        raise Missing("heaplens.mark")

    def run():
        mark = make_mark()
        heapshape.grow(GROW_BY)
        result, seconds = _timed(growth_since, mark)
        return {"times": {CALL: seconds}, "info": {"result": _describe(result)}}

    return label, run


def growth_objgraph():
    objgraph = importlib.import_module("objgraph")
    return "objgraph.show_growth()", _second_growth(objgraph.show_growth)


def growth_gc_collect():
    import gc

    def run():
        heapshape.grow(GROW_BY)
        _, seconds = _timed(gc.collect)
        return {"times": {CALL: seconds}, "info": {}}

    return "gc.collect() alone (objgraph's growth forces one)", run


# common_types -------------------------------------------------------------


def _common_types(show_most_common_types):
    call = _printing(show_most_common_types)

    def run():
        text, seconds = _timed(call)
        return {"times": {CALL: seconds}, "info": {"printed": text.splitlines()[:3]}}

    return run


def common_types_heaplens_objgraph():
    module = _heaplens_objgraph()
    show = _attribute(module, "show_most_common_types")
    return "heaplens.objgraph.show_most_common_types()", _common_types(show)


def common_types_objgraph():
    objgraph = importlib.import_module("objgraph")
    return "objgraph.show_most_common_types()", _common_types(objgraph.show_most_common_types)


# build --------------------------------------------------------------------


def _status_kib(field):
    """Return a VmXXX field of /proc/self/status, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def _reset_peak_rss():
    """Reset the peak-RSS mark of this process (Linux 4.0+); return whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") <= _status_kib("VmRSS") + 1024


def build_heaplens():
    heaplens = _heaplens()
    build_graph = _attribute(heaplens._core, "build_graph")

    def run():
        reset = _reset_peak_rss()
        rss_before = _status_kib("VmRSS")
        graph, seconds = _timed(build_graph)
        peak_delta = _status_kib("VmHWM") - rss_before
        info = {
            name: getattr(graph, name, None)
            for name in ("n_nodes", "n_edges", "n_tracked", "nbytes")
        }
        info["peak_rss_delta_kib"] = peak_delta
        info["peak_rss_exact"] = reset
        return {"times": {CALL: seconds}, "info": info}

    return "heaplens._core.build_graph()", run


# backref ------------------------------------------------------------------


def _chain_info(chain):
    """Return what a backref query found: the types along a list, else its text."""
    if isinstance(chain, list):
        return {"chain": [type(link).__name__ for link in chain]}
    return {"chain_text": str(chain)[:400]}


def backref_heaplens_objgraph():
    module = _heaplens_objgraph()
    find = _attribute(module, "find_backref_chain")
    is_proper_module = _attribute(module, "is_proper_module")

    def run():
        obj = heapshape.target()  # a local: only the heap holds it
        chain, seconds = _timed(find, obj, is_proper_module)
        return {"times": {CALL: seconds}, "info": _chain_info(chain)}

    return "heaplens.objgraph.find_backref_chain(obj, is_proper_module)", run


def backref_why_alive():
    """heaplens.why_alive(obj), then HeapGraph() and its why_alive(obj) after the build."""
    heaplens = _heaplens()
    why_alive = _attribute(heaplens, "why_alive")
    heap_graph = _attribute(heaplens, "HeapGraph")

    def run():
        obj = heapshape.target()  # a local: only the heap holds it
        _, seconds = _timed(why_alive, obj)
        graph, build_seconds = _timed(heap_graph)
        chain, after_seconds = _timed(graph.why_alive, obj)
        return {
            "times": {CALL: seconds, AFTER_BUILD: after_seconds},
            "labels": {AFTER_BUILD: "heaplens.HeapGraph().why_alive(obj), after one build"},
            "info": {"heap_graph_seconds": build_seconds, **_chain_info(chain)},
        }

    return "heaplens.why_alive(obj)", run


def backref_objgraph():
    objgraph = importlib.import_module("objgraph")

    def run():
        obj = heapshape.target()  # a local: only the heap holds it
        chain, seconds = _timed(objgraph.find_backref_chain, obj, objgraph.is_proper_module)
        return {"times": {CALL: seconds}, "info": _chain_info(chain)}

    return "objgraph.find_backref_chain(obj, is_proper_module)", run


# cycles and retained sizes -----------------------------------------------------


def cycles_heaplens():
    """The strongly connected components of a built graph (the walk timed apart)."""
    heaplens = _heaplens()
    heap_graph = _attribute(heaplens, "HeapGraph")

    def run():
        heap, build_seconds = _timed(heap_graph)
        found, seconds = _timed(heap.graph.cycles)
        return {
            "times": {CALL: seconds},
            "info": {
                "heap_graph_seconds": build_seconds,
                "n_nodes": heap.graph.n_nodes,
                "n_edges": heap.graph.n_edges,
                "cycles": len(found),
                "largest": max(map(len, found), default=0),
            },
        }

    return "HeapGraph().graph.cycles(), after one build", run


def retained_heaplens():
    """Dominators and retained sizes of every object (the first retained query)."""
    heaplens = _heaplens()
    heap_graph = _attribute(heaplens, "HeapGraph")

    def run():
        obj = heapshape.target()
        heap, build_seconds = _timed(heap_graph)
        node = heap.graph.find(obj)
        size, seconds = _timed(heap.graph.retained, node)
        return {
            "times": {CALL: seconds},
            "info": {"heap_graph_seconds": build_seconds, "retained": size},
        }

    return "HeapGraph().graph.retained(obj): all dominators, after one build", run


def top_retainers_heaplens():
    """top_retainers(10) after one build: dominators and the one pass that picks
    the outermost retainers."""
    heaplens = _heaplens()
    heap_graph = _attribute(heaplens, "HeapGraph")
    from heaplens._graph import retained as _retained

    def run():
        heap, build_seconds = _timed(heap_graph)
        report, seconds = _timed(_retained.top_retainers, 10, heap)
        return {
            "times": {CALL: seconds},
            "info": {
                "heap_graph_seconds": build_seconds,
                "n_nodes": heap.graph.n_nodes,
                "top": [row.retained for row in report],
            },
        }

    return "heaplens.top_retainers(10), after one build", run


class _Link:
    __slots__ = ("next",)


def _linked_list(n):
    """(head, tail) of a new list of n links; the caller holds only what it keeps."""
    head = tail = _Link()
    for _ in range(n - 1):
        link = _Link()
        tail.next = link
        tail = link
    return head, tail


def _chain_query(name, query, close):
    """A chain-row tool: build DEEP_OBJECTS links (a cycle when close), build the
    graph, then time query(heap, head, tail)."""

    def resolve():
        heaplens = _heaplens()
        heap_graph = _attribute(heaplens, "HeapGraph")

        def run():
            head, tail = _linked_list(DEEP_OBJECTS)
            heapshape.HEAP["chain"] = head
            if close:
                tail.next = head
            heap, build_seconds = _timed(heap_graph)
            result, seconds = _timed(query, heap, head, tail)
            del tail
            return {
                "times": {CALL: seconds},
                "info": {
                    "heap_graph_seconds": build_seconds,
                    "n_nodes": heap.graph.n_nodes,
                    "result": str(result)[:300],
                },
            }

        return name, run

    return resolve


def _why_tail(heap, head, tail):
    chain = heap.why_alive(tail)
    return f"{len(chain.steps)} steps shown, {chain.omitted:,} left out"


def _top_of(heap, head, tail):
    from heaplens._graph import retained as _retained

    return [row.retained for row in _retained.top_retainers(10, heap)]


def _cycles_of(heap, head, tail):
    from heaplens._graph import cycles as _cycles

    return _cycles.cycles(heap).format(limit=1)


def retained_guppy():
    from guppy import hpy

    def run():
        obj = heapshape.target()
        size, seconds = _timed(lambda: hpy().iso(obj).domisize)
        return {"times": {CALL: seconds}, "info": {"retained": size}}

    return "guppy3 hpy().iso(obj).domisize", run


# --------------------------------------------------------------------------

TOOLS = (
    Tool(
        "census",
        "heaplens",
        HEAPLENS,
        "heaplens.census(untracked=False)",
        _census_heaplens(untracked=False),
        target=1.0,
    ),
    Tool(
        "census",
        "heaplens.objgraph",
        HEAPLENS,
        "heaplens.objgraph.typestats()",
        census_heaplens_objgraph,
    ),
    Tool(
        "census",
        "heaplens-all",
        HEAPLENS,
        "heaplens.census(untracked=True)",
        _census_heaplens(untracked=True),
    ),
    Tool("census", "objgraph", OBJGRAPH, "objgraph.typestats()", census_objgraph),
    # guppy3 takes over a minute on 10M objects: once at full size.
    Tool("census", "guppy3", GUPPY, "guppy3 hpy().heap()", census_guppy, full_size_runs=1),
    Tool(
        "cycles",
        "heaplens",
        HEAPLENS,
        "HeapGraph().graph.cycles()",
        cycles_heaplens,
        target=3.0,
    ),
    Tool(
        "retained",
        "heaplens",
        HEAPLENS,
        "HeapGraph().graph.retained(obj)",
        retained_heaplens,
        target=5.0,
    ),
    Tool(
        "retained",
        "guppy3",
        GUPPY,
        "guppy3 hpy().iso(obj).domisize",
        retained_guppy,
        full_size_runs=1,
    ),
    Tool(
        "top_retainers",
        "heaplens",
        HEAPLENS,
        "heaplens.top_retainers(10)",
        top_retainers_heaplens,
        target=5.0,
    ),
    Tool(
        "chain",
        "why_alive",
        HEAPLENS,
        "HeapGraph().why_alive(tail)",
        _chain_query("HeapGraph().why_alive(tail of the list), after one build", _why_tail, False),
        target=5.0,
    ),
    Tool(
        "chain",
        "top_retainers",
        HEAPLENS,
        "top_retainers(10)",
        _chain_query("top_retainers(10) on the list, after one build", _top_of, False),
        target=10.0,
    ),
    Tool(
        "chain",
        "cycles",
        HEAPLENS,
        "cycles()",
        _chain_query(
            "cycles() with the list closed into a cycle, after one build", _cycles_of, True
        ),
        target=10.0,
    ),
    Tool(
        "growth",
        "heaplens.objgraph",
        HEAPLENS,
        "heaplens.objgraph.show_growth()",
        growth_heaplens_objgraph,
        target=0.05,
    ),
    Tool(
        "growth",
        "growth_since",
        HEAPLENS,
        "heaplens.growth_since(mark)",
        growth_heaplens_mark,
        target=0.05,
    ),
    Tool("growth", "objgraph", OBJGRAPH, "objgraph.show_growth()", growth_objgraph),
    Tool("growth", "gc.collect", REFERENCE, "gc.collect() alone", growth_gc_collect),
    Tool(
        "common_types",
        "heaplens.objgraph",
        HEAPLENS,
        "heaplens.objgraph.show_most_common_types()",
        common_types_heaplens_objgraph,
    ),
    Tool(
        "common_types",
        "objgraph",
        OBJGRAPH,
        "objgraph.show_most_common_types()",
        common_types_objgraph,
    ),
    Tool("build", "heaplens", HEAPLENS, "heaplens._core.build_graph()", build_heaplens, target=5.0),
    Tool(
        "backref",
        "heaplens.objgraph",
        HEAPLENS,
        "heaplens.objgraph.find_backref_chain(obj, is_proper_module)",
        backref_heaplens_objgraph,
    ),
    Tool(
        "backref",
        "why_alive",
        HEAPLENS,
        "heaplens.why_alive(obj)",
        backref_why_alive,
        target=1.0,
        target_metric=AFTER_BUILD,
    ),
    Tool(
        "backref",
        "objgraph",
        OBJGRAPH,
        "objgraph.find_backref_chain(obj, is_proper_module)",
        backref_objgraph,
    ),
)

# The byte budget of a heap graph: per node, and per edge.
BYTES_PER_NODE = 40
BYTES_PER_EDGE = 8


def tool(row, name):
    """Return the Tool of that row and name; KeyError if there is none."""
    for candidate in TOOLS:
        if candidate.row == row and candidate.name == name:
            return candidate
    raise KeyError(f"{row}/{name}")


def sizes(quick):
    return QUICK_SIZES if quick else SIZES


def runs_for(tool, repeat, quick):
    """Return how many runs the tool gets: repeat, capped at full size for slow anchors."""
    if quick or tool.full_size_runs is None:
        return repeat
    return min(repeat, tool.full_size_runs)


def unavailable_reason(tool):
    """Return why the tool cannot run here ("missing: heaplens.census", ...), or None."""
    try:
        tool.resolve()
    except Missing as exc:
        return f"missing: {exc}"
    except Exception as exc:  # noqa: BLE001 - a broken build can raise more than ImportError
        package, module = PACKAGES.get(tool.side, (tool.name, tool.name))
        return availability.import_failure(package, module, exc)
    return None
