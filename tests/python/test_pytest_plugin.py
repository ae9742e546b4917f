"""The pytest plugin: a test that leaks fails with the leak report, holder
first; a clean test passes, whatever pytest fixtures it uses; without
--heaplens-leaks or the marker the plugin does nothing.

Each test writes a small suite with pytester and runs pytest on it in a
subprocess, as a user would: pytest loads the plugin from heaplens's pytest11
entry point.
"""

import textwrap

import pytest

pytest_plugins = ["pytester"]

LEAKY = """
    import pytest

    _cache = []

    class Session:
        pass

    {mark}
    def test_leaks():
        _cache.append(Session())

    {mark}
    def test_clean():
        sessions = [Session() for _ in range(10)]
        assert len(sessions) == 10
"""

HEADLINE = "test_suite.py: module global _cache (list) holds 1 new Session per call*"


@pytest.fixture
def run(pytester, monkeypatch):
    """run(source, *args): pytest on test_suite.py in a subprocess."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)

    def run(source, *args):
        pytester.makepyfile(test_suite=textwrap.dedent(source))
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)

    return run


def outcomes(result):
    """{'passed': 2, 'failed': 1, ...}, without the counts pytest adds (warnings)."""
    found = result.parseoutcomes()
    found.pop("warnings", None)
    return found


def test_a_marked_test_that_leaks_fails_with_the_holder_first(run):
    source = textwrap.dedent(LEAKY.format(mark="@pytest.mark.heaplens_no_leaks")) + (
        "\n"
        "_other = []\n"
        "\n"
        "def test_leaks_but_is_not_checked():\n"
        "    _other.append(Session())\n"
    )
    result = run(source)
    assert outcomes(result) == {"passed": 2, "failed": 1}, result.stdout.str()
    # The report is the failure message: its headline right below the test's name.
    result.stdout.fnmatch_lines(["*_ test_leaks _*", HEADLINE], consecutive=True)
    result.stdout.fnmatch_lines(
        [
            "test_suite.py::test_leaks (5 calls after 2 warm-up); Python *",
            "What holds them, most memory first:",
            "  1. module global _cache (list) in test_suite.py: 5 Session*",
            "*_cache.append(Session())",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= heaplens leak checks =*",
            "2 tests checked for leaks, 1 leaked",
            "FAILED test_suite.py::test_leaks - Failed: test_suite.py: module global*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_the_flag_checks_every_test(run):
    result = run(LEAKY.format(mark=""), "--heaplens-leaks")
    assert outcomes(result) == {"passed": 1, "failed": 1}, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["heaplens: checking every test for leaks (3 measured calls after 1 warm-up)"]
    )
    result.stdout.fnmatch_lines(["*_ test_leaks _*", HEADLINE], consecutive=True)
    result.stdout.fnmatch_lines(["test_suite.py::test_leaks (3 calls after 1 warm-up); *"])
    result.stdout.fnmatch_lines(["2 tests checked for leaks, 1 leaked"])


def test_without_the_flag_or_the_marker_the_plugin_does_nothing(run, pytester):
    pytester.makeconftest(
        """
        import sys

        def pytest_sessionfinish(session):
            plugin = session.config.pluginmanager.get_plugin("heaplens")
            loaded = sorted(name for name in sys.modules if name.startswith("heaplens"))
            print("\\nplugin:", plugin.__name__, "loaded:", " ".join(loaded))
        """
    )
    result = run(LEAKY.format(mark=""), "-s")
    assert outcomes(result) == {"passed": 2}, result.stdout.str()
    (line,) = [line for line in result.stdout.lines if line.startswith("plugin:")]
    plugin, loaded = line.split(" loaded: ")
    assert plugin == "plugin: heaplens.pytest_plugin"
    # The leak hunt and the heap graph were never imported.
    assert "heaplens.pytest_plugin" in loaded.split(), loaded
    assert not [m for m in loaded.split() if m.startswith(("heaplens._leaks", "heaplens._graph"))]
    assert "heaplens leak checks" not in result.stdout.str()
    assert "checking every test" not in result.stdout.str()


PYTEST_FIXTURES = """
    import logging
    import os
    import sys
    import warnings

    import pytest

    log = logging.getLogger("app")

    def test_caplog(caplog):
        log.warning("warned %d", 1)
        assert caplog.records

    def test_caplog_clear_and_text(caplog):
        with caplog.at_level(logging.DEBUG, logger="app"):
            log.debug("debug")
        assert "debug" in caplog.text
        caplog.clear()
        log.error("error")

    def test_logging_without_caplog():
        log.warning("captured by pytest's report handler")

    def test_capsys(capsys):
        print("out" * 10)
        sys.stderr.write("err\\n")
        assert capsys.readouterr().out

    def test_capfd(capfd):
        print("out")
        os.write(2, b"err\\n")

    def test_tmp_path(tmp_path):
        (tmp_path / "file.txt").write_text("text")

    def test_monkeypatch(monkeypatch):
        monkeypatch.setattr(os, "sep", "/")
        monkeypatch.setenv("HEAPLENS_TEST", "1")
        monkeypatch.setitem(sys.modules, "heaplens_fake", object())

    def test_recwarn(recwarn):
        warnings.warn("recorded", UserWarning)
        assert len(recwarn) >= 1

    def test_warnings_recorded_by_pytest():
        warnings.warn("deprecated thing", DeprecationWarning)
        warnings.warn("user thing", UserWarning)

    def test_pytest_warns():
        with pytest.warns(UserWarning):
            warnings.warn("expected", UserWarning)

    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_parametrize(n):
        assert n

    @pytest.fixture
    def resource():
        opened = {"open": True}
        yield opened
        opened["open"] = False

    def test_yield_fixture(resource):
        assert resource["open"]

    def test_record_property(record_property):
        record_property("key", "value")

    def test_approx():
        assert 0.1 + 0.2 == pytest.approx(0.3)
