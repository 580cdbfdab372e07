#!/usr/bin/env bash
# Gateway figures on the embedded broker (prints them; changes nothing):
#
#   scripts/gateway_bench.sh [--bin-dir .build/release] [--seconds 20] [--rate 200]
#
# 1. 资格校验 at a fixed rate: `hey` sends POST /v1/eligibility for a seeded child at --rate requests/s
#    (10 connections) for --seconds; prints p50/p90/p99 and the gateway's CPU (user+system seconds / wall).
# 2. Submissions/s through the gateway: `wrk` posts valid submissions, each with its own submission_id, over
#    32 connections for --seconds (every one published to card.submission and acknowledged); then
#    `fleet submit --generate` publishes as many straight to Kafka, for comparison.
# Needs hey, wrk, kcat (Debian packages). Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=".build/release"; seconds=20; rate=200
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in hey wrk kcat; do command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 2; }; done
work="$(mktemp -d)"; pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$bin/fleet" broker --run-dir "$work" --topics-dir Topics >"$work/broker.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
"$bin/fleet" seed --run-dir "$work" --families 2000 >"$work/seed.log" 2>&1
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
key="bench-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
CARD_GATEWAY_KEYS="hrss_web=$key" "$bin/gateway" --bootstrap-file "$work/bootstrap" --port "$port" \
  --rate 1000000 --burst 1000000 --log-level warning >"$work/gateway.log" 2>&1 & gateway=$!; pids+=($gateway)
base="http://127.0.0.1:$port"
for _ in $(seq 1 600); do curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break; sleep 0.1; done

# A seeded child with its mother, read back from registry.persons.
kcat -b "$(cat "$work/bootstrap")" -C -t registry.persons -o beginning -e -q >"$work/registry.jsonl" 2>/dev/null
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
people = {}
for line in open(f"{work}/registry.jsonl", encoding="utf-8"):
    try:
        p = json.loads(line)
        people[p["id_number"]] = p
    except Exception:
        pass
child = next(p for p in people.values() if p.get("mother_id") in people and p["status"] == "active" and p["birth_date"] > "2012-01-01")
body = {"applicant": {"name": child["name"], "id_type": "resident_id", "id_number": child["id_number"]},
        "agent": {"id_number": child["mother_id"]}, "consents": {"data_authorization": True}}
json.dump(body, open(f"{work}/eligibility.json", "w"), ensure_ascii=False)
mother = people[child["mother_id"]]
att = lambda n, b=123456, t="image/jpeg": {"uri": f"s3://bench/{n}", "sha256": "ab" * 32, "bytes": b, "media_type": t, "width": 358, "height": 441}
y, m, d = child["birth_date"].split("-")
submission = {"schema": "card.submission.v1", "submission_id": "SUBMISSION_ID", "submitted_at": "2026-11-25T10:15:00+08:00",
  "consents": {"disclaimer": True, "commitment": True, "data_authorization": True},
  "agent": {"name": mother["name"], "id_type": "resident_id", "id_number": mother["id_number"], "id_valid_from": "2015-06-01",
            "id_valid_to": "2035-06-01", "gender": "female", "mobile": "13412342458", "relationship": "mother",
            "documents": {"id_front": att("a1"), "id_back": att("a2")}},
  "applicant": {"name": child["name"], "id_type": "resident_id", "id_number": child["id_number"], "id_valid_from": "2023-01-10",
                "id_valid_to": "2028-01-10", "gender": child["gender"], "birth_date": child["birth_date"], "nationality": "CHN",
                "ethnicity": "01", "occupation": "student", "district": "110105", "address": "北京市朝阳区永安里20号", "mobile": "13412342458"},
  "documents": {"photo": att("p", 48213), "id_front": att("f"), "id_back": att("b"), "birth_certificate": att("c", t="image/png")},
  "card": {"bank": "BOB", "branch": "BOB-0105-01", "pickup": "agent_branch_pickup", "functions": ["social_security"]}}
text = json.dumps(submission, ensure_ascii=False).replace("\\", "\\\\").replace('"', '\\"')
open(f"{work}/submit.lua", "w", encoding="utf-8").write(f'''
local n = 0
local template = "{text}"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer KEY"
request = function()
  n = n + 1
  local id = "bench-" .. tostring(math.random(1, 2147483647)) .. "-" .. tostring(n)
  return wrk.format(nil, "/v1/submissions", nil, (template:gsub("SUBMISSION_ID", id)))
end
''')
PY
sed -i "s/Bearer KEY/Bearer $key/" "$work/submit.lua"
status=$(curl -s -o "$work/one.json" -w '%{http_code}' "$base/v1/eligibility" -H "Authorization: Bearer $key" -d @"$work/eligibility.json")
echo "eligibility check: HTTP $status $(head -c 120 "$work/one.json")"

cpu() { awk '{print $14 + $15}' "/proc/$gateway/stat"; }
ticks=$(getconf CLK_TCK)
before=$(cpu)
hey -z "${seconds}s" -c 10 -q $((rate / 10)) -m POST -T application/json -H "Authorization: Bearer $key" \
  -D "$work/eligibility.json" "$base/v1/eligibility" >"$work/hey.txt"
after=$(cpu)
echo "== 资格校验 at ${rate}/s for ${seconds}s (hey, 10 connections)"
grep -E "Requests/sec|Status code|^ *\[[0-9]{3}\]" "$work/hey.txt" | sed 's/^/  /'
grep -E "  (50|90|99)% in" "$work/hey.txt" | sed 's/^/  p/'
python3 -c "print(f'  gateway CPU: {($after - $before) / $ticks:.2f} s over ${seconds} s = {($after - $before) / $ticks / $seconds * 100:.0f} % of one core')"

before=$(cpu)
wrk -t2 -c32 -d"${seconds}s" -s "$work/submit.lua" "$base" >"$work/wrk.txt"
after=$(cpu)
echo "== POST /v1/submissions flat out for ${seconds}s (wrk, 32 connections, each a new submission_id)"
grep -E "Requests/sec|Latency|Non-2xx|requests in" "$work/wrk.txt" | sed 's/^/  /'
python3 -c "print(f'  gateway CPU: {($after - $before) / $ticks:.2f} s = {($after - $before) / $ticks / $seconds * 100:.0f} % of one core')"
accepted=$(grep -E "requests in" "$work/wrk.txt" | awk '{print $1}')
echo "== fleet submit --generate ${accepted} (straight to Kafka, for comparison)"
"$bin/fleet" submit --run-dir "$work" --generate "$accepted" --families 2000 --invalid-share 0 --late-share 0 2>&1 | grep -E "^sent" | sed 's/^/  /'
