"""heaplens.tracemalloc's API: functions, errors and classes, checked against
the stdlib's tracemalloc wherever both can be given the same input.

Value classes and Snapshot logic are compared on identical raw trace tuples
(both modules accept Snapshot(traces, traceback_limit)), including traces
captured by heaplens, so the C grouping and filtering meet the stdlib's own
Python implementation on real data.
"""

import pickle
import subprocess
import sys
import tracemalloc as std

import pytest

import heaplens
import heaplens.tracemalloc as hl
from heaplens import _core
from conftest import KEY_TYPES

BIG = 10 * 1024 * 1024


class Thing:
    def __init__(self):
        self.payload = bytearray(64)


def _make_thing():
    return Thing()  # the object's allocation line


def _call_make_thing():
    return _make_thing()


MAKE_LINE = _make_thing.__code__.co_firstlineno + 1
CALL_LINE = _call_make_thing.__code__.co_firstlineno + 1


def _error(function, *args):
    with pytest.raises(Exception) as info:
        function(*args)
    return type(info.value), str(info.value)


# ---- module functions ------------------------------------------------------


def test_start_stop_is_tracing():
    assert not hl.is_tracing()
    hl.start()
    assert hl.is_tracing() and heaplens.is_tracing()
    assert not std.is_tracing()  # the two tracers are independent
    hl.stop()
    assert not hl.is_tracing()


@pytest.mark.parametrize("nframe", [0, -1, 65536])
def test_start_rejects_bad_nframe_like_stdlib(nframe):
    assert _error(hl.start, nframe) == _error(std.start, nframe)
    assert _error(hl.start, nframe)[0] is ValueError
    assert not hl.is_tracing()


def test_start_rejects_non_int():
    assert _error(hl.start, "3")[0] is _error(std.start, "3")[0] is TypeError


def test_start_twice_keeps_first_nframe():
    for module in (std, hl):
        module.start(5)
        module.start(1)
        assert module.get_traceback_limit() == 5
        module.stop()
        assert module.get_traceback_limit() == 5  # kept after stop, as the stdlib does


def test_take_snapshot_needs_tracing():
    assert _error(hl.take_snapshot) == _error(std.take_snapshot)
    assert _error(hl.take_snapshot)[0] is RuntimeError
    assert _error(heaplens.take_snapshot)[0] is RuntimeError


def test_take_snapshot():
    hl.start(3)
    thing = _make_thing()
    snapshot = hl.take_snapshot()
    assert isinstance(snapshot, hl.Snapshot)
    assert snapshot.traceback_limit == 3
    assert len(snapshot.traces) > 0
    assert isinstance(heaplens.take_snapshot(), hl.Snapshot)
    del thing


def test_stop_clears_traces():
    hl.start()
    thing = _make_thing()
    assert hl.get_object_traceback(thing) is not None
    hl.stop()
    assert hl.get_traced_memory() == (0, 0)
    assert hl.get_object_traceback(thing) is None
    hl.start()
    assert hl.get_object_traceback(thing) is None  # not remembered across stop/start


def test_clear_traces():
    hl.start()
    big = bytearray(BIG)
    thing = _make_thing()
    hl.clear_traces()
    assert hl.is_tracing()
    assert hl.get_object_traceback(thing) is None
    current, peak = hl.get_traced_memory()
    assert current < BIG and peak < BIG
    del big


def test_traced_memory_grows_and_falls():
    hl.start()
    before, _ = hl.get_traced_memory()
    big = bytearray(BIG)
    grown, peak = hl.get_traced_memory()
    assert BIG <= grown - before < BIG + 4096
    assert peak >= grown
    del big
    fallen, peak_after = hl.get_traced_memory()
    assert fallen - before < 4096
    assert peak_after >= grown
    assert heaplens.get_traced_memory()[1] >= grown


