#!/usr/bin/env bash
# Sets everything up (idempotent), then runs the test suite. Extra arguments go to pytest.
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
printf '\n==> Running the tests\n'
exec python -m pytest "$@"
