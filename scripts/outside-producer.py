#!/usr/bin/env python3
"""A producer from outside the fleet: Python confluent-kafka (its own librdkafka), standing in for
a portal's or a bank's client in tests and by hand.

Usage: outside-producer.py BOOTSTRAP TOPIC [--partitioner NAME] < records.jsonl

Each input line is one record: {"value": "<text>", "key": "<text>" | null, "partition": N | null,
"headers": {"name": "value", ...}}. `--partitioner` is the librdkafka `partitioner` property:
murmur2_random is what Java, kafkajs and Sarama clients do by default; consistent_random is
librdkafka's own default (CRC32). Prints one JSON line per record, in input order, with where the
broker put it: {"partition": N, "offset": N}. Exits 1 if any record was not delivered.
"""
import argparse
import json
import sys

from confluent_kafka import Producer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bootstrap")
    parser.add_argument("topic")
    parser.add_argument("--partitioner", default="murmur2_random")
    args = parser.parse_args()

    producer = Producer({"bootstrap.servers": args.bootstrap, "partitioner": args.partitioner,
                         "enable.idempotence": True, "linger.ms": 0})
    results = []
    for line in sys.stdin:
        if not line.strip():
            continue
        record = json.loads(line)
        slot = {"index": len(results)}
        results.append(slot)

        def report(err, msg, slot=slot):
            slot["error"] = str(err) if err else None
            if not err:
                slot["partition"], slot["offset"] = msg.partition(), msg.offset()

        kwargs = {"value": record["value"].encode(), "on_delivery": report}
        if record.get("key") is not None:
            kwargs["key"] = record["key"].encode()
        if record.get("partition") is not None:
            kwargs["partition"] = record["partition"]
        if record.get("headers"):
            kwargs["headers"] = [(name, value.encode()) for name, value in record["headers"].items()]
        producer.produce(args.topic, **kwargs)
        # One at a time: records land in input order, like a client awaiting each send.
        producer.flush(30)
    producer.flush(30)
    failed = False
    for slot in results:
        if slot.get("error") is not None or "partition" not in slot:
            failed = True
            print(json.dumps({"error": slot.get("error") or "no delivery report"}))
        else:
            print(json.dumps({"partition": slot["partition"], "offset": slot["offset"]}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
