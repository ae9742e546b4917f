"""Reading the dict of LeakReport.to_dict() for the leak page: read_report()
checks every field's type and value (TypeError or ValueError naming the
field) and fills in what optional fields leave out, so that the page
(leaks.py) renders only clean values.
"""

from __future__ import annotations

import math

from heaplens._report.html import page

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any, NotRequired, TypedDict

    # What a field is checked against: a type or a tuple of types.
    Kinds = type | tuple[type, ...]

    class Holder(TypedDict):
        """A holder, checked."""

        holder: str
        where: str | None
        kind: str
        objects: float | None
        per_call: float | None
        retained: float | None
        types: list[tuple[str, float]]
        sentence: str | None
        note: str | None

    class Group(TypedDict):
        """A group of leaked objects, checked."""

        type: str
        module: str | None
        count: float
        per_call: list[float]
        size: float | None
        retained: float | None
        site: str | None
        traceback: list[tuple[str, int | None, str | None]]
        chain: list[tuple[str, str | None]]
        holder: int | None
        holder_step: int | None
        example: str | None

    class NativeRow(TypedDict):
        """Native memory left alive at one line, checked."""

        site: str | None
        traceback: list[tuple[str, int | None, str | None]]
        domain_name: str
        size: float
        blocks: float | None
        per_call: list[float]
        bytes_per_call: float
        blocks_per_call: float | None
        held_by_objects: float | None
        excluded: str | None

    class LeakPage(TypedDict):
        """The report as read_report() returns it."""

        heaplens: str | None
        python: str | None
        title: str | None
        calls: int | None
        warmup: int | None
        clean: bool
        objects: float
        size: float | None
        retained: float | None
        holders: list[Holder]
        groups: list[Group]
        native_checked: bool
        native: list[NativeRow]
        native_size: float
        notes: list[str]
        headline: NotRequired[str]  # set last, from the rest (always there)


FORMAT = "heaplens-leak-report"
VERSION = 1


def _field(
    mapping: Mapping[str, object], key: str, kinds: Kinds, where: str, default: Any = None
) -> Any:
    """mapping[key] checked against `kinds` (a type or tuple), or `default`
    when the key is missing or None. Raises TypeError naming the field.
    (Typed Any: the value is of one of `kinds`, or `default`.)"""
    value = mapping.get(key)
    if value is None:
        return default
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
        raise TypeError(
            f"leak report: {where}{key} should be {_kind_name(kinds)}, not {value!r:.80}"
        )
    return value


def _number(
    mapping: Mapping[str, object],
    key: str,
    where: str,
    default: float | None = None,
    integer: bool = False,
) -> Any:
    """A count or byte size: an int (or a float unless `integer`), finite and >= 0
    (or `default`). Typed Any, as _field()."""
    value = _field(mapping, key, int if integer else (int, float), where, default)
    if value is not None:
        _check_number(value, f"{where}{key}")
    return value


def _check_number(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"leak report: {name} should be a number, not {value!r:.80}")
    if (isinstance(value, float) and not math.isfinite(value)) or value < 0:
        raise ValueError(f"leak report: {name} should be a finite number >= 0, not {value!r}")


def _tuple(kinds: Kinds) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _kind_name(kinds: Kinds) -> str:
    names: dict[type, str] = {bool: "a bool", int: "an int", float: "a float", str: "a str"}
    names.update({list: "a list", tuple: "a list", dict: "a dict"})
    return " or ".join(dict.fromkeys(names.get(kind, kind.__name__) for kind in _tuple(kinds)))


def _items(mapping: Mapping[str, object], key: str, where: str) -> list[Any]:
    """mapping[key] as a list (a list or tuple in the data; [] when missing)."""
    return list(_field(mapping, key, (list, tuple), where, ()))


