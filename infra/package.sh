#!/usr/bin/env bash
# Packages CostPilot for AWS, with no AWS account: `infra/package.sh [stage]` (default prod) writes
# build/package/sam.json (Chalice's template with infra/ merged in, one IAM role per function) and
# build/package/deployment.zip, then lints the template. Extra flags go to infra/package.py
# (--out DIR, --no-lint). Deploy the result with the command in README.md ("Deploy").
set -euo pipefail
source "$(dirname "$0")/../scripts/_venv.sh"
cd "$ROOT"
stage="prod"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then stage="$1"; shift; fi
exec python infra/package.py --stage "$stage" "$@"