"""


def test_pytest_fixtures_in_clean_tests_are_not_leaks(run):
    result = run(PYTEST_FIXTURES, "--heaplens-leaks")
    assert outcomes(result) == {"passed": 16}, result.stdout.str()
    result.stdout.fnmatch_lines(["16 tests checked for leaks, 0 leaked"])
    # Each warning is shown once, as without the plugin, not once per call.
    lines = result.stdout.lines
    assert sum("DeprecationWarning: deprecated thing" in line for line in lines) == 1, lines
    assert sum("UserWarning: user thing" in line for line in lines) == 1, lines
    # The summary names the test once per warning: two warnings, not two per call.
    warned = "test_suite.py::test_warnings_recorded_by_pytest"
    assert sum(line == warned for line in lines) == 2, lines


def test_a_leak_that_logs_is_reported_as_the_test_s_own(run):
    # pytest's log capture keeps the records (not a leak); the test's cache is.
    source = """
        import logging

        _cache = []

        class Request:
            pass

        def test_logs_and_leaks(caplog):
            logging.getLogger("app").warning("request")
            _cache.append(Request())
    """
    result = run(source, "--heaplens-leaks")
    assert outcomes(result) == {"failed": 1}, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*_ test_logs_and_leaks _*",
            "test_suite.py: module global _cache (list) holds 1 new Request per call*",
        ],
        consecutive=True,
    )
    # pytest's records are left out of the message, with a note.
    assert "LogRecord" not in result.stdout.str()
    result.stdout.fnmatch_lines(["note: Not shown: * objects that pytest's own objects or *"])


def test_pytest_raises_is_not_a_leak(run):
    source = """
        import pytest

        def test_raises():
            with pytest.raises(ZeroDivisionError) as excinfo:
                1 / 0
            assert excinfo.type is ZeroDivisionError
    """
    result = run(source, "--heaplens-leaks")
    assert outcomes(result) == {"passed": 1}, result.stdout.str()


def test_logging_an_exception_is_not_a_leak(run):
    source = """
        import logging

        def test_log_exception(caplog):
            try:
                1 / 0
            except ZeroDivisionError:
                logging.getLogger("app").exception("failed")
    """
    result = run(source, "--heaplens-leaks")
    assert outcomes(result) == {"passed": 1}, result.stdout.str()


def test_a_leak_in_an_object_a_fixture_made_is_reported(run):
    source = """
        import pytest

        class Manager:
            def __init__(self):
                self.connections = {}

            def open(self):
                self.connections[len(self.connections)] = object()

        @pytest.fixture
        def manager():
            return Manager()

        def test_opens(manager):
            manager.open()
    """
    result = run(source, "--heaplens-leaks")
    assert outcomes(result) == {"failed": 1}, result.stdout.str()
    result.stdout.fnmatch_lines(["*_ test_opens _*", "*manager*connections*"], consecutive=True)


def test_a_test_that_fails_shows_its_own_error(run):
    source = """
        import pytest

        pytestmark = pytest.mark.heaplens_no_leaks

        def test_wrong():
            assert 1 + 1 == 3

        def test_only_once(tmp_path):
            (tmp_path / "made").mkdir()
    """
    result = run(source)
    assert outcomes(result) == {"failed": 2}, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["*_ test_wrong _*", "", "    def test_wrong():", ">       assert 1 + 1 == 3", "E       *"],
        consecutive=True,
    )
    # A test that fails only when repeated says so.
    result.stdout.fnmatch_lines(
        ["E *FileExistsError: *", "E *heaplens: call 2 of 7 raised this (the leak check *"],
        consecutive=True,
    )
    assert "holds" not in result.stdout.str()


def test_marker_arguments_win_over_the_command_line(run):
    source = """
        import pytest

        pytestmark = pytest.mark.heaplens_no_leaks(repeat=4)

        _cache = []

        def test_module_marker():
            _cache.append(object())

        @pytest.mark.heaplens_no_leaks(repeat=2, warmup=0)
        def test_own_marker():
            _cache.append(object())

        @pytest.mark.heaplens_no_leaks(check=False)
        def test_not_checked():
            _cache.append(object())

        @pytest.mark.heaplens_no_leaks
        class TestGroup:
            def test_class_marker(self):
                _cache.append(object())

        @pytest.mark.heaplens_no_leaks(4)
        def test_bad_marker():
            pass

        @pytest.mark.heaplens_no_leaks(repeat=0)
        def test_bad_repeat():
            pass
    """
    result = run(source, "--heaplens-warmup", "3")
    assert outcomes(result) == {"passed": 1, "failed": 5}, result.stdout.str()
    result.stdout.fnmatch_lines_random(
        [
            "test_suite.py::test_module_marker (4 calls after 3 warm-up); *",
            "test_suite.py::test_own_marker (2 calls after 0 warm-up); *",
            "test_suite.py::TestGroup::test_class_marker (5 calls after 3 warm-up); *",
            "@pytest.mark.heaplens_no_leaks takes only repeat=, warmup=, check= and native= "
            "(keywords), not 4",
            "@pytest.mark.heaplens_no_leaks: repeat must be an int between 1 and 1000, not 0",
        ]
    )


def test_an_xfail_test_that_leaks_is_an_expected_failure(run):
    source = """
        import pytest

        _cache = []

        @pytest.mark.xfail(reason="known leak", strict=True)
        def test_known_leak():
            _cache.append(object())

        @pytest.mark.xfail(reason="the leak was fixed", strict=True)
        def test_fixed_leak():
            pass

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            _cache.append(object())
    """
    result = run(source, "--heaplens-leaks", "-rx")
    assert outcomes(result) == {"xfailed": 1, "failed": 1, "skipped": 1}, result.stdout.str()
    result.stdout.fnmatch_lines(["XFAIL test_suite.py::test_known_leak - known leak"])
    result.stdout.fnmatch_lines(["*_ test_fixed_leak _*", "[XPASS(strict)] the leak was fixed"])


def test_async_tests_and_other_items_run_unchecked(run, pytester):
    pytester.makefile(".txt", test_doc=">>> 1 + 1\n2\n")
    source = """
        import unittest

        import pytest

        async def test_async():
            pass

        @pytest.mark.heaplens_no_leaks
        async def test_async_marked():
            pass

        class TestUnit(unittest.TestCase):
            def test_unit(self):
                pass

        def test_plain():
            pass
    """
    # No async plugin: pytest itself says it cannot run them, as without heaplens.
    result = run(source, "--heaplens-leaks", "-p", "no:asyncio", "-p", "no:anyio")
    out = result.stdout.str()
    assert "INTERNALERROR" not in out and "Traceback" not in out, out
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])
    result.stdout.fnmatch_lines(
        [
            "*heaplens did not check test_suite.py::test_async_marked for leaks: "
            "an async test function*"
        ]
    )
    result.stdout.fnmatch_lines_random(
        [
            "1 test checked for leaks, 0 leaked",
            "4 not checked:",
            "  test_suite.py::test_async: an async test function",
            "  test_suite.py::test_async_marked: an async test function",
            "  test_suite.py::TestUnit::test_unit: not a test function heaplens can call "
            "(TestCaseFunction)",
            "  test_doc.txt::test_doc.txt: not a test function heaplens can call (DoctestItem)",
        ]
    )


def test_the_report_of_a_leaking_test_as_a_page(run, pytester):
    result = run(LEAKY.format(mark=""), "--heaplens-leaks", "--heaplens-html", "reports")
    assert outcomes(result) == {"passed": 1, "failed": 1}, result.stdout.str()
    page = pytester.path / "reports" / "test_suite.py_test_leaks.html"
    result.stdout.fnmatch_lines([f"The report as a page: {page}"])
    assert "module global _cache (list) holds 1 new Session per call" in page.read_text()
    assert [p.name for p in (pytester.path / "reports").iterdir()] == [page.name]


def test_bad_options_are_usage_errors(run):
    result = run(LEAKY.format(mark=""), "--heaplens-leaks", "--heaplens-repeat", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--heaplens-repeat must be between 1 and 1000, not 0"])
