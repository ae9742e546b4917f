"""A small program with a memory story, for `heaplens run`.

It parses a batch of orders (the peak: every parsed row is alive at once),
builds a summary from them, and keeps a cache it never trims (what is still
alive at exit). Run it with:

    heaplens run examples/memory_hog.py
    heaplens report --html memory_hog.html heaplens-memory_hog-<pid>.hlc
"""

import json
import sys

_recent_orders = []  # a cache that only grows: still alive at exit


class Order:
    def __init__(self, order_id, customer, items):
        self.order_id = order_id
        self.customer = customer
        self.items = items


def make_batch(n_orders):
    """JSON text of n_orders orders, as a feed would send them."""
    rows = [
        {
            "id": i,
            "customer": f"customer-{i % 97}",
            "items": [f"sku-{i % 13}-{k}" for k in range(8)],
        }
        for i in range(n_orders)
    ]
    return json.dumps(rows)


def parse_orders(text):
    """Every order of the batch as an Order: all of them alive at once."""
    return [Order(row["id"], row["customer"], row["items"]) for row in json.loads(text)]


def remember(orders):
    """Keep the last orders for a dashboard (and forget to trim the cache)."""
    for order in orders[-2000:]:
        _recent_orders.append(order)


def summarize(orders):
    totals = {}
    for order in orders:
        totals[order.customer] = totals.get(order.customer, 0) + len(order.items)
    return sorted(totals.items(), key=lambda item: -item[1])[:5]


def main(n_batches=4, n_orders=20000):
    for _ in range(n_batches):
        orders = parse_orders(make_batch(n_orders))
        remember(orders)
        top = summarize(orders)
        del orders
    print(f"top customers: {top}")
    print(f"orders kept for the dashboard: {len(_recent_orders)}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
