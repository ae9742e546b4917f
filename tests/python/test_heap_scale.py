"""Heap queries stay near linear (issue 15, defect 5).

A linked list a million objects deep and a cycle of a million objects go
through every heap query: why_alive, retained, top_retainers, cycles, census,
referrers and find_leaks. Each must finish within a generous bound; before the
fix top_retainers walked the dominator chain of every candidate while the
candidates grew to the whole heap (20k nodes took 7 s, a million did not
finish in 120 s). The structures are built once per module. Under the ASan
build (LD_PRELOAD names libasan) everything is some ten times slower, so N is
smaller there; HEAPLENS_SCALE_N sets it.
"""

import contextlib
import os
import signal
import sys
import time

import pytest

import heaplens
from heaplens._graph.heap import OmittedSteps

UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
N = int(os.environ.get("HEAPLENS_SCALE_N", 100_000 if UNDER_ASAN else 1_000_000))
# Seconds any one query may take: a hundred times what it takes on an idle
# machine at a million objects, and far below what a quadratic query needs.
BOUND = 30

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "setitimer"), reason="the time bound needs SIGALRM"
)


class Node:
    __slots__ = ("next", "__weakref__")


NODE_SIZE = sys.getsizeof(Node())


@contextlib.contextmanager
def bounded(what):
    """Fail, rather than hang, when the block runs longer than BOUND: the
    old quadratic loops run Python code, where the alarm interrupts them."""

    def expire(signum, frame):
        raise TimeoutError(f"{what} took more than {BOUND} s on {N:,} objects")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, BOUND)
    started = time.perf_counter()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    print(f"{what}: {time.perf_counter() - started:.2f} s")


def _linked(n):
    """head -> ... -> tail, n nodes; only the head is returned with the tail."""
    head = tail = Node()
    for _ in range(n - 1):
        node = Node()
        tail.next = node
        tail = node
    return head, tail


class Structures:
    """Held by the fixture: the chain's head and the cycle's entry only."""

    def __init__(self):
        self.chain_head, tail = _linked(N)
        self.cycle_entry, last = _linked(N)
        last.next = self.cycle_entry
        del tail, last


@pytest.fixture(scope="module")
def heap():
    structures = Structures()
    yield structures
    # The cycle would otherwise wait for a collection.
    structures.cycle_entry.next = None


def _chain_tail(heap):
    node = heap.chain_head
    while hasattr(node, "next"):
        node = node.next
    return node


def _before_entry(heap):
    node = heap.cycle_entry
    while node.next is not heap.cycle_entry:
        node = node.next
    return node


def test_why_alive_on_a_million_deep_chain(heap):
    tail = _chain_tail(heap)
    with bounded("why_alive(chain tail)"):
        chain = heaplens.why_alive(tail)
    assert chain.found
    shown = [step for step in chain.steps if not isinstance(step, OmittedSteps)]
    # The whole chain down from the head, with its middle left out of the text.
    assert len(shown) + chain.omitted >= N
    assert len(chain.steps) < 100
    assert sum(isinstance(step, OmittedSteps) for step in chain.steps) == 1
    assert f"{chain.omitted:,} more" in str(chain)
    assert chain.steps[-2].label == ".next"


def test_why_alive_across_a_million_node_cycle(heap):
    last = _before_entry(heap)
    with bounded("why_alive(cycle member)"):
        chain = heaplens.why_alive(last)
    assert chain.found
    assert len(chain.steps) < 100 and chain.omitted >= N - 50


def test_retained(heap):
    with bounded("retained(chain head)"):
        chain_bytes = heaplens.retained(heap.chain_head)
    assert chain_bytes == N * NODE_SIZE
    with bounded("retained(cycle entry)"):
        cycle_bytes = heaplens.retained(heap.cycle_entry)
    assert cycle_bytes == N * NODE_SIZE


def test_top_retainers(heap):
    with bounded("top_retainers(5)"):
        report = heaplens.top_retainers(5)
    assert len(report) == 5
    # The fixture's object retains both structures; nothing inside it is
    # listed again (its memory is counted there). It need not be first: what
    # earlier tests of the worker left retains more on a big heap (objgraph's
    # get_new_ids keeps the ids of every object it saw).
    [row] = [row for row in report if row.type is Structures]
    assert row.retained == 2 * N * NODE_SIZE + sys.getsizeof(heap)
    assert not any(row.type is Node for row in report)


def test_cycles(heap):
    with bounded("cycles()"):
        report = heaplens.cycles()
    big = [group for group in report if group.objects >= N]
    assert len(big) == 1
    assert big[0].shape == f"{__name__}.Node x{N}" and big[0].count == 1
    assert big[0].size == N * NODE_SIZE
    assert "more ..." in big[0].example and len(big[0].example) < 10_000


def test_census(heap):
    with bounded("census()"):
        census = heaplens.census()
    row = next(row for row in census if row.type is Node)
    assert row.count >= 2 * N and row.size >= 2 * N * NODE_SIZE


def test_referrers(heap):
    tail = _chain_tail(heap)
    with bounded("referrers(chain tail)"):
        referrers = heaplens.referrers(tail)
    assert [referrer.label for referrer in referrers if type(referrer.holder) is Node] == [".next"]
    last = _before_entry(heap)
    with bounded("referrers(cycle member)"):
        referrers = heaplens.referrers(heap.cycle_entry)
    assert any(referrer.holder is last for referrer in referrers)


class Link:
    __slots__ = ("next", "payload")


class Payload:
    __slots__ = ("value",)


def test_find_leaks_growing_the_chain(heap):
    """Each call adds N // 20 links at the chain's tail, each with a payload:
    every new object is dominated by all the new links before it, which the
    old code walked up one by one for each payload (quadratic)."""
    tail = _chain_tail(heap)
    state = [tail]
    step = N // 20

    def grow():
        node = state[0]
        for _ in range(step):
            link = Link()
            link.payload = Payload()
            node.next = link
            node = link
        state[0] = node

    try:
        with bounded("find_leaks(grow)"):
            report = heaplens.find_leaks(grow)
        text = str(report)
    finally:
        del tail.next  # back to N nodes for the other tests
        state.clear()
    by_type = {group.type: group for group in report.groups}
    links, payloads = by_type["Link"], by_type["Payload"]
    assert links.count == payloads.count == 5 * step
    # Each object counted once: the first new link retains every later one.
    link_size, payload_size = sys.getsizeof(Link()), sys.getsizeof(Payload())
    assert links.retained == 5 * step * (link_size + payload_size)
    assert payloads.retained == 5 * step * payload_size
    assert "more" in text and len(text) < 20_000
