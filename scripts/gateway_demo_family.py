#!/usr/bin/env python3
"""Prints demo families to try the gateway's reference pages with, after `fleet up --demo`:

    scripts/gateway_demo_family.py [--run-dir run] [--count 3]

Reads registry.persons and card.submission of the running fleet (kcat, from run/bootstrap) and prints, per family,
the mother's name and ID number (type them into 演示登录) and a child's name and ID number (资格校验) — children under
18 whose mother is in the registry and who have no application yet — then one child who already has an application
(stopped at 资格校验 with DUPLICATE_ACTIVE_APPLICATION). Demo data only: it prints ID numbers in full.
"""
import argparse
import datetime
import json
import os
import subprocess


def read(bootstrap, topic):
    out = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-e", "-q", "-f", "%s\n"],
                         capture_output=True, text=True, timeout=120).stdout
    for line in out.splitlines():
        try:
            yield json.loads(line)
        except ValueError:
            continue


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", default="run")
    parser.add_argument("--count", type=int, default=3)
    args = parser.parse_args()
    bootstrap = open(os.path.join(args.run_dir, "bootstrap")).read().strip()
    persons = {p["id_number"]: p for p in read(bootstrap, "registry.persons") if isinstance(p, dict) and "id_number" in p}
    applied = {s.get("applicant", {}).get("id_number") for s in read(bootstrap, "card.submission") if isinstance(s, dict)}
    today = datetime.date.today()
    shown = 0
    for child in persons.values():
        mother = persons.get(child.get("mother_id") or "")
        birth = datetime.date.fromisoformat(child["birth_date"])
        age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        if not mother or child.get("status") != "active" or mother.get("status") != "active" or age >= 18 or child["id_number"] in applied:
            continue
        print(f"mother: {mother['name']} {mother['id_number']} ({mother['gender']})   child: {child['name']} {child['id_number']} (age {age})")
        shown += 1
        if shown == args.count:
            break
    blocked = next((persons[i] for i in applied if i in persons), None)
    if blocked:
        mother = persons.get(blocked.get("mother_id") or "")
        print(f"already applied: child {blocked['name']} {blocked['id_number']}" + (f", mother {mother['name']} {mother['id_number']}" if mother else ""))


if __name__ == "__main__":
    main()
