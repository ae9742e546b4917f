"""The pytest plugin: fail the tests that leak.

`pytest --heaplens-leaks` checks every test; `@pytest.mark.heaplens_no_leaks`
checks the tests it marks (on a function, a class or a module's pytestmark;
the closest marker wins). A checked test is called warmup + repeat times with
the same fixture values, set up once before the first call, inside a leak hunt
(heaplens._leaks.hunt.run_hunt). When the measured calls leave objects alive that
keep accumulating, the test fails with the leak report as its message: the
holder first. With --heaplens-native (or the marker's native=True) the hunt
traces native memory too, and a test whose calls leave native memory alive
that grows in every call, by at least --heaplens-native-min bytes per call,
fails as well. See docs/pytest-plugin.md.

pytest imports this module (through the pytest11 entry point) in every run of
everyone who installs heaplens, so it imports no more than the heaplens package
itself (which loads the C extension, and nothing else) and its hooks return at
once for a test that is not checked: the leak hunt is imported by the first
test that is.

Invariants:
- A test is called by at most one of pytest_pyfunc_call's implementations.
  This one returns True only after it has called the test itself; for a test
  it does not check (not marked, async) it returns None and leaves the test to
  pytest or to the plugin that runs it.
- An exception raised by the test propagates as it is; only a note is added
  when a call after the first raised it.
- The objects pytest creates for its own bookkeeping during the calls
  (captured log records, recorded warnings, monkeypatch's undo list,
  user_properties) are not reported: warnings are recorded here (once each)
  and handed on to pytest after the calls, and the rest is held by objects of
  pytest's packages, which the hunt is told to ignore.
"""

from __future__ import annotations

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:
    import warnings
    from collections.abc import Callable, Iterator
    from typing import TextIO

    from heaplens._leaks.report import LeakReport

    # warnings.showwarning and warnings._showwarnmsg_impl (see _warnings_target).
    _WarningsTarget = tuple[Callable[..., None], Callable[..., object] | None]
    # (category, text, filename, lineno) -> (message, category, filename, lineno)
    _WarningKey = tuple[type[Warning], str, str, int]
    _Warned = tuple[Warning | str, type[Warning], str, int]

MARKER = "heaplens_no_leaks"
MARKER_REPEAT, MARKER_WARMUP = 5, 2  # a marked test: checked with care
SUITE_REPEAT, SUITE_WARMUP = 3, 1  # every test of a suite (--heaplens-leaks): cheaper
MARKER_KEYWORDS = ("repeat", "warmup", "check", "native")
# A test fails for native memory that grows in every call by at least this
# much per call (--heaplens-native-min): a C library's caches and pools grow
# now and then, or by a few bytes; a leak grows every time.
NATIVE_MIN_PER_CALL = 1024

# Packages whose objects are pytest's own: what they hold is not the test's leak.
# The pytest plugins installed as packages are added to these (_ignored_packages).
PYTEST_PACKAGES = ("_pytest", "pytest", "pluggy", "py", "iniconfig", "heaplens")

_state_key: pytest.StashKey[_Tally] = pytest.StashKey()  # config.stash: the run's _Tally
# item.stash: True once pytest_pyfunc_call has seen the item
_handled_key: pytest.StashKey[bool] = pytest.StashKey()
# item.stash: where warnings went before fixtures were set up
_warnings_key: pytest.StashKey[_WarningsTarget] = pytest.StashKey()


class _Tally:
    """What the plugin did in this run, for the terminal summary."""

    def __init__(self, ignore: tuple[str, ...]) -> None:
        self.ignore = ignore  # module prefixes passed to run_hunt
        self.checked = 0
        self.native = 0  # of them, checked for native memory too
        self.leaked: list[str] = []  # node ids
        self.unchecked: list[tuple[str, str]] = []  # (node id, why)


class _MarkerError(Exception):
    """A heaplens_no_leaks marker with arguments it does not take."""


