"""pandas, as a user meets it (issue 17, part 4): the strings of an object
column live in a NumPy array of dtype=object, whose references the
collector cannot see (src/ext/opaque_containers.c lets the heap walk see
them). A frame's retained size is then what pandas itself says it holds
(memory_usage(deep=True)), and a leak into an object column is found, with
the chain to what holds it.

pandas is a test dependency only (TEST_DEPS): heaplens never imports it."""

import sys

import numpy as np
import pandas as pd
import pytest

import heaplens

ROWS = 50_000


def _frame(dtype):
    """ROWS rows: two columns of distinct strings (stored as `dtype`) and two
    numeric columns, with the default index."""
    return pd.DataFrame(
        {
            "customer": pd.Series([f"customer-{i:07d}" for i in range(ROWS)], dtype=dtype),
            "note": pd.Series([f"note {i} " * 3 for i in range(ROWS)], dtype=dtype),
            "amount": np.arange(ROWS, dtype=np.float64),
            "count": np.arange(ROWS, dtype=np.int64),
        }
    )


@pytest.mark.parametrize(
    "dtype", [object, pd.StringDtype("python")], ids=["object", "string-python"]
)
def test_retained_size_of_a_frame_is_its_deep_memory_usage(dtype):
    """memory_usage(deep=True) counts each column's array and, for an object
    column, sys.getsizeof of each element; retained(df) counts the same
    objects once, plus the frame's own few (the DataFrame, its manager and
    blocks, the index): 0.07% to 0.1% above on 3.11 and 3.13. Without
    the walk seeing into object arrays it was the arrays alone (about 20%)."""
    df = _frame(dtype)
    assert df["customer"].array._ndarray.dtype == object  # an object array inside
    deep = int(df.memory_usage(deep=True).sum())
    retained = heaplens.retained(df)
    assert deep > 6_000_000, deep
    assert abs(retained - deep) <= 0.02 * deep, (retained, deep)


def test_strings_shared_with_the_rest_of_the_program_are_not_retained():
    """memory_usage(deep=True) counts a string once per row that holds it;
    retained(df) leaves out what the frame shares with the rest of the
    program (here 50 long city names, 1 MB, that a list holds too): they
    would not be freed with the frame."""
    cities = [f"city {i} " + "x" * 20_000 for i in range(50)]
    df = pd.DataFrame(
        {
            "city": pd.Series([cities[i % 50] for i in range(ROWS)], dtype=object),
            "amount": np.arange(ROWS, dtype=np.float64),
        }
    )
    usage = df.memory_usage(deep=True)
    assert usage.sum() > ROWS * 20_000  # each row's name, counted again
    arrays = usage["Index"] + ROWS * 8 + usage["amount"]  # the frame's, without the names
    retained = heaplens.retained(df)
    assert arrays <= retained <= arrays + 100_000, (retained, arrays, usage.sum())
    del cities  # now the frame alone holds them: they are its own
    retained = heaplens.retained(df)
    assert arrays + 1_000_000 <= retained <= arrays + 1_100_000, (retained, arrays)


def test_a_string_held_only_by_an_object_column_has_its_chain():
    df = _frame(object)
    chain = heaplens.why_alive(df["customer"].iloc[1234])
    text = str(chain)
    assert "not in the heap graph" not in text, text
    assert "DataFrame" in text and "ndarray" in text, text
    holders = [type(ref.holder).__name__ for ref in heaplens.referrers(df["note"].iloc[99])]
    assert "ndarray" in holders, holders


_batches = []
_frame_of_events = pd.DataFrame({"event": pd.Series([], dtype=object)})
_calls = [0]


def _leak_a_series():
    n = _calls[0]
    _calls[0] += 1
    _batches.append(pd.Series([f"batch {n}-{i} " * 4 for i in range(200)], dtype=object))


def _leak_into_a_column():
    global _frame_of_events
    n = _calls[0]
    _calls[0] += 1
    new = pd.DataFrame(
        {"event": pd.Series([f"event {n}-{i} " * 4 for i in range(200)], dtype=object)}
    )
    _frame_of_events = pd.concat([_frame_of_events, new], ignore_index=True)


def _str_group(report):
    groups = [group for group in report.groups if group.type == "str"]
    assert groups, str(report)
    return groups[0]


def test_a_leaked_list_of_object_series_is_found_with_its_holder():
    try:
        report = heaplens.find_leaks(_leak_a_series, repeat=4, warmup=2)
        assert _str_group(report).per_call == [200, 200, 200, 200], str(report)
        assert (
            "module global _batches (list) holds 1 new Series per call" in report.headline
        ), report.headline
        assert "200 str" in report.headline, report.headline
    finally:
        _batches.clear()


def test_a_leak_into_an_object_column_is_found_with_its_chain():
    """Each call concatenates 200 new strings onto a module-level frame: the
    strings are found, with the chain from the global through the frame's
    block to its object array."""
    global _frame_of_events
    try:
        report = heaplens.find_leaks(_leak_into_a_column, repeat=4, warmup=2)
        strings = _str_group(report)
        assert strings.per_call == [200, 200, 200, 200], str(report)
        smallest = sys.getsizeof("event 0-0 " * 4)
        assert strings.retained >= strings.size >= 800 * smallest, str(report)
        text = str(report)
        assert "['_frame_of_events'] -> DataFrame" in text, text
        assert "ndarray object at" in text and "(the holder)" in text, text
    finally:
        _frame_of_events = pd.DataFrame({"event": pd.Series([], dtype=object)})
