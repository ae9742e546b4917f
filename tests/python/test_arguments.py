"""Bad arguments to the public API (issue 15, defect 9).

Each public function that takes a count, a limit, a callable, a file name or
a choice is called with a negative number, a huge one, a str, None, a bool
and a float. Each must either work (a huge count means "all": it is clamped,
never allocated) or raise TypeError (wrong type) or ValueError (wrong value)
with a message that names the argument. Before the fix top_retainers(10**9)
raised MemoryError, top_retainers(-1) returned a row and top_retainers('a')
raised a TypeError about comparing str and int.

heaplens.tracemalloc raises what the standard library's tracemalloc raises for
the same call; heaplens.objgraph keeps objgraph's results for valid calls
(limit None or 0 for all rows, a limit past the number of rows).
"""

import gc
import io
import os
import tracemalloc as std_tracemalloc

import pytest
from isolated import run_isolated

import heaplens
import heaplens.objgraph as hog
import heaplens.tracemalloc as hl_tracemalloc

HUGE = 10**30
NEGATIVE, STR, NONE, BOOL, FLOAT = -1, "a", None, True, 1.5
OK = None  # the call works

# What each kind of argument does with each bad value.
COUNT = {NEGATIVE: ValueError, HUGE: OK, STR: TypeError, NONE: TypeError, BOOL: TypeError,
         FLOAT: TypeError}  # fmt: skip
COUNT_OR_NONE = {**COUNT, NONE: OK}
BOUNDED = {**COUNT, HUGE: ValueError}
WRONG_TYPE = {NEGATIVE: TypeError, HUGE: TypeError, STR: TypeError, NONE: TypeError,
              BOOL: TypeError, FLOAT: TypeError}  # fmt: skip
CALLABLE = WRONG_TYPE
CALLABLE_OR_NONE = {**CALLABLE, NONE: OK}
CHOICE = dict.fromkeys(WRONG_TYPE, ValueError)  # not one of the names it takes
TEXT = {NEGATIVE: TypeError, HUGE: TypeError, STR: OK, NONE: TypeError, BOOL: TypeError,
        FLOAT: TypeError}  # fmt: skip


def _leaks():
    report = heaplens.find_leaks(lambda: None, repeat=1, warmup=0)
    return report


def _gc_report():
    with heaplens.gc_monitor() as monitor:
        gc.collect()
    return monitor.report


def _stop_after(function):
    def call(value):
        try:
            return function(value)
        finally:
            if heaplens.is_tracing():
                heaplens.stop()

    return call


