#!/usr/bin/env python3
"""Keeps the gateway's OpenAPI document's submission schema equal to the contract's (Topics/card.submission.json).

    scripts/gateway_openapi.py --check    exit 1 (naming the difference) when they disagree, then validate the document
    scripts/gateway_openapi.py --write    copy the contract's schema into the document

The rest of Sources/Gateway/Resources/openapi.json is written by hand. The contract's schema (JSON Schema
2020-12, which OpenAPI 3.1 uses) goes in as components/schemas/Submission, its $defs as Submission_<name>
components, with one change: `channel` is not required (the gateway fills it from the API key).
--check also runs openapi-spec-validator on the document. Prints a closing "N passed, M failed" line.
"""
import copy
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENT = os.path.join(ROOT, "Sources/Gateway/Resources/openapi.json")
CONTRACT = os.path.join(ROOT, "Topics/card.submission.json")
PREFIX = "Submission_"


def rewrite(node):
    if isinstance(node, dict):
        return {k: (("#/components/schemas/" + PREFIX + v[len("#/$defs/"):]) if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/")
                    else rewrite(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite(v) for v in node]
    return node


def expected_components():
    schema = copy.deepcopy(json.load(open(CONTRACT, encoding="utf-8"))["schema"])
    defs = schema.pop("$defs", {})
    schema.pop("$schema", None)
    schema.pop("$id", None)
    schema["required"] = [r for r in schema["required"] if r != "channel"]
    schema["description"] = ("The contract's card.submission.v1 value (Topics/card.submission.json, copied by "
                             "scripts/gateway_openapi.py); `channel` may be left out: the API key's channel is used.")
    components = {"Submission": rewrite(schema)}
    for name, value in defs.items():
        components[PREFIX + name] = rewrite(value)
    return components


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "--check"
    document = json.load(open(DOCUMENT, encoding="utf-8"))
    schemas = document["components"]["schemas"]
    wanted = expected_components()
    if mode == "--write":
        for name in [n for n in schemas if n == "Submission" or n.startswith(PREFIX)]:
            del schemas[name]
        schemas.update(wanted)
        with open(DOCUMENT, "w", encoding="utf-8") as f:
            json.dump(document, f, ensure_ascii=False, indent=2)
            f.write("\n")
        print(f"wrote {len(wanted)} submission schema components into {os.path.relpath(DOCUMENT, ROOT)}")
        return 0
    passed, failed = 0, 0
    present = {n: v for n, v in schemas.items() if n == "Submission" or n.startswith(PREFIX)}
    for name in sorted(set(wanted) | set(present)):
        if wanted.get(name) == present.get(name):
            passed += 1
        else:
            failed += 1
            print(f"FAILED: components/schemas/{name} differs from Topics/card.submission.json (run scripts/gateway_openapi.py --write)")
    try:
        from openapi_spec_validator import validate
        validate(document)
        passed += 1
    except ImportError:
        failed += 1
        print("FAILED: openapi-spec-validator is not installed (python3 -m pip install openapi-spec-validator)")
    except Exception as error:  # the validator's own errors name the path
        failed += 1
        print(f"FAILED: openapi-spec-validator: {error}")
    print(f"openapi: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
