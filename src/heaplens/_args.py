"""Checks of public functions' arguments, with messages that name them.

Each check returns the value to use or raises: TypeError when the argument's
type is wrong, ValueError when its value is. The message names the function
and the argument, says what was expected and what came:
`top_retainers(): n must be an int, not str`. A bool is not a count (True
would silently mean 1). A count past what can exist (more rows than there are
objects) is clamped by the caller rather than allocated.
"""

from __future__ import annotations

import os

# typing is not imported at run time: `import heaplens` loads this module, and
# a memory tool imports no more than it needs. mypy reads TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


def _type_name(value: object) -> str:
    return type(value).__name__


def count(
    function: str, name: str, value: object, minimum: int = 0, maximum: int | None = None
) -> int:
    """An int from minimum to maximum (None: no upper bound)."""
    return _count(function, name, value, minimum, maximum, "")


def count_or_none(
    function: str, name: str, value: object, minimum: int = 0, maximum: int | None = None
) -> int | None:
    """count(), or None when value is None."""
    if value is None:
        return None
    return _count(function, name, value, minimum, maximum, " or None")


def _count(
    function: str, name: str, value: object, minimum: int, maximum: int | None, also: str
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{function}(): {name} must be an int{also}, not {_type_name(value)}")
    if value < minimum:
        raise ValueError(f"{function}(): {name} must be {minimum} or more, not {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{function}(): {name} must be {maximum} or less, not {value}")
    return value


def clamped(
    function: str, name: str, value: object, minimum: int = 0, limit: int | None = None
) -> int:
    """count() whose values past `limit` mean "all": returns min(value, limit)."""
    checked = count(function, name, value, minimum=minimum)
    if limit is not None and checked > limit:
        return limit
    return checked


def integer(function: str, name: str, value: object) -> int:
    """Any int (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{function}(): {name} must be an int, not {_type_name(value)}")
    return value


def one_of(function: str, name: str, value: T, choices: tuple[object, ...]) -> T:
    """One of `choices` (compared with ==, by type first: True is not 1)."""
    for choice in choices:
        if type(value) is type(choice) and value == choice:
            return value
    listed = ", ".join(repr(choice) for choice in choices)
    raise ValueError(f"{function}(): {name} must be one of {listed}, not {value!r}")


def callable_(function: str, name: str, value: T, none: bool = False) -> T:
    """Something callable (or None when none=True)."""
    if value is None and none:
        return value
    if not callable(value):
        also = " or None" if none else ""
        raise TypeError(f"{function}(): {name} must be callable{also}, not {_type_name(value)}")
    return value


def instance(
    function: str,
    name: str,
    value: T,
    types: type | tuple[type, ...],
    what: str,
    none: bool = False,
) -> T:
    """An instance of `types` (described as `what` in the message)."""
    if value is None and none:
        return value
    if not isinstance(value, types):
        also = " or None" if none else ""
        raise TypeError(f"{function}(): {name} must be {what}{also}, not {_type_name(value)}")
    return value


def path(function: str, name: str, value: T, none: bool = False) -> T:
    """A file name: str or os.PathLike (bytes too), returned as given."""
    return instance(function, name, value, (str, bytes, os.PathLike), "a file name", none)


def text(function: str, name: str, value: T, none: bool = False) -> T:
    """A str."""
    return instance(function, name, value, str, "a str", none)
