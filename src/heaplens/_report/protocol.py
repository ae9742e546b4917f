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

import sys

from heaplens import _args
from heaplens._report.lines import cut

# Narrower than this, no report reads.
MIN_WIDTH = 20


def plain(value):
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

    DEFAULT_LIMIT = 10
    DEFAULT_WIDTH = None

    def format(self, limit=..., width=...):
        """The report's text: at most `limit` entries (None: all; left out:
        the report's default), lines cut to `width` columns (None: not cut)."""
        name = f"{type(self).__name__}.format"
        limit = self.DEFAULT_LIMIT if limit is ... else _args.count(name, "limit", limit, none=True)
        width = (
            self.DEFAULT_WIDTH
            if width is ...
            else _args.count(name, "width", width, minimum=MIN_WIDTH, none=True)
        )
        lines = "\n".join(self._lines(limit, width)).split("\n")
        if width is not None:
            lines = [cut(line, width) for line in lines]
        return "\n".join(lines)

    def show(self, file=None, limit=..., width=...):
        """Print format(limit, width) to `file` (default: sys.stdout)."""
        print(self.format(limit, width), file=sys.stdout if file is None else file)

    def __str__(self):
        return self.format()

    def _lines(self, limit, width):
        """The report's lines, for format(); `width` is a hint (format cuts)."""
        raise NotImplementedError

    def to_dict(self):
        """The report's data, JSON-ready (see the report's documentation)."""
        raise NotImplementedError
