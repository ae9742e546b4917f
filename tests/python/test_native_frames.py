"""Native frames (heaplens.start(native_frames=True)): a native block's
traceback holds the C functions that allocated it, between the Python
frames that called them, in call order (src/ext/native_unwind.c,
src/core/stack_merge.c), named when the snapshot is taken
(src/ext/native_symbols.c). A native frame has lineno -1 and its library's
path as filename; Snapshot.stack_statistics() (what the reports use) gives
its C function's name too.

The C library is native/native_calls.c, called through ctypes: CDLL releases
the GIL around the call (the thread asks the stack servant), PyDLL keeps it.
Each test runs in a fresh interpreter."""

import textwrap

import pytest

from isolated import run_isolated
from native import build

PRELUDE = """
import ctypes, os, sys
import heaplens, heaplens.tracemalloc as tm
N = heaplens.NATIVE_DOMAIN
P, S = ctypes.c_void_p, ctypes.c_size_t
PATH = {path!r}

def load(kind=ctypes.CDLL):
    lib = kind(PATH)
    for name in ("nc_malloc", "nc_malloc_in_thread"):
        getattr(lib, name).restype = P
        getattr(lib, name).argtypes = [S]
    lib.nc_free.argtypes = [P]
    return lib

def frames(size):
    '''The traceback of the native block of `size` bytes, most recent first,
    as (short file, line, function).'''
    snapshot = heaplens.take_snapshot().filter_traces([tm.DomainFilter(True, N)])
    found = [f for f, s, c in snapshot.stack_statistics() if s == size and c == 1]
    assert len(found) == 1, (size, len(found))
    return [(os.path.basename(name), lineno, function) for name, lineno, function in found[0]]

def line():
    return sys._getframe(1).f_lineno + 1
"""


def _run(body, timeout=120):
    prelude = PRELUDE.format(path=build("native_calls"))
    return run_isolated(prelude + textwrap.dedent(body), timeout=timeout)


@pytest.mark.parametrize("kind", ["CDLL", "PyDLL"], ids=["gil-released", "gil-held"])
def test_the_c_function_then_the_python_lines_in_call_order(kind):
    out = _run(
        f"""
        lib = load(ctypes.{kind})
        heaplens.start(20, native_frames=True)
        def outer():
            return inner()
        def inner():
            return lib.nc_malloc(123457)
        where = line()
        p = outer()
        got = frames(123457)
        print(got)
        # The C function that called malloc comes first, named from the
        # library's symbol table, with no frame of heaplens's own.
        assert got[0] == ("native_calls.so", -1, "nc_malloc"), got
        python = [f for f in got if f[1] != -1]
        assert python == [("<string>", where - 2, "inner"), ("<string>", where - 4, "outer"),
                          ("<string>", where, "<module>")], python
        # ctypes's C code lies between nc_malloc and inner(), native.
        between = got[1:got.index(python[0])]
        assert between and all(f[1] == -1 for f in between), between
        assert any(f[0].startswith("_ctypes") for f in between), between
        # Nothing from the interpreter itself, and nothing older than the
        # outermost Python frame (main, the C library's start).
        assert got[-1] == python[-1], got
        interpreter = os.path.basename(os.path.realpath(sys.executable))
        assert not any(f[0] in (interpreter, "python3") or f[0].startswith("libpython")
                       for f in got), got
        lib.nc_free(p)
        print("ok")
        """
    )
    assert out.strip().endswith("ok"), out


def test_a_python_callback_sits_between_the_c_frames_that_called_it():
    """Python -> qsort (libc, through ctypes) -> a Python comparison -> C
    malloc: the callback's frame lies between the native frames, where it
    ran, not after all of them."""
    out = _run(
        """
        lib = load()
        heaplens.start(20, native_frames=True)
        kept = []
        def compare(a, b):
            if not kept:
                kept.append(lib.nc_malloc(98765))
            return a[0] - b[0]
        CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                               ctypes.POINTER(ctypes.c_int))
        libc = ctypes.CDLL(None)
        values = (ctypes.c_int * 8)(5, 3, 8, 1, 9, 2, 7, 4)
        def sort():
            libc.qsort(values, len(values), ctypes.sizeof(ctypes.c_int), CMP(compare))
        sort()
        got = frames(98765)
        print(got)
        functions = [f[2] for f in got]
        i_compare = functions.index("compare")
        i_sort = functions.index("sort")
        assert got[0] == ("native_calls.so", -1, "nc_malloc"), got
        # Between compare() and sort(): qsort's own C code (libc's, or
        # ASan's interceptor under the sanitizers), native.
        middle = got[i_compare + 1:i_sort]
        assert any(f[0].startswith(("libc.so", "libasan.so")) for f in middle), middle
        assert all(f[1] == -1 for f in middle), middle
        assert all(f[0] != "libc.so.6" for f in got[:i_compare]), got
        print("ok")
        """
    )
    assert out.strip().endswith("ok"), out


def test_a_thread_python_does_not_know_gets_its_c_frames():
    """A pthread made by the library has no Python frame of its own: its
    block gets its C frames, the static thread function named from the
    library's .symtab, then the Python stack of the thread that had the
    library start it (heaplens's pthread_create wrapper hands it over)."""
    out = _run(
        """
        lib = load()
        heaplens.start(10, native_frames=True)
        def work():
            return lib.nc_malloc_in_thread(54321)
        where = line()
        p = work()
        got = frames(54321)
        print(got)
        assert got[0] == ("native_calls.so", -1, "nc_malloc"), got
        assert got[1] == ("native_calls.so", -1, "malloc_thread"), got
        assert got[-2:] == [("<string>", where - 2, "work"), ("<string>", where, "<module>")], got
        assert all(f[1] == -1 for f in got[:-2]), got
        assert heaplens.get_tracer_counters()["unknown_stacks"] == 0
        lib.nc_free(p)
        print("ok")
        """
    )
    assert out.strip().endswith("ok"), out


