#!/usr/bin/env bash
# test_local_scripts.sh - what a newcomer sees of the local scripts, checked
# without installing, building or starting anything (stand-ins on PATH and a
# stand-in kafka.sh record how they are called):
#   1. headings are bold only on a terminal without NO_COLOR (deploy/local/term.sh),
#      and demo.sh writes no escape sequence of its own;
#   2. deps.sh says in one line what it installs; apt's output appears only when
#      apt fails;
#   3. session.sh (demo, benchmark) and tests/run.sh use FERRY_KAFKA_DIR and
#      FERRY_KAFKA_PORT when they are set, build/kafka and the broker's port when not;
#   4. tests/ctest_progress.awk shows each test and each Check test, hides the
#      rest of a test that passes and shows all of one that fails;
#   5. demo.sh takes --postgresql (and no other option): with it, dev and prod
#      are two databases of the local PostgreSQL, which it starts and stops
#      like the broker; without it, two SQLite files and no PostgreSQL.
set -euo pipefail
src=${FERRY_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
esc=$'\033'

# ---- 1. colour
out=$(bash -c ". '$src/deploy/local/term.sh'; ferry_heading step")
[[ "$out" != *"$esc"* ]] || fail "a heading written to a pipe holds an escape sequence"
[[ "$out" == *"== step"* ]] || fail "the heading lost its text: $out"
ok "no escape sequence when stdout is a pipe"
heading_on_tty() {
  script -qec "bash -c \". '$src/deploy/local/term.sh'; ferry_heading step\"" /dev/null </dev/null
}
out=$(env -u NO_COLOR bash -c "$(declare -f heading_on_tty); src='$src'; heading_on_tty")
[[ "$out" == *"$esc[1m== step"* ]] || fail "no bold heading on a terminal: $(printf %q "$out")"
ok "bold on a terminal"
out=$(NO_COLOR=1 bash -c "$(declare -f heading_on_tty); src='$src'; heading_on_tty")
[[ "$out" != *"$esc"* ]] || fail "an escape sequence on a terminal with NO_COLOR=1"
ok "no escape sequence on a terminal with NO_COLOR=1"
if grep -n '\\033\|\\e\[\|\\x1b' "$src/deploy/local/demo.sh"; then
  fail "demo.sh writes escape sequences itself, not through term.sh"
fi
ok "demo.sh leaves colour to term.sh"

# ---- 2. deps.sh
stubs=$tmp/stubs
mkdir -p "$stubs"
cat >"$stubs/dpkg-query" <<'EOF'
#!/bin/sh
# Every package is missing except build-essential.
for p; do :; done; [ "$p" = build-essential ] && echo "install ok installed"
exit 0
EOF
cat >"$stubs/apt-get" <<'EOF'
#!/bin/sh
echo "apt-get $*" >>"$STUB_CALLS"
for i in $(seq 1 40); do echo "Selecting previously unselected package pkg$i."; done
exit "${STUB_APT_RC:-0}"
EOF
printf '#!/bin/sh\nexec "$@"\n' >"$stubs/sudo"
chmod +x "$stubs"/*
export STUB_CALLS=$tmp/calls
: >"$STUB_CALLS"
out=$(PATH="$stubs:$PATH" TMPDIR=$tmp "$src/deploy/local/deps.sh" 2>&1) || fail "deps.sh failed: $out"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "deps.sh printed more than one line: $out"
[[ "$out" == "deps.sh: installing "*" cmake "* ]] || fail "deps.sh does not say what it installs: $out"
[[ "$out" != *build-essential* ]] || fail "deps.sh installs what is installed: $out"
grep -q '^apt-get install .* cmake ' "$STUB_CALLS" || fail "apt-get install not called: $(cat "$STUB_CALLS")"
ok "deps.sh: one line when apt succeeds: ${out:0:60}..."
if out=$(PATH="$stubs:$PATH" TMPDIR=$tmp STUB_APT_RC=100 "$src/deploy/local/deps.sh" 2>&1); then
  fail "deps.sh succeeded although apt-get failed"
fi
[[ "$out" == *"Selecting previously unselected package pkg40."* ]] ||
  fail "apt's output is not shown when it fails: $out"
ok "deps.sh: apt's output shown when apt fails"

# ---- 3. FERRY_KAFKA_DIR and FERRY_KAFKA_PORT in session.sh and tests/run.sh
# The suite runs inside tests/run.sh, which exports where its own PostgreSQL is.
unset FERRY_PG_DIR FERRY_PG_PORT
tree=$tmp/tree # a source tree of stand-ins: deps.sh, kafka.sh, postgres.sh, cmake, ctest
mkdir -p "$tree/deploy/local" "$tree/tests" "$tree/bin"
printf '#!/bin/sh\nexit 0\n' >"$tree/deploy/local/deps.sh"
cat >"$tree/deploy/local/kafka.sh" <<'EOF'
#!/bin/sh
echo "kafka.sh $1 dir=$FERRY_KAFKA_DIR port=${FERRY_KAFKA_PORT:-}" >>"$STUB_CALLS"
case "$1" in
  status) exit 3 ;;
  start) mkdir -p "$FERRY_KAFKA_DIR" && echo "${FERRY_KAFKA_PORT:-9092}" >"$FERRY_KAFKA_DIR/port" ;;
esac
EOF
cat >"$tree/deploy/local/postgres.sh" <<'EOF'
#!/bin/sh
echo "postgres.sh $1 dir=$FERRY_PG_DIR" >>"$STUB_CALLS"
case "$1" in
  status) exit 3 ;;
  url) echo "postgresql://postgres@127.0.0.1:55432/postgres" ;;
esac
EOF
printf '#!/bin/sh\necho "cmake $*" >>"$STUB_CALLS"\n' >"$tree/bin/cmake"
printf '#!/bin/sh\necho "100%% tests passed, 0 tests failed out of 0"\n' >"$tree/bin/ctest"
chmod +x "$tree/deploy/local/"*.sh "$tree/bin/"*
cp "$src/tests/run.sh" "$src/tests/ctest_progress.awk" "$tree/tests/"

session() { # prints "dir port" as session.sh leaves them
  (cd "$tmp" && PATH="$tree/bin:$PATH" bash -c "top='$tree'; build='$tmp/b'; set -euo pipefail
    . '$src/deploy/local/session.sh'; echo \"\$FERRY_KAFKA_DIR \$port\"")
}
: >"$STUB_CALLS"
out=$(FERRY_KAFKA_DIR=$tmp/mine FERRY_KAFKA_PORT=9911 session)
[ "$out" = "$tmp/mine 9911" ] || fail "session.sh: FERRY_KAFKA_DIR/PORT not honoured: $out"
grep -q "^kafka.sh start dir=$tmp/mine port=9911$" "$STUB_CALLS" ||
  fail "session.sh started kafka.sh elsewhere: $(cat "$STUB_CALLS")"
ok "session.sh honours FERRY_KAFKA_DIR and FERRY_KAFKA_PORT"
out=$(env -u FERRY_KAFKA_DIR -u FERRY_KAFKA_PORT bash -c "$(declare -f session); tmp='$tmp' tree='$tree' src='$src'; session")
[ "$out" = "$tmp/b/kafka 9092" ] || fail "session.sh without FERRY_KAFKA_DIR/PORT: $out"
ok "session.sh defaults to BUILD/kafka"

run_sh() {
  mkdir -p "$tmp/rb"
  (cd "$tmp" && PATH="$tree/bin:$PATH" FERRY_SANITIZE=off FERRY_BUILD_DIR=$tmp/rb \
     bash "$tree/tests/run.sh" >"$tmp/run.out" 2>&1) || fail "run.sh failed: $(cat "$tmp/run.out")"
}
: >"$STUB_CALLS"
FERRY_KAFKA_DIR=$tmp/mine2 FERRY_KAFKA_PORT=9912 run_sh
grep -q "^kafka.sh start dir=$tmp/mine2 port=9912$" "$STUB_CALLS" ||
  fail "run.sh started kafka.sh elsewhere: $(cat "$STUB_CALLS")"
grep -q "^cmake .*-DFERRY_BOOTSTRAP=127.0.0.1:9912 -DFERRY_KAFKA_DIR=$tmp/mine2\( \|$\)" "$STUB_CALLS" ||
  fail "run.sh configured other tests: $(cat "$STUB_CALLS")"
ok "run.sh honours FERRY_KAFKA_DIR and FERRY_KAFKA_PORT"
: >"$STUB_CALLS"
FERRY_KAFKA_DIR=rel/kafka env -u FERRY_KAFKA_PORT bash -c "$(declare -f run_sh fail); tmp='$tmp' tree='$tree'; run_sh"
grep -q "^kafka.sh start dir=$tmp/rel/kafka port=$" "$STUB_CALLS" ||
  fail "run.sh: a relative FERRY_KAFKA_DIR is not taken from the caller's directory: $(cat "$STUB_CALLS")"
ok "run.sh: a relative FERRY_KAFKA_DIR is relative to where it is called"
: >"$STUB_CALLS"
env -u FERRY_KAFKA_DIR -u FERRY_KAFKA_PORT -u FERRY_PG_DIR -u FERRY_PG_PORT bash -c "$(declare -f run_sh fail); tmp='$tmp' tree='$tree'; run_sh"
grep -q "^kafka.sh start dir=$tmp/rb/kafka port=$" "$STUB_CALLS" ||
  fail "run.sh without FERRY_KAFKA_DIR: $(cat "$STUB_CALLS")"
grep -q "^postgres.sh start dir=$tmp/rb/postgres$" "$STUB_CALLS" ||
  fail "run.sh did not start the local PostgreSQL in BUILD/postgres: $(cat "$STUB_CALLS")"
grep -q "^cmake .*-DFERRY_PG_URL=postgresql://postgres@127.0.0.1:55432/postgres" "$STUB_CALLS" ||
  fail "run.sh did not give the tests PostgreSQL's URL: $(cat "$STUB_CALLS")"
grep -q "^postgres.sh stop dir=$tmp/rb/postgres$" "$STUB_CALLS" ||
  fail "run.sh did not stop the PostgreSQL it started: $(cat "$STUB_CALLS")"
ok "run.sh defaults to BUILD/kafka and starts and stops PostgreSQL in BUILD/postgres"

# ---- 4. ctest progress
cat >"$tmp/ctest.out" <<'EOF'
Test project /b
test 20
    Start 20: integration.test_broker

20: Test command: /b/tests/it_test_broker
20: 2026-01-01T00:00:00.000Z INFO ferry-worker: a daemon's log line
20: /s/tests/integration/test_broker.c:91:P:broker:test_codecs:0: Passed
20: /s/tests/integration/test_broker.c:91:P:broker:test_codecs:1: Passed
1/2 Test #20: integration.test_broker ..........   Passed    8.92 sec
test 21
    Start 21: integration.test_worker

21: a line that explains the failure
21: /s/tests/integration/test_worker.c:12:F:worker:test_sigkill:0: Assertion 'x' failed
21: 0%: Checks: 1, Failures: 1, Errors: 0
21: /s/tests/integration/test_worker.c:12:F:worker:test_sigkill:0: Assertion 'x' failed
2/2 Test #21: integration.test_worker ..........***Failed    1.00 sec

The following tests passed:
	integration.test_broker

50% tests passed, 1 tests failed out of 2
EOF
awk -f "$src/tests/ctest_progress.awk" "$tmp/ctest.out" >"$tmp/progress.out"
expect_line() {
  grep -qxF -- "$1" "$tmp/progress.out" || fail "progress lacks \"$1\": $(cat "$tmp/progress.out")"
}
expect_line "    Start 20: integration.test_broker"
expect_line "        passed  test_codecs"
expect_line "        passed  test_codecs #1"
expect_line "        FAILED  test_sigkill: Assertion 'x' failed"
expect_line "a line that explains the failure"
expect_line "50% tests passed, 1 tests failed out of 2"
[ "$(grep -c "FAILED  test_sigkill" "$tmp/progress.out")" = 1 ] ||
  fail "a failed Check test is not shown exactly once: $(cat "$tmp/progress.out")"
if grep -q "a daemon's log line\|Test command: /b/tests/it_test_broker\|The following tests passed" "$tmp/progress.out"; then
  fail "progress shows the output of a test that passed: $(cat "$tmp/progress.out")"
fi
ok "ctest progress: one line per test and Check test, a failed test's output in full"

# ---- 5. demo.sh [--postgresql], on stand-ins for everything it runs
demo=$tmp/demo
mkdir -p "$demo/deploy/local" "$demo/bin" "$demo/build/envtool" "$demo/build/worker" \
  "$demo/build/importer" "$demo/build/producer"
cp "$src/deploy/local/demo.sh" "$src/deploy/local/session.sh" "$src/deploy/local/term.sh" \
  "$tree/deploy/local/deps.sh" "$tree/deploy/local/kafka.sh" "$demo/deploy/local/"
cp "$tree/bin/cmake" "$demo/bin/"
cat >"$demo/deploy/local/postgres.sh" <<'EOF'
#!/bin/sh
echo "postgres.sh $* dir=$FERRY_PG_DIR" >>"$STUB_CALLS"
case "$1" in
  status) exit 3 ;;
  url) echo "postgresql://postgres@127.0.0.1:55432/$2" ;;
esac
EOF
printf '#!/bin/sh\necho "make-target.sh $*" >>"$STUB_CALLS"\n' >"$demo/deploy/local/make-target.sh"
cat >"$demo/build/envtool/ferry-env" <<'EOF'
#!/bin/sh
echo "ferry-env $*" >>"$STUB_CALLS"
case "$1" in
  describe) printf 'User\n  id INTEGER\nApplication\n' ;;
  plan) case "$*" in *--json*) echo '{"objects": [{"name": "Queue"}]}' ;; esac ;;
  checksum) echo "Queue rows=1 checksum=0123456789abcdef" ;;
esac
EOF
printf '#!/bin/sh\nexec sleep 60\n' >"$demo/build/worker/ferry-worker"
cp "$demo/build/worker/ferry-worker" "$demo/build/importer/ferry-import"
printf '#!/bin/sh\necho export-id\necho applied\n' >"$demo/build/producer/ferry-producer"
chmod +x "$demo/deploy/local/"*.sh "$demo/bin/"* "$demo/build/"*/*
run_demo() { # demo.sh ARGS..., its output in $tmp/demo.out; returns its status
  (cd "$tmp" && PATH="$demo/bin:$PATH" FERRY_KAFKA_DIR=$tmp/dk FERRY_KAFKA_PORT=9913 \
     FERRY_PG_DIR=$tmp/dp "$demo/deploy/local/demo.sh" "$@" >"$tmp/demo.out" 2>&1)
}
pg=postgresql://postgres@127.0.0.1:55432

: >"$STUB_CALLS"
if run_demo --postgres; then fail "demo.sh took an unknown option: $(cat "$tmp/demo.out")"; fi
grep -q "usage: deploy/local/demo.sh \[--postgresql\]" "$tmp/demo.out" ||
  fail "demo.sh with an unknown option shows no usage: $(cat "$tmp/demo.out")"
[ ! -s "$STUB_CALLS" ] || fail "demo.sh with an unknown option ran: $(cat "$STUB_CALLS")"
ok "demo.sh refuses an unknown option before doing anything"

: >"$STUB_CALLS"
run_demo --postgresql || fail "demo.sh --postgresql failed: $(cat "$tmp/demo.out")"
for call in "postgres.sh start dir=$tmp/dp" "postgres.sh createdb ferry_demo_dev dir=$tmp/dp" \
  "postgres.sh createdb ferry_demo_prod dir=$tmp/dp" \
  "ferry-env seed $pg/ferry_demo_dev --rows 5000" \
  "make-target.sh $pg/ferry_demo_dev $pg/ferry_demo_prod" \
  "ferry-env checksum $pg/ferry_demo_prod Queue"; do
  grep -qxF "$call" "$STUB_CALLS" || fail "demo.sh --postgresql: no \"$call\": $(cat "$STUB_CALLS")"
done
grep -qF "\"prod\": { \"store\": \"$pg/ferry_demo_prod\" }" "$demo/build/demo/ferry.json" ||
  fail "prod's store is not the PostgreSQL database: $(cat "$demo/build/demo/ferry.json")"
[ "$(tail -1 "$STUB_CALLS")" = "postgres.sh stop dir=$tmp/dp" ] ||
  fail "demo.sh --postgresql does not stop PostgreSQL last: $(cat "$STUB_CALLS")"
ok "demo.sh --postgresql: dev and prod are two databases of the PostgreSQL it starts and stops"

: >"$STUB_CALLS"
run_demo || fail "demo.sh failed: $(cat "$tmp/demo.out")"
grep -qxF "ferry-env seed sqlite:$demo/build/demo/dev.db --rows 5000" "$STUB_CALLS" ||
  fail "demo.sh without --postgresql: dev is not a SQLite file: $(cat "$STUB_CALLS")"
if grep -q "^postgres.sh" "$STUB_CALLS"; then
  fail "demo.sh without --postgresql touched PostgreSQL: $(cat "$STUB_CALLS")"
fi
ok "demo.sh without --postgresql: SQLite files, no PostgreSQL"
