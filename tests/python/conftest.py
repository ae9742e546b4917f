"""Shared fixtures: every test leaves both tracers stopped."""

import tracemalloc

import pytest

import heaplens


@pytest.fixture(autouse=True)
def stop_tracers():
    """Stop the stdlib's tracer and heaplens's after each test, pass or fail."""
    yield
    tracemalloc.stop()
    heaplens.stop()


# Every (key_type, cumulative) pair Snapshot.statistics accepts.
KEY_TYPES = [
    ("traceback", False),
    ("lineno", False),
    ("filename", False),
    ("lineno", True),
    ("filename", True),
]
