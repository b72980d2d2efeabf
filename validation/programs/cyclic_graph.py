"""Object graphs full of reference cycles, built and thrown away in waves.

Models the in-memory structures of a document/scene editor: each "document"
is a tree of Element nodes with parent back-references, sibling links
(doubly linked), an id index, event listeners that hold bound methods of
other elements, and an undo history as a doubly linked list of Command
objects that refer back to the elements they touched.  Each round opens a
batch of documents, edits them (moves subtrees, deletes nodes, undoes),
computes layout/statistics, and then closes most of them; some documents
(and some detached subtrees, e.g. clipboard contents) are kept in a
"recent documents" list and a clipboard that survive much longer.
"""

import random
import sys
import weakref

SEED = 7
ROUNDS = 20
DOCS_PER_ROUND = 6
KEEP_RECENT = 12
CLIPBOARD_SIZE = 16

TAGS = ["group", "rect", "circle", "text", "path", "image", "line", "layer"]


class Element(object):
    __slots__ = ("eid", "tag", "parent", "children", "prev", "next", "attrs",
                 "listeners", "doc", "bbox", "__weakref__")

    def __init__(self, doc, tag, attrs):
        self.eid = doc.next_id()
        self.tag = tag
        self.parent = None
        self.children = []
        self.prev = None
        self.next = None
        self.attrs = attrs
        self.listeners = {}
        self.doc = doc
        self.bbox = None
        doc.index[self.eid] = self

    def append(self, child):
        if self.children:
            last = self.children[-1]
            last.next = child
            child.prev = last
        child.parent = self
        self.children.append(child)

    def detach(self):
        p = self.parent
        if p is None:
            return self
        i = p.children.index(self)
        del p.children[i]
        if self.prev is not None:
            self.prev.next = self.next
        if self.next is not None:
            self.next.prev = self.prev
        self.prev = self.next = self.parent = None
        return self

    def on(self, event, callback):
        self.listeners.setdefault(event, []).append(callback)

    def emit(self, event, payload):
        n = 0
        for cb in self.listeners.get(event, ()):
            cb(self, payload)
            n += 1
        return n

    def on_sibling_changed(self, source, payload):
        self.bbox = None

    def walk(self):
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def depth(self):
        d, p = 0, self.parent
        while p is not None:
            d += 1
            p = p.parent
        return d


class Command(object):
    """An undo-history entry; the history is a doubly linked list."""

    def __init__(self, name, target, before, after):
        self.name = name
        self.target = target
        self.before = before
        self.after = after
        self.prev = None
        self.next = None


class History(object):
    def __init__(self, doc):
        self.doc = doc
        self.head = None
        self.tail = None
        self.size = 0

    def push(self, cmd):
        if self.tail is None:
            self.head = self.tail = cmd
        else:
            self.tail.next = cmd
            cmd.prev = self.tail
            self.tail = cmd
        self.size += 1
        if self.size > 200:
            old = self.head
            self.head = old.next
            self.head.prev = None
            old.next = None
            self.size -= 1

    def pop(self):
        cmd = self.tail
        if cmd is None:
            return None
        self.tail = cmd.prev
        if self.tail is None:
            self.head = None
        else:
            self.tail.next = None
        cmd.prev = None
        self.size -= 1
        return cmd


class Document(object):
    def __init__(self, name):
        self.name = name
        self._ids = 0
        self.index = {}
        self.history = History(self)
        self.root = Element(self, "svg", {"width": 1000, "height": 800})
        self.observers = weakref.WeakSet()
        self.meta = {"title": name, "dirty": False, "doc": self}

    def adopt(self, subtree):
        """Take over a detached subtree, possibly from another document."""
        subtree.listeners = {}
        for node in subtree.walk():
            old = node.doc
            if old is not self:
                old.index.pop(node.eid, None)
                node.doc = self
                node.eid = self.next_id()
                self.index[node.eid] = node

    def next_id(self):
        self._ids += 1
        return self._ids


def random_attrs(rng, tag):
    a = {"x": rng.uniform(0, 1000), "y": rng.uniform(0, 800), "fill": "#%06x" % rng.randrange(1 << 24)}
    if tag in ("rect", "image", "group", "layer"):
        a["w"] = rng.uniform(1, 200)
        a["h"] = rng.uniform(1, 200)
    elif tag == "circle":
        a["r"] = rng.uniform(1, 80)
    elif tag == "text":
        a["text"] = "label %d" % rng.randrange(10000)
        a["font"] = ("Sans", rng.choice((8, 10, 12, 14)))
    elif tag in ("path", "line"):
        a["points"] = [(rng.uniform(0, 1000), rng.uniform(0, 800)) for _ in range(rng.randint(2, 12))]
    return a


