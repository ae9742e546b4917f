"""Small objects built twenty calls deep, as in a real application.

alloc_heavy allocates one call below the workload's entry; real programs
allocate under a framework, a router, middleware, services and helpers. Here
every request goes down a chain of nineteen distinct functions (distinct code
objects, as in real code, not one recursive function) to a leaf, twenty calls
deep, that builds a small batch of objects: class instances with three
attributes, strings made by f-strings, tuples, and a small dict for every
other instance. What a round builds stays alive until the round ends and is
freed before the next one, so the tracer sees the allocation and the free of
every block, and the cyclic GC runs as usual. With the harness's frames
(run_one.py's module and main, run(), build_round()) each allocation's stack
is 24 frames deep, so start(25) keeps all of it.

`run(depth)` builds the same objects `depth` calls deep (1 to CALL_DEPTH), so
that profiling can set the same work at depth 2 beside depth 20
(deep_stack_profile.py).
"""

import time

CALL_DEPTH = 20
N_ROUNDS = 5
N_REQUESTS = 5_000  # per round
ITEMS_PER_REQUEST = 20


class Item:
    def __init__(self, key, name, tags):
        self.key = key
        self.name = name
        self.tags = tags


def build(request, n_items):
    """The leaf: build one request's objects and return them."""
    items = []
    for i in range(n_items):
        key = request * n_items + i
        item = Item(key, f"item-{key}", (request, i))
        items.append(item)
        if i & 1:
            items.append({"key": key, "item": item})
    return items


# The chain above the leaf: layer_NN is NN + 1 calls deep counting the leaf.
def layer_01(request, n_items):
    return build(request, n_items)


def layer_02(request, n_items):
    return layer_01(request, n_items)


def layer_03(request, n_items):
    return layer_02(request, n_items)


def layer_04(request, n_items):
    return layer_03(request, n_items)


def layer_05(request, n_items):
    return layer_04(request, n_items)


def layer_06(request, n_items):
    return layer_05(request, n_items)


def layer_07(request, n_items):
    return layer_06(request, n_items)


def layer_08(request, n_items):
    return layer_07(request, n_items)


def layer_09(request, n_items):
    return layer_08(request, n_items)


def layer_10(request, n_items):
    return layer_09(request, n_items)


def layer_11(request, n_items):
    return layer_10(request, n_items)


def layer_12(request, n_items):
    return layer_11(request, n_items)


def layer_13(request, n_items):
    return layer_12(request, n_items)


def layer_14(request, n_items):
    return layer_13(request, n_items)


def layer_15(request, n_items):
    return layer_14(request, n_items)


def layer_16(request, n_items):
    return layer_15(request, n_items)


def layer_17(request, n_items):
    return layer_16(request, n_items)


def layer_18(request, n_items):
    return layer_17(request, n_items)


def layer_19(request, n_items):
    return layer_18(request, n_items)


# ENTRIES[d - 1] reaches the leaf d calls deep (the leaf included).
ENTRIES = (
    build,
    layer_01,
    layer_02,
    layer_03,
    layer_04,
    layer_05,
    layer_06,
    layer_07,
    layer_08,
    layer_09,
    layer_10,
    layer_11,
    layer_12,
    layer_13,
    layer_14,
    layer_15,
    layer_16,
    layer_17,
    layer_18,
    layer_19,
)
assert len(ENTRIES) == CALL_DEPTH


def build_round(entry, n_requests):
    """Serve one round's requests; return how many objects it kept."""
    kept = []
    for request in range(n_requests):
        kept.append(entry(request, ITEMS_PER_REQUEST))
    return sum(len(items) for items in kept)


def run(depth=CALL_DEPTH, n_rounds=N_ROUNDS, n_requests=N_REQUESTS):
    """Run every round `depth` calls deep and return the wall time in seconds."""
    if not 1 <= depth <= CALL_DEPTH:
        raise ValueError(f"depth must be 1 to {CALL_DEPTH}, not {depth}")
    entry = ENTRIES[depth - 1]
    start = time.perf_counter()
    for _ in range(n_rounds):
        build_round(entry, n_requests)
    return time.perf_counter() - start
