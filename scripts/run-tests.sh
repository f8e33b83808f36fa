#!/usr/bin/env bash
# Sets everything up (idempotent), lints, type-checks the core, then runs the test suite; any
# failure fails the run. Extra arguments go to pytest.
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
printf '\n==> Lint (ruff.toml) and import order\n'
ruff check .
printf '\n==> Type check of the core (mypy.ini)\n'
mypy
printf '\n==> Running the tests\n'
exec python -m pytest "$@"
