"""The heap the heap-graph benchmark queries: one builder for every row and tool.

build(n_tracked) fills the module-level HEAP with a small customer database of
about n_tracked objects that the cyclic GC tracks, built the same way in every
process: instances of four classes with their attributes in __dict__, lists,
dicts with string keys, tuples, unique and shared strings, ints, floats, and a
closure for one customer in eight. The GC-tracked objects in one customer:

    Customer, Address, Order x2     instances (attributes: strings, ints, floats)
    orders                          list of the two orders
    lines x2, line x4               tuples: each order's lines, each line (product, qty)
    prefs                           dict with string keys, holding tags
    tags                            list of two shared strings
    on_change, cell, closure tuple  one customer in eight: a closure over its name

Everything hangs from HEAP: HEAP["customers"] (a list), HEAP["by_name"] (a
dict from name to customer) and HEAP["products"] (a list of PRODUCTS shared
products). Counting every reference that gc.get_referents reports (type
pointers, None and shared strings included), that is about 2 references per
object once the untracked strings, ints and floats are counted as objects, and
about 2.8 per tracked object.

The collector is disabled while building (a build of 10M tracked objects then
takes seconds, not minutes), and one gc.collect() after it leaves every object
in the oldest generation, as in a program that has run for a while.
"""

import gc
import time

# A customer with no closure has this many GC-tracked objects; a closure adds 3.
TRACKED_PER_CUSTOMER = 13
CLOSURE_EVERY = 8
TRACKED_PER_CLOSURE = 3
# And this many untracked ones of its own: name, street, postcode, two order
# numbers, two amounts.
UNTRACKED_PER_CUSTOMER = 7
PRODUCTS = 1000
CITIES = ("Lisbon", "Oslo", "Quito", "Hanoi", "Accra", "Perth", "Lima", "Riga")
TAGS = ("new", "vip", "churned", "trial", "b2b", "newsletter")

HEAP = {}


class Product:
    def __init__(self, sku, price):
        self.sku = sku
        self.price = price


class Address:
    def __init__(self, street, city, postcode):
        self.street = street
        self.city = city
        self.postcode = postcode


class Order:
    def __init__(self, number, amount, lines):
        self.number = number
        self.amount = amount
        self.lines = lines


class Customer:
    def __init__(self, name, address, orders, prefs):
        self.name = name
        self.address = address
        self.orders = orders
        self.prefs = prefs


def make_on_change(name):
    """Return a closure over name, as an event callback would be."""

    def on_change(event):
        return name, event

    return on_change


def _customers(first, count, products):
    """Return count new customers numbered from first, and their names."""
    n_products = len(products)
    customers = []
    names = []
    for i in range(first, first + count):
        name = f"customer-{i:08d}"
        product = products[i % n_products]
        other = products[(i * 7 + 3) % n_products]
        number = 1_000_000 + 2 * i
        orders = [
            Order(number, i * 0.25 + 1.5, ((product, 1), (other, 3))),
            Order(number + 1, i * 0.5 + 2.5, ((other, 2), (product, 5))),
        ]
        prefs = {"lang": "en", "tags": [TAGS[i % 6], TAGS[(i + 1) % 6]]}
        if i % CLOSURE_EVERY == 0:
            prefs["on_change"] = make_on_change(name)
        address = Address(f"{i} Harbour Street", CITIES[i % 8], 10_000 + i % 90_000)
        customers.append(Customer(name, address, orders, prefs))
        names.append(name)
    return customers, names


def customers_for(n_tracked):
    """Return how many customers make about n_tracked GC-tracked objects."""
    per_block = CLOSURE_EVERY * TRACKED_PER_CUSTOMER + TRACKED_PER_CLOSURE
    return max(1, n_tracked * CLOSURE_EVERY // per_block)


def tracked_for_objects(n_objects):
    """Return the n_tracked for which build() makes about n_objects objects in all.

    All objects: the tracked ones and the strings, ints and floats they hold,
    as a heap graph with untracked nodes counts them.
    """
    tracked = CLOSURE_EVERY * TRACKED_PER_CUSTOMER + TRACKED_PER_CLOSURE
    untracked = CLOSURE_EVERY * UNTRACKED_PER_CUSTOMER
    return n_objects * tracked // (tracked + untracked)


def build(n_tracked):
    """Fill HEAP with about n_tracked GC-tracked objects; return the seconds it took.

    The time includes the gc.collect() that settles the new heap.
    """
    start = time.perf_counter()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        products = [Product(f"sku-{k:05d}", 1.0 + k / 100) for k in range(PRODUCTS)]
        customers, names = _customers(0, customers_for(n_tracked), products)
        HEAP["products"] = products
        HEAP["customers"] = customers
        HEAP["by_name"] = dict(zip(names, customers))
        del customers, names
    finally:
        if was_enabled:
            gc.enable()
    gc.collect()
    return time.perf_counter() - start


def grow(n_tracked):
    """Add about n_tracked GC-tracked objects to HEAP (new customers)."""
    customers = HEAP["customers"]
    added, names = _customers(len(customers), customers_for(n_tracked), HEAP["products"])
    customers.extend(added)
    HEAP["by_name"].update(zip(names, added))


def target():
    """Return an object held five references below the module global HEAP.

    HEAP -> HEAP["customers"] -> a customer -> its orders list -> an order ->
    the order's lines tuple, which is returned. The customer is also held by
    HEAP["by_name"], at the same depth. Nothing else refers to the tuple.
    """
    customers = HEAP["customers"]
    return customers[len(customers) // 2].orders[0].lines
