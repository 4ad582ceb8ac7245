#!/usr/bin/env bash
# The test command: a PostgreSQL to test against, then every test of the
# workspace. Each test creates its own database and drops it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TEST_DATABASE_URL:-}${DATABASE_URL:-}" ]; then
  scripts/dev-db.sh
fi
cargo test --workspace "$@"