def test_reset_peak():
    hl.start()
    big = bytearray(BIG)
    del big
    current, peak = hl.get_traced_memory()
    assert peak - current >= BIG
    hl.reset_peak()
    current, peak = hl.get_traced_memory()
    assert 0 <= peak - current < 4096


def test_get_tracemalloc_memory():
    hl.start()
    assert hl.get_tracemalloc_memory() > 0


def test_get_tracer_counters():
    heaplens.start()
    thing = _make_thing()
    counters = heaplens.get_tracer_counters()
    assert set(counters) == {
        "dropped",
        "unknown_stacks",
        "stale_stacks",
        "gil_unsafe",
        "gil_timeouts",
        "bad_stack_ids",
        "hooks_lost",
        "stacks",
        "live_blocks",
        "peaks_not_copied",
        "sample_rate",
        "sums",
        "redirected_slots",
        "redirect_failed",
    }
    assert counters["sample_rate"] == 0 and counters["sums"] is False
    assert counters["redirect_failed"] == 0
    assert counters["live_blocks"] > 0 and counters["stacks"] > 0
    assert counters["dropped"] == 0
    del thing


@pytest.mark.parametrize("nframe", [1, 5])
def test_get_object_traceback(nframe):
    hl.start(nframe)
    thing = _call_make_thing()
    traceback = hl.get_object_traceback(thing)
    assert traceback[-1] == hl.Frame((__file__, MAKE_LINE))  # most recent last
    assert len(traceback) == nframe
    if nframe > 1:
        assert traceback[-2] == hl.Frame((__file__, CALL_LINE))
    assert traceback.total_nframe is None  # as the stdlib's
    frames, total_nframe = _core.get_object_traceback(thing)
    assert frames[0] == (__file__, MAKE_LINE) and total_nframe > nframe
    assert hl.get_object_traceback(object.__new__(Thing)) is not None
    assert hl.get_object_traceback(Thing) is None  # made before tracing started


def test_get_object_traceback_like_stdlib():
    results = []
    for module in (std, hl):
        module.start(5)
        block = bytearray(100)  # not a managed-dict object: 3.11's stdlib finds it too
        results.append(repr(module.get_object_traceback(block)))
        module.stop()
    assert results[0] == results[1]
    assert (
        f"lineno={test_get_object_traceback_like_stdlib.__code__.co_firstlineno + 4}"
        in (results[1])
    )


def test_heaplens_package():
    code = "import heaplens, sys; print(sorted(m for m in sys.modules if m.startswith('heap')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    # The tracing API loads up front (nothing imports when a signal handler
    # takes a snapshot); the heap graph and reports load on first use.
    assert out.strip() == (
        "['heaplens', 'heaplens._args', 'heaplens._core', 'heaplens._trace',"
        " 'heaplens._trace.snapshot', 'heaplens.tracemalloc']"
    )


# ---- value classes against the stdlib's ------------------------------------

FRAMES = [("a.py", 3), ("b.py", 1), ("a.py", 10)]


def test_frame():
    for a in FRAMES:
        ours, theirs = hl.Frame(a), std.Frame(a)
        assert (ours.filename, ours.lineno) == a
        assert (str(ours), repr(ours)) == (str(theirs), repr(theirs))
        assert hash(ours) == hash(theirs)
        for b in FRAMES:
            assert (hl.Frame(a) < hl.Frame(b)) == (a < b)
            assert (hl.Frame(a) >= hl.Frame(b)) == (a >= b)
            assert (hl.Frame(a) == hl.Frame(b)) == (a == b)
    assert hl.Frame(FRAMES[0]) != FRAMES[0]


