"""Nightly ETL batch: sales export -> cleaned records -> aggregates and report.

Extract: a deterministic generator writes the day's sales export as CSV text
in memory (the "file" a real job would download), in several shards, plus a
small customer master file.  Transform: each shard is read with csv.DictReader,
rows are validated and converted (dates, decimals-as-floats, country codes),
and turned into OrderLine dataclasses linked to Customer objects; rejected
rows are collected with the reason.  Load: lines are aggregated by day,
country, product and customer, and a fact table of every accepted line
(hundreds of thousands of objects) is kept in memory until the end, when the
summary report is written as CSV into a temporary directory that is removed.
"""

import csv
import datetime
import io
import os
import random
import shutil
import sys
import tempfile
import zlib
from collections import defaultdict
from dataclasses import dataclass, field

SEED = 424242
N_SHARDS = 8
ROWS_PER_SHARD = 14000
N_CUSTOMERS = 9000
N_PRODUCTS = 2500

COUNTRIES = ["DE", "FR", "IT", "ES", "NL", "BE", "AT", "PL", "SE", "DK", "FI", "IE", "PT", "CZ"]
CHANNELS = ["web", "app", "store", "phone", "partner"]
CURRENCY = {"PL": "PLN", "SE": "SEK", "DK": "DKK", "CZ": "CZK"}
FX = {"EUR": 1.0, "PLN": 0.23, "SEK": 0.087, "DKK": 0.134, "CZK": 0.04}
FIELDS = ["order_id", "line_no", "order_date", "customer_id", "sku", "qty",
          "unit_price", "currency", "discount", "channel", "country", "note"]


# --------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------

class Customer(object):
    __slots__ = ("customer_id", "name", "country", "segment", "signup",
                 "lines", "revenue")

    def __init__(self, customer_id, name, country, segment, signup):
        self.customer_id = customer_id
        self.name = name
        self.country = country
        self.segment = segment
        self.signup = signup
        self.lines = []
        self.revenue = 0.0


@dataclass
class OrderLine:
    order_id: str
    line_no: int
    order_date: datetime.date
    customer: Customer
    sku: str
    qty: int
    unit_price_eur: float
    discount: float
    channel: str
    country: str
    tags: list = field(default_factory=list)

    @property
    def net(self):
        return round(self.qty * self.unit_price_eur * (1.0 - self.discount), 2)


@dataclass
class Rejected:
    shard: int
    row_no: int
    reason: str
    raw: dict


@dataclass
class DailyStats:
    day: datetime.date
    orders: set = field(default_factory=set)
    lines: int = 0
    units: int = 0
    revenue: float = 0.0
    by_channel: dict = field(default_factory=dict)


# --------------------------------------------------------------------------
# extract
# --------------------------------------------------------------------------

def make_customer_master(rng):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["customer_id", "name", "country", "segment", "signup"])
    start = datetime.date(2015, 1, 1)
    for i in range(N_CUSTOMERS):
        w.writerow(["C%06d" % i, "Customer %d %s" % (i, rng.choice("ABCDEFGHJK")),
                    rng.choice(COUNTRIES), rng.choice(["consumer", "smb", "enterprise"]),
                    (start + datetime.timedelta(days=rng.randrange(3000))).isoformat()])
    return buf.getvalue()


def make_sales_shard(rng, shard):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS)
    w.writeheader()
    day0 = datetime.date(2024, 3, 1)
    order_no = shard * 10 ** 6
    row = 0
    while row < ROWS_PER_SHARD:
        order_no += 1
        cust = rng.randrange(N_CUSTOMERS + 50)     # a few unknown customers
        country = rng.choice(COUNTRIES)
        day = day0 + datetime.timedelta(days=rng.randrange(31))
        channel = rng.choice(CHANNELS)
        for line_no in range(1, rng.randint(1, 6) + 1):
            qty = rng.randint(1, 12) if rng.random() > 0.002 else -1
            price = round(rng.lognormvariate(3.0, 0.9), 2)
            r = rng.random()
            date_text = day.isoformat() if r > 0.003 else day.strftime("%d/%m/%Y")
            w.writerow({
                "order_id": "O%09d" % order_no, "line_no": line_no,
                "order_date": date_text, "customer_id": "C%06d" % cust,
                "sku": "P%05d" % int(rng.paretovariate(1.1) * 40 % N_PRODUCTS),
                "qty": qty, "unit_price": ("%.2f" % price) if r < 0.999 else "n/a",
                "currency": CURRENCY.get(country, "EUR"),
                "discount": rng.choice(("", "", "", "0.05", "0.1", "0.15", "0.3")),
                "channel": channel, "country": country,
                "note": rng.choice(("", "", "", "", "gift", "express", "gift;express",
                                    "b2b;invoice", "return-risk")),
            })
            row += 1
    return buf.getvalue()


