"""An independent Kafka client for the end-to-end tests (confluent-kafka from PyPI, with its own
librdkafka build): it creates and deletes topics, produces events compressed as asked, and reads
a group's committed offsets, so that what vbda does is checked by code that is not vbda's.

Usage (connection settings as KEY=VALUE pairs in VBDA_TEST_KAFKA, ';'-separated):
  client.py create TOPIC PARTITIONS
  client.py delete TOPIC
  client.py topic-id TOPIC
  client.py produce TOPIC FIRST COUNT [--codec C] [--timestamp MS] [--prefix P] [--size BYTES]
  client.py committed GROUP TOPIC          (prints {"partition": offset, ...}; -1001 when none)
  client.py ends TOPIC                     (prints {"partition": high watermark, ...})
"""

import json
import os
import sys
import time

from confluent_kafka import Consumer, Producer, TopicCollection, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def settings():
    out = {}
    for pair in os.environ.get("VBDA_TEST_KAFKA", "").split(";"):
        if pair:
            k, v = pair.split("=", 1)
            out[k] = v
    return out


def event(i, prefix, size):
    e = {
        "event_id": f"{prefix}{i}",
        "event_type": "play",
        "event_ts": "2025-01-01T10:00:00Z",
        "user_id": f"u{i % 997}",
        "session_id": f"s{i % 4099}",
        "content_id": f"c{i % 211}",
    }
    line = json.dumps(e, separators=(",", ":"))
    if size and len(line) < size:
        e["pad"] = "x" * (size - len(line) - 9)
        line = json.dumps(e, separators=(",", ":"))
    return line


def wait_topics(admin, futures):
    for topic, f in futures.items():
        f.result(30)


def main(argv):
    cmd = argv[1]
    conf = settings()
    if cmd == "create":
        admin = AdminClient(conf)
        topic, partitions = argv[2], int(argv[3])
        deadline = time.time() + 60
        while True:
            try:
                wait_topics(admin, admin.create_topics([NewTopic(topic, partitions, 1)]))
                break
            except Exception as e:  # a topic deleted a moment ago may still be going away
                if "already exists" in str(e) and time.time() < deadline:
                    time.sleep(0.5)
                    continue
                raise
        # Wait until the new topic's every partition has a leader.
        while time.time() < deadline:
            md = admin.list_topics(topic, timeout=10).topics.get(topic)
            if md and not md.error and len(md.partitions) == partitions and all(p.leader >= 0 for p in md.partitions.values()):
                return
            time.sleep(0.2)
        raise SystemExit(f"topic {topic} did not get leaders")
    if cmd == "delete":
        admin = AdminClient(conf)
        wait_topics(admin, admin.delete_topics([argv[2]]))
        deadline = time.time() + 60
        while argv[2] in admin.list_topics(timeout=10).topics and time.time() < deadline:
            time.sleep(0.2)
        return
    if cmd == "topic-id":
        admin = AdminClient(conf)
        d = admin.describe_topics(TopicCollection([argv[2]]))[argv[2]].result(30)
        print(d.topic_id)
        return
    if cmd == "produce":
        topic, first, count = argv[2], int(argv[3]), int(argv[4])
        opts = dict(zip(argv[5::2], argv[6::2]))
        p = Producer({**conf, "compression.type": opts.get("--codec", "none"), "linger.ms": 50,
                      "batch.size": 1000000, "enable.idempotence": True})
        prefix, size = opts.get("--prefix", "k"), int(opts.get("--size", "0"))
        ts = int(opts["--timestamp"]) if "--timestamp" in opts else None
        failed = []
        def report(err, _msg):
            if err is not None:
                failed.append(str(err))
        for i in range(first, first + count):
            line = event(i, prefix, size)
            while True:
                try:
                    if ts is None:
                        p.produce(topic, line.encode(), key=f"s{i % 4099}".encode(), on_delivery=report)
                    else:
                        p.produce(topic, line.encode(), key=f"s{i % 4099}".encode(), timestamp=ts, on_delivery=report)
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
        left = p.flush(120)
        if left or failed:
            raise SystemExit(f"{left} undelivered, {len(failed)} failed: {failed[:3]}")
        print(count)
        return
    if cmd == "committed":
        group, topic = argv[2], argv[3]
        c = Consumer({**conf, "group.id": group, "enable.auto.commit": False})
        md = c.list_topics(topic, timeout=30).topics[topic]
        tps = [TopicPartition(topic, p) for p in sorted(md.partitions)]
        print(json.dumps({str(tp.partition): tp.offset for tp in c.committed(tps, timeout=30)}))
        c.close()
        return
    if cmd == "ends":
        topic = argv[2]
        c = Consumer({**conf, "group.id": "vbda-test-ends"})
        md = c.list_topics(topic, timeout=30).topics[topic]
        print(json.dumps({str(p): c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in sorted(md.partitions)}))
        c.close()
        return
    raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
