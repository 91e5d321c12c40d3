#!/usr/bin/env bash
# test_layers.sh - the layering of lib/ that README.md ("The source") states,
# checked on the include lines of every lib/ source and header:
#   1. each folder of FERRY_LIB_FOLDERS (lib/CMakeLists.txt) includes only the
#      headers of itself and of the folders listed before it; lib/sample, a
#      library of its own, may include any of them;
#   2. librdkafka is known only to lib/kafka and lib/daemons: no other lib/
#      file includes <librdkafka/...>, nor a lib/ header that does (directly
#      or through another header, kafka.h for one).
# Usage: FERRY_SOURCE_DIR=TOP bash test_layers.sh (ctest sets it; default: the
# checkout this script is in).
set -euo pipefail
src=${FERRY_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
lib=$src/lib
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# ---- the folders, in their order
folders=$(sed -n 's/^set(FERRY_LIB_FOLDERS \(.*\))$/\1/p' "$lib/CMakeLists.txt")
[ -n "$folders" ] || { echo "FAIL: no FERRY_LIB_FOLDERS in lib/CMakeLists.txt" >&2; exit 1; }
declare -A rank
i=0
for folder in $folders; do
  [ -d "$lib/$folder" ] || fail "FERRY_LIB_FOLDERS names $folder, which lib/ does not have"
  rank[$folder]=$i
  i=$((i + 1))
done
rank[sample]=$i # after every folder: it may use them all
for dir in "$lib"/*/; do
  dir=$(basename "$dir")
  [ -n "${rank[$dir]+set}" ] || fail "lib/$dir is in no layer (add it to FERRY_LIB_FOLDERS)"
done

# ---- where each lib/ header lives (includes are flat: one name, one folder)
declare -A home
for h in "$lib"/*/*.h; do
  name=$(basename "$h")
  folder=$(basename "$(dirname "$h")")
  [ -z "${home[$name]+set}" ] || fail "two lib/ headers are named $name"
  home[$name]=$folder
done

# The quoted includes of a file, one name a line.
includes() { sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"; }

# ---- 1. each folder uses only itself and the folders before it
for f in "$lib"/*/*.[ch]; do
  folder=$(basename "$(dirname "$f")")
  for name in $(includes "$f"); do
    [ -n "${home[$name]+set}" ] || continue # not a lib/ header (a generated one, for example)
    used=${home[$name]}
    if [ "${rank[$used]}" -gt "${rank[$folder]}" ]; then
      fail "lib/$folder/$(basename "$f") includes $name of lib/$used, listed after lib/$folder"
    fi
  done
done

# ---- 2. librdkafka stays in lib/kafka and lib/daemons
declare -A knows # header name -> 1 when it brings librdkafka in
for h in "$lib"/*/*.h; do
  grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*<librdkafka/' "$h" &&
    knows[$(basename "$h")]=1
done
changed=1
while [ "$changed" = 1 ]; do # through headers that include such headers
  changed=0
  for h in "$lib"/*/*.h; do
    name=$(basename "$h")
    [ -z "${knows[$name]+set}" ] || continue
    for inc in $(includes "$h"); do
      if [ -n "${knows[$inc]+set}" ]; then
        knows[$name]=1
        changed=1
        break
      fi
    done
  done
done
for f in "$lib"/*/*.[ch]; do
  folder=$(basename "$(dirname "$f")")
  rel=$folder/$(basename "$f")
  case "$folder" in kafka | daemons) continue ;; esac
  grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*<librdkafka/' "$f" &&
    fail "lib/$rel includes librdkafka, which only lib/kafka and lib/daemons may"
  for name in $(includes "$f"); do
    [ -z "${knows[$name]+set}" ] ||
      fail "lib/$rel includes $name, which brings in librdkafka (only lib/kafka and lib/daemons may)"
  done
done

[ "$failures" = 0 ] || { echo "$failures layering violation(s); see README.md, The source" >&2; exit 1; }
echo "ok   lib/ folders include only themselves and the folders before them ($folders; sample: all)"
echo "ok   librdkafka only in lib/kafka and lib/daemons"
