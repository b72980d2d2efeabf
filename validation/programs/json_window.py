"""A message consumer that keeps a sliding window of decoded messages.

It reads a deterministic stream of JSON messages (each a small envelope with headers, a body and
a list of tags), decodes every one with json.loads, re-encodes an acknowledgement with
json.dumps, and keeps the last WINDOW decoded messages in a dict keyed by message id (a
de-duplication window, oldest evicted first). Every DEDUP_EVERY messages it records a
parent/child pair of dicts that point at each other (a reply linked to its request) and drops
it. Once the window is full, every message kept pushes the oldest one out: the program makes
objects as fast as before, but as many old ones die as young ones are born.
"""

import json
import random
import sys

SEED = 3
N_MESSAGES = 150000
WINDOW = 4000
KEEP_EVERY = 4
DEDUP_EVERY = 40


def main():
    rng = random.Random(SEED)
    window = {}
    order = []
    acked = 0
    for i in range(N_MESSAGES):
        k = rng.randint(0, 5000)
        raw = json.dumps({"id": i, "path": "/queue/%d" % k,
                          "headers": [["content-type", "application/json"], ["x-key", str(k)]],
                          "tags": ["t%d" % (k % 7), "t%d" % (k % 11)]})
        msg = json.loads(raw)
        ack = json.dumps({"ack": msg["id"], "ok": True})
        acked += len(ack)
        if k % KEEP_EVERY == 0:
            window[i] = msg
            order.append(i)
            if len(order) > WINDOW:
                del window[order.pop(0)]
        if i % DEDUP_EVERY == 0:
            request = {"id": i}
            reply = {"request": request}
            request["reply"] = reply
    print("kept", len(window), "acked bytes", acked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
