"""Build a small documentation site from reStructuredText with docutils.

Stands for a static-site / documentation build step: a set of
reStructuredText pages (a product manual with an API reference, generated
deterministically here: sections, paragraphs with inline markup and links,
bullet/enumerated/definition/field lists, literal code blocks, grid and
simple tables, footnotes, admonitions and substitutions) is parsed into
doctrees with ``docutils.core.publish_doctree``; a cross-page index of
section titles and link targets is collected by walking the doctrees; and
each page is rendered to HTML with the ``html5`` writer.  The HTML goes to
a temporary directory that is removed at the end.
"""

import hashlib
import io
import os
import random
import shutil
import sys
import tempfile

import docutils
import docutils.core
import docutils.nodes

SEED = 2718
N_PAGES = 26

WORDS = ("the a configuration server client request value option module "
         "function returns raises default timeout buffer stream record index "
         "cache worker queue message handler session token parser field "
         "schema table column query result error retry backoff limit batch "
         "should must may can will is are be with without for from into").split()
API_NAMES = ["connect", "close", "fetch", "submit", "cancel", "retry", "flush",
             "open_stream", "read_batch", "write_batch", "configure", "validate"]


def sentence(rng, n=None):
    n = n or rng.randint(6, 18)
    words = [rng.choice(WORDS) for _ in range(n)]
    out = []
    for w in words:
        r = rng.random()
        if r < 0.05:
            w = "*%s*" % w
        elif r < 0.08:
            w = "**%s**" % w
        elif r < 0.12:
            w = "``%s()``" % rng.choice(API_NAMES)
        elif r < 0.14:
            w = "`%s <https://docs.example.org/%s>`_" % (w, rng.choice(API_NAMES))
        out.append(w)
    s = " ".join(out)
    return s[0].upper() + s[1:] + "."


def paragraph(rng):
    text = " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))
    # wrap at ~72 columns like a hand-written source
    lines, line = [], ""
    for w in text.split(" "):
        if len(line) + len(w) > 72 and line:
            lines.append(line)
            line = w
        else:
            line = (line + " " + w) if line else w
    lines.append(line)
    return "\n".join(lines)


