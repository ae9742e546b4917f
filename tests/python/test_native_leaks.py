"""The native leak hunt (find_leaks(native=True)): memory a C library
allocates per call and never frees, which no Python object holds, is found at
the Python line that called it, with its bytes and blocks per call; memory
that is freed, or allocated once and kept, is not; and the data of leaked
NumPy arrays, which their ndarray's size counts already, is not reported a
second time as native memory.

The library is native/leaky_calls.c, loaded with ctypes. Each scenario runs
in a fresh interpreter (the tracer's redirections last as long as the
process, and these tests start and stop native tracing), as a script file so
that the report has real file names and source lines; the child prints the
report's to_dict() as JSON.
"""

import json
import textwrap

import pytest

from isolated import run_isolated
from native import build

PRELUDE = """
import ctypes
import json
import sys

import heaplens

lib = ctypes.CDLL({library!r})
for name in ("lc_leak", "lc_leak_mmap", "lc_leak_every_other", "lc_churn", "lc_cache_once"):
    getattr(lib, name).argtypes = [ctypes.c_size_t]


def emit(report):
    print(json.dumps(report.to_dict()))
"""


def _run(tmp_path, body, name="app.py"):
    """Run PRELUDE + body as the script tmp_path/name; returns (the script's
    lines, [each report the child emitted, as a dict])."""
    source = PRELUDE.format(library=build("leaky_calls")) + textwrap.dedent(body)
    out = run_isolated(source, script=tmp_path / name)
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return source.splitlines(), reports


def _line_of(lines, text):
    (number,) = [i + 1 for i, line in enumerate(lines) if text in line]
    return number


def test_a_library_that_leaks_per_call_is_found_at_the_calling_line(tmp_path):
    lines, (report, mapped) = _run(
        tmp_path,
        """
        def handle():
            lib.lc_leak(10_000)  # the leak


        def map_pages():
            lib.lc_leak_mmap(1 << 20)  # the mapping


        emit(heaplens.find_leaks(handle, native=True))
        emit(heaplens.find_leaks(map_pages, native=True, repeat=3, warmup=1))
        """,
    )
    line = _line_of(lines, "# the leak")
    assert not report["clean"]
    assert report["native_checked"] is True
    (leak,) = report["native"]
    assert leak["site"] == f"app.py:{line}"
    assert leak["domain"] == heaplens_native_domain()
    assert leak["per_call"] == [10_000] * 5
    assert leak["size"] == 50_000 and leak["bytes_per_call"] == 10_000
    assert leak["blocks"] == 5 and leak["blocks_per_call"] == 1
    assert leak["held_by_objects"] == 0 and leak["excluded"] is None
    filename, lineno, source = leak["traceback"][-1]
    assert (filename, lineno, source) == (
        str(tmp_path / "app.py"),
        line,
        "lib.lc_leak(10_000)  # the leak",
    )
    assert report["summary"]["native_size"] == 50_000
    # No Python object leaked: the headline names the line and the bytes per call.
    assert report["groups"] == []
    assert report["headline"].startswith(f"app.py:{line}: 9.8 KiB of native memory"), report
    assert "1 block per call" in report["headline"]

    (leak,) = mapped["native"]
    assert leak["site"] == f"app.py:{_line_of(lines, '# the mapping')}"
    assert leak["per_call"] == [1 << 20] * 3 and leak["blocks_per_call"] == 1


def heaplens_native_domain():
    import heaplens

    return heaplens.NATIVE_DOMAIN


def test_the_report_shows_native_memory_as_text_and_as_a_page(tmp_path):
    source = PRELUDE.format(library=build("leaky_calls")) + textwrap.dedent(
        """
        def handle():
            lib.lc_leak(4096)

        report = heaplens.find_leaks(handle, native=True, repeat=3, warmup=1)
        print(report.format(width=100))
        report.save_html(sys.argv[1])
        """
    )
    page = tmp_path / "report.html"
    out = run_isolated(source, script=tmp_path / "app.py", args=[page])
    assert "Native memory the calls left alive" in out, out
    assert "4.0 KiB per call (1 block per call), 12.0 KiB in all" in out, out
    assert "lib.lc_leak(4096)" in out
    html = page.read_text()
    assert "Native memory left alive" in html, html
    assert "lib.lc_leak(4096)" in html and "4.0 KiB" in html


