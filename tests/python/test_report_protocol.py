"""Every report heaplens returns follows one protocol (heaplens.Report):
format(limit=..., width=...), show(file=...), str() == format(), and
to_dict() that round-trips through json. Every report type is importable
from heaplens."""

import gc
import io
import json

import pytest

import heaplens


class Leaky:
    pass


class Many:
    def __init__(self, i):
        self.a = i
        self.b = str(i)


class Node:
    def __init__(self):
        self.other = None


_kept = []


def _leak():
    _kept.append(Leaky())


def _capture(tmp_path):
    heaplens.start(5)
    try:
        blocks = [bytearray(1000 + i) for i in range(50)]
        path = tmp_path / "snap.hlc"
        heaplens.take_snapshot().dump(str(path))
        del blocks
    finally:
        heaplens.stop()
    return heaplens.load(str(path))


def _gc_report():
    with heaplens.gc_monitor() as monitor:
        for _ in range(3):
            a, b = Node(), Node()
            a.other, b.other = b, a
            del a, b
            gc.collect()
    return monitor.report


def _reports(tmp_path):
    """(name, report) for every kind of report, made with the public API."""
    many = [Many(i) for i in range(1200)]
    a, b = Node(), Node()
    a.other, b.other = b, a
    held = [a]
    mark = heaplens.Mark()
    grown = [Leaky() for _ in range(3)]
    reports = [
        ("census", heaplens.census()),
        ("growth", heaplens.growth_since(mark)),
        ("cycles", heaplens.cycles()),
        ("retainers", heaplens.top_retainers(3)),
        ("chain", heaplens.why_alive(a)),
        ("refcount", heaplens.refcount_report(a)),
        ("gc", _gc_report()),
        ("leaks", heaplens.find_leaks(_leak, repeat=3, warmup=1)),
        ("slots", heaplens.slots_advice(min_instances=1000)),
        ("capture", _capture(tmp_path)),
    ]
    del many, held, grown
    _kept.clear()
    return reports


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return _reports(tmp_path_factory.mktemp("reports"))


KINDS = [
    "census",
    "growth",
    "cycles",
    "retainers",
    "chain",
    "refcount",
    "gc",
    "leaks",
    "slots",
    "capture",
]


def _report(reports, kind):
    return dict(reports)[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_report_is_exported_and_follows_the_protocol(reports, kind):
    report = _report(reports, kind)
    assert isinstance(report, heaplens.Report), type(report)
    name = type(report).__name__
    assert getattr(heaplens, name) is type(report), name
    assert name in heaplens.__all__
    text = report.format()
    assert isinstance(text, str) and text
    assert str(report) == text
    assert report.format(None, None)  # everything, lines as long as they come
    for line in report.format(limit=1, width=40).split("\n"):
        assert len(line) <= 40, (kind, line)
    out = io.StringIO()
    report.show(file=out)
    assert out.getvalue() == text + "\n"
    out = io.StringIO()
    report.show(out, limit=2, width=60)
    assert out.getvalue() == report.format(2, 60) + "\n"


@pytest.mark.parametrize("kind", KINDS)
def test_to_dict_round_trips_through_json(reports, kind):
    data = _report(reports, kind).to_dict()
    assert isinstance(data, dict) and data
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize("kind", KINDS)
def test_format_checks_its_arguments(reports, kind):
    report = _report(reports, kind)
    with pytest.raises(ValueError, match="limit"):
        report.format(limit=-1)
    with pytest.raises(TypeError, match="limit"):
        report.format(limit="3")
    with pytest.raises(ValueError, match="width"):
        report.format(width=5)
    with pytest.raises(TypeError, match="width"):
        report.format(width=2.5)


def test_every_type_a_public_function_returns_is_exported():
    for name in (
        "Snapshot",
        "Capture",
        "Census",
        "CensusRow",
        "Growth",
        "TypeGrowth",
        "CycleReport",
        "CycleGroup",
        "RetainerReport",
        "Retainer",
        "TypeRetainer",
        "Chain",
        "Step",
        "Referrer",
        "RefcountReport",
        "GcReport",
        "LeakReport",
        "LeakGroup",
        "Holder",
        "NativeLeak",
        "SlotsReport",
        "SlotsAdvice",
        "Report",
    ):
        assert isinstance(getattr(heaplens, name), type), name
        assert name in heaplens.__all__, name
