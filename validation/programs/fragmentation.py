"""A message broker's in-memory store: waves of mixed-size messages, mostly acked.

Producers publish bursts of messages of very different sizes onto topics:
small heartbeat dicts, medium JSON-like event records (dicts with lists of
tags and nested dicts), text payloads and binary blobs (bytes/bytearrays)
of widely varying length, and batch envelopes (lists of sub-records).
Consumers then acknowledge most of them in an interleaved order (every
message whose offset hashes into the acked set, per consumer group), which
leaves the surviving messages scattered across memory.  Survivors are
compacted into retained segments (some kept to the end, some expired in
later waves), and every wave also rewrites a few index structures.  The
heap goes up and down in waves with a slowly growing retained part, the
pattern that fragments an allocator's arenas.
"""

import hashlib
import random
import sys
import zlib

SEED = 99
WAVES = 16
MESSAGES_PER_WAVE = 7000
TOPICS = ["orders", "payments", "clicks", "metrics", "audit", "email", "sms", "logs"]


class Message(object):
    __slots__ = ("offset", "topic", "key", "payload", "headers", "size", "acks")

    def __init__(self, offset, topic, key, payload, headers, size):
        self.offset = offset
        self.topic = topic
        self.key = key
        self.payload = payload
        self.headers = headers
        self.size = size
        self.acks = 0


class Envelope(object):
    """A batch of records published together (has a __dict__)."""

    def __init__(self, batch_id, records):
        self.batch_id = batch_id
        self.records = records
        self.compressed = None
        self.meta = {"count": len(records), "codec": None}


class Segment(object):
    def __init__(self, wave, messages):
        self.wave = wave
        self.messages = messages
        self.index = {m.offset: i for i, m in enumerate(messages)}
        self.bytes = sum(m.size for m in messages)


def make_payload(rng, offset):
    r = rng.random()
    if r < 0.30:
        # heartbeat / tiny status record
        return {"t": offset, "ok": True}, 48
    if r < 0.55:
        # event record with nested structure
        n = rng.randint(1, 12)
        rec = {"id": offset, "type": rng.choice(("view", "click", "buy", "refund")),
               "user": "u%06d" % rng.randrange(200000),
               "tags": ["tag%d" % rng.randrange(50) for _ in range(n)],
               "geo": {"lat": rng.uniform(-90, 90), "lon": rng.uniform(-180, 180)},
               "items": [(rng.randrange(1000), rng.randint(1, 5)) for _ in range(rng.randint(0, 6))]}
        return rec, 200 + 30 * n
    if r < 0.75:
        # text payload, length spread over three orders of magnitude
        n = int(rng.lognormvariate(5.0, 1.3)) + 1
        text = ("lorem ipsum dolor sit amet %d " % offset) * (n // 28 + 1)
        return text[:n], n
    if r < 0.92:
        # binary blob, some of them mutable buffers
        n = int(rng.lognormvariate(6.0, 1.5)) + 1
        n = min(n, 200000)
        blob = rng.getrandbits(8 * min(n, 64)).to_bytes(min(n, 64), "little") * (n // 64 + 1)
        blob = blob[:n]
        if rng.random() < 0.3:
            blob = bytearray(blob)
        return blob, n
    # batch envelope of small records
    records = [{"seq": i, "v": rng.random(), "k": "k%d" % rng.randrange(100)}
               for i in range(rng.randint(5, 60))]
    env = Envelope(offset, records)
    if rng.random() < 0.5:
        env.compressed = zlib.compress(repr(records).encode(), 1)
        env.meta["codec"] = "zlib"
    return env, 64 * len(records)


def acked(offset, group_salt):
    # interleaved acknowledgement pattern: most, but not all, offsets
    return (offset * 2654435761 + group_salt) % 100 < 82


def main():
    rng = random.Random(SEED)
    retained = []          # long-lived segments
    by_key = {}            # latest message per key (compacted topic view)
    offset = 0
    digest = hashlib.sha1()
    peak_live = 0
    for wave in range(WAVES):
        inflight = []
        topics = {t: [] for t in TOPICS}
        for _ in range(MESSAGES_PER_WAVE):
            offset += 1
            payload, size = make_payload(rng, offset)
            topic = rng.choice(TOPICS)
            key = "%s-%d" % (topic, rng.randrange(3000))
            headers = None
            if rng.random() < 0.4:
                headers = {"trace": "%016x" % rng.getrandbits(64), "retries": rng.randint(0, 3)}
            m = Message(offset, topic, key, payload, headers, size)
            inflight.append(m)
            topics[topic].append(m)
        peak_live = max(peak_live, len(inflight) + sum(len(s.messages) for s in retained))

        # consumer groups acknowledge in interleaved order
        for salt in (17, 23, 51):
            for m in inflight:
                if acked(m.offset, salt):
                    m.acks += 1
        survivors = [m for m in inflight if m.acks < 3]
        for m in survivors:
            by_key[m.key] = m
            if m.headers is not None:
                m.headers["redelivered"] = True
        # drop acknowledged messages from the topic queues
        for t in TOPICS:
            topics[t] = [m for m in topics[t] if m.acks < 3]
        retained.append(Segment(wave, survivors))
        del inflight

        # retention: expire some older segments, every other wave
        if wave % 2 == 1 and len(retained) > 6:
            victim = retained.pop(rng.randrange(len(retained) - 3))
            for m in victim.messages:
                if by_key.get(m.key) is m:
                    del by_key[m.key]

        h = 0
        for t in TOPICS:
            for m in topics[t][:50]:
                h = (h * 131 + m.offset + m.size) & 0xFFFFFFFF
        digest.update(("%d:%d:%d" % (wave, h, len(by_key))).encode())

    kept = sum(len(s.messages) for s in retained)
    kept_bytes = sum(s.bytes for s in retained)
    print("waves=%d messages=%d retained=%d (%d bytes) keys=%d peak_live=%d"
          % (WAVES, offset, kept, kept_bytes, len(by_key), peak_live))
    print("checksum", digest.hexdigest()[:16])
    return 0


if __name__ == "__main__":
    sys.exit(main())
