#!/usr/bin/env bash
# deploy/local/deps.sh - installs every system dependency of ferry from Debian's
# packages. Idempotent: when everything is present it does nothing. Quiet: one
# line names what it installs; apt's output is shown only when it fails.
set -euo pipefail

packages=(
  build-essential cmake pkg-config        # C toolchain and build
  librdkafka-dev libavro-dev libjansson-dev libsqlite3-dev libpq-dev check   # libraries
  postgresql postgresql-client             # the local PostgreSQL (postgres.sh)
  clang libclang-rt-14-dev                 # the fuzz target (libFuzzer)
  openjdk-17-jre-headless maven            # the local Kafka broker
  kcat sqlite3                             # broker readiness, baseline benchmark
  python3-confluent-kafka                  # kafka.sh delete-topics
  python3 python3-avro python3-yaml        # interop with an independent Avro, YAML checks
  systemd                                  # systemd-analyze verify of the units
  procps bc                                # scripts: process status, arithmetic
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
# One line says what is installed; apt's and dpkg's own output (a hundred
# lines on a fresh machine) goes to a log that is shown only if they fail.
log=$(mktemp "${TMPDIR:-/tmp}/ferry-deps.XXXXXX.log")
echo "deps.sh: installing ${#missing[@]} Debian package(s): ${missing[*]} (log: $log)" >&2
if ! { $sudo apt-get update -qq &&
       $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "deps.sh: installing ${missing[*]} failed (apt's output above, also in $log)" >&2
  exit 1
fi
