"""A small JSON API service driven by a simulated request stream.

Start-up: parses a JSON configuration, loads a product catalogue, customers and
a currency table (reference data kept for the whole run) and builds the
routing table.  Then it serves a deterministic stream of requests: each raw
request (method, path, headers, JSON body) is parsed with json.loads, wrapped
in a Request object, routed to a handler, and answered with a Response whose
body is serialised with json.dumps.  Product pages are served from an
OrderedDict LRU cache of Response objects, search and price conversion use
functools.lru_cache, carts and sessions live in a session store with expiry,
and an access log keeps the most recent entries.
"""

import functools
import hashlib
import json
import random
import re
import sys
from collections import OrderedDict, deque

SEED = 20240611
N_REQUESTS = 34000

WORDS = ("steel wooden blue red green compact deluxe classic portable smart "
         "outdoor kitchen garden office travel kids premium eco wireless "
         "vintage modern mini ultra pro basic family").split()
NOUNS = ("lamp chair table kettle backpack bottle speaker charger mug blanket "
         "notebook pen drill hammer tent jacket shoe watch camera cable "
         "router keyboard mouse monitor desk shelf rug pillow towel").split()
CATEGORIES = ["home", "garden", "tools", "outdoor", "electronics", "office",
              "kids", "kitchen", "fashion", "sports"]


# --------------------------------------------------------------------------
# configuration and reference data
# --------------------------------------------------------------------------

CONFIG_TEXT = json.dumps({
    "service": {"name": "shop-api", "version": "2.3.1", "debug": False},
    "cache": {"product_pages": 2000, "search": 512, "fx": 256},
    "sessions": {"ttl_requests": 3000, "max_cart_items": 25},
    "currencies": ["EUR", "USD", "GBP", "CHF", "SEK", "JPY", "PLN"],
    "features": {"recommendations": True, "reviews": True, "stock_check": True},
    "log": {"keep": 5000, "level": "info"},
})


class Product(object):
    __slots__ = ("sku", "name", "category", "price", "stock", "tags", "rating",
                 "reviews")

    def __init__(self, sku, name, category, price, stock, tags, rating):
        self.sku = sku
        self.name = name
        self.category = category
        self.price = price
        self.stock = stock
        self.tags = tags
        self.rating = rating
        self.reviews = []

    def to_dict(self):
        return {"sku": self.sku, "name": self.name, "category": self.category,
                "price": self.price, "stock": self.stock, "tags": list(self.tags),
                "rating": self.rating, "n_reviews": len(self.reviews)}


class Customer(object):
    def __init__(self, cid, name, email, country, currency, tier):
        self.cid = cid
        self.name = name
        self.email = email
        self.country = country
        self.currency = currency
        self.tier = tier
        self.orders = []
        self.viewed = deque(maxlen=20)


class Catalog(object):
    def __init__(self, rng, n_products):
        self.products = {}
        self.by_category = {c: [] for c in CATEGORIES}
        self.index = {}
        for i in range(n_products):
            name = "%s %s %s" % (rng.choice(WORDS), rng.choice(WORDS), rng.choice(NOUNS))
            cat = rng.choice(CATEGORIES)
            tags = tuple(sorted(set(rng.sample(WORDS, 3))))
            p = Product("SKU-%06d" % i, name.title(), cat,
                        round(rng.uniform(2, 400), 2), rng.randint(0, 500),
                        tags, round(rng.uniform(1, 5), 1))
            self.products[p.sku] = p
            self.by_category[cat].append(p)
            for word in name.split():
                self.index.setdefault(word, []).append(p.sku)

    def search(self, terms):
        hits = None
        for t in terms:
            skus = set(self.index.get(t, ()))
            hits = skus if hits is None else hits & skus
        return sorted(hits or ())


def load_reference_data(rng):
    config = json.loads(CONFIG_TEXT)
    catalog = Catalog(rng, 12000)
    customers = {}
    countries = ["DE", "FR", "US", "GB", "CH", "SE", "JP", "PL", "NL", "IT"]
    for i in range(6000):
        country = rng.choice(countries)
        currency = rng.choice(config["currencies"])
        c = Customer(i, "customer-%d" % i, "user%d@example.org" % i, country,
                     currency, rng.choice(["basic", "silver", "gold"]))
        customers[i] = c
    fx = {c: round(rng.uniform(0.5, 160.0), 4) for c in config["currencies"]}
    fx["EUR"] = 1.0
    return config, catalog, customers, fx