def test_traceback():
    raw = tuple(FRAMES)  # most recent first
    ours, theirs = hl.Traceback(raw, 7), std.Traceback(raw, 7)
    assert repr(ours) == repr(theirs) and str(ours) == str(theirs)
    assert repr(hl.Traceback(raw)) == repr(std.Traceback(raw))
    assert ours.total_nframe == 7 and hl.Traceback(raw).total_nframe is None
    assert len(ours) == 3 and ours[0] == hl.Frame(FRAMES[-1])  # oldest first
    assert ours[-1] == hl.Frame(FRAMES[0])
    assert ours[1:] == (hl.Frame(FRAMES[1]), hl.Frame(FRAMES[0]))
    assert hl.Frame(FRAMES[1]) in ours and hl.Frame(("z.py", 1)) not in ours
    assert ours == hl.Traceback(raw) and hash(ours) == hash(theirs)  # total_nframe ignored
    assert hl.Traceback(raw[1:]) < ours
    assert sorted([hl.Traceback(raw), hl.Traceback(raw[:1])]) == [
        hl.Traceback(raw[:1]),
        hl.Traceback(raw),
    ]


def test_traceback_format():
    here = _make_thing.__code__.co_filename
    raw = ((here, MAKE_LINE), (here, CALL_LINE), (here, 1), ("<nowhere>", 3))
    ours, theirs = hl.Traceback(raw), std.Traceback(raw)
    for limit in (None, 0, 1, 2, -1, -3, 10):
        for most_recent_first in (False, True):
            assert ours.format(limit, most_recent_first) == theirs.format(limit, most_recent_first)
    assert ours.format(1) == [
        f'  File "{here}", line {MAKE_LINE}',
        "    return Thing()  # the object's allocation line",
    ]


def test_trace():
    raw = (0, 4000, tuple(FRAMES), 5)
    ours, theirs = hl.Trace(raw), std.Trace(raw)
    assert (ours.domain, ours.size, ours.traceback) == (0, 4000, hl.Traceback(FRAMES))
    assert ours.traceback.total_nframe == 5
    assert (str(ours), repr(ours)) == (str(theirs), repr(theirs))
    assert ours == hl.Trace(raw) and hash(ours) == hash(theirs)
    assert ours != hl.Trace((1,) + raw[1:])


@pytest.mark.parametrize("size, count", [(0, 0), (1, 1), (12345, 7), (3 << 40, 2), (99, 0)])
def test_statistic(size, count):
    traceback = (hl.Traceback(FRAMES), std.Traceback(FRAMES))
    ours, theirs = hl.Statistic(traceback[0], size, count), std.Statistic(traceback[1], size, count)
    assert (str(ours), repr(ours)) == (str(theirs), repr(theirs))
    assert ours == hl.Statistic(traceback[0], size, count) and hash(ours) == hash(theirs)
    assert ours != hl.Statistic(traceback[0], size + 1, count)


@pytest.mark.parametrize(
    "size, size_diff, count, count_diff",
    [(0, -500, 0, -3), (2048, 2048, 2, 2), (10 << 20, -1, 9, 0)],
)
def test_statistic_diff(size, size_diff, count, count_diff):
    args = (size, size_diff, count, count_diff)
    ours = hl.StatisticDiff(hl.Traceback(FRAMES), *args)
    theirs = std.StatisticDiff(std.Traceback(FRAMES), *args)
    assert (str(ours), repr(ours)) == (str(theirs), repr(theirs))
    assert ours == hl.StatisticDiff(hl.Traceback(FRAMES), *args)
    assert hash(ours) == hash(theirs)


def test_format_size():
    values = [
        0,
        1,
        99,
        100,
        1023,
        1024,
        10239,
        10240,
        102400,
        1048575,
        10 << 20,
        123456789,
        5 << 40,
        9 << 50,
        0.5,
        99.96,
        1536.4,
        10 << 30,
    ]
    for value in values:
        for signed in (value, -value):
            for sign in (False, True):
                assert hl._format_size(signed, sign) == std._format_size(signed, sign)


