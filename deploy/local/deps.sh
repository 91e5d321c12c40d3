#!/usr/bin/env bash
# deploy/local/deps.sh - installs every system dependency of ferry from Debian's
# packages. Idempotent: when everything is present it does nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config        # C toolchain and build
  librdkafka-dev libavro-dev libjansson-dev libsqlite3-dev check   # libraries
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

echo "deps.sh: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