# --------------------------------------------------------------------------
# HTTP-ish objects
# --------------------------------------------------------------------------

class Request(object):
    def __init__(self, method, path, headers, body, app):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.app = app
        self.params = {}
        self.session = None
        self.response = None


class Response(object):
    def __init__(self, status, body, headers=None):
        self.status = status
        self.body = body
        self.headers = headers or {"Content-Type": "application/json"}
        self.request = None

    def serialize(self):
        payload = json.dumps(self.body, sort_keys=True)
        self.headers["Content-Length"] = str(len(payload))
        return payload


class HTTPError(Exception):
    def __init__(self, status, message):
        Exception.__init__(self, message)
        self.status = status


class Session(object):
    def __init__(self, sid, customer, created):
        self.sid = sid
        self.customer = customer
        self.created = created
        self.last_seen = created
        self.cart = []
        self.history = []


class LRUCache(object):
    """OrderedDict-based LRU cache of rendered responses."""

    def __init__(self, maxsize):
        self.maxsize = maxsize
        self.data = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key):
        try:
            value = self.data[key]
        except KeyError:
            self.misses += 1
            return None
        self.data.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key, value):
        self.data[key] = value
        self.data.move_to_end(key)
        if len(self.data) > self.maxsize:
            self.data.popitem(last=False)

    def invalidate(self, key):
        self.data.pop(key, None)


# --------------------------------------------------------------------------
# the application
# --------------------------------------------------------------------------

