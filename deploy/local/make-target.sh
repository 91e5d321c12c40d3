#!/usr/bin/env bash
# deploy/local/make-target.sh SOURCE TARGET
#
# Creates a target environment that holds only the association targets of the
# sample environment (the User and Application tables with their rows), as a
# real target environment would before its first import.
#
# SOURCE and TARGET are both SQLite files (PATH or sqlite:PATH; TARGET is
# replaced) or both PostgreSQL databases (postgresql://... URIs; the tables
# are in schema public, TARGET is an existing database without them, and
# pg_dump copies them).
set -euo pipefail
src=$1
dst=$2
case "$src" in
  postgresql://* | postgres://*)
    case "$dst" in
      postgresql://* | postgres://*) ;;
      *) echo "make-target.sh: $dst is not a PostgreSQL URI, as $src is" >&2; exit 2 ;;
    esac
    pg_dump --no-owner --no-privileges -t 'public."User"' -t 'public."Application"' "$src" |
      psql -X -q -v ON_ERROR_STOP=1 "$dst" >/dev/null
    exit 0
    ;;
esac
src=${src#sqlite:}
dst=${dst#sqlite:}
[ -f "$src" ] || { echo "make-target.sh: $src does not exist" >&2; exit 2; }
rm -f "$dst"
{
  sqlite3 "$src" '.schema "User"'
  sqlite3 "$src" '.schema "Application"'
  printf "ATTACH '%s' AS src;\n" "${src//\'/\'\'}"
  echo 'INSERT INTO main."User" SELECT * FROM src."User";'
  echo 'INSERT INTO main."Application" SELECT * FROM src."Application";'
} | sqlite3 "$dst"