@pytest.mark.parametrize("warmup", [2, 0])
def test_freeing_or_caching_once_is_not_a_leak(tmp_path, warmup):
    _, reports = _run(
        tmp_path,
        f"""
        def churn():
            lib.lc_churn(100_000)

        def cache():
            lib.lc_cache_once(50_000)

        emit(heaplens.find_leaks(churn, native=True, warmup={warmup}))
        emit(heaplens.find_leaks(cache, native=True, warmup={warmup}))
        """,
    )
    for report in reports:
        assert report["clean"], report
        assert report["native_checked"] and report["native"] == [], report
        assert "(native memory included)" in report["headline"]


def test_memory_that_grows_in_some_calls_only_is_a_leak(tmp_path):
    """As for objects: growth in two calls or more. (The pytest plugin asks
    for growth in every call before it fails a test.)"""
    lines, (report,) = _run(
        tmp_path,
        """
        def sometimes():
            lib.lc_leak_every_other(8192)  # every other call

        emit(heaplens.find_leaks(sometimes, native=True, repeat=4, warmup=1))
        """,
    )
    (leak,) = report["native"]
    assert leak["site"] == f"app.py:{_line_of(lines, '# every other call')}"
    # Calls 2 to 5 of the function: the 2nd and 4th leak.
    assert leak["per_call"] == [8192, 0, 8192, 0] and leak["bytes_per_call"] == 4096
    assert leak["excluded"] is None and not report["clean"]


def test_the_hunts_own_snapshots_are_not_reported_as_leaks(tmp_path):
    """The snapshots keep a list that only C refers to; a list the calls made
    and freed leaves its address (and the call's tag) for the next one."""
    _, reports = _run(
        tmp_path,
        """
        import sqlite3


        def lists():
            return [[i] for i in range(2000)]


        def database():
            con = sqlite3.connect(":memory:")
            con.execute("create table t(x)")
            con.executemany("insert into t values (?)", [(i,) for i in range(1000)])
            con.close()


        for function in (lists, database, lists, database):
            emit(heaplens.find_leaks(function, native=True))
        """,
    )
    for report in reports:
        assert report["clean"], report["headline"]


def test_without_native_the_leak_is_not_seen(tmp_path):
    """What native=True adds: the objects-only hunt finds nothing here."""
    _, (report,) = _run(
        tmp_path,
        """
        def handle():
            lib.lc_leak(10_000)

        emit(heaplens.find_leaks(handle))
        """,
    )
    assert report["clean"] and report["native_checked"] is False and report["native"] == []


def test_leaked_arrays_are_counted_once_and_a_malloc_beside_them_is_still_found(tmp_path):
    pytest.importorskip("numpy")
    lines, (arrays, zeros, both) = _run(
        tmp_path,
        """
        import numpy as np

        _kept = []


        def keep_an_array():
            _kept.append(np.ones(250_000))


        def keep_a_small_array():
            # np.zeros is C: the array is made at this line, where the list
            # grows too (Python's allocators gain more than the arrays' own part).
            _kept.append(np.zeros(1000))


        def keep_an_array_and_leak():
            _kept.append(np.ones(250_000))
            lib.lc_leak(30_000)  # beside the array


        emit(heaplens.find_leaks(keep_an_array, native=True, repeat=3, warmup=1))
        emit(heaplens.find_leaks(keep_a_small_array, native=True))
        emit(heaplens.find_leaks(keep_an_array_and_leak, native=True, repeat=3, warmup=1))
        """,
    )
    for report in (arrays, zeros, both):
        (group,) = [g for g in report["groups"] if g["type"] == "ndarray"]
        assert group["per_call"] == [1] * report["calls"]
        assert group["size"] >= 3 * (2_000_000 if report is not zeros else 8000), group
        assert "module global _kept (list) holds 1 new ndarray per call" in report["headline"]
        # The arrays' data (NumPy's domain) is in the group's size, not again
        # among the native leaks.
        assert all(leak["domain"] != 389047 for leak in report["native"]), report["native"]
        assert any("counted in the size of leaked objects" in note for note in report["notes"])
    for report in (arrays, zeros):
        assert report["native"] == [] and report["summary"]["native_size"] == 0, report
    (leak,) = both["native"]
    assert leak["site"] == f"app.py:{_line_of(lines, '# beside the array')}"
    assert leak["per_call"] == [30_000] * 3


