#!/usr/bin/env bash
# tests/run.sh - the whole test suite, as CI and users run it:
#   installs missing dependencies, configures and builds (strict warnings),
#   starts the local Kafka broker and the local PostgreSQL if they are not running, runs every test with
#   ctest (unit suites and integration tests on the real broker), then runs the
#   unit suites again under AddressSanitizer + UndefinedBehaviorSanitizer, stops
#   what it started, and exits non-zero on any failure.
#
#   It shows each test as it starts and ends, each Check test of the
#   integration suites as it ends, and the whole output of a test that fails
#   (tests/ctest_progress.awk); ctest keeps every test's output in
#   BUILD/Testing/Temporary/LastTest.log.
#
# Environment:
#   FERRY_BUILD_DIR   build directory (default build)
#   FERRY_KAFKA_DIR   the local broker's data directory (default BUILD/kafka)
#   FERRY_KAFKA_PORT  the local broker's port (default: the port it last used, else 9092)
#   FERRY_PG_DIR      the local PostgreSQL's folder (default BUILD/postgres)
#   FERRY_PG_PORT     its port (default 55432)
#   FERRY_SANITIZE    all: run the whole suite (integration too) under the sanitizers;
#                     unit (default): the unit suites only; off: skip that pass
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# A relative FERRY_KAFKA_DIR means what it means to kafka.sh: from where we were called.
case "${FERRY_KAFKA_DIR:-/}" in /*) ;; *) FERRY_KAFKA_DIR="$PWD/$FERRY_KAFKA_DIR" ;; esac
case "${FERRY_PG_DIR:-/}" in /*) ;; *) FERRY_PG_DIR="$PWD/$FERRY_PG_DIR" ;; esac
cd "$top"
build=${FERRY_BUILD_DIR:-build}
case "$build" in /*) ;; *) build="$top/$build" ;; esac
sanitize=${FERRY_SANITIZE:-unit}
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
deploy/local/deps.sh

step "build ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFERRY_WERROR=ON >/dev/null
cmake --build "$build" -j"$jobs"

# The suite runs on the broker of deploy/local/kafka.sh in FERRY_KAFKA_DIR (fault
# tests stop and restart it), started here unless it is already running.
export FERRY_KAFKA_DIR="${FERRY_KAFKA_DIR:-$build/kafka}"
export FERRY_PG_DIR="${FERRY_PG_DIR:-$build/postgres}"
started=0
pg_started=0
cleanup() {
  if [ "$started" = 1 ]; then
    step "stopping the broker this run started"
    deploy/local/kafka.sh stop || true
  fi
  if [ "$pg_started" = 1 ]; then
    step "stopping the PostgreSQL this run started"
    deploy/local/postgres.sh stop || true
  fi
}
trap cleanup EXIT

if deploy/local/kafka.sh status >/dev/null 2>&1; then
  step "using the running local broker ($FERRY_KAFKA_DIR)"
else
  step "starting the local broker"
  deploy/local/kafka.sh start
  started=1
fi
port=${FERRY_KAFKA_PORT:-$(cat "$FERRY_KAFKA_DIR/port")}
bootstrap=127.0.0.1:$port

if deploy/local/postgres.sh status; then
  step "using the running local PostgreSQL ($FERRY_PG_DIR)"
else
  step "starting the local PostgreSQL"
  deploy/local/postgres.sh start
  pg_started=1
fi
pg_url=$(deploy/local/postgres.sh url)
cmake -S . -B "$build" -DFERRY_BOOTSTRAP="$bootstrap" -DFERRY_KAFKA_DIR="$FERRY_KAFKA_DIR" \
  -DFERRY_PG_URL="$pg_url" >/dev/null

# ctest in DIR with ARGS, showing progress rather than every line (see above).
run_ctest() {
  local dir=$1
  shift
  (cd "$dir" && ctest -V --timeout 900 "$@") 2>&1 | awk -f "$top/tests/ctest_progress.awk"
}

status=0
step "tests"
run_ctest "$build" || status=1

if [ "$sanitize" != off ]; then
  step "sanitizer build (ASan + UBSan)"
  cmake -S . -B "$build-asan" -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=ON -DFERRY_WERROR=ON \
    -DFERRY_BOOTSTRAP="$bootstrap" -DFERRY_KAFKA_DIR="$FERRY_KAFKA_DIR" -DFERRY_PG_URL="$pg_url" >/dev/null
  cmake --build "$build-asan" -j"$jobs"
  label=unit
  [ "$sanitize" = all ] && label='unit|integration'
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest "$build-asan" -L "$label" || status=1
fi

if [ "$status" = 0 ]; then
  step "all tests passed"
else
  step "FAILED"
fi
exit "$status"
