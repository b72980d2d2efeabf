"""Render invoices and a monthly report with Jinja2 templates.

Stands for the rendering side of a web app or a batch mailer: at start-up a
jinja2 Environment with autoescaping, custom filters and globals is created
and a template set (a base layout, an invoice page that extends it, an
account statement with macros and includes, a plain-text e-mail and a big
report with nested loops and grouping) is loaded from a DictLoader and
compiled.  Then a deterministic dataset of customers, invoices and line items
(objects, dicts and lists) is rendered: one invoice page and one e-mail per
invoice, one statement per customer, and a report over everything.  The
outputs are hashed, as if they were handed to a mail queue.
"""

import datetime
import hashlib
import random
import sys

import jinja2

SEED = 1618
N_CUSTOMERS = 480
INVOICES_PER_CUSTOMER = (2, 9)

TEMPLATES = {
    "base.html": """<!DOCTYPE html>
<html lang="{{ lang|default('en') }}">
<head><meta charset="utf-8"><title>{% block title %}{{ company.name }}{% endblock %}</title>
<style>{% include "style.css" %}</style></head>
<body>
<header>{{ company.name }} &middot; {{ company.address|join(', ') }}</header>
<main>{% block content %}{% endblock %}</main>
<footer>{% block footer %}VAT {{ company.vat_id }} &middot; generated {{ today|datefmt }}{% endblock %}</footer>
</body></html>
""",
    "style.css": """body { font-family: sans-serif; } table { border-collapse: collapse; }
td, th { padding: 2px 6px; } .num { text-align: right; } .overdue { color: #b00; }""",
    "macros.html": """{% macro money(value, currency='EUR') -%}
<span class="num">{{ '%.2f'|format(value) }}&nbsp;{{ currency }}</span>
{%- endmacro %}
{% macro address(c) -%}
<address>{{ c.name }}<br>{% for line in c.address %}{{ line }}{% if not loop.last %}<br>{% endif %}{% endfor %}</address>
{%- endmacro %}
{% macro status_badge(inv) -%}
{% if inv.paid %}<b class="paid">paid</b>{% elif inv.due < today %}<b class="overdue">overdue {{ (today - inv.due).days }}d</b>{% else %}<b>open</b>{% endif %}
{%- endmacro %}
""",
    "invoice.html": """{% extends "base.html" %}
{% from "macros.html" import money, address, status_badge %}
{% block title %}Invoice {{ inv.number }} &ndash; {{ super() }}{% endblock %}
{% block content %}
<h1>Invoice {{ inv.number }}</h1> {{ status_badge(inv) }}
{{ address(inv.customer) }}
<p>Date: {{ inv.date|datefmt }} &middot; Due: {{ inv.due|datefmt }}</p>
<table>
<tr><th>#</th><th>Item</th><th>Qty</th><th>Unit</th><th>Total</th></tr>
{% for line in inv.lines %}
<tr class="{{ loop.cycle('odd', 'even') }}"><td>{{ loop.index }}</td><td>{{ line.description|truncate(40) }}{% if line.note %}<br><small>{{ line.note }}</small>{% endif %}</td>
<td class="num">{{ line.qty }}</td><td>{{ money(line.unit, inv.currency) }}</td><td>{{ money(line.qty * line.unit, inv.currency) }}</td></tr>
{% endfor %}
{% set net = inv.lines|sum(attribute='total') %}
<tr><td colspan="4">Net</td><td>{{ money(net, inv.currency) }}</td></tr>
{% for rate, amount in inv.taxes|dictsort %}
<tr><td colspan="4">VAT {{ rate }}%</td><td>{{ money(amount, inv.currency) }}</td></tr>
{% endfor %}
<tr><th colspan="4">Total</th><th>{{ money(inv.total, inv.currency) }}</th></tr>
</table>
{% if inv.customer.notes %}<p>{{ inv.customer.notes }}</p>{% endif %}
{% endblock %}
""",
    "email.txt": """Dear {{ inv.customer.contact }},

please find attached invoice {{ inv.number }} of {{ inv.date|datefmt }} over {{ '%.2f'|format(inv.total) }} {{ inv.currency }}.
{% if inv.paid %}It has already been paid, thank you.{% else %}Payment is due on {{ inv.due|datefmt }}.{% endif %}

{% for line in inv.lines[:5] %}  - {{ line.qty }} x {{ line.description }}
{% endfor %}{% if inv.lines|length > 5 %}  ... and {{ inv.lines|length - 5 }} more item(s)
{% endif %}
Kind regards,
{{ company.name }}
""",
    "statement.html": """{% extends "base.html" %}
{% import "macros.html" as m %}
{% block content %}
<h1>Account statement {{ customer.name }}</h1>
{{ m.address(customer) }}
{% set open = customer.invoices|rejectattr('paid')|list %}
<p>{{ customer.invoices|length }} invoices, {{ open|length }} open.</p>
{% for year, invs in customer.invoices|groupby('year') %}
<h2>{{ year }}</h2>
<ul>{% for inv in invs|sort(attribute='date') %}
<li>{{ inv.number }} {{ inv.date|datefmt }} {{ m.money(inv.total, inv.currency) }} {{ m.status_badge(inv) }}</li>
{% endfor %}</ul>
{% endfor %}
<p>Balance: {{ m.money(open|sum(attribute='total')) }}</p>
{% endblock %}
""",
    "report.html": """{% extends "base.html" %}
{% from "macros.html" import money %}
{% block content %}
<h1>Receivables report</h1>
{% for country, custs in customers|groupby('country') %}
<h2>{{ country }} ({{ custs|length }} customers)</h2>
<table>{% for c in custs|sort(attribute='name') %}
{% set total = c.invoices|sum(attribute='total') %}
<tr><td>{{ c.name|e }}</td><td>{{ c.invoices|length }}</td><td>{{ money(total) }}</td>
<td>{% for inv in c.invoices if not inv.paid %}{{ inv.number }}{{ ', ' if not loop.last }}{% else %}&ndash;{% endfor %}</td></tr>
{% endfor %}</table>
{% endfor %}
{% endblock %}
""",
}