def test_filter_attributes():
    f = hl.Filter(False, "x.pyc", 3, True, 2)
    assert (f.inclusive, f.filename_pattern, f.lineno, f.all_frames, f.domain) == (
        False,
        "x.py",
        3,
        True,
        2,
    )
    assert hl.Filter(True, "x.py").lineno is None and hl.Filter(True, "x.py").domain is None
    d = hl.DomainFilter(True, 5)
    assert (d.inclusive, d.domain) == (True, 5)
    with pytest.raises(AttributeError):
        d.domain = 6
    with pytest.raises(AttributeError):
        f.filename_pattern = "y"
    with pytest.raises(NotImplementedError):
        hl.BaseFilter(True)._match((0, 1, FRAMES, 1))


# ---- Snapshot logic on identical traces -----------------------------------

NEW_TRACES = [
    (0, 100, (("a.py", 3), ("main.py", 10)), 2),
    (0, 100, (("a.py", 3), ("main.py", 10)), 3),  # same frames, other total_nframe
    (0, 300, (("b.py", 7), ("a.py", 5), ("main.py", 11)), 5),
    (0, 300, (("b.py", 7), ("b.py", 7), ("main.py", 12)), 3),  # recursion
    (2, 100, (("a.py", 3), ("main.py", 10)), 2),  # another domain
    (1, 50, (("lib/x.pyc", 4),), 1),
    (0, 40, (("c.py", 1),), 1),
    (0, 40, (("c.py", 2),), 1),  # ties in size and count
    (0, 20, (("<unknown>", 0),), 1),
]
OLD_TRACES = [
    (0, 100, (("a.py", 3), ("main.py", 10)), 2),
    (0, 999, (("gone.py", 1),), 1),
    (0, 40, (("c.py", 1),), 1),
    (0, 40, (("c.py", 1),), 1),
]


def _filter_cases(module):
    F, D = module.Filter, module.DomainFilter
    return [
        [],
        [F(True, "a.py")],
        [F(False, "a.py")],
        [F(True, "*.py", 3)],
        [F(True, "lib/x.pyc")],
        [F(True, "lib/*.py")],
        [F(True, "main.py", all_frames=True)],
        [F(False, "main.py", 12, all_frames=True)],
        [F(True, "b.py"), F(True, "c.py")],
        [F(True, "*"), F(False, "b.py")],
        [D(True, 1)],
        [D(False, 0)],
        [F(True, "a.py", domain=2)],
        [F(False, "a.py", domain=0)],
        [F(True, "main.py", 10, True, 0), D(False, 2)],
        (f for f in [F(True, "c.py")]),
        (F(False, "c.py", 2),),
    ]


def _report(snapshot, old, module):
    """Everything statistics, compare_to and filter_traces say, as text."""
    out = []
    for key, cumulative in KEY_TYPES:
        out.append([repr(s) for s in snapshot.statistics(key, cumulative)])
        out.append([str(s) for s in snapshot.compare_to(old, key, cumulative)])
    for filters in _filter_cases(module):
        filtered = snapshot.filter_traces(filters)
        out.append(
            (
                filtered.traceback_limit,
                sorted(map(repr, filtered.traces)),
                [repr(s) for s in filtered.statistics("traceback")],
            )
        )
    return out


def test_snapshot_logic_like_stdlib():
    ours = _report(hl.Snapshot(NEW_TRACES, 3), hl.Snapshot(OLD_TRACES, 3), hl)
    theirs = _report(std.Snapshot(NEW_TRACES, 3), std.Snapshot(OLD_TRACES, 3), std)
    assert ours == theirs


def _scenario_allocations():
    keep = [bytearray(100 + i) for i in range(50)]
    keep += [Thing() for _ in range(20)]
    keep.append(str(list(range(200))))
    return keep