# (label, argument name, call taking the value, expected per value)
CASES = [
    # A huge n (every row, each with its chain) runs in a fresh interpreter
    # below: this one's heap holds every earlier test's objects.
    ("top_retainers", "n", lambda v: heaplens.top_retainers(v), {**COUNT, HUGE: "skip"}),
    ("start", "nframe", _stop_after(lambda v: heaplens.start(v)), BOUNDED),
    ("start", "sample_rate", _stop_after(lambda v: heaplens.start(1, sample_rate=v)), BOUNDED),
    ("leak_check", "nframe", lambda v: heaplens.leak_check(v), BOUNDED),
    ("find_leaks", "repeat", lambda v: heaplens.find_leaks(lambda: None, repeat=v), BOUNDED),
    (
        "find_leaks",
        "warmup",
        lambda v: heaplens.find_leaks(int, repeat=1, warmup=v),
        {**BOUNDED, HUGE: "skip"},
    ),  # fmt: skip
    ("find_leaks", "func", lambda v: heaplens.find_leaks(v), CALLABLE),
    ("slots_advice", "min_instances", lambda v: heaplens.slots_advice(v), COUNT),
    (
        "growth_since",
        "limit",
        lambda v: heaplens.growth_since(heaplens.Mark(), limit=v),
        COUNT_OR_NONE,
    ),  # fmt: skip
    ("growth_since", "mark", lambda v: heaplens.growth_since(v), WRONG_TYPE),
    (
        "Census.format",
        "limit",
        lambda v: heaplens.census(untracked=False).format(v),
        COUNT_OR_NONE,
    ),  # fmt: skip
    ("CycleReport.format", "limit", lambda v: heaplens.cycles().format(v), COUNT_OR_NONE),
    ("LeakReport.format", "limit", lambda v: _leaks().format(limit=v), COUNT_OR_NONE),
    (
        "LeakReport.format",
        "width",
        lambda v: _leaks().format(width=v),
        {**COUNT_OR_NONE, HUGE: "skip"},
    ),  # fmt: skip
    (
        "HeapGraph",
        "ignore",
        lambda v: heaplens.HeapGraph(ignore=v),
        {**WRONG_TYPE, NONE: TypeError},
    ),
    ("GcReport.format", "limit", lambda v: _gc_report().format(v), COUNT_OR_NONE),
    ("show_cycle", "filename", lambda v: heaplens.show_cycle(object(), v), TEXT),
    (
        "why_alive",
        "max_depth",
        lambda v: heaplens.HeapGraph().why_alive([], v),
        {**COUNT, NEGATIVE: OK},
    ),  # fmt: skip
    ("most_common_types", "limit", lambda v: hog.most_common_types(v), COUNT_OR_NONE),
    (
        "show_most_common_types",
        "limit",
        lambda v: hog.show_most_common_types(v, file=io.StringIO()),
        COUNT_OR_NONE,
    ),  # fmt: skip
    ("growth", "limit", lambda v: hog.growth(v), COUNT_OR_NONE),
    ("show_growth", "limit", lambda v: hog.show_growth(v, file=io.StringIO()), COUNT_OR_NONE),
    (
        "get_new_ids",
        "limit",
        lambda v: hog.get_new_ids(limit=v, file=io.StringIO()),
        COUNT_OR_NONE,
    ),  # fmt: skip
    (
        "get_new_ids",
        "sortby",
        lambda v: hog.get_new_ids(sortby=v, file=io.StringIO()),
        CHOICE,
    ),  # fmt: skip
    ("count", "typename", lambda v: hog.count(v), TEXT),
    ("by_type", "typename", lambda v: hog.by_type(v), TEXT),
    ("at", "addr", lambda v: hog.at(v), {**TEXT, STR: TypeError, NEGATIVE: OK, HUGE: OK}),
    (
        "find_backref_chain",
        "max_depth",
        lambda v: hog.find_backref_chain([], hog.is_proper_module, max_depth=v),
        COUNT,
    ),  # fmt: skip
    ("find_backref_chain", "predicate", lambda v: hog.find_backref_chain([], v), CALLABLE),
    (
        "find_ref_chain",
        "max_depth",
        lambda v: hog.find_ref_chain([], callable, max_depth=v),
        COUNT,
    ),  # fmt: skip
    ("find_ref_chain", "predicate", lambda v: hog.find_ref_chain([], v), CALLABLE),
    (
        "show_refs",
        "max_depth",
        lambda v: hog.show_refs([[]], max_depth=v, output=io.StringIO()),
        COUNT,
    ),  # fmt: skip
    (
        "show_backrefs",
        "too_many",
        lambda v: hog.show_backrefs([[]], too_many=v, max_depth=1, output=io.StringIO()),
        COUNT,
    ),  # fmt: skip
    (
        "show_refs",
        "filter",
        lambda v: hog.show_refs([[]], filter=v, output=io.StringIO()),
        CALLABLE_OR_NONE,
    ),  # fmt: skip
    (
        "show_refs",
        "highlight",
        lambda v: hog.show_refs([[]], highlight=v, output=io.StringIO()),
        CALLABLE_OR_NONE,
    ),  # fmt: skip
    (
        "show_refs",
        "filename",
        lambda v: hog.show_refs([[]], filename=v if v is not STR else os.devnull),
        {**TEXT, NONE: "skip", STR: "skip"},
    ),  # fmt: skip
]


def _params():
    for label, name, call, expected in CASES:
        for value, outcome in expected.items():
            if outcome == "skip":
                continue
            yield pytest.param(label, name, call, value, outcome, id=f"{label}-{name}-{value!r:.8}")


