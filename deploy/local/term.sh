# deploy/local/term.sh - sourced by the local scripts (demo.sh): headings in
# bold on a terminal, plain text anywhere else (a file, a pipe, a CI log).
#
# Escape sequences only when stdout is a terminal and NO_COLOR is unset or
# empty (https://no-color.org).
ferry_colour() { [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; }

# A blank line, then "== TEXT" (bold when ferry_colour says so).
ferry_heading() {
  if ferry_colour; then
    printf '\n\033[1m== %s\033[0m\n' "$*"
  else
    printf '\n== %s\n' "$*"
  fi
}
