"""What every heaplens HTML page shares: text from the data made safe
(text() for content, plain() for attributes and titles: escaped, invisible
characters spelled out, cut when too long), numbers and sizes as HTML, frames
as labels and cells, JSON for a <script>, and the CSS and JS files of this
package (asset()). The leak page (leaks.py) and the run and diff pages
(run.py, chart.py, flame.py) build on it.
"""

from __future__ import annotations

import html
import importlib.resources
import json
import os
import re

from heaplens._report.lines import is_native_frame
from heaplens._report.units import format_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from heaplens._report.data import Frame

CLIP = 300  # characters of one string from the data shown before it is cut

# Characters that must not reach the page as themselves: C0 controls but tab
# and newline, DEL, lone surrogates (which no encoding writes) and the bidi
# overrides that can make text read differently from what it is.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def asset(name: str) -> str:
    """The text of a CSS or JS file of this package (base.css, run.css, run.js)."""
    return importlib.resources.files(__package__).joinpath(name).read_text(encoding="ascii")


def visible(text: str) -> str:
    """`text` with characters that would hide or garble it spelled out."""

    def spell(match: re.Match[str]) -> str:
        char = match.group()
        if "\ud800" <= char <= "\udfff":
            return "\ufffd"
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"

    return _INVISIBLE.sub(spell, text)


def text(value: str, limit: int = CLIP) -> str:
    """`value` (a str from the data) as safe HTML, cut past `limit`
    characters with a visible mark that says how much was left out."""
    value = visible(value)
    if len(value) <= limit:
        return html.escape(value)
    left_out = len(value) - limit
    return (
        f"{html.escape(value[:limit])}"
        f'<span class="cut" title="{left_out:,} more characters not shown">'
        f"&hellip; [+{left_out:,} characters]</span>"
    )


def plain(text: str, limit: int = 120) -> str:
    """`text` escaped for an attribute or the <title>: no markup, a plain cut."""
    text = visible(text)
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return html.escape(text)


def count(value: float | None) -> str:
    """25 -> '25', 1234 -> '1,234', 2.5 -> '2.5', 5.0 -> '5'."""
    if value is None:
        return "&ndash;"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".rstrip("0")
    return f"{int(value):,}"


def size(value: float | None) -> str:
    """A byte size in human units, the exact count on hover."""
    if value is None:
        return "&ndash;"
    return f'<span title="{int(value):,} bytes">{format_bytes(value, decimals=1)}</span>'


def plural(value: float, word: str) -> str:
    return word if value == 1 else word + "s"


def script_json(value: object) -> str:
    """`value` as JSON safe inside a <script> element: no `<`, `>` or `&`."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def share(part: float, whole: float) -> str:
    """part/whole as plain text: '45.2%', '<0.1%' for a sliver, '' when whole is 0."""
    if not whole:
        return ""
    share = 100.0 * part / whole
    if 0 < abs(share) < 0.1:
        return "<0.1%"
    return f"{share:.1f}%"


def percent(part: float, whole: float) -> str:
    """share() as HTML."""
    return html.escape(share(part, whole))


def signed_size(value: int) -> str:
    """A change in bytes: '+1.5 MiB', '&minus;300 B', '0 B', exact count on hover."""
    sign = "+" if value > 0 else "&minus;" if value < 0 else ""
    return f'<span title="{value:+,} bytes">{sign}{format_bytes(abs(value), decimals=1)}</span>'


def signed_count(value: int) -> str:
    """A change in a count: '+12', '&minus;3', '0'."""
    sign = "+" if value > 0 else "&minus;" if value < 0 else ""
    return f"{sign}{abs(value):,}"


def where(frame: Frame) -> str:
    """'file:line' of a frame dict, or 'library (native code)' for a native
    frame, unescaped."""
    if is_native_frame(frame):
        return f"{frame.get('file') or '?'} (native code)"
    return f"{frame.get('file') or '?'}:{frame.get('line') or '?'}"


def frame_label(frame: Frame) -> str:
    """'function (base.py:12)', or 'function [library.so]' for a native
    frame: the short label of a box, unescaped."""
    if is_native_frame(frame):
        return (
            f"{frame.get('function') or '?'} [{os.path.basename(frame.get('file') or '') or '?'}]"
        )
    short = f"{os.path.basename(frame.get('file') or '') or '?'}:{frame.get('line') or '?'}"
    function = frame.get("function")
    return f"{function} ({short})" if function else short


def site_cell(frame: Frame) -> str:
    """A table cell naming a frame: the function, then file:line below it."""
    function = frame.get("function")
    name = f'<code class="fn">{text(function, 120)}</code>' if function else ""
    return f'{name}<span class="loc">{text(where(frame))}</span>'


def section(key: str, heading: str, lead: str, *parts: str) -> str:
    """One <section> with its heading, the sentence saying what it shows, and parts."""
    return "\n".join(
        [
            f'<section id="{key}"><h2>{heading}</h2>',
            f'<p class="lead">{lead}</p>',
            *parts,
            "</section>",
        ]
    )
