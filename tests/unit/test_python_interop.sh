#!/usr/bin/env bash
# test_python_interop.sh - ferry's Avro against an implementation it shares no
# code with: Debian's python3-avro (run by /usr/bin/python3; the python3 on
# PATH may lack it). Canonical forms and fingerprints of every schema must
# agree, messages ferry writes must decode in python to the same values, and
# messages python writes must decode in ferry. See tests/unit/interop.py.
set -euo pipefail
src=${FERRY_SOURCE_DIR:?}
build=${FERRY_BUILD_DIR:?}
tool=$build/tests/interop_tool
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x "$tool" ] || { echo "FAIL: $tool not built" >&2; exit 1; }
"$py" -c 'import avro.io, avro.schema' || { echo "FAIL: python3-avro missing" >&2; exit 1; }

"$tool" dump "$tmp"
"$py" "$src/tests/unit/interop.py" check "$tool" "$src" "$tmp"
"$tool" decode "$tmp"
"$py" "$src/tests/unit/interop.py" compare "$tmp"
