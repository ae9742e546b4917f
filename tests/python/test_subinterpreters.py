"""heaplens traces the main interpreter; subinterpreters must neither stop
that tracing nor hang the process (CPython's _testcapi and _interpreters make
them here, as a host such as mod_wsgi would)."""

import pytest

from isolated import run_isolated

pytest.importorskip("_testcapi")

# A legacy subinterpreter (it shares the main GIL) imports heaplens, is refused
# what only the main interpreter may do, and ends.
_IMPORT_IN_SUBINTERPRETER = """
import heaplens._core as c
assert c.is_immortal(None) in (True, False)
assert c.type_layout(int)["heap_type"] is False
for call in (lambda: c.start(), lambda: c.stop(), lambda: c.take_snapshot(),
             lambda: c.build_graph()):
    try:
        call()
    except RuntimeError as error:
        assert "main interpreter" in str(error), error
    else:
        raise AssertionError("a subinterpreter was allowed to drive the tracer")
import heaplens
"""


@pytest.mark.parametrize("sample_rate", [0, 4096])
def test_a_subinterpreter_importing_heaplens_leaves_main_tracing_alone(sample_rate):
    out = run_isolated(
        f"""
        import _testcapi
        import heaplens
        from heaplens import _core

        _core.start(5, sample_rate={sample_rate})
        kept = [bytearray(1000) for _ in range(200)]
        before = _core.get_traced_memory()[0]
        snapshot_type = _core.Snapshot
        assert _testcapi.run_in_subinterp({_IMPORT_IN_SUBINTERPRETER!r}) == 0
        assert _core.is_tracing(), "tracing stopped when the subinterpreter ended"
        assert _core.get_traced_memory()[0] >= before * 0.9, "traces were dropped"
        more = [bytearray(1000) for _ in range(200)]
        assert _core.get_traced_memory()[0] > before, "nothing recorded after it"
        assert type(_core.take_snapshot()) is snapshot_type is _core.Snapshot
        print("ok")
        """,
        timeout=60,
    )
    assert out.strip() == "ok"


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_creating_a_subinterpreter_while_tracing_does_not_hang(mode):
    # 3.11's Py_NewInterpreter allocates with its caller's thread state swapped
    # out but the GIL held; a RAW hook that waited for the GIL there hung.
    rate = 0 if mode == "exact" else 512
    out = run_isolated(
        f"""
        import _testcapi
        import heaplens

        heaplens.start(1, sample_rate={rate})
        for _ in range(3):
            assert _testcapi.run_in_subinterp("x = [1] * 100") == 0
        print(heaplens.is_tracing())
        """,
        timeout=30,
    )
    assert out.strip() == "True"


def test_a_subinterpreter_with_its_own_gil_cannot_import_heaplens():
    interpreters = pytest.importorskip("_interpreters", reason="own-GIL subinterpreters: 3.13+")
    out = run_isolated(
        """
        import _interpreters
        interp = _interpreters.create()  # isolated: a GIL of its own
        error = _interpreters.exec(interp, "import heaplens._core")
        _interpreters.destroy(interp)
        print(error.type.__name__ if error is not None else None)
        print(error.msg if error is not None else "")
        """,
        timeout=60,
    )
    kind, message = out.splitlines()[:2]
    assert kind == "ImportError", out
    assert "interpreter" in message, out
    del interpreters  # imported only to skip where it is missing
