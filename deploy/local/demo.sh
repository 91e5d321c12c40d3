#!/usr/bin/env bash
# deploy/local/demo.sh - the whole story on the embedded default: SQLite
# environments and the local Kafka broker.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
deploy/local/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
deploy/local/kafka.sh start
echo "demo.sh: the export pipeline (worker, importer) is not built yet" >&2
exit 1
