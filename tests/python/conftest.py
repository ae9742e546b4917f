"""Shared fixtures: every test leaves both tracers stopped."""

import sys
import tracemalloc

import pytest

import heaplens


@pytest.fixture(autouse=True)
def stop_tracers():
    """Stop the stdlib's tracer and heaplens's after each test, pass or fail."""
    yield
    tracemalloc.stop()
    heaplens.stop()


def _getrefcount_argument():
    probe = object()
    return sys.getrefcount(probe) - 1


# What sys.getrefcount(local) counts for its own argument: 1, or 0 where the
# interpreter lends a local to a call without counting it (3.14's
# LOAD_FAST_BORROW). Measured, not inferred from the version.
GETREFCOUNT_ARGUMENT = _getrefcount_argument()


# Every (key_type, cumulative) pair Snapshot.statistics accepts.
KEY_TYPES = [
    ("traceback", False),
    ("lineno", False),
    ("filename", False),
    ("lineno", True),
    ("filename", True),
]
