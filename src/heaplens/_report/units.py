"""Numbers for people: bytes, counts, shares and durations, the one place
heaplens turns them into text (reports, the heap graph's summaries, the HTML
pages). heaplens.tracemalloc keeps stdlib tracemalloc's own size format
(heaplens._trace.snapshot), which is part of the API it copies.

Imports nothing of heaplens, so any layer may use it.
"""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def format_bytes(size: float, sign: bool = False, decimals: int | None = None) -> str:
    """A byte count in human units: '0 B', '1023 B', '1.50 KiB', '12.3 MiB',
    '512 GiB'. Three significant digits from KiB up (four below 1024 of a
    unit); with decimals=1, one decimal whatever the size ('1.5 KiB',
    '512.0 MiB'), as the heap graph's summaries and the HTML pages show sizes.
    With sign, a positive value gets a '+' (zero never has a sign)."""
    plus = "+" if sign and size > 0 else ""
    if abs(size) < 1024:
        return f"{plus}{round(size):d} B"
    value = float(size)
    for unit in _UNITS[1:]:
        value /= 1024
        text = _three_digits(value) if decimals is None else f"{value:.{decimals}f}"
        if abs(float(text)) < 1024:
            return f"{plus}{text} {unit}"
    if decimals is None:
        text = f"{value:.3g}"
    return f"{plus}{text} {_UNITS[-1]}"


def _three_digits(value: float) -> str:
    """value with 2, 1 or 0 decimals so that it shows three significant
    digits (four for 1000..1023): '1.50', '12.3', '123', '1000'."""
    for decimals, limit in ((2, 10), (1, 100)):
        text = f"{value:.{decimals}f}"
        if abs(float(text)) < limit:
            return text
    return f"{value:.0f}"


def format_count(count: int, sign: bool = False) -> str:
    """An integer with thousands separators: '1,234,567' ('+1,234' with sign)."""
    return f"{count:+,d}" if sign and count else f"{count:,d}"


def format_percent(part: float, whole: float, sign: bool = False) -> str:
    """part as a percentage of whole: '12.3%', '<0.1%', '>99.9%', '100%'; '' when whole
    is 0 (no meaningful share). With sign: '+12.3%' / '-4.0%'."""
    if not whole:
        return ""
    share = 100.0 * part / whole
    if sign:
        return ">+9999%" if share >= 10_000 else f"{share:+.1f}%"
    if 0 < share < 0.05:
        return "<0.1%"
    if 99.95 <= share < 100:
        return ">99.9%"
    return "100%" if share == 100 else f"{share:.1f}%"


def format_seconds(seconds: float) -> str:
    """A duration: '0.35 s', '12.5 s', '3 min 05 s', '2 h 03 min'."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