# ---- configuration -----------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("heaplens", "heaplens leak checks")
    group.addoption(
        "--heaplens-leaks",
        action="store_true",
        default=False,
        help="fail every test that leaks: call each test warmup + repeat times and fail it when "
        "its calls leave objects alive that keep accumulating (see --heaplens-repeat, "
        f"--heaplens-warmup; @pytest.mark.{MARKER} checks one test)",
    )
    group.addoption(
        "--heaplens-repeat",
        type=int,
        default=None,
        metavar="N",
        help=f"measured calls of each checked test (default {SUITE_REPEAT} with "
        f"--heaplens-leaks, {MARKER_REPEAT} for a marked test; a marker's own repeat= wins)",
    )
    group.addoption(
        "--heaplens-warmup",
        type=int,
        default=None,
        metavar="N",
        help=f"unmeasured calls before them (default {SUITE_WARMUP} with --heaplens-leaks, "
        f"{MARKER_WARMUP} for a marked test; a marker's own warmup= wins)",
    )
    group.addoption(
        "--heaplens-native",
        action="store_true",
        default=False,
        help="in the tests checked for leaks, check native memory too: what C libraries "
        "allocate with malloc or mmap, and NumPy's arrays, traced at the Python line that "
        "asked; a test fails when its calls leave such memory alive that grows in every call "
        "(a marker's native= wins)",
    )
    group.addoption(
        "--heaplens-native-min",
        type=_size,
        default=NATIVE_MIN_PER_CALL,
        metavar="BYTES",
        help="the least native memory per call that fails a test (default "
        f"{NATIVE_MIN_PER_CALL}; 4096, 4K, 1M ...)",
    )
    group.addoption(
        "--heaplens-html",
        default=None,
        metavar="DIR",
        help="also write the report of each test that leaks as an HTML page in DIR",
    )


def _size(text: str) -> int:
    """--heaplens-native-min's value: bytes, as '4096', '4K' or '1M' (argparse
    reports the ArgumentTypeError of a bad one)."""
    from heaplens._cli.main import parse_size

    return parse_size(text)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(repeat={MARKER_REPEAT}, warmup={MARKER_WARMUP}, check=True, native=False): "
        "fail the test when its calls leave objects alive that keep accumulating (heaplens). "
        "The test is called warmup + repeat times with the same fixture values; check=False "
        "turns the check off for a test that --heaplens-leaks or a class or module marker "
        "would check; native=True checks the native memory its calls leave alive too "
        "(default: --heaplens-native).",
    )
    for option, low, high in (("heaplens_repeat", 1, 1000), ("heaplens_warmup", 0, 1000)):
        value = config.getoption(option)
        if value is not None and not low <= value <= high:
            flag = "--" + option.replace("_", "-")
            raise pytest.UsageError(f"{flag} must be between {low} and {high}, not {value}")


def pytest_report_header(config: pytest.Config) -> str | None:
    native = ""
    if config.getoption("heaplens_native"):
        native = (
            ", native memory included (a test fails for native memory that grows in every "
            f"call by {config.getoption('heaplens_native_min')} bytes or more per call)"
        )
    if config.getoption("heaplens_leaks"):
        repeat, warmup = _from_command_line(config, SUITE_REPEAT, SUITE_WARMUP)
        return (
            f"heaplens: checking every test for leaks ({repeat} measured calls after "
            f"{warmup} warm-up){native}"
        )
    if native:
        return (
            f"heaplens: checking the tests marked {MARKER} for leaks{native}; "
            "--heaplens-leaks checks every test"
        )
    return None


def _from_command_line(config: pytest.Config, repeat: int, warmup: int) -> tuple[int, int]:
    given_repeat = config.getoption("heaplens_repeat")
    given_warmup = config.getoption("heaplens_warmup")
    return (
        repeat if given_repeat is None else given_repeat,
        warmup if given_warmup is None else given_warmup,
    )


