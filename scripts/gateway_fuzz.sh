#!/usr/bin/env bash
# Fuzzes a running gateway against its own OpenAPI document (schemathesis), at a small size:
#
#   scripts/gateway_fuzz.sh [--bin-dir .build/debug] [--max-examples 25]
#
# Starts the embedded broker with the topics of Topics/, publishes the demo reference data (fleet seed),
# starts `gateway` on a free loopback port with a throw-away key, validates /openapi.json with
# openapi-spec-validator, then runs schemathesis with the checks that hold for any input: no 5xx, every
# status code, content type, header and body as the document says. Exits non-zero on any failure;
# prints one closing "N passed, M failed" line. Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=".build/debug"
examples=25
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin="$2"; shift 2 ;;
    --max-examples) examples="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
passed=0; failed=0
result() { if [ "$1" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $2"; fi; }

set +e; python3 scripts/gateway_openapi.py --check >"$work/openapi.log" 2>&1; status=$?; set -e
[ $status -eq 0 ] || cat "$work/openapi.log"
result $status "openapi document (scripts/gateway_openapi.py --check)"

"$bin/fleet" broker --run-dir "$work" --topics-dir Topics >"$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
[ -s "$work/bootstrap" ] || { echo "broker did not start"; cat "$work/broker.log"; exit 1; }
"$bin/fleet" seed --run-dir "$work" --families 50 >"$work/seed.log" 2>&1
# A few submissions, so the status endpoint has applications to find as well as ids it does not know.
"$bin/fleet" submit --run-dir "$work" --generate 5 --families 50 >"$work/submit.log" 2>&1

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
key="fuzz-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
CARD_GATEWAY_KEYS="hrss_web=$key" "$bin/gateway" --bootstrap-file "$work/bootstrap" --port "$port" \
  --uploads-dir "$work/uploads" --rate 10000 --burst 10000 --log-level info >"$work/gateway.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$port"
for _ in $(seq 1 300); do curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break; sleep 0.1; done
curl -fsS -o /dev/null "$base/readyz"; result $? "gateway ready"

# pip puts the command beside the interpreter; a shell whose PATH lacks it (no pyenv shims) still finds it.
st="$(command -v schemathesis || python3 -c 'import os, sys; print(os.path.join(os.path.dirname(sys.executable), "schemathesis"))')"
set +e
# Run from the scratch folder: schemathesis keeps a cache (.schemathesis/) in its working directory.
(cd "$work" && "$st" run "$base/openapi.json" --url "$base" -H "Authorization: Bearer $key" \
  --max-examples "$examples" --seed 15 --request-timeout 40 --generation-database none \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  >"$work/schemathesis.log" 2>&1)
status=$?
set -e
tail -n 25 "$work/schemathesis.log"
result $status "schemathesis"
if grep -Eq '[0-9]{17}[0-9Xx]' "$work/gateway.log"; then result 1 "gateway log holds an unmasked ID number"; else result 0 ""; fi
echo "gateway fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
