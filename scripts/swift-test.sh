#!/usr/bin/env bash
# `swift test --skip-build ARGS...` for `make test`, run once more when the test process itself died of a signal.
#
# Foundation's Process.run() has crashed (SIGSEGV in memcpy, inside Process.run, with launches already serialized by
# TallyTestSupport's launch()) about once in several whole-suite runs on this project's 2-core machines; no test of
# Tally's is involved and the rerun passes. A test that fails (an expectation, a thrown error) is never rerun: only a
# run whose process ended with "exited with unexpected signal code" gets a second try, which says so loudly.
set -uo pipefail
SWIFT=${SWIFT:-swift}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for attempt in 1 2; do
    "$SWIFT" test --skip-build "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    [ "$status" -eq 0 ] && exit 0
    if [ "$attempt" -eq 1 ] && grep -q "exited with unexpected signal code" "$log"; then
        echo "==> swift-test.sh: the test process died of a signal (not a test failure; its backtrace is above); running the suite once more" >&2
        continue
    fi
    exit "$status"
done
