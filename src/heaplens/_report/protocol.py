"""The one protocol of every heaplens report.

    report.format(limit=..., width=...)   the text: at most `limit` entries
                                          (None: all), lines of at most
                                          `width` columns (None: as long as
                                          they come)
    report.show(file=None, limit=..., width=...)
                                          that text, printed (to stdout)
    str(report)                           report.format()
    report.to_dict()                      the data, JSON-ready: str, int,
                                          float, bool, None, lists and dicts
                                          of them; documented per report

A report class inherits Report, sets DEFAULT_LIMIT and DEFAULT_WIDTH, and
writes _lines(limit, width) and to_dict(). Report types that are lists
(Census, CycleReport ...) put Report first among their bases.

Imports nothing of heaplens but the argument checks and text helpers.
"""

from __future__ import annotations

import sys

from heaplens import _args
from heaplens._report.lines import cut

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import EllipsisType
    from typing import Any, TextIO

    # What to_dict() returns and plain() makes: JSON-ready data.
    JSON = Any

# Narrower than this, no report reads.
MIN_WIDTH = 20


def plain(value: object) -> JSON:
    """`value` as JSON-ready data: a named tuple as a dict of its fields, a
    tuple or list as a list, a dict with its keys as str, a class by its
    qualified name; str, int, float, bool and None as they are; anything else
    as str(value) (which runs no code of a user's object: reports hold only
    heaplens's own values, names and numbers)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {name: plain(item) for name, item in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return str(value)


class Report:
    """Base of every report: format, show, __str__ and to_dict."""

    DEFAULT_LIMIT: int | None = 10
    DEFAULT_WIDTH: int | None = None

    def format(
        self, limit: int | None | EllipsisType = ..., width: int | None | EllipsisType = ...
    ) -> str:
        """The report's text: at most `limit` entries (None: all; left out:
        the report's default), lines cut to `width` columns (None: not cut)."""
        name = f"{type(self).__name__}.format"
        limit = self.DEFAULT_LIMIT if limit is ... else _args.count_or_none(name, "limit", limit)
        width = (
            self.DEFAULT_WIDTH
            if width is ...
            else _args.count_or_none(name, "width", width, minimum=MIN_WIDTH)
        )
        lines = "\n".join(self._lines(limit, width)).split("\n")
        if width is not None:
            lines = [cut(line, width) for line in lines]
        return "\n".join(lines)

    def show(
        self,
        file: TextIO | None = None,
        limit: int | None | EllipsisType = ...,
        width: int | None | EllipsisType = ...,
    ) -> None:
        """Print format(limit, width) to `file` (default: sys.stdout)."""
        print(self.format(limit, width), file=sys.stdout if file is None else file)

    def __str__(self) -> str:
        return self.format()

    def _lines(self, limit: int | None, width: int | None) -> Iterable[str]:
        """The report's lines, for format(); `width` is a hint (format cuts)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, JSON]:
        """The report's data, JSON-ready (see the report's documentation)."""
        raise NotImplementedError
