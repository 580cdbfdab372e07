#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (idempotent, quiet when all is there):
# librdkafka-dev (+ pkg-config) for the Kafka wrapper, libsqlite3-dev for GRDB, kcat for poking
# at topics, python3-jsonschema for the Topics/ schema checks, chromium for the ops page's headless test,
# chromium-driver + fonts-noto-cjk for the gateway's portal pages driven in headless Chromium (Chinese screenshots),
# docker-compose (v1, offline) to validate docker-compose.yml on machines without a Docker engine.
set -euo pipefail
need=()
for pkg in librdkafka-dev pkg-config libsqlite3-dev kcat chromium chromium-driver fonts-noto-cjk docker-compose; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -c 'import jsonschema, rfc3339_validator' 2>/dev/null || python3 -m pip install -q jsonschema rfc3339-validator
pkg-config --exists rdkafka || { echo "librdkafka not found by pkg-config" >&2; exit 1; }
# confluent-kafka (its own, newer librdkafka) acts as the Java-style portal or bank in the outside-client tests:
# murmur2 partitioner, transactional producer, cooperative rebalancing.
python3 -c 'import confluent_kafka' 2>/dev/null || python3 -m pip install -q confluent-kafka
# matplotlib draws `fleet bench`'s PNG plot (throughput and lag over time); only the bench needs it.
python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install -q matplotlib
# openapi-spec-validator checks the gateway's OpenAPI 3.1 document; schemathesis fuzzes the running gateway against it.
python3 -c 'import openapi_spec_validator' 2>/dev/null || python3 -m pip install -q openapi-spec-validator
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install -q schemathesis
# selenium drives the portal pages' flows (scripts/gateway_portal_flows.py) through Debian's chromium-driver.
python3 -c 'import selenium' 2>/dev/null || python3 -m pip install -q selenium