# --------------------------------------------------------------------------
# transform
# --------------------------------------------------------------------------

class RowError(ValueError):
    pass


def parse_date(text):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        try:
            return datetime.datetime.strptime(text, "%d/%m/%Y").date()
        except ValueError:
            raise RowError("bad date %r" % text)


def transform_row(row, customers, date_cache):
    cust = customers.get(row["customer_id"])
    if cust is None:
        raise RowError("unknown customer")
    qty = int(row["qty"])
    if qty <= 0:
        raise RowError("non-positive qty")
    try:
        price = float(row["unit_price"])
    except ValueError:
        raise RowError("bad price")
    text = row["order_date"]
    day = date_cache.get(text)
    if day is None:
        day = date_cache[text] = parse_date(text)
    fx = FX[row["currency"]]
    disc = float(row["discount"]) if row["discount"] else 0.0
    tags = [t for t in row["note"].split(";") if t]
    return OrderLine(row["order_id"], int(row["line_no"]), day, cust, row["sku"],
                     qty, round(price * fx, 4), disc, row["channel"], row["country"], tags)


def load_customers(text):
    customers = {}
    for rec in csv.DictReader(io.StringIO(text)):
        customers[rec["customer_id"]] = Customer(
            rec["customer_id"], rec["name"], rec["country"], rec["segment"],
            datetime.date.fromisoformat(rec["signup"]))
    return customers


# --------------------------------------------------------------------------
# load / aggregate
# --------------------------------------------------------------------------

class Warehouse(object):
    def __init__(self):
        self.facts = []
        self.daily = {}
        self.by_country = defaultdict(lambda: [0, 0.0])
        self.by_sku = defaultdict(list)
        self.orders = defaultdict(list)
        self.rejected = []

    def add(self, line):
        self.facts.append(line)
        net = line.net
        d = self.daily.get(line.order_date)
        if d is None:
            d = self.daily[line.order_date] = DailyStats(line.order_date)
        d.orders.add(line.order_id)
        d.lines += 1
        d.units += line.qty
        d.revenue += net
        d.by_channel[line.channel] = d.by_channel.get(line.channel, 0.0) + net
        c = self.by_country[line.country]
        c[0] += 1
        c[1] += net
        self.by_sku[line.sku].append((line.qty, net))
        self.orders[line.order_id].append(line)
        line.customer.lines.append(line)
        line.customer.revenue += net


def top_customers(customers, n):
    return sorted(customers.values(), key=lambda c: (-c.revenue, c.customer_id))[:n]


def basket_pairs(warehouse, limit):
    pairs = defaultdict(int)
    for lines in warehouse.orders.values():
        skus = sorted({l.sku for l in lines})
        for i in range(len(skus)):
            for j in range(i + 1, len(skus)):
                pairs[(skus[i], skus[j])] += 1
    return sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def write_report(path, warehouse, customers):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["section", "key", "lines", "units", "revenue_eur"])
        for day in sorted(warehouse.daily):
            d = warehouse.daily[day]
            w.writerow(["day", day.isoformat(), d.lines, d.units, "%.2f" % d.revenue])
        for country in sorted(warehouse.by_country):
            n, rev = warehouse.by_country[country]
            w.writerow(["country", country, n, "", "%.2f" % rev])
        for c in top_customers(customers, 50):
            w.writerow(["customer", c.customer_id, len(c.lines), "", "%.2f" % c.revenue])
        for sku in sorted(warehouse.by_sku)[:300]:
            vals = warehouse.by_sku[sku]
            w.writerow(["sku", sku, len(vals), sum(q for q, _ in vals),
                        "%.2f" % sum(v for _, v in vals)])
        for (a, b), n in basket_pairs(warehouse, 100):
            w.writerow(["pair", a + "+" + b, n, "", ""])


def main():
    rng = random.Random(SEED)
    customers = load_customers(make_customer_master(rng))
    wh = Warehouse()
    date_cache = {}
    for shard in range(N_SHARDS):
        text = make_sales_shard(rng, shard)
        for row_no, row in enumerate(csv.DictReader(io.StringIO(text)), 1):
            try:
                wh.add(transform_row(row, customers, date_cache))
            except RowError as exc:
                wh.rejected.append(Rejected(shard, row_no, str(exc), row))
        del text
    tmp = tempfile.mkdtemp(prefix="etl_batch_")
    try:
        path = os.path.join(tmp, "report.csv")
        write_report(path, wh, customers)
        with open(path, "rb") as f:
            crc = zlib.crc32(f.read())
    finally:
        shutil.rmtree(tmp)
    revenue = sum(d.revenue for d in wh.daily.values())
    print("facts=%d rejected=%d orders=%d revenue=%.2f report_crc=%08x"
          % (len(wh.facts), len(wh.rejected), len(wh.orders), revenue, crc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