class App(object):
    def __init__(self, config, catalog, customers, fx):
        self.config = config
        self.catalog = catalog
        self.customers = customers
        self.fx = fx
        self.page_cache = LRUCache(config["cache"]["product_pages"])
        self.sessions = {}
        self.access_log = deque(maxlen=config["log"]["keep"])
        self.clock = 0
        self.routes = []
        self.stats = {}
        self.route(r"GET /products/(?P<sku>SKU-\d+)$", self.get_product)
        self.route(r"GET /search$", self.search)
        self.route(r"POST /cart$", self.add_to_cart)
        self.route(r"GET /cart$", self.show_cart)
        self.route(r"POST /checkout$", self.checkout)
        self.route(r"GET /customers/(?P<cid>\d+)/recommendations$", self.recommendations)
        self.route(r"POST /products/(?P<sku>SKU-\d+)/reviews$", self.add_review)
        self.route(r"GET /health$", self.health)

        @functools.lru_cache(maxsize=config["cache"]["search"])
        def cached_search(query):
            terms = tuple(t for t in re.split(r"\W+", query.lower()) if t)
            return tuple(self.catalog.search(terms))
        self.cached_search = cached_search

        @functools.lru_cache(maxsize=config["cache"]["fx"])
        def convert(amount, currency):
            return round(amount * self.fx[currency], 2)
        self.convert = convert

    def route(self, pattern, handler):
        self.routes.append((re.compile(pattern), handler))

    # -- middleware -------------------------------------------------------

    def handle(self, raw):
        self.clock += 1
        envelope = json.loads(raw)
        body = json.loads(envelope["body"]) if envelope["body"] else {}
        path, _, query = envelope["path"].partition("?")
        req = Request(envelope["method"], path, envelope["headers"], body, self)
        if query:
            req.params.update(kv.split("=", 1) for kv in query.split("&"))
        req.session = self.load_session(req.headers.get("X-Session"),
                                        req.headers.get("X-Customer"))
        try:
            handler, match = self.dispatch(req)
            req.params.update(match.groupdict())
            resp = handler(req)
        except HTTPError as exc:
            resp = Response(exc.status, {"error": str(exc), "path": req.path})
        except (KeyError, ValueError) as exc:
            resp = Response(400, {"error": "bad request: %r" % (exc,)})
        resp.request = req
        req.response = resp
        payload = resp.serialize()
        self.access_log.append((self.clock, req.method, req.path, resp.status, len(payload)))
        key = (req.method, resp.status)
        self.stats[key] = self.stats.get(key, 0) + 1
        if self.clock % 500 == 0:
            self.expire_sessions()
        return payload

    def dispatch(self, req):
        line = req.method + " " + req.path
        for rx, handler in self.routes:
            m = rx.match(line)
            if m:
                return handler, m
        raise HTTPError(404, "no route for " + line)

    def load_session(self, sid, cid):
        if not sid:
            return None
        s = self.sessions.get(sid)
        if s is None:
            customer = self.customers.get(int(cid)) if cid else None
            s = Session(sid, customer, self.clock)
            self.sessions[sid] = s
        s.last_seen = self.clock
        return s

    def expire_sessions(self):
        ttl = self.config["sessions"]["ttl_requests"]
        dead = [sid for sid, s in self.sessions.items() if self.clock - s.last_seen > ttl]
        for sid in dead:
            del self.sessions[sid]

    # -- handlers ---------------------------------------------------------

    def get_product(self, req):
        sku = req.params["sku"]
        currency = req.params.get("currency", "EUR")
        key = (sku, currency)
        cached = self.page_cache.get(key)
        if cached is not None:
            return Response(200, cached.body, dict(cached.headers))
        product = self.catalog.products.get(sku)
        if product is None:
            raise HTTPError(404, "unknown product " + sku)
        body = product.to_dict()
        body["price"] = self.convert(product.price, currency)
        body["currency"] = currency
        body["related"] = [p.sku for p in self.catalog.by_category[product.category][:8]
                           if p.sku != sku]
        body["reviews"] = [{"stars": s, "text": t} for s, t in product.reviews[-5:]]
        resp = Response(200, body, {"Content-Type": "application/json",
                                    "Cache-Control": "max-age=60",
                                    "ETag": hashlib.md5(sku.encode()).hexdigest()})
        self.page_cache.put(key, resp)
        if req.session and req.session.customer:
            req.session.customer.viewed.append(sku)
        return resp

    def search(self, req):
        q = req.params.get("q", "").replace("+", " ")
        page = int(req.params.get("page", "1"))
        skus = self.cached_search(q)
        start = (page - 1) * 20
        items = []
        for sku in skus[start:start + 20]:
            p = self.catalog.products[sku]
            items.append({"sku": sku, "name": p.name, "price": p.price, "rating": p.rating})
        items.sort(key=lambda d: (-d["rating"], d["price"]))
        return Response(200, {"query": q, "page": page, "total": len(skus), "items": items})

    def add_to_cart(self, req):
        s = req.session
        if s is None:
            raise HTTPError(401, "no session")
        sku = req.body["sku"]
        product = self.catalog.products[sku]
        qty = int(req.body.get("qty", 1))
        if len(s.cart) >= self.config["sessions"]["max_cart_items"]:
            raise HTTPError(409, "cart full")
        s.cart.append({"sku": sku, "qty": qty, "unit": product.price,
                       "added": self.clock})
        s.history.append(("cart", sku, qty))
        return Response(201, {"cart_size": len(s.cart), "sku": sku})

    def show_cart(self, req):
        s = req.session
        if s is None:
            raise HTTPError(401, "no session")
        currency = s.customer.currency if s.customer else "EUR"
        lines = [{"sku": it["sku"], "qty": it["qty"],
                  "total": self.convert(it["unit"] * it["qty"], currency)} for it in s.cart]
        return Response(200, {"lines": lines, "currency": currency,
                              "total": round(sum(l["total"] for l in lines), 2)})

    def checkout(self, req):
        s = req.session
        if s is None or not s.cart:
            raise HTTPError(409, "empty cart")
        order = {"id": "ORD-%d" % self.clock, "items": [dict(it) for it in s.cart],
                 "total": round(sum(it["unit"] * it["qty"] for it in s.cart), 2),
                 "payment": req.body.get("payment", "card")}
        if s.customer is not None:
            s.customer.orders.append(order)
        for it in s.cart:
            self.catalog.products[it["sku"]].stock -= it["qty"]
            for cur in self.config["currencies"]:
                self.page_cache.invalidate((it["sku"], cur))
        s.cart = []
        return Response(201, {"order": order["id"], "total": order["total"]})

    def recommendations(self, req):
        c = self.customers.get(int(req.params["cid"]))
        if c is None:
            raise HTTPError(404, "unknown customer")
        scores = {}
        for sku in c.viewed:
            p = self.catalog.products[sku]
            for other in self.catalog.by_category[p.category][:40]:
                if other.sku not in c.viewed:
                    shared = len(set(other.tags) & set(p.tags))
                    scores[other.sku] = scores.get(other.sku, 0.0) + shared + other.rating / 5
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        return Response(200, {"customer": c.cid,
                              "items": [{"sku": s, "score": round(v, 3)} for s, v in best]})

    def add_review(self, req):
        p = self.catalog.products[req.params["sku"]]
        stars = int(req.body["stars"])
        if not 1 <= stars <= 5:
            raise HTTPError(422, "stars out of range")
        p.reviews.append((stars, req.body["text"]))
        p.rating = round((p.rating * 9 + stars) / 10, 2)
        for cur in self.config["currencies"]:
            self.page_cache.invalidate((p.sku, cur))
        return Response(201, {"sku": p.sku, "rating": p.rating})

    def health(self, req):
        return Response(200, {"ok": True, "sessions": len(self.sessions),
                              "cache": [self.page_cache.hits, self.page_cache.misses]})


