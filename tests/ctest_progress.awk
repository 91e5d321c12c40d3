# tests/ctest_progress.awk - reads `ctest -V` and prints the progress of the
# run without its flood (tests/run.sh):
#   - ctest's own lines: each test's "Start" and result line, and the summary;
#   - one line per Check test as it ends (integration suites print their
#     results as they go: CK_LOG_FILE_NAME=- in tests/CMakeLists.txt), and per
#     numbered section of a script test ("[ 12s] 2. rows changed...");
#   - the whole output of a test that did not pass, after its result line
#     (what `ctest --output-on-failure` shows).
# Everything else (daemon logs, the environment ctest prints) is held per test
# and dropped once the test has passed. Works with mawk and gawk.

# A test's own output: "N: text".
/^[0-9]+: / {
    n = substr($0, 1, index($0, ":") - 1)
    text = substr($0, index($0, ":") + 2)
    out[n] = out[n] text "\n"
    # A Check result: FILE:LINE:R:TCASE:TEST:ITER: MESSAGE, R in P, F, E.
    # (Check repeats a failure in its summary at the end of the suite: shown once.)
    if (match(text, /:[0-9]+:[PFE]:[^:]*:[^:]*:[0-9]+: /) && !seen[n, text]++) {
        split(substr(text, RSTART + 1), f, ":")
        iter = f[5] == 0 ? "" : " #" f[5]
        if (f[2] == "P")
            printf "        passed  %s%s\n", f[4], iter
        else
            printf "        FAILED  %s%s: %s\n", f[4], iter, substr(text, RSTART + RLENGTH)
        fflush()
    } else if (text ~ /^\[ *[0-9]+s\] [0-9]+\. /) {
        printf "        %s\n", text
        fflush()
    }
    next
}

/^ *Start +[0-9]+: / { print; fflush(); next }

# "12/26 Test #12: name ....   Passed    0.05 sec"
/^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: / {
    print
    n = $0
    sub(/^[^#]*#/, "", n)
    sub(/:.*/, "", n)
    if ($0 !~ / Passed +[0-9.]+ sec/) {
        printf "---- output of test %s ----\n%s---- end of the output of test %s ----\n", n, out[n], n
    }
    delete out[n]
    fflush()
    next
}

# The summary, from its first line to the end.
/^[0-9]+% tests passed/ { summary = 1 }
summary { print; fflush() }
