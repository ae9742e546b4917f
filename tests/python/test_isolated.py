"""The one helper that runs code in a fresh interpreter (isolated.py): what it
passes to the child and how it fails."""

import os
import signal

import pytest

from isolated import run_isolated


def test_code_runs_in_a_new_process_with_args_env_and_cwd(tmp_path):
    out = run_isolated(
        """
        import os, sys
        print(os.getpid(), sys.argv[1:], os.environ.get("ISOLATED_X"),
              "ISOLATED_GONE" in os.environ, os.getcwd())
        """,
        args=("a", 2),
        env={"ISOLATED_X": "x", "ISOLATED_GONE": None},
        cwd=tmp_path,
    )
    pid, rest = out.split(" ", 1)
    assert int(pid) != os.getpid()
    assert rest.strip() == f"['a', '2'] x False {tmp_path}"


def test_script_is_written_and_run_as_a_file(tmp_path):
    script = tmp_path / "prog.py"
    out = run_isolated("import sys; print(__file__, sys.argv[1])", script=script, args=["z"])
    assert out.split() == [str(script), "z"]
    assert run_isolated(script=script, args=["w"]).split() == [str(script), "w"]


def test_an_unexpected_exit_fails_with_the_child_output():
    with pytest.raises(AssertionError, match=r"(?s)exit 3, expected 0.*said this"):
        run_isolated("import sys; print('said this'); sys.exit(3)")
    assert run_isolated("import sys; print('ok'); sys.exit(3)", expect_exit=3) == "ok\n"


def test_death_by_signal_is_a_negative_exit():
    run_isolated(
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", expect_exit=-signal.SIGKILL
    )


def test_a_hang_is_killed_and_reported():
    with pytest.raises(AssertionError, match=r"(?s)still running after 2 s.*before the hang"):
        run_isolated("import time; print('before the hang', flush=True); time.sleep(60)", timeout=2)
