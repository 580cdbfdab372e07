#!/usr/bin/env python3
"""Validates every Topics/*.json file against the shape the rest of the project parses.

For each topic file:
  * the file shape: topic, key, description, partitions (int), replication_factor (int),
    config (string values only), schema, examples.valid / examples.invalid (each invalid
    example has a "why");
  * the file is named after its topic, and cleanup.policy matches the contract;
  * the schema is a valid JSON Schema draft 2020-12 document;
  * every valid example validates and every invalid example fails, with format checking
    ("date", "date-time") really enabled -- the script refuses to run if it is not;
  * 18-character citizen numbers in valid examples carry a correct GB 11643 / ISO 7064
    MOD 11-2 check character.
Across files: every topic of the contract's table has a file, and co-partitioned topics
agree on their partition count.

Prints one line per topic and a final line "N passed, M failed"; exits non-zero on any
failure. Usage: python3 scripts/validate_topics.py [TOPICS_DIR]

Second mode, for other languages' tests (e.g. checking that values a Swift encoder wrote
still conform):  python3 scripts/validate_topics.py --values TOPIC [TOPICS_DIR] < values.json
reads a JSON array of values from stdin, validates each against Topics/TOPIC.json's
schema, prints one line per value and "N passed, M failed", exits non-zero on a failure.
"""
import json
import os
import re
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
except ImportError:  # pragma: no cover
    print("jsonschema is not installed (pip install 'jsonschema>=4' rfc3339-validator)")
    print("0 passed, 1 failed")
    sys.exit(2)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPICS_DIR = os.path.join(REPO, "Topics")

# The contract's topic table (contract.md), plus the project's internal topic.
CONTRACT_TOPICS = {
    "card.submission": "delete",
    "card.identity-verification": "delete",
    "card.bank-routing": "delete",
    "card.card-production": "delete",
    "card.orders": "delete",
    "card.bank-events": "delete",
    "card.status": "delete",
    "card.dlq": "delete",
    "registry.persons": "compact",
    "bank.branches": "compact",
}
PROJECT_TOPICS = {"card.application-closed": "delete", "card.dlq-audit": "delete"}
# Topics that must have the same partition count (same key, joined by one worker).
CO_PARTITIONED = [
    ("card.submission", "card.application-closed"),
    ("card.card-production", "card.bank-events"),
]
REQUIRED_KEYS = {
    "topic": str, "key": str, "description": str, "partitions": int,
    "replication_factor": int, "config": dict, "schema": dict, "examples": dict,
}
MIN_VALID, MIN_INVALID = 2, 3
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_FIELDS = re.compile(r"(^id_number$|_id_number$|^(father|mother)_id$|^guardian_ids$)")


def format_checker():
    """A FormatChecker proven to check dates and timestamps (it silently skips formats
    whose optional dependency is missing, e.g. date-time without rfc3339-validator)."""
    checker = FormatChecker()
    probes = [("2026-02-30", "date", False), ("2026-11-25", "date", True),
              ("2026-11-25 10:15", "date-time", False), ("2026-11-25T10:15:00+08:00", "date-time", True),
              ("2026-11-25T25:00:00+08:00", "date-time", False)]
    for value, fmt, expected in probes:
        if fmt not in checker.checkers or checker.conforms(value, fmt) != expected:
            raise SystemExit(f"format checking for '{fmt}' is not working ({value!r} should be "
                             f"{'accepted' if expected else 'rejected'}); install rfc3339-validator")
    return checker


def id_check_ok(number):
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], ID_WEIGHTS))
    return "10X98765432"[total % 11] == number[17]