# --------------------------------------------------------------------------
# traffic generator
# --------------------------------------------------------------------------

def request_stream(rng, n, n_products, n_customers, currencies):
    # a few popular products get most of the traffic (Zipf-like)
    popular = [rng.randrange(n_products) for _ in range(600)]
    for i in range(n):
        r = rng.random()
        sid = "s%05d" % rng.randrange(4000)
        cid = str(rng.randrange(n_customers))
        headers = {"Host": "shop.example.org", "User-Agent": "loadgen/1.0",
                   "Accept": "application/json", "X-Request-Id": "%08x" % i,
                   "X-Session": sid, "X-Customer": cid}
        body = ""
        if rng.random() < 0.8:
            sku_n = popular[int(rng.paretovariate(1.2)) % len(popular)]
        else:
            sku_n = rng.randrange(n_products)
        sku = "SKU-%06d" % sku_n
        if r < 0.42:
            method, path = "GET", "/products/%s?currency=%s" % (sku, rng.choice(currencies))
        elif r < 0.62:
            q = "+".join(rng.sample(WORDS + NOUNS, rng.choice((1, 1, 2))))
            method, path = "GET", "/search?q=%s&page=%d" % (q, rng.choice((1, 1, 1, 2)))
        elif r < 0.76:
            method, path = "POST", "/cart"
            body = json.dumps({"sku": sku, "qty": rng.randint(1, 3)})
        elif r < 0.84:
            method, path = "GET", "/cart"
        elif r < 0.88:
            method, path = "POST", "/checkout"
            body = json.dumps({"payment": rng.choice(["card", "paypal", "invoice"])})
        elif r < 0.95:
            method, path = "GET", "/customers/%s/recommendations" % cid
        elif r < 0.985:
            method, path = "POST", "/products/%s/reviews" % sku
            body = json.dumps({"stars": rng.randint(0, 5),
                               "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 20)))})
        elif r < 0.995:
            method, path = "GET", "/health"
        else:
            method, path = "DELETE", "/products/%s" % sku
        yield json.dumps({"method": method, "path": path, "headers": headers, "body": body})


def main():
    rng = random.Random(SEED)
    config, catalog, customers, fx = load_reference_data(rng)
    app = App(config, catalog, customers, fx)
    digest = hashlib.sha1()
    n_bytes = 0
    for raw in request_stream(rng, N_REQUESTS, len(catalog.products), len(customers),
                              config["currencies"]):
        payload = app.handle(raw)
        n_bytes += len(payload)
        digest.update(payload.encode())
    by_status = {}
    for (method, status), n in app.stats.items():
        by_status[status] = by_status.get(status, 0) + n
    print("requests=%d bytes=%d sessions=%d cache hits=%d misses=%d statuses=%s"
          % (N_REQUESTS, n_bytes, len(app.sessions), app.page_cache.hits,
             app.page_cache.misses, sorted(by_status.items())))
    print("checksum", digest.hexdigest()[:16])
    return 0


if __name__ == "__main__":
    sys.exit(main())
