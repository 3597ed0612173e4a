#!/usr/bin/env bash
# Sets up (Node 24, npm packages) and starts the local mail system (`npm start`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
exec npm start
