"""heaplens's public API as a user's type checker sees it.

`make lint` runs `mypy --strict` on this file against the INSTALLED package
(from this directory, so that src/ is not on the path): it passes only when
the wheel ships py.typed, the lazy names of `heaplens` are visible to type
checkers, and each public function returns the type written here. The
pytest suite also runs it (tests/python/test_typing.py), so that every line
is real, working code and not only a claim about types.
"""

import io
import os
import sys
import tempfile
from typing import Any, assert_type

import heaplens
import heaplens.objgraph
import heaplens.tracemalloc
from heaplens import (
    Capture,
    Census,
    CensusRow,
    Chain,
    CycleReport,
    GcReport,
    Growth,
    LeakReport,
    NativeLeak,
    RefcountReport,
    Referrer,
    Report,
    RetainerReport,
    SlotsReport,
    Snapshot,
    Step,
)


class Item:
    def __init__(self, n: int) -> None:
        self.n = n


_cache: list[Item] = []


def leaky() -> None:
    _cache.append(Item(len(_cache)))


def tracing(directory: str) -> None:
    heaplens.start(10)
    heaplens.stop()
    heaplens.start(10, native_frames=True, sample_rate=4096)
    assert_type(heaplens.is_tracing(), bool)
    items = [Item(i) for i in range(100)]
    current, peak = heaplens.get_traced_memory()
    assert_type(current, int)
    assert_type(peak, int)
    counters = heaplens.get_tracer_counters()
    assert_type(counters["dropped"], int)
    snapshot = heaplens.take_snapshot()
    assert_type(snapshot, Snapshot)
    for stat in snapshot.statistics("lineno")[:3]:
        assert_type(stat.size, int)
        assert_type(stat.traceback[0].filename, str)
    path = os.path.join(directory, "snap.hlc")
    snapshot.dump(path)
    heaplens.stop()
    capture = heaplens.load(path)
    assert_type(capture, Capture)
    assert_type(capture.snapshot(), Snapshot)
    del items


def stdlib_compatible() -> None:
    tracemalloc = heaplens.tracemalloc
    tracemalloc.start(5)
    first = tracemalloc.take_snapshot()
    data = [bytes(100) for _ in range(10)]
    second = tracemalloc.take_snapshot()
    for diff in second.compare_to(first, "lineno")[:3]:
        assert_type(diff.size_diff, int)
    assert_type(tracemalloc.get_traced_memory(), tuple[int, int])
    tracemalloc.stop()
    del data


def heap_graph() -> None:
    mark = heaplens.Mark()
    item = Item(1)
    _cache.append(item)
    census = heaplens.census()
    assert_type(census, Census)
    row = census[0]
    assert_type(row, CensusRow)
    assert_type(row.size, int)
    growth = heaplens.growth_since(mark)
    assert_type(growth, Growth)
    chain = heaplens.why_alive(item)
    assert_type(chain, Chain)
    for step in chain.steps:
        assert_type(step, Step)
    referrers = heaplens.referrers(item)
    assert_type(referrers, list[Referrer])
    assert_type(heaplens.refcount_report(item), RefcountReport)
    assert_type(heaplens.retained(_cache), int)
    assert_type(heaplens.top_retainers(3), RetainerReport)
    assert_type(heaplens.cycles(), CycleReport)
    _cache.clear()


def leaks_and_slots() -> None:
    report = heaplens.find_leaks(leaky, repeat=3, warmup=1)
    assert_type(report, LeakReport)
    native = heaplens.find_leaks(leaky, repeat=2, warmup=0, native=True)
    assert_type(native.native_checked, bool)
    assert_type(native.native, list[NativeLeak])
    assert_type(native.native_leaks, list[NativeLeak])
    for row in native.native:
        assert_type(row.site, str | None)
        assert_type(row.bytes_per_call, float)
        assert_type(row.per_call, list[int])
    with heaplens.leak_check() as checked:
        leaky()
    assert_type(checked, LeakReport)
    with heaplens.gc_monitor() as monitor:
        pass
    assert_type(monitor.report, GcReport)
    assert_type(heaplens.slots_advice(min_instances=10), SlotsReport)
    _cache.clear()


def reports_share_one_protocol(reports: list[Report]) -> None:
    for report in reports:
        text = report.format(limit=5, width=80)
        assert_type(text, str)
        report.show(file=io.StringIO())
        data = report.to_dict()
        assert_type(data, dict[str, Any])


def objgraph_compatible() -> None:
    objgraph = heaplens.objgraph
    assert_type(objgraph.count("Item"), int)
    assert_type(objgraph.most_common_types(limit=3), list[tuple[str, int]])
    assert_type(objgraph.typestats(), dict[str, int])
    objgraph.show_growth(limit=3, file=io.StringIO())


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        tracing(directory)
    stdlib_compatible()
    heap_graph()
    leaks_and_slots()
    reports_share_one_protocol([heaplens.census(), heaplens.cycles()])
    objgraph_compatible()
    print("public_api: ok", file=sys.stderr)


if __name__ == "__main__":
    main()
