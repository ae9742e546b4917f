"""Native memory (heaplens.start(native=True)) of a real extension module:
hl_native_ext (native_ext/hl_native_ext.c), built with meson by the test
suite and imported by the import system, allocates with libc on request,
with the GIL held (as extensions do) or released, and on pthreads it creates
itself. What test_native.py checks through a library loaded with ctypes is
checked here for an extension module imported before tracing started and
after: each block is seen at the Python file and line that asked for it,
with its size (a mapping's rounded up to whole pages), moves with realloc,
and is gone once freed.

Each test runs its program as a script in a fresh interpreter: the
redirection of the extension's calls lasts as long as the process."""

import textwrap

import pytest

import native_ext
from isolated import run_isolated

IMPORTS = {"imported-before": True, "imported-after": False}

HELPERS = """\
import os, sys
sys.path.insert(0, {where!r})
{import_first}
import heaplens, heaplens.tracemalloc as tm
PAGE = os.sysconf("SC_PAGE_SIZE")

def native():
    # The native blocks now, {{(file, line): (size, count)}}, through
    # heaplens's own snapshot API.
    snapshot = heaplens.take_snapshot().filter_traces([tm.DomainFilter(True, heaplens.NATIVE_DOMAIN)])
    return {{(s.traceback[0].filename, s.traceback[0].lineno): (s.size, s.count)
            for s in snapshot.statistics("lineno")}}

def line():
    # The number of the line after the caller's.
    return sys._getframe(1).f_lineno + 1

def at(n, file=__file__):
    return native().get((file, n))

{start}
import hl_native_ext as ext
"""


@pytest.fixture(scope="session")
def ext_dir():
    """The directory of hl_native_ext, built once per interpreter and source
    (a RuntimeError, so a failed test, when meson is missing)."""
    return native_ext.build()


def _run(tmp_path, ext_dir, body, import_first=False, start="heaplens.start(5, native=True)"):
    """Run `body` (dedented) as the script tmp_path/prog.py after HELPERS:
    `ext` (hl_native_ext, imported before heaplens and start when import_first,
    else after start), `heaplens`, `tm`, `PAGE`, `native()`, `line()` and
    `at(n)`. Returns its stdout."""
    prefix = HELPERS.format(
        where=ext_dir,
        import_first="import hl_native_ext" if import_first else "",
        start=start,
    )
    return run_isolated(prefix + textwrap.dedent(body), script=tmp_path / "prog.py")


@pytest.mark.parametrize("import_first", IMPORTS.values(), ids=IMPORTS.keys())
def test_malloc_realloc_free_at_the_calling_line(tmp_path, ext_dir, import_first):
    out = _run(
        tmp_path,
        ext_dir,
        """
        n = line()
        block = ext.malloc(1_000_000)
        assert at(n) == (1_000_000, 1), native()
        m = line()
        block = ext.realloc(block, 3_000_000)          # grows: moves to this line
        assert at(n) is None and at(m) == (3_000_000, 1), native()
        k = line()
        block = ext.realloc(block, 2_000)              # shrinks: moves again
        assert at(m) is None and at(k) == (2_000, 1), native()
        ext.free(block)
        assert at(k) is None, native()
        ext.free(0)                                    # free(NULL): nothing
        n = line()
        block = ext.realloc(0, 5_000)                  # realloc(NULL, n): a malloc
        assert at(n) == (5_000, 1), native()
        assert ext.realloc(block, 0) == 0              # realloc to zero: a free (glibc)
        assert at(n) is None, native()
        n = line()
        block = ext.malloc_nogil(250_000)              # the GIL released around malloc
        assert at(n) == (250_000, 1), native()
        ext.free(block)
        assert at(n) is None, native()
        print("ok")
        """,
        import_first=import_first,
    )
    assert out.strip() == "ok"