def grid_table(rng, rows):
    cols = ["Option", "Type", "Default", "Description"]
    data = []
    for _ in range(rows):
        data.append(["``%s_%s``" % (rng.choice(WORDS), rng.choice(WORDS)),
                     rng.choice(("int", "str", "float", "bool", "list")),
                     str(rng.randint(0, 999)),
                     " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))])
    widths = [max(len(r[i]) for r in data + [cols]) for i in range(4)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    head = "+" + "+".join("=" * (w + 2) for w in widths) + "+"
    fmt = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    out = [sep, fmt(cols), head]
    for r in data:
        out += [fmt(r), sep]
    return "\n".join(out)


def simple_table(rng, rows):
    out = ["=======  ========  ==========", "Code     Status    Meaning",
           "=======  ========  =========="]
    for _ in range(rows):
        out.append("%-7d  %-8s  %s" % (rng.randint(100, 599), rng.choice(("ok", "retry", "fail")),
                                        " ".join(rng.choice(WORDS) for _ in range(3))))
    out.append("=======  ========  ==========")
    return "\n".join(out)


def code_block(rng):
    name = rng.choice(API_NAMES)
    lines = ["def %s(client, **options):" % name,
             '    """%s"""' % sentence(rng, 6)]
    for i in range(rng.randint(3, 10)):
        lines.append("    value_%d = client.%s(%r, timeout=%d)"
                     % (i, rng.choice(API_NAMES), rng.choice(WORDS), rng.randint(1, 60)))
    lines.append("    return value_0")
    return "::\n\n" + "\n".join("    " + l for l in lines)


def make_page(rng, page_no):
    title = "Chapter %d: %s %s" % (page_no, rng.choice(WORDS).title(), rng.choice(WORDS).title())
    out = ["=" * len(title), title, "=" * len(title), "",
           ".. |product| replace:: Example Server",
           ".. contents:: On this page", "   :local:", "",
           paragraph(rng) + " See also |product| [#f%d]_." % page_no, ""]
    for s in range(rng.randint(4, 7)):
        st = "%d.%d %s" % (page_no, s + 1, " ".join(rng.choice(WORDS) for _ in range(3)).title())
        out += [".. _sec-%d-%d:" % (page_no, s), "", st, "-" * len(st), ""]
        for _ in range(rng.randint(2, 4)):
            out += [paragraph(rng), ""]
        kind = s % 5
        if kind == 0:
            out += ["- " + sentence(rng) for _ in range(rng.randint(3, 8))] + [""]
            out += ["#. " + sentence(rng) for _ in range(rng.randint(2, 6))] + [""]
        elif kind == 1:
            out += [grid_table(rng, rng.randint(4, 12)), ""]
        elif kind == 2:
            out += [code_block(rng), ""]
            for name in rng.sample(API_NAMES, 4):
                out += ["``%s``" % name, "   " + sentence(rng), ""]
        elif kind == 3:
            out += [":Version: %d.%d" % (rng.randint(1, 9), rng.randint(0, 20)),
                    ":Author: Team %s" % rng.choice(WORDS).title(),
                    ":Status: %s" % rng.choice(("stable", "beta", "deprecated")), ""]
            out += [".. note::", "", "   " + sentence(rng), ""]
            out += [".. warning::", "", "   " + sentence(rng), "   " + sentence(rng), ""]
        else:
            out += [simple_table(rng, rng.randint(5, 15)), ""]
        out += ["Back to the start of the chapter: `sec-%d-0`_." % page_no, ""]
    out += [".. rubric:: Footnotes", "", ".. [#f%d] %s" % (page_no, sentence(rng)), ""]
    return "\n".join(out)


def collect_index(doctree, page):
    entries = []
    find = doctree.findall if hasattr(doctree, "findall") else doctree.traverse
    for node in find(docutils.nodes.section):
        title = node.next_node(docutils.nodes.title)
        entries.append((page, title.astext() if title is not None else "", tuple(node["ids"])))
    for ref in find(docutils.nodes.reference):
        if "refuri" in ref:
            entries.append((page, "link", (ref["refuri"],)))
    return entries


def main():
    rng = random.Random(SEED)
    pages = [make_page(rng, i + 1) for i in range(N_PAGES)]
    settings = {"report_level": 5, "halt_level": 5, "warning_stream": io.StringIO(),
                "_disable_config": True, "embed_stylesheet": False,
                "output_encoding": "unicode", "input_encoding": "unicode"}
    index = []
    doctrees = []
    for i, src in enumerate(pages):
        tree = docutils.core.publish_doctree(src, source_path="page%d.rst" % i,
                                             settings_overrides=dict(settings))
        doctrees.append(tree)
        index.extend(collect_index(tree, i))
    tmp = tempfile.mkdtemp(prefix="tp_docutils_")
    digest = hashlib.sha1()
    total = 0
    try:
        for i, src in enumerate(pages):
            html = docutils.core.publish_string(src, source_path="page%d.rst" % i,
                                                writer_name="html5",
                                                settings_overrides=dict(settings))
            if isinstance(html, bytes):
                html = html.decode("utf-8")
            path = os.path.join(tmp, "page%d.html" % i)
            with open(path, "w", encoding="utf-8") as f:
                f.write(html)
            total += len(html)
            digest.update(html.encode("utf-8"))
    finally:
        shutil.rmtree(tmp)
    print("docutils %s pages=%d source_chars=%d html_chars=%d index_entries=%d"
          % (docutils.__version__, N_PAGES, sum(map(len, pages)), total, len(index)))
    print("checksum", digest.hexdigest()[:16])
    return 0


if __name__ == "__main__":
    sys.exit(main())