def test_c_snapshot_like_stdlib_on_the_same_traces():
    # Traces captured by heaplens, grouped and filtered in C, against the
    # stdlib's Python code given the same traces as tuples.
    hl.start(4)
    keep = _scenario_allocations()
    old = hl.take_snapshot()
    keep += _scenario_allocations()
    del keep[:30]
    new = hl.take_snapshot()
    hl.stop()
    raw_old = [trace._trace for trace in old.traces]
    raw_new = [trace._trace for trace in new.traces]
    assert len(raw_new) > 100
    theirs = _report(std.Snapshot(raw_new, 4), std.Snapshot(raw_old, 4), std)
    assert _report(new, old, hl) == theirs
    # A few real file names through the filters, too.
    for filters in (
        [hl.Filter(True, __file__)],
        [hl.Filter(False, __file__, all_frames=True)],
        [hl.Filter(True, hl.__file__.replace(".py", ".pyc"))],
    ):
        std_filters = [
            std.Filter(f.inclusive, f.filename_pattern, all_frames=f.all_frames) for f in filters
        ]
        assert sorted(map(repr, new.filter_traces(filters).traces)) == sorted(
            map(repr, std.Snapshot(raw_new, 4).filter_traces(std_filters).traces)
        )


def test_statistics_errors_like_stdlib():
    ours, theirs = hl.Snapshot(NEW_TRACES, 1), std.Snapshot(NEW_TRACES, 1)
    for args in (("fun",), ("traceback", True), (None,), ("lineno ",)):
        assert _error(ours.statistics, *args) == _error(theirs.statistics, *args)
        assert _error(ours.statistics, *args)[0] is ValueError
        assert _error(ours.compare_to, ours, *args) == _error(theirs.compare_to, theirs, *args)


def test_filter_traces_type_errors():
    ours, theirs = hl.Snapshot(NEW_TRACES, 1), std.Snapshot(NEW_TRACES, 1)
    assert _error(ours.filter_traces, 3) == _error(theirs.filter_traces, 3)
    assert _error(ours.filter_traces, None)[0] is TypeError
    # The stdlib fails with AttributeError on a non-filter item; heaplens checks.
    assert _error(ours.filter_traces, [3]) == (
        TypeError,
        "filters must be Filter or DomainFilter instances, not int",
    )
    assert _error(ours.filter_traces, [hl.Filter(True, "a.py"), "a.py"])[0] is TypeError


def test_filter_traces_accepts_stdlib_filters():
    snapshot = hl.Snapshot(NEW_TRACES, 1)
    mine = snapshot.filter_traces([hl.Filter(True, "a.py"), hl.DomainFilter(False, 2)])
    theirs = snapshot.filter_traces([std.Filter(True, "a.py"), std.DomainFilter(False, 2)])
    assert mine.traces == theirs.traces and len(mine.traces) == 2


def test_traces_sequence():
    hl.start(2)
    keep = _scenario_allocations()
    snapshot = hl.take_snapshot()
    traces = snapshot.traces
    n = len(traces)
    assert n == snapshot._data.n_traces > 100
    assert repr(traces) == f"<Traces len={n}>"
    assert isinstance(traces[0], hl.Trace) and traces[-1] == traces[n - 1]
    assert traces[1:4] == tuple(traces)[1:4] and len(traces[::2]) == (n + 1) // 2
    assert list(traces) == [traces[i] for i in range(n)]
    assert traces[3] in traces and hl.Trace((7, 1, (("x", 1),), 1)) not in traces
    with pytest.raises(IndexError):
        traces[n]
    assert sum(t.size for t in traces) == snapshot._data.total_size()
    assert all(t.domain == 0 for t in traces)
    assert traces == snapshot.filter_traces([]).traces
    del keep


def test_snapshot_pickles():
    hl.start(3)
    keep = _scenario_allocations()
    snapshot = hl.take_snapshot()
    copy = pickle.loads(pickle.dumps(snapshot))
    assert copy.traceback_limit == 3 and copy.traces == snapshot.traces
    assert copy.statistics("lineno") == snapshot.statistics("lineno")
    del keep