@pytest.mark.parametrize("import_first", IMPORTS.values(), ids=IMPORTS.keys())
def test_mmap_in_whole_pages_and_gone_after_munmap(tmp_path, ext_dir, import_first):
    out = _run(
        tmp_path,
        ext_dir,
        """
        mib = 1 << 20
        n = line()
        mapping = ext.mmap(mib + 1)
        assert at(n) == (mib + PAGE, 1), native()      # rounded up to whole pages
        m = line()
        small = ext.mmap(100)
        assert at(m) == (PAGE, 1), native()
        ext.munmap(mapping, mib + 1)
        assert at(n) is None and at(m) == (PAGE, 1), native()
        ext.munmap(small, 100)
        assert at(m) is None, native()
        print("ok")
        """,
        import_first=import_first,
    )
    assert out.strip() == "ok"


@pytest.mark.parametrize("import_first", IMPORTS.values(), ids=IMPORTS.keys())
def test_the_calling_stack_and_the_totals(tmp_path, ext_dir, import_first):
    """The whole Python stack that called the extension is recorded; the
    block counts once, in the native domain, in get_traced_memory() and in
    heaplens.tracemalloc's snapshot as in heaplens's."""
    out = _run(
        tmp_path,
        ext_dir,
        """
        def load(size):
            return ext.malloc(size)                    # line `inner`

        inner = load.__code__.co_firstlineno + 1
        before = heaplens.get_traced_memory()[0]
        outer = line()
        block = load(4_000_000)
        grown = heaplens.get_traced_memory()[0] - before
        assert 4_000_000 <= grown < 4_100_000, grown
        for snapshot in (heaplens.take_snapshot(), tm.take_snapshot()):
            traces = [t for t in snapshot.traces if t.size == 4_000_000]
            assert len(traces) == 1, traces
            trace = traces[0]
            assert trace.domain == heaplens.NATIVE_DOMAIN, trace.domain
            frames = [(frame.filename, frame.lineno) for frame in trace.traceback]
            assert frames == [(__file__, outer), (__file__, inner)], frames  # oldest first
        ext.free(block)
        assert heaplens.get_traced_memory()[0] - before < 100_000
        assert not [t for t in tm.take_snapshot().traces if t.size == 4_000_000]
        print("ok")
        """,
        import_first=import_first,
    )
    assert out.strip() == "ok"


@pytest.mark.parametrize("import_first", IMPORTS.values(), ids=IMPORTS.keys())
def test_threads_the_extension_creates(tmp_path, ext_dir, import_first):
    """A pthread the extension creates with no thread state has no Python
    frames of its own: its block is seen with its size at the Python line
    that called the extension to start it (the creator's stack, handed to
    the thread by heaplens's pthread_create wrapper), and gone when another
    such thread frees it. One that the extension gives a thread state and has
    call back into Python is seen at the line of the callback that asked."""
    out = _run(
        tmp_path,
        ext_dir,
        """
        asked = line()
        block = ext.thread_malloc(77_777)
        where = [key for key, value in native().items() if value == (77_777, 1)]
        assert where == [(__file__, asked)], native()
        ext.thread_free(block)
        assert (77_777, 1) not in native().values(), native()

        def on_the_thread():
            return ext.malloc(66_666)                  # line `inner`

        inner = on_the_thread.__code__.co_firstlineno + 1
        block = ext.thread_call(on_the_thread)
        assert at(inner) == (66_666, 1), native()
        ext.thread_free(block)                         # freed on yet another thread
        assert at(inner) is None, native()
        assert heaplens.get_tracer_counters()["dropped"] == 0
        print("ok")
        """,
        import_first=import_first,
    )
    assert out.strip() == "ok"


def test_nothing_native_without_native_tracing(tmp_path, ext_dir):
    """start() without native=True traces none of the extension's blocks, and
    stop() then start(native=True) traces them."""
    out = _run(
        tmp_path,
        ext_dir,
        """
        block = ext.malloc(1_000_000)
        assert native() == {}, native()
        ext.free(block)
        heaplens.stop()
        heaplens.start(5, native=True)
        n = line()
        block = ext.malloc(1_000_000)
        assert at(n) == (1_000_000, 1), native()
        ext.free(block)
        print("ok")
        """,
        start="heaplens.start(5)",
    )
    assert out.strip() == "ok"
