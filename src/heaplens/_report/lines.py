"""Text made safe and fitted to a width: control characters and surrogates
made visible (clean), lines cut (cut, cut_left) or wrapped (wrap), and a
frame or a stack in a given number of columns (frame_text, stack_line).
Every text report of heaplens (the run report, leak reports, __slots__
advice) fits its lines with these.

Imports nothing of heaplens, so any layer may use it.
"""

from __future__ import annotations

import os
import re
import textwrap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    # A frame as the report data holds it: {'file', 'line', 'function'}.
    Frame = Mapping[str, object]

# C0 and C1 controls, DEL, and the bidi overrides: a file name or a command
# must not move the cursor, clear the screen or reorder what follows. And
# surrogates, which no output encoding takes: a file name that is not valid
# UTF-8 (a module imported from such a directory) holds its odd bytes as
# U+DC80..U+DCFF, as os.fsdecode() makes them.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _visible(char: str) -> str:
    """The escape that shows char: '\\xe9' for the byte a surrogate of
    os.fsdecode() stands for, else as repr() writes it ('\\n', '\\x1b')."""
    if "\udc80" <= char <= "\udcff":
        return f"\\x{ord(char) - 0xDC00:02x}"
    return repr(char)[1:-1]


def clean(text: object) -> str:
    """text (any object) as a str with control characters and surrogates
    made visible ('\\n', '\\x1b', '\\xe9' for a byte of a non-UTF-8 file
    name): safe on a terminal and in any output encoding."""
    return _UNSAFE.sub(lambda m: _visible(m.group()), str(text))


def cut(text: str, width: int) -> str:
    """text cut to at most `width` columns, ending with '...' when cut."""
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    return text[: width - 3] + "..."


def cut_left(text: str, width: int) -> str:
    """text cut to at most `width` columns, keeping its end: '...name.py'."""
    if len(text) <= width:
        return text
    if width <= 3:
        return text[len(text) - width :]
    return "..." + text[len(text) - width + 3 :]


def wrap(text: str, width: int, indent: str = "", first: str = "") -> list[str]:
    """text wrapped into lines of at most `width` columns, the first line
    starting with `first`, continuation lines indented by `indent`; a word
    longer than a line is broken. An empty text is one line, `first`."""
    return textwrap.wrap(
        text,
        width,
        initial_indent=first,
        subsequent_indent=indent,
        break_on_hyphens=False,
        drop_whitespace=True,
    ) or [first.rstrip()]


def relative_path(path: str) -> str:
    """path relative to the current directory when it lies under it."""
    try:
        cwd = os.getcwd() + os.sep
    except OSError:
        return path
    return path[len(cwd) :] if path.startswith(cwd) else path


def shorten_path(path: str, width: int) -> str:
    """path in at most `width` columns: whole when it fits, else its end with
    '...' in front, cut at a directory boundary when one is close enough so
    that the file name stays whole."""
    if len(path) <= width:
        return path
    tail = cut_left(path, width)
    cut = tail.find(os.sep, 3)
    # Prefer '.../dir/file.py' over '...ir/dir/file.py' when it costs little.
    if 0 < cut < len(tail) - 1 and cut <= width // 2:
        return "..." + tail[cut:]
    return tail


# The line of a native frame (a C function; heaplens run --native-frames):
# its file is the library's path and its function the C function's name.
NATIVE_LINE = -1


def is_native_frame(frame: Mapping[str, object]) -> bool:
    """Whether a frame dict is a native (C) frame."""
    return frame.get("line") == NATIVE_LINE


def frame_text(frame: Frame, width: int = 100, full_path: bool = True) -> str:
    """One frame as 'path/file.py:12 in function' in at most `width` columns,
    or a native frame as 'function [library.so]'.

    The line number always stays; the path is shortened from the left first
    (full_path=False keeps only the file name), then the function name is cut,
    then the file name is cut from the left."""
    if is_native_frame(frame):
        library = os.path.basename(clean(frame["file"])) or "?"
        return cut(f"{clean(frame['function']) or '?'} [{library}]", width)
    path = clean(frame["file"])
    path = relative_path(path) if full_path else os.path.basename(path) or path
    where = f":{frame['line']}"
    function = clean(frame["function"])
    in_function = f" in {function}" if function else ""
    room = width - len(where) - len(in_function)
    name = os.path.basename(path) or path
    if room >= min(len(path), len(name) + 4):
        return shorten_path(path, room) + where + in_function
    # The function name gives way, down to a few characters, to keep
    # '.../name.py'; then the file name is cut from the left.
    if in_function:
        keep = max(width - len(where) - len(name) - 4, min(len(in_function), 12))
        in_function = cut(in_function, keep) if keep > 4 else ""
    room = max(width - len(where) - len(in_function), 0)
    return shorten_path(path, room) + where + in_function


def stack_line(frames: Sequence[Frame], width: int = 100) -> str:
    """A stack on one line: the allocating frame (file name, line and the
    whole function name when they fit) and its callers after '<-', file names
    only, as many as fit in `width` columns, then '<- ...' when some are left
    out."""
    if not frames:
        return cut("(no traceback)", width)
    first_width = width if len(frames) == 1 else max(width - 7, min(width, 30))
    text = frame_text(frames[0], first_width, full_path=False)
    for index, caller in enumerate(frames[1:], 1):
        more = " <- ..." if index < len(frames) - 1 else ""
        part = " <- " + frame_text(caller, 40, full_path=False)
        if len(text) + len(part) + len(more) > width:
            return text + " <- ..." if len(text) + 7 <= width else text
        text += part
    return text