@pytest.mark.parametrize("label, name, call, value, outcome", list(_params()))
def test_bad_argument(label, name, call, value, outcome, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # show_cycle and show_refs may write files
    if outcome is OK:
        call(value)
        return
    with pytest.raises(outcome) as raised:
        call(value)
    assert name in str(raised.value), str(raised.value)


def test_top_retainers_huge_count_is_all_rows():
    """10**9 rows (10**30 too) is every row: no allocation of that size (it
    was a MemoryError); the graph gives the same ids as for a count just past
    what exists."""
    out = run_isolated(
        """
        import heaplens
        from heaplens._graph.retained import top_retainers

        heap = heaplens.HeapGraph()
        ids = heap.graph.top_retainers(10**30)
        assert 0 < len(ids) < 10**6
        assert heap.graph.top_retainers(len(ids) + 1) == ids
        assert heap.graph.top_retainers(len(ids) - 1) == ids[:-1]
        everything = top_retainers(10**9, heap=heap)
        # Every row but the untracked objects freed since the walk.
        assert 0 < len(everything) <= len(ids)
        assert [row.retained for row in everything[:10]] == [
            heap.graph.retained(node) for node in ids[:10]
        ]
        assert top_retainers(0, heap=heap) == []
        assert len(heaplens.top_retainers(10**30)) > 0
        print("ok")
        """
    )
    assert out.split() == ["ok"]


def test_graph_top_retainers_checks_its_arguments():
    graph = heaplens.HeapGraph().graph
    with pytest.raises(ValueError, match="k must be 0 or more"):
        graph.top_retainers(-1)
    with pytest.raises(TypeError, match="k must be an int, not bool"):
        graph.top_retainers(True)
    assert len(graph.top_retainers(HUGE)) >= 1
    with pytest.raises(IndexError):
        graph.top_retainers(1, [graph.n_nodes])


# ---- heaplens.tracemalloc raises what tracemalloc raises -----------------------


def _outcome(call):
    try:
        call()
    except Exception as error:
        return type(error)
    return OK


@pytest.mark.parametrize("value", [NEGATIVE, 0, 65536, HUGE, STR, NONE, BOOL, FLOAT])
def test_tracemalloc_start_matches_the_stdlib(value):
    def run(module):
        def call():
            try:
                module.start(value)
            finally:
                module.stop()

        return _outcome(call)

    assert run(hl_tracemalloc) is run(std_tracemalloc)


@pytest.fixture(scope="module")
def snapshots():
    std_tracemalloc.start()
    std_snapshot = std_tracemalloc.take_snapshot()
    std_tracemalloc.stop()
    hl_tracemalloc.start()
    hl_snapshot = hl_tracemalloc.take_snapshot()
    hl_tracemalloc.stop()
    return std_snapshot, hl_snapshot


@pytest.mark.parametrize("value", [NEGATIVE, HUGE, STR, NONE, BOOL, FLOAT, "lineno"])
def test_tracemalloc_snapshot_methods_match_the_stdlib(snapshots, value):
    std_snapshot, hl_snapshot = snapshots
    methods = ["statistics"]
    if not isinstance(value, str):
        # A str of filters: the stdlib fails on its first character with an
        # AttributeError it never meant; heaplens says TypeError and why.
        methods.append("filter_traces")
    for method in methods:
        ours = _outcome(lambda: getattr(hl_snapshot, method)(value))
        theirs = _outcome(lambda: getattr(std_snapshot, method)(value))
        assert ours is theirs, (method, value)
    ours = _outcome(lambda: hl_snapshot.statistics("lineno", cumulative=value))
    theirs = _outcome(lambda: std_snapshot.statistics("lineno", cumulative=value))
    assert ours is theirs


# ---- heaplens.objgraph keeps objgraph's answers to valid calls ---------------------


def test_objgraph_limits_as_objgraph_reads_them():
    objgraph = pytest.importorskip("objgraph")
    for module in (objgraph, hog):
        assert len(module.most_common_types(limit=3)) == 3
        everything = len(module.most_common_types(limit=None))
        assert len(module.most_common_types(limit=0)) == everything  # 0: all
        assert len(module.most_common_types(limit=HUGE)) == everything
        module.growth(limit=None)  # the peaks are recorded
        assert module.growth(limit=HUGE) == []
    for module in (objgraph, hog):
        out = io.StringIO()
        module.get_new_ids(limit=0, file=out)  # 0 prints nothing
        assert out.getvalue() == ""
