"""Progress on a terminal's stderr (heaplens._cli.progress), with fake streams
and a fake clock."""

import io

import pytest

from heaplens._cli.progress import Progress


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def progress_on(stream, clock, **options):
    return Progress("Loading capture", stream=stream, clock=clock, **options)


def test_nothing_is_written_when_stderr_is_not_a_terminal(clock):
    stream = io.StringIO()
    with progress_on(stream, clock) as progress:
        assert not progress.enabled
        clock.now += 5
        progress.update(1, 2)
    assert stream.getvalue() == ""


def test_the_default_stream_is_stderr(capsys):
    with Progress("Working", delay=0) as progress:
        progress.update(1, 2)
    assert capsys.readouterr() == ("", "")  # pytest's stderr is not a terminal


def test_shows_percent_and_counts_then_erases_its_line(clock):
    stream = FakeTerminal()
    with progress_on(stream, clock) as progress:
        clock.now += 1
        progress.update(1234, 2740)
        assert stream.getvalue() == "\rLoading capture: 45% (1,234 of 2,740)"
    shown = len("Loading capture: 45% (1,234 of 2,740)")
    assert stream.getvalue().endswith("\r" + " " * shown + "\r")


def test_count_without_total(clock):
    stream = FakeTerminal()
    progress = progress_on(stream, clock, delay=0)
    progress.update(5000)
    assert stream.getvalue() == "\rLoading capture: 5,000"


def test_quick_jobs_show_nothing(clock):
    stream = FakeTerminal()
    with progress_on(stream, clock, delay=0.25) as progress:
        clock.now += 0.2
        progress.update(1, 2)
    assert stream.getvalue() == ""


def test_updates_are_throttled_to_ten_a_second(clock):
    stream = FakeTerminal()
    progress = progress_on(stream, clock, delay=0)
    for done in range(100):  # 100 updates over one second
        progress.update(done, 100)
        clock.now += 0.01
    writes = stream.getvalue().count("\r")
    assert 9 <= writes <= 11


def test_a_shorter_text_covers_the_longer_one(clock):
    stream = FakeTerminal()
    progress = progress_on(stream, clock, delay=0)
    progress.update(123_456, 1_000_000)
    first = stream.getvalue()
    clock.now += 1
    progress.label = "Done"
    progress.update(1, 1)
    second = stream.getvalue()[len(first) :]
    assert second.startswith("\rDone: 100% (1 of 1)")
    assert len(second) == len(first)


def test_label_is_cut_to_the_terminal(clock, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    stream = FakeTerminal()
    progress = Progress("x" * 200, stream=stream, clock=clock, delay=0)
    progress.update(1, 2)
    assert len(stream.getvalue()) == 1 + 39


def test_a_closed_stream_never_raises(clock):
    stream = FakeTerminal()
    progress = progress_on(stream, clock, delay=0)
    stream.close()
    progress.update(1, 2)
    progress.close()
    closed = FakeTerminal()
    closed.close()
    with progress_on(closed, clock, delay=0) as late:
        late.update(1, 2)
    assert not late.enabled


def test_a_failing_write_turns_progress_off(clock):
    class Broken(FakeTerminal):
        writes = 0

        def write(self, text):
            Broken.writes += 1
            raise OSError("EIO")

    progress = progress_on(Broken(), clock, delay=0)
    progress.update(1, 3)
    clock.now += 1
    progress.update(2, 3)
    progress.close()
    assert Broken.writes == 1
    assert not progress.enabled


def test_a_stream_without_isatty_is_not_a_terminal(clock):
    class Bare:
        def write(self, text):
            raise AssertionError("must not write")

    with progress_on(Bare(), clock, delay=0) as progress:
        progress.update(1, 2)


def test_exceptions_of_the_work_pass_through_and_the_line_is_erased(clock):
    stream = FakeTerminal()
    with pytest.raises(KeyError):
        with progress_on(stream, clock, delay=0) as progress:
            progress.update(1, 2)
            raise KeyError("boom")
    assert stream.getvalue().endswith("\r")
    assert stream.getvalue().rstrip("\r ").endswith("(1 of 2)")
    progress.update(2, 2)  # after close: ignored
    assert stream.getvalue().endswith(" \r")