def test_the_tracer_is_left_as_it_was_or_the_hunt_refuses(tmp_path):
    _run(
        tmp_path,
        """
        import gc

        def handle():
            lib.lc_leak(10_000)

        # Off: started with native tracing for the hunt, stopped after it.
        report = heaplens.find_leaks(handle, native=True, repeat=2, warmup=0)
        assert report.native_leaks and not heaplens.is_tracing()
        assert "native tracing and stopped after it" in " ".join(report.notes)

        # On with native tracing: used as it is, and left on with its traces.
        heaplens.start(7, native=True)
        block = bytearray(1 << 20)
        report = heaplens.find_leaks(handle, native=True, repeat=2, warmup=0)
        assert report.native_leaks, report
        assert heaplens.is_tracing() and heaplens._core.get_traceback_limit() == 7
        assert heaplens.get_traced_memory()[0] >= 1 << 20
        heaplens.stop()

        # With native frames (C functions between the Python frames): still by
        # Python line.
        if "native_frames" in heaplens.start.__code__.co_varnames:
            heaplens.start(16, native_frames=True)
            report = heaplens.find_leaks(handle, native=True, repeat=2, warmup=0)
            (leak,) = report.native_leaks
            assert leak.site == "app.py:" + str(leak.traceback[-1][1]), leak
            assert leak.traceback[-1][2] == "lib.lc_leak(10_000)", leak
            assert leak.per_call == [10_000, 10_000], leak
            heaplens.stop()

        # On without it: refused, the tracer and its traces left alone.
        heaplens.start(3)
        block = bytearray(1 << 20)
        try:
            heaplens.find_leaks(handle, native=True)
        except RuntimeError as error:
            assert "needs native tracing" in str(error), error
            assert "heaplens.stop()" in str(error), error
        else:
            raise AssertionError("no RuntimeError")
        assert heaplens.is_tracing() and heaplens.get_traced_memory()[0] >= 1 << 20
        assert heaplens._core.leak_tags_gc_callback not in gc.callbacks
        # The objects-only hunt still runs on it.
        assert heaplens.find_leaks(handle).native_checked is False
        heaplens.stop()

        try:
            heaplens.find_leaks(handle, native=1)
        except TypeError as error:
            assert "native" in str(error)
        else:
            raise AssertionError("no TypeError")
        print("ok")
        """,
    )


def test_the_page_shows_native_rows_as_text_and_checks_them():
    """The leak page renders report["native"] escaped, and refuses a row of
    the wrong type with a message naming it (no subprocess: data only)."""
    from heaplens._report.html.leaks import render_leak_report

    hostile = "<script>alert(1)</script>"
    data = {
        "format": "heaplens-leak-report",
        "version": 1,
        "clean": False,
        "calls": 2,
        "native_checked": True,
        "native": [
            {
                "site": f"app.py:3 {hostile}",
                "traceback": [["app.py", 3, f"lib.leak() # {hostile}"]],
                "domain_name": "malloc/mmap",
                "size": 8192,
                "blocks": 2,
                "per_call": [4096, 4096],
                "bytes_per_call": 4096.0,
                "blocks_per_call": 1.0,
                "held_by_objects": 0,
                "excluded": None,
            }
        ],
    }
    page = render_leak_report(data)
    assert "<script" not in page.lower()
    assert "Native memory left alive" in page and "&lt;script&gt;" in page
    assert "8.0 KiB</span> of native memory" in page  # the verdict
    data["native"][0]["size"] = "lots"
    with pytest.raises(TypeError, match=r"native\[0\]\.size"):
        render_leak_report(data)