def test_numpy_blocks_get_numpys_c_frames():
    pytest.importorskip("numpy")
    out = _run(
        """
        import numpy as np
        heaplens.start(10, native_frames=True)
        where = line()
        a = np.ones(300_000)
        snapshot = heaplens.take_snapshot()
        [stack] = [f for f, s, c in snapshot.stack_statistics() if s == a.nbytes]
        got = [(os.path.basename(name), lineno, function) for name, lineno, function in stack]
        print(got)
        assert got[0][1] == -1 and "_multiarray_umath" in got[0][0], got
        assert ("<string>", where, "<module>") in got, got
        print("ok")
        """
    )
    assert out.strip().endswith("ok"), out


def test_a_library_unloaded_before_the_snapshot_is_named_by_address():
    out = _run(
        """
        import _ctypes
        lib = load()
        heaplens.start(10, native_frames=True)
        p = lib.nc_malloc(77777)
        handle = lib._handle
        del lib
        _ctypes.dlclose(handle)
        got = frames(77777)
        print(got)
        assert got[0][0] == "<unknown native object>" and got[0][2].startswith("0x"), got
        print("ok")
        """
    )
    assert out.strip().endswith("ok"), out


def test_sampled_native_frames_and_the_settings_check():
    out = _run(
        """
        lib = load()
        heaplens.start(10, native_frames=True, sample_rate=4096)
        kept = [lib.nc_malloc(100_000) for _ in range(20)]
        snapshot = heaplens.take_snapshot().filter_traces([tm.DomainFilter(True, N)])
        sites = {f[0][2] for f, s, c in snapshot.stack_statistics() if s >= 100_000}
        assert sites == {"nc_malloc"}, sites
        try:
            heaplens.start(10, native_frames=True, sample_rate=0)
        except RuntimeError as e:
            print("refused:", e)
        heaplens.stop()
        heaplens.start(10, native=True)
        try:
            heaplens.start(10, native_frames=True)
        except RuntimeError as e:
            print("refused:", e)
        for p in kept:
            lib.nc_free(p)
        print("ok")
        """
    )
    assert out.count("refused: heaplens is already tracing with other settings") == 2, out
    assert out.strip().endswith("ok"), out


def test_fork_while_unwinding_threads_run():
    """Pthreads that malloc without a pause while the parent forks: the child
    traces with native frames and exits cleanly."""
    out = _run(
        """
        lib = load()
        lib.nc_churn_start.argtypes = [ctypes.c_int, S]
        lib.nc_churn_stop.restype = ctypes.c_uint64
        heaplens.start(10, native_frames=True)
        lib.nc_churn_start(2, 64)
        for _ in range(5):
            pid = os.fork()
            if pid == 0:
                p = lib.nc_malloc(4242)
                f = frames(4242)
                os._exit(0 if f[0][2] == "nc_malloc" else 3)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
        print("churned", lib.nc_churn_stop() > 0)
        print("ok")
        """,
        timeout=120,
    )
    assert "churned True" in out, out
    assert out.strip().endswith("ok"), out


def test_heaplens_run_native_frames_summary_capture_and_flame_graph(tmp_path):
    """`heaplens run --native-frames`: the summary names the C function with
    its library, the capture keeps the frames and their functions, and the
    HTML flame graph colours native frames apart from Python frames."""
    import re
    import subprocess
    import sys

    import heaplens

    prog = tmp_path / "prog.py"
    prog.write_text(
        textwrap.dedent(f"""\
        import ctypes
        lib = ctypes.CDLL({build("native_calls")!r})
        lib.nc_malloc.restype = ctypes.c_void_p
        lib.nc_malloc.argtypes = [ctypes.c_size_t]
        def load_table():
            return lib.nc_malloc(40_000_000)
        kept = load_table()
        """)
    )
    out = tmp_path / "cap.hlc"
    done = subprocess.run(
        [sys.executable, "-m", "heaplens", "run", "--native-frames", "-o", str(out), str(prog)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "nc_malloc [native_calls.so]" in done.stderr, done.stderr
    capture = heaplens.load(str(out))
    assert capture.info["native"] == "1" and capture.info["native_frames"] == "1"
    [stack] = [f for f, size, count in capture.exit.stack_statistics() if size == 40_000_000]
    assert stack[0][1:] == (-1, "nc_malloc"), stack
    assert (str(prog), 6, "load_table") in stack and (str(prog), 7, "<module>") in stack, stack

    text = subprocess.run(
        [sys.executable, "-m", "heaplens", "report", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert text.returncode == 0, text.stderr
    assert "nc_malloc [native_calls.so]" in text.stdout, text.stdout
    assert "native memory with its C frames" in text.stdout, text.stdout

    page = tmp_path / "cap.html"
    html = subprocess.run(
        [sys.executable, "-m", "heaplens", "report", "--html", str(page), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert html.returncode == 0, html.stderr
    body = page.read_text()
    boxes = re.findall(r'<div class="fg-b c-([\w-]+)" title="[^"]*"><span>([^<]*)</span>', body)
    labels = {label: colour for colour, label in boxes}
    assert labels["nc_malloc [native_calls.so]"] == "native", labels
    assert labels["load_table (prog.py:6)"] not in ("native", "root"), labels
    assert labels["&lt;module&gt; (prog.py:7)"] not in ("native", "root"), labels
