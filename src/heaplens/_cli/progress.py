"""Progress of long analyses, on one line of a terminal.

A Progress writes "label: 45% (1,234 of 2,740)" to stderr, rewriting its
line in place, and erases the line when done. It writes nothing at all unless
the stream is a terminal (pipes, CI logs and tests see nothing), nothing
before `delay` seconds have passed (quick jobs do not flicker), and at most
one update per `interval` seconds. It never raises into the caller: a stream
that is closed or fails to write turns the reporter off.

    with Progress("Loading capture") as progress:
        for done, item in enumerate(items, 1):
            ...
            progress.update(done, len(items))
"""

from __future__ import annotations

import shutil
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Literal, TextIO


class Progress:
    """A throttled one-line progress reporter for a terminal's stderr."""

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        interval: float = 0.1,
        delay: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self._stream = sys.stderr if stream is None else stream
        self._interval = interval
        self._clock = clock
        self._start = clock()
        self._delay = delay
        self._last: float | None = None  # clock() of the last write, None before the first
        self._shown = 0  # length of the text on the line now
        self._enabled = _is_terminal(self._stream)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        self.close()
        return False

    @property
    def enabled(self) -> bool:
        """Whether this reporter writes anything (a terminal, not closed)."""
        return self._enabled

    def update(self, done: int, total: int | None = None) -> None:
        """Show `done` of `total` (total None or 0: a count only), unless the
        last update was less than `interval` seconds ago. Returns nothing."""
        if not self._enabled:
            return
        now = self._clock()
        if now - self._start < self._delay:
            return
        if self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        self._write_line(_progress_text(self.label, done, total))

    def close(self) -> None:
        """Erase the progress line, if one was written; later updates are
        ignored. Safe to call twice."""
        if self._enabled and self._shown:
            self._write("\r" + " " * self._shown + "\r")
        self._enabled = False

    def _write_line(self, text: str) -> None:
        """Replace the line on the terminal with text, cut to its width."""
        columns = shutil.get_terminal_size((80, 24)).columns
        text = text[: max(columns - 1, 10)]
        padding = " " * max(self._shown - len(text), 0)
        if self._write("\r" + text + padding):
            self._shown = len(text)

    def _write(self, text: str) -> bool:
        """Write and flush text; on any stream error turn the reporter off.
        Returns whether it was written."""
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError, AttributeError):
            self._enabled = False
            self._shown = 0
            return False
        return True


def _is_terminal(stream: TextIO) -> bool:
    """Whether stream is an open terminal; False for anything that cannot say."""
    try:
        return bool(stream.isatty())
    except (OSError, ValueError, AttributeError):
        return False


def _progress_text(label: str, done: int, total: int | None) -> str:
    """'label: 45% (1,234 of 2,740)', or 'label: 1,234' without a total."""
    if total:
        share = min(max(100 * done // total, 0), 100)
        return f"{label}: {share}% ({done:,} of {total:,})"
    return f"{label}: {done:,}"
