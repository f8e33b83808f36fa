#!/usr/bin/env bash
# Sets everything up (idempotent), then runs the demo on the embedded simulator.
# Extra arguments go to `embodied-memory demo` (see `embodied-memory demo --help`).
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
printf '\n==> Running the demo\n'
exec embodied-memory demo "$@"