def read_report(data: object) -> LeakPage:
    """The report as plain checked values, optional fields filled in."""
    if not isinstance(data, dict):
        raise TypeError(f"leak report: expected the dict of LeakReport.to_dict(), not {data!r:.80}")
    fmt = _field(data, "format", str, "", FORMAT)
    if fmt != FORMAT:
        raise ValueError(f"leak report: format is {fmt!r:.80}, expected {FORMAT!r}")
    version = _field(data, "version", int, "", VERSION)
    if version != VERSION:
        raise ValueError(
            f"leak report: version {version} is not supported (this page reads {VERSION})"
        )
    holders = [_read_holder(item, i) for i, item in enumerate(_items(data, "holders", ""))]
    groups = [
        _read_group(item, i, len(holders)) for i, item in enumerate(_items(data, "groups", ""))
    ]
    native = [_read_native(item, i) for i, item in enumerate(_items(data, "native", ""))]
    summary = _field(data, "summary", dict, "", {})
    clean = _field(
        data, "clean", bool, "", not groups and not [n for n in native if not n["excluded"]]
    )
    notes = _items(data, "notes", "")
    for i, note in enumerate(notes):
        if not isinstance(note, str):
            raise TypeError(f"leak report: notes[{i}] should be a str, not {note!r:.80}")
    report: LeakPage = {
        "heaplens": _field(data, "heaplens", str, "", None),
        "python": _field(data, "python", str, "", None),
        "title": _field(data, "title", str, "", None),
        "calls": _number(data, "calls", "", integer=True),
        "warmup": _number(data, "warmup", "", integer=True),
        "clean": clean,
        "objects": _number(summary, "objects", "summary.", sum(g["count"] for g in groups)),
        "size": _number(summary, "size", "summary.", _sum(g["size"] for g in groups)),
        "retained": _number(summary, "retained", "summary.", _sum(g["retained"] for g in groups)),
        "holders": holders,
        "groups": groups,
        "native_checked": _field(data, "native_checked", bool, "", bool(native)),
        "native": native,
        "native_size": _number(
            summary,
            "native_size",
            "summary.",
            sum(n["size"] for n in native if not n["excluded"]),
        ),
        "notes": notes,
    }
    report["headline"] = _field(data, "headline", str, "", None) or _default_headline(report)
    return report


def _sum(values: Iterable[float | None]) -> float | None:
    values = list(values)
    # No None is left in what sum() adds, but the checker cannot see it.
    return None if not values or None in values else sum(values)  # type: ignore[arg-type]


def _default_headline(report: LeakPage) -> str:
    if report["clean"]:
        return "No leaks found"
    if report["holders"] and report["holders"][0]["sentence"]:
        return report["holders"][0]["sentence"]
    return f"{page.count(report['objects'])} objects were left alive"


def _read_holder(item: object, index: int) -> Holder:
    where = f"holders[{index}]."
    if not isinstance(item, dict):
        raise TypeError(f"leak report: holders[{index}] should be a dict, not {item!r:.80}")
    types_held: list[tuple[str, float]] = []
    for i, pair in enumerate(_items(item, "types", where)):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not isinstance(pair[0], str):
            raise TypeError(f"leak report: {where}types[{i}] should be [type name, count]")
        _check_number(pair[1], f"{where}types[{i}][1]")
        types_held.append((pair[0], pair[1]))
    return {
        "holder": _field(item, "holder", str, where, "an unknown holder"),
        "where": _field(item, "where", str, where),
        "kind": _field(item, "kind", str, where, "object"),
        "objects": _number(item, "objects", where),
        "per_call": _number(item, "per_call", where),
        "retained": _number(item, "retained", where),
        "types": types_held,
        "sentence": _field(item, "sentence", str, where),
        "note": _field(item, "note", str, where),
    }


