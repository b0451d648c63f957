#!/usr/bin/env bash
# The project's test command (README Quick start, .ci/run): installs what is
# missing, checks types and lint, then runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
npx tsx scripts/lint.ts
exec npx vitest run "$@"
