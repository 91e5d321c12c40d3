#!/usr/bin/env bash
# test_deploy.sh - the deployment files are well-formed as far as the tools here
# allow: every YAML file parses (and names the kinds it should), the config
# examples are accepted by ferry's own config parser, and the systemd units
# pass `systemd-analyze verify` (with ExecStart pointed at the built binaries).
set -euo pipefail
src=${FERRY_SOURCE_DIR:?}
build=${FERRY_BUILD_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# YAML: parse every document; check kinds and the embedded config.
/usr/bin/python3 - "$src" "$tmp" <<'PY' || fail "YAML check"
import glob, json, os, sys, yaml
src, tmp = sys.argv[1], sys.argv[2]
kinds = {}
files = sorted(glob.glob(os.path.join(src, "deploy", "**", "*.y*ml"), recursive=True))
assert files, "no YAML files found"
for path in files:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    assert docs, f"{path}: empty"
    for d in docs:
        if "kind" in d:
            kinds.setdefault(d["kind"], []).append(d["metadata"]["name"])
            if d["kind"] == "ConfigMap":
                with open(os.path.join(tmp, "configmap.json"), "w") as out:
                    out.write(d["data"]["ferry.json"])
        elif "services" in d:
            for needed in ("kafka", "worker", "importer"):
                assert needed in d["services"], f"{path}: no service {needed}"
    print(f"ok {os.path.relpath(path, src)}: {len(docs)} document(s)")
assert "ferry-worker" in kinds.get("Deployment", []), kinds
assert any(n.startswith("ferry-import-") for n in kinds.get("Deployment", [])), kinds
assert "ferry-config" in kinds.get("ConfigMap", []), kinds
PY

# The example configurations parse with ferry's own parser (unit test helper).
for cfg in "$tmp/configmap.json" "$src/deploy/docker/ferry.json"; do
  "$build/tests/unit_check_config" "$cfg" || fail "config $cfg rejected"
done

# systemd units.
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/bin" "$tmp/units"
  ln -s "$build/worker/ferry-worker" "$tmp/bin/ferry-worker"
  ln -s "$build/importer/ferry-import" "$tmp/bin/ferry-import"
  ln -s "$build/producer/ferry-producer" "$tmp/bin/ferry-producer"
  for unit in "$src"/deploy/systemd/*.service; do
    name=$(basename "$unit")
    name=${name/@./@example.}
    sed "s#/usr/local/bin/#$tmp/bin/#" "$unit" >"$tmp/units/$name"
    out=$(systemd-analyze verify "$tmp/units/$name" 2>&1) || fail "$name: $out"
    echo "ok systemd-analyze verify $name"
  done
else
  fail "systemd-analyze is not installed"
fi
echo "deploy files: all checks passed"
