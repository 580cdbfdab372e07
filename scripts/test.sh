#!/usr/bin/env bash
# The one test command: installs what is missing, builds everything, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
# One suite at a time: the end-to-end suites each run four workers and an embedded broker, and on a
# 2-core machine running them all at once starved the time-bound ones (a 20 s registry grace, lag
# STALL within a window): measured here, all 312 tests pass serially in 7 min, while the parallel run
# (3.4 min) failed two of them in two runs out of two.
swift test --skip-build --no-parallel "$@"
