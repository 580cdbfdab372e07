#!/usr/bin/env python3
"""One hop's latency after a quiet spell: what idle pause costs the first record (README, "Idle").

Starts the embedded broker (`fleet broker`) and `count-worker`, then, RECORDS times: waits a quiet
spell (QUIET s plus up to 1.5 s at random, so records land at every phase of the probe), produces
one record to test.input and times it until its output on test.output. Prints min, p50 and max
in ms. The worker's environment is this script's: `CARD_IDLE_PAUSE=off|<probe ms>` compares.

usage: scripts/idle_hop_latency.py [--bin-dir .build/release] [--records 12] [--quiet 3]
needs: confluent-kafka (scripts/install-deps.sh installs it)
"""
import argparse, os, random, subprocess, sys, tempfile, time, uuid

from confluent_kafka import Consumer, Producer

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--bin-dir", default=".build/release")
parser.add_argument("--records", type=int, default=12)
parser.add_argument("--quiet", type=float, default=3.0, help="seconds of quiet before each record (idle pause waits 2 s)")
args = parser.parse_args()

work = tempfile.mkdtemp(prefix="idle-hop-")
topics = ["test.input:4", "test.output:4", "card.count-changelog:4", "card.dlq:2", "card.worker-membership:1"]
broker = subprocess.Popen([os.path.join(args.bin_dir, "fleet"), "broker", "--run-dir", work]
                          + [a for t in topics for a in ("--topic", t)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
worker = None
try:
    bootstrap = os.path.join(work, "bootstrap")
    deadline = time.time() + 30
    while not os.path.exists(bootstrap) and time.time() < deadline:
        time.sleep(0.1)
    servers = open(bootstrap).read().strip()
    worker = subprocess.Popen([os.path.join(args.bin_dir, "count-worker"), "--brokers", servers,
                               "--state-dir", os.path.join(work, "state")],
                              stdout=open(os.path.join(work, "worker.log"), "w"), stderr=subprocess.STDOUT)
    producer = Producer({"bootstrap.servers": servers, "linger.ms": 0, "enable.idempotence": True})
    consumer = Consumer({"bootstrap.servers": servers, "group.id": "idle-hop-" + uuid.uuid4().hex,
                         "auto.offset.reset": "latest", "fetch.wait.max.ms": 1, "enable.auto.commit": False})
    consumer.subscribe(["test.output"])
    # One record first, not timed: the worker joins its group and the reader is assigned.
    warm = "warm-" + uuid.uuid4().hex[:6]
    producer.produce("test.input", key=warm, value="v")
    producer.flush()
    start = time.time()
    while time.time() - start < 60:
        m = consumer.poll(0.2)
        if m is not None and not m.error() and m.key().decode() == warm:
            break
    else:
        sys.exit("the worker did not answer within 60 s; see " + os.path.join(work, "worker.log"))
    latencies = []
    for i in range(args.records):
        time.sleep(args.quiet + random.random() * 1.5)
        key = "r%d-%s" % (i, uuid.uuid4().hex[:6])
        start = time.time()
        producer.produce("test.input", key=key, value="v")
        producer.flush()
        while time.time() - start < 10:
            m = consumer.poll(0.5)
            if m is not None and not m.error() and m.key().decode() == key:
                latencies.append((time.time() - start) * 1000)
                break
    latencies.sort()
    mode = os.environ.get("CARD_IDLE_PAUSE", "auto")
    print("one hop after %.1f-%.1f s of quiet, CARD_IDLE_PAUSE=%s: %d of %d answered; ms min %.0f, p50 %.0f, max %.0f"
          % (args.quiet, args.quiet + 1.5, mode, len(latencies), args.records,
             latencies[0], latencies[len(latencies) // 2], latencies[-1]))
    print("all (ms): " + ", ".join("%.0f" % x for x in latencies))
    consumer.close()  # before the broker goes, so the clients do not report its disappearance
    del producer
finally:
    for process in (worker, broker):
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
