#!/usr/bin/env bash
# The one run command: installs what is missing, builds, and starts the whole fleet on the
# embedded broker with demo data flowing (`fleet up --demo`). Extra arguments go to `fleet up`,
# e.g. `scripts/run.sh --submissions 5000 --rate 100`. DEMO=0 starts the fleet without demo data;
# BUILD=debug skips the longer release build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
config="${BUILD:-release}"
echo "building ($config; the first build takes a few minutes)…"
swift build -c "$config" --product fleet
for worker in intake identity routing production; do swift build -c "$config" --product "$worker-worker"; done
demo=(--demo)
[ "${DEMO:-1}" = "0" ] && demo=()
exec ".build/$config/fleet" up "${demo[@]}" "$@"