def citizen_numbers(value, path="$"):
    """Yields (path, number) for every citizen-number-like field in a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{path}.{k}"
            if ID_FIELDS.search(k):
                for n in (v if isinstance(v, list) else [v]):
                    if isinstance(n, str) and len(n) == 18:
                        yield p, n
            else:
                yield from citizen_numbers(v, p)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from citizen_numbers(v, f"{path}[{i}]")


def short(error):
    loc = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{loc}: {error.message[:160]}"


def check_topic(path, checker):
    """Returns (topic name or None, problems, summary)."""
    problems = []
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return None, [f"cannot read JSON: {e}"], ""
    if not isinstance(doc, dict):
        return None, ["file is not a JSON object"], ""

    for key, typ in REQUIRED_KEYS.items():
        if key not in doc:
            problems.append(f"missing key '{key}'")
        elif not isinstance(doc[key], typ) or (typ is int and isinstance(doc[key], bool)):
            problems.append(f"'{key}' must be {typ.__name__}")
    extra = set(doc) - set(REQUIRED_KEYS)
    if extra:
        problems.append(f"unexpected keys {sorted(extra)}")
    if problems:
        return doc.get("topic") if isinstance(doc.get("topic"), str) else None, problems, ""

    topic = doc["topic"]
    if os.path.basename(path) != topic + ".json":
        problems.append(f"file name should be {topic}.json")
    if not doc["key"].strip() or not doc["description"].strip():
        problems.append("key and description must not be empty")
    if doc["partitions"] < 1:
        problems.append("partitions must be >= 1")
    if doc["replication_factor"] < 1:
        problems.append("replication_factor must be >= 1")

    config = doc["config"]
    for k, v in config.items():
        if not isinstance(v, str):
            problems.append(f"config '{k}' must be a string, got {type(v).__name__}")
    expected_policy = {**CONTRACT_TOPICS, **PROJECT_TOPICS}.get(topic)
    if expected_policy is None:
        problems.append("topic is neither in the contract's table nor a known project topic")
    elif config.get("cleanup.policy") != expected_policy:
        problems.append(f"cleanup.policy must be '{expected_policy}'")
    if expected_policy == "delete" and "retention.ms" not in config:
        problems.append("delete topics must set retention.ms")
    for k in ("retention.ms", "min.insync.replicas", "max.message.bytes", "segment.ms"):
        if k in config and isinstance(config[k], str) and not re.fullmatch(r"-?[0-9]+", config[k]):
            problems.append(f"config '{k}' must be an integer string")
    mir = config.get("min.insync.replicas")
    if isinstance(mir, str) and mir.isdigit() and int(mir) > doc["replication_factor"]:
        problems.append("min.insync.replicas exceeds replication_factor")

    schema = doc["schema"]
    if schema.get("$schema") != DRAFT_2020_12:
        problems.append(f"schema.$schema must be {DRAFT_2020_12}")
    if not isinstance(schema.get("$id"), str) or not schema.get("$id"):
        problems.append("schema.$id missing")
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        problems.append(f"schema is not valid draft 2020-12: {e.message[:200]}")
        return topic, problems, ""
    validator = Draft202012Validator(schema, format_checker=checker)

    examples = doc["examples"]
    valid, invalid = examples.get("valid"), examples.get("invalid")
    if set(examples) - {"valid", "invalid"}:
        problems.append(f"unexpected keys in examples: {sorted(set(examples) - {'valid', 'invalid'})}")
    if not isinstance(valid, list) or len(valid) < MIN_VALID:
        problems.append(f"examples.valid needs at least {MIN_VALID} examples")
        valid = valid if isinstance(valid, list) else []
    if not isinstance(invalid, list) or len(invalid) < MIN_INVALID:
        problems.append(f"examples.invalid needs at least {MIN_INVALID} examples")
        invalid = invalid if isinstance(invalid, list) else []

    for i, value in enumerate(valid):
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        for e in errors[:3]:
            problems.append(f"valid[{i}] fails: {short(e)}")
        for p, n in citizen_numbers(value):
            if not id_check_ok(n):
                problems.append(f"valid[{i}] {p}: {n[:6]}********{n[-4:]} has a wrong check character")
    for i, item in enumerate(invalid):
        if not isinstance(item, dict) or set(item) != {"why", "value"} \
                or not isinstance(item["why"], str) or not item["why"].strip():
            problems.append(f"invalid[{i}] must be {{\"why\": <non-empty string>, \"value\": ...}}")
            continue
        if validator.is_valid(item["value"]):
            problems.append(f"invalid[{i}] ({item['why']}) unexpectedly validates")

    summary = f"{doc['partitions']} partitions, {len(valid)} valid / {len(invalid)} invalid examples"
    return topic, problems, summary


def validate_values(topic):
    """--values mode: validates a JSON array read from stdin against one topic's schema."""
    checker = format_checker()
    path = os.path.join(TOPICS_DIR, topic + ".json")
    try:
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)["schema"]
        values = json.load(sys.stdin)
    except (OSError, ValueError, KeyError) as e:
        print(f"cannot load {path} or stdin: {e}")
        print("0 passed, 1 failed")
        return 1
    if not isinstance(values, list):
        values = [values]
    validator = Draft202012Validator(schema, format_checker=checker)
    passed = failed = 0
    for i, value in enumerate(values):
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            failed += 1
            print(f"FAIL {topic}[{i}]: " + "; ".join(short(e) for e in errors[:5]))
        else:
            passed += 1
            print(f"ok   {topic}[{i}]")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def main():
    global TOPICS_DIR
    args = sys.argv[1:]
    if args[:1] == ["--values"]:
        if len(args) < 2:
            print("usage: validate_topics.py --values TOPIC [TOPICS_DIR] < values.json")
            return 2
        if len(args) > 2:
            TOPICS_DIR = args[2]
        return validate_values(args[1])
    if args:
        TOPICS_DIR = args[0]
    checker = format_checker()
    if not os.path.isdir(TOPICS_DIR):
        print(f"no Topics directory at {TOPICS_DIR}")
        print("0 passed, 1 failed")
        return 1
    files = sorted(f for f in os.listdir(TOPICS_DIR) if f.endswith(".json"))
    passed = failed = 0
    docs = {}
    for name in files:
        topic, problems, summary = check_topic(os.path.join(TOPICS_DIR, name), checker)
        label = topic or name
        if topic:
            if topic in docs:
                problems.append("topic defined by more than one file")
            with open(os.path.join(TOPICS_DIR, name), encoding="utf-8") as f:
                docs[topic] = json.load(f)
        if problems:
            failed += 1
            print(f"FAIL {label}")
            for p in problems:
                print(f"     - {p}")
        else:
            passed += 1
            print(f"ok   {label}: {summary}")

    cross = []
    for topic in list(CONTRACT_TOPICS) + list(PROJECT_TOPICS):
        if topic not in docs:
            cross.append(f"no Topics/{topic}.json for topic {topic}")
    for a, b in CO_PARTITIONED:
        pa = docs.get(a, {}).get("partitions")
        pb = docs.get(b, {}).get("partitions")
        if pa is not None and pb is not None and pa != pb:
            cross.append(f"{a} ({pa}) and {b} ({pb}) must have the same partition count")
    if cross:
        failed += 1
        print("FAIL cross-topic checks")
        for p in cross:
            print(f"     - {p}")
    else:
        print(f"ok   cross-topic: all {len(CONTRACT_TOPICS) + len(PROJECT_TOPICS)} topics present, "
              f"co-partitioned pairs agree")

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
