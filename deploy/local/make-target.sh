#!/usr/bin/env bash
# deploy/local/make-target.sh SOURCE.db TARGET.db
#
# Creates a target environment that holds only the association targets of the
# sample environment (the User and Application tables with their rows), as a
# real target environment would before its first import.
set -euo pipefail
src=$1
dst=$2
[ -f "$src" ] || { echo "make-target.sh: $src does not exist" >&2; exit 2; }
rm -f "$dst"
{
  sqlite3 "$src" '.schema "User"'
  sqlite3 "$src" '.schema "Application"'
  printf "ATTACH '%s' AS src;\n" "${src//\'/\'\'}"
  echo 'INSERT INTO main."User" SELECT * FROM src."User";'
  echo 'INSERT INTO main."Application" SELECT * FROM src."Application";'
} | sqlite3 "$dst"