def build_document(rng, name, n_nodes):
    doc = Document(name)
    containers = [doc.root]
    for _ in range(n_nodes):
        parent = rng.choice(containers)
        tag = rng.choice(TAGS)
        el = Element(doc, tag, random_attrs(rng, tag))
        parent.append(el)
        if tag in ("group", "layer"):
            containers.append(el)
        # siblings listen to each other (bound methods -> cycles)
        if el.prev is not None and rng.random() < 0.5:
            el.prev.on("changed", el.on_sibling_changed)
            el.on("changed", el.prev.on_sibling_changed)
    return doc


def layout(node):
    """Compute bounding boxes bottom-up (post-order)."""
    x, y = node.attrs.get("x", 0.0), node.attrs.get("y", 0.0)
    w = node.attrs.get("w", node.attrs.get("r", 1.0) * 2)
    h = node.attrs.get("h", w)
    x0, y0, x1, y1 = x, y, x + w, y + h
    for c in node.children:
        cx0, cy0, cx1, cy1 = layout(c)
        x0, y0 = min(x0, cx0), min(y0, cy0)
        x1, y1 = max(x1, cx1), max(y1, cy1)
    node.bbox = (x0, y0, x1, y1)
    return node.bbox


def edit(rng, doc, n_edits, clipboard):
    elements = list(doc.index.values())
    events = 0
    for _ in range(n_edits):
        el = rng.choice(elements)
        r = rng.random()
        if r < 0.45:
            before = dict(el.attrs)
            el.attrs["x"] = el.attrs.get("x", 0) + rng.uniform(-10, 10)
            el.attrs["y"] = el.attrs.get("y", 0) + rng.uniform(-10, 10)
            doc.history.push(Command("move", el, before, dict(el.attrs)))
            events += el.emit("changed", ("move", el.eid))
        elif r < 0.65 and el.parent is not None:
            # cut a subtree; it goes to the clipboard (and the undo history)
            old_parent = el.parent
            el.detach()
            doc.history.push(Command("cut", el, old_parent, None))
            clipboard.append(el)
            if len(clipboard) > CLIPBOARD_SIZE:
                clipboard.pop(0)
        elif r < 0.8 and clipboard:
            # paste something cut earlier, possibly from another document
            piece = clipboard.pop(rng.randrange(len(clipboard)))
            if piece.parent is None and piece is not el and el.tag in ("group", "layer", "svg"):
                doc.adopt(piece)
                el.append(piece)
                doc.history.push(Command("paste", piece, None, el))
        elif r < 0.9:
            cmd = doc.history.pop()
            if cmd is not None and cmd.name == "move":
                cmd.target.attrs.update(cmd.before)
        else:
            tag = rng.choice(TAGS)
            child = Element(doc, tag, random_attrs(rng, tag))
            (el if el.tag in ("group", "layer", "svg") else (el.parent or doc.root)).append(child)
            elements.append(child)
            doc.history.push(Command("insert", child, None, el))
    doc.meta["dirty"] = True
    return events


def stats(doc):
    n = maxd = 0
    tags = {}
    for node in doc.root.walk():
        n += 1
        d = node.depth()
        if d > maxd:
            maxd = d
        tags[node.tag] = tags.get(node.tag, 0) + 1
    bbox = layout(doc.root)
    return n, maxd, tuple(sorted(tags.items())), tuple(round(v, 3) for v in bbox)


def main():
    rng = random.Random(SEED)
    recent = []        # documents kept open for a while
    clipboard = []     # detached subtrees, kept across rounds
    checksum = 0
    total_nodes = 0
    for rnd in range(ROUNDS):
        docs = [build_document(rng, "doc-%d-%d" % (rnd, i), rng.randint(800, 2200))
                for i in range(DOCS_PER_ROUND)]
        for doc in docs:
            checksum += edit(rng, doc, rng.randint(300, 900), clipboard)
            n, maxd, tags, bbox = stats(doc)
            total_nodes += n
            checksum = (checksum * 31 + n * 7 + maxd + int(bbox[2])) % 1000000007
        # keep one document of this round around; close the others
        recent.append(docs[rng.randrange(len(docs))])
        if len(recent) > KEEP_RECENT:
            recent.pop(rng.randrange(len(recent) - 2))
        if len(clipboard) > CLIPBOARD_SIZE:
            del clipboard[:len(clipboard) - CLIPBOARD_SIZE]
        del docs
    print("rounds=%d nodes=%d recent=%d clipboard=%d checksum=%d"
          % (ROUNDS, total_nodes, len(recent), len(clipboard), checksum))
    return 0


if __name__ == "__main__":
    sys.exit(main())