WORDS = ("consulting hosting license support storage backup training audit "
         "server rack cable switch router firewall monitoring setup travel "
         "hardware software maintenance annual monthly premium basic").split()


class Customer(object):
    def __init__(self, cid, name, contact, address, country, notes):
        self.cid = cid
        self.name = name
        self.contact = contact
        self.address = address
        self.country = country
        self.notes = notes
        self.invoices = []


class Line(object):
    __slots__ = ("description", "qty", "unit", "vat", "note")

    def __init__(self, description, qty, unit, vat, note):
        self.description = description
        self.qty = qty
        self.unit = unit
        self.vat = vat
        self.note = note

    @property
    def total(self):
        return self.qty * self.unit


class Invoice(object):
    def __init__(self, number, customer, date, lines, currency, paid):
        self.number = number
        self.customer = customer
        self.date = date
        self.due = date + datetime.timedelta(days=30)
        self.year = date.year
        self.lines = lines
        self.currency = currency
        self.paid = paid
        self.taxes = {}
        for l in lines:
            self.taxes[l.vat] = self.taxes.get(l.vat, 0.0) + l.total * l.vat / 100.0
        self.total = sum(l.total for l in lines) + sum(self.taxes.values())


def make_data(rng):
    customers = []
    start = datetime.date(2022, 1, 1)
    n = 0
    for i in range(N_CUSTOMERS):
        country = rng.choice(("DE", "AT", "CH", "FR", "NL"))
        c = Customer(i, "%s %s GmbH & Co <%d>" % (rng.choice(WORDS).title(), rng.choice(WORDS).title(), i),
                     "Ms. Example %d" % i,
                     ["Street %d" % rng.randint(1, 200), "%05d City" % rng.randrange(100000), country],
                     country, rng.choice(("", "", "Prefers invoices by e-mail.", "PO number required <b>!</b>")))
        for _ in range(rng.randint(*INVOICES_PER_CUSTOMER)):
            n += 1
            lines = [Line("%s %s" % (rng.choice(WORDS), rng.choice(WORDS)), rng.randint(1, 20),
                          round(rng.uniform(5, 900), 2), rng.choice((7, 19, 19, 20)),
                          rng.choice(("", "", "", "incl. setup", "discount applied")))
                     for _ in range(rng.randint(1, 25))]
            inv = Invoice("INV-%06d" % n, c, start + datetime.timedelta(days=rng.randrange(900)),
                          lines, "EUR" if country != "CH" else "CHF", rng.random() < 0.7)
            c.invoices.append(inv)
        customers.append(c)
    return customers


def main():
    rng = random.Random(SEED)
    env = jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html"]),
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["datefmt"] = lambda d: d.strftime("%d.%m.%Y")
    today = datetime.date(2024, 6, 30)
    env.globals.update(company={"name": "Example Services AG", "vat_id": "DE123456789",
                                "address": ["Main Street 1", "12345 Example City"]},
                       today=today)
    templates = {name: env.get_template(name) for name in TEMPLATES if name != "style.css"}
    customers = make_data(rng)

    digest = hashlib.sha1()
    outbox = []
    n_docs = 0
    for c in customers:
        for inv in c.invoices:
            html = templates["invoice.html"].render(inv=inv)
            mail = templates["email.txt"].render(inv=inv)
            outbox.append((inv.number, len(html), mail))
            digest.update(html.encode())
            digest.update(mail.encode())
            n_docs += 2
        digest.update(templates["statement.html"].render(customer=c).encode())
        n_docs += 1
        if len(outbox) > 400:
            del outbox[:200]
    report = templates["report.html"].render(customers=customers)
    digest.update(report.encode())
    print("jinja2 %s customers=%d invoices=%d documents=%d report_chars=%d"
          % (jinja2.__version__, len(customers), sum(len(c.invoices) for c in customers),
             n_docs + 1, len(report)))
    print("checksum", digest.hexdigest()[:16])
    return 0


if __name__ == "__main__":
    sys.exit(main())
