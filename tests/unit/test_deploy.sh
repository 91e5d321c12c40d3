#!/usr/bin/env bash
# test_deploy.sh - the deployment files are well-formed as far as the tools here
# allow: every YAML file parses (and names the kinds it should; the worker is a
# StatefulSet whose pod name is the worker id), the config
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
objects = {}  # (kind, name) -> document
files = sorted(glob.glob(os.path.join(src, "deploy", "**", "*.y*ml"), recursive=True))
assert files, "no YAML files found"
for path in files:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    assert docs, f"{path}: empty"
    for d in docs:
        if "kind" in d:
            kinds.setdefault(d["kind"], []).append(d["metadata"]["name"])
            objects[(d["kind"], d["metadata"]["name"])] = d
            if d["kind"] == "ConfigMap":
                with open(os.path.join(tmp, "configmap.json"), "w") as out:
                    out.write(d["data"]["ferry.json"])
        elif "services" in d:
            for needed in ("kafka", "worker", "importer"):
                assert needed in d["services"], f"{path}: no service {needed}"
    print(f"ok {os.path.relpath(path, src)}: {len(docs)} document(s)")
# Workers: a StatefulSet, so that a pod keeps its name across restarts, and
# that name is the worker id (its transactional.id): a restarted worker fences
# its predecessor at once. A Deployment renames its pods at every restart.
assert "ferry-worker" in kinds.get("StatefulSet", []), f"the worker is no StatefulSet: {kinds}"
assert "ferry-worker" not in kinds.get("Deployment", []), kinds
worker = objects[("StatefulSet", "ferry-worker")]["spec"]
container = worker["template"]["spec"]["containers"][0]
args = container["args"]
assert "--id" in args and args[args.index("--id") + 1] == "$(POD_NAME)", args
pod_name = [e for e in container.get("env", []) if e["name"] == "POD_NAME"]
assert pod_name and pod_name[0]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name", pod_name
service = objects.get(("Service", worker["serviceName"]))
assert service and service["spec"].get("clusterIP") == "None", \
    f"no headless Service {worker['serviceName']} for the worker StatefulSet"
assert service["spec"]["selector"].items() <= worker["template"]["metadata"]["labels"].items()
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