def _read_group(item: object, index: int, n_holders: int) -> Group:
    where = f"groups[{index}]."
    if not isinstance(item, dict):
        raise TypeError(f"leak report: groups[{index}] should be a dict, not {item!r:.80}")
    per_call = _items(item, "per_call", where)
    for i, value in enumerate(per_call):
        _check_number(value, f"{where}per_call[{i}]")
    chain = [
        _read_step(step, f"{where}chain[{i}]")
        for i, step in enumerate(_items(item, "chain", where))
    ]
    holder = _field(item, "holder", int, where)
    if holder is not None and not 0 <= holder < n_holders:
        raise ValueError(
            f"leak report: {where}holder is {holder}, but there are {n_holders} holders"
        )
    holder_step = _field(item, "holder_step", int, where)
    if holder_step is not None and not 0 <= holder_step < len(chain):
        raise ValueError(
            f"leak report: {where}holder_step is {holder_step}, "
            f"but the chain has {len(chain)} steps"
        )
    return {
        "type": _field(item, "type", str, where, "?"),
        "module": _field(item, "module", str, where),
        "count": _number(item, "count", where, sum(per_call)),
        "per_call": per_call,
        "size": _number(item, "size", where),
        "retained": _number(item, "retained", where),
        "site": _field(item, "site", str, where),
        "traceback": [
            _read_frame(frame, f"{where}traceback[{i}]")
            for i, frame in enumerate(_items(item, "traceback", where))
        ],
        "chain": chain,
        "holder": holder,
        "holder_step": holder_step,
        "example": _field(item, "example", str, where),
    }


def _read_native(item: object, index: int) -> NativeRow:
    where = f"native[{index}]."
    if not isinstance(item, dict):
        raise TypeError(f"leak report: native[{index}] should be a dict, not {item!r:.80}")
    per_call = _items(item, "per_call", where)
    for i, value in enumerate(per_call):
        # Bytes a call added: negative when it freed more than it kept.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"leak report: {where}per_call[{i}] should be a number")
        if not math.isfinite(value):
            raise ValueError(f"leak report: {where}per_call[{i}] should be finite")
    size = _number(item, "size", where, 0)
    calls = len(per_call) or 1
    return {
        "site": _field(item, "site", str, where),
        "traceback": [
            _read_frame(frame, f"{where}traceback[{i}]")
            for i, frame in enumerate(_items(item, "traceback", where))
        ],
        "domain_name": _field(item, "domain_name", str, where, "native"),
        "size": size,
        "blocks": _number(item, "blocks", where),
        "per_call": per_call,
        "bytes_per_call": _number(item, "bytes_per_call", where, size / calls),
        "blocks_per_call": _number(item, "blocks_per_call", where),
        "held_by_objects": _number(item, "held_by_objects", where),
        "excluded": _field(item, "excluded", str, where),
    }


def _read_frame(frame: object, name: str) -> tuple[str, int | None, str | None]:
    """(filename, lineno or None, source line or None) from [file, line, source]."""
    if not isinstance(frame, (list, tuple)) or len(frame) not in (2, 3):
        raise TypeError(f"leak report: {name} should be [filename, lineno, source line or null]")
    filename, lineno = frame[0], frame[1]
    line = frame[2] if len(frame) == 3 else None
    if not isinstance(filename, str):
        raise TypeError(f"leak report: {name}[0] should be a str, not {filename!r:.80}")
    if lineno is not None and (isinstance(lineno, bool) or not isinstance(lineno, int)):
        raise TypeError(f"leak report: {name}[1] should be an int, not {lineno!r:.80}")
    if line is not None and not isinstance(line, str):
        raise TypeError(f"leak report: {name}[2] should be a str or null, not {line!r:.80}")
    return filename, lineno, line


def _read_step(step: object, name: str) -> tuple[str, str | None]:
    """(description, reference label or None) from [description, label]."""
    if not isinstance(step, (list, tuple)) or len(step) not in (1, 2):
        raise TypeError(f"leak report: {name} should be [description, reference label or null]")
    description = step[0]
    label = step[1] if len(step) == 2 else None
    if not isinstance(description, str):
        raise TypeError(f"leak report: {name}[0] should be a str, not {description!r:.80}")
    if label is not None and not isinstance(label, str):
        raise TypeError(f"leak report: {name}[1] should be a str or null, not {label!r:.80}")
    return description, label