def _settings(item: pytest.Item) -> tuple[int, int, bool] | None:
    """(repeat, warmup, native) when `item` is to be checked for leaks, else
    None.

    The closest heaplens_no_leaks marker decides whether, then its own
    arguments win over the command line's, which win over the defaults.
    Raises _MarkerError for a marker with arguments it does not take."""
    marker = item.get_closest_marker(MARKER)
    config = item.config
    native = bool(config.getoption("heaplens_native"))
    if marker is None:
        if not config.getoption("heaplens_leaks"):
            return None
        return (*_from_command_line(config, SUITE_REPEAT, SUITE_WARMUP), native)
    unknown = sorted(set(marker.kwargs) - set(MARKER_KEYWORDS))
    if marker.args or unknown:
        given = ", ".join([repr(arg) for arg in marker.args] + [f"{k}=" for k in unknown])
        raise _MarkerError(
            f"@pytest.mark.{MARKER} takes only repeat=, warmup=, check= and native= "
            f"(keywords), not {given}"
        )
    if not marker.kwargs.get("check", True):
        return None
    repeat, warmup = _from_command_line(config, MARKER_REPEAT, MARKER_WARMUP)
    repeat = marker.kwargs.get("repeat", repeat)
    warmup = marker.kwargs.get("warmup", warmup)
    for name, value, low in (("repeat", repeat, 1), ("warmup", warmup, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 1000:
            raise _MarkerError(
                f"@pytest.mark.{MARKER}: {name} must be an int between {low} and 1000, "
                f"not {value!r}"
            )
    native = marker.kwargs.get("native", native)
    if not isinstance(native, bool):
        raise _MarkerError(f"@pytest.mark.{MARKER}: native must be True or False, not {native!r}")
    return repeat, warmup, native


def _tally(config: pytest.Config) -> _Tally:
    tally = config.stash.get(_state_key, None)
    if tally is None:
        tally = _Tally(_ignored_packages(config))
        config.stash[_state_key] = tally
    return tally


def _ignored_packages(config: pytest.Config) -> tuple[str, ...]:
    """PYTEST_PACKAGES and the modules of the pytest plugins installed as
    packages (pytest-asyncio's pytest_asyncio.plugin, pytest-cov's
    pytest_cov.plugin, ...): module-name prefixes for run_hunt's ignore."""
    names = set(PYTEST_PACKAGES)
    for plugin, _ in config.pluginmanager.list_plugin_distinfo():
        name = getattr(plugin, "__name__", None) or type(plugin).__module__
        if isinstance(name, str):
            names.add(name)
    return tuple(sorted(names))


# ---- running a test --------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Notes where warnings go before the item's fixtures are set up: to the
    list pytest records the item's warnings in (pytest_runtest_protocol has
    entered its warnings.catch_warnings(record=True))."""
    if item.config.getoption("heaplens_leaks") or item.get_closest_marker(MARKER):
        item.stash[_warnings_key] = _warnings_target()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    message: str | None
    try:
        settings = _settings(pyfuncitem)
    except _MarkerError as error:
        settings, message = None, str(error)
    else:
        message = None
    if settings is None and message is None:
        return None
    pyfuncitem.stash[_handled_key] = True
    if message is not None:
        pytest.fail(message, pytrace=False)
    if _is_async(pyfuncitem.obj):
        _not_checked(pyfuncitem, "an async test function")
        return None
    # settings is None only with a message, which failed the test above.
    repeat, warmup, native = settings  # type: ignore[misc]
    return _run_checked(pyfuncitem, repeat, warmup, native)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Notes a test that was to be checked but never reached
    pytest_pyfunc_call: a doctest, a unittest.TestCase, another plugin's item."""
    yield
    if item.stash.get(_handled_key, False):
        return
    try:
        wanted = _settings(item) is not None
    except _MarkerError:
        wanted = True
    if wanted:
        _not_checked(item, f"not a test function heaplens can call ({type(item).__name__})")


def _is_async(function: Callable[..., object]) -> bool:
    import inspect

    try:
        function = inspect.unwrap(function)  # pytest-asyncio's synchronous wrapper
    except ValueError:
        pass
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


def _not_checked(item: pytest.Item, why: str) -> None:
    _tally(item.config).unchecked.append((item.nodeid, why))
    if item.get_closest_marker(MARKER) is not None:
        item.warn(pytest.PytestWarning(f"heaplens did not check {item.nodeid} for leaks: {why}"))


class _AsyncResult(Exception):
    """The test returned an awaitable: it is async after all."""


def _run_checked(
    pyfuncitem: pytest.Function, repeat: int, warmup: int, native: bool
) -> bool | None:
    """Call the test warmup + repeat times inside a leak hunt (tracing native
    memory too when `native`); fail it with the report when it leaks. Returns
    True, or None when the test turned out to be async (it is then left to
    pytest, unchecked)."""
    import warnings

    from heaplens._leaks.hunt import NativeSettings, run_hunt

    tally = _tally(pyfuncitem.config)
    test = pyfuncitem.obj
    funcargs = pyfuncitem.funcargs
    testargs = {arg: funcargs[arg] for arg in pyfuncitem._fixtureinfo.argnames}
    calls = 0
    returned: type | None = None  # the type of a value the first call returned

    def call() -> None:
        nonlocal calls, returned
        calls += 1
        try:
            result = test(**testargs)
        except BaseException as exc:
            if calls > 1:
                exc.add_note(
                    f"heaplens: call {calls} of {warmup + repeat} raised this (the leak check "
                    "calls the test several times with the same fixture values; the earlier "
                    "calls passed)"
                )
            raise
        if result is not None and calls == 1:
            if hasattr(result, "__await__") or hasattr(result, "__aiter__"):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                raise _AsyncResult
            returned = type(result)

    recorder = _WarningRecorder(pyfuncitem)
    try:
        with recorder:
            report = run_hunt(
                call,
                repeat=repeat,
                warmup=warmup,
                title=pyfuncitem.nodeid,
                ignore=tally.ignore,
                native=NativeSettings(
                    min_per_call=pyfuncitem.config.getoption("heaplens_native_min"),
                    every_call=True,
                )
                if native
                else None,
            )
    except _AsyncResult:
        _not_checked(pyfuncitem, "a test function that returns an awaitable")
        return None
    tally.checked += 1
    tally.native += native
    if returned is not None:
        warning = getattr(pytest, "PytestReturnNotNoneWarning", pytest.PytestWarning)
        warnings.warn(
            warning(
                f"Test functions should return None, but {pyfuncitem.nodeid} returned "
                f"{returned!r}."
            )
        )
    if not report.clean:
        tally.leaked.append(pyfuncitem.nodeid)
        message = _counted_only(report).format()
        html_dir = pyfuncitem.config.getoption("heaplens_html")
        if html_dir:
            message += "\n\nThe report as a page: " + _save_html(report, html_dir, pyfuncitem)
        pytest.fail(message, pytrace=False)
    return True


def _counted_only(report: LeakReport) -> LeakReport:
    """A shallow copy of `report` without the holders it does not count
    (pytest's own objects, bounded caches of the standard library) and their
    groups, and without the native memory under the thresholds, with a note
    that says how much was left out; `report` itself when it counts every
    holder and every row of native memory. The failure message then lists the
    test's leaks only, however much pytest kept during the calls."""
    import copy

    kept = [index for index, holder in enumerate(report.holders) if not holder.excluded]
    native_kept = report.native_leaks
    if len(kept) == len(report.holders) and len(native_kept) == len(report.native):
        return report
    trimmed = copy.copy(report)
    trimmed.notes = list(report.notes)
    if len(kept) != len(report.holders):
        new_index = {old: new for new, old in enumerate(kept)}
        left_out = sum(holder.objects for holder in report.holders if holder.excluded)
        trimmed.holders = [report.holders[index] for index in kept]
        trimmed.groups = [
            group if group.holder is None else group._replace(holder=new_index[group.holder])
            for group in report.groups
            if group.holder is None or group.holder in new_index
        ]
        trimmed.notes.append(
            f"Not shown: {left_out:,} objects that pytest's own objects or a bounded cache of "
            "the standard library kept; they are not counted (--heaplens-html writes the whole "
            "report)."
        )
    if len(native_kept) != len(report.native):
        from heaplens._report.units import format_bytes

        left_out = len(report.native) - len(native_kept)
        size = sum(leak.size for leak in report.native if leak.excluded)
        trimmed.native = native_kept
        trimmed.notes.append(
            f"Not shown: {format_bytes(size, decimals=1)} of native memory at {left_out} "
            f"{'line' if left_out == 1 else 'lines'} that did not grow in every call or grew "
            "less than --heaplens-native-min per call; not counted (--heaplens-html writes the "
            "whole report)."
        )
    return trimmed


def _save_html(report: LeakReport, directory: str, item: pytest.Item) -> str:
    import os
    import re

    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_")[:150] or "test"
    return report.save_html(os.path.join(directory, name + ".html"))


def _warnings_target() -> _WarningsTarget:
    """What warnings.showwarning and the warnings module's private
    _showwarnmsg_impl are now: catch_warnings(record=True) sets the latter to
    the append method of its list."""
    import warnings

    return warnings.showwarning, getattr(warnings, "_showwarnmsg_impl", None)


class _WarningRecorder:
    """Keeps the first of each warning (same category, text and line) that a
    checked test's calls warn, and warns them again after the calls.

    pytest records every warning of a test in a list of its own; each call's
    warnings would pile up in it (the hunt would count them as leaks) and its
    summary would show each warning once per call. The recorder stands in for
    that list only: when a fixture such as recwarn records warnings itself,
    they go to the fixture as they would without the plugin."""

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.first: dict[_WarningKey, _Warned] = {}
        self.saved: warnings.catch_warnings[None] | None = None

    def __enter__(self) -> _WarningRecorder:
        import warnings

        before = self.item.stash.get(_warnings_key, None)
        if before is None or before[1] is None:
            return self
        if not all(a is b for a, b in zip(before, _warnings_target())):
            return self  # a fixture records the warnings
        self.saved = warnings.catch_warnings()
        self.saved.__enter__()
        warnings.showwarning = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.saved is None:
            return
        import warnings

        saved, self.saved = self.saved, None
        saved.__exit__(None, None, None)
        first, self.first = self.first, {}
        # They passed the filters when the test warned them: 'always' keeps
        # the filters (once, module, default) from dropping them now.
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            for message, category, filename, lineno in first.values():
                warnings.warn_explicit(message, category, filename, lineno)

    def __call__(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        """warnings.showwarning while the test's calls run."""
        key = (category, str(message), filename, lineno)
        if key not in self.first:
            self.first[key] = (message, category, filename, lineno)


# ---- the summary --------------------------------------------------------------------


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    tally = config.stash.get(_state_key, None)
    if tally is None or not (tally.checked or tally.unchecked):
        return
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", "heaplens leak checks")
    leaked = len(tally.leaked)
    tests = "test" if tally.checked == 1 else "tests"
    native = ""
    if tally.native:
        native = f" ({'all' if tally.native == tally.checked else tally.native} with native memory)"
    write(f"{tally.checked} {tests} checked for leaks{native}, {leaked} leaked")
    if tally.unchecked:
        write(f"{len(tally.unchecked)} not checked:")
        for nodeid, why in tally.unchecked[:10]:
            write(f"  {nodeid}: {why}")
        if len(tally.unchecked) > 10:
            write(f"  ... and {len(tally.unchecked) - 10} more")
