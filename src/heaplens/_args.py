"""Checks of public functions' arguments, with messages that name them.

Each check returns the value to use or raises: TypeError when the argument's
type is wrong, ValueError when its value is. The message names the function
and the argument, says what was expected and what came:
`top_retainers(): n must be an int, not str`. A bool is not a count (True
would silently mean 1). A count past what can exist (more rows than there are
objects) is clamped by the caller rather than allocated.
"""

import os


def _type_name(value):
    return type(value).__name__


def count(function, name, value, minimum=0, maximum=None, none=False):
    """An int from minimum to maximum (None: no upper bound). With none=True,
    None is allowed and returned as is."""
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        also = " or None" if none else ""
        raise TypeError(f"{function}(): {name} must be an int{also}, not {_type_name(value)}")
    if value < minimum:
        raise ValueError(f"{function}(): {name} must be {minimum} or more, not {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{function}(): {name} must be {maximum} or less, not {value}")
    return value


def clamped(function, name, value, minimum=0, limit=None, none=False):
    """count() whose values past `limit` mean "all": returns min(value, limit)."""
    value = count(function, name, value, minimum=minimum, none=none)
    if value is not None and limit is not None and value > limit:
        return limit
    return value


def integer(function, name, value):
    """Any int (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{function}(): {name} must be an int, not {_type_name(value)}")
    return value


def one_of(function, name, value, choices):
    """One of `choices` (compared with ==, by type first: True is not 1)."""
    for choice in choices:
        if type(value) is type(choice) and value == choice:
            return value
    listed = ", ".join(repr(choice) for choice in choices)
    raise ValueError(f"{function}(): {name} must be one of {listed}, not {value!r}")


def callable_(function, name, value, none=False):
    """Something callable (or None when none=True)."""
    if value is None and none:
        return None
    if not callable(value):
        also = " or None" if none else ""
        raise TypeError(f"{function}(): {name} must be callable{also}, not {_type_name(value)}")
    return value


def instance(function, name, value, types, what, none=False):
    """An instance of `types` (described as `what` in the message)."""
    if value is None and none:
        return None
    if not isinstance(value, types):
        also = " or None" if none else ""
        raise TypeError(f"{function}(): {name} must be {what}{also}, not {_type_name(value)}")
    return value


def path(function, name, value, none=False):
    """A file name: str or os.PathLike (bytes too), returned as given."""
    return instance(function, name, value, (str, bytes, os.PathLike), "a file name", none)


def text(function, name, value, none=False):
    """A str."""
    return instance(function, name, value, str, "a str", none)
