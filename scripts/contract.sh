#!/usr/bin/env bash
# The contract as a frontend team meets it, proved on the committed spec
# (openapi/openapi.json; the drift test keeps it equal to the code):
#   1. Spectral (`spectral:oas`) and Redocly (`recommended`): 0 errors;
#   2. TypeScript types generated with openapi-typescript;
#   3. tools/contract/usage.ts (log in, page victims, create one and read
#      its warnings, import a workbook and read the report) compiled with
#      `tsc --strict --noEmit` against them, with no casts.
# The tools are pinned in tools/contract/package-lock.json and installed
# with `npm ci` when missing; Node.js and npm with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=$root/tools/contract
spec=$root/openapi/openapi.json

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "contract: installing Node.js and npm" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
fi

cd "$tools"
# Reinstall when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.sintra-lock; then
  echo "contract: npm ci (pinned tools)" >&2
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  cp package-lock.json node_modules/.sintra-lock
fi
bin=$tools/node_modules/.bin

# If the severity of a rule is raised, the run says so: errors fail.
echo "contract: spectral lint (spectral:oas)" >&2
"$bin/spectral" lint --ruleset .spectral.yaml --fail-severity error -f text "$spec"

echo "contract: redocly lint (recommended)" >&2
# Redocly prints a Node.js support notice on Node 20; only the lint matters.
"$bin/redocly" lint --config redocly.yaml --format stylish "$spec"

echo "contract: openapi-typescript" >&2
mkdir -p generated
"$bin/openapi-typescript" "$spec" -o generated/sintra.ts

echo "contract: tsc --strict usage.ts" >&2
"$bin/tsc" -p tsconfig.json
# No escape hatches in the usage file: a cast or `any` would hide a hole
# in the spec.
if grep -nvE '^\s*//' usage.ts | grep -E '\bas\b +[A-Za-z{(]|: *any\b|<any>|@ts-(ignore|expect-error|nocheck)'; then
  echo "contract: usage.ts casts (above); the spec must type it" >&2
  exit 1
fi
echo "contract: the spec lints clean and its generated client compiles under tsc --strict" >&2
