"""SIGTERM under `heaplens run` always ends the program, as it would have
without heaplens, and the capture is written whenever Python can still run.

heaplens catches SIGTERM in Python (to write the capture). CPython's C
handler only sets a flag for the main thread; a main thread asleep in a lock
never looks at it when the signal went to another thread or came just before
it went to sleep. multiprocessing's Pool.terminate() then waited forever for
its worker (test_run_cli's pool test hung about 1 run in 200 under load).
Here the signal is sent to another thread on purpose (tgkill), which made the
same hang every time before the watchdog (src/ext/term_watch.h).
"""

import ctypes
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import heaplens

CLI = [sys.executable, "-m", "heaplens"]
SYS_TGKILL = 234  # x86-64


def tgkill(pid, tid, signum):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(SYS_TGKILL, pid, tid, signum) != 0:
        raise OSError(ctypes.get_errno(), "tgkill")


pytestmark = pytest.mark.skipif(
    os.uname().machine != "x86_64", reason="the tgkill system call number is x86-64's"
)

# Another thread sleeps; the main thread (blocking SIGTERM with --block)
# prints the process and the other thread's ids, then sleeps in a lock that
# nothing releases. Only a signal can end the program.
BLOCKED_MAIN = """\
    import os, signal, sys, threading, time
    kept = [bytes(1000) for _ in range(300)]  # line 2
    def other(started):
        started.append(threading.get_native_id())
        time.sleep(600)
    def wait_forever():
        lock = threading.Lock()
        lock.acquire()
        started = []
        threading.Thread(target=other, args=(started,), daemon=True).start()
        while not started:
            time.sleep(0.001)
        if "--block" in sys.argv:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        print(os.getpid(), started[0], flush=True)
        lock.acquire()
    if "--fork" in sys.argv:
        pid = os.fork()
        if pid == 0:
            wait_forever()
        os.waitpid(pid, 0)
    else:
        wait_forever()
"""


def start(tmp_path, *args, env=None):
    prog = tmp_path / "prog.py"
    prog.write_text(textwrap.dedent(BLOCKED_MAIN))
    out = tmp_path / "run.hlc"
    proc = subprocess.Popen(
        [*CLI, "run", "-q", "-o", str(out), str(prog), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    pid, tid = map(int, proc.stdout.readline().split())
    wait_until_asleep_in_a_lock(pid)
    return proc, prog, pid, tid


SYS_FUTEX = 202  # x86-64


def wait_until_asleep_in_a_lock(pid, timeout=30):
    """Return once pid's main thread sleeps in the lock (in futex(2)): from
    then on it runs no bytecode, so no Python handler, until woken."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/task/{pid}/syscall") as syscall:
            if syscall.read().split()[0] == str(SYS_FUTEX):
                return
        time.sleep(0.005)
    raise AssertionError("the program's main thread never went to sleep in its lock")


def finish(proc, timeout=30):
    try:
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
        proc.wait()
    return stderr


def test_sigterm_that_another_thread_takes_still_ends_the_run_with_its_capture(tmp_path):
    proc, prog, pid, tid = start(tmp_path)
    assert pid == proc.pid
    tgkill(pid, tid, signal.SIGTERM)
    stderr = finish(proc)
    assert proc.returncode == -signal.SIGTERM, stderr
    capture = heaplens.load(tmp_path / "run.hlc")
    assert capture.info["exit"] == "killed by SIGTERM"
    assert any(
        stat.traceback[0].lineno == 2 and stat.size >= 300_000
        for stat in capture.exit.statistics("lineno")
        if stat.traceback[0].filename == str(prog)
    )


def test_sigterm_in_a_forked_child_that_another_thread_takes(tmp_path):
    """The watchdog does not survive fork(); the child starts its own."""
    proc, _, pid, tid = start(tmp_path, "--fork")
    assert pid != proc.pid
    tgkill(pid, tid, signal.SIGTERM)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # not ours: heaplens run's child
        pass
    stderr = finish(proc)
    assert proc.returncode == 0, stderr
    child = heaplens.load(tmp_path / f"run-{pid}.hlc")
    assert child.info["exit"] == "killed by SIGTERM"


def test_sigterm_the_main_thread_blocks_ends_the_run_after_the_grace_period(tmp_path):
    """Python can never run its handler: after HEAPLENS_SIGTERM_GRACE the
    program ends by SIGTERM anyway, as without heaplens, saying why."""
    proc, _, pid, _ = start(tmp_path, "--block", env={"HEAPLENS_SIGTERM_GRACE": "0.5"})
    os.kill(pid, signal.SIGTERM)
    stderr = finish(proc)
    assert proc.returncode == -signal.SIGTERM, stderr
    assert "did not handle SIGTERM within 0.5 s" in stderr
    assert "without the capture" in stderr


def test_a_bad_grace_period_is_named_and_the_default_kept(tmp_path):
    proc, _, pid, tid = start(tmp_path, env={"HEAPLENS_SIGTERM_GRACE": "soon"})
    tgkill(pid, tid, signal.SIGTERM)
    stderr = finish(proc)
    assert proc.returncode == -signal.SIGTERM, stderr
    assert "ignoring HEAPLENS_SIGTERM_GRACE='soon'" in stderr


def test_heaplens_threads_take_no_signal(tmp_path):
    """The timeline thread, the watchdog and the stack servant block every
    signal, so the kernel gives a process-directed signal to one of the
    program's threads."""
    prog = tmp_path / "threads.py"
    prog.write_text(
        textwrap.dedent(
            """\
            import ctypes, os, threading
            # A RAW allocation with the GIL released starts the stack servant.
            libc = ctypes.CDLL(None)
            libc.PyMem_RawMalloc.restype = ctypes.c_void_p
            libc.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
            libc.PyMem_RawFree.argtypes = [ctypes.c_void_p]
            libc.PyMem_RawFree(libc.PyMem_RawMalloc(1000))
            mine = {t.native_id for t in threading.enumerate()}
            for tid in sorted(os.listdir("/proc/self/task"), key=int):
                if int(tid) in mine:
                    continue
                with open(f"/proc/self/task/{tid}/status") as status:
                    fields = dict(line.split(":", 1) for line in status)
                print(fields["SigBlk"].strip())
            """
        )
    )
    result = subprocess.run(
        [*CLI, "run", "-q", "-o", str(tmp_path / "t.hlc"), str(prog)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    masks = [int(line, 16) for line in result.stdout.split()]
    assert len(masks) == 3, result.stdout  # the timeline thread, the watchdog, the servant
    for mask in masks:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            assert mask & (1 << (signum - 1)), hex(mask)
