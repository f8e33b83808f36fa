#!/usr/bin/env bash
# Sets everything up (idempotent), lints, type-checks the core, then runs the test suite; any
# failure fails the run. Extra arguments go to pytest.
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
# The browser view's tests open it in headless Chromium (tests/test_view_browser.py). Only the tests
# need it, so setup leaves it out; here Debian's package is installed where apt is ours to use.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (for the browser view's tests)"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; }; } \
    || echo "could not install chromium: the browser view's tests will be skipped"
fi
source "$ROOT/scripts/env.sh"
cd "$ROOT"
printf '\n==> Lint (ruff.toml) and import order\n'
ruff check .
printf '\n==> Type check of the core (mypy.ini)\n'
mypy
printf '\n==> Running the tests\n'
exec python -m pytest "$@"
