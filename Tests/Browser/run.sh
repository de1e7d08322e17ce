#!/bin/sh
# Browser tests of the web console in headless Chromium (Debian: chromium, chromium-driver; `make deps` installs them).
# Usage: Tests/Browser/run.sh [TALLY_BINARY] [SCREENSHOT_DIR]
set -eu
cd "$(dirname "$0")/../.."
BIN="${1:-.build/debug/tally}"
OUT="${2:-.build/browser-screenshots}"
for tool in python3 chromedriver; do
	command -v "$tool" >/dev/null 2>&1 || { echo "browser tests need $tool (run make deps)" >&2; exit 1; }
done
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { echo "browser tests need chromium (run make deps)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "no tally binary at $BIN (build first)" >&2; exit 1; }
exec python3 Tests/Browser/console_test.py "$BIN" "$OUT"
