"""The pytest plugin's native checks (--heaplens-native, the marker's
native=): a test whose calls leave native memory alive that grows in every
call fails, with the Python line and the bytes per call in its message; the
same test passes when only objects are checked; a test that frees what it
allocates, or caches a block once, passes.

Each test writes a small suite with pytester and runs pytest on it in a
subprocess (a fresh process: native tracing redirects the process's calls),
as test_pytest_plugin.py does. The suite calls native/leaky_calls.c through
ctypes.
"""

import textwrap

import pytest

from native import build

pytest_plugins = ["pytester"]

SUITE = """
    import ctypes
    import sys

    import pytest

    import heaplens

    lib = ctypes.CDLL({library!r})
    for name in ("lc_leak", "lc_leak_every_other", "lc_churn", "lc_cache_once"):
        getattr(lib, name).argtypes = [ctypes.c_size_t]


    def test_where_heaplens_is():
        print("heaplens from", heaplens.__file__)


    {mark}
    def test_leaks_natively():
        lib.lc_leak(64 * 1024)  # the native leak


    {mark}
    def test_leaks_in_every_other_call():
        lib.lc_leak_every_other(64 * 1024)


    {mark}
    def test_frees_what_it_allocates():
        lib.lc_churn(1 << 20)


    {mark}
    def test_caches_a_block_once():
        lib.lc_cache_once(1 << 20)
"""


@pytest.fixture
def run(pytester, monkeypatch):
    """run(mark, *args): pytest on the suite, its tests marked with `mark`."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    library = build("leaky_calls")

    def run(mark, *args):
        source = textwrap.dedent(SUITE).format(library=library, mark=mark)
        pytester.makepyfile(test_suite=source)
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", *args)

    return run


def outcomes(result):
    found = result.parseoutcomes()
    found.pop("warnings", None)
    return found


def line_of(pytester, text):
    """The line of test_suite.py (as pytester wrote it) that holds `text`."""
    lines = (pytester.path / "test_suite.py").read_text().splitlines()
    (number,) = [i + 1 for i, line in enumerate(lines) if text in line]
    return number


def test_a_native_leak_fails_with_native_and_passes_without(run, pytester):
    without = run("", "--heaplens-leaks")
    # The overlay or the installed package, whichever this run tests.
    import heaplens

    without.stdout.fnmatch_lines([f"heaplens from {heaplens.__file__}"])
    assert outcomes(without) == {"passed": 5}, without.stdout.str()
    assert "native" not in without.stdout.str().split("heaplens leak checks")[1]

    result = run("", "--heaplens-leaks", "--heaplens-native")
    assert outcomes(result) == {"passed": 4, "failed": 1}, result.stdout.str()
    line = line_of(pytester, "# the native leak")
    result.stdout.fnmatch_lines(
        [
            "heaplens: checking every test for leaks (3 measured calls after 1 warm-up), "
            "native memory included*",
        ]
    )
    # The message names the line and the bytes per call, first.
    result.stdout.fnmatch_lines(
        [
            "*_ test_leaks_natively _*",
            f"test_suite.py:{line}: 64.0 KiB of native memory (malloc/mmap) per call, 1 block "
            "per call,*",
        ],
        consecutive=True,
    )
    result.stdout.fnmatch_lines(
        [
            "Native memory the calls left alive, not counted in a leaked object's size, most first:",
            "  1. 64.0 KiB per call (1 block per call), 192.0 KiB in all*",
            "     allocated at (most recent call last):",
            f"       test_suite.py:{line}",
            "         lib.lc_leak(64 * 1024)  # the native leak",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "5 tests checked for leaks (all with native memory), 1 leaked",
            "FAILED test_suite.py::test_leaks_natively - Failed: test_suite.py:*",
        ]
    )


def test_the_marker_turns_native_checks_on_and_off(run):
    result = run("@pytest.mark.heaplens_no_leaks(native=True, repeat=3, warmup=1)")
    assert outcomes(result) == {"passed": 4, "failed": 1}, result.stdout.str()
    result.stdout.fnmatch_lines(["FAILED test_suite.py::test_leaks_natively - *"])
    result.stdout.fnmatch_lines(["4 tests checked for leaks (all with native memory), 1 leaked"])

    # native=False wins over the command line.
    result = run("@pytest.mark.heaplens_no_leaks(native=False)", "--heaplens-native")
    assert outcomes(result) == {"passed": 5}, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["heaplens: checking the tests marked heaplens_no_leaks for leaks, native memory*"]
    )

    result = run('@pytest.mark.heaplens_no_leaks(native="yes")')
    assert outcomes(result) == {"passed": 1, "failed": 4}, result.stdout.str()
    result.stdout.fnmatch_lines(["*native must be True or False, not 'yes'*"])


def test_memory_that_does_not_grow_in_every_call_passes(run):
    """find_leaks reports it (it grew in two calls of four), but a test fails
    only for native memory that grows in every call."""
    result = run("", "--heaplens-leaks", "--heaplens-native", "--heaplens-repeat", "4")
    assert outcomes(result) == {"passed": 4, "failed": 1}, result.stdout.str()
    result.stdout.fnmatch_lines(["FAILED test_suite.py::test_leaks_natively - *"])


def test_a_leak_under_the_threshold_passes(run):
    result = run("", "--heaplens-leaks", "--heaplens-native", "--heaplens-native-min", "1M")
    assert outcomes(result) == {"passed": 5}, result.stdout.str()
    result = run("", "--heaplens-leaks", "--heaplens-native", "--heaplens-native-min", "64K")
    assert outcomes(result) == {"passed": 4, "failed": 1}, result.stdout.str()

    result = run("", "--heaplens-leaks", "--heaplens-native-min", "lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*not a size in bytes: 'lots'*"])
